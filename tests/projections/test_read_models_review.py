"""Read models, second review (both backends): answers as of a date whatever
"today" is, a rebuild that never holds up recording (and survives being
killed), tampered tracking positions, index-backed queries, unit names,
debarments as of a date, screening by name and code, bounded verify."""

from __future__ import annotations

import os
import select
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import Tracking

import projections.rebuild as rebuilder
import projections.verify as verifying
from aggregates.errors import UnitNotFound
from aggregates.unit import Unit
from ledger.demo import load_demo
from ledger.reads import ReadModels, install, open_read
from ledger.service import LedgerService
from ledger.store import db
from projections import base, funds, history, runner
from projections.handlers.registry import RegistryProjection
from projections.handlers.units import UnitProjection
from projections.rebuild import rebuild
from projections.runner import catch_up, status
from projections.units import standing
from projections.verify import verify
from projections.view import ReadModelView
from tests.scenario import code, credit_code, init_ledger, register_all

TODAY = date(2026, 11, 23)
ROOT = Path(__file__).resolve().parents[2]
LEDGER = str(ROOT / ".venv/bin/ledger")

_stack = ExitStack()


@pytest.fixture
def svc(db_url: str) -> Iterator[LedgerService]:
    init_ledger(db_url)
    service = LedgerService(db_url)
    install(service)
    try:
        yield service
    finally:
        _stack.close()
        service.close()


@pytest.fixture
def demo_url(db_url: str) -> str:
    """A demo ledger with its read models caught up."""
    init_ledger(db_url)
    service = LedgerService(db_url)
    try:
        load_demo(service)
        catch_up(service)
    finally:
        service.close()
    return db_url


def read(service: LedgerService) -> ReadModels:
    return _stack.enter_context(open_read(service.cfg))


def d(text: str) -> date:
    return date.fromisoformat(text)


def lab(svc: LedgerService, code_: str = "LS-KL-009") -> None:
    svc.propose(
        code_,
        name="拉萨测试重点实验室",
        kind="key-laboratory",
        level="city",
        host=code("bio"),
        co_builders=[code("tibet_u")],
        actor="clerk",
        on=d("2023-04-01"),
    )


