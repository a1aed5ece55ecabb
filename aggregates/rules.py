"""Pure rule helpers of the Platform aggregate (aggregates/platform.py):
evaluation cycles, the approval's periods, annual report due dates, major
change request details, entitlements and the limits of reversals and
recoveries. They read the aggregate's state and raise the rule's error; the
aggregate records the events."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aggregates.errors import (
    AlreadyExists,
    CompositionRuleBroken,
    DateOrder,
    FundingRefused,
    IllegalTransition,
    InvalidInput,
    OverAllocation,
)
from aggregates.meta import Meta
from aggregates.platform_state import ZERO, ChangeRequest, EntitlementState, FundLine, Payment
from aggregates.policy import Policy
from aggregates.values import ACTIVE_STATUSES, LEVELS, money_str, period_end_months

if TYPE_CHECKING:
    from aggregates.platform import Platform

MAX_PERIOD_YEARS = 20  # a construction period or term beyond this is a typing error

_CYCLE = re.compile(r"(\d{4})(?:\s*[-–—~～至到]\s*(\d{4}))?\s*年?")


# --- the lifecycle (SPEC §3, §4) ----------------------------------------------------------


def require_status(p: Platform, action: str, allowed: tuple[str, ...]) -> None:
    """`action` is open to `p` only in one of the `allowed` statuses."""
    if p.status not in allowed:
        raise IllegalTransition(
            f"cannot {action} platform {p.code}: it is {p.status}, "
            f"and only a platform that is {' or '.join(allowed)} can be {past(action)} "
            "(SPEC §4 lifecycle)"
        )


def check_date_order(p: Platform, on: date, what: str) -> None:
    """A platform's changes of state have non-decreasing dates."""
    if on < p.last_state_on:
        raise DateOrder(
            f"cannot record {what} for platform {p.code} effective {on}: "
            f"its last change of state was effective {p.last_state_on}, and a platform's "
            "changes of state have non-decreasing dates (SPEC §3)"
        )


def check_not_before_proposal(p: Platform, on: date, what: str) -> None:
    if on < p.proposed_on:
        raise DateOrder(
            f"cannot record {what} for platform {p.code} effective {on}: "
            f"it was proposed on {p.proposed_on}"
        )


def check_upgrade(p: Platform, level: str, basis: str | None = None) -> None:
    if LEVELS.index(level) <= LEVELS.index(p.level):
        raise IllegalTransition(
            f"cannot upgrade platform {p.code} from {p.level} to {level}: "
            "an upgrade raises the level",
            rule="upgrade",
            basis=basis or "SPEC §4",
        )


# --- evaluation cycles ---------------------------------------------------------------


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


def consecutive_poor(
    evaluations: list[dict[str, Any]],
    poor_so_far: int,
    cycle: str,
    evaluated_on: date,
    policy: Policy,
) -> int:
    """How many poor grades in a row a poor grade for `cycle` makes: "in a row"
    (004 §4.4 连续两年) when the previous evaluation was poor and its cycle is
    next to this one (2023 then 2024, not 2022 then 2024)."""
    consecutive = 1
    if evaluations and poor_so_far:
        prev = evaluations[-1]
        per = policy.evaluation.cycle_years
        p_start, p_end = cycle_years(prev["cycle"], prev["on"], per)
        start, end = cycle_years(cycle, evaluated_on, per)
        if p_end + 1 == start or end + 1 == p_start:
            consecutive = poor_so_far + 1
    return consecutive


# --- approval -------------------------------------------------------------------------


def check_period_input(construction_years: int | None, term_years: int | None) -> None:
    """Bad input (exit 2): a period no policy could mean."""
    if construction_years is not None and not 1 <= construction_years <= MAX_PERIOD_YEARS:
        raise InvalidInput(
            f"invalid --construction-years {construction_years}: expected 1 to {MAX_PERIOD_YEARS}"
        )
    if term_years is not None and not 1 <= term_years <= MAX_PERIOD_YEARS:
        raise InvalidInput(f"invalid --term-years {term_years}: expected 1 to {MAX_PERIOD_YEARS}")


