"""The application service on SQLite and PostgreSQL: scenarios drawn from the
seed documents, refusals that record nothing, idempotency, concurrency."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from aggregates.errors import (
    AlreadyExists,
    CompositionRuleBroken,
    Conflict,
    DateOrder,
    FundingRefused,
    IllegalTransition,
    Ineligible,
    InvalidInput,
    LedgerError,
    OverAllocation,
    PlatformNotFound,
    UnitNotFound,
)
from aggregates.voucher import voucher_id
from cli import exit_code
from ledger.service import LedgerService
from tests.scenario import (
    BIO,
    CLERK,
    CONSORTIUM_MEMBERS,
    JINGTU,
    LEAD,
    allocate_funds,
    code,
    consortium,
    credit_code,
    debar,
    delist,
    event_count,
    events_since,
    funded,
    init_ledger,
    key_lab,
    pay,
    propose_consortium,
    refused,
    register_all,
    request_change,
    svc,
    violation,
)

__all__ = ["svc"]  # the fixture, parametrised over sqlite and postgres

# --- scenarios from the seed documents ---------------------------------------------------


def test_lhasa_key_lab_poor_then_failed_rectification_delists_and_bars_the_host(
    svc: LedgerService,
) -> None:
    # given a Lhasa key laboratory, approved and operating
    key_lab(svc)
    assert svc.platform("LS-KL-001").status == "operating"
    # when its evaluation is poor (003 art. 22) …
    svc.evaluate(
        "LS-KL-001",
        cycle="2023-2025",
        grade="poor",
        doc_no="拉科发〔2025〕30号",
        actor=CLERK,
        on=date(2025, 7, 1),
    )
    plat = svc.platform("LS-KL-001")
    assert (plat.status, plat.rectification_due) == ("rectification", date(2026, 7, 1))
    # … and its rectification fails
    mark = event_count(svc)
    result = svc.rectify(
        "LS-KL-001", passed=False, doc_no="拉科发〔2026〕12号", actor=CLERK, on=date(2026, 7, 15)
    )
    # then the platform is delisted and the host barred 3 years (003 art. 24), as two
    # events, each naming the rule it applies
    assert svc.platform("LS-KL-001").status == "delisted"
    assert [(e["aggregate"], e["event"], e["basis"]) for e in result.events] == [
        ("platform", "RectificationFailed", "003 art. 24"),
        ("unit", "Debarred", "003 art. 24"),
    ]
    failed, debarred = events_since(svc, mark)
    assert type(failed).__name__ == "RectificationFailed"
    assert (debarred.actor, debarred.doc_no, debarred.basis) == (
        CLERK,
        "拉科发〔2026〕12号",
        "003 art. 24",
    )
    assert debarred.reason and "failed-rectification" in debarred.reason
    [d] = svc.unit(BIO).debarments.values()
    assert (d.years, d.start, d.end, d.scopes) == (
        3,
        date(2026, 7, 15),
        date(2029, 7, 15),
        ["platform-application"],
    )
    # and the host may not propose another platform (exit-1 error naming the rule and article)
    err = refused(
        svc,
        lambda: svc.propose(
            "LS-KL-002",
            name="新实验室",
            kind="key-laboratory",
            level="city",
            host=BIO,
            co_builders=[],
            actor=CLERK,
        ),
        Ineligible,
    )
    assert exit_code(err) == 1
    assert "003 art. 24" in str(err)
    assert "debarment" in str(err) and "2029-07-15" in str(err)


def test_academic_misconduct_on_a_platform_delists_it_and_bars_the_unit_five_years(
    svc: LedgerService,
) -> None:
    key_lab(svc)
    result = violation(
        svc,
        BIO,
        "academic-misconduct",
        occurred_on=date(2025, 3, 1),
        doc_no="拉科发〔2025〕8号",
        platform="LS-KL-001",
        on=date(2025, 6, 10),
    )
    assert result.id == f"{BIO}:V1"
    assert [(e["event"], e["basis"]) for e in result.events] == [
        ("ViolationRecorded", None),
        ("Debarred", "003 art. 25"),
        ("Delisted", "003 art. 25"),
    ]
    plat = svc.platform("LS-KL-001")
    assert (plat.status, plat.delist_reason) == ("delisted", "misconduct")
    [d] = svc.unit(BIO).debarments.values()
    assert (d.years, d.start, d.end, d.basis, d.violation) == (
        5,
        date(2025, 6, 10),
        date(2030, 6, 10),
        "003 art. 25",
        f"{BIO}:V1",
    )


def test_false_materials_bar_the_unit_three_years(svc: LedgerService) -> None:
    result = violation(
        svc,
        JINGTU,
        "false-materials",
        occurred_on=date(2024, 2, 29),
        doc_no="拉科发〔2024〕3号",
        on=date(2024, 2, 29),
    )
    assert [(e["event"], e["basis"]) for e in result.events] == [
        ("ViolationRecorded", None),
        ("Debarred", "003 art. 25"),
    ]
    [d] = svc.unit(JINGTU).debarments.values()
    assert (d.years, d.end) == (3, date(2027, 3, 1))  # 29 Feb → 1 Mar


def test_false_materials_on_a_filed_platform_also_delists_it_for_fraud(svc: LedgerService) -> None:
    key_lab(svc)
    violation(
        svc,
        BIO,
        "false-materials",
        occurred_on=date(2023, 1, 5),
        doc_no="拉科发〔2024〕3号",
        platform="LS-KL-001",
        on=date(2024, 5, 1),
    )
    assert svc.platform("LS-KL-001").delist_reason == "fraud"
    assert [d.years for d in svc.unit(BIO).debarments.values()] == [3]


def test_task_default_puts_the_unit_on_the_blacklist(svc: LedgerService) -> None:
    result = violation(svc, JINGTU, "task-default", doc_no="拉科发〔2025〕2号", on=date(2025, 2, 1))
    assert [(e["event"], e["basis"]) for e in result.events] == [
        ("ViolationRecorded", None),
        ("Blacklisted", "003 art. 25"),
    ]
    unit = svc.unit(JINGTU)
    [entry] = unit.blacklist.values()
    assert (entry.added_on, entry.removed_on, entry.basis) == (
        date(2025, 2, 1),
        None,
        "003 art. 25",
    )
    assert unit.debarments == {}
    # a second default: recorded, the unit stays on the blacklist once
    again = violation(
        svc,
        JINGTU,
        "task-default",
        occurred_on=date(2025, 3, 1),
        doc_no="拉科发〔2025〕4号",
        on=date(2025, 4, 1),
    )
    assert [e["event"] for e in again.events] == ["ViolationRecorded"]
    assert any("already on the integrity blacklist" in w for w in again.warnings)
    assert len(svc.unit(JINGTU).blacklist) == 1


def test_consortium_breach_disqualifies_the_consortium_and_bars_its_lead_three_years(
    svc: LedgerService,
) -> None:
    # given an innovation consortium under xinjiang-consortium, led by 天山新材
    consortium(svc)
    assert svc.platform("XJ-UC-001").status == "operating"
    assert svc.unit(LEAD).active_consortia() == ["XJ-UC-001"]
    # when the lead breaches the co-building agreement (002 §5.2)
    result = violation(
        svc,
        LEAD,
        "consortium-breach",
        occurred_on=date(2025, 9, 1),
        doc_no="新科发〔2025〕40号",
        platform="XJ-UC-001",
        on=date(2025, 10, 8),
    )
    # then the consortium is delisted, and the lead barred 3 years from leading one
    assert ("Debarred", "002 §5.2") in [(e["event"], e["basis"]) for e in result.events]
    assert ("Delisted", "002 §5.2") in [(e["event"], e["basis"]) for e in result.events]
    plat = svc.platform("XJ-UC-001")
    assert (plat.status, plat.delist_reason) == ("delisted", "terminated")
    lead = svc.unit(LEAD)
    [d] = lead.debarments.values()
    assert (d.years, d.scopes, d.end, d.basis) == (
        3,
        ["consortium-lead"],
        date(2028, 10, 8),
        "002 §5.2",
    )
    assert lead.active_consortia() == []
    # and it may not lead a new consortium
    err = refused(
        svc,
        lambda: consortium(svc, "XJ-UC-002", on=date(2026, 1, 5)),
        Ineligible,
    )
    assert "002 §5.2" in str(err) and "consortium-lead" in str(err)


def test_a_lead_leads_one_active_consortium_at_a_time(svc: LedgerService) -> None:
    consortium(svc)
    err = refused(svc, lambda: consortium(svc, "XJ-UC-002", on=date(2025, 1, 5)), Ineligible)
    assert "002 §3.2" in str(err) and "XJ-UC-001" in str(err)


def test_a_consortium_of_four_is_not_approved(svc: LedgerService) -> None:
    propose_consortium(svc, "XJ-UC-009", name="小联合体", members=CONSORTIUM_MEMBERS[:3])
    err = refused(
        svc,
        lambda: svc.approve("XJ-UC-009", doc_no="d", actor=CLERK, on=date(2024, 4, 1)),
        CompositionRuleBroken,
    )
    assert "002 §2.2.1" in str(err)
    assert svc.platform("XJ-UC-009").status == "proposed"
    assert svc.unit(LEAD).active_consortia() == []


def test_no_policy_records_only_the_finding(svc: LedgerService) -> None:
    key_lab(svc)
    result = violation(
        svc,
        BIO,
        "academic-misconduct",
        occurred_on=date(2025, 3, 1),
        doc_no="拉科发〔2025〕8号",
        platform="LS-KL-001",
        no_policy=True,
        on=date(2025, 6, 10),
    )
    assert [e["event"] for e in result.events] == ["ViolationRecorded"]
    assert svc.platform("LS-KL-001").status == "operating"
    unit = svc.unit(BIO)
    assert unit.debarments == {} and unit.blacklist == {}
    assert list(unit.violations) == [f"{BIO}:V1"]


def test_the_lhasa_look_back_refuses_a_proposal_for_two_years(svc: LedgerService) -> None:
    violation(
        svc,
        JINGTU,
        "academic-misconduct",
        occurred_on=date(2025, 2, 1),
        doc_no="d",
        no_policy=True,
        on=date(2025, 6, 1),
    )
    # a proposal filed once the violation is known, within 2 years of it, is refused
    late = date(2025, 6, 1)
    err = refused(
        svc,
        lambda: key_lab(svc, "LS-KL-003", host=JINGTU, co_builders=(), filed=late, approved=late),
        Ineligible,
    )
    assert "003 annex" in str(err) and "2025-02-01" in str(err)
    # one filed before the violation was known is not
    early = date(2025, 5, 31)
    key_lab(svc, "LS-KL-003", host=JINGTU, co_builders=(), filed=early, approved=early)


def test_a_blacklisted_host_may_not_propose(svc: LedgerService) -> None:
    svc.blacklist(JINGTU, doc_no="d", reason="失信", actor=CLERK, on=date(2025, 1, 1))
    on = date(2025, 3, 1)
    err = refused(
        svc,
        lambda: key_lab(svc, "LS-KL-003", host=JINGTU, co_builders=(), filed=on, approved=on),
        Ineligible,
    )
    assert "blacklist" in str(err)


def test_a_lifted_debarment_no_longer_refuses_a_proposal(svc: LedgerService) -> None:
    r = debar(svc, BIO, start=date(2022, 1, 1), scopes=["platform-application"])
    assert r.id == f"{BIO}:D1"
    refused(svc, lambda: key_lab(svc), Ineligible)
    svc.lift(BIO, "D1", doc_no="信用修复", reason="信用修复", actor=CLERK, on=date(2022, 12, 1))
    key_lab(svc)
    assert svc.platform("LS-KL-001").status == "operating"


# --- funds --------------------------------------------------------------------------------


def test_a_voucher_is_unique_across_the_whole_ledger(svc: LedgerService) -> None:
    funded(svc, "LS-KL-001", BIO)
    funded(svc, "LS-KL-002", JINGTU)
    pay(svc, "100000.00", "PZ-2026-0001", "LS-KL-001")
    err = refused(svc, lambda: pay(svc, "100000.00", "PZ-2026-0001", "LS-KL-002"), AlreadyExists)
    assert "PZ-2026-0001" in str(err)
    line = svc.platform("LS-KL-002").line("operation", 2026)
    assert line is not None and line.disbursed == 0


def test_funds_rules_through_the_service(svc: LedgerService) -> None:
    funded(svc)
    pay(svc, "600000.00", "V1")
    refused(svc, lambda: pay(svc, "400000.01", "V2"), OverAllocation)
    pay(svc, "400000.00", "V2")
    svc.reverse("LS-KL-001", voucher="V2", reason="重复拨付", actor=CLERK, on=date(2026, 4, 1))
    refused(
        svc,
        lambda: svc.reverse("LS-KL-001", voucher="V2", reason="r", actor=CLERK),
        IllegalTransition,
    )
    refused(
        svc,
        lambda: svc.recover(
            "LS-KL-001",
            category="operation",
            fiscal_year=2026,
            amount=Decimal("600000.01"),
            doc_no="d",
            reason="r",
            actor=CLERK,
        ),
        OverAllocation,
    )
    svc.recover(
        "LS-KL-001",
        category="operation",
        fiscal_year=2026,
        amount=Decimal("100000.00"),
        doc_no="拉财追〔2026〕1号",
        reason="违规使用",
        actor=CLERK,
    )
    svc.suspend("LS-KL-001", doc_no="d", reason="未单独核算", actor=CLERK, on=date(2026, 5, 1))
    refused(svc, lambda: pay(svc, "1.00", "V3", on=date(2026, 5, 2)), FundingRefused)
    svc.resume("LS-KL-001", doc_no="d", actor=CLERK, on=date(2026, 6, 1))
    pay(svc, "1.00", "V3", on=date(2026, 6, 2))
    line = svc.platform("LS-KL-001").line("operation", 2026)
    assert line is not None
    assert (line.disbursed, line.reversed, line.recovered, line.net, line.remaining) == (
        Decimal("1000001.00"),
        Decimal("400000.00"),
        Decimal("100000.00"),
        Decimal("500001.00"),  # net = disbursed − reversed − recovered
        Decimal("399999.00"),  # remaining = allocated − disbursed + reversed
    )


def test_a_delisted_platform_is_not_paid(svc: LedgerService) -> None:
    funded(svc)
    delist(svc, reason="注销", on=date(2026, 4, 1))
    refused(svc, lambda: pay(svc, "1.00", "V1", on=date(2026, 4, 1)), FundingRefused)


def test_a_payment_to_a_debarred_host_is_recorded_and_flagged(svc: LedgerService) -> None:
    funded(svc)
    debar(svc, BIO, start=date(2026, 2, 1), scopes=["project-application"], basis="002 §5.2")
    result = pay(svc, "10.00", "V1")
    assert any("debarred-host" in w for w in result.warnings)
    assert svc.platform("LS-KL-001").payments["V1"].flags == ["debarred-host"]


def test_entitlements_through_the_service(svc: LedgerService) -> None:
    # given a key laboratory approved in Lhasa: 500,000 filing support (003 art. 15)
    key_lab(svc)
    plat = svc.platform("LS-KL-001")
    assert plat.entitlements["filing-support"].amount == Decimal("500000.00")

    def allocate(amount: str) -> Any:
        return allocate_funds(
            svc,
            amount,
            category="subsidy",
            fiscal_year=2023,
            doc_no="拉财教〔2023〕9号",
            on=date(2023, 4, 1),
        )

    err = refused(svc, lambda: allocate("500000.01"), OverAllocation)
    assert "003 art. 15" in str(err)
    granted = allocate("500000.00")
    assert any("003 art. 15" in w for w in granted.warnings)
    err = refused(svc, lambda: allocate("500000.00"), FundingRefused)
    assert "003 art. 28" in str(err)


# --- refusals record nothing ---------------------------------------------------------------


def test_refused_commands_record_nothing(svc: LedgerService) -> None:
    key_lab(svc)
    today_plus_one = date(2026, 11, 24)
    cases: list[tuple[Callable[[], Any], type[LedgerError]]] = [
        (lambda: svc.approve("LS-KL-001", doc_no="d", actor=CLERK), IllegalTransition),
        (lambda: svc.accept("LS-KL-001", doc_no="d", actor=CLERK), IllegalTransition),
        (lambda: svc.approve("NOPE-1", doc_no="d", actor=CLERK), PlatformNotFound),
        (
            lambda: svc.rename_unit(code("keqiao")[:-1] + "Y", name="x", doc_no="d", actor=CLERK),
            InvalidInput,
        ),
        (
            lambda: svc.rename_unit("91540100MA6T0A0E46", name="x", doc_no="d", actor=CLERK),
            InvalidInput,
        ),
        (lambda: svc.accept("LS-KL-001", doc_no="d", actor=CLERK, on=today_plus_one), InvalidInput),
        (
            lambda: svc.evaluate("LS-KL-001", cycle="c", grade="great", doc_no="d", actor=CLERK),
            InvalidInput,
        ),
        (lambda: svc.approve("LS-KL-001", doc_no=None, actor=CLERK), InvalidInput),
        (
            lambda: delist(svc, reason=""),
            InvalidInput,
        ),
        (lambda: svc.approve("LS-KL-001", doc_no="d", actor=""), InvalidInput),
        (
            lambda: svc.register_unit(
                BIO, name="重复", unit_type="enterprise", high_tech=False, aliases=[], actor=CLERK
            ),
            AlreadyExists,
        ),
        (
            lambda: svc.evaluate(
                "LS-KL-001", cycle="c", grade="good", doc_no="d", actor=CLERK, on=date(2023, 2, 1)
            ),
            DateOrder,
        ),
    ]
    for action, error in cases:
        refused(svc, action, error)


def test_an_unknown_unit_is_refused(svc: LedgerService) -> None:
    stranger = credit_code("91110000000000001")
    err = refused(
        svc,
        lambda: svc.blacklist(stranger, doc_no="d", reason="r", actor=CLERK),
        UnitNotFound,
    )
    assert stranger in str(err) and exit_code(err) == 1


@pytest.mark.parametrize(
    "command",
    ["register", "approve", "violation", "disburse", "debar"],
)
def test_an_effective_date_after_today_is_invalid_input(svc: LedgerService, command: str) -> None:
    tomorrow = date(2026, 11, 24)
    actions: dict[str, Callable[[], Any]] = {
        "register": lambda: svc.register_unit(
            credit_code("91540100MA6T0A0F5"),
            name="x",
            unit_type="enterprise",
            high_tech=False,
            aliases=[],
            actor=CLERK,
            on=tomorrow,
        ),
        "approve": lambda: svc.approve("LS-KL-001", doc_no="d", actor=CLERK, on=tomorrow),
        "violation": lambda: violation(
            svc, BIO, "task-default", occurred_on=date(2026, 1, 1), doc_no="d", on=tomorrow
        ),
        "disburse": lambda: pay(svc, "1.00", "V1", on=tomorrow),
        "debar": lambda: debar(
            svc, BIO, start=date(2026, 1, 1), scopes=["platform-application"], on=tomorrow
        ),
    }
    if command == "approve":
        svc.propose(
            "LS-KL-001",
            name="n",
            kind="key-laboratory",
            level="city",
            host=BIO,
            co_builders=[],
            actor=CLERK,
        )
    err = refused(svc, actions[command], InvalidInput)
    assert "after today (2026-11-23)" in str(err)
    assert exit_code(err) == 2


# --- change requests ----------------------------------------------------------------------


def test_a_host_change_takes_effect_only_when_approved(svc: LedgerService) -> None:
    key_lab(svc)
    rid = request_change(
        svc,
        "LS-KL-001",
        "host-change",
        {"host": JINGTU},
        reason="依托单位调整",
        on=date(2024, 1, 5),
    ).id
    assert rid == "LS-KL-001:CR1"
    assert svc.platform("LS-KL-001").host == BIO
    svc.approve_change(rid, doc_no="拉科发〔2024〕2号", actor=CLERK, on=date(2024, 2, 1))
    plat = svc.platform("LS-KL-001")
    assert plat.host == JINGTU and plat.changes[rid].status == "approved"
    refused(svc, lambda: svc.approve_change(rid, doc_no="d", actor=CLERK), IllegalTransition)


def test_a_consortium_member_change_needs_every_members_consent(svc: LedgerService) -> None:
    consortium(svc)
    newcomer = code("bio")  # a high-tech enterprise: the shares stay above their floors
    members = [LEAD, *(code(k) for k in CONSORTIUM_MEMBERS)]
    rid = request_change(
        svc,
        "XJ-UC-001",
        "member-change",
        {"add": newcomer, "consents": ",".join(members[:-1])},
        reason="增补成员",
        on=date(2024, 6, 1),
    ).id
    err = refused(svc, lambda: svc.approve_change(rid, doc_no="d", actor=CLERK), Ineligible)
    assert "002 §5.1" in str(err) and members[-1] in str(err)
    svc.withdraw_change(rid, reason="补充同意书", actor=CLERK)
    rid2 = request_change(
        svc,
        "XJ-UC-001",
        "member-change",
        {"add": newcomer, "consents": ",".join(members)},
        reason="增补成员",
    ).id
    svc.approve_change(rid2, doc_no="新科发〔2026〕1号", actor=CLERK)
    assert newcomer in svc.platform("XJ-UC-001").co_builders


def test_a_member_change_may_not_break_the_consortium_composition(svc: LedgerService) -> None:
    """Given a consortium of 5 (3 enterprises, 1 high-tech: 20 %), when a change
    with every consent adds a sixth member that is not high-tech (1 of 6 < 20 %),
    then its approval is refused by 002 §2.2.1 and nothing changes."""
    consortium(svc)
    members = [LEAD, *(code(k) for k in CONSORTIUM_MEMBERS)]
    rid = request_change(
        svc,
        "XJ-UC-001",
        "member-change",
        {"add": code("zhizao"), "consents": ",".join(members)},
        reason="增补成员",
    ).id
    err = refused(
        svc, lambda: svc.approve_change(rid, doc_no="d", actor=CLERK), CompositionRuleBroken
    )
    assert "20%" in str(err) and "002 §2.2.1" in str(err)
    # a co-builder change of a consortium is a member change: it needs the consents too
    rid2 = request_change(
        svc, "XJ-UC-001", "co-builder-change", {"remove": code("xj_u")}, reason="成员退出"
    ).id
    err = refused(svc, lambda: svc.approve_change(rid2, doc_no="d", actor=CLERK), Ineligible)
    assert "002 §5.1" in str(err)
    assert svc.platform("XJ-UC-001").co_builders == [code(k) for k in CONSORTIUM_MEMBERS]


# --- filing under keqiao -------------------------------------------------------------------


@pytest.mark.parametrize(("filed", "late"), [(date(2026, 2, 10), False), (date(2026, 2, 11), True)])
def test_keqiao_filing_is_due_within_a_month_of_the_agreement(
    svc: LedgerService, filed: date, late: bool
) -> None:
    result = svc.propose(
        "KQ-CB-001",
        name="柯桥纺织共建平台",
        kind="co-built-platform",
        level="district",
        host=code("keqiao"),
        co_builders=[code("zstu")],
        policy="keqiao-co-built",
        agreement_on=date(2026, 1, 10),
        actor=CLERK,
        on=filed,
    )
    plat = svc.platform("KQ-CB-001")
    assert (plat.filing_due, plat.filing_late) == (date(2026, 2, 10), late)
    assert any("004 §1.4" in w for w in result.warnings) is late


# --- idempotency -----------------------------------------------------------------------------


def test_the_same_request_id_and_arguments_record_nothing_new(svc: LedgerService) -> None:
    funded(svc)
    first = pay(svc, "1000.00", "PZ-1", request_id="req-42")
    mark = event_count(svc)
    again = pay(svc, "1000.00", "PZ-1", request_id="req-42")
    assert event_count(svc) == mark
    assert again.replayed
    assert (again.event, again.code, again.version, again.events) == (
        first.event,
        first.code,
        first.version,
        first.events,
    )
    line = svc.platform("LS-KL-001").line("operation", 2026)
    assert line is not None and line.disbursed == Decimal("1000.00")


def test_the_same_request_id_returns_the_same_id(svc: LedgerService) -> None:
    kw: dict[str, Any] = dict(
        kind="false-materials",
        occurred_on=date(2024, 1, 1),
        doc_no="d",
        actor=CLERK,
        on=date(2024, 2, 1),
    )
    first = svc.record_violation(JINGTU, request_id="v-1", **kw)
    again = svc.record_violation(JINGTU, request_id="v-1", **kw)
    assert again.id == first.id == f"{JINGTU}:V1"
    assert len(svc.unit(JINGTU).violations) == 1
    assert len(svc.unit(JINGTU).debarments) == 1


def test_the_same_request_id_with_other_arguments_is_a_conflict(svc: LedgerService) -> None:
    funded(svc)
    pay(svc, "1000.00", "PZ-1", request_id="req-42")
    err = refused(svc, lambda: pay(svc, "2000.00", "PZ-2", request_id="req-42"), Conflict)
    assert "req-42" in str(err) and exit_code(err) == 1
    # another command under the same id is a conflict too
    refused(
        svc,
        lambda: svc.suspend("LS-KL-001", doc_no="d", reason="r", actor=CLERK, request_id="req-42"),
        Conflict,
    )


def test_a_refused_request_does_not_use_up_its_id(svc: LedgerService) -> None:
    funded(svc)
    refused(svc, lambda: pay(svc, "2000000.00", "PZ-1", request_id="req-7"), OverAllocation)
    pay(svc, "2000.00", "PZ-1", request_id="req-7")
    assert "PZ-1" in svc.platform("LS-KL-001").payments


# --- concurrency ---------------------------------------------------------------------------


def test_concurrent_payments_never_lose_an_update_or_overspend(db_url: str) -> None:
    # given a platform with 10,000.00 allocated
    init_ledger(db_url)
    setup = LedgerService(db_url)
    register_all(setup)
    funded(setup)
    allocate_funds(setup, "10000.00", category="research", doc_no="d", on=date(2026, 2, 1))
    # when four clerks pay 1,000.00 each, five times over, at the same time (15 payments)
    writers, per_writer = 3, 5
    barrier = threading.Barrier(writers)
    outcomes: list[tuple[str, str]] = []
    lock = threading.Lock()

    def clerk(n: int) -> None:
        svc = LedgerService(db_url)
        try:
            barrier.wait()
            for i in range(per_writer):
                voucher = f"C{n}-{i}"
                try:
                    svc.disburse(
                        "LS-KL-001",
                        category="research",
                        amount=Decimal("1000.00"),
                        fiscal_year=2026,
                        voucher=voucher,
                        actor=f"clerk-{n}",
                        on=date(2026, 3, 1),
                    )
                    outcome = "paid"
                except OverAllocation:
                    outcome = "over"
                except Conflict:
                    outcome = "conflict"
                with lock:
                    outcomes.append((voucher, outcome))
        finally:
            svc.close()

    threads = [threading.Thread(target=clerk, args=(n,)) for n in range(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(outcomes) == writers * per_writer
    paid = {v for v, o in outcomes if o == "paid"}
    # then every payment reported as recorded is in the ledger, none other is, and the
    # allocation is never overspent; the refusals are over-allocations
    check = LedgerService(db_url)
    plat = check.platform("LS-KL-001")
    line = plat.line("research", 2026)
    assert line is not None
    recorded = {v for v, p in plat.payments.items() if p.category == "research"}
    assert recorded == paid
    assert line.disbursed == Decimal("1000.00") * len(paid) <= Decimal("10000.00")
    assert len(paid) == 10 or any(o == "conflict" for _, o in outcomes)
    assert {o for _, o in outcomes} <= {"paid", "over", "conflict"}
    # every voucher appears in the ledger once
    for v in paid:
        assert check.exists(voucher_id(v))
    check.close()
    setup.close()


def test_two_clerks_paying_the_same_platform_at_once_both_succeed(db_url: str) -> None:
    # given a platform with an allocation
    init_ledger(db_url)
    setup = LedgerService(db_url)
    register_all(setup)
    funded(setup)
    clerks = [LedgerService(db_url), LedgerService(db_url)]
    errors: list[BaseException] = []
    for round_ in range(5):
        barrier = threading.Barrier(2)

        def clerk(n: int, round_: int = round_, barrier: threading.Barrier = barrier) -> None:
            barrier.wait()
            try:
                pay(clerks[n], "100.00", f"R{round_}-C{n}", actor=f"clerk-{n}")
            except BaseException as e:  # reported below
                errors.append(e)

        # when two clerks pay at the same moment
        threads = [threading.Thread(target=clerk, args=(n,)) for n in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
    # then both payments of every round are recorded: the loser retried
    assert errors == []
    plat = setup.platform("LS-KL-001")
    assert len(plat.payments) == 10
    line = plat.line("operation", 2026)
    assert line is not None and line.disbursed == Decimal("1000.00")
    for s in [*clerks, setup]:
        s.close()


@pytest.mark.parametrize("policy", ["keqiao-co-built", "lhasa-city"])
def test_a_co_built_term_is_at_most_ten_years_whatever_the_policy(
    svc: LedgerService, policy: str
) -> None:
    for n in range(2):
        svc.propose(
            f"KQ-CB-00{n}",
            name="柯桥纺织共建平台",
            kind="co-built-platform",
            level="district",
            host=code("keqiao"),
            co_builders=[code("zstu")],
            policy=policy,
            actor=CLERK,
            on=date(2026, 1, 5),
        )
    svc.approve("KQ-CB-000", doc_no="柯科发〔2026〕1号", term_years=8, actor=CLERK)
    assert svc.platform("KQ-CB-000").term_ends == date(2034, 11, 23)
    err = refused(
        svc,
        lambda: svc.approve("KQ-CB-001", doc_no="d", term_years=11, actor=CLERK),
        CompositionRuleBroken,
    )
    assert "004 §3.1" in str(err)


@pytest.mark.parametrize("reason_code", ["no-show", "withdrawal"])
def test_delisting_for_no_show_or_withdrawal_bars_the_host_three_years(
    svc: LedgerService, reason_code: str
) -> None:
    key_lab(svc)
    result = delist(
        svc,
        reason_code=reason_code,
        doc_no="拉科发〔2026〕20号",
        reason="无故不参加评估",
        on=date(2026, 4, 1),
    )
    assert ("Debarred", "003 art. 24") in [(e["event"], e["basis"]) for e in result.events]
    [d] = svc.unit(BIO).debarments.values()
    assert (d.start, d.end, d.scopes) == (
        date(2026, 4, 1),
        date(2029, 4, 1),
        ["platform-application"],
    )


def test_delisting_for_other_reasons_bars_nobody(svc: LedgerService) -> None:
    key_lab(svc)
    delist(svc, reason="注销")
    assert svc.unit(BIO).debarments == {}


def test_the_same_voucher_on_two_platforms_at_once_is_paid_once(db_url: str) -> None:
    init_ledger(db_url)
    setup = LedgerService(db_url)
    register_all(setup)
    funded(setup, "LS-KL-001", BIO)
    funded(setup, "LS-KL-002", JINGTU)
    clerks = [LedgerService(db_url), LedgerService(db_url)]
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def clerk(n: int) -> None:
        barrier.wait()
        try:
            pay(clerks[n], "100.00", "PZ-SAME", f"LS-KL-00{n + 1}")
            outcomes.append("paid")
        except AlreadyExists:
            outcomes.append("already")

    threads = [threading.Thread(target=clerk, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(outcomes) == ["already", "paid"]
    paid = [c for c in ("LS-KL-001", "LS-KL-002") if "PZ-SAME" in setup.platform(c).payments]
    assert len(paid) == 1
    for s in [*clerks, setup]:
        s.close()
