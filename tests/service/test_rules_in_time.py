"""Rules that depend on *when*: dated funds, suspensions and hosts, renames and
blacklist entries in date order, evaluation cycles and their rewards, one
consortium per lead over time, standing at approval, the platform a violation
concerns, and idempotency across days. On a real SQLite file and on the real
PostgreSQL server, through the application service.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import date
from decimal import Decimal

import pytest

from aggregates.errors import (
    AlreadyExists,
    CompositionRuleBroken,
    DateOrder,
    FundingRefused,
    IllegalTransition,
    Ineligible,
    OverAllocation,
)
from cli import exit_code
from ledger.service import LedgerService
from tests.scenario import (
    BIO,
    CLERK,
    CONSORTIUM_MEMBERS,
    JINGTU,
    LEAD,
    TIBET_U,
    allocate_funds,
    code,
    consortium,
    debar,
    delist,
    funded,
    key_lab,
    pay,
    propose_consortium,
    refused,
    request_change,
    svc,
    violation,
)

__all__ = ["svc"]  # the fixture, parametrised over sqlite and postgres


# --- funds, judged on the payment's own date ------------------------------------------------


def test_a_payment_is_checked_against_what_remains_of_the_allocation_now(
    svc: LedgerService,
) -> None:
    """A finance officer records the allocation when the document arrives (no
    --on: today) and the payments with their bank dates, which may be earlier:
    the payment is checked against what remains of the allocation, not against
    the allocation's recording date."""
    key_lab(svc)
    allocate_funds(svc, "300000.00")
    pay(svc, "100000.00", "A1", on=date(2026, 6, 1))
    pay(svc, "200000.00", "A2", on=date(2026, 7, 1))
    refused(svc, lambda: pay(svc, "0.01", "A3", on=date(2026, 7, 2)), OverAllocation)


def test_a_recovery_is_at_most_what_was_paid_net_on_its_date(svc: LedgerService) -> None:
    funded(svc)
    pay(svc, "5000.00", "R1", on=date(2026, 2, 10))

    def recover(amount: str, on: date) -> object:
        return svc.recover(
            "LS-KL-001",
            category="operation",
            fiscal_year=2026,
            amount=Decimal(amount),
            doc_no="追〔2026〕1号",
            reason="违规使用",
            actor=CLERK,
            on=on,
        )

    err = refused(svc, lambda: recover("4000.00", date(2026, 1, 20)), OverAllocation)
    assert "on 2026-01-20" in str(err)
    recover("4000.00", date(2026, 2, 10))
    line = svc.platform("LS-KL-001").line("operation", 2026)
    assert line is not None and line.net == Decimal("1000.00")


def test_a_payment_dated_inside_an_earlier_suspension_is_refused(svc: LedgerService) -> None:
    """004 §4.3: no payment while funding is suspended — judged on the payment
    date too, so a late entry cannot slip into a past suspension."""
    funded(svc)
    svc.suspend("LS-KL-001", doc_no="暂停", reason="未单独核算", actor=CLERK, on=date(2026, 4, 1))
    svc.resume("LS-KL-001", doc_no="恢复", actor=CLERK, on=date(2026, 5, 1))
    err = refused(svc, lambda: pay(svc, "10.00", "S1", on=date(2026, 4, 15)), FundingRefused)
    assert "suspended on 2026-04-15" in str(err) and "004 §4.3" in str(err)
    pay(svc, "10.00", "S1", on=date(2026, 3, 31))
    pay(svc, "10.00", "S2", on=date(2026, 5, 1))


def test_vouchers_are_one_whatever_their_case_or_width(svc: LedgerService) -> None:
    funded(svc)
    funded(svc, "LS-KL-002", JINGTU)
    pay(svc, "100.00", "PZ-2026-0007")
    for spelling in ("pz-2026-0007", "ＰＺ-２０２６-０００７", " PZ-2026-0007 "):
        refused(svc, lambda v=spelling: pay(svc, "100.00", v, "LS-KL-002"), AlreadyExists)
    # and a reversal finds the payment however the voucher is written
    svc.reverse("LS-KL-001", voucher="pz-2026-0007", reason="退回", actor=CLERK)
    assert svc.platform("LS-KL-001").payments["PZ-2026-0007"].reversed_on is not None