def check_period_rules(
    policy: Policy, construction_years: int | None, term_years: int | None
) -> None:
    """The governing programme's construction period and term (exit 1):
    required where the document divides the platform's life by them (000 art.
    22, 002 §3.2), within their range where the document sets one."""
    for what, flag, value, rng in (
        (
            "construction period",
            "--construction-years",
            construction_years,
            policy.construction_years,
        ),
        ("term", "--term-years", term_years, policy.term_years),
    ):
        if rng is None:
            continue
        if value is None:
            if rng.required:
                raise CompositionRuleBroken(
                    f"an approval under policy {policy.id} names its {what} ({flag}, "
                    f"{rng.min}–{rng.max} years)",
                    rule=what.replace(" ", "-"),
                    basis=rng.basis,
                )
            continue
        low = rng.min if (rng.enforce_min or what == "construction period") else 1
        if not low <= value <= rng.max:
            raise CompositionRuleBroken(
                f"a {what} of {value} years is outside {low}–{rng.max} years under policy "
                f"{policy.id}"
                + (
                    f" (a term of {value} years exceeds the {rng.max} years allowed)"
                    if value > rng.max and what == "term"
                    else ""
                ),
                rule=what.replace(" ", "-"),
                basis=rng.basis,
            )


# --- annual reports -------------------------------------------------------------------


def check_report(p: Platform, year: int, meta: Meta) -> None:
    """May `p` file its `year` annual report on the meta's date?"""
    # judged on the report's own date: a report filed while the platform
    # was active may be entered late, after a delisting
    then = p.status_on(meta.effective_on)
    if then not in ACTIVE_STATUSES:
        state = f"it is {then}" if then == p.status else f"it was {then} on {meta.effective_on}"
        raise IllegalTransition(
            f"cannot file an annual report for platform {p.code}: {state}, and only a "
            f"platform that is {' or '.join(ACTIVE_STATUSES)} files annual reports "
            "(SPEC §4 lifecycle)"
        )
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"invalid --year {year}: expected a year such as 2026")
    if year < p.proposed_on.year:
        raise DateOrder(
            f"platform {p.code} was proposed in {p.proposed_on.year}; "
            f"it has no annual report for {year}",
            rule="annual-report",
        )
    if year > meta.effective_on.year:
        raise InvalidInput(
            f"cannot file the {year} annual report on {meta.effective_on}: the year has not begun"
        )
    if year in p.reports:
        raise AlreadyExists(
            f"platform {p.code} already filed its {year} annual report on {p.reports[year]['on']}"
        )


def report_due(
    year: int,
    policy: Policy,
    approved_on: date | None,
    status_on: Callable[[date], str | None] | None = None,
) -> date | None:
    """When the `year` annual report is due: only from a platform filed
    (approved) by the deadline, and, where the rule says so, only in the
    status it names on that day (000 art. 23: 进入运行期的平台), as
    `compliance overdue` counts it."""
    rule = policy.annual_report
    due = date(year, rule.due_month, rule.due_day) if rule else None
    if due is not None and (approved_on is None or approved_on > due):
        due = None
    if (
        due is not None
        and rule is not None
        and rule.from_status
        and (status_on is None or status_on(due) != rule.from_status)
    ):
        due = None
    return due


# --- major change requests (SPEC §5) --------------------------------------------------

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


def check_change_details(change_type: str, details: dict[str, str]) -> None:
    """The --detail keys a request of `change_type` needs and allows (exit 2)."""
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


def planned_change(p: Platform, cr: ChangeRequest) -> dict[str, Any]:
    """What approving the request would change."""
    d = cr.details
    if cr.change_type == "rename":
        return {"name": d["name"]}
    if cr.change_type in ("host-change", "lead-change"):
        new_host = d.get("host") or d["lead"]
        return {"host": new_host}
    if cr.change_type in ("co-builder-change", "member-change"):
        add, remove = split_codes(d.get("add")), split_codes(d.get("remove"))
        missing = [c for c in remove if c not in p.co_builders]
        if missing:
            raise IllegalTransition(
                f"cannot remove {missing[0]}: it is not a co-builder of {p.code}"
            )
        dup = [c for c in add if c in p.co_builders or c == p.host]
        if dup:
            raise IllegalTransition(f"{dup[0]} is already a member of {p.code}")
        co = [c for c in p.co_builders if c not in remove] + add
        return {"co_builders": co}
    return {}


# --- entitlements (003 art. 15, 17, 23, 28; 001 §5.3) ----------------------------------


