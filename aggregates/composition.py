"""Composition rules a platform's members must meet at approval and at an
approved member change: an innovation consortium's members (002 §3) and a
platform's lead and co-builders under its programme's [[composition]] rules.
Pure functions over the members' types, as the application gathers them."""

from __future__ import annotations

from decimal import Decimal

from aggregates.errors import CompositionRuleBroken
from aggregates.policy import CompositionRule, ConsortiumComposition
from aggregates.values import MemberInfo


def check_consortium(
    lead: str,
    members: list[MemberInfo],
    rule: ConsortiumComposition,
    lead_other_consortia: list[str],
    lead_basis: str | None = None,
) -> None:
    n = len(members)
    if n < rule.min_members:
        raise CompositionRuleBroken(
            f"an innovation consortium needs at least {rule.min_members} members; this one has {n}",
            rule="consortium-members",
            basis=rule.basis,
        )
    enterprises = [m for m in members if m.unit_type == "enterprise"]
    high_tech = [m for m in enterprises if m.high_tech]
    if Decimal(len(enterprises)) < rule.min_enterprise_share * n:
        raise CompositionRuleBroken(
            f"enterprises must be at least {rule.min_enterprise_share:.0%} of a consortium's "
            f"members; here {len(enterprises)} of {n}",
            rule="consortium-enterprises",
            basis=rule.basis,
        )
    if Decimal(len(high_tech)) < rule.min_high_tech_share * n:
        raise CompositionRuleBroken(
            f"high-tech enterprises must be at least {rule.min_high_tech_share:.0%} of a "
            f"consortium's members; here {len(high_tech)} of {n}",
            rule="consortium-high-tech",
            basis=rule.basis,
        )
    if rule.one_consortium_per_lead and lead_other_consortia:
        raise CompositionRuleBroken(
            f"lead unit {lead} already leads the active innovation consortium "
            f"{lead_other_consortia[0]}; a lead leads one consortium at a time",
            rule="one-consortium-per-lead",
            basis=lead_basis or rule.one_consortium_basis or rule.basis,
        )


def division(code: str) -> str:
    """The registering authority's administrative division of a unified social
    credit code (characters 3–8, GB 32100-2015): ``65…`` is Xinjiang."""
    return code[2:8]


def _counted(m: MemberInfo, rule: CompositionRule) -> bool:
    if rule.types and m.unit_type not in rule.types:
        return False
    return rule.division_prefix is None or division(m.code).startswith(rule.division_prefix)


def check_composition(
    kind: str, host: str, members: list[MemberInfo], rules: tuple[CompositionRule, ...]
) -> list[str]:
    """The governing programme's composition rules (SPEC §4, §2.1) over the
    platform's members (the host among them). Refuses on the first rule broken;
    returns the warnings of the rules that only warn."""
    warnings: list[str] = []
    lead = next((m for m in members if m.code == host), None)
    co_builders = [m for m in members if m.code != host]
    for rule in rules:
        if rule.kinds and kind not in rule.kinds:
            continue
        if rule.when_lead_types and (lead is None or lead.unit_type not in rule.when_lead_types):
            continue
        problem: str | None = None
        if rule.rule == "lead-type":
            if lead is not None and lead.unit_type not in rule.types:
                problem = f"the lead {host} is a {lead.unit_type}"
        elif rule.rule == "lead-region":
            prefix = rule.division_prefix or ""
            if not division(host).startswith(prefix):
                problem = f"the lead {host} is registered in division {division(host)}"
        else:
            n = sum(1 for m in co_builders if _counted(m, rule))
            if rule.rule == "min-co-builders" and rule.min is not None and n < rule.min:
                problem = f"it has {n}"
            if rule.rule == "max-co-builders" and rule.max is not None and n > rule.max:
                problem = f"it has {n}"
        if problem is not None and rule.warn:
            warnings.append(f"{rule.text}; {problem} ({rule.basis})")
        elif problem is not None:
            raise CompositionRuleBroken(
                f"{rule.text}; {problem}", rule=f"composition-{rule.rule}", basis=rule.basis
            )
    return warnings