def test_payment_flags_judge_the_host_of_the_payment_date(svc: LedgerService) -> None:
    """The host changes on 1 Jun; the former host is debarred from 1 May. A
    late entry of a payment made on 25 May concerns the former host: flagged.
    A payment on 10 Jun concerns the new, clean host: not flagged."""
    funded(svc)
    rid = request_change(
        svc,
        "LS-KL-001",
        "host-change",
        {"host": JINGTU},
        reason="依托单位调整",
        on=date(2026, 5, 20),
    ).id
    svc.approve_change(rid, doc_no="拉科发〔2026〕7号", actor=CLERK, on=date(2026, 6, 1))
    debar(
        svc,
        BIO,
        start=date(2026, 5, 1),
        scopes=["project-application"],
        doc_no="拉科监〔2026〕1号",
        reason="项目材料不实",
    )
    late = pay(svc, "100.00", "H1", on=date(2026, 5, 25))
    assert any("debarred-host" in w and BIO in w for w in late.warnings)
    assert svc.platform("LS-KL-001").payments["H1"].flags == ["debarred-host"]
    pay(svc, "100.00", "H2", on=date(2026, 6, 10))
    assert svc.platform("LS-KL-001").payments["H2"].flags == []


# --- units: names and blacklist entries in date order --------------------------------------------


def test_renames_are_recorded_in_date_order(svc: LedgerService) -> None:
    svc.rename_unit(
        BIO, name="拉萨高原生物健康科技有限公司", doc_no="R1", actor=CLERK, on=date(2026, 5, 1)
    )
    err = refused(
        svc,
        lambda: svc.rename_unit(
            BIO, name="早先的名称", doc_no="R2", actor=CLERK, on=date(2025, 1, 1)
        ),
        DateOrder,
    )
    assert exit_code(err) == 1 and "effective 2026-05-01" in str(err)
    unit = svc.unit(BIO)
    assert unit.name == "拉萨高原生物健康科技有限公司"
    assert unit.former_names == [{"name": "拉萨高原生物科技有限公司", "until": "2026-05-01"}]
    # a unit registered today may have been renamed before: the ledger's
    # registration date is when it learned of the unit, not when it began
    svc.rename_unit(JINGTU, name="西藏净土农业集团", doc_no="R3", actor=CLERK, on=date(2019, 6, 1))
    assert svc.unit(JINGTU).name == "西藏净土农业集团"


def test_a_unit_is_screened_by_name_before_the_ledger_registered_it(
    svc: LedgerService,
) -> None:
    """Registered in the ledger today (2020-01-02 here) and debarred from a
    date before it: searching by name or code on that date finds it, and it is
    shown, as `debarred` and `eligibility` answer for that date."""
    from ledger.reads import open_read

    debar(svc, BIO, start=date(2019, 6, 1), scopes=["platform-application"])
    with open_read(svc.cfg) as rm:
        hits = rm.unit_search("高原生物", date(2019, 7, 1))
        assert [(h["code"], h["debarred"]) for h in hits][:1] == [(BIO, True)]
        assert [h["code"] for h in rm.unit_search(BIO, date(2019, 7, 1))] == [BIO]
        shown = rm.unit_show(BIO, date(2019, 7, 1))
        assert shown["name"] == "拉萨高原生物科技有限公司"
        assert [d["status"] for d in shown["debarments"]] == ["active"]