def grade_reward_overlapping(p: Platform, years: tuple[int, int], policy_cycle: int) -> str | None:
    """The cycle of an earlier evaluation of `p` that earned a grade reward and
    overlaps `years` (003 art. 23: one reward in a single evaluation cycle),
    or None."""
    for e in p.evaluations:
        key = f"grade-reward:{normalise_cycle(e['cycle'])}"
        if key not in p.entitlements:
            continue
        start, end = cycle_years(e["cycle"], e["on"], policy_cycle)
        if start <= years[1] and years[0] <= end:
            return normalise_cycle(e["cycle"])
    return None


def open_entitlements(
    entitlements: dict[str, EntitlementState], category: str
) -> list[EntitlementState]:
    return [e for e in entitlements.values() if e.category == category and e.open]


def pick_entitlement(
    p: Platform,
    category: str,
    key: str | None,
    double_basis: str | None,
    entitlement_basis: str | None = None,
) -> EntitlementState:
    """The entitlement an allocation of `category` uses: the one named, or the
    only one open."""
    if key is not None:
        ent = p.entitlements.get(key)
        if ent is None or ent.category != category:
            raise FundingRefused(
                f"platform {p.code} has no {category} entitlement {key!r}",
                rule="entitlement",
            )
        if not ent.open:
            raise FundingRefused(
                f"the {key} entitlement of platform {p.code} was already granted "
                f"(allocation {ent.granted_by}); the same benefit is not granted twice",
                rule="no-double-benefit",
                basis=double_basis or "SPEC §6",
            )
        return ent
    open_ = open_entitlements(p.entitlements, category)
    if not open_:
        granted = [e for e in p.entitlements.values() if e.category == category]
        if granted:
            raise FundingRefused(
                f"every {category} entitlement of platform {p.code} was already granted "
                f"({', '.join(e.key for e in granted)}); the same benefit is not granted twice",
                rule="no-double-benefit",
                basis=double_basis or "SPEC §6",
            )
        raise FundingRefused(
            f"platform {p.code} has no {category} entitlement under policy "
            f"{p.policy}: {category} lines are fixed amounts the policy grants "
            "(filing support, upgrade and grade rewards), earned by those decisions",
            rule="entitlement",
            basis=entitlement_basis,
        )
    if len(open_) > 1:
        raise InvalidInput(
            f"platform {p.code} has several open {category} entitlements "
            f"({', '.join(e.key for e in open_)}); name one with --entitlement"
        )
    return open_[0]


# --- funds (SPEC §6) --------------------------------------------------------------------


def check_payment(
    p: Platform,
    category: str,
    fiscal_year: int,
    amount: Decimal,
    on: date,
    suspension_basis: str | None = None,
) -> None:
    """May `p` be paid `amount` of its `category` `fiscal_year` line on `on`?"""
    status_then = p.status_on(on)
    if status_then not in ACTIVE_STATUSES:
        raise FundingRefused(
            f"cannot pay platform {p.code} on {on}: it was "
            f"{status_then or 'not yet proposed'} on that date; only a platform in "
            "construction, operating or rectification may be paid (SPEC §6)",
            rule="inactive-platform",
        )
    if p.funding_suspended or p.suspended_on(on):
        when = "" if p.funding_suspended else f" on {on}"
        raise FundingRefused(
            f"cannot pay platform {p.code}: its funding is suspended{when}",
            rule="funding-suspended",
            basis=suspension_basis or "SPEC §6",
        )
    line = p.line(category, fiscal_year)
    remaining = line.remaining if line else ZERO
    if amount > remaining:
        raise OverAllocation(
            f"payment of {money_str(amount)} exceeds what remains of the {category} "
            f"allocation for {fiscal_year} of platform {p.code} ({money_str(remaining)})",
            rule="over-allocation",
            basis="SPEC §6",
        )


def check_reversal(p: Platform, voucher: str, payment: Payment, line: FundLine, on: date) -> None:
    """May `payment` be reversed on `on`? Not twice, not before it was paid,
    and not beyond what is still paid net, then or on any later date."""
    if payment.reversed_on is not None:
        raise IllegalTransition(
            f"payment {voucher} of platform {p.code} was already reversed on {payment.reversed_on}"
        )
    if on < payment.paid_on:
        raise DateOrder(
            f"cannot reverse payment {voucher} on {on}: it was paid on {payment.paid_on}"
        )
    low, low_on = line.lowest_net_from(on)
    if payment.amount > line.net:
        # money already recovered cannot also be un-paid: net would fall below zero
        raise OverAllocation(
            f"cannot reverse payment {voucher} of {money_str(payment.amount)}: only "
            f"{money_str(line.net)} of {payment.category} {payment.fiscal_year} of platform "
            f"{p.code} is still paid net after recoveries",
            rule="reversal",
            basis="SPEC §6",
        )
    if payment.amount > low:
        raise OverAllocation(
            f"cannot reverse payment {voucher} of {money_str(payment.amount)} on "
            f"{on}: only {money_str(low)} of {payment.category} "
            f"{payment.fiscal_year} of platform {p.code} was paid net on {low_on}",
            rule="reversal",
            basis="SPEC §6",
        )


