"""Read models (issue 3) on both backends: each model's handlers, as-of and
known-at boundaries, ban boundaries, the look-back window, agreement with a
replay of the aggregates, rebuild equality, a process killed mid-catch-up, and
concurrent catch-up."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from aggregates.eligibility import LookBack
from aggregates.errors import PlatformNotFound
from aggregates.values import SCOPES
from ledger.demo import load_demo
from ledger.reads import ReadModels, install, open_read
from ledger.service import LedgerService
from ledger.store import db
from projections.rebuild import rebuild
from projections.runner import MODEL_NAMES, catch_up, status
from projections.verify import verify
from tests.scenario import code, init_ledger, register_all

TODAY = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parents[2]


_stack = ExitStack()


@pytest.fixture
def svc(db_url: str) -> Iterator[LedgerService]:
    init_ledger(db_url)
    service = LedgerService(db_url)
    install(service)
    try:
        yield service
    finally:
        _stack.close()  # the readers' transactions, before the database goes
        service.close()


def read(service: LedgerService) -> ReadModels:
    """The read models caught up, over a fresh snapshot (closed after the test)."""
    return _stack.enter_context(open_read(service.cfg))


def d(text: str) -> date:
    return date.fromisoformat(text)


def lab(svc: LedgerService, code_: str = "LS-KL-009", host: str = "bio") -> None:
    svc.propose(
        code_,
        name="拉萨测试重点实验室",
        kind="key-laboratory",
        level="city",
        host=code(host),
        co_builders=[code("tibet_u")],
        actor="clerk",
        on=d("2023-04-01"),
    )


# --- platforms ------------------------------------------------------------------------------


def test_platform_as_of_day_before_of_and_after_a_status_change(svc: LedgerService) -> None:
    register_all(svc)
    lab(svc)
    svc.approve("LS-KL-009", doc_no="拉科发〔2023〕1号", actor="clerk", on=d("2023-06-01"))
    svc.evaluate(
        "LS-KL-009",
        cycle="2023-2025",
        grade="poor",
        doc_no="拉科发〔2026〕3号",
        actor="clerk",
        on=d("2026-03-10"),
    )
    rm = read(svc)
    before = rm.platform_show("LS-KL-009", d("2026-03-09"))
    on = rm.platform_show("LS-KL-009", d("2026-03-10"))
    after = rm.platform_show("LS-KL-009", d("2026-03-11"))
    assert (before["status"], before["status_since"]) == ("operating", "2023-06-01")
    assert before["rectification_due"] is None
    assert (on["status"], on["status_since"], on["rectification_due"]) == (
        "rectification",
        "2026-03-10",
        "2027-03-10",
    )
    assert after["status"] == "rectification"
    assert rm.platform_show("LS-KL-009", d("2023-05-31"))["status"] == "proposed"
    with pytest.raises(PlatformNotFound):
        rm.platform_show("LS-KL-009", d("2023-03-31"))
    with pytest.raises(PlatformNotFound):
        rm.platform_show("LS-XX-404", TODAY)
    # the status on a date, for reconciliation
    assert rm.platform_status_on("LS-KL-009", d("2026-03-09")) == "operating"
    assert rm.platform_status_on("LS-KL-009", d("2026-03-10")) == "rectification"
    assert rm.platform_status_on("LS-KL-009", d("2023-03-31")) is None
    # list as of a date
    listed = {p["code"]: p["status"] for p in rm.platform_list(d("2026-03-09"))}
    assert listed == {"LS-KL-009": "operating"}
    assert rm.platform_list(d("2026-03-10"), status="operating") == []
    assert [p["code"] for p in rm.platform_list(TODAY, status="rectification")] == ["LS-KL-009"]


def test_platform_known_at_ignores_late_entries(svc: LedgerService) -> None:
    register_all(svc)
    lab(svc)
    time.sleep(0.01)
    moment = datetime.now(UTC)
    time.sleep(0.01)
    # recorded after `moment`, effective long before it (a late entry)
    svc.approve("LS-KL-009", doc_no="拉科发〔2023〕1号", actor="clerk", on=d("2023-06-01"))
    svc.upgrade(
        "LS-KL-009", level="regional", doc_no="拉科发〔2024〕9号", actor="c", on=d("2024-01-01")
    )
    rm = read(svc)
    then = rm.platform_show("LS-KL-009", d("2024-06-30"), known_at=moment)
    now = rm.platform_show("LS-KL-009", d("2024-06-30"))
    assert (then["status"], then["level"], then["known_at"] is not None) == (
        "proposed",
        "city",
        True,
    )
    assert (now["status"], now["level"]) == ("operating", "regional")
    assert then["version"] == 1
    assert now["version"] == svc.platform("LS-KL-009").version
    # before the platform was recorded at all
    with pytest.raises(PlatformNotFound):
        rm.platform_show("LS-KL-009", TODAY, known_at=moment - timedelta(days=3650))


def test_change_approval_funding_and_reports(svc: LedgerService) -> None:
    register_all(svc)
    lab(svc)
    svc.approve("LS-KL-009", doc_no="A1", actor="c", on=d("2023-06-01"))
    rid = svc.request_change(
        "LS-KL-009",
        change_type="rename",
        details={"name": "拉萨高原健康重点实验室"},
        reason="拓展",
        actor="c",
        on=d("2024-01-10"),
    ).id
    assert rid is not None
    rm = read(svc)
    assert [c["id"] for c in rm.change_list(pending=True)] == [rid]
    svc.approve_change(rid, doc_no="A2", actor="c", on=d("2024-02-01"))
    svc.suspend("LS-KL-009", doc_no="S1", reason="评价未达标", actor="c", on=d("2024-03-01"))
    svc.report("LS-KL-009", year=2024, actor="c", on=d("2024-12-15"))
    rm = read(svc)
    assert rm.change_list(pending=True) == []
    [cr] = rm.change_list(platform="LS-KL-009")
    assert (cr["status"], cr["decided_on"], cr["applied"]) == (
        "approved",
        "2024-02-01",
        {"name": "拉萨高原健康重点实验室"},
    )
    assert rm.platform_show("LS-KL-009", d("2024-01-31"))["name"] == "拉萨测试重点实验室"
    shown = rm.platform_show("LS-KL-009", d("2024-03-01"))
    assert (shown["name"], shown["funding_suspended"]) == ("拉萨高原健康重点实验室", True)
    assert rm.platform_show("LS-KL-009", d("2024-02-29"))["funding_suspended"] is False
    overdue = rm.compliance_overdue(d("2026-12-01"))
    missing = sorted(o["due"] for o in overdue if o["issue"] == "annual-report-missing")
    assert missing == ["2023-11-30", "2025-11-30", "2026-11-30"]
    assert rm.compliance_overdue(d("2023-11-30")) == []


# --- units: bans, blacklist, look-back --------------------------------------------------------


def test_debarment_boundaries_leap_day_and_lifting(svc: LedgerService) -> None:
    register_all(svc)
    u = code("zhizao")
    svc.debar(
        u,
        years=3,
        start=d("2024-02-29"),
        scopes=["platform-application"],
        doc_no="D-1",
        reason="弄虚作假",
        basis="003 art. 25",
        actor="c",
    )
    rm = read(svc)

    def ids(day: str) -> list[str]:
        return [x["id"] for x in rm.debarred(d(day))]

    assert ids("2024-02-28") == []
    assert ids("2024-02-29") == [f"{u}:D1"]
    assert ids("2027-02-28") == [f"{u}:D1"]
    assert ids("2027-03-01") == []
    [item] = rm.debarred(d("2025-01-01"), scope="platform-application")
    assert (item["start"], item["end"], item["status"], item["years"]) == (
        "2024-02-29",
        "2027-03-01",
        "active",
        3,
    )
    assert rm.debarred(d("2025-01-01"), scope="consortium-lead") == []
    assert rm.debarred(d("2025-01-01"), name="拉萨智造") != []
    assert rm.debarred(d("2025-01-01"), name="新疆大学") == []
    shown = rm.unit_show(u, d("2027-03-01"))
    assert [x["status"] for x in shown["debarments"]] == ["expired"]
    svc.lift(u, "D1", doc_no="L-1", reason="信用修复", actor="c", on=d("2025-06-01"))
    rm = read(svc)
    assert ids("2025-05-31") == [f"{u}:D1"]
    assert ids("2025-06-01") == []
    assert [x["status"] for x in rm.unit_show(u, d("2025-06-01"))["debarments"]] == ["lifted"]
    ok, reasons = rm.eligibility(u, "platform-application", d("2025-05-31"), svc.default_policy)
    assert not ok and [(r.rule, r.until) for r in reasons] == [("debarment", d("2025-06-01"))]
    assert rm.debarment_on(u, d("2025-05-31")) is not None
    assert rm.debarment_on(u, d("2025-06-01")) is None


def test_blacklist_and_look_back_window(svc: LedgerService) -> None:
    register_all(svc)
    u = code("jingtu")
    svc.record_violation(
        u,
        kind="academic-misconduct",
        occurred_on=d("2024-05-10"),
        doc_no="V-1",
        actor="c",
        on=d("2024-08-01"),
        no_policy=True,
    )
    svc.blacklist(u, doc_no="B-1", reason="失信", actor="c", on=d("2024-09-01"))
    svc.unblacklist(u, doc_no="B-2", reason="修复", actor="c", on=d("2025-09-01"))
    rm = read(svc)
    pol = svc.default_policy

    def rules(day: str) -> list[tuple[str, date | None]]:
        return [
            (r.rule, r.until) for r in rm.eligibility(u, "platform-application", d(day), pol)[1]
        ]

    assert rules("2024-07-31") == []  # occurred, but not yet found
    assert rules("2024-08-01") == [("look-back", d("2026-05-10"))]
    assert rules("2024-09-01") == [
        ("blacklist", d("2025-09-01")),
        ("look-back", d("2026-05-10")),
    ]
    assert rules("2025-09-01") == [("look-back", d("2026-05-10"))]
    assert rules("2026-05-09") == [("look-back", d("2026-05-10"))]
    assert rules("2026-05-10") == []
    # the look-back is for platform applications only
    assert rm.eligibility(u, "project-application", d("2025-01-01"), pol)[1][0].rule == "blacklist"
    assert [b["id"] for b in rm.blacklist(d("2024-09-01"))] == [f"{u}:B2"]
    assert rm.blacklist(d("2025-09-01")) == []
    assert rm.blacklisting_on(u, d("2024-12-31")) is not None
    shown = rm.unit_show(u, d("2024-12-31"))
    assert shown["blacklisted"] is True and len(shown["violations"]) == 1
    assert rm.unit_show(u, d("2024-07-31"))["violations"] == []


def test_names_search_and_known_at(svc: LedgerService) -> None:
    register_all(svc)
    u = code("zhizao")
    svc.register_unit(
        code("keqiao")[:-1] + "X" if False else "91330621MA2B00002" + _check("91330621MA2B00002"),
        name="柯桥印染有限公司",
        unit_type="enterprise",
        high_tech=False,
        aliases=["柯桥印染"],
        actor="c",
        on=d("2021-01-01"),
    )
    moment = datetime.now(UTC)
    time.sleep(0.01)
    svc.rename_unit(u, name="拉萨智能制造股份有限公司", doc_no="R-1", actor="c", on=d("2024-07-01"))
    rm = read(svc)
    assert rm.unit_show(u, d("2024-06-30"))["name"] == "拉萨智造装备有限公司"
    now = rm.unit_show(u, d("2024-07-01"))
    assert now["name"] == "拉萨智能制造股份有限公司"
    assert now["former_names"] == [
        {"name": "拉萨智造装备有限公司", "since": "2020-01-02", "until": "2024-07-01"}
    ]
    assert rm.unit_show(u, TODAY, known_at=moment)["name"] == "拉萨智造装备有限公司"
    hits = rm.unit_search("拉萨智造", TODAY)
    assert hits[0]["code"] == u and hits[0]["matched"] == "拉萨智造装备有限公司"
    # a substring scores 50 + 50 × its share of the name (4 of 10 characters)
    assert hits[0]["score"] == 70 and hits[0]["name"] == "拉萨智能制造股份有限公司"
    assert rm.unit_search("柯桥印染", TODAY)[0]["score"] == 100
    assert rm.unit_search(u, TODAY)[0] == {
        "code": u,
        "name": "拉萨智能制造股份有限公司",
        "matched": u,
        "score": 100,
        "debarred": False,
        "blacklisted": False,
    }
    assert rm.unit_search("完全无关的名称", TODAY) == []
    assert rm.unit_codes_by_name("拉萨智造装备有限公司") == [u]
    assert rm.unit_names()["柯桥印染"].startswith("91330621MA2B00002")


def _check(first17: str) -> str:
    from aggregates.values import credit_code_check_char

    return credit_code_check_char(first17)


# --- funds --------------------------------------------------------------------------------------


def test_funds_summary_as_of_and_payments(svc: LedgerService) -> None:
    register_all(svc)
    lab(svc)
    svc.approve("LS-KL-009", doc_no="A1", actor="c", on=d("2023-06-01"))
    svc.allocate(
        "LS-KL-009",
        category="subsidy",
        amount=Decimal("500000.00"),
        fiscal_year=2023,
        doc_no="F-1",
        actor="c",
        on=d("2023-06-10"),
    )
    svc.allocate(
        "LS-KL-009",
        category="operation",
        amount=Decimal("300000.50"),
        fiscal_year=2024,
        doc_no="F-2",
        actor="c",
        on=d("2024-01-10"),
    )
    for v, amt, on in (("V-1", "100000.25", "2024-02-01"), ("V-2", "50000.00", "2024-03-01")):
        svc.disburse(
            "LS-KL-009",
            category="operation",
            amount=Decimal(amt),
            fiscal_year=2024,
            voucher=v,
            actor="c",
            on=d(on),
        )
    svc.reverse("LS-KL-009", voucher="V-2", reason="重复", actor="c", on=d("2024-03-05"))
    svc.recover(
        "LS-KL-009",
        category="operation",
        fiscal_year=2024,
        amount=Decimal("0.25"),
        doc_no="R-1",
        reason="追回",
        actor="c",
        on=d("2024-04-01"),
    )
    rm = read(svc)
    lines = {(x["category"], x["fiscal_year"]): x for x in rm.funds_summary(TODAY)}
    op = lines[("operation", 2024)]
    assert (op["allocated"], op["disbursed"], op["reversed"], op["recovered"]) == (
        Decimal("300000.50"),
        Decimal("150000.25"),
        Decimal("50000.00"),
        Decimal("0.25"),
    )
    assert op["net"] == Decimal("100000.00") and op["remaining"] == Decimal("200000.25")
    assert op["entitled"] is None
    assert lines[("subsidy", 2023)]["entitled"] == Decimal("500000.00")
    then = {
        (x["category"], x["fiscal_year"]): x
        for x in rm.funds_summary(d("2024-03-04"), platform="LS-KL-009")
    }
    assert then[("operation", 2024)]["reversed"] == Decimal("0.00")
    assert then[("operation", 2024)]["disbursed"] == Decimal("150000.25")
    assert then[("subsidy", 2023)]["entitled"] == Decimal("500000.00")
    assert rm.funds_summary(TODAY, fiscal_year=2023)[0]["category"] == "subsidy"
    pays = rm.payments(fiscal_year=2024)
    assert [(p.voucher, p.amount, p.reversed_on) for p in pays] == [
        ("V-1", Decimal("100000.25"), None),
        ("V-2", Decimal("50000.00"), d("2024-03-05")),
    ]
    assert rm.allocated("LS-KL-009", "operation", 2024) == Decimal("300000.50")
    assert rm.allocated("LS-KL-009", "research", 2024) == Decimal("0.00")


# --- agreement with the aggregates, rebuild, verify --------------------------------------------

DATES = [
    d(x)
    for x in (
        "2023-01-04",
        "2023-06-01",
        "2024-06-30",
        "2025-06-30",
        "2026-03-10",
        "2026-06-10",
        "2026-11-23",
        "2027-06-01",
        "2031-03-10",
    )
]


def test_read_models_agree_with_a_replay_of_the_aggregates(svc: LedgerService) -> None:
    loaded = load_demo(svc)
    rm = read(svc)
    for p in rm.platform_list(TODAY):
        agg = svc.platform(p["code"])
        shown = rm.platform_show(p["code"], TODAY)
        assert (shown["status"], shown["status_since"], shown["name"], shown["level"]) == (
            agg.status,
            agg.status_since.isoformat(),
            agg.name,
            agg.level,
        )
        assert (shown["host_unit"], shown["co_builders"], shown["version"]) == (
            agg.host,
            agg.co_builders,
            agg.version,
        )
        assert shown["rectification_due"] == (
            agg.rectification_due.isoformat() if agg.rectification_due else None
        )
        assert shown["construction_ends"] == (
            agg.construction_ends.isoformat() if agg.construction_ends else None
        )
        assert shown["funding_suspended"] == agg.funding_suspended
        for day in DATES:
            assert rm.platform_status_on(p["code"], day) == agg.status_on(day)
        lines = {
            (x["category"], x["fiscal_year"]): x
            for x in rm.funds_summary(TODAY, platform=p["code"])
        }
        assert set(lines) == {(ln.category, ln.fiscal_year) for ln in agg.lines.values()}
        for ln in agg.lines.values():
            mine = lines[(ln.category, ln.fiscal_year)]
            assert (mine["allocated"], mine["disbursed"], mine["reversed"], mine["recovered"]) == (
                ln.allocated,
                ln.disbursed,
                ln.reversed,
                ln.recovered,
            )
            assert mine["entitled"] == ln.entitled
        history = rm.history(aggregate="platform", code=p["code"])
        assert [h["version"] for h in history] == list(range(1, agg.version + 1))
    pol = svc.default_policy
    lb = pol.look_back
    assert lb is not None
    for unit_code in loaded["units"].values():
        agg_u = svc.unit(unit_code)
        shown = rm.unit_show(unit_code, TODAY)
        assert shown["name"] == agg_u.name
        with db.connect(svc.cfg) as conn:
            row = db.fetchone(conn, "SELECT name FROM rm_unit WHERE code = ?", (unit_code,))
        assert row is not None and row["name"] == agg_u.name  # rm_unit.name = name_on
        assert [v["id"] for v in shown["violations"]] == list(agg_u.violations)
        assert [x["id"] for x in shown["debarments"]] == list(agg_u.debarments)
        for day in DATES:
            for purpose in SCOPES:
                reasons = rm.eligibility(unit_code, purpose, day, pol)[1]
                theirs = svc.eligibility_reasons(agg_u, purpose, day, pol)
                assert reasons == theirs, (unit_code, purpose, day)
            assert (rm.debarment_on(unit_code, day) is not None) == any(
                x.active_on(day) for x in agg_u.debarments.values()
            )
            assert (rm.blacklisting_on(unit_code, day) is not None) == any(
                b.active_on(day) for b in agg_u.blacklist.values()
            )
    assert LookBack(lb.years, lb.basis, tuple(lb.purposes))
    report = verify(svc.cfg)
    assert report.ok, report.differences
    before = _dump(svc)
    _stack.close()  # a rebuild's swap waits for open readers (PostgreSQL)
    rebuild(svc.cfg, progress=False)
    assert _dump(svc) == before
    assert verify(svc.cfg).ok


def _dump(svc: LedgerService) -> dict[str, list[dict[str, object]]]:
    from projections.base import MODEL_TABLES, TABLE_KEYS

    out = {}
    with db.connect(svc.cfg) as conn:
        for tables in MODEL_TABLES.values():
            for t in tables:
                out[t] = db.fetchall(conn, f"SELECT * FROM {t} ORDER BY {', '.join(TABLE_KEYS[t])}")
    return out


def test_verify_reports_a_tampered_read_model(svc: LedgerService) -> None:
    register_all(svc)
    lab(svc)
    catch_up(svc)
    with db.connect(svc.cfg, write=True) as conn:
        db.execute(conn, "UPDATE rm_platform SET status = 'operating' WHERE code = 'LS-KL-009'")
        db.execute(conn, "DELETE FROM rm_unit WHERE code = ?", (code("bio"),))
    report = verify(svc.cfg)
    assert not report.ok
    text = "\n".join(report.differences)
    assert "rm_platform {'code': 'LS-KL-009'}: status is 'operating'" in text
    assert "missing from the live table" in text
    rebuild(svc.cfg, progress=False)
    assert verify(svc.cfg).ok


# --- crash and concurrency ------------------------------------------------------------------

KILLER = """
import os, signal, sys
from ledger.store import db
from projections.runner import catch_up
seen = []
def hook(nid):
    seen.append(nid)
    if len(seen) == int(sys.argv[2]):
        os.kill(os.getpid(), signal.SIGKILL)
