"""The Platform aggregate: lifecycle (SPEC §4), major change requests (§5) and
funds (§6). Rules that need other aggregates (members' types, vouchers, the
host's standing) are worked out by the application and passed in."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from aggregates.errors import (
    AlreadyExists,
    CompositionRuleBroken,
    DateOrder,
    FundingRefused,
    IllegalTransition,
    InvalidInput,
    NotFound,
    OverAllocation,
)
from aggregates.policy import CentreComposition, ConsortiumComposition, Policy, YearRange
from aggregates.values import (
    ACTIVE_STATUSES,
    LEVELS,
    MemberInfo,
    Meta,
    add_months,
    add_years,
    money_str,
    normalise_voucher,
)

ZERO = Decimal("0.00")
MAX_PERIOD_YEARS = 20  # a construction period or term beyond this is a typing error

_CYCLE = re.compile(r"(\d{4})(?:\s*[-–—~～至到]\s*(\d{4}))?\s*年?")


def normalise_cycle(cycle: str) -> str:
    """`2023-2025` for 2023–2025, ２０２３—２０２５, `2023至2025年`…; other text as given."""
    text = unicodedata.normalize("NFKC", cycle).strip()
    m = _CYCLE.fullmatch(text)
    if m is None:
        return text
    return f"{m.group(1)}-{m.group(2)}" if m.group(2) else m.group(1)


def cycle_years(cycle: str, evaluated_on: date, policy_cycle: int) -> tuple[int, int]:
    """The years an evaluation cycle covers: as written (`2023-2025`); a single
    year starts a cycle of the policy's length; other labels end with the
    year of the evaluation."""
    m = _CYCLE.fullmatch(normalise_cycle(cycle))
    if m is None:
        return evaluated_on.year - policy_cycle + 1, evaluated_on.year
    start = int(m.group(1))
    end = int(m.group(2)) if m.group(2) else start + policy_cycle - 1
    return min(start, end), max(start, end)


def platform_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/platforms/{code}")


@dataclass
class FundLine:
    category: str
    fiscal_year: int
    allocated: Decimal = ZERO
    disbursed: Decimal = ZERO
    reversed: Decimal = ZERO
    recovered: Decimal = ZERO
    entitled: Decimal | None = None
    # every money event of the line: (effective date, what, amount)
    entries: list[tuple[date, str, Decimal]] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.allocated - self.disbursed + self.reversed

    @property
    def net(self) -> Decimal:
        return self.disbursed - self.reversed - self.recovered

    def add(self, on: date, what: str, amount: Decimal) -> None:
        setattr(self, what, getattr(self, what) + amount)
        self.entries.append((on, what, amount))

    def _net_on(self, day: date) -> Decimal:
        net = ZERO
        for on, what, amount in self.entries:
            if on <= day and what != "allocated":
                net += amount if what == "disbursed" else -amount
        return net

    def lowest_net_from(self, day: date) -> tuple[Decimal, date]:
        """The lowest amount paid net (disbursed − reversed − recovered) on any
        date from `day` on (the dates its entries change it, and `day` itself),
        with that date: what a recovery or reversal dated `day` must fit within,
        so that no "as of" view shows more clawed back than was paid."""
        days = sorted({day} | {on for on, _, _ in self.entries if on >= day})
        return min(((self._net_on(d), d) for d in days), key=lambda vd: vd[0])


@dataclass
class Payment:
    voucher: str
    category: str
    fiscal_year: int
    amount: Decimal
    paid_on: date
    flags: list[str]
    reversed_on: date | None = None


@dataclass
class EntitlementState:
    key: str
    category: str
    amount: Decimal
    basis: str
    earned_on: date
    granted_by: str | None = None  # "category:fiscal_year" of the allocation that used it


@dataclass
class ChangeRequest:
    id: str
    change_type: str
    details: dict[str, str]
    requested_on: date
    reason: str | None
    actor: str
    status: str = "pending"
    decided_on: date | None = None
    decision_doc_no: str | None = None
    decision_reason: str | None = None
    recorded_at: str = ""
    applied: dict[str, Any] = field(default_factory=dict)


CHANGE_DETAIL_KEYS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    # type: (required keys, optional keys)
    "rename": (("name",), ()),
    # consents: a consortium's lead or host change to a unit that is not yet a
    # member adds a member, which needs every member's consent (002 §5.1)
    "host-change": (("host",), ("consents",)),
    "co-builder-change": ((), ("add", "remove", "consents")),
    "lead-change": (("lead",), ("consents",)),
    "member-change": (("consents",), ("add", "remove")),
    "other": ((), ()),
}


def split_codes(value: str | None) -> list[str]:
    if not value:
        return []
    return [c.strip() for c in value.split(",") if c.strip()]


class Platform(Aggregate):
    """A sci-tech innovation platform, identified by its registry code."""

    class Event(Aggregate.Event):
        actor: str
        effective_on: date
        doc_no: str | None
        reason: str | None
        basis: str | None

    @staticmethod
    def create_id(code: str) -> UUID:
        return platform_id(code)

    @event("Proposed")
    def __init__(
        self,
        *,
        code: str,
        name: str,
        kind: str,
        level: str,
        policy: str,
        host: str,
        co_builders: list[str],
        agreement_on: date | None,
        filing_due: date | None,
        filing_late: bool,
        actor: str,
        effective_on: date,
        doc_no: str | None,
        reason: str | None,
        basis: str | None,
    ) -> None:
        self.code = code
        self.name = name
        self.kind = kind
        self.level = level
        self.policy = policy
        self.host = host
        self.co_builders = list(co_builders)
        self.agreement_on = agreement_on
        self.filing_due = filing_due
        self.filing_late = filing_late
        self.proposed_on = effective_on
        self.status = "proposed"
        self.status_since = effective_on
        self.status_history: list[tuple[date, str]] = [(effective_on, "proposed")]
        self.last_state_on = effective_on
        self.approved_on: date | None = None
        self.construction_ends: date | None = None
        self.term_years: int | None = None
        self.term_ends: date | None = None
        self.rectification_due: date | None = None
        self.delist_reason: str | None = None
        self.funding_suspended = False
        # funding suspensions as [from, until) intervals; until None while in force
        self.suspensions: list[list[date | None]] = []
        # the host (lead) unit over time: (since, credit code)
        self.host_history: list[tuple[date, str]] = [(effective_on, host)]
        # every unit that has been its host or a co-builder
        self.units_ever: set[str] = {host, *co_builders}
        self.evaluations: list[dict[str, Any]] = []
        self.consecutive_poor = 0
        self.due_for_termination = False
        self.reports: dict[int, dict[str, Any]] = {}
        self.changes: dict[str, ChangeRequest] = {}
        self.change_counter = 0
        self.lines: dict[str, FundLine] = {}
        self.payments: dict[str, Payment] = {}
        self.entitlements: dict[str, EntitlementState] = {}

    # --- helpers -------------------------------------------------------------

    def status_on(self, d: date) -> str | None:
        """The status on a business date (None before the proposal)."""
        current: str | None = None
        for since, status in self.status_history:
            if since <= d:
                current = status
            else:
                break
        return current

    def host_on(self, d: date) -> str:
        """The host (lead) unit on a business date (the first host before it)."""
        host = self.host_history[0][1]
        for since, code in self.host_history:
            if since <= d:
                host = code
        return host

    def suspended_on(self, d: date) -> bool:
        return any(
            start is not None and start <= d and (until is None or d < until)
            for start, until in self.suspensions
        )

    def _require(self, action: str, *allowed: str) -> None:
        if self.status not in allowed:
            raise IllegalTransition(
                f"cannot {action} platform {self.code}: it is {self.status}, "
                f"and only a platform that is {' or '.join(allowed)} can be {_past(action)} "
                "(SPEC §4 lifecycle)"
            )

    def _check_date(self, meta: Meta, what: str) -> None:
        if meta.effective_on < self.last_state_on:
            raise DateOrder(
                f"cannot record {what} for platform {self.code} effective {meta.effective_on}: "
                f"its last change of state was effective {self.last_state_on}, and a platform's "
                "changes of state have non-decreasing dates (SPEC §3)"
            )

    def _check_not_before_proposal(self, meta: Meta, what: str) -> None:
        if meta.effective_on < self.proposed_on:
            raise DateOrder(
                f"cannot record {what} for platform {self.code} effective {meta.effective_on}: "
                f"it was proposed on {self.proposed_on}"
            )

    class StatusEvent(Event):
        """Base of events that change the status."""

        status: str

        def apply(self, aggregate: Any) -> None:
            aggregate.status = self.status
            aggregate.status_since = self.effective_on
            aggregate.status_history.append((self.effective_on, self.status))
            aggregate.last_state_on = self.effective_on

    # --- lifecycle -------------------------------------------------------------

    def approve(
        self,
        meta: Meta,
        *,
        policy: Policy,
        construction_years: int | None,
        term_years: int | None,
        term_rule: YearRange | None,
        members: list[MemberInfo],
        consortium_rule: ConsortiumComposition | None,
        centre_rule: CentreComposition | None,
        lead_other_consortia: list[str],
    ) -> None:
        # bad input first (exit 2), then the rules (exit 1)
        if construction_years is not None and not 1 <= construction_years <= MAX_PERIOD_YEARS:
            raise InvalidInput(
                f"invalid --construction-years {construction_years}: "
                f"expected 1 to {MAX_PERIOD_YEARS}"
            )
        if term_years is not None and not 1 <= term_years <= MAX_PERIOD_YEARS:
            raise InvalidInput(
                f"invalid --term-years {term_years}: expected 1 to {MAX_PERIOD_YEARS}"
            )
        self._require("approve", "proposed")
        self._check_date(meta, "an approval")
        rng = policy.construction_years
        if (
            construction_years is not None
            and rng is not None
            and not (rng.min <= construction_years <= rng.max)
        ):
            raise CompositionRuleBroken(
                f"a construction period of {construction_years} years is outside "
                f"{rng.min}–{rng.max} years under policy {policy.id}",
                rule="construction-period",
                basis=rng.basis,
            )
        if term_rule is not None and term_years is not None and term_years > term_rule.max:
            raise CompositionRuleBroken(
                f"a term of {term_years} years exceeds the {term_rule.max} years allowed",
                rule="term",
                basis=term_rule.basis,
            )
        if self.kind == "innovation-consortium" and consortium_rule is not None:
            check_consortium(self.host, members, consortium_rule, lead_other_consortia)
        if self.kind == "tech-innovation-center" and centre_rule is not None:
            check_centre(self.host, members, centre_rule)
        construction_ends = (
            add_years(meta.effective_on, construction_years) if construction_years else None
        )
        self.trigger_event(
            self.Approved,
            status="construction" if construction_years else "operating",
            construction_years=construction_years,
            construction_ends=construction_ends,
            term_years=term_years,
            term_ends=add_years(meta.effective_on, term_years) if term_years else None,
            **meta.fields(),
        )

    class Approved(StatusEvent):
        construction_years: int | None
        construction_ends: date | None
        term_years: int | None
        term_ends: date | None

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.approved_on = self.effective_on
            aggregate.construction_ends = self.construction_ends
            aggregate.term_years = self.term_years
            aggregate.term_ends = self.term_ends

    def reject(self, meta: Meta) -> None:
        self._require("reject", "proposed")
        self._check_date(meta, "a rejection")
        self.trigger_event(self.Rejected, status="rejected", **meta.fields())

    class Rejected(StatusEvent):
        pass

    def withdraw(self, meta: Meta) -> None:
        self._require("withdraw", "proposed")
        self._check_date(meta, "a withdrawal")
        self.trigger_event(self.Withdrawn, status="withdrawn", **meta.fields())

    class Withdrawn(StatusEvent):
        pass

    def accept(self, meta: Meta) -> None:
        self._require("accept", "construction")
        self._check_date(meta, "an acceptance")
        self.trigger_event(self.Accepted, status="operating", **meta.fields())

    class Accepted(StatusEvent):
        pass

    def fail_acceptance(self, meta: Meta, policy: Policy) -> None:
        self._require("fail acceptance of", "construction")
        self._check_date(meta, "a failed acceptance")
        due = add_months(meta.effective_on, policy.rectification.months)
        self.trigger_event(
            self.AcceptanceFailed,
            status="rectification",
            rectification_due=due,
            rectification_basis=policy.rectification.basis,
            **meta.derived(basis=policy.rectification.basis).fields(),
        )

    class AcceptanceFailed(StatusEvent):
        rectification_due: date
        rectification_basis: str

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.rectification_due = self.rectification_due

    def evaluate(self, cycle: str, grade: str, meta: Meta, policy: Policy) -> None:
        self._require("evaluate", "operating")
        self._check_date(meta, "an evaluation")
        if grade not in policy.evaluation.grades:
            raise IllegalTransition(
                f"grade {grade!r} does not exist under policy {policy.id}; its grades are "
                f"{', '.join(policy.evaluation.grades)}",
                rule="grades",
                basis=policy.evaluation.basis,
            )
        cycle = normalise_cycle(cycle)
        if any(normalise_cycle(e["cycle"]) == cycle for e in self.evaluations):
            raise AlreadyExists(
                f"platform {self.code} already has an evaluation for cycle {cycle}: one "
                f"evaluation per cycle ({policy.evaluation.basis})"
            )
        poor = grade == "poor"
        consecutive = 0
        if poor:
            # "in a row" (004 §4.4 连续两年): the previous evaluation was poor and
            # its cycle is next to this one (2023 then 2024, not 2022 then 2024)
            consecutive = 1
            if self.evaluations and self.consecutive_poor:
                prev = self.evaluations[-1]
                per = policy.evaluation.cycle_years
                p_start, p_end = cycle_years(prev["cycle"], prev["on"], per)
                start, end = cycle_years(cycle, meta.effective_on, per)
                if p_end + 1 == start or end + 1 == p_start:
                    consecutive = self.consecutive_poor + 1
        limit = policy.evaluation.consecutive_poor_limit
        self.trigger_event(
            self.Evaluated,
            status="rectification" if poor else "operating",
            cycle=cycle,
            grade=grade,
            rectification_due=(
                add_months(meta.effective_on, policy.rectification.months) if poor else None
            ),
            consecutive_poor=consecutive,
            due_for_termination=bool(limit and consecutive >= limit),
            termination_basis=policy.evaluation.consecutive_poor_basis if limit else None,
            **meta.derived(
                basis=policy.rectification.basis if poor else policy.evaluation.basis
            ).fields(),
        )

    class Evaluated(StatusEvent):
        cycle: str
        grade: str
        rectification_due: date | None
        consecutive_poor: int
        due_for_termination: bool
        termination_basis: str | None

        def apply(self, aggregate: Any) -> None:
            if self.status != aggregate.status:
                super().apply(aggregate)
            else:
                aggregate.last_state_on = self.effective_on
            aggregate.evaluations.append(
                {"cycle": self.cycle, "grade": self.grade, "on": self.effective_on}
            )
            aggregate.consecutive_poor = self.consecutive_poor
            aggregate.due_for_termination = self.due_for_termination
            if self.rectification_due is not None:
                aggregate.rectification_due = self.rectification_due

    def rectify(self, passed: bool, meta: Meta, basis: str | None = None) -> None:
        """``basis``: the rule the result applies (the policy's rectification rule)."""
        self._require("record a rectification result for", "rectification")
        self._check_date(meta, "a rectification result")
        if passed:
            self.trigger_event(
                self.RectificationPassed, status="operating", **meta.derived(basis=basis).fields()
            )
        else:
            self.trigger_event(
                self.RectificationFailed,
                status="delisted",
                reason_code="failed-rectification",
                **meta.derived(basis=basis).fields(),
            )

    class RectificationPassed(StatusEvent):
        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.rectification_due = None

    class RectificationFailed(StatusEvent):
        reason_code: str

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.delist_reason = self.reason_code
            aggregate.rectification_due = None

    def delist(self, reason_code: str, meta: Meta, violation: str | None = None) -> None:
        self._require("delist", *ACTIVE_STATUSES)
        self._check_date(meta, "a delisting")
        self.trigger_event(
            self.Delisted,
            status="delisted",
            reason_code=reason_code,
            violation=violation,
            **meta.fields(),
        )

    class Delisted(StatusEvent):
        reason_code: str
        violation: str | None

        def apply(self, aggregate: Any) -> None:
            super().apply(aggregate)
            aggregate.delist_reason = self.reason_code
            aggregate.rectification_due = None

    def upgrade(self, level: str, meta: Meta) -> None:
        self._require("upgrade", "construction", "operating")
        self._check_date(meta, "an upgrade")
        if LEVELS.index(level) <= LEVELS.index(self.level):
            raise IllegalTransition(
                f"cannot upgrade platform {self.code} from {self.level} to {level}: "
                "an upgrade raises the level (003 art. 16)"
            )
        self.trigger_event(self.Upgraded, from_level=self.level, level=level, **meta.fields())

    class Upgraded(Event):
        from_level: str
        level: str

        def apply(self, aggregate: Any) -> None:
            aggregate.level = self.level
            aggregate.last_state_on = self.effective_on

    def file_report(self, year: int, meta: Meta, policy: Policy) -> bool:
        self._check_not_before_proposal(meta, "an annual report")
        # judged on the report's own date: a report filed while the platform
        # was active may be entered late, after a delisting
        then = self.status_on(meta.effective_on)
        if then not in ACTIVE_STATUSES:
            state = (
                f"it is {then}" if then == self.status else f"it was {then} on {meta.effective_on}"
            )
            raise IllegalTransition(
                f"cannot file an annual report for platform {self.code}: {state}, and only a "
                f"platform that is {' or '.join(ACTIVE_STATUSES)} files annual reports "
                "(SPEC §4 lifecycle)"
            )
        if not 1990 <= year <= 2100:
            raise InvalidInput(f"invalid --year {year}: expected a year such as 2026")
        if year < self.proposed_on.year:
            raise DateOrder(
                f"platform {self.code} was proposed in {self.proposed_on.year}; "
                f"it has no annual report for {year}",
                rule="annual-report",
            )
        if year > meta.effective_on.year:
            raise InvalidInput(
                f"cannot file the {year} annual report on {meta.effective_on}: "
                "the year has not begun"
            )
        if year in self.reports:
            raise AlreadyExists(
                f"platform {self.code} already filed its {year} annual report "
                f"on {self.reports[year]['on']}"
            )
        rule = policy.annual_report
        due = date(year, rule.due_month, rule.due_day) if rule else None
        # due only from a platform filed (approved) by the deadline, as
        # `compliance overdue` counts it
        if due is not None and (self.approved_on is None or self.approved_on > due):
            due = None
        late = bool(due and meta.effective_on > due)
        self.trigger_event(
            self.ReportFiled,
            year=year,
            due_on=due,
            late=late,
            **meta.derived(basis=rule.basis if rule else None).fields(),
        )
        return late

    class ReportFiled(Event):
        year: int
        due_on: date | None
        late: bool

        def apply(self, aggregate: Any) -> None:
            aggregate.reports[self.year] = {
                "on": self.effective_on,
                "due_on": self.due_on,
                "late": self.late,
            }

    # --- major change requests (SPEC §5) ------------------------------------------

    def request_change(self, change_type: str, details: dict[str, str], meta: Meta) -> str:
        if self.status in ("rejected", "withdrawn", "delisted"):
            raise IllegalTransition(
                f"cannot request a change to platform {self.code}: it is {self.status} (final)"
            )
        self._check_not_before_proposal(meta, "a change request")
        required, optional = CHANGE_DETAIL_KEYS[change_type]
        unknown = sorted(set(details) - set(required) - set(optional))
        if unknown and change_type != "other":
            raise InvalidInput(
                f"unknown --detail key {unknown[0]!r} for a {change_type} request; expected "
                f"{', '.join(required + optional)}"
            )
        missing = [k for k in required if not details.get(k)]
        if missing:
            raise InvalidInput(f"a {change_type} request needs --detail {missing[0]}=…")
        if change_type in ("co-builder-change", "member-change") and not (
            details.get("add") or details.get("remove")
        ):
            raise InvalidInput(f"a {change_type} request needs --detail add=… or remove=…")
        request_id = f"{self.code}:CR{self.change_counter + 1}"
        self.trigger_event(
            self.ChangeRequested,
            request_id=request_id,
            change_type=change_type,
            details=dict(details),
            **meta.fields(),
        )
        return request_id

    class ChangeRequested(Event):
        request_id: str
        change_type: str
        details: dict[str, str]

        def apply(self, aggregate: Any) -> None:
            aggregate.change_counter += 1
            aggregate.changes[self.request_id] = ChangeRequest(
                id=self.request_id,
                change_type=self.change_type,
                details=dict(self.details),
                requested_on=self.effective_on,
                reason=self.reason,
                actor=self.actor,
                recorded_at=self.timestamp.isoformat(),
            )

    def pending_change(self, request_id: str) -> ChangeRequest:
        cr = self.changes.get(request_id)
        if cr is None:
            raise NotFound(f"unknown change request {request_id}")
        if cr.status != "pending":
            raise IllegalTransition(
                f"change request {request_id} is already {cr.status} (on {cr.decided_on})"
            )
        return cr

    def planned_change(self, cr: ChangeRequest) -> dict[str, Any]:
        """What approving the request would change."""
        d = cr.details
        if cr.change_type == "rename":
            return {"name": d["name"]}
        if cr.change_type in ("host-change", "lead-change"):
            new_host = d.get("host") or d["lead"]
            return {"host": new_host}
        if cr.change_type in ("co-builder-change", "member-change"):
            add, remove = split_codes(d.get("add")), split_codes(d.get("remove"))
            missing = [c for c in remove if c not in self.co_builders]
            if missing:
                raise IllegalTransition(
                    f"cannot remove {missing[0]}: it is not a co-builder of {self.code}"
                )
            dup = [c for c in add if c in self.co_builders or c == self.host]
            if dup:
                raise IllegalTransition(f"{dup[0]} is already a member of {self.code}")
            co = [c for c in self.co_builders if c not in remove] + add
            return {"co_builders": co}
        return {}

    def approve_change(self, request_id: str, meta: Meta, applied: dict[str, Any]) -> None:
        cr = self.pending_change(request_id)
        if self.status in ("rejected", "withdrawn", "delisted"):
            raise IllegalTransition(
                f"cannot approve change request {request_id}: platform {self.code} is "
                f"{self.status} (final); reject or withdraw the request instead (SPEC §4)"
            )
        if meta.effective_on < cr.requested_on:
            raise DateOrder(
                f"cannot decide change request {request_id} on {meta.effective_on}: "
                f"it was requested on {cr.requested_on}"
            )
        self._check_date(meta, "an approved change")
        self.trigger_event(
            self.ChangeApproved, request_id=request_id, applied=dict(applied), **meta.fields()
        )

    class ChangeApproved(Event):
        request_id: str
        applied: dict[str, Any]

        def apply(self, aggregate: Any) -> None:
            cr = aggregate.changes[self.request_id]
            cr.status, cr.decided_on, cr.decision_doc_no = (
                "approved",
                self.effective_on,
                self.doc_no,
            )
            cr.applied = dict(self.applied)
            for key, value in self.applied.items():
                setattr(aggregate, key, list(value) if isinstance(value, list) else value)
            if "host" in self.applied:
                aggregate.host_history.append((self.effective_on, self.applied["host"]))
            aggregate.units_ever |= {aggregate.host, *aggregate.co_builders}
            aggregate.last_state_on = self.effective_on

    def reject_change(self, request_id: str, meta: Meta) -> None:
        cr = self.pending_change(request_id)
        if meta.effective_on < cr.requested_on:
            raise DateOrder(
                f"cannot decide change request {request_id} on {meta.effective_on}: "
                f"it was requested on {cr.requested_on}"
            )
        self.trigger_event(self.ChangeRejected, request_id=request_id, **meta.fields())

    class ChangeRejected(Event):
        request_id: str

        def apply(self, aggregate: Any) -> None:
            cr = aggregate.changes[self.request_id]
            cr.status, cr.decided_on, cr.decision_doc_no = (
                "rejected",
                self.effective_on,
                self.doc_no,
            )
            cr.decision_reason = self.reason

    def withdraw_change(self, request_id: str, meta: Meta) -> None:
        cr = self.pending_change(request_id)
        if meta.effective_on < cr.requested_on:
            raise DateOrder(
                f"cannot withdraw change request {request_id} on {meta.effective_on}: "
                f"it was requested on {cr.requested_on}"
            )
        self.trigger_event(self.ChangeWithdrawn, request_id=request_id, **meta.fields())

    class ChangeWithdrawn(Event):
        request_id: str

        def apply(self, aggregate: Any) -> None:
            cr = aggregate.changes[self.request_id]
            cr.status, cr.decided_on = "withdrawn", self.effective_on
            cr.decision_reason = self.reason

    # --- entitlements (003 art. 15, 17, 23, 28; 001 §5.3) ------------------------------

    def earn_entitlement(
        self, key: str, category: str, amount: Decimal, basis: str, meta: Meta
    ) -> None:
        if key in self.entitlements:
            return
        self.trigger_event(
            self.EntitlementEarned,
            key=key,
            category=category,
            amount=amount,
            **meta.derived(basis=basis).fields(),
        )

    class EntitlementEarned(Event):
        key: str
        category: str
        amount: Decimal

        def apply(self, aggregate: Any) -> None:
            aggregate.entitlements[self.key] = EntitlementState(
                self.key, self.category, self.amount, self.basis or "", self.effective_on
            )

    def grade_reward_overlapping(self, years: tuple[int, int], policy_cycle: int) -> str | None:
        """The cycle of an earlier evaluation that earned a grade reward and
        overlaps `years` (003 art. 23: one reward in a single evaluation cycle),
        or None."""
        for e in self.evaluations:
            key = f"grade-reward:{normalise_cycle(e['cycle'])}"
            if key not in self.entitlements:
                continue
            start, end = cycle_years(e["cycle"], e["on"], policy_cycle)
            if start <= years[1] and years[0] <= end:
                return normalise_cycle(e["cycle"])
        return None

    def open_entitlements(self, category: str) -> list[EntitlementState]:
        return [
            e for e in self.entitlements.values() if e.category == category and e.granted_by is None
        ]

    # --- funds (SPEC §6) ---------------------------------------------------------------

    def line(self, category: str, fiscal_year: int) -> FundLine | None:
        return self.lines.get(f"{category}:{fiscal_year}")

    def allocate(
        self,
        category: str,
        fiscal_year: int,
        amount: Decimal,
        meta: Meta,
        *,
        entitlement_key: str | None,
        entitlement_categories: tuple[str, ...],
        double_benefit_basis: str | None,
        entitlement_basis: str | None = None,
    ) -> EntitlementState | None:
        """``entitlement_basis``: the articles that fix the amounts of this
        category for this kind (cited when there is no entitlement at all)."""
        if self.status not in ACTIVE_STATUSES:
            raise FundingRefused(
                f"cannot allocate funds to platform {self.code}: it is {self.status}; only a "
                "platform in construction, operating or rectification is funded (SPEC §6)"
            )
        self._check_not_before_proposal(meta, "an allocation")
        ent: EntitlementState | None = None
        if entitlement_key is not None or category in entitlement_categories:
            ent = self._pick_entitlement(
                category, entitlement_key, double_benefit_basis, entitlement_basis
            )
            if amount > ent.amount:
                raise OverAllocation(
                    f"allocation of {money_str(amount)} for {category} exceeds the "
                    f"{ent.key} entitlement of {money_str(ent.amount)} of platform {self.code}",
                    rule="entitlement",
                    basis=ent.basis,
                )
        self.trigger_event(
            self.FundsAllocated,
            category=category,
            fiscal_year=fiscal_year,
            amount=amount,
            entitlement=ent.key if ent else None,
            entitled=ent.amount if ent else None,
            **meta.fields(),
        )
        return ent

    def _pick_entitlement(
        self,
        category: str,
        key: str | None,
        double_basis: str | None,
        entitlement_basis: str | None = None,
    ) -> EntitlementState:
        if key is not None:
            ent = self.entitlements.get(key)
            if ent is None or ent.category != category:
                raise FundingRefused(
                    f"platform {self.code} has no {category} entitlement {key!r}",
                    rule="entitlement",
                )
            if ent.granted_by is not None:
                raise FundingRefused(
                    f"the {key} entitlement of platform {self.code} was already granted "
                    f"(allocation {ent.granted_by}); the same benefit is not granted twice",
                    rule="no-double-benefit",
                    basis=double_basis or "SPEC §6, 003 art. 28",
                )
            return ent
        open_ = self.open_entitlements(category)
        if not open_:
            granted = [e for e in self.entitlements.values() if e.category == category]
            if granted:
                raise FundingRefused(
                    f"every {category} entitlement of platform {self.code} was already granted "
                    f"({', '.join(e.key for e in granted)}); the same benefit is not granted twice",
                    rule="no-double-benefit",
                    basis=double_basis or "SPEC §6, 003 art. 28",
                )
            raise FundingRefused(
                f"platform {self.code} has no {category} entitlement under policy "
                f"{self.policy}: {category} lines are fixed amounts the policy grants "
                "(filing support, upgrade and grade rewards), earned by those decisions",
                rule="entitlement",
                basis=entitlement_basis,
            )
        if len(open_) > 1:
            raise InvalidInput(
                f"platform {self.code} has several open {category} entitlements "
                f"({', '.join(e.key for e in open_)}); name one with --entitlement"
            )
        return open_[0]

    class FundsAllocated(Event):
        category: str
        fiscal_year: int
        amount: Decimal
        entitlement: str | None
        entitled: Decimal | None

        def apply(self, aggregate: Any) -> None:
            key = f"{self.category}:{self.fiscal_year}"
            line = aggregate.lines.setdefault(key, FundLine(self.category, self.fiscal_year))
            line.add(self.effective_on, "allocated", self.amount)
            if self.entitlement is not None and self.entitled is not None:
                line.entitled = (line.entitled or ZERO) + self.entitled
                aggregate.entitlements[self.entitlement].granted_by = key

    def disburse(
        self,
        category: str,
        fiscal_year: int,
        amount: Decimal,
        voucher: str,
        meta: Meta,
        flags: list[str],
    ) -> None:
        if normalise_voucher(voucher) in self.payments:
            raise AlreadyExists(f"voucher {voucher} is already used (one voucher, one payment)")
        status_then = self.status_on(meta.effective_on)
        if status_then not in ACTIVE_STATUSES:
            raise FundingRefused(
                f"cannot pay platform {self.code} on {meta.effective_on}: it was "
                f"{status_then or 'not yet proposed'} on that date; only a platform in "
                "construction, operating or rectification may be paid (SPEC §6)",
                rule="inactive-platform",
            )
        if self.funding_suspended or self.suspended_on(meta.effective_on):
            when = "" if self.funding_suspended else f" on {meta.effective_on}"
            raise FundingRefused(
                f"cannot pay platform {self.code}: its funding is suspended{when}",
                rule="funding-suspended",
                basis="004 §4.3",
            )
        line = self.line(category, fiscal_year)
        remaining = line.remaining if line else ZERO
        if amount > remaining:
            raise OverAllocation(
                f"payment of {money_str(amount)} exceeds what remains of the {category} "
                f"allocation for {fiscal_year} of platform {self.code} ({money_str(remaining)})",
                rule="over-allocation",
                basis="SPEC §6",
            )
        self.trigger_event(
            self.FundsDisbursed,
            category=category,
            fiscal_year=fiscal_year,
            amount=amount,
            voucher=voucher,
            flags=list(flags),
            **meta.fields(),
        )

    class FundsDisbursed(Event):
        category: str
        fiscal_year: int
        amount: Decimal
        voucher: str
        flags: list[str]

        def apply(self, aggregate: Any) -> None:
            key = f"{self.category}:{self.fiscal_year}"
            line = aggregate.lines.setdefault(key, FundLine(self.category, self.fiscal_year))
            line.add(self.effective_on, "disbursed", self.amount)
            aggregate.payments[normalise_voucher(self.voucher)] = Payment(
                self.voucher,
                self.category,
                self.fiscal_year,
                self.amount,
                self.effective_on,
                list(self.flags),
            )

    def reverse(self, voucher: str, meta: Meta) -> Payment:
        payment = self.payments.get(normalise_voucher(voucher))
        if payment is None:
            raise NotFound(f"platform {self.code} has no payment with voucher {voucher}")
        if payment.reversed_on is not None:
            raise IllegalTransition(
                f"payment {voucher} of platform {self.code} was already reversed on "
                f"{payment.reversed_on}"
            )
        if meta.effective_on < payment.paid_on:
            raise DateOrder(
                f"cannot reverse payment {voucher} on {meta.effective_on}: "
                f"it was paid on {payment.paid_on}"
            )
        line = self.lines[f"{payment.category}:{payment.fiscal_year}"]
        low, low_on = line.lowest_net_from(meta.effective_on)
        if payment.amount > line.net:
            # money already recovered cannot also be un-paid: net would fall below zero
            raise OverAllocation(
                f"cannot reverse payment {voucher} of {money_str(payment.amount)}: only "
                f"{money_str(line.net)} of {payment.category} {payment.fiscal_year} of platform "
                f"{self.code} is still paid net after recoveries",
                rule="reversal",
                basis="SPEC §6",
            )
        if payment.amount > low:
            raise OverAllocation(
                f"cannot reverse payment {voucher} of {money_str(payment.amount)} on "
                f"{meta.effective_on}: only {money_str(low)} of {payment.category} "
                f"{payment.fiscal_year} of platform {self.code} was paid net on {low_on}",
                rule="reversal",
                basis="SPEC §6",
            )
        self.trigger_event(
            self.DisbursementReversed,
            voucher=payment.voucher,
            category=payment.category,
            fiscal_year=payment.fiscal_year,
            amount=payment.amount,
            **meta.fields(),
        )
        return payment

    class DisbursementReversed(Event):
        voucher: str
        category: str
        fiscal_year: int
        amount: Decimal

        def apply(self, aggregate: Any) -> None:
            aggregate.lines[f"{self.category}:{self.fiscal_year}"].add(
                self.effective_on, "reversed", self.amount
            )
            aggregate.payments[normalise_voucher(self.voucher)].reversed_on = self.effective_on

    def recover(self, category: str, fiscal_year: int, amount: Decimal, meta: Meta) -> None:
        self._check_not_before_proposal(meta, "a recovery")
        line = self.line(category, fiscal_year)
        net = line.net if line else ZERO
        if amount > net:
            raise OverAllocation(
                f"cannot recover {money_str(amount)} of {category} {fiscal_year} from platform "
                f"{self.code}: only {money_str(net)} was paid net",
                rule="recovery",
                basis="SPEC §6",
            )
        low, low_on = line.lowest_net_from(meta.effective_on) if line else (ZERO, None)
        if amount > low:
            raise OverAllocation(
                f"cannot recover {money_str(amount)} of {category} {fiscal_year} from platform "
                f"{self.code} on {meta.effective_on}: only {money_str(low)} was paid net on "
                f"{low_on} (payments effective by then)",
                rule="recovery",
                basis="SPEC §6",
            )
        self.trigger_event(
            self.FundsRecovered,
            category=category,
            fiscal_year=fiscal_year,
            amount=amount,
            **meta.fields(),
        )

    class FundsRecovered(Event):
        category: str
        fiscal_year: int
        amount: Decimal

        def apply(self, aggregate: Any) -> None:
            aggregate.lines[f"{self.category}:{self.fiscal_year}"].add(
                self.effective_on, "recovered", self.amount
            )

    def suspend_funding(self, meta: Meta) -> None:
        if self.status in ("rejected", "withdrawn", "delisted"):
            raise IllegalTransition(
                f"cannot suspend funding of platform {self.code}: it is {self.status} (final)"
            )
        if self.funding_suspended:
            raise IllegalTransition(f"funding of platform {self.code} is already suspended")
        self._check_date(meta, "a suspension of funding")
        self.trigger_event(self.FundingSuspended, **meta.fields())

    class FundingSuspended(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.funding_suspended = True
            aggregate.suspensions.append([self.effective_on, None])
            aggregate.last_state_on = self.effective_on

    def resume_funding(self, meta: Meta) -> None:
        if not self.funding_suspended:
            raise IllegalTransition(f"funding of platform {self.code} is not suspended")
        self._check_date(meta, "a resumption of funding")
        self.trigger_event(self.FundingResumed, **meta.fields())

    class FundingResumed(Event):
        def apply(self, aggregate: Any) -> None:
            aggregate.funding_suspended = False
            if aggregate.suspensions:
                aggregate.suspensions[-1][1] = self.effective_on
            aggregate.last_state_on = self.effective_on


def _past(action: str) -> str:
    words = {
        "approve": "approved",
        "reject": "rejected",
        "withdraw": "withdrawn",
        "accept": "accepted",
        "evaluate": "evaluated",
        "delist": "delisted",
        "upgrade": "upgraded",
    }
    return words.get(action, "changed that way")


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