def test_blacklist_entries_never_overlap(svc: LedgerService) -> None:
    def blacklist(on: date) -> object:
        return svc.blacklist(BIO, doc_no="黑", reason="失信", actor=CLERK, on=on)

    blacklist(date(2025, 1, 1))
    svc.unblacklist(BIO, doc_no="移出", reason="信用修复", actor=CLERK, on=date(2025, 3, 1))
    err = refused(svc, lambda: blacklist(date(2025, 2, 1)), DateOrder)
    assert "until 2025-03-01" in str(err)
    blacklist(date(2025, 3, 1))  # from the day of the removal on, a new entry is fine
    assert len(svc.unit(BIO).blacklist) == 2


# --- evaluations: one reward per cycle -------------------------------------------------------


def test_one_grade_reward_per_evaluation_cycle(svc: LedgerService) -> None:
    """003 art. 23: 在单个评估周期内（三年）… a grade reward once per cycle; art. 28."""
    key_lab(svc)

    def evaluate(cycle: str, grade: str, on: date) -> object:
        return svc.evaluate(
            "LS-KL-001", cycle=cycle, grade=grade, doc_no=f"评{cycle}", actor=CLERK, on=on
        )

    evaluate("2023-2025", "excellent", date(2025, 12, 1))
    again = evaluate("2024-2026", "excellent", date(2026, 1, 10))
    assert any("overlaps 2023-2025" in w for w in again.warnings)
    # the same cycle written another way is the same cycle
    refused(svc, lambda: evaluate("２０２３—２０２５", "good", date(2026, 2, 1)), AlreadyExists)
    refused(svc, lambda: evaluate("2023至2025年", "good", date(2026, 2, 1)), AlreadyExists)
    rewards = [k for k in svc.platform("LS-KL-001").entitlements if k.startswith("grade-reward")]
    assert rewards == ["grade-reward:2023-2025"]


# --- approvals: the lead's other consortia and the host's standing on the date ------------------


def test_one_consortium_per_lead_is_judged_over_time(svc: LedgerService) -> None:
    """Two consortia of one lead are filed together. The first runs from 1 Mar
    2024 until it is delisted on 1 Jun 2025; the second, approved in a late
    entry dated 1 Apr 2025, would overlap it (002 §3.2); dated 1 Jun 2025 it
    does not."""
    for code_ in ("XJ-UC-001", "XJ-UC-002"):
        propose_consortium(svc, code_, name=f"创新联合体 {code_}", on=date(2024, 2, 1))
    svc.approve("XJ-UC-001", doc_no="批1", actor=CLERK, on=date(2024, 3, 1))
    delist(
        svc,
        "XJ-UC-001",
        reason_code="terminated",
        doc_no="终止",
        reason="协议到期",
        on=date(2025, 6, 1),
        no_policy=True,
    )
    err = refused(
        svc,
        lambda: svc.approve("XJ-UC-002", doc_no="批2", actor=CLERK, on=date(2025, 4, 1)),
        CompositionRuleBroken,
    )
    assert "XJ-UC-001" in str(err) and "002 §3.2" in str(err)
    svc.approve("XJ-UC-002", doc_no="批2", actor=CLERK, on=date(2025, 6, 1))


def test_an_approval_is_refused_when_the_host_is_debarred_on_that_date(svc: LedgerService) -> None:
    svc.propose(
        "LS-KL-009",
        name="某重点实验室",
        kind="key-laboratory",
        level="city",
        host=BIO,
        co_builders=[],
        actor=CLERK,
        on=date(2025, 1, 10),
    )
    debar(
        svc,
        BIO,
        start=date(2025, 6, 1),
        scopes=["platform-application"],
        doc_no="拉科监〔2025〕2号",
        reason="弄虚作假",
        basis="003 art. 25",
    )
    err = refused(
        svc,
        lambda: svc.approve("LS-KL-009", doc_no="批", actor=CLERK, on=date(2025, 7, 1)),
        Ineligible,
    )
    assert "host" in str(err) and "003 art. 25" in str(err) and "2028-06-01" in str(err)
    svc.approve("LS-KL-009", doc_no="批", actor=CLERK, on=date(2025, 5, 31))