def check_recovery(p: Platform, category: str, fiscal_year: int, amount: Decimal, on: date) -> None:
    """May `amount` be recovered on `on`? Not beyond what is paid net, then
    or on any later date."""
    line = p.line(category, fiscal_year)
    net = line.net if line else ZERO
    if amount > net:
        raise OverAllocation(
            f"cannot recover {money_str(amount)} of {category} {fiscal_year} from platform "
            f"{p.code}: only {money_str(net)} was paid net",
            rule="recovery",
            basis="SPEC §6",
        )
    low, low_on = line.lowest_net_from(on) if line else (ZERO, None)
    if amount > low:
        raise OverAllocation(
            f"cannot recover {money_str(amount)} of {category} {fiscal_year} from platform "
            f"{p.code} on {on}: only {money_str(low)} was paid net on "
            f"{low_on} (payments effective by then)",
            rule="recovery",
            basis="SPEC §6",
        )


def past(action: str) -> str:
    """The past participle of a lifecycle action, for refusals."""
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


def check_evaluation(p: Platform, cycle: str, grade: str, policy: Policy, on: date) -> str:
    """The normalised cycle of a new evaluation of `p` on `on`: a grade the
    policy has, one evaluation per cycle, a cycle that has ended and overlaps
    none already evaluated, and not before the programme's first evaluation
    falls due (004 §4.3 满一年)."""
    if grade not in policy.evaluation.grades:
        raise IllegalTransition(
            f"grade {grade!r} does not exist under policy {policy.id}; its grades are "
            f"{', '.join(policy.evaluation.grades)}",
            rule="grades",
            basis=policy.evaluation.basis,
        )
    cycle = normalise_cycle(cycle)
    ev = policy.evaluation
    if any(normalise_cycle(e["cycle"]) == cycle for e in p.evaluations):
        raise AlreadyExists(
            f"platform {p.code} already has an evaluation for cycle {cycle}: one "
            f"evaluation per cycle ({ev.basis})"
        )
    first = (
        period_end_months(p.approved_on, ev.first_after_months)
        if ev.first_after_months and p.approved_on
        else None
    )
    if first is not None and on < first:
        raise IllegalTransition(
            f"cannot evaluate platform {p.code} on {on}: it is first evaluated after "
            f"{ev.first_after_months} months of operation, from {first}",
            rule="evaluation-cycle",
            basis=ev.basis,
        )
    if _CYCLE.fullmatch(cycle) is None:
        return cycle  # a label the ledger cannot read as years is taken as given
    start, end = cycle_years(cycle, on, ev.cycle_years)
    # reading (docs/RULES.md): a cycle is evaluated at its close — in its final
    # year or after it; before its final year it has not ended
    if on.year < end:
        raise IllegalTransition(
            f"cannot evaluate cycle {cycle} of platform {p.code} on {on}: the cycle has not "
            f"ended (it runs to {end}; it is evaluated in {end} or later)",
            rule="evaluation-cycle",
            basis=ev.basis,
        )
    for e in p.evaluations:
        if _CYCLE.fullmatch(normalise_cycle(e["cycle"])) is None:
            continue
        e_start, e_end = cycle_years(e["cycle"], e["on"], ev.cycle_years)
        if e_start <= end and start <= e_end:
            raise IllegalTransition(
                f"cannot evaluate cycle {cycle} of platform {p.code}: it overlaps cycle "
                f"{normalise_cycle(e['cycle'])}, evaluated on {e['on']}",
                rule="evaluation-cycle",
                basis=ev.basis,
            )
    return cycle


def check_decided_after(cr: ChangeRequest, on: date, verb: str) -> None:
    """A change request is decided (or withdrawn) on or after its request."""
    if on < cr.requested_on:
        raise DateOrder(
            f"cannot {verb} change request {cr.id} on {on}: it was requested on {cr.requested_on}"
        )
