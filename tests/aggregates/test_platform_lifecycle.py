"""The Platform aggregate on its own (no database): the lifecycle of SPEC §4,
every illegal transition, the policy-driven dates and grades, reports,
change requests (§5), funds (§6) and entitlements (003 art. 15, 17, 23, 28)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

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
from aggregates.meta import Meta
from aggregates.platform import Platform
from aggregates.values import GRADES, LEVELS, MemberInfo, add_years
from cli import exit_code
from ledger.policies import load_policy

HOST = "91540100MA6T0A0B1W"
D0 = date(2020, 1, 6)


def meta(on: date, **kw: Any) -> Meta:
    return Meta(actor="clerk", effective_on=on, **kw)


def proposed(
    *, policy: str = "lhasa-city", kind: str = "key-laboratory", level: str = "city"
) -> Platform:
    return Platform(
        code="P-1",
        name="高原生物重点实验室",
        kind=kind,
        level=level,
        policy=policy,
        host=HOST,
        co_builders=[],
        agreement_on=None,
        filing_due=None,
        filing_late=False,
        **meta(D0).fields(),
    )


def approve(p: Platform, on: date, *, years: int | None = None, term: int | None = None) -> None:
    pol = load_policy(p.policy)
    if term is None and pol.term_years is not None and pol.term_years.required:
        term = pol.term_years.min  # 002 §3.2: a consortium's approval names its term
    p.approve(
        meta(on, doc_no="批复"),
        policy=pol,
        construction_years=years,
        term_years=term,
        members=[MemberInfo(HOST, "enterprise", True)],
        lead_other_consortia=[],
    )


def platform_in(status: str, policy: str = "lhasa-city", kind: str = "key-laboratory") -> Platform:
    """A platform brought to `status` by legal steps, each a month after the last."""
    p = proposed(policy=policy, kind=kind)
    step = D0 + timedelta(days=30)
    if status == "proposed":
        return p
    if status == "rejected":
        p.reject(meta(step, reason="不符合条件"))
    elif status == "withdrawn":
        p.withdraw(meta(step, reason="撤回"))
    elif status == "construction":
        approve(p, step, years=2)
    elif status == "operating":
        approve(p, step)
    elif status == "rectification":
        pol = load_policy(policy)
        if pol.rectifies_on("failed-acceptance"):
            approve(p, step, years=2)
            p.fail_acceptance(meta(step + timedelta(days=30)), pol)
        else:  # 003: only a poor grade opens a rectification (SPEC §4)
            approve(p, step)
            p.evaluate("2017-2019", "poor", meta(step + timedelta(days=30)), pol)
    elif status == "delisted":
        approve(p, step)
        p.delist("other", meta(step + timedelta(days=30), reason="注销"))
    assert p.status == status
    return p


LATER = date(2023, 6, 1)  # after every state date platform_in sets

# every lifecycle command, as the CLI names them
COMMANDS: dict[str, Callable[[Platform], None]] = {
    "approve": lambda p: approve(p, LATER),
    "reject": lambda p: p.reject(meta(LATER, reason="r")),
    "withdraw": lambda p: p.withdraw(meta(LATER, reason="r")),
    "accept": lambda p: p.accept(meta(LATER)),
    "fail-acceptance": lambda p: p.fail_acceptance(meta(LATER), load_policy(p.policy)),
    "evaluate": lambda p: p.evaluate("2020-2022", "good", meta(LATER), load_policy(p.policy)),
    "rectify --passed": lambda p: p.rectify(True, meta(LATER)),
    "rectify --failed": lambda p: p.rectify(False, meta(LATER)),
    "delist": lambda p: p.delist("other", meta(LATER, reason="r")),
    "upgrade": lambda p: p.upgrade("regional", meta(LATER)),
    "report": lambda p: p.file_report(2022, meta(LATER), load_policy(p.policy)),
    "funds suspend": lambda p: p.suspend_funding(meta(LATER)),
    "change request": lambda p: p.request_change("rename", {"name": "新名"}, meta(LATER)),
}

ACTIVE = {"construction", "operating", "rectification"}
ALL_STATUSES = {
    "proposed",
    "construction",
    "operating",
    "rectification",
    "rejected",
    "withdrawn",
    "delisted",
}
FINAL = {"rejected", "withdrawn", "delisted"}
APPLIES: dict[str, set[str]] = {
    "approve": {"proposed"},
    "reject": {"proposed"},
    "withdraw": {"proposed"},
    "accept": {"construction"},
    "fail-acceptance": {"construction"},
    "evaluate": {"operating"},
    "rectify --passed": {"rectification"},
    "rectify --failed": {"rectification"},
    "delist": ACTIVE,
    "upgrade": {"construction", "operating"},
    "report": ACTIVE,
    "funds suspend": ALL_STATUSES - FINAL,
    "change request": ALL_STATUSES - FINAL,
}

ILLEGAL = [
    (status, command)
    for command, statuses in APPLIES.items()
    for status in sorted(ALL_STATUSES - statuses)
]
LEGAL = [(status, command) for command, statuses in APPLIES.items() for status in sorted(statuses)]


# --- the lifecycle ------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "command"), ILLEGAL)
def test_every_illegal_transition_is_refused_naming_the_current_status(
    status: str, command: str
) -> None:
    # given a platform in `status`
    p = platform_in(status)
    version = p.version
    # when a command that does not apply to that status is given
    with pytest.raises(IllegalTransition) as err:
        COMMANDS[command](p)
    # then it is refused, the message names the status, and nothing was recorded
    assert f"it is {status}" in str(err.value)
    assert exit_code(err.value) == 1
    assert p.version == version
    assert p.status == status


@pytest.mark.parametrize(("status", "command"), LEGAL)
def test_every_command_applies_where_the_lifecycle_allows_it(status: str, command: str) -> None:
    p = platform_in(status)
    version = p.version
    COMMANDS[command](p)
    assert p.version > version


@pytest.mark.parametrize(
    ("status", "command", "after"),
    [
        ("proposed", "approve with a construction period", "construction"),
        ("proposed", "approve", "operating"),
        ("proposed", "reject", "rejected"),
        ("proposed", "withdraw", "withdrawn"),
        ("construction", "accept", "operating"),
        ("construction", "fail-acceptance", "rectification"),
        ("operating", "evaluate", "operating"),
        ("operating", "evaluate poor", "rectification"),
        ("rectification", "rectify --passed", "operating"),
        ("rectification", "rectify --failed", "delisted"),
        ("construction", "delist", "delisted"),
        ("operating", "delist", "delisted"),
        ("rectification", "delist", "delisted"),
        ("construction", "upgrade", "construction"),
        ("operating", "upgrade", "operating"),
    ],
)
def test_every_legal_transition_of_spec_4(status: str, command: str, after: str) -> None:
    p = platform_in(status)
    if command == "approve with a construction period":
        approve(p, LATER, years=3)
    elif command == "evaluate poor":
        p.evaluate("2020-2022", "poor", meta(LATER), load_policy(p.policy))
    else:
        COMMANDS[command](p)
    assert p.status == after
    # status_since moves only when the status changes
    assert p.status_since == (LATER if after != status else date(2020, 2, 5))


def test_a_failed_rectification_delists_for_failed_rectification() -> None:
    p = platform_in("rectification")
    p.rectify(False, meta(LATER))
    assert (p.status, p.delist_reason) == ("delisted", "failed-rectification")


def test_the_status_on_any_past_date_is_kept() -> None:
    p = proposed()
    approve(p, date(2021, 3, 1), years=2)
    p.accept(meta(date(2023, 3, 1)))
    assert p.status_on(D0 - timedelta(days=1)) is None
    assert p.status_on(D0) == "proposed"
    assert p.status_on(date(2021, 2, 28)) == "proposed"
    assert p.status_on(date(2021, 3, 1)) == "construction"
    assert p.status_on(date(2023, 3, 1)) == "operating"


def replay(p: Platform) -> Platform:
    """The aggregate rebuilt from the events it recorded."""
    events = p.collect_events()
    copy: Any = None
    for ev in events:
        copy = ev.mutate(copy)
    assert isinstance(copy, Platform)
    return copy


class Lifecycle(RuleBasedStateMachine):
    """Any sequence of lifecycle commands: the aggregate follows SPEC §4, refuses
    the rest without recording anything, and replays to the same state."""

    def __init__(self) -> None:
        super().__init__()
        self.p = proposed(level="district")
        self.model = "proposed"
        self.on = D0
        self.cycles = 0
        self.history: list[Any] = self.p.collect_events()

    def attempt(self, command: str, action: Callable[[], None], legal: bool) -> bool:
        version = self.p.version
        if legal:
            action()
            self.history += self.p.collect_events()
            return True
        with pytest.raises(IllegalTransition, match=f"it is {self.model}"):
            action()
        assert self.p.version == version
        return False

    @rule(days=st.integers(0, 400), years=st.one_of(st.none(), st.integers(1, 3)))
    def approve(self, days: int, years: int | None) -> None:
        self.on += timedelta(days=days)
        if self.attempt(
            "approve", lambda: approve(self.p, self.on, years=years), self.model == "proposed"
        ):
            self.model = "construction" if years else "operating"

    @rule(days=st.integers(0, 400), end=st.sampled_from(["reject", "withdraw"]))
    def end_proposal(self, days: int, end: str) -> None:
        self.on += timedelta(days=days)
        m = meta(self.on, reason="r")
        action = self.p.reject if end == "reject" else self.p.withdraw
        if self.attempt(end, lambda: action(m), self.model == "proposed"):
            self.model = "rejected" if end == "reject" else "withdrawn"

    @rule(days=st.integers(0, 400), passed=st.booleans())
    def acceptance(self, days: int, passed: bool) -> None:
        self.on += timedelta(days=days)
        m = meta(self.on)
        pol = load_policy(self.p.policy)
        action = (lambda: self.p.accept(m)) if passed else (lambda: self.p.fail_acceptance(m, pol))
        if self.attempt("accept", action, self.model == "construction"):
            self.model = "operating" if passed else "rectification"

    @rule(days=st.integers(0, 400), grade=st.sampled_from(GRADES))
    def evaluate(self, days: int, grade: str) -> None:
        self.on += timedelta(days=days)
        self.cycles += 1
        cycle = f"cycle-{self.cycles}"
        m = meta(self.on)
        pol = load_policy(self.p.policy)
        if self.attempt(
            "evaluate", lambda: self.p.evaluate(cycle, grade, m, pol), self.model == "operating"
        ):
            self.model = "rectification" if grade == "poor" else "operating"
            if grade == "poor":
                assert self.p.rectification_due == add_years(self.on, 1)

    @rule(days=st.integers(0, 400), passed=st.booleans())
    def rectify(self, days: int, passed: bool) -> None:
        self.on += timedelta(days=days)
        m = meta(self.on)
        if self.attempt(
            "rectify", lambda: self.p.rectify(passed, m), self.model == "rectification"
        ):
            self.model = "operating" if passed else "delisted"

    @rule(days=st.integers(0, 400))
    def delist(self, days: int) -> None:
        self.on += timedelta(days=days)
        m = meta(self.on, reason="r")
        if self.attempt("delist", lambda: self.p.delist("other", m), self.model in ACTIVE):
            self.model = "delisted"

    @rule(days=st.integers(0, 400))
    def upgrade(self, days: int) -> None:
        self.on += timedelta(days=days)
        if self.p.level == "national":
            return
        level = LEVELS[LEVELS.index(self.p.level) + 1]
        m = meta(self.on)
        self.attempt(
            "upgrade",
            lambda: self.p.upgrade(level, m),
            self.model in ("construction", "operating"),
        )

    @rule(days=st.integers(1, 400))
    def backdated(self, days: int) -> None:
        # a change of state dated before the last one is refused (SPEC §3)
        if self.model not in ACTIVE:
            return
        early = self.p.last_state_on - timedelta(days=days)
        version = self.p.version
        with pytest.raises(DateOrder, match="non-decreasing") as err:
            self.p.delist("other", meta(early, reason="r"))
        assert exit_code(err.value) == 1  # a rule refused it, the date was well formed
        assert self.p.version == version

    @invariant()
    def follows_the_model(self) -> None:
        assert self.p.status == self.model

    @invariant()
    def status_dates_never_decrease(self) -> None:
        dates = [d for d, _ in self.p.status_history]
        assert dates == sorted(dates)

    @invariant()
    def replays_to_the_same_state(self) -> None:
        copy: Any = None
        for ev in self.history:
            copy = ev.mutate(copy)
        assert copy is not None
        assert (copy.status, copy.level, copy.status_history, copy.version) == (
            self.p.status,
            self.p.level,
            self.p.status_history,
            self.p.version,
        )


Lifecycle.TestCase.settings = settings(max_examples=100, stateful_step_count=30, deadline=None)
TestLifecycle = Lifecycle.TestCase


# --- policy-driven dates and grades ------------------------------------------------------


@pytest.mark.parametrize(("years", "ok"), [(1, False), (2, True), (3, True), (4, False)])
def test_xinjiang_high_energy_construction_period_is_two_to_three_years(
    years: int, ok: bool
) -> None:
    p = proposed(policy="xinjiang-high-energy", kind="high-energy-platform")
    on = date(2024, 2, 29)
    if ok:
        approve(p, on, years=years)
        assert p.status == "construction"
        # SPEC §2.1 (issue 11): a period from 29 Feb ends on 28 Feb (1 Mar before)
        assert p.construction_ends == date(2024 + years, 2, 28)
    else:
        with pytest.raises(CompositionRuleBroken) as err:
            approve(p, on, years=years)
        assert "000 art. 22" in str(err.value)
        assert "2–3 years" in str(err.value)
        assert p.status == "proposed"


def test_a_construction_period_must_be_positive() -> None:
    p = proposed()
    with pytest.raises(InvalidInput):
        approve(p, LATER, years=0)


@pytest.mark.parametrize(
    ("policy", "kind"),
    [
        ("xinjiang-high-energy", "high-energy-platform"),
        ("xinjiang-tic", "tech-innovation-center"),
        ("lhasa-city", "key-laboratory"),
        ("keqiao-co-built", "co-built-platform"),
        # (not xinjiang-consortium: its approval checks the members' composition
        # from its own file since issue 11, and a consortium has no acceptance)
    ],
)
def test_a_rectification_is_due_twelve_months_later(policy: str, kind: str) -> None:
    # given a platform in construction, under each policy
    p = platform_in("construction", policy=policy, kind=kind)
    # when its acceptance fails on 15 March 2023
    p.fail_acceptance(meta(date(2023, 3, 15), reason="未达标"), load_policy(policy))
    # then it is in rectification, due one year later
    assert p.status == "rectification"
    assert p.rectification_due == date(2024, 3, 15)


def test_a_poor_grade_opens_a_rectification_due_in_a_year_and_passing_clears_it() -> None:
    p = platform_in("operating")
    p.evaluate("2020-2022", "poor", meta(date(2024, 2, 29)), load_policy("lhasa-city"))
    # SPEC §2.1: twelve months from 29 Feb end on 28 Feb (1 Mar before issue 11)
    assert (p.status, p.rectification_due) == ("rectification", date(2025, 2, 28))
    p.rectify(True, meta(date(2024, 12, 1)))
    assert (p.status, p.rectification_due) == ("operating", None)


def test_xinjiang_tic_has_no_qualified_grade() -> None:
    p = platform_in("operating", policy="xinjiang-tic", kind="tech-innovation-center")
    with pytest.raises(IllegalTransition) as err:
        p.evaluate("2021-2023", "qualified", meta(LATER), load_policy("xinjiang-tic"))
    assert "001 §5.3" in str(err.value)
    assert exit_code(err.value) == 1
    assert p.status == "operating"
    assert p.evaluations == []
    for cycle, grade in [("a", "excellent"), ("b", "good")]:
        p.evaluate(cycle, grade, meta(LATER), load_policy("xinjiang-tic"))
    assert [e["grade"] for e in p.evaluations] == ["excellent", "good"]


def test_lhasa_city_has_all_four_grades() -> None:
    p = platform_in("operating")
    p.evaluate("2020-2022", "qualified", meta(LATER), load_policy("lhasa-city"))
    assert p.status == "operating"


def test_one_evaluation_per_cycle() -> None:
    p = platform_in("operating")
    pol = load_policy("lhasa-city")
    p.evaluate("2020-2022", "good", meta(LATER), pol)
    with pytest.raises(AlreadyExists, match="2020-2022") as err:
        p.evaluate("2020-2022", "excellent", meta(LATER), pol)
    assert "003 art. 22" in str(err.value)  # the policy's evaluation article


def test_keqiao_two_poor_years_in_a_row_make_the_platform_due_for_termination() -> None:
    pol = load_policy("keqiao-co-built")
    p = platform_in("operating", policy="keqiao-co-built", kind="co-built-platform")
    # first poor year: rectification, not yet due for termination
    p.evaluate("2021", "poor", meta(date(2022, 1, 20)), pol)
    assert (p.status, p.due_for_termination) == ("rectification", False)
    p.rectify(True, meta(date(2022, 9, 1)))
    # the second poor year in a row
    p.evaluate("2022", "poor", meta(date(2023, 1, 20)), pol)
    assert p.due_for_termination is True
    assert p.consecutive_poor == 2


def test_keqiao_a_good_year_between_two_poor_ones_resets_the_count() -> None:
    pol = load_policy("keqiao-co-built")
    p = platform_in("operating", policy="keqiao-co-built", kind="co-built-platform")
    p.evaluate("2021", "poor", meta(date(2022, 1, 20)), pol)
    p.rectify(True, meta(date(2022, 9, 1)))
    p.evaluate("2022", "good", meta(date(2023, 1, 20)), pol)
    p.evaluate("2023", "poor", meta(date(2024, 1, 20)), pol)
    assert p.due_for_termination is False


def test_keqiao_two_poor_years_with_a_year_between_are_not_in_a_row() -> None:
    """004 §4.4 连续两年: 2022 and 2024 (no evaluation of 2023) are not a row."""
    pol = load_policy("keqiao-co-built")
    p = platform_in("operating", policy="keqiao-co-built", kind="co-built-platform")
    p.evaluate("2022", "poor", meta(date(2023, 3, 1)), pol)
    p.rectify(True, meta(date(2023, 12, 1)))
    p.evaluate("2024", "poor", meta(date(2025, 3, 1)), pol)
    assert (p.consecutive_poor, p.due_for_termination) == (1, False)
    # the next year poor again: now two in a row
    p.rectify(True, meta(date(2025, 9, 1)))
    p.evaluate("２０２５年", "poor", meta(date(2026, 3, 1)), pol)
    assert (p.consecutive_poor, p.due_for_termination) == (2, True)


def test_lhasa_city_two_poor_grades_do_not_make_a_platform_due_for_termination() -> None:
    pol = load_policy("lhasa-city")
    p = platform_in("operating")
    # (each cycle evaluated once it has ended: issue 11)
    p.evaluate("2020-2022", "poor", meta(date(2023, 1, 20)), pol)
    p.rectify(True, meta(date(2023, 9, 1)))
    p.evaluate("2023-2025", "poor", meta(date(2026, 1, 20)), pol)
    assert p.due_for_termination is False


def test_status_changes_have_non_decreasing_effective_dates() -> None:
    p = proposed()
    approve(p, date(2021, 5, 1), years=2)
    with pytest.raises(DateOrder, match="non-decreasing"):
        p.accept(meta(date(2021, 4, 30)))
    assert p.status == "construction"
    p.accept(meta(date(2021, 5, 1)))  # the same day is fine
    assert p.status == "operating"


def test_an_approval_may_not_predate_the_proposal() -> None:
    p = proposed()
    with pytest.raises(DateOrder):
        approve(p, D0 - timedelta(days=1))


# --- upgrades and reports ----------------------------------------------------------------


def test_an_upgrade_raises_the_level() -> None:
    p = platform_in("operating")
    p.upgrade("national", meta(LATER))
    assert p.level == "national"
    with pytest.raises(IllegalTransition, match="raises the level"):
        p.upgrade("regional", meta(LATER))
    with pytest.raises(IllegalTransition):
        p.upgrade("national", meta(LATER))


def test_an_annual_report_under_lhasa_city_is_late_after_30_november() -> None:
    pol = load_policy("lhasa-city")
    p = platform_in("operating")
    assert p.file_report(2021, meta(date(2021, 11, 30)), pol) is False
    assert p.file_report(2022, meta(date(2022, 12, 1)), pol) is True
    assert p.reports[2021]["late"] is False
    assert p.reports[2022] == {"on": date(2022, 12, 1), "due_on": date(2022, 11, 30), "late": True}


def test_a_year_has_one_annual_report_and_not_before_it_begins() -> None:
    pol = load_policy("lhasa-city")
    p = platform_in("operating")
    p.file_report(2021, meta(date(2021, 11, 1)), pol)
    with pytest.raises(AlreadyExists, match="2021"):
        p.file_report(2021, meta(date(2021, 11, 2)), pol)
    with pytest.raises(InvalidInput, match="not begun"):
        p.file_report(2023, meta(date(2022, 11, 2)), pol)


def test_a_policy_without_a_report_date_never_flags_a_report_late() -> None:
    # 001 §4.2.4: 实行年度报告制度 with no date (000 art. 23's 年末 is read as a date
    # since issue 11)
    pol = load_policy("xinjiang-tic")
    assert pol.annual_report is None
    p = platform_in("operating", policy=pol.id, kind="tech-innovation-center")
    assert p.file_report(2021, meta(date(2022, 6, 1)), pol) is False


# --- change requests ---------------------------------------------------------------------


def test_only_an_approved_change_request_changes_the_platform() -> None:
    p = platform_in("operating")
    rid = p.request_change("rename", {"name": "新名称实验室"}, meta(LATER, reason="更名"))
    assert rid == "P-1:CR1"
    assert p.name == "高原生物重点实验室"  # pending: nothing changed
    assert p.changes[rid].status == "pending"
    cr = p.pending_change(rid)
    p.approve_change(rid, meta(LATER, doc_no="批"), p.planned_change(cr))
    assert p.name == "新名称实验室"
    assert (p.changes[rid].status, p.changes[rid].decided_on) == ("approved", LATER)


@pytest.mark.parametrize("decision", ["reject", "withdraw"])
def test_a_rejected_or_withdrawn_request_changes_nothing(decision: str) -> None:
    p = platform_in("operating")
    rid = p.request_change("rename", {"name": "新名称"}, meta(LATER, reason="更名"))
    if decision == "reject":
        p.reject_change(rid, meta(LATER, doc_no="d", reason="no"))
    else:
        p.withdraw_change(rid, meta(LATER, reason="no"))
    assert p.name == "高原生物重点实验室"
    assert p.changes[rid].status == ("rejected" if decision == "reject" else "withdrawn")
    # and a decided request cannot be decided again
    for again in (
        lambda: p.approve_change(rid, meta(LATER, doc_no="d"), {"name": "x"}),
        lambda: p.reject_change(rid, meta(LATER, doc_no="d", reason="r")),
        lambda: p.withdraw_change(rid, meta(LATER, reason="r")),
    ):
        with pytest.raises(IllegalTransition, match="already"):
            again()


def test_an_unknown_change_request_is_not_found() -> None:
    p = platform_in("operating")
    with pytest.raises(NotFound):
        p.pending_change("P-1:CR9")


def test_change_requests_get_consecutive_ids_and_co_builder_changes_apply() -> None:
    p = platform_in("operating")
    a, b = "12540000MB0000000X", "12540000MB0000011Y"
    r1 = p.request_change("co-builder-change", {"add": a}, meta(LATER, reason="r"))
    r2 = p.request_change("co-builder-change", {"add": b}, meta(LATER, reason="r"))
    assert (r1, r2) == ("P-1:CR1", "P-1:CR2")
    p.approve_change(r2, meta(LATER, doc_no="d"), p.planned_change(p.pending_change(r2)))
    assert p.co_builders == [b]
    # removing a unit that is not a co-builder is refused
    r3 = p.request_change("co-builder-change", {"remove": a}, meta(LATER, reason="r"))
    with pytest.raises(IllegalTransition, match="not a co-builder"):
        p.planned_change(p.pending_change(r3))


@pytest.mark.parametrize(
    ("change_type", "details"),
    [("rename", {}), ("host-change", {}), ("co-builder-change", {}), ("rename", {"bogus": "x"})],
)
def test_a_change_request_needs_its_details(change_type: str, details: dict[str, str]) -> None:
    p = platform_in("operating")
    with pytest.raises(InvalidInput):
        p.request_change(change_type, details, meta(LATER, reason="r"))
    assert p.changes == {}


# --- funds -------------------------------------------------------------------------------


def funded(amount: str = "1000000.00", status: str = "operating") -> Platform:
    p = platform_in(status)
    p.allocate(
        "operation",
        2023,
        Decimal(amount),
        meta(LATER, doc_no="拨"),
        entitlement_key=None,
        entitlement_categories=("subsidy", "reward"),
        double_benefit_basis="003 art. 28",
    )
    return p


def pay(p: Platform, amount: str, voucher: str, on: date = LATER, flags: Any = ()) -> None:
    basis = load_policy(p.policy).funding_suspension_basis
    p.disburse("operation", 2023, Decimal(amount), voucher, meta(on), list(flags), basis)


def test_allocate_disburse_reverse_recover_add_up() -> None:
    p = funded("1000000.00")
    pay(p, "300000.00", "V1")
    pay(p, "200000.00", "V2")
    p.reverse("V2", meta(LATER, reason="重复"))
    p.recover("operation", 2023, Decimal("50000.00"), meta(LATER, doc_no="追", reason="违规"))
    line = p.line("operation", 2023)
    assert line is not None
    assert (line.allocated, line.disbursed, line.reversed, line.recovered) == (
        Decimal("1000000.00"),
        Decimal("500000.00"),
        Decimal("200000.00"),
        Decimal("50000.00"),
    )
    assert line.net == Decimal("250000.00")  # disbursed − reversed − recovered
    assert line.remaining == Decimal("700000.00")  # recovered money does not reopen it


def test_a_payment_may_use_exactly_what_remains_but_not_a_cent_more() -> None:
    p = funded("1000.00")
    pay(p, "999.99", "V1")
    with pytest.raises(OverAllocation) as err:
        pay(p, "0.02", "V2")
    assert "0.01" in str(err.value)
    pay(p, "0.01", "V3")
    line = p.line("operation", 2023)
    assert line is not None and line.remaining == 0


def test_a_payment_without_an_allocation_is_over_allocation() -> None:
    p = platform_in("operating")
    with pytest.raises(OverAllocation):
        pay(p, "1.00", "V1")


def test_a_reversal_reopens_the_allocation() -> None:
    p = funded("1000.00")
    pay(p, "1000.00", "V1")
    p.reverse("V1", meta(LATER, reason="r"))
    pay(p, "1000.00", "V2")


def test_one_voucher_one_payment_on_a_platform() -> None:
    p = funded()
    pay(p, "10.00", "V1")
    with pytest.raises(AlreadyExists, match="V1"):
        pay(p, "10.00", "V1")


@pytest.mark.parametrize("status", ["proposed", "rejected", "withdrawn", "delisted"])
def test_an_inactive_platform_is_not_paid_or_allocated(status: str) -> None:
    p = platform_in(status)
    with pytest.raises(FundingRefused, match=status):
        p.allocate(
            "operation",
            2023,
            Decimal("1.00"),
            meta(LATER, doc_no="d"),
            entitlement_key=None,
            entitlement_categories=(),
            double_benefit_basis=None,
        )
    with pytest.raises(FundingRefused, match=status):
        pay(p, "1.00", "V1")


@pytest.mark.parametrize("status", ["construction", "rectification"])
def test_construction_and_rectification_are_funded(status: str) -> None:
    p = funded(status=status)
    pay(p, "1.00", "V1")


def test_a_payment_is_judged_by_the_status_on_its_own_date() -> None:
    # given a platform funded while operating, then delisted on 1 July 2023
    p = funded()
    p.delist("other", meta(date(2023, 7, 1), reason="r"))
    # a payment dated before the delisting is recorded; one on or after it is refused
    pay(p, "10.00", "V1", on=date(2023, 6, 30))
    with pytest.raises(FundingRefused, match="delisted on that date"):
        pay(p, "10.00", "V2", on=date(2023, 7, 1))


def test_suspended_funding_refuses_payments_until_resumed() -> None:
    p = funded()
    p.suspend_funding(meta(LATER, doc_no="停", reason="未单独核算"))
    with pytest.raises(FundingRefused, match="suspended") as err:
        pay(p, "10.00", "V1")
    # a Lhasa platform: no Keqiao article (004 §4.3) is cited (SPEC §2.1, issue 11)
    assert "004" not in str(err.value) and "SPEC §6" in str(err.value)
    with pytest.raises(IllegalTransition, match="already suspended"):
        p.suspend_funding(meta(LATER, doc_no="停", reason="r"))
    p.resume_funding(meta(LATER, doc_no="复"))
    pay(p, "10.00", "V1")
    with pytest.raises(IllegalTransition, match="not suspended"):
        p.resume_funding(meta(LATER, doc_no="复"))


def test_recovery_is_at_most_what_was_paid_net() -> None:
    p = funded()
    pay(p, "100.00", "V1")
    pay(p, "50.00", "V2")
    p.reverse("V2", meta(LATER, reason="r"))
    with pytest.raises(OverAllocation, match=r"100\.00"):
        p.recover("operation", 2023, Decimal("100.01"), meta(LATER, doc_no="d", reason="r"))
    p.recover("operation", 2023, Decimal("60.00"), meta(LATER, doc_no="d", reason="r"))
    with pytest.raises(OverAllocation, match=r"40\.00"):
        p.recover("operation", 2023, Decimal("40.01"), meta(LATER, doc_no="d", reason="r"))
    p.recover("operation", 2023, Decimal("40.00"), meta(LATER, doc_no="d", reason="r"))


def test_a_payment_is_reversed_once_and_only_if_it_exists() -> None:
    p = funded()
    pay(p, "100.00", "V1", on=date(2023, 6, 1))
    with pytest.raises(DateOrder, match="paid on"):
        p.reverse("V1", meta(date(2023, 5, 31), reason="r"))
    p.reverse("V1", meta(LATER, reason="r"))
    with pytest.raises(IllegalTransition, match="already reversed"):
        p.reverse("V1", meta(LATER, reason="r"))
    with pytest.raises(NotFound, match="V9"):
        p.reverse("V9", meta(LATER, reason="r"))


@pytest.mark.parametrize("flags", [["debarred-host"], ["blacklisted-host"]])
def test_a_flagged_payment_keeps_its_flag(flags: list[str]) -> None:
    p = funded()
    pay(p, "1.00", "V1", flags=flags)
    assert p.payments["V1"].flags == flags


# --- entitlements -------------------------------------------------------------------------


def allocate(p: Platform, category: str, amount: str, key: str | None = None) -> Any:
    pol = load_policy(p.policy)
    return p.allocate(
        category,
        2023,
        Decimal(amount),
        meta(LATER, doc_no="拨"),
        entitlement_key=key,
        entitlement_categories=("subsidy", "reward"),
        double_benefit_basis=pol.no_double_benefit_basis,
    )


def earn(p: Platform, trigger: str, **kw: str) -> None:
    """What the application does after approval / upgrade / evaluation."""
    pol = load_policy(p.policy)
    if trigger == "approval":
        kw = {"level": p.level, **kw}  # 003 art. 15: city-level filings
    ent = pol.entitlement_for(trigger, p.kind, **kw)
    assert ent is not None
    suffix = {"approval": "", "upgrade": f":{kw.get('level')}", "evaluation": ":2020-2022"}
    p.earn_entitlement(ent.key + suffix[trigger], ent.category, ent.amount, ent.basis, meta(LATER))


def test_filing_support_is_granted_once_and_never_above_the_entitlement() -> None:
    # given a Lhasa key laboratory approved: 500,000 filing support (003 art. 15)
    p = platform_in("operating")
    earn(p, "approval")
    # an allocation above it is refused, citing the article
    with pytest.raises(OverAllocation) as err:
        allocate(p, "subsidy", "500000.01")
    assert "003 art. 15" in str(err.value)
    # the entitlement itself is granted
    ent = allocate(p, "subsidy", "500000.00")
    assert ent.key == "filing-support"
    line = p.line("subsidy", 2023)
    assert line is not None and line.entitled == Decimal("500000.00")
    # and never twice (003 art. 28)
    with pytest.raises(FundingRefused) as again:
        allocate(p, "subsidy", "1.00")
    assert "003 art. 28" in str(again.value)
    assert "not granted twice" in str(again.value)


def test_an_engineering_centre_gets_200000_filing_support() -> None:
    p = platform_in("operating", kind="engineering-research-center")
    earn(p, "approval")
    with pytest.raises(OverAllocation, match=r"003 art\. 15"):
        allocate(p, "subsidy", "200000.01")


def test_upgrade_reward_003_art_17() -> None:
    p = platform_in("operating")
    p.upgrade("regional", meta(LATER))
    earn(p, "upgrade", level="regional")
    with pytest.raises(OverAllocation, match=r"003 art\. 17"):
        allocate(p, "reward", "500000.01")
    allocate(p, "reward", "500000.00")
    with pytest.raises(FundingRefused, match=r"003 art\. 28"):
        allocate(p, "reward", "500000.00")


def test_grade_reward_003_art_23_good_is_600000_for_a_key_laboratory() -> None:
    p = platform_in("operating")
    p.evaluate("2020-2022", "good", meta(LATER), load_policy("lhasa-city"))
    earn(p, "evaluation", grade="good")
    with pytest.raises(OverAllocation, match=r"003 art\. 23"):
        allocate(p, "reward", "600000.01")
    allocate(p, "reward", "600000.00", key="grade-reward:2020-2022")
    with pytest.raises(FundingRefused, match="already granted"):
        allocate(p, "reward", "1.00", key="grade-reward:2020-2022")


def test_a_centres_reward_is_not_granted_twice_citing_the_article() -> None:
    """xinjiang-tic's file names no double-benefit article of its own: the
    refusal cites SPEC §6 only, never Lhasa's 003 art. 28 (SPEC §2.1, issue 11)."""
    p = platform_in("operating", kind="tech-innovation-center", policy="xinjiang-tic")
    p.evaluate("2020-2022", "excellent", meta(LATER), load_policy("xinjiang-tic"))
    earn(p, "evaluation", grade="excellent")
    allocate(p, "reward", "2000000.00")
    with pytest.raises(FundingRefused, match="already granted") as err:
        allocate(p, "reward", "1.00")
    assert "003" not in str(err.value) and "SPEC §6" in str(err.value)