def test_co_builders_are_screened_at_the_proposal(svc: LedgerService) -> None:
    """003 annex: 依托单位、联合共建单位申报前2年无失信和学术不端行为."""
    violation(
        svc,
        TIBET_U,
        "academic-misconduct",
        doc_no="拉科监〔2025〕4号",
        on=date(2025, 3, 1),
        no_policy=True,
    )
    err = refused(
        svc, lambda: key_lab(svc, filed=date(2025, 6, 1), approved=date(2025, 7, 1)), Ineligible
    )
    assert f"co-builder {TIBET_U}" in str(err) and "003 annex" in str(err)
    key_lab(svc, filed=date(2025, 6, 1), approved=date(2025, 7, 1), co_builders=())


def test_a_change_to_a_delisted_platform_cannot_be_approved(svc: LedgerService) -> None:
    key_lab(svc)
    rid = request_change(
        svc, "LS-KL-001", "rename", {"name": "改名"}, reason="更名", on=date(2024, 1, 5)
    ).id
    delist(svc, doc_no="摘牌", on=date(2024, 2, 1), no_policy=True)
    err = refused(svc, lambda: svc.approve_change(rid, doc_no="d", actor=CLERK), IllegalTransition)
    assert "delisted (final)" in str(err)
    svc.withdraw_change(rid, reason="平台已摘牌", actor=CLERK)
    assert svc.platform("LS-KL-001").name == "拉萨高原生物重点实验室"


# --- violations and the platform they concern ----------------------------------------------------


def test_a_violation_names_only_a_platform_the_unit_is_part_of(svc: LedgerService) -> None:
    key_lab(svc)  # host BIO, co-builder TIBET_U
    err = refused(
        svc,
        lambda: violation(svc, JINGTU, "academic-misconduct", platform="LS-KL-001"),
        Ineligible,
    )
    assert "never been the host or a co-builder" in str(err)
    assert svc.platform("LS-KL-001").status == "operating"
    # a co-builder's misconduct on the platform delists it (003 art. 25: 予以摘牌)
    violation(svc, TIBET_U, "academic-misconduct", platform="LS-KL-001")
    assert svc.platform("LS-KL-001").status == "delisted"


def test_a_consortium_breach_disqualifies_only_a_consortium_and_only_by_its_lead(
    svc: LedgerService,
) -> None:
    key_lab(svc)
    r = violation(svc, BIO, "consortium-breach", platform="LS-KL-001")
    assert svc.platform("LS-KL-001").status == "operating"
    assert any(
        "not a innovation-consortium" in w or "innovation-consortium" in w for w in r.warnings
    )
    assert [d.scopes for d in svc.unit(BIO).debarments.values()] == [["consortium-lead"]]
    # a member's breach leaves the consortium standing; the lead's ends it
    consortium(svc)
    member = code(CONSORTIUM_MEMBERS[0])
    violation(svc, member, "consortium-breach", doc_no="V2", platform="XJ-UC-001")
    assert svc.platform("XJ-UC-001").status == "operating"
    assert svc.unit(member).debarments == {}  # the 3-year ban is the lead's (002 §5.2)
    violation(svc, LEAD, "consortium-breach", doc_no="V3", platform="XJ-UC-001")
    assert svc.platform("XJ-UC-001").status == "delisted"


