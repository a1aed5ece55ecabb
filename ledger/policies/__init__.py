"""The five policy files and their loader.

Each ``<id>.toml`` beside this module is one programme's rules, every rule citing
its article (see docs/DESIGN.md, "Policies"). Files are read with
:mod:`importlib.resources` and :mod:`tomllib` (floats as :class:`~decimal.Decimal`)
and validated into :class:`aggregates.policy.Policy`, once per process.
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from decimal import Decimal
from functools import cache
from importlib import resources

from pydantic import ValidationError

from aggregates.errors import InvalidInput
from aggregates.policy import CentreComposition, ConsortiumComposition, Policy

__all__ = [
    "DEFAULT_POLICY_ID",
    "all_policies",
    "composition_rules",
    "load_policy",
    "policy_for_violation",
    "policy_ids",
]

DEFAULT_POLICY_ID = "lhasa-city"

# Where the governing policy has no rule for a violation kind, these policies are
# asked first (they are the ones SPEC §7 shows consequences for), then the rest
# in document order.
_VIOLATION_FALLBACK_ORDER = ("lhasa-city", "xinjiang-consortium")


@cache
def _policies() -> Mapping[str, Policy]:
    """Every shipped policy, keyed by id, in document order (000, 001, …)."""
    found: list[Policy] = []
    for entry in resources.files(__package__).iterdir():
        name = entry.name
        if not name.endswith(".toml") or not entry.is_file():
            continue
        try:
            data = tomllib.loads(entry.read_text(encoding="utf-8"), parse_float=Decimal)
            policy = Policy.model_validate(data)
        except (tomllib.TOMLDecodeError, ValidationError) as e:
            raise ValueError(f"policy file {name} is invalid: {e}") from e
        if f"{policy.id}.toml" != name:
            raise ValueError(f"policy file {name} declares id {policy.id!r}")
        found.append(policy)
    found.sort(key=lambda p: (p.document, p.id))
    return {p.id: p for p in found}


def policy_ids() -> tuple[str, ...]:
    """The ids of the shipped policies, in document order."""
    return tuple(_policies())


def load_policy(policy_id: str) -> Policy:
    """The policy with this id; :class:`InvalidInput` if there is none."""
    policies = _policies()
    try:
        return policies[policy_id]
    except KeyError:
        known = ", ".join(policies)
        raise InvalidInput(f"unknown policy {policy_id}; known: {known}") from None


def all_policies() -> dict[str, Policy]:
    """Every shipped policy by id (a fresh dict; the policies are frozen)."""
    return dict(_policies())


def _search_order() -> tuple[Policy, ...]:
    policies = _policies()
    first = [policies[i] for i in _VIOLATION_FALLBACK_ORDER if i in policies]
    rest = [p for i, p in policies.items() if i not in _VIOLATION_FALLBACK_ORDER]
    return (*first, *rest)


def policy_for_violation(kind: str, governing: Policy) -> Policy | None:
    """The policy whose rule decides the consequences of a violation of ``kind``.

    The governing policy if it has a rule for that kind; otherwise the first policy
    that defines it (lhasa-city, then xinjiang-consortium, then the others in
    document order); ``None`` if no policy does.
    """
    if kind in governing.violations:
        return governing
    for policy in _search_order():
        if kind in policy.violations:
            return policy
    return None


def composition_rules() -> tuple[ConsortiumComposition | None, CentreComposition | None]:
    """The consortium rule and the centre rule, wherever they are defined.

    Composition rules apply by platform kind (an ``innovation-consortium``, a
    ``tech-innovation-center`` led by a university or institute), whatever policy
    the platform is governed by.
    """
    consortium: ConsortiumComposition | None = None
    centre: CentreComposition | None = None
    for policy in _search_order():
        if consortium is None and policy.consortium is not None:
            consortium = policy.consortium
        if centre is None and policy.centre is not None:
            centre = policy.centre
    return consortium, centre
