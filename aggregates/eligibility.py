"""Eligibility of a unit on a date, for a purpose (SPEC §7).

A pure function of the unit's integrity record, so the rules that refuse a
proposal and the `eligibility` query give the same answer with the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from aggregates.values import add_years


@dataclass(frozen=True)
class DebarmentFact:
    id: str
    scopes: tuple[str, ...]
    start: date
    end: date
    lifted_on: date | None
    basis: str | None
    doc_no: str | None
    policy: str | None = None  # the programme that imposed it; None: ledger-wide


@dataclass(frozen=True)
class BlacklistFact:
    id: str
    added_on: date
    removed_on: date | None
    basis: str | None
    doc_no: str | None


@dataclass(frozen=True)
class ViolationFact:
    id: str
    kind: str
    occurred_on: date
    found_on: date


@dataclass(frozen=True)
class LookBack:
    years: int
    basis: str
    purposes: tuple[str, ...]
    violation_kinds: tuple[str, ...] = ()  # empty: every kind
    policy: str | None = None  # the programme whose annex sets it
    platform_kinds: tuple[str, ...] = ()  # the platform kinds it is for (informational here)


@dataclass(frozen=True)
class LeadRule:
    """One consortium per lead at a time (002 §3.2), under its programme."""

    basis: str
    policy: str | None = None


@dataclass(frozen=True)
class Reason:
    rule: str  # debarment | blacklist | look-back | leads-consortium
    basis: str | None
    detail: str
    until: date | None
    # the programme whose document it rests on; None: ledger-wide (a ban that
    # names no programme, the integrity blacklist)
    programme: str | None = None

    def as_json(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "basis": self.basis,
            "detail": self.detail,
            "until": self.until.isoformat() if self.until else None,
            "programme": self.programme,
        }


def reasons_against(
    *,
    purpose: str,
    on: date,
    debarments: Iterable[DebarmentFact],
    blacklist: Iterable[BlacklistFact],
    violations: Iterable[ViolationFact],
    look_back: LookBack | Iterable[LookBack] | None,
    led_consortia: Iterable[str | tuple[str, date | None]] = (),
    under: str | None = None,
    lead_rule: LeadRule | None = None,
) -> list[Reason]:
    """Every reason the unit is not eligible for `purpose` on `on` (empty: eligible).
    ``under``: the programme applied to (SPEC §2.1): only its bans and the
    ledger-wide ones count, and the blacklist; None: every ban counts.
    ``look_back``: the look-back rule(s) that apply. ``led_consortia``: the
    consortia led on `on`, each a code or (code, the date the lead ends, None
    while it runs), counted under ``lead_rule`` (002 §3.2) when given."""
    reasons: list[Reason] = []
    for d in sorted(debarments, key=lambda d: (d.start, d.id)):
        if purpose not in d.scopes:
            continue
        if under is not None and d.policy is not None and d.policy != under:
            continue
        if d.lifted_on is not None and d.lifted_on <= on:
            continue
        if not (d.start <= on < d.end):
            continue
        until = d.end if d.lifted_on is None or d.lifted_on >= d.end else d.lifted_on
        reasons.append(
            Reason(
                "debarment",
                d.basis,
                f"debarment {d.id} ({', '.join(d.scopes)}) from {d.start} until {d.end}"
                + (f", lifted on {d.lifted_on}" if d.lifted_on else "")
                + (f", document {d.doc_no}" if d.doc_no else "")
                + (f", under {d.policy}" if d.policy else ", ledger-wide"),
                until,
                d.policy,
            )
        )
    for b in sorted(blacklist, key=lambda b: (b.added_on, b.id)):
        if b.added_on <= on and (b.removed_on is None or on < b.removed_on):
            reasons.append(
                Reason(
                    "blacklist",
                    b.basis,
                    f"on the integrity blacklist since {b.added_on} (entry {b.id}"
                    + (f", document {b.doc_no}" if b.doc_no else "")
                    + ")",
                    b.removed_on,
                )
            )
    rules = [look_back] if isinstance(look_back, LookBack) else list(look_back or ())
    violations = sorted(violations, key=lambda v: (v.occurred_on, v.id))
    for lb in rules:
        if purpose not in lb.purposes:
            continue
        for v in violations:
            if lb.violation_kinds and v.kind not in lb.violation_kinds:
                continue
            window_end = add_years(v.occurred_on, lb.years)
            if v.found_on <= on and v.occurred_on <= on < window_end:
                kinds = (
                    f" (applications for {', '.join(lb.platform_kinds)})"
                    if lb.platform_kinds
                    else ""
                )
                reasons.append(
                    Reason(
                        "look-back",
                        lb.basis,
                        f"violation {v.id} ({v.kind}) occurred on {v.occurred_on}, "
                        f"within {lb.years} years before applying{kinds}",
                        window_end,
                        lb.policy,
                    )
                )
    if purpose == "consortium-lead" and lead_rule is not None:
        leads = sorted((c, None) if isinstance(c, str) else c for c in led_consortia)
        for platform, lead_until in leads:
            reasons.append(
                Reason(
                    "leads-consortium",
                    lead_rule.basis,
                    f"already leads the active innovation consortium {platform}"
                    + (f" (until {lead_until})" if lead_until else ""),
                    lead_until,
                    lead_rule.policy,
                )
            )
    return reasons


def look_backs(policies: Iterable[object], kind: str | None = None) -> list[LookBack]:
    """The look-back rules of these programmes (duck-typed policies), for a
    platform of `kind` (None: whatever the kind, as the `eligibility` query
    asks of a unit)."""
    out: list[LookBack] = []
    for p in policies:
        lb = getattr(p, "look_back", None)
        if lb is None or (kind is not None and lb.platform_kinds and kind not in lb.platform_kinds):
            continue
        out.append(
            LookBack(
                lb.years,
                lb.basis,
                tuple(lb.purposes),
                tuple(lb.violation_kinds),
                getattr(p, "id", None),
                tuple(lb.platform_kinds),
            )
        )
    return out


def lead_rules(policies: Iterable[object]) -> LeadRule | None:
    """The one-consortium-per-lead rule of the first of these programmes that has one."""
    for p in policies:
        c = getattr(p, "consortium", None)
        if c is not None and c.one_consortium_per_lead:
            return LeadRule(c.one_consortium_basis or c.basis, getattr(p, "id", None))
    return None


def unit_facts(
    unit: object,
) -> tuple[list[DebarmentFact], list[BlacklistFact], list[ViolationFact]]:
    """The facts of a Unit aggregate (duck-typed to keep this module pure)."""
    debarments = [
        DebarmentFact(
            d.id, tuple(d.scopes), d.start, d.end, d.lifted_on, d.basis, d.doc_no, d.policy
        )
        for d in getattr(unit, "debarments", {}).values()
    ]
    blacklist = [
        BlacklistFact(b.id, b.added_on, b.removed_on, b.basis, b.doc_no)
        for b in getattr(unit, "blacklist", {}).values()
    ]
    violations = [
        ViolationFact(v.id, v.kind, v.occurred_on, v.found_on)
        for v in getattr(unit, "violations", {}).values()
    ]
    return debarments, blacklist, violations
