"""Composition rules a platform's members must meet at approval and at an
approved member change: an innovation consortium's members (002 §3) and a
technology innovation centre's co-builders. Pure functions over the members'
types, as the application gathers them."""

from __future__ import annotations

from decimal import Decimal

from aggregates.errors import CompositionRuleBroken
from aggregates.policy import CentreComposition, ConsortiumComposition
from aggregates.values import MemberInfo


def check_consortium(
    lead: str,
    members: list[MemberInfo],
    rule: ConsortiumComposition,
    lead_other_consortia: list[str],
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
            basis="002 §3.2",
        )


def check_centre(host: str, members: list[MemberInfo], rule: CentreComposition) -> None:
    lead = next((m for m in members if m.code == host), None)
    if lead is None or lead.unit_type not in rule.led_by:
        return
    co_builders = [m for m in members if m.code != host]
    enterprises = [m for m in co_builders if m.unit_type == "enterprise"]
    if len(enterprises) < rule.min_enterprise_co_builders:
        raise CompositionRuleBroken(
            f"a technology innovation centre led by a {lead.unit_type} needs at least "
            f"{rule.min_enterprise_co_builders} enterprise co-builders; it has {len(enterprises)}",
            rule="centre-enterprise-co-builders",
            basis=rule.basis,
        )
    if len(co_builders) > rule.max_core_co_builders:
        raise CompositionRuleBroken(
            f"a technology innovation centre has at most {rule.max_core_co_builders} core "
            f"co-builders; it has {len(co_builders)}",
            rule="centre-core-co-builders",
            basis=rule.basis,
        )
