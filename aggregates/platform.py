"""The Platform aggregate: lifecycle (SPEC §4), major change requests (§5) and
funds (§6). Rules that need other aggregates (members' types, vouchers, the
host's standing) are worked out by the application and passed in. Only the
aggregate and its events live here (their stored topics are
``aggregates.platform:Platform.<Event>``); its state records, composition
checks and pure rule helpers are in platform_state.py, composition.py and
rules.py."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from aggregates import rules

# re-exported: the application imports these names from here
from aggregates.composition import check_composition as check_composition
from aggregates.composition import check_consortium as check_consortium
from aggregates.errors import (
    AlreadyExists,
    FundingRefused,
    IllegalTransition,
    NotFound,
    OverAllocation,
)
from aggregates.meta import Meta
from aggregates.platform_state import (
    ZERO,
    ChangeRequest,
    EntitlementState,
    FundLine,
    Payment,
    PaymentBook,
)
from aggregates.policy import Policy
from aggregates.rules import cycle_years as cycle_years
from aggregates.rules import normalise_cycle as normalise_cycle
from aggregates.values import (
    ACTIVE_STATUSES,
    MemberInfo,
    money_str,
    normalise_voucher,
    period_end_months,
    period_end_years,
)


# pure: cached, an import asks for the same ones line after line
@lru_cache(maxsize=65536)
def platform_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/platforms/{code}")


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
        self.payments: PaymentBook = PaymentBook()
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
        rules.require_status(self, action, allowed)

    def _check_date(self, meta: Meta, what: str) -> None:
        rules.check_date_order(self, meta.effective_on, what)

    def _check_not_before_proposal(self, meta: Meta, what: str) -> None:
        rules.check_not_before_proposal(self, meta.effective_on, what)

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
        members: list[MemberInfo],
        lead_other_consortia: list[str],
    ) -> list[str]:
        """Every rule read from the governing `policy` only (SPEC §2.1); returns
        the warnings of the composition rules that only warn."""
        # bad input first (exit 2), then the rules (exit 1)
        rules.check_period_input(construction_years, term_years)
        self._require("approve", "proposed")
        self._check_date(meta, "an approval")
        rules.check_period_rules(policy, construction_years, term_years)
        if policy.consortium is not None and self.kind == "innovation-consortium":
            c = policy.consortium
            check_consortium(
                self.host, members, c, lead_other_consortia, c.one_consortium_basis or c.basis
            )
        warnings = check_composition(self.kind, self.host, members, policy.composition)
        construction_ends = (
            period_end_years(meta.effective_on, construction_years) if construction_years else None
        )
        self.trigger_event(
            self.Approved,
            status="construction" if construction_years else "operating",
            construction_years=construction_years,
            construction_ends=construction_ends,
            term_years=term_years,
            term_ends=period_end_years(meta.effective_on, term_years) if term_years else None,
            **meta.fields(),
        )
        return warnings

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
        rect = policy.rectifies_on("failed-acceptance")
        # a programme whose document has no acceptance step (a construction
        # period was given all the same): the lifecycle's rectification (SPEC
        # §4, at most a year), citing no article of its document
        months = rect.months if rect else 12
        basis = rect.basis if rect else "SPEC §4"
        due = period_end_months(meta.effective_on, months)
        self.trigger_event(
            self.AcceptanceFailed,
            status="rectification",
            rectification_due=due,
            rectification_basis=basis,
            **meta.derived(basis=basis).fields(),
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
        cycle = rules.check_evaluation(self, cycle, grade, policy, meta.effective_on)
        poor = grade == "poor"
        # a poor grade opens a rectification only where the programme grades and
        # names one (SPEC §4: not 000's or 002's yearly review)
        rect = policy.rectifies_on("poor") if policy.evaluation.graded else None
        opens = poor and rect is not None
        consecutive = (
            rules.consecutive_poor(
                self.evaluations, self.consecutive_poor, cycle, meta.effective_on, policy
            )
            if poor
            else 0
        )
        limit = policy.evaluation.consecutive_poor_limit
        self.trigger_event(
            self.Evaluated,
            status="rectification" if opens else "operating",
            cycle=cycle,
            grade=grade,
            rectification_due=(
                period_end_months(meta.effective_on, rect.months) if opens and rect else None
            ),
            consecutive_poor=consecutive,
            due_for_termination=bool(limit and consecutive >= limit),
            termination_basis=policy.evaluation.consecutive_poor_basis if limit else None,
            **meta.derived(
                basis=rect.basis if opens and rect else policy.evaluation.basis
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

    def upgrade(self, level: str, meta: Meta, basis: str | None = None) -> None:
        """``basis``: the governing programme's upgrade article (003 art. 16)."""
        self._require("upgrade", "construction", "operating")
        self._check_date(meta, "an upgrade")
        rules.check_upgrade(self, level, basis)
        self.trigger_event(self.Upgraded, from_level=self.level, level=level, **meta.fields())

    class Upgraded(Event):
        from_level: str
        level: str

        def apply(self, aggregate: Any) -> None:
            aggregate.level = self.level
            aggregate.last_state_on = self.effective_on

    def file_report(self, year: int, meta: Meta, policy: Policy) -> bool:
        self._check_not_before_proposal(meta, "an annual report")
        rules.check_report(self, year, meta)
        rule = policy.annual_report
        due = rules.report_due(year, policy, self.approved_on, self.status_on)
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
        rules.check_change_details(change_type, details)
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
        return rules.planned_change(self, cr)

    def approve_change(self, request_id: str, meta: Meta, applied: dict[str, Any]) -> None:
        cr = self.pending_change(request_id)
        if self.status in ("rejected", "withdrawn", "delisted"):
            raise IllegalTransition(
                f"cannot approve change request {request_id}: platform {self.code} is "
                f"{self.status} (final); reject or withdraw the request instead (SPEC §4)"
            )
        rules.check_decided_after(cr, meta.effective_on, "decide")
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
        rules.check_decided_after(cr, meta.effective_on, "decide")
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
        rules.check_decided_after(cr, meta.effective_on, "withdraw")
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
        return rules.grade_reward_overlapping(self, years, policy_cycle)

    def open_entitlements(self, category: str) -> list[EntitlementState]:
        return rules.open_entitlements(self.entitlements, category)

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
        # judged on its own effective date (SPEC §6): an allocation dated while
        # the platform was active may be entered after it was delisted
        then = self.status_on(meta.effective_on)
        if then not in ACTIVE_STATUSES:
            state = (
                f"it is {self.status}"
                if then == self.status
                else f"it was {then} on {meta.effective_on}"
            )
            raise FundingRefused(
                f"cannot allocate funds to platform {self.code}: {state}; only a "
                "platform in construction, operating or rectification is funded (SPEC §6)"
            )
        self._check_not_before_proposal(meta, "an allocation")
        ent: EntitlementState | None = None
        if entitlement_key is not None or category in entitlement_categories:
            ent = rules.pick_entitlement(
                self, category, entitlement_key, double_benefit_basis, entitlement_basis
            )
            left = ent.amount - ent.allocated
            if amount > left:
                parts = f" ({money_str(ent.allocated)} already allocated)" if ent.allocated else ""
                raise OverAllocation(
                    f"allocation of {money_str(amount)} for {category} exceeds what remains "
                    f"of the {ent.key} entitlement of {money_str(ent.amount)} of platform "
                    f"{self.code}: {money_str(left)}{parts}; the same benefit is not granted "
                    "twice",
                    rule="entitlement",
                    basis=", ".join(b for b in (ent.basis, double_benefit_basis) if b),
                )
        self.trigger_event(
            self.FundsAllocated,
            category=category,
            fiscal_year=fiscal_year,
            amount=amount,
            entitlement=ent.key if ent else None,
            # the whole entitlement on its first part only: `entitled` is summed per line
            entitled=ent.amount if ent and not ent.allocated else None,
            entitlement_part=amount if ent else None,
            **meta.fields(),
        )
        return ent

    class FundsAllocated(Event):
        category: str
        fiscal_year: int
        amount: Decimal
        entitlement: str | None
        entitled: Decimal | None
        # the part of the entitlement this allocation uses (SPEC §6: one
        # entitlement in several parts); None on events recorded before parts,
        # which each used the whole entitlement
        entitlement_part: Decimal | None = None

        def apply(self, aggregate: Any) -> None:
            key = f"{self.category}:{self.fiscal_year}"
            line = aggregate.lines.setdefault(key, FundLine(self.category, self.fiscal_year))
            line.add(self.effective_on, "allocated", self.amount)
            if self.entitlement is not None:
                if self.entitled is not None:
                    line.entitled = (line.entitled or ZERO) + self.entitled
                ent = aggregate.entitlements[self.entitlement]
                ent.granted_by = ent.granted_by or key
                part = self.entitlement_part
                ent.allocated = ent.amount if part is None else ent.allocated + part

    def disburse(
        self,
        category: str,
        fiscal_year: int,
        amount: Decimal,
        voucher: str,
        meta: Meta,
        flags: list[str],
        suspension_basis: str | None = None,
    ) -> None:
        if normalise_voucher(voucher) in self.payments:
            raise AlreadyExists(f"voucher {voucher} is already used (one voucher, one payment)")
        rules.check_payment(
            self, category, fiscal_year, amount, meta.effective_on, suspension_basis
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
        line = self.lines[f"{payment.category}:{payment.fiscal_year}"]
        rules.check_reversal(self, voucher, payment, line, meta.effective_on)
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
        rules.check_recovery(self, category, fiscal_year, amount, meta.effective_on)
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