def ledger(
    url: str, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [LEDGER, "--db", url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


# --- 1. as of a date on or after "today" ------------------------------------------------------


def test_lists_as_of_a_date_after_today_agree_with_platform_show(svc: LedgerService) -> None:
    """`today` earlier than recorded events (another run's LEDGER_TODAY): the
    current rows are not the state on a date before those events."""
    register_all(svc)
    lab(svc)
    svc.approve("LS-KL-009", doc_no="A1", actor="c", on=d("2023-06-01"))
    svc.allocate(
        "LS-KL-009",
        category="operation",
        amount=Decimal("300000.00"),
        fiscal_year=2026,
        doc_no="F-1",
        actor="c",
        on=d("2026-01-10"),
    )
    svc.disburse(
        "LS-KL-009",
        category="operation",
        amount=Decimal("1000.00"),
        fiscal_year=2026,
        voucher="V-1",
        actor="c",
        on=d("2026-02-01"),
    )
    svc.disburse(
        "LS-KL-009",
        category="operation",
        amount=Decimal("2000.00"),
        fiscal_year=2026,
        voucher="V-2",
        actor="c",
        on=d("2026-03-01"),
    )
    svc.evaluate(
        "LS-KL-009", cycle="2023-2025", grade="poor", doc_no="E1", actor="c", on=d("2026-03-10")
    )
    svc.delist(
        "LS-KL-009",
        reason_code="misconduct",
        doc_no="X1",
        reason="学术不端",
        actor="c",
        on=d("2026-04-01"),
        no_policy=True,
    )
    rm = read(svc)
    for day in (d("2026-02-15"), d("2026-03-10"), d("2026-03-31"), d("2026-04-01")):
        shown = rm.platform_show("LS-KL-009", day)
        [listed] = rm.platform_list(day)
        assert (listed["status"], listed["status_since"], listed["rectification_due"]) == (
            shown["status"],
            shown["status_since"],
            shown["rectification_due"],
        ), day
        assert rm.platform_list(day, status=shown["status"]) == [listed]
    [line] = rm.funds_summary(d("2026-02-15"))
    assert (line["disbursed"], line["remaining"]) == (Decimal("1000.00"), Decimal("299000.00"))
    assert rm.funds_summary(d("2026-01-05")) == []
    # operating on 2026-02-15 (delisted since): its missing 2023-2025 reports are overdue
    overdue = rm.compliance_overdue(d("2026-02-15"))
    assert sorted(o["due"] for o in overdue if o["issue"] == "annual-report-missing") == [
        "2023-11-30",
        "2024-11-30",
        "2025-11-30",
    ]
    assert all(o["status"] == "operating" for o in overdue)
    assert rm.compliance_overdue(d("2026-04-01")) == []


# --- 2. rebuild: recording is never held up; killed, the live models stay ---------------------

# A rebuild slowed down (or killed) per batch of 5 (7) events, whatever its
# internals: through the view's bind, which every batch calls first.
SLOW_REBUILD = """
import os, signal, sys, time
from ledger.store import db
from projections import view as base
from projections.rebuild import rebuild
batches = []
bind = base.ReadModelView.bind
def slow_bind(self, conn):
    if conn is not None:
        batches.append(1)
        if len(batches) == 1:
            print("started", flush=True)
        if len(batches) == int(sys.argv[3]):
            os.kill(os.getpid(), signal.SIGKILL)
        time.sleep(float(sys.argv[2]))
    bind(self, conn)
base.ReadModelView.bind = slow_bind
rebuild(db.parse_db_url(sys.argv[1]), batch_size=int(sys.argv[4]), progress=False)
print("done", flush=True)
"""


def _wait_line(proc: subprocess.Popen[str], timeout: float = 60) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "no output from the rebuild"
    return proc.stdout.readline().strip()


def test_recording_and_reading_during_a_rebuild_are_not_held_up(demo_url: str) -> None:
    before = ledger(demo_url, "platform", "list", "--format", "json")
    assert before.returncode == 0
    proc = subprocess.Popen(
        [sys.executable, "-c", SLOW_REBUILD, demo_url, "0.6", "0", "5"],  # ~12 s: 20 batches
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_line(proc) == "started"
        time.sleep(0.5)
        new = credit_code("91540100MA9T00042")
        began = time.monotonic()
        rec = ledger(
            demo_url,
            "--actor",
            "clerk",
            "unit",
            "register",
            new,
            "--name",
            "重建期间登记的单位",
            "--type",
            "enterprise",
        )
        took = time.monotonic() - began
        assert rec.returncode == 0, rec.stderr
        assert "warning" not in rec.stderr and "locked" not in rec.stderr
        assert took < 6, f"recording waited {took:.1f}s for the rebuild"
        # readers see the live models (caught up with the write) meanwhile
        during = ledger(demo_url, "platform", "list", "--format", "json")
        assert during.returncode == 0 and during.stdout == before.stdout
        shown = ledger(demo_url, "unit", "show", new, "--format", "json")
        assert shown.returncode == 0, shown.stderr
        assert proc.poll() is None, "the rebuild should still be running"
        assert _wait_line(proc, 120) == "done", proc.stderr.read() if proc.stderr else ""
    finally:
        proc.kill()
        proc.wait()
    cfg = db.parse_db_url(demo_url)
    assert verify(cfg).ok
    assert ledger(demo_url, "unit", "show", new).returncode == 0  # swapped in with the write
    with db.connect(cfg) as conn:
        assert rebuilder._tables_with_prefix(conn, rebuilder.SHADOW_PREFIX) == []
        assert rebuilder._tables_with_prefix(conn, rebuilder.OLD_PREFIX) == []


def test_catch_up_after_a_write_does_not_wait_for_the_lock(pg_url: str) -> None:
    """PostgreSQL: while another process holds the catch-up lock (a rebuild
    swapping in), a recording command returns at once, quietly; the next
    command catches up."""
    init_ledger(pg_url)
    holder = psycopg.connect(pg_url)  # the lock lasts until its transaction ends
    try:
        holder.execute(runner.PG_CATCHUP_LOCK)
        began = time.monotonic()
        rec = ledger(
            pg_url,
            "--actor",
            "clerk",
            "unit",
            "register",
            code("bio"),
            "--name",
            "拉萨高原生物科技有限公司",
            "--type",
            "enterprise",
        )
        assert rec.returncode == 0, rec.stderr
        assert time.monotonic() - began < 10
        assert "warning" not in rec.stderr
    finally:
        holder.close()
    shown = ledger(pg_url, "unit", "show", code("bio"), "--format", "json")
    assert shown.returncode == 0 and shown.stderr == ""


def test_killed_rebuild_leaves_the_live_models_intact(demo_url: str) -> None:
    cfg = db.parse_db_url(demo_url)
    listed = ledger(demo_url, "platform", "list", "--format", "json").stdout
    positions = {s["model"]: s["notification_id"] for s in status(cfg)}
    proc = subprocess.run(
        [sys.executable, "-c", SLOW_REBUILD, demo_url, "0", "6", "7"],  # killed in batch 6
        cwd=ROOT,
        capture_output=True,
        timeout=120,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()
    with db.connect(cfg) as conn:
        assert rebuilder._tables_with_prefix(conn, rebuilder.SHADOW_PREFIX)  # the half-built shadow
    assert {s["model"]: s["notification_id"] for s in status(cfg)} == positions
    assert verify(cfg).ok
    assert ledger(demo_url, "platform", "list", "--format", "json").stdout == listed
    # recording and reading go on; the next rebuild drops the leftovers
    rec = ledger(demo_url, "--actor", "c", "platform", "report", "LS-KL-001", "--year", "2026")
    assert rec.returncode == 0, rec.stderr
    again = ledger(demo_url, "projections", "rebuild")
    assert again.returncode == 0, again.stderr
    with db.connect(cfg) as conn:
        assert rebuilder._tables_with_prefix(conn, rebuilder.SHADOW_PREFIX) == []
        assert rebuilder._tables_with_prefix(conn, rebuilder.OLD_PREFIX) == []
    assert verify(cfg).ok
    assert ledger(demo_url, "projections", "verify").returncode == 0


def test_concurrent_rebuilds_take_turns_and_say_so(demo_url: str) -> None:
    """Rebuilds started together, and one started while another is replaying:
    each ends with success or the one "took over" line (exit 1), never an
    unexpected database error; the models end equal to a rebuild with no
    shadow tables left."""
    slow = subprocess.Popen(
        [sys.executable, "-c", SLOW_REBUILD, demo_url, "0.5", "0", "5"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert _wait_line(slow) == "started"
        racers = [
            subprocess.Popen(
                [LEDGER, "--db", demo_url, "projections", "rebuild"],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outcomes = []
        for racer in racers:
            _, err = racer.communicate(timeout=180)
            outcomes.append((racer.returncode, err))
        slow_out, slow_err = slow.communicate(timeout=180)
    finally:
        slow.kill()
        slow.wait()
    took_over = "another `ledger projections rebuild` started and took over"
    for rc, err in outcomes:
        assert rc == 0 or (rc == 1 and err.count("\n") == 1 and took_over in err), err
    assert any(rc == 0 for rc, _ in outcomes), outcomes
    # the slow one was taken over (its shadows replaced)
    assert "done" not in slow_out and took_over in slow_err, slow_err
    cfg = db.parse_db_url(demo_url)
    assert verify(cfg).ok
    with db.connect(cfg) as conn:
        assert rebuilder._tables_with_prefix(conn, rebuilder.SHADOW_PREFIX) == []
        assert rebuilder._tables_with_prefix(conn, rebuilder.OLD_PREFIX) == []


def test_rebuild_keeps_keys_indexes_and_grants(demo_url: str) -> None:
    cfg = db.parse_db_url(demo_url)

    def shape() -> set[tuple[str, str]]:
        with db.connect(cfg) as conn:
            if cfg.backend == "sqlite":
                rows = db.fetchall(
                    conn,
                    "SELECT tbl_name AS t, name FROM sqlite_master WHERE type = 'index' "
                    "AND tbl_name LIKE 'rm\\_%' ESCAPE '\\'",
                )
                # SQLite: an index carries one of its two names (NAME / NAME__r)
                return {(r["t"], str(r["name"]).removesuffix("__r")) for r in rows}
            rows = db.fetchall(
                conn,
                "SELECT tablename AS t, indexname AS name FROM pg_indexes "
                "WHERE schemaname = 'public' AND tablename LIKE 'rm\\_%'",
            )
            return {(r["t"], r["name"]) for r in rows}

    before = shape()
    if cfg.backend == "postgresql":
        with psycopg.connect(demo_url, autocommit=True) as conn:
            conn.execute("DROP ROLE IF EXISTS rm_review_reader")
            conn.execute("CREATE ROLE rm_review_reader")
            conn.execute("GRANT SELECT ON rm_history TO rm_review_reader")
    try:
        for _ in range(2):  # twice: SQLite's index names go there and back
            rebuild(cfg, progress=False)
            assert shape() == before
            assert verify(cfg).ok
        if cfg.backend == "postgresql":
            with db.connect(cfg) as conn:
                row = db.fetchone(
                    conn,
                    "SELECT has_table_privilege('rm_review_reader', 'rm_history', 'SELECT') AS ok",
                )
                assert row is not None and row["ok"] is True
                cons = db.fetchall(
                    conn, "SELECT conname FROM pg_constraint WHERE conname LIKE 'rm\\_%'"
                )
                assert not [c for c in cons if str(c["conname"]).endswith("__r")]
    finally:
        if cfg.backend == "postgresql":
            with psycopg.connect(demo_url, autocommit=True) as conn:
                conn.execute("REVOKE ALL ON rm_history FROM rm_review_reader")
                conn.execute("DROP ROLE IF EXISTS rm_review_reader")


# --- 3. a tampered tracking position --------------------------------------------------------


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE rm_tracking SET notification_id = 90 WHERE projection = 'history'",
        "DELETE FROM rm_tracking WHERE projection = 'history'",
        "UPDATE rm_tracking SET notification_id = 20 WHERE projection = 'funds'",
    ],
)
def test_tampered_tracking_is_reported_not_a_crash(demo_url: str, tamper: str) -> None:
    cfg = db.parse_db_url(demo_url)
    with db.connect(cfg, write=True) as conn:
        db.execute(conn, tamper)
    result = catch_up(cfg)
    model = "history" if "history" in tamper else "funds"
    assert set(result.inconsistent) == {model}
    assert "ahead of its tracking position" in result.inconsistent[model]
    out = ledger(demo_url, "projections", "verify")
    assert out.returncode == 1, out.stderr
    assert "unexpected" not in out.stderr and "Traceback" not in out.stderr
    assert f"{model}: its rows are ahead of its tracking position" in out.stdout
    assert "run `ledger projections rebuild`" in out.stdout
    assert "difference(s)" in out.stdout
    # queries keep working, with one line saying what to do
    for args in (
        ("platform", "list"),
        ("history", "--platform", "LS-KL-001"),
        ("funds", "summary"),
    ):
        q = ledger(demo_url, *args)
        assert q.returncode == 0, q.stderr
        lines = [ln for ln in q.stderr.splitlines() if ln.strip()]
        assert len(lines) == 1 and "ledger projections rebuild" in lines[0], q.stderr
    # recording too (the after-write catch-up warns, the write stands)
    rec = ledger(demo_url, "--actor", "c", "platform", "report", "LS-KL-001", "--year", "2026")
    assert rec.returncode == 0, rec.stderr
    assert ledger(demo_url, "projections", "rebuild").returncode == 0
    fixed = ledger(demo_url, "projections", "verify")
    assert fixed.returncode == 0 and fixed.stderr == ""


def test_tracking_beyond_the_head_is_a_difference(demo_url: str) -> None:
    cfg = db.parse_db_url(demo_url)
    with db.connect(cfg, write=True) as conn:
        db.execute(
            conn, "UPDATE rm_tracking SET notification_id = 1000000 WHERE projection = 'units'"
        )
    report = verify(cfg)
    assert not report.ok
    assert any("beyond the ledger's head" in x for x in report.differences)


# --- 4. query plans ---------------------------------------------------------------------------


def _plan(conn: db.DbConnection, sql: str, params: list[Any]) -> str:
    if conn.__class__.__module__ == "sqlite3":
        rows = db.fetchall(conn, "EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(r["detail"]) for r in rows)
    db.execute(conn, "SET LOCAL enable_seqscan = off")  # tiny tables: is there an index at all?
    rows = db.fetchall(conn, "EXPLAIN " + sql, params)
    return "\n".join(str(next(iter(r.values()))) for r in rows)


def test_history_range_funds_as_of_and_status_are_index_probes(demo_url: str) -> None:
    cfg = db.parse_db_url(demo_url)
    with db.connect(cfg) as conn:
        for since, until in ((d("2025-01-01"), d("2025-12-31")), (d("2026-06-01"), None)):
            sql, params = history.history_query(since=since, until=until)
            plan = _plan(conn, sql, params)
            assert "rm_history_on_idx" in plan, plan
        sql, params = funds.dated_lines_query(cfg.backend == "sqlite", "2025-06-01")
        plan = _plan(conn, sql, params)
        assert "rm_fund_event_asof_idx" in plan, plan
        if cfg.backend == "sqlite":
            assert "COVERING INDEX" in plan, plan
        plan = _plan(conn, runner.SEQ_OF_SQL, [50])
        assert "event_chain" in plan and ("INDEX" in plan.upper()), plan
    # and the answers: a line probed on a past date = its events summed then
    with open_read(cfg) as rm:
        for day in (d("2024-06-30"), d("2025-06-30"), TODAY):
            for line in rm.funds_summary(day):
                with db.connect(cfg) as conn:
                    rows = db.fetchall(
                        conn,
                        "SELECT amount FROM rm_fund_event WHERE platform = ? AND category = ? "
                        "AND fiscal_year = ? AND movement = 'disbursed' AND effective_on <= ?",
                        (line["platform"], line["category"], line["fiscal_year"], day.isoformat()),
                    )
                    total = sum(
                        (base.money_from_db(conn, r["amount"]) or Decimal(0) for r in rows),
                        Decimal("0.00"),
                    )
                assert line["disbursed"] == total


# --- 5-7. units as of a date ------------------------------------------------------------------


def test_unit_show_before_registration_answers_under_the_registered_name(
    svc: LedgerService,
) -> None:
    """The unit existed before the ledger knew it: screened on an earlier date
    it shows the name it was registered with and nothing decided; only a
    moment before anything was recorded does not know it."""
    u = code("zhizao")
    moment = datetime.now(UTC) - timedelta(days=1)
    register_all(svc, on=d("2021-03-01"))
    rm = read(svc)
    early = rm.unit_show(u, d("2021-02-28"))
    assert early["name"] == "拉萨智造装备有限公司" and early["debarments"] == []
    assert rm.unit_show(u, d("2021-03-01"))["name"] == "拉萨智造装备有限公司"
    with pytest.raises(UnitNotFound):
        rm.unit_show(u, TODAY, known_at=moment)


def _unit_events(renames: list[tuple[str, str]]) -> list[Any]:
    """A unit's events, renames dated as given (in any order: the projection
    must not depend on the domain's date-order rule)."""
    from aggregates.meta import Meta

    u = Unit(
        code=code("zhizao"),
        name="拉萨智造装备有限公司",
        unit_type="enterprise",
        high_tech=False,
        aliases=["拉萨智造"],
        actor="c",
        effective_on=d("2020-01-02"),
        doc_no=None,
        reason=None,
        basis=None,
    )
    for name, on in renames:
        meta = Meta(actor="c", effective_on=d(on), doc_no="R")
        u.trigger_event(Unit.Renamed, name=name, former_name=u.name, **meta.fields())
    return list(u.collect_events())


def _project(events: list[Any]) -> Any:
    scratch = verifying.scratch_models()
    view = ReadModelView(scratch)
    projections = [RegistryProjection(view), UnitProjection(view)]
    scratch.execute("BEGIN")
    for nid, e in enumerate(events, start=1):
        view.seq = view.notification_id = nid
        for p in projections:
            p.process_event(e, Tracking(p.name, nid))
    view.flush()  # the buffered writes, sent at the end of a batch as apply_batch does
    scratch.execute("COMMIT")
    return scratch


def test_current_name_is_the_newest_by_date_then_version() -> None:
    u = code("zhizao")
    # same-day renames: the later one is the name; a rename dated before another
    for renames, current in (
        ([("甲公司", "2024-07-01"), ("乙公司", "2024-07-01")], "乙公司"),
        ([("甲公司", "2024-07-01"), ("乙公司", "2023-01-01")], "甲公司"),
    ):
        scratch = _project(_unit_events(renames))
        row = db.fetchone(scratch, "SELECT name FROM rm_unit WHERE code = ?", (u,))
        s = standing(scratch, u)
        assert row is not None and row["name"] == current == s.name_on(TODAY)
        formers = [f["name"] for f in s.former_names(TODAY)]
        assert current not in formers and len(formers) == 2
        scratch.close()


def test_unit_show_as_of_shows_only_what_was_decided_and_in_force(svc: LedgerService) -> None:
    register_all(svc)
    u = code("jingtu")
    # decided 2025-01-10, from 2025-02-01; lifted on 2026-01-15
    svc.debar(
        u,
        years=3,
        start=d("2025-02-01"),
        scopes=["platform-application"],
        doc_no="D-1",
        reason="r",
        actor="c",
        on=d("2025-01-10"),
    )
    svc.lift(u, "D1", doc_no="L-1", reason="修复", actor="c", on=d("2026-01-15"))
    # decided 2026-06-01 for a later start; and one dated back before its decision
    svc.debar(
        u,
        years=3,
        start=d("2027-01-01"),
        scopes=["project-application"],
        doc_no="D-2",
        reason="r",
        actor="c",
        on=d("2026-06-01"),
    )
    svc.debar(
        u,
        years=3,
        start=d("2024-01-01"),
        scopes=["consortium-lead"],
        doc_no="D-3",
        reason="r",
        actor="c",
        on=d("2026-06-02"),
    )
    svc.blacklist(u, doc_no="B-1", reason="失信", actor="c", on=d("2025-03-01"))
    svc.unblacklist(u, doc_no="B-2", reason="修复", actor="c", on=d("2026-03-01"))
    rm = read(svc)

    def debarments(day: str) -> dict[str, tuple[str, str | None]]:
        shown = rm.unit_show(u, d(day))
        return {
            x["id"].rsplit(":", 1)[1]: (x["status"], x["lifted_on"]) for x in shown["debarments"]
        }

    assert debarments("2025-01-09") == {"D3": ("active", None)}
    assert debarments("2025-01-10") == {
        "D1": ("not-yet-in-force", None),
        "D3": ("active", None),
    }
    assert debarments("2025-06-01") == {"D1": ("active", None), "D3": ("active", None)}
    assert debarments("2026-01-15") == {"D1": ("lifted", "2026-01-15"), "D3": ("active", None)}
    assert debarments("2026-06-01")["D2"] == ("not-yet-in-force", None)
    assert debarments("2027-01-01")["D2"] == ("active", None)
    # the same debarments `debarred` lists in force on those dates
    assert {x["id"] for x in rm.debarred(d("2025-06-01")) if x["unit"] == u} == {
        f"{u}:D1",
        f"{u}:D3",
    }
    shown = rm.unit_show(u, d("2025-06-01"))
    [entry] = shown["blacklist"]
    assert (entry["status"], entry["removed_on"], shown["blacklisted"]) == ("active", None, True)
    [entry] = rm.unit_show(u, d("2026-03-01"))["blacklist"]
    assert (entry["status"], entry["removed_on"]) == ("removed", "2026-03-01")
    assert rm.unit_show(u, d("2025-02-28"))["blacklist"] == []


# --- 8. screening by name and code ----------------------------------------------------------


def test_search_treats_full_width_as_half_width(svc: LedgerService) -> None:
    """Names and codes typed on a Chinese keyboard: ＡＢＣ（集团） is ABC(集团)."""
    abc = credit_code("91540100MA6T0A0H1")
    svc.register_unit(
        abc,
        name="西藏ＡＢＣ科技（集团）有限公司",
        unit_type="enterprise",
        high_tech=False,
        aliases=[],
        actor="c",
    )
    rm = read(svc)
    [hit] = [h for h in rm.unit_search("西藏ABC科技(集团)有限公司", TODAY) if h["code"] == abc]
    assert hit["score"] == 100
    assert abc in {h["code"] for h in rm.unit_search("ABC科技", TODAY)}
    wide = "".join(chr(ord(c) + 0xFEE0) for c in abc)  # the code in full-width characters
    assert [h["code"] for h in rm.unit_search(wide, TODAY)][:1] == [abc]


def test_search_names_as_of_codes_and_short_queries(svc: LedgerService) -> None:
    register_all(svc)
    med, zhizao = code("med_inst"), code("zhizao")
    svc.rename_unit(med, name="西藏高原医学研究院", doc_no="R-1", actor="c", on=d("2024-07-01"))
    svc.rename_unit(
        zhizao, name="拉萨智能制造股份有限公司", doc_no="R-2", actor="c", on=d("2024-07-01")
    )
    rm = read(svc)
    # a name adopted after the date does not match
    assert [h["code"] for h in rm.unit_search("拉萨智能制造股份有限公司", TODAY)][:1] == [zhizao]
    assert zhizao not in {
        h["code"]
        for h in rm.unit_search("拉萨智能制造股份有限公司", d("2024-06-30"))
        if h["matched"] == "拉萨智能制造股份有限公司"
    }
    then = rm.unit_search("拉萨智能制造股份有限公司", d("2024-06-30"))
    assert all(h["matched"] != "拉萨智能制造股份有限公司" for h in then)
    # equal scores: the current name is reported
    [hit] = [h for h in rm.unit_search("高原医学研究", TODAY) if h["code"] == med]
    assert hit["matched"] == "西藏高原医学研究院"
    [hit] = [h for h in rm.unit_search("高原医学研究", d("2024-06-30")) if h["code"] == med]
    assert hit["matched"] == "西藏高原医学研究所"
    # a unit is found on a date before the ledger registered it, under the
    # name it was registered with
    early = [h for h in rm.unit_search("西藏大学", d("2019-12-31")) if h["score"] == 100]
    assert [(h["code"], h["matched"]) for h in early] == [(code("tibet_u"), "西藏大学")]
    # credit codes, whole or in part, any case
    assert rm.unit_search(med.lower(), TODAY)[0] | {} == {
        **rm.unit_search(med, TODAY)[0],
    }
    assert rm.unit_search(med, TODAY)[0]["score"] == 100
    tail = rm.unit_search(med[-10:], TODAY)
    assert [h["code"] for h in tail] == [med] and tail[0]["score"] == 82
    four = {h["code"] for h in rm.unit_search("0001", TODAY)}
    assert four == {
        c
        for c in (code(k) for k in ("med_inst", "tianshan", "keqiao", "xj_u", "zstu", "xj_inst"))
        if "0001" in c
    }
    # a one-character query is not a hit on every name containing it
    assert rm.unit_search("大", TODAY) == []
    assert all(h["score"] < 90 for h in rm.unit_search("西藏", TODAY))


def test_debarred_name_filter_matches_as_search_does(svc: LedgerService) -> None:
    register_all(svc)
    med = code("med_inst")
    for u in (med, code("jingtu")):
        svc.debar(
            u,
            years=3,
            start=d("2025-01-01"),
            scopes=["platform-application"],
            doc_no="D",
            reason="r",
            actor="c",
            on=d("2025-01-01"),
        )
    rm = read(svc)
    day = d("2025-06-01")
    assert rm.debarred(day, name="西藏大学") == []  # not 西藏高原医学研究所 nor 西藏净土…
    assert [x["unit"] for x in rm.debarred(day, name="医学研究所")] == [med]
    assert [x["unit"] for x in rm.debarred(day, name=med.lower())] == [med]
    assert [x["unit"] for x in rm.debarred(day, name=med[-8:])] == [med]


# --- 11. bounded memory ----------------------------------------------------------------------


def test_codes_cache_is_bounded_and_verify_streams(
    demo_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    view = ReadModelView()
    for i in range(base.CODES_CACHE_MAX + 50):
        view.remember(str(i), ("voucher", str(i)))
    assert len(view.codes) == base.CODES_CACHE_MAX and "0" not in view.codes
    # a rebuild forgetting codes all the time still gives the same models
    monkeypatch.setattr(base, "CODES_CACHE_MAX", 3)
    cfg = db.parse_db_url(demo_url)
    rebuild(cfg, progress=False)
    assert verify(cfg).ok
    # many differences: every one counted, a bounded number listed
    monkeypatch.setattr(verifying, "MAX_LISTED", 5)
    with db.connect(cfg, write=True) as conn:
        db.execute(conn, "UPDATE rm_history SET actor = 'someone else'")
        db.execute(conn, "DELETE FROM rm_fund_event WHERE notification_id % 2 = 0")
    report = verify(cfg)
    assert len(report.differences) == 5 and report.total > 100
    assert report.as_json()["differences_total"] == report.total


def test_scratch_directories_of_killed_runs_are_removed(
    sqlite_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rebuild or verify killed leaves its scratch directory in TMPDIR; the
    next run removes it, but never one a running process still holds."""
    import fcntl
    import tempfile

    init_ledger(sqlite_url)
    service = LedgerService(sqlite_url)
    try:
        register_all(service)
    finally:
        service.close()
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    killed = temp / "ledger-rebuild-killed"
    killed.mkdir()
    (killed / "rebuild.db").write_bytes(b"x" * 1000)
    running = temp / "ledger-verify-running"
    running.mkdir()
    for d_ in (killed, running):
        os.utime(d_, (time.time() - 3600, time.time() - 3600))
    with open(running / verifying.SCRATCH_LOCK, "w") as held:
        fcntl.flock(held, fcntl.LOCK_EX)
        cfg = db.parse_db_url(sqlite_url)
        rebuild(cfg, progress=False)
        assert verify(cfg).ok
    assert not killed.exists()
    assert running.exists()
    assert [p.name for p in temp.iterdir()] == ["ledger-verify-running"]  # its own removed too


def test_debarred_and_blacklist_name_each_unit_as_of_the_date(svc: LedgerService) -> None:
    """The lists name every unit by its own name on the date asked (registered,
    or the latest rename by then; of two renames on one day, the later), read
    for all the listed units at once."""
    register_all(svc)
    med, zhizao, jingtu = code("med_inst"), code("zhizao"), code("jingtu")
    for u in (med, zhizao, jingtu):
        svc.debar(
            u, years=3, start=d("2024-01-01"), scopes=["platform-application"],
            doc_no=f"D-{u[-4:]}", reason="r", actor="c", on=d("2024-01-01"),
        )  # fmt: skip
        svc.blacklist(u, doc_no=f"B-{u[-4:]}", reason="r", actor="c", on=d("2024-01-01"))
    svc.rename_unit(med, name="西藏高原医学研究院", doc_no="R-1", actor="c", on=d("2024-07-01"))
    svc.rename_unit(zhizao, name="拉萨智造甲", doc_no="R-2", actor="c", on=d("2024-07-01"))
    svc.rename_unit(zhizao, name="拉萨智造乙", doc_no="R-3", actor="c", on=d("2024-07-01"))
    svc.rename_unit(zhizao, name="拉萨智造丙", doc_no="R-4", actor="c", on=d("2025-03-01"))
    rm = read(svc)
    for day, names in (
        (d("2024-06-30"), {med: "西藏高原医学研究所", zhizao: "拉萨智造装备有限公司"}),
        (d("2024-07-01"), {med: "西藏高原医学研究院", zhizao: "拉萨智造乙"}),
        (d("2026-01-01"), {med: "西藏高原医学研究院", zhizao: "拉萨智造丙"}),
    ):
        names[jingtu] = "西藏净土农业科技有限公司"
        assert {x["unit"]: x["unit_name"] for x in rm.debarred(day)} == names
        assert {x["unit"]: x["unit_name"] for x in rm.blacklist(day)} == names
