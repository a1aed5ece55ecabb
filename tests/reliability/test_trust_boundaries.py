"""Issue 12, the privilege part: what a clerk's (or auditor's) own database
login can do with plain SQL on PostgreSQL, after `ledger init --roles` as the
owner — and that queries answer only from a verified history (both backends).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import structlog
from click.testing import CliRunner, Result

from cli import main
from ledger import audit
from ledger.service import LedgerService
from ledger.store.chain import GENESIS_HASH, chain_record_bytes, next_chain_hash
from ledger.store.db import DbConfig, connect, fetchall, fetchone, parse_db_url
from projections.follow import follow, worker_connected
from tests.reliability.test_tamper import raw
from tests.scenario import funded, init_ledger, pay, register_all

DISBURSED = "aggregates.platform:Platform.FundsDisbursed"


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def ledger(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, *args])


def as_login(cfg: DbConfig, login: str) -> str:
    return f"postgresql://{login}@{cfg.host}:{cfg.port}/{cfg.dbname}"


def funded_ledger(url: str) -> DbConfig:
    init_ledger(url)
    svc = LedgerService(url)
    try:
        register_all(svc)
        funded(svc)  # LS-KL-001, 1,000,000.00 operation 2026
        pay(svc, "1000.00", "V-1")
    finally:
        svc.close()
    return parse_db_url(url)


@pytest.fixture
def pg_ledger(pg_url: str) -> DbConfig:
    cfg = funded_ledger(pg_url)
    r = ledger(pg_url, "init", "--roles")
    assert r.exit_code == 0, r.stderr
    return cfg


def denied(url: str, sql: str, params: tuple[Any, ...] = ()) -> None:
    with (
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"),
        psycopg.connect(url, autocommit=True) as conn,
    ):
        conn.execute(sql, params)


def test_chain_encoding_v2_vector_and_the_sql_function_agree(pg_url: str) -> None:
    """docs/AUDIT.md's v2 test vector; the database's encoding is the same bytes."""
    from uuid import UUID

    oid = UUID("6f1c0a52-8d0e-5b8e-9c43-2a9e0f6c1b7d")
    state = '{"name":"拉萨"}'.encode()
    args = (1, 1, oid, 1, "aggregates.unit:Unit.Registered", state)
    v2 = {"recorded_by": "ledger_clerk", "recorded_at": "2026-12-04T16:30:00.123456Z"}
    record = chain_record_bytes(*args, **v2)
    assert record.endswith(
        bytes.fromhex(
            "000000000000000c6c65646765725f636c65726b000000000000001b"
            "323032362d31322d30345431363a33303a30302e3132333435365a"
        )
    )
    assert record.startswith(chain_record_bytes(*args))  # v1's six fields, then two more
    assert next_chain_hash(GENESIS_HASH, *args, **v2) == (
        "cb641808990ac807745da6c81fc695fc72da5665684a71d4cc891303022c5f5a"
    )
    cfg = parse_db_url(pg_url)
    init_ledger(pg_url)
    with connect(cfg) as conn:
        row = fetchone(
            conn,
            "SELECT ledger_chain_record_v2(1, 1, ?, 1, ?, ?, ?, ?) AS b",
            (str(oid), args[4], state, v2["recorded_by"], v2["recorded_at"]),
        )
    assert row is not None and bytes(row["b"]) == record


def test_a_clerk_login_cannot_forge_silence_or_wedge(pg_ledger: DbConfig) -> None:
    cfg = pg_ledger
    clerk = as_login(cfg, "ledger_clerk")
    auditor = as_login(cfg, "ledger_auditor")
    with connect(cfg) as conn:
        paid = fetchone(
            conn,
            "SELECT e.originator_id, e.state, "
            "(SELECT MAX(originator_version) FROM ledger_events x "
            " WHERE x.originator_id = e.originator_id) AS v "
            "FROM ledger_events e WHERE e.topic = ? ORDER BY e.notification_id LIMIT 1",
            (DISBURSED,),
        )
        head = fetchone(conn, "SELECT MAX(seq) AS s, MAX(notification_id) AS n FROM event_chain")
    assert paid is not None and head is not None
    forged_state = bytes(paid["state"]).replace(b'"1000.00"', b'"4999999.00"')
    forged_state = forged_state.replace(b"V-1", b"V-FORGED")
    assert forged_state != bytes(paid["state"])

    # A chain row computed client-side (with the product's own function): refused.
    chain_hash = next_chain_hash(
        GENESIS_HASH, head["s"] + 1, head["n"] + 1, paid["originator_id"], 99, DISBURSED, b"{}"
    )
    denied(
        clerk,
        "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (%s, %s, %s)",
        (head["s"] + 1, head["n"] + 1, chain_hash),
    )
    # A bogus chain row: refused; a chosen notification id: refused (column privilege).
    denied(clerk, "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (0, 0, 'x')")
    denied(
        clerk,
        "INSERT INTO ledger_events (originator_id, originator_version, topic, state, "
        "notification_id) VALUES (gen_random_uuid(), 1, 'x', '\\x', 999999999)",
    )
    # Settings, checkpoints, read models, tracking positions: refused.
    denied(clerk, "INSERT INTO ledger_settings (key, value) VALUES ('default_policy', 'x')")
    denied(
        clerk,
        "INSERT INTO audit_checkpoints (seq, chain_hash, taken_at, key_id, signature, "
        "public_key) VALUES (1, 'x', 'x', 'x', 'x', 'x')",
    )
    denied(clerk, "DELETE FROM rm_debarment")
    denied(clerk, "UPDATE rm_platform SET status = 'approved'")
    denied(clerk, "UPDATE rm_tracking SET notification_id = notification_id + 1000")
    denied(clerk, "INSERT INTO ledger_verified_head (id, seq, chain_hash) VALUES (1, 0, 'x')")
    # A request row naming another login: refused.
    denied(
        clerk,
        "INSERT INTO request_log (request_id, fingerprint, result, recorded_by) "
        "VALUES ('r', 'f', '{}', 'ledger_auditor')",
    )
    # The catch-up lock: neither the clerk nor the auditor can take it.
    for url in (clerk, auditor):
        with psycopg.connect(url) as conn:  # noqa: SIM117 - the lock needs a transaction
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute("LOCK TABLE ledger_catchup_lock IN EXCLUSIVE MODE NOWAIT")
    # The ordering lock's function is the clerk's only EXECUTE; the auditor has none.
    denied(auditor, "SELECT ledger_events_lock()")

    # The forged event itself, inserted directly: accepted by the privilege (a
    # clerk records events), but its chain row is the database's and names the
    # clerk's login, whatever actor the event claims.
    with psycopg.connect(clerk, autocommit=True) as conn:
        conn.execute(
            "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
            "VALUES (%s, %s, %s, %s)",
            (paid["originator_id"], paid["v"] + 1, DISBURSED, forged_state),
        )
    with connect(cfg) as conn:
        last = fetchone(conn, "SELECT * FROM event_chain ORDER BY seq DESC LIMIT 1")
    assert last is not None
    assert last["seq"] == head["s"] + 1 and last["encoding"] == 2
    assert last["recorded_by"] == "ledger_clerk"
    assert last["recorded_at"].endswith("Z")
    result = audit.verify(cfg)
    assert result["ok"] is True  # the chain is intact: the event is attributable
    assert audit.verify(cfg, rules=True)["logins"] == {"ledger_clerk": 1, cfg.user: head["s"]}
    # ...and the rules replay names it: seq, rule and login (exit 4)
    r = ledger(as_login(cfg, "ledger_auditor"), "audit", "verify", "--rules", "--format", "json")
    assert r.exit_code == 4, r.stderr
    checked = json.loads(r.stdout)
    assert checked["rules"]["first"] == {
        "seq": head["s"] + 1,
        "rule": "over-allocation",
        "problem": checked["rules"]["first"]["problem"],
        "recorded_by": "ledger_clerk",
    }
    assert "4,999,999.00" in checked["problem"] or "4999999.00" in checked["problem"]
    assert "ledger_clerk" in checked["problem"] and f"seq {head['s'] + 1}" in checked["problem"]
    # history names the recording login per event (json)
    r = ledger(as_login(cfg, cfg.user), "history", "--platform", "LS-KL-001", "--format", "json")
    assert r.exit_code == 0, r.stderr
    rows = json.loads(r.stdout)
    assert rows[-1]["recorded_by"] == "ledger_clerk"
    assert {row["recorded_by"] for row in rows[:-1]} == {cfg.user}


def test_the_clerk_records_and_reads_through_the_worker(pg_ledger: DbConfig) -> None:
    """The clerk may not catch the read models up; the owner's worker does,
    and the clerk's query waits (<= 2 s) for it instead of answering stale."""
    cfg = pg_ledger
    clerk = as_login(cfg, "ledger_clerk")
    stop = threading.Event()
    worker = threading.Thread(target=follow, args=(cfg,), kwargs={"poll": 0.5, "stop": stop})
    worker.start()
    try:
        r = ledger(
            clerk, "--actor", "王会计", "funds", "disburse", "LS-KL-001", "--category",
            "operation", "--amount", "2000.00", "--fiscal-year", "2026", "--voucher", "V-2",
            "--on", "2026-03-20",
        )  # fmt: skip
        assert r.exit_code == 0, r.stderr
        q = ledger(clerk, "funds", "summary", "LS-KL-001", "--format", "json")
        assert q.exit_code == 0, q.stderr
        assert "lag" not in q.stderr
        line = next(x for x in json.loads(q.stdout) if x["category"] == "operation")
        assert line["disbursed"] == "3000.00"
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()
    # the auditor may not run the worker
    r = ledger(as_login(cfg, "ledger_auditor"), "projections", "follow", "--idle-exit", "1")
    assert r.exit_code == 1 and "ledger_projectors" in r.stderr