def test_a_reward_with_no_entitlement_is_refused() -> None:
    p = platform_in("operating")
    with pytest.raises(FundingRefused, match="no reward entitlement") as err:
        allocate(p, "reward", "1.00")
    # not the double-benefit article: nothing was granted before
    assert "art. 28" not in str(err.value)


def test_the_same_entitlement_is_never_earned_twice() -> None:
    p = platform_in("operating")
    earn(p, "approval")
    version = p.version
    earn(p, "approval")
    assert p.version == version


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["pay", "reverse", "recover"]),
            st.decimals(min_value=Decimal("0.01"), max_value=Decimal("400.00"), places=2),
        ),
        max_size=30,
    )
)
def test_money_never_goes_over_the_allocation_or_below_zero(
    steps: list[tuple[str, Decimal]],
) -> None:
    # given 1,000.00 allocated; when any sequence of payments, reversals and recoveries is tried
    p = funded("1000.00")
    vouchers: list[str] = []
    for n, (action, amount) in enumerate(steps):
        try:
            if action == "pay":
                pay(p, str(amount), f"V{n}")
                vouchers.append(f"V{n}")
            elif action == "reverse" and vouchers:
                p.reverse(vouchers.pop(0), meta(LATER, reason="r"))
            elif action == "recover":
                p.recover("operation", 2023, amount, meta(LATER, doc_no="d", reason="r"))
        except (OverAllocation, IllegalTransition):
            pass
        # then what is paid and not reversed never exceeds the allocation, and net ≥ 0
        line = p.line("operation", 2023)
        assert line is not None
        assert line.disbursed - line.reversed <= line.allocated
        assert line.remaining >= 0 and line.net >= 0
        live = sum(
            (x.amount for x in p.payments.values() if x.reversed_on is None), Decimal("0.00")
        )
        assert line.disbursed - line.reversed == live


def test_a_payment_whose_money_was_recovered_cannot_also_be_reversed() -> None:
    # given 100.00 paid and 60.00 of it recovered: 40.00 is still paid net
    p = funded()
    pay(p, "100.00", "V1")
    p.recover("operation", 2023, Decimal("60.00"), meta(LATER, doc_no="d", reason="r"))
    # when the payment is reversed, then it is refused: net would be −60.00
    with pytest.raises(OverAllocation, match=r"only 40\.00") as err:
        p.reverse("V1", meta(LATER, reason="r"))
    assert "SPEC §6" in str(err.value)
    line = p.line("operation", 2023)
    assert line is not None and line.net == Decimal("40.00")