def test_a_late_finding_is_recorded_even_where_the_delisting_cannot_be_dated(
    svc: LedgerService,
) -> None:
    """The platform's last change of state (a poor evaluation, 1 May) is after
    the finding (1 Apr): the finding and its ban are recorded; the delisting is
    left to a dated `platform delist`, with a warning saying so."""
    key_lab(svc)
    svc.evaluate(
        "LS-KL-001", cycle="2022-2024", grade="poor", doc_no="E", actor=CLERK, on=date(2025, 5, 1)
    )
    r = violation(
        svc, BIO, "academic-misconduct", doc_no="LV", on=date(2025, 4, 1), platform="LS-KL-001"
    )
    assert r.id == f"{BIO}:V1"
    assert any("was not delisted" in w and "2025-05-01" in w for w in r.warnings)
    assert svc.platform("LS-KL-001").status == "rectification"
    assert [(d.years, d.start) for d in svc.unit(BIO).debarments.values()] == [
        (5, date(2025, 4, 1))
    ]


def test_a_debarment_is_dated_today_unless_given(svc: LedgerService) -> None:
    """`unit debar --from` is when the ban starts; the decision is dated today
    (or `--on`), as every other recording command is."""
    debar(svc, BIO, start=date(2020, 6, 1), scopes=["project-application"])
    (event,) = [e for e in svc.app.events.get(svc.unit(BIO).id) if type(e).__name__ == "Debarred"]
    assert event.effective_on == date.fromisoformat(os.environ["LEDGER_TODAY"])
    assert event.start == date(2020, 6, 1)


# --- idempotency across days --------------------------------------------------------------------


@pytest.fixture
def tomorrow() -> Iterator[None]:
    saved = os.environ["LEDGER_TODAY"]
    yield
    os.environ["LEDGER_TODAY"] = saved


def test_a_request_id_retried_the_next_day_replays_the_first_answer(
    svc: LedgerService, tomorrow: None
) -> None:
    """The effective date defaulted to "today" is not part of the request: the
    same command and id the next day records nothing and answers as before."""
    svc.propose(
        "LS-KL-005",
        name="某实验室",
        kind="key-laboratory",
        level="city",
        host=BIO,
        co_builders=[],
        actor=CLERK,
        on=date(2024, 1, 1),
    )
    first = svc.approve("LS-KL-005", doc_no="批", actor=CLERK, request_id="req-approve-5")
    today = date.fromisoformat(os.environ["LEDGER_TODAY"])
    os.environ["LEDGER_TODAY"] = date.fromordinal(today.toordinal() + 1).isoformat()
    again = svc.approve("LS-KL-005", doc_no="批", actor=CLERK, request_id="req-approve-5")
    assert again.replayed and (again.event, again.version) == (first.event, first.version)
    assert svc.platform("LS-KL-005").approved_on == today


def test_a_reward_line_without_an_entitlement_cites_the_articles_that_fix_rewards(
    svc: LedgerService,
) -> None:
    key_lab(svc)
    err = refused(
        svc,
        lambda: allocate_funds(
            svc, "1.00", category="reward", fiscal_year=2024, doc_no="拨", on=date(2024, 1, 5)
        ),
        FundingRefused,
    )
    assert "003 art. 17" in str(err) and "003 art. 23" in str(err)
    assert "art. 28" not in str(err)  # nothing was granted before: not a double benefit


def test_a_backdated_finding_is_recorded_when_its_blacklisting_is_already_covered(
    svc: LedgerService,
) -> None:
    """Task default (003 art. 25) blacklists; a second finding dated inside a
    later-closed entry is recorded, and says the standing entry covers it."""
    svc.blacklist(BIO, doc_no="黑1", reason="失信", actor=CLERK, on=date(2026, 3, 1))
    svc.unblacklist(BIO, doc_no="移1", reason="修复", actor=CLERK, on=date(2026, 9, 1))
    r = violation(
        svc,
        BIO,
        "task-default",
        occurred_on=date(2026, 4, 1),
        doc_no="拉科监〔2026〕6号",
        on=date(2026, 5, 1),
    )
    assert r.id == f"{BIO}:V2"  # ids count every entry of the unit (B1, then V2)
    assert any("not blacklisted again" in w for w in r.warnings)
    assert len(svc.unit(BIO).blacklist) == 1


