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
from aggregates.policy import Policy

__all__ = [
    "DEFAULT_POLICY_ID",
    "all_policies",
    "load_policy",
    "policy_for_basis",
    "policy_ids",
]

DEFAULT_POLICY_ID = "lhasa-city"

# Rules belong to programmes (SPEC §2.1): nothing here looks a rule up in
# another programme's file. The governing policy is the platform's own, or the
# ledger's default for a finding that names no platform.


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


def policy_for_basis(basis: str | None) -> str | None:
    """The programme whose document an article cites (``"003 art. 24"`` →
    ``lhasa-city``), or None (ledger-wide) for no basis or another source.

    Debarments recorded before they carried their programme read this way
    (issue 11: their programme is the one whose article their basis cites)."""
    if not basis:
        return None
    head = basis.strip().split(" ", 1)[0]
    for policy in _policies().values():
        if policy.document == head:
            return policy.id
    return None
