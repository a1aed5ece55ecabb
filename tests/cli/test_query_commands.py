"""The query commands of CLI.md: exact JSON shapes, table and CSV output,
exit codes, reading one's own writes, and the read-only role."""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from cli import main, permission_denied
from ledger.demo import load_demo
from ledger.service import LedgerService
from tests.scenario import credit_code, init_ledger

ROOT = Path(__file__).resolve().parents[2]
LEDGER = str(ROOT / ".venv/bin/ledger")


@pytest.fixture
def demo(db_url: str) -> Iterator[dict[str, Any]]:
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        loaded = load_demo(svc)
    finally:
        svc.close()
    yield {"url": db_url, **loaded}


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def js(url: str, *args: str) -> Any:
    code, out, err = run(url, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_platform_show_and_list_shapes(demo: dict[str, Any]) -> None:
    url = demo["url"]
    shown = js(url, "platform", "show", "LS-KL-002", "--as-of", "2026-01-01")
    assert list(shown)[:15] == [
        "code", "name", "kind", "level", "policy", "status", "status_since", "host_unit",
        "co_builders", "construction_ends", "rectification_due", "funding_suspended",
        "version", "as_of", "known_at",
    ]  # fmt: skip
    assert (shown["status"], shown["as_of"], shown["known_at"]) == (
        "operating",
        "2026-01-01",
        None,
    )
    code, _, err = run(url, "platform", "show", "LS-KL-002", "--known-at", "2000-01-01")
    assert code == 1 and "LS-KL-002" in err


def test_unknown_and_malformed_codes(demo: dict[str, Any]) -> None:
    url = demo["url"]
    code, _, err = run(url, "platform", "show", "NO-SUCH-1")
    assert code == 1 and err.count("\n") == 1 and "unknown platform NO-SUCH-1" in err
    code, _, err = run(url, "unit", "show", "91540100MA6T0A0B1X")
    assert code == 2
    code, _, err = run(url, "platform", "show", "LS-KL-001", "--known-at", "yesterday")
    assert code == 2
    code, _, err = run(url, "history", "--unit", credit_code("91110000MA0000001"))
    assert code == 1 and "unknown unit" in err


def test_unit_queries_shapes(demo: dict[str, Any]) -> None:
    url = demo["url"]
    med = "12540000MB00000114"
    shown = js(url, "unit", "show", med)
    for key in (
        "code", "name", "type", "high_tech", "aliases", "former_names", "violations",
        "debarments", "blacklisted", "as_of",
    ):  # fmt: skip
        assert key in shown
    assert set(shown["violations"][0]) >= {
        "id", "kind", "occurred_on", "found_on", "platform", "doc_no",
    }  # fmt: skip
    keys = [
        "unit",
        "unit_name",
        "id",
        "scopes",
        "years",
        "start",
        "end",
        "basis",
        "doc_no",
        "status",
    ]
    assert list(shown["debarments"][0])[:10] == keys
    debarred = js(url, "debarred", "--as-of", "2027-01-01")
    assert debarred and all(list(x)[:10] == keys for x in debarred)
    assert all(x["status"] == "active" for x in debarred)
    assert js(url, "debarred", "--as-of", "2027-01-01", "--scope", "consortium-lead") == [
        x for x in debarred if "consortium-lead" in x["scopes"]
    ]
    black = js(url, "blacklist")
    assert black and all(list(x)[:10] == keys and x["end"] is None for x in black)
    hits = js(url, "unit", "search", "医学研究")
    assert hits[0]["code"] == med
    assert list(hits[0]) == ["code", "name", "matched", "score", "debarred", "blacklisted"]
    assert 0 <= hits[0]["score"] <= 100 and hits[0]["debarred"] is True


def test_eligibility_shape_and_check(demo: dict[str, Any]) -> None:
    url = demo["url"]
    med = "12540000MB00000114"
    data = js(url, "eligibility", med, "--as-of", "2027-01-01")
    assert list(data)[:5] == ["unit", "purpose", "as_of", "eligible", "reasons"]
    assert data["purpose"] == "platform-application" and data["eligible"] is False
    # "programme": the programme each reason rests on (SPEC §2.1, issue 11)
    assert list(data["reasons"][0]) == ["rule", "basis", "detail", "until", "programme"]
    assert {r["rule"] for r in data["reasons"]} <= {
        "debarment", "blacklist", "look-back", "leads-consortium",
    }  # fmt: skip
    code, out, _ = run(url, "eligibility", med, "--as-of", "2027-01-01", "--check")
    assert code == 1 and "NOT eligible" in out
    code, _, _ = run(url, "eligibility", med, "--for", "project-application", "--check")
    assert code == 0
    code, _, _ = run(url, "eligibility", med, "--for", "nonsense")
    assert code == 2


def test_funds_history_change_compliance_shapes(demo: dict[str, Any]) -> None:
    url = demo["url"]
    summary = js(url, "funds", "summary")
    assert list(summary[0]) == [
        "platform", "category", "fiscal_year", "allocated", "entitled", "disbursed",
        "reversed", "recovered", "net", "remaining",
    ]  # fmt: skip
    assert all(isinstance(x["allocated"], str) and "." in x["allocated"] for x in summary)
    one = js(url, "funds", "summary", "LS-KL-001", "--fiscal-year", "2026", "--as-of", "2026-06-30")
    assert {x["platform"] for x in one} <= {"LS-KL-001"}
    assert run(url, "funds", "summary", "NO-SUCH-1")[0] == 1
    hist = js(url, "history", "--platform", "LS-ERC-001")
    assert list(hist[0]) == [
        "seq", "aggregate", "code", "version", "event", "effective_on", "recorded_at",
        "actor", "doc_no", "reason", "basis", "data",
        "recorded_by",  # issue 12: the database login of the event's chain row
    ]  # fmt: skip
    assert [h["seq"] for h in hist] == sorted(h["seq"] for h in hist)
    assert hist[0]["event"] == "Proposed" and isinstance(hist[0]["data"], dict)
    since = js(url, "history", "--platform", "LS-ERC-001", "--since", "2025-01-01")
    assert all(h["effective_on"] >= "2025-01-01" for h in since) and len(since) < len(hist)
    pending = js(url, "change", "list", "--pending")
    assert pending and all(c["status"] == "pending" for c in pending)
    overdue = js(url, "compliance", "overdue", "--as-of", "2026-12-01")
    issues = {o["issue"] for o in overdue}
    assert {"annual-report-missing", "due-for-termination", "late-filing"} <= issues
    code, out, _ = run(url, "funds", "summary", "--format", "csv")
    assert code == 0 and out.splitlines()[0].startswith("platform,category,fiscal_year")
    code, out, _ = run(url, "platform", "list")
    assert code == 0 and "运行期" in out


def test_recording_then_querying_reads_its_own_writes(demo: dict[str, Any]) -> None:
    url = demo["url"]
    code, _, err = run(
        url, "--actor", "clerk", "platform", "upgrade", "LS-KL-001", "--level", "regional",
        "--doc-no", "拉科发〔2026〕99号",
    )  # fmt: skip
    assert code == 0, err
    assert js(url, "platform", "show", "LS-KL-001")["level"] == "regional"
    status = js(url, "projections", "status")
    assert {s["lag"] for s in status} == {0}
    code, out, _ = run(url, "projections", "rebuild")
    assert code == 0 and "rebuilt" in out
    assert js(url, "projections", "verify")["ok"] is True


def test_real_subprocesses_exit_codes_and_piped_output(demo: dict[str, Any]) -> None:
    url = demo["url"]
    ok = subprocess.run(
        [LEDGER, "--db", url, "platform", "show", "LS-KL-001", "--format", "json"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ok.returncode == 0 and json.loads(ok.stdout)["code"] == "LS-KL-001"
    assert ok.stderr == ""
    bad = subprocess.run(
        [LEDGER, "--db", url, "eligibility", "12540000MB00000114", "--check", "--as-of",
         "2027-01-01"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert bad.returncode == 1
    rebuild = subprocess.run(
        [LEDGER, "--db", url, "projections", "rebuild"], capture_output=True, text=True, timeout=60
    )
    assert rebuild.returncode == 0 and rebuild.stderr == ""  # no progress when piped


def test_read_only_role_answers_with_a_warning_when_lagging(pg_url: str) -> None:
    init_ledger(pg_url)
    svc = LedgerService(pg_url)
    try:
        load_demo(svc)  # no catch-up hook: the models lag
    finally:
        svc.close()
    role = f"rm_ro_{uuid.uuid4().hex[:8]}"
    dbname = pg_url.rsplit("/", 1)[1]
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{role}" LOGIN')
        conn.execute(f'GRANT CONNECT ON DATABASE "{dbname}" TO "{role}"')
        conn.execute(f'GRANT SELECT ON ALL TABLES IN SCHEMA public TO "{role}"')
    try:
        ro = pg_url.replace("postgresql://postgres@", f"postgresql://{role}@")
        code, out, err = run(ro, "platform", "list", "--format", "json")
        assert code == 0 and json.loads(out) == []
        assert err.count("warning:") == 1 and "read-only" in err
        assert run(pg_url, "platform", "list")[0] == 0  # the owner catches up
        code, out, err = run(ro, "platform", "list", "--format", "json")
        assert code == 0 and len(json.loads(out)) == 10 and err == ""
    finally:
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute(f'REVOKE ALL ON ALL TABLES IN SCHEMA public FROM "{role}"')
            conn.execute(f'REVOKE ALL ON DATABASE "{dbname}" FROM "{role}"')
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{role}"')


def test_roles_and_rebuild_refused_with_what_to_do_instead(pg_url: str) -> None:
    """A database owner without CREATEROLE asking for `init --roles`, and a
    clerk asking for a rebuild: one line each, saying who may (exit 1)."""
    tag = uuid.uuid4().hex[:8]
    owner, clerk, dbname = f"rm_owner_{tag}", f"rm_clerk_{tag}", f"rm_owned_{tag}"
    admin = pg_url.rsplit("/", 1)[0] + "/postgres"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE ROLE "{owner}" LOGIN')
        conn.execute(f'CREATE ROLE "{clerk}" LOGIN')
        conn.execute(f'CREATE DATABASE "{dbname}" OWNER "{owner}"')
    base = pg_url.rsplit("/", 1)[0].replace("postgresql://postgres@", "postgresql://{}@")
    owner_url, clerk_url = f"{base.format(owner)}/{dbname}", f"{base.format(clerk)}/{dbname}"
    try:
        assert run(owner_url, "init")[0] == 0
        with psycopg.connect(admin) as conn:
            exists = conn.execute(
                "SELECT count(*) FROM pg_roles WHERE rolname IN ('ledger_clerk', 'ledger_auditor')"
            ).fetchone()
        code, _, err = run(owner_url, "init", "--roles")
        if exists == (2,):
            assert code == 0, err  # the roles exist (cluster-wide): the owner only grants
        else:
            assert code == 1 and err.count("\n") == 1 and "CREATEROLE" in err, err
        # what the server says to this owner creating a role, as the CLI words it
        with (
            psycopg.connect(owner_url, autocommit=True) as conn,
            pytest.raises(psycopg.errors.InsufficientPrivilege) as refused,
        ):
            conn.execute(f'CREATE ROLE "rm_never_{tag}"')
        line = permission_denied(refused.value)
        assert (
            line is not None
            and "`ledger init --roles` as a superuser or a role with CREATEROLE" in line
        )
        with psycopg.connect(f"{pg_url.rsplit('/', 1)[0]}/{dbname}", autocommit=True) as conn:
            conn.execute(
                f'GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO "{clerk}"'
            )
            conn.execute(f'GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO "{clerk}"')
        code, _, err = run(clerk_url, "projections", "rebuild")
        assert code == 1 and err.count("\n") == 1, err
        assert (
            "permission denied" in err
            and "`ledger projections rebuild` as the database owner" in err
        )
        assert run(clerk_url, "projections", "verify")[0] == 0  # the live models are intact
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
            conn.execute(f'DROP ROLE IF EXISTS "{clerk}"')
            conn.execute(f'DROP ROLE IF EXISTS "{owner}"')


def test_an_unreadable_stored_event_is_reported_as_tampering(demo: dict[str, Any]) -> None:
    """An event whose topic was altered in the database (the read models not
    yet caught up with it): queries say the ledger may have been altered and
    point to `audit verify` (exit 4), as `audit verify` itself does."""
    from ledger.store.db import parse_db_url
    from tests.reliability.test_tamper import raw

    url = demo["url"]
    cfg = parse_db_url(url)
    with raw(cfg) as conn:
        nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
        conn.execute(
            f"UPDATE ledger_events SET topic = 'aggregates.unit:Unit.Nope' "
            f"WHERE {nid} = (SELECT MAX({nid}) FROM ledger_events)"
        )
    for args in (["debarred"], ["unit", "search", "西藏"]):
        code, _, err = run(url, *args)
        assert code == 4 and err.count("\n") == 1, err
        assert "ledger audit verify" in err and "altered" in err
    code, _, err = run(url, "audit", "verify")
    assert code == 4


# --- second review -------------------------------------------------------------------------


def test_eligibility_csv_carries_the_verdict_on_every_row(demo: dict[str, Any]) -> None:
    import csv
    import io

    url = demo["url"]
    med = "12540000MB00000114"
    columns = ["unit", "purpose", "as_of", "eligible", "rule", "basis", "until", "detail"]
    columns.append("programme")  # SPEC §2.1 (issue 11)
    code, out, _ = run(url, "eligibility", med, "--as-of", "2027-01-01", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(out)))
    assert code == 0 and out.splitlines()[0] == ",".join(columns)
    assert rows and all(r["eligible"] == "false" and r["unit"] == med for r in rows)
    assert all(r["rule"] and r["as_of"] == "2027-01-01" for r in rows)
    code, out, _ = run(
        url, "eligibility", med, "--for", "project-application", "--as-of", "2027-01-01",
        "--format", "csv",
    )  # fmt: skip
    [row] = list(csv.DictReader(io.StringIO(out)))
    assert row == {
        "unit": med, "purpose": "project-application", "as_of": "2027-01-01", "eligible": "true",
        "rule": "", "basis": "", "until": "", "detail": "", "programme": "",
    }  # fmt: skip


def test_lists_agree_with_show_when_today_is_before_the_events(
    demo: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    url = demo["url"]
    for day in ("2024-06-30", "2025-06-30", "2026-04-15"):
        monkeypatch.setenv("LEDGER_TODAY", "2030-01-01")  # the dated path, known to be right
        funds_later = js(url, "funds", "summary", "--as-of", day)
        overdue_later = js(url, "compliance", "overdue", "--as-of", day)
        monkeypatch.setenv("LEDGER_TODAY", "2024-01-01")  # a run before most events
        listed = js(url, "platform", "list", "--as-of", day)
        assert listed
        for p in listed:
            shown = js(url, "platform", "show", p["code"], "--as-of", day)
            assert (p["status"], p["level"], p["status_since"]) == (
                shown["status"],
                shown["level"],
                shown["status_since"],
            ), (day, p["code"])
        assert js(url, "funds", "summary", "--as-of", day) == funds_later
        assert js(url, "compliance", "overdue", "--as-of", day) == overdue_later


def test_unit_show_before_registration_and_labels(demo: dict[str, Any]) -> None:
    url = demo["url"]
    med = "12540000MB00000114"
    # before the ledger registered it the unit existed, under the name it was
    # registered with, and nothing had been decided about it
    early = js(url, "unit", "show", med, "--as-of", "2000-01-04")
    assert early["code"] == med and early["name"] == js(url, "unit", "show", med)["name"]
    assert early["debarments"] == [] and early["violations"] == []
    code, _, err = run(url, "unit", "show", med, "--known-at", "2000-01-01T00:00:00Z")
    assert code == 1 and "unknown unit" in err
    # a debarment decided but not yet started: 未生效, not 待审批
    assert run(
        url, "--actor", "c", "unit", "debar", med, "--years", "3", "--from", "2027-06-01",
        "--scope", "project-application", "--doc-no", "D-9", "--reason", "r",
    )[0] == 0  # fmt: skip
    shown = js(url, "unit", "show", med)
    assert [x["status"] for x in shown["debarments"] if x["start"] == "2027-06-01"] == [
        "not-yet-in-force"
    ]
    code, out, _ = run(url, "unit", "show", med)
    assert code == 0 and "not-yet-in-force 未生效" in out and "待审批" not in out
    # `debarred --name`: the matching of `unit search`
    assert js(url, "debarred", "--as-of", "2027-01-01", "--name", "西藏大学") == []
    hits = js(url, "debarred", "--as-of", "2027-01-01", "--name", med.lower())
    assert hits and {h["unit"] for h in hits} == {med}


def _pty_run(args: list[str]) -> tuple[int, str, str]:
    """Run with stderr on a terminal (a pty); stdout piped."""
    import os
    import pty

    master, slave = pty.openpty()
    try:
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=slave, text=True)
        os.close(slave)
        chunks: list[bytes] = []
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        out, _ = proc.communicate(timeout=120)
    finally:
        os.close(master)
    return proc.returncode, out, b"".join(chunks).decode("utf-8", "replace")


def test_verify_shows_progress_on_a_terminal_only(db_url: str) -> None:
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        load_demo(svc)  # no hook: the models lag, verify catches up first
    finally:
        svc.close()
    code, out, err = _pty_run([LEDGER, "--db", db_url, "projections", "verify"])
    assert code == 0 and "equal to a rebuild" in out
    assert "catching up the read models" in err and "verifying read models" in err
    piped = subprocess.run(
        [LEDGER, "--db", db_url, "projections", "verify"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert piped.returncode == 0 and piped.stderr == ""