def test_a_change_is_screened_like_a_proposal(svc: LedgerService) -> None:
    """A new host (or a co-builder joining) is screened on the approval date as
    at a proposal: a blacklisted unit cannot take a platform over."""
    key_lab(svc)
    svc.blacklist(JINGTU, doc_no="黑", reason="失信", actor=CLERK, on=date(2024, 1, 1))
    rid = request_change(
        svc,
        "LS-KL-001",
        "host-change",
        {"host": JINGTU},
        reason="依托单位调整",
        on=date(2024, 2, 1),
    ).id
    err = refused(
        svc,
        lambda: svc.approve_change(rid, doc_no="d", actor=CLERK, on=date(2024, 3, 1)),
        Ineligible,
    )
    assert f"new host {JINGTU}" in str(err) and "blacklist" in str(err)


def test_a_lead_change_to_a_member_keeps_the_consortium(svc: LedgerService) -> None:
    consortium(svc)
    new_lead = code(CONSORTIUM_MEMBERS[0])
    rid = request_change(
        svc,
        "XJ-UC-001",
        "lead-change",
        {"lead": new_lead},
        reason="牵头单位变更",
        on=date(2025, 5, 1),
    ).id
    svc.approve_change(rid, doc_no="新科变2号", actor=CLERK, on=date(2025, 6, 1))
    plat = svc.platform("XJ-UC-001")
    assert plat.host == new_lead and new_lead not in plat.co_builders
    # the old lead stays a member: 5 members, the shares unchanged (002 §2.2.1)
    assert LEAD in plat.co_builders and len(plat.co_builders) == 4
    assert svc.unit(new_lead).consortia_led_on(date(2025, 6, 1)) == [("XJ-UC-001", None)]
    assert svc.unit(LEAD).consortia_led_on(date(2025, 6, 1)) == []


def test_a_host_change_may_not_break_a_centres_composition(svc: LedgerService) -> None:
    """A centre led by an enterprise needs no enterprise co-builders; handed to
    a university it would need two (001 §3.3): the change is refused."""
    svc.propose(
        "XJ-TIC-009",
        name="新疆智能装备技术创新中心",
        kind="tech-innovation-center",
        level="regional",
        host=code("xj_robot"),
        co_builders=[],
        policy="xinjiang-tic",
        actor=CLERK,
        on=date(2025, 1, 2),
    )
    svc.approve("XJ-TIC-009", doc_no="新科发〔2025〕1号", actor=CLERK, on=date(2025, 2, 1))
    rid = request_change(
        svc,
        "XJ-TIC-009",
        "host-change",
        {"host": code("xj_u")},
        reason="牵头单位调整",
        on=date(2025, 3, 1),
    ).id
    err = refused(
        svc,
        lambda: svc.approve_change(rid, doc_no="新科变9号", actor=CLERK, on=date(2025, 3, 5)),
        CompositionRuleBroken,
    )
    assert "001 §3.3" in str(err.basis) and "enterprise" in err.message
    assert svc.platform("XJ-TIC-009").host == code("xj_robot")


# --- changes to a proposal, an outside lead, reports in time ---------------------------


def test_a_change_to_a_proposal_screens_the_units_it_brings_in(svc: LedgerService) -> None:
    """A blacklisted unit cannot join a proposal by a change request (003
    annex: 联合共建单位 screened as at application)."""
    zhizao = code("zhizao")
    svc.blacklist(
        zhizao, doc_no="拉科信〔2024〕1号", reason="失信", actor=CLERK, on=date(2024, 1, 2)
    )
    svc.propose(
        "LS-KL-009",
        name="某重点实验室",
        kind="key-laboratory",
        level="city",
        host=BIO,
        co_builders=[],
        actor=CLERK,
        on=date(2024, 1, 5),
    )
    rid = request_change(
        svc,
        "LS-KL-009",
        "co-builder-change",
        {"add": zhizao},
        reason="增加共建单位",
        on=date(2024, 1, 10),
    ).id
    err = refused(
        svc,
        lambda: svc.approve_change(rid, doc_no="拉科变1号", actor=CLERK, on=date(2024, 1, 12)),
        Ineligible,
    )
    assert zhizao in err.message and "blacklist" in err.message


