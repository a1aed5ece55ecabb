"""Eligibility of a unit on a date, for a purpose (SPEC §7).

A pure function of the unit's integrity record, so the rules that refuse a
proposal and the `eligibility` query give the same answer with the same reasons.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from aggregates.values import add_years

CONSORTIUM_ONE_LEAD_BASIS = "002 §3.2"


@dataclass(frozen=True)
class DebarmentFact:
    id: str
    scopes: tuple[str, ...]
    start: date
    end: date
    lifted_on: date | None
    basis: str | None
    doc_no: str | None


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


@dataclass(frozen=True)
class Reason:
    rule: str  # debarment | blacklist | look-back | leads-consortium
    basis: str | None
    detail: str
    until: date | None

    def as_json(self) -> dict[str, str | None]:
        return {
            "rule": self.rule,
            "basis": self.basis,
            "detail": self.detail,
            "until": self.until.isoformat() if self.until else None,
        }


def reasons_against(
    *,
    purpose: str,
    on: date,
    debarments: Iterable[DebarmentFact],
    blacklist: Iterable[BlacklistFact],
    violations: Iterable[ViolationFact],
    look_back: LookBack | None,
    led_consortia: Iterable[str | tuple[str, date | None]] = (),
) -> list[Reason]:
    """Every reason the unit is not eligible for `purpose` on `on` (empty: eligible).
    ``led_consortia``: the consortia led on `on`, each a code or (code, the date
    the lead ends, None while it runs)."""
    reasons: list[Reason] = []
    for d in sorted(debarments, key=lambda d: (d.start, d.id)):
        if purpose not in d.scopes:
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
                + (f", document {d.doc_no}" if d.doc_no else ""),
                until,
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
    if look_back is not None and purpose in look_back.purposes:
        for v in sorted(violations, key=lambda v: (v.occurred_on, v.id)):
            window_end = add_years(v.occurred_on, look_back.years)
            if v.found_on <= on and v.occurred_on <= on < window_end:
                reasons.append(
                    Reason(
                        "look-back",
                        look_back.basis,
                        f"violation {v.id} ({v.kind}) occurred on {v.occurred_on}, "
                        f"within {look_back.years} years before applying",
                        window_end,
                    )
                )
    if purpose == "consortium-lead":
        leads = sorted((c, None) if isinstance(c, str) else c for c in led_consortia)
        for platform, lead_until in leads:
            reasons.append(
                Reason(
                    "leads-consortium",
                    CONSORTIUM_ONE_LEAD_BASIS,
                    f"already leads the active innovation consortium {platform}"
                    + (f" (until {lead_until})" if lead_until else ""),
                    lead_until,
                )
            )
    return reasons


def unit_facts(
    unit: object,
) -> tuple[list[DebarmentFact], list[BlacklistFact], list[ViolationFact]]:
    """The facts of a Unit aggregate (duck-typed to keep this module pure)."""
    debarments = [
        DebarmentFact(d.id, tuple(d.scopes), d.start, d.end, d.lifted_on, d.basis, d.doc_no)
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