catch_up(db.parse_db_url(sys.argv[1]), batch_size=7, hook=hook)
"""


def test_killed_mid_catch_up_then_any_command_leaves_models_equal_to_a_rebuild(
    db_url: str,
) -> None:
    init_ledger(db_url)
    service = LedgerService(db_url)  # no hook: a backlog builds up
    try:
        load_demo(service)
    finally:
        service.close()
    cfg = db.parse_db_url(db_url)
    proc = subprocess.run(
        [sys.executable, "-c", KILLER, db_url, "40"], cwd=ROOT, capture_output=True, timeout=60
    )
    assert proc.returncode == -9, proc.stderr.decode()
    positions = {s["model"]: s["notification_id"] for s in status(cfg)}
    assert set(positions.values()) == {35}  # five batches of 7 committed, the sixth lost
    assert verify(cfg).ok
    run = subprocess.run(
        [str(ROOT / ".venv/bin/ledger"), "--db", db_url, "projections", "verify"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stdout + run.stderr
    assert "equal to a rebuild" in run.stdout
    assert all(s["lag"] == 0 for s in status(cfg))


def test_concurrent_catch_up_does_not_double_apply(db_url: str) -> None:
    init_ledger(db_url)
    service = LedgerService(db_url)
    try:
        load_demo(service)
        head = service.app.recorder.max_notification_id()
    finally:
        service.close()
    cfg = db.parse_db_url(db_url)
    errors: list[BaseException] = []
    applied: list[int] = []

    def worker() -> None:
        try:
            applied.append(catch_up(cfg, batch_size=5).applied)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert sum(applied) == head
    with db.connect(cfg) as conn:
        n = db.fetchone(conn, "SELECT COUNT(*) AS n FROM rm_history")
    assert n is not None and int(n["n"]) == head
    assert verify(cfg).ok
    assert {s["model"] for s in status(cfg)} == set(MODEL_NAMES)