def _summary(url: str) -> tuple[str, str]:
    """(disbursed on operation 2026, stderr) of `funds summary LS-KL-001`."""
    q = ledger(url, "funds", "summary", "LS-KL-001", "--format", "json")
    assert q.exit_code == 0, q.stderr
    line = next(x for x in json.loads(q.stdout) if x["category"] == "operation")
    return str(line["disbursed"]), q.stderr


def test_a_clerk_query_waits_only_for_a_connected_worker(pg_ledger: DbConfig) -> None:
    """No worker connected: the clerk's query answers at once from the models as
    they are, with the lag warning (it no longer waits for a worker that is not
    there). The worker's session is seen by the clerk's login while it runs,
    and then the clerk reads its own write."""
    cfg = pg_ledger
    clerk = as_login(cfg, "ledger_clerk")
    assert _summary(as_login(cfg, cfg.user))[0] == "1000.00"  # the owner catches up
    assert not worker_connected(parse_db_url(clerk))
    r = ledger(
        clerk, "--actor", "王会计", "funds", "disburse", "LS-KL-001", "--category",
        "operation", "--amount", "2000.00", "--fiscal-year", "2026", "--voucher", "V-3",
        "--on", "2026-03-20",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    disbursed, err = _summary(clerk)
    assert disbursed == "1000.00" and "lag the ledger by" in err, err
    stop = threading.Event()
    worker = threading.Thread(target=follow, args=(cfg,), kwargs={"poll": 0.5, "stop": stop})
    worker.start()
    try:
        seen = False
        for _ in range(100):  # the worker's session appears as it starts
            seen = worker_connected(parse_db_url(clerk))
            if seen:
                break
            stop.wait(0.1)
        assert seen
        disbursed, err = _summary(clerk)
        assert disbursed == "3000.00" and "lag" not in err, err
    finally:
        stop.set()
        worker.join(10)
    assert not worker.is_alive()


def test_roles_add_user(pg_ledger: DbConfig) -> None:
    cfg = pg_ledger
    owner = as_login(cfg, cfg.user)
    r = ledger(owner, "roles", "add-user", "clerk_dawa", "--clerk")
    assert r.exit_code == 0, r.stderr
    assert "member of ledger_clerks" in r.stdout
    assert ledger(owner, "roles", "add-user", "Bad-Name", "--clerk").exit_code == 2
    assert ledger(owner, "roles", "add-user", "x_y").exit_code == 2
    r = ledger(
        as_login(cfg, "clerk_dawa"), "--actor", "达瓦", "funds", "disburse", "LS-KL-001",
        "--category", "operation", "--amount", "10.00", "--fiscal-year", "2026",
        "--voucher", "V-3", "--on", "2026-03-21",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    with connect(cfg) as conn:
        last = fetchone(conn, "SELECT recorded_by FROM event_chain ORDER BY seq DESC LIMIT 1")
    assert last == {"recorded_by": "clerk_dawa"}


def _edit_a_payment(cfg: DbConfig) -> None:
    """As a superuser with the append-only protection off: 1000.00 -> 1.00."""
    nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
    mark = "?" if cfg.backend == "sqlite" else "%s"
    with raw(cfg) as conn:
        rows = conn.execute(
            f"SELECT {nid} AS nid, state FROM ledger_events WHERE topic = {mark} "
            f"ORDER BY {nid} DESC",
            (DISBURSED,),
        ).fetchall()
        row = rows[0]
        conn.execute(
            f"UPDATE ledger_events SET state = {mark} WHERE {nid} = {mark}",
            (bytes(row["state"]).replace(b'"1000.00"', b'"1.00"'), row["nid"]),
        )


def test_edited_bytes_stop_rebuild_catch_up_and_every_query(db_url: str) -> None:
    funded_ledger(db_url)
    _edit_a_payment(parse_db_url(db_url))
    r = ledger(db_url, "projections", "rebuild")
    assert r.exit_code == 4, r.stderr
    assert r.stderr.count("\n") == 1 and "chain broken at seq" in r.stderr
    for args in (
        ("funds", "summary", "LS-KL-001"),
        ("platform", "show", "LS-KL-001"),
        ("history", "--platform", "LS-KL-001"),
        ("debarred",),
        ("projections", "verify"),
    ):
        q = ledger(db_url, *args)
        assert q.exit_code == 4, (args, q.stdout, q.stderr)
        assert "cannot be trusted" in q.stderr or "chain broken" in q.stderr, q.stderr


def test_catch_up_refuses_an_edited_event_it_has_not_applied(pg_url: str) -> None:
    """A clerk records (the models lag: it may not catch up); the event's bytes
    are edited before the owner's catch-up reads them: the catch-up refuses."""
    cfg = funded_ledger(pg_url)
    assert ledger(pg_url, "init", "--roles").exit_code == 0
    r = ledger(
        as_login(cfg, "ledger_clerk"), "--actor", "王会计", "funds", "disburse", "LS-KL-001",
        "--category", "operation", "--amount", "1000.00", "--fiscal-year", "2026",
        "--voucher", "V-9", "--on", "2026-03-22",
    )  # fmt: skip
    assert r.exit_code == 0, r.stderr
    _edit_a_payment(cfg)
    q = ledger(pg_url, "funds", "summary", "LS-KL-001")
    assert q.exit_code == 4 and "chain broken at seq" in q.stderr, q.stderr
    with connect(cfg) as conn:
        rows = fetchall(conn, "SELECT broken FROM ledger_verified_head")
    assert rows and rows[0]["broken"]


# --- audit verify uses the checkpoints recorded in the database ------------------------------


def _cut_tail(cfg: DbConfig, keep: int) -> None:
    nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
    mark = "?" if cfg.backend == "sqlite" else "%s"
    with raw(cfg) as conn:
        conn.execute(
            f"DELETE FROM ledger_events WHERE {nid} IN "
            f"(SELECT notification_id FROM event_chain WHERE seq > {mark})",
            (keep,),
        )
        conn.execute(f"DELETE FROM event_chain WHERE seq > {mark}", (keep,))


def test_a_cut_tail_is_caught_by_the_recorded_checkpoint(db_url: str, tmp_path: Any) -> None:
    cfg = funded_ledger(db_url)
    audit.keygen(tmp_path / "k.pem")
    cp = audit.checkpoint(cfg, tmp_path / "k.pem")
    n = int(cp["seq"])
    _cut_tail(cfg, n - 2)
    result = audit.verify(cfg)  # no file given: the recorded checkpoint is enough
    assert result["ok"] is False
    assert result["first_bad_seq"] == n - 1  # the first missing seq
    assert result["recorded_checkpoints"]["key_ids"] == [cp["key_id"]]
    r = ledger(db_url, "audit", "verify")
    assert r.exit_code == 4


def test_a_rewrite_is_placed_between_recorded_checkpoints(db_url: str, tmp_path: Any) -> None:
    cfg = funded_ledger(db_url)
    audit.keygen(tmp_path / "k.pem")
    first = int(audit.checkpoint(cfg, tmp_path / "k.pem")["seq"])
    svc = LedgerService(db_url)
    try:
        pay(svc, "500.00", "V-5")
    finally:
        svc.close()
    second = int(audit.checkpoint(cfg, tmp_path / "k.pem")["seq"])
    assert second > first
    # rewrite the newest payment and re-chain from there (as a superuser)
    nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
    mark = "?" if cfg.backend == "sqlite" else "%s"
    with raw(cfg) as conn:
        rows = conn.execute(
            "SELECT c.seq, c.notification_id, c.chain_hash, c.encoding, c.recorded_by, "
            "c.recorded_at, e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM event_chain c JOIN ledger_events e ON e.{nid} = c.notification_id "
            "ORDER BY c.seq"
        ).fetchall()
        prev = GENESIS_HASH
        for r in rows:
            state = bytes(r["state"])
            if r["seq"] > first and r["topic"] == DISBURSED:
                state = state.replace(b'"500.00"', b'"5.00"')
                conn.execute(
                    f"UPDATE ledger_events SET state = {mark} WHERE {nid} = {mark}",
                    (state, r["notification_id"]),
                )
            v2 = r["encoding"] == 2
            prev = next_chain_hash(
                prev, r["seq"], r["notification_id"], r["originator_id"],
                r["originator_version"], r["topic"], state,
                recorded_by=r["recorded_by"] if v2 else None,
                recorded_at=r["recorded_at"] if v2 else None,
            )  # fmt: skip
            conn.execute(
                f"UPDATE event_chain SET chain_hash = {mark} WHERE seq = {mark}", (prev, r["seq"])
            )
    result = audit.verify(cfg)
    assert result["ok"] is False
    assert result["first_bad_seq"] == first + 1
    assert f"after seq {first} and at or before seq {second}" in result["problem"]


def test_checkpoint_to_an_unwritable_out_records_nothing(db_url: str, tmp_path: Any) -> None:
    cfg = funded_ledger(db_url)
    audit.keygen(tmp_path / "k.pem")
    r = ledger(
        db_url, "audit", "checkpoint", "--key", str(tmp_path / "k.pem"),
        "--out", str(tmp_path / "missing" / "cp.json"),
    )  # fmt: skip
    assert r.exit_code == 2, r.stderr
    with connect(cfg) as conn:
        assert fetchone(conn, "SELECT COUNT(*) AS n FROM audit_checkpoints") == {"n": 0}


def test_the_rules_replay_passes_an_honest_history_and_names_a_forged_one(
    db_url: str,
) -> None:
    cfg = funded_ledger(db_url)
    result = audit.verify(cfg, rules=True)
    assert result["ok"] is True and result["rules"]["ok"] is True
    assert result["rules"]["checked"] == result["events"]
    # a payment inserted without the command (a superuser on SQLite: no logins)
    nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
    with connect(cfg) as conn:
        paid = fetchone(
            conn,
            f"SELECT originator_id, originator_version, state FROM ledger_events "
            f"WHERE topic = ? ORDER BY {nid} DESC LIMIT 1",
            (DISBURSED,),
        )
    assert paid is not None
    svc = LedgerService(db_url)
    try:
        from eventsourcing.persistence import StoredEvent

        state = bytes(paid["state"]).replace(b"V-1", b"V-NONE").replace(b'"1000.00"', b'"5.00"')
        oid = paid["originator_id"]
        svc.app.recorder.insert_events(
            [StoredEvent(oid if not isinstance(oid, str) else __import__("uuid").UUID(oid),
                         int(paid["originator_version"]) + 1, DISBURSED, state)]
        )  # fmt: skip
    finally:
        svc.close()
    result = audit.verify(cfg, rules=True)
    assert result["ok"] is False
    assert result["rules"]["first"]["rule"] == "voucher-record"
    assert result["first_bad_seq"] == result["events"]


def test_the_worker_stops_on_sigterm(db_url: str) -> None:
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    funded_ledger(db_url)
    exe = str(Path(sys.executable).with_name("ledger"))
    proc = subprocess.Popen(
        [exe, "--db", db_url, "projections", "follow", "--poll", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("following: ")  # handlers installed
    time.sleep(0.5)
    assert proc.poll() is None  # following
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err
    assert out.startswith("stopped: ")