def test_a_ban_on_a_co_builder_after_the_proposal_stops_the_approval(svc: LedgerService) -> None:
    svc.propose(
        "LS-KL-009",
        name="某重点实验室",
        kind="key-laboratory",
        level="city",
        host=BIO,
        co_builders=[TIBET_U],
        actor=CLERK,
        on=date(2024, 1, 5),
    )
    debar(
        svc,
        TIBET_U,
        start=date(2024, 2, 1),
        scopes=["platform-application"],
        doc_no="藏科监〔2024〕3号",
        reason="学术不端",
        on=date(2024, 2, 1),
    )
    err = refused(
        svc,
        lambda: svc.approve("LS-KL-009", doc_no="拉科发9号", actor=CLERK, on=date(2024, 3, 1)),
        Ineligible,
    )
    assert f"co-builder {TIBET_U}" in err.message and "SPEC §7" in err.message
    assert svc.platform("LS-KL-009").status == "proposed"


def test_an_outside_lead_joins_a_consortium_only_with_every_members_consent(
    svc: LedgerService,
) -> None:
    consortium(svc)
    outsider = JINGTU  # a high-tech enterprise: the shares hold with it
    members = [LEAD, *(code(k) for k in CONSORTIUM_MEMBERS)]
    bare = request_change(
        svc,
        "XJ-UC-001",
        "lead-change",
        {"lead": outsider},
        reason="牵头单位变更",
        on=date(2025, 5, 1),
    ).id
    refused(
        svc,
        lambda: svc.approve_change(bare, doc_no="新科变3号", actor=CLERK, on=date(2025, 6, 1)),
        Ineligible,
    )
    svc.withdraw_change(bare, reason="补充同意书", actor=CLERK, on=date(2025, 6, 2))
    agreed = request_change(
        svc,
        "XJ-UC-001",
        "lead-change",
        {"lead": outsider, "consents": ",".join(members)},
        reason="牵头单位变更",
        on=date(2025, 6, 3),
    ).id
    svc.approve_change(agreed, doc_no="新科变4号", actor=CLERK, on=date(2025, 6, 10))
    plat = svc.platform("XJ-UC-001")
    assert plat.host == outsider and set(plat.co_builders) == set(members)


def test_a_report_is_late_only_for_a_year_due_after_the_approval(svc: LedgerService) -> None:
    svc.propose(
        "LS-FS-009",
        name="某野外站",
        kind="field-station",
        level="city",
        host=BIO,
        co_builders=[],
        actor=CLERK,
        on=date(2024, 11, 1),
    )
    svc.approve("LS-FS-009", doc_no="拉科发10号", actor=CLERK, on=date(2024, 12, 15))
    svc.report("LS-FS-009", year=2024, actor=CLERK, on=date(2025, 1, 10))
    assert svc.platform("LS-FS-009").reports[2024]["late"] is False
    svc.report("LS-FS-009", year=2025, actor=CLERK, on=date(2025, 12, 10))
    assert svc.platform("LS-FS-009").reports[2025]["late"] is True


def test_a_report_filed_while_active_may_be_entered_after_a_delisting(
    svc: LedgerService,
) -> None:
    key_lab(svc)
    delist(svc, doc_no="拉科发〔2025〕8号", reason="调整", on=date(2025, 6, 1))
    svc.report("LS-KL-001", year=2024, actor=CLERK, on=date(2024, 11, 20))
    assert svc.platform("LS-KL-001").reports[2024]["late"] is False
    err = refused(
        svc,
        lambda: svc.report("LS-KL-001", year=2025, actor=CLERK, on=date(2025, 7, 1)),
        IllegalTransition,
    )
    assert "delisted" in err.message
