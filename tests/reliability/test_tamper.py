"""Tamper evidence, on a real SQLite file and the real PostgreSQL server.

Given a ledger recorded through the hash-chained recorder, when someone with
direct database access changes, deletes, inserts, swaps or re-hashes history
(dropping or disabling the append-only triggers first, as a superuser would),
then verification reports ok=false and names the first bad sequence number.
Also: signed checkpoints, offline export verification, the append-only
triggers, the PostgreSQL roles, migrations and readiness checks.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psycopg
import psycopg.rows
import pytest
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from aggregates.errors import DatabaseUnavailable, InvalidInput, NotInitialised
from cli import exit_code
from ledger import audit
from ledger.store.db import (
    DbConfig,
    app_environment,
    connect,
    ensure_ready,
    execute,
    fetchall,
    fetchone,
    get_setting,
    migrate,
    parse_db_url,
    set_setting,
)

N_EVENTS = 8


class Grant(Aggregate):
    """A tiny aggregate, standing in for the domain."""

    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name
        self.paid: list[str] = []

    @event("Paid")
    def pay(self, amount: str, note: str) -> None:
        self.paid.append(amount)


class TinyLedger(Application[uuid.UUID]):
    name = "Ledger"


def record(cfg: DbConfig, grants: int, payments: int) -> None:
    app = TinyLedger(env=app_environment(cfg))
    try:
        for g in range(grants):
            grant = Grant(f"平台 {g}")
            for p in range(payments):
                grant.pay(f"{1000 + p}.00", "拨付 第一批")
            app.save(grant)
    finally:
        app.close()


@pytest.fixture
def ledger(db_url: str) -> DbConfig:
    """An initialised ledger with N_EVENTS events (seq 1..8)."""
    cfg = parse_db_url(db_url)
    migrate(cfg)
    record(cfg, grants=2, payments=3)
    return cfg


# --- raw-SQL tampering ------------------------------------------------------------------


def nid_col(cfg: DbConfig) -> str:
    return "rowid" if cfg.backend == "sqlite" else "notification_id"


@contextmanager
def raw(cfg: DbConfig) -> Iterator[Any]:
    """A superuser-style raw connection with the append-only protection
    removed: SQLite triggers dropped, PostgreSQL triggers disabled."""
    if cfg.backend == "sqlite":
        conn = sqlite3.connect(str(cfg.sqlite_abspath), isolation_level=None)
        conn.row_factory = sqlite3.Row
        for (name,) in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'trigger'"
        ).fetchall():
            conn.execute(f"DROP TRIGGER {name}")
        try:
            yield conn
        finally:
            conn.close()
    else:
        pconn = psycopg.connect(
            dbname=cfg.dbname,
            host=cfg.host,
            port=cfg.port,
            user=cfg.user,
            autocommit=True,
            row_factory=psycopg.rows.dict_row,
        )
        for table in audit.APPEND_ONLY_TABLES:
            pconn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield pconn
        finally:
            pconn.close()


def run_sql(cfg: DbConfig, sql: str) -> None:
    """One statement through the product's own connection (triggers in force)."""
    with connect(cfg) as conn:
        conn.execute(sql)


def q(cfg: DbConfig, sql: str) -> str:
    return sql if cfg.backend == "sqlite" else sql.replace("?", "%s")


def event_at(conn: Any, cfg: DbConfig, seq: int) -> dict[str, Any]:
    nid = nid_col(cfg)
    row = conn.execute(
        q(
            cfg,
            f"SELECT e.{nid} AS nid, e.originator_id, e.originator_version, e.topic, e.state, "
            "c.encoding, c.recorded_by, c.recorded_at "
            f"FROM event_chain c JOIN ledger_events e ON e.{nid} = c.notification_id "
            "WHERE c.seq = ?",
        ),
        (seq,),
    ).fetchone()
    keys = ("nid", "originator_id", "originator_version", "topic", "state")
    out = {k: row[k] for k in keys}
    # encoding 2 (PostgreSQL) hashes the login and the server time too
    v2 = row["encoding"] == 2
    out["v2"] = {
        "recorded_by": row["recorded_by"] if v2 else None,
        "recorded_at": row["recorded_at"] if v2 else None,
    }
    return out


def assert_tampered(cfg: DbConfig, first_bad_seq: int, words: str) -> dict[str, Any]:
    result = audit.verify(cfg)
    assert result["ok"] is False, result
    assert result["first_bad_seq"] == first_bad_seq, result
    assert words in result["problem"], result
    assert set(result) == {"ok", "events", "first_bad_seq", "problem", "checkpoint"}
    return result


# --- untouched ----------------------------------------------------------------------------


def test_untouched_ledger_verifies(ledger: DbConfig) -> None:
    result = audit.verify(ledger)
    assert result == {
        "ok": True,
        "events": N_EVENTS,
        "first_bad_seq": None,
        "problem": None,
        "checkpoint": None,
    }


def test_empty_ledger_verifies(db_url: str) -> None:
    cfg = parse_db_url(db_url)
    migrate(cfg)
    assert audit.verify(cfg)["ok"] is True
    assert audit.verify(cfg)["events"] == 0


def test_chain_is_dense_and_in_notification_order(ledger: DbConfig) -> None:
    with connect(ledger) as conn:
        rows = fetchall(conn, "SELECT seq, notification_id FROM event_chain ORDER BY seq")
    assert [r["seq"] for r in rows] == list(range(1, N_EVENTS + 1))
    nids = [r["notification_id"] for r in rows]
    assert nids == sorted(nids)


# --- tampering -----------------------------------------------------------------------------


def test_changed_state_is_detected(ledger: DbConfig) -> None:
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 3)
        forged = bytes(ev["state"]).replace(b"1001.00", b"9001.00")
        assert forged != bytes(ev["state"])
        conn.execute(
            q(ledger, f"UPDATE ledger_events SET state = ? WHERE {nid_col(ledger)} = ?"),
            (forged, ev["nid"]),
        )
    assert_tampered(ledger, 3, "hash mismatch at seq 3")


def test_changed_topic_is_detected(ledger: DbConfig) -> None:
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 5)
        conn.execute(
            q(ledger, f"UPDATE ledger_events SET topic = ? WHERE {nid_col(ledger)} = ?"),
            (ev["topic"] + "Forged", ev["nid"]),
        )
    assert_tampered(ledger, 5, "hash mismatch at seq 5")


def test_deleted_event_is_detected(ledger: DbConfig) -> None:
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 4)
        conn.execute(
            q(ledger, f"DELETE FROM ledger_events WHERE {nid_col(ledger)} = ?"), (ev["nid"],)
        )
    assert_tampered(ledger, 4, "event deleted")


def test_deleted_event_and_chain_row_is_a_gap(ledger: DbConfig) -> None:
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 4)
        conn.execute(
            q(ledger, f"DELETE FROM ledger_events WHERE {nid_col(ledger)} = ?"), (ev["nid"],)
        )
        conn.execute(q(ledger, "DELETE FROM event_chain WHERE seq = ?"), (4,))
    assert_tampered(ledger, 4, "gap in the chain: seq 4 missing")


def test_inserted_event_is_detected(ledger: DbConfig) -> None:
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 2)
        oid = ev["originator_id"]
        new_id = uuid.uuid4()
        conn.execute(
            q(
                ledger,
                "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
                "VALUES (?, ?, ?, ?)",
            ),
            (
                new_id.hex if ledger.backend == "sqlite" else new_id,
                1,
                ev["topic"],
                bytes(ev["state"]),
            ),
        )
        assert oid is not None
    assert_tampered(ledger, N_EVENTS + 1, "event inserted")


def test_inserted_event_in_the_middle_is_detected(ledger: DbConfig) -> None:
    """An event slipped into a notification-id gap is placed before the seq that follows it."""
    with raw(ledger) as conn:
        # Make room: move the chain's 6th event to a high notification id (a
        # PostgreSQL sequence gap looks like this), then forge one into the hole.
        ev = event_at(conn, ledger, 6)
        nid = nid_col(ledger)
        conn.execute(
            q(ledger, f"UPDATE ledger_events SET {nid} = ? WHERE {nid} = ?"), (1000, ev["nid"])
        )
        conn.execute(
            q(
                ledger,
                "INSERT INTO ledger_events "
                f"(originator_id, originator_version, topic, state, {nid}) VALUES (?, ?, ?, ?, ?)",
            ),
            (ev["originator_id"], 99, ev["topic"], bytes(ev["state"]), ev["nid"]),
        )
    result = audit.verify(ledger)
    assert result["ok"] is False
    assert result["first_bad_seq"] == 6


def test_swapped_events_are_detected(ledger: DbConfig) -> None:
    nid = nid_col(ledger)
    with raw(ledger) as conn:
        a, b = event_at(conn, ledger, 2), event_at(conn, ledger, 7)
        upd = q(ledger, f"UPDATE ledger_events SET {nid} = ? WHERE {nid} = ?")
        conn.execute(upd, (-1, a["nid"]))
        conn.execute(upd, (a["nid"], b["nid"]))
        conn.execute(upd, (b["nid"], -1))
    assert_tampered(ledger, 2, "hash mismatch at seq 2")


def test_swapped_contents_are_detected(ledger: DbConfig) -> None:
    with raw(ledger) as conn:
        a, b = event_at(conn, ledger, 3), event_at(conn, ledger, 4)
        upd = q(ledger, f"UPDATE ledger_events SET state = ? WHERE {nid_col(ledger)} = ?")
        conn.execute(upd, (bytes(b["state"]), a["nid"]))
        conn.execute(upd, (bytes(a["state"]), b["nid"]))
    assert_tampered(ledger, 3, "hash mismatch at seq 3")


def test_altered_chain_hash_is_detected(ledger: DbConfig) -> None:
    with raw(ledger) as conn:
        conn.execute(
            q(ledger, "UPDATE event_chain SET chain_hash = ? WHERE seq = ?"),
            (hashlib.sha256(b"forged").hexdigest(), 6),
        )
    assert_tampered(ledger, 6, "hash mismatch at seq 6")


def test_rewritten_chain_is_caught_by_a_checkpoint(ledger: DbConfig, tmp_path: Path) -> None:
    """Someone who recomputes every hash after an edit fools the chain, not a checkpoint."""
    audit.keygen(tmp_path / "k.pem")
    cp = audit.checkpoint(ledger, tmp_path / "k.pem")
    from ledger.store.chain import GENESIS_HASH, next_chain_hash

    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 2)
        conn.execute(
            q(ledger, f"UPDATE ledger_events SET state = ? WHERE {nid_col(ledger)} = ?"),
            (bytes(ev["state"]).replace(b"1000.00", b"1.00"), ev["nid"]),
        )
        prev = GENESIS_HASH
        for seq in range(1, N_EVENTS + 1):
            e = event_at(conn, ledger, seq)
            prev = next_chain_hash(
                prev,
                seq,
                e["nid"],
                e["originator_id"],
                e["originator_version"],
                e["topic"],
                bytes(e["state"]),
                **e["v2"],
            )
            conn.execute(
                q(ledger, "UPDATE event_chain SET chain_hash = ? WHERE seq = ?"), (prev, seq)
            )
        # (and removes the checkpoint recorded in the database, which
        # `audit verify` also checks since issue 12, with its signed tree head)
        conn.execute("DELETE FROM audit_tree_heads")
        conn.execute("DELETE FROM audit_checkpoints")
    assert audit.verify(ledger)["ok"] is True  # the chain alone cannot tell
    result = audit.verify(ledger, checkpoint=cp)
    assert result["ok"] is False
    assert result["checkpoint"] == {"seq": N_EVENTS, "ok": False}
    assert "does not extend the checkpoint" in result["problem"]


def test_truncated_ledger_is_caught_by_a_checkpoint(ledger: DbConfig, tmp_path: Path) -> None:
    audit.keygen(tmp_path / "k.pem")
    cp = audit.checkpoint(ledger, tmp_path / "k.pem")
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, N_EVENTS)
        conn.execute(
            q(ledger, f"DELETE FROM ledger_events WHERE {nid_col(ledger)} = ?"), (ev["nid"],)
        )
        conn.execute(q(ledger, "DELETE FROM event_chain WHERE seq = ?"), (N_EVENTS,))
    result = audit.verify(ledger, checkpoint=cp)
    assert result["ok"] is False
    assert result["checkpoint"] == {"seq": N_EVENTS, "ok": False}
    assert "events were removed" in result["problem"]
    assert result["first_bad_seq"] == N_EVENTS  # the first event missing


def test_event_forged_before_the_chain_is_detected(ledger: DbConfig) -> None:
    """A forged event hidden behind a chain row at seq 0 (where the library's
    repository would still load it) is reported, not skipped."""
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 2)
        nid = nid_col(ledger)
        conn.execute(
            q(
                ledger,
                "INSERT INTO ledger_events "
                f"(originator_id, originator_version, topic, state, {nid}) VALUES (?, ?, ?, ?, ?)",
            ),
            (ev["originator_id"], 99, ev["topic"], bytes(ev["state"]), -1),
        )
        conn.execute(
            q(ledger, "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (?,?,?)"),
            (0, -1, "0" * 64),
        )
    result = assert_tampered(ledger, 0, "inserted outside the chain")
    assert result["events"] == N_EVENTS + 1


def test_positions_below_one_are_refused_on_insert(ledger: DbConfig) -> None:
    """With the protection in place, such a row cannot even be written."""
    for sql in (
        "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (0, 999, 'x')",
        "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (99, -3, 'x')",
    ):
        with pytest.raises(Exception, match="start at 1"):
            run_sql(ledger, sql)
    assert audit.verify(ledger)["ok"] is True


def test_a_recording_that_fails_while_chaining_stores_nothing(ledger: DbConfig) -> None:
    """A chain head that cannot be read (a forged row the insert-only clerk may
    write) makes the next recording fail — and it stores no event without its
    chain row: the transaction is rolled back, on both backends."""
    run_sql(
        ledger,
        "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (999, 999, 'x')",
    )
    with connect(ledger) as conn:
        before = fetchone(conn, "SELECT COUNT(*) AS n FROM ledger_events")
    with pytest.raises(Exception):  # noqa: B017 - whichever error the bad head gives
        record(ledger, grants=1, payments=0)
    with connect(ledger) as conn:
        after = fetchone(conn, "SELECT COUNT(*) AS n FROM ledger_events")
    assert after == before
    # and verify names the forged row
    result = audit.verify(ledger)
    assert result["ok"] is False and result["first_bad_seq"] is not None


def test_respelt_originator_id_is_detected(sqlite_url: str) -> None:
    """SQLite stores a UUID as 32 hex digits and loads events by exactly that
    text: an id re-spelt with hyphens hides the event from its aggregate."""
    cfg = parse_db_url(sqlite_url)
    migrate(cfg)
    record(cfg, grants=2, payments=3)
    with raw(cfg) as conn:
        ev = event_at(conn, cfg, 5)
        conn.execute(
            "UPDATE ledger_events SET originator_id = ? WHERE rowid = ?",
            (str(uuid.UUID(ev["originator_id"])), ev["nid"]),
        )
    assert_tampered(cfg, 5, "not in the form the recorder writes")


@pytest.mark.parametrize(
    "update, words",
    [
        ("UPDATE ledger_events SET state = CAST(state AS TEXT) WHERE rowid = ?", "as text"),
        (
            "UPDATE ledger_events SET originator_id = CAST(originator_id AS BLOB) WHERE rowid = ?",
            "as bytes",
        ),
    ],
)
def test_values_stored_with_another_type_are_reported_not_crashed(
    sqlite_url: str, update: str, words: str
) -> None:
    cfg = parse_db_url(sqlite_url)
    migrate(cfg)
    record(cfg, grants=2, payments=3)
    with raw(cfg) as conn:
        ev = event_at(conn, cfg, 4)
        conn.execute(update, (ev["nid"],))
    assert_tampered(cfg, 4, words)


# --- checkpoints ------------------------------------------------------------------------------


def test_checkpoint_then_more_events_verifies(ledger: DbConfig, tmp_path: Path) -> None:
    keys = audit.keygen(tmp_path / "auditor.pem")
    assert (tmp_path / "auditor.pem").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "auditor.pem.pub").exists()
    cp = audit.checkpoint(ledger, tmp_path / "auditor.pem", tmp_path / "cp.json")
    assert cp["seq"] == N_EVENTS
    assert cp["key_id"] == keys["key_id"] and len(cp["key_id"]) == 16
    assert cp["ledger_id"] == get_setting(ledger, "ledger_id")
    on_disk = audit.load_checkpoint(tmp_path / "cp.json")
    assert on_disk == cp

    record(ledger, grants=1, payments=2)
    result = audit.verify(ledger, checkpoint=on_disk)
    assert result == {
        "ok": True,
        "events": N_EVENTS + 3,
        "first_bad_seq": None,
        "problem": None,
        "checkpoint": {"seq": N_EVENTS, "ok": True},
    }
    assert [r["seq"] for r in audit.list_checkpoints(ledger)] == [N_EVENTS]


def test_a_checkpoint_does_not_hold_over_a_chain_broken_before_it(
    ledger: DbConfig, tmp_path: Path
) -> None:
    audit.keygen(tmp_path / "auditor.pem")
    cp = audit.checkpoint(ledger, tmp_path / "auditor.pem", tmp_path / "cp.json")
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 3)
        conn.execute(
            q(ledger, f"UPDATE ledger_events SET state = ? WHERE {nid_col(ledger)} = ?"),
            (bytes(ev["state"]).replace(b"1001.00", b"9001.00"), ev["nid"]),
        )
    result = audit.verify(ledger, checkpoint=cp)
    assert (result["ok"], result["first_bad_seq"]) == (False, 3)
    assert result["checkpoint"] == {"seq": N_EVENTS, "ok": False}


def test_checkpoint_with_bad_signature_fails(ledger: DbConfig, tmp_path: Path) -> None:
    audit.keygen(tmp_path / "k.pem")
    cp = audit.checkpoint(ledger, tmp_path / "k.pem")
    forged = dict(cp, seq=cp["seq"] - 1)
    result = audit.verify(ledger, checkpoint=forged)
    assert result["ok"] is False
    assert result["checkpoint"] == {"seq": N_EVENTS - 1, "ok": False}
    assert "bad signature" in result["problem"]

    sig = bytearray(__import__("base64").b64decode(cp["signature"]))
    sig[0] ^= 1
    bad = dict(cp, signature=__import__("base64").b64encode(bytes(sig)).decode())
    assert "bad signature" in audit.verify(ledger, checkpoint=bad)["problem"]


def test_checkpoint_with_swapped_key_fails(ledger: DbConfig, tmp_path: Path) -> None:
    audit.keygen(tmp_path / "a.pem")
    audit.keygen(tmp_path / "b.pem")
    cp_a = audit.checkpoint(ledger, tmp_path / "a.pem")
    cp_b = audit.checkpoint(ledger, tmp_path / "b.pem")
    mixed = dict(cp_a, public_key=cp_b["public_key"])
    assert "key id does not match" in audit.verify(ledger, checkpoint=mixed)["problem"]
    relabelled = dict(mixed, key_id=cp_b["key_id"])
    assert "bad signature" in audit.verify(ledger, checkpoint=relabelled)["problem"]


def test_checkpoint_from_another_ledger_fails(ledger: DbConfig, tmp_path: Path) -> None:
    other = parse_db_url(f"sqlite:///{tmp_path / 'other.db'}")
    migrate(other)
    record(other, grants=2, payments=3)
    audit.keygen(tmp_path / "k.pem")
    foreign = audit.checkpoint(other, tmp_path / "k.pem")
    result = audit.verify(ledger, checkpoint=foreign)
    assert result["ok"] is False
    assert result["checkpoint"] == {"seq": N_EVENTS, "ok": False}
    assert "another ledger" in result["problem"]
    # Even without the ledger id, its hash is not this ledger's.
    anonymous = dict(foreign, ledger_id=None)
    assert audit.verify(ledger, checkpoint=anonymous)["ok"] is False


def test_checkpoint_signed_by_an_untrusted_key_fails_when_the_key_is_pinned(
    ledger: DbConfig, tmp_path: Path
) -> None:
    """A file re-signed with any key is self-consistent; pinning the published
    key id (``--key-id``) is what makes it prove who signed."""
    trusted = audit.keygen(tmp_path / "auditor.pem")
    other = audit.keygen(tmp_path / "intruder.pem")
    genuine = audit.checkpoint(ledger, tmp_path / "auditor.pem")
    forged = audit.checkpoint(ledger, tmp_path / "intruder.pem")
    assert audit.verify(ledger, checkpoint=forged)["ok"] is True  # unpinned: any key
    pinned = audit.verify(ledger, checkpoint=forged, trusted_key_id=trusted["key_id"])
    assert pinned["ok"] is False
    assert f"not by the trusted key {trusted['key_id']}" in pinned["problem"]
    assert other["key_id"] in pinned["problem"]
    ok = audit.verify(ledger, checkpoint=genuine, trusted_key_id=trusted["key_id"])
    assert ok["ok"] is True


def test_the_ledger_id_cannot_be_changed_by_a_later_setting(
    ledger: DbConfig, tmp_path: Path
) -> None:
    audit.keygen(tmp_path / "k.pem")
    cp = audit.checkpoint(ledger, tmp_path / "k.pem")
    with connect(ledger, write=True) as conn:  # allowed: settings are insert-only
        execute(
            conn,
            "INSERT INTO ledger_settings (key, value) VALUES (?, ?)",
            ("ledger_id", str(uuid.uuid4())),
        )
    assert audit.verify(ledger, checkpoint=cp)["ok"] is True
    assert audit.checkpoint(ledger, tmp_path / "k.pem")["ledger_id"] == cp["ledger_id"]
    # re-signed without a ledger id, it no longer says which ledger it is of
    import base64

    from cryptography.hazmat.primitives.serialization import load_pem_private_key

    key = load_pem_private_key((tmp_path / "k.pem").read_bytes(), password=None)
    anonymous = dict(cp, ledger_id=None)
    anonymous["signature"] = base64.b64encode(
        key.sign(audit.checkpoint_message(anonymous))  # type: ignore[union-attr, call-arg]
    ).decode()
    result = audit.verify(ledger, checkpoint=anonymous)
    assert result["ok"] is False
    assert "names no ledger" in result["problem"]


def test_checkpoint_refuses_to_sign_a_tampered_chain(ledger: DbConfig, tmp_path: Path) -> None:
    from aggregates.errors import TamperDetected

    with raw(ledger) as conn:
        conn.execute(
            q(ledger, "UPDATE event_chain SET chain_hash = ? WHERE seq = ?"), ("0" * 64, 2)
        )
    audit.keygen(tmp_path / "k.pem")
    with pytest.raises(TamperDetected) as e:
        audit.checkpoint(ledger, tmp_path / "k.pem")
    assert exit_code(e.value) == 4


def test_keygen_never_overwrites(tmp_path: Path) -> None:
    from aggregates.errors import AlreadyExists

    audit.keygen(tmp_path / "k.pem")
    with pytest.raises(AlreadyExists):
        audit.keygen(tmp_path / "k.pem")


# --- export -----------------------------------------------------------------------------------


def test_export_verifies_offline(ledger: DbConfig, tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    summary = audit.export(ledger, out)
    assert summary["events"] == N_EVENTS
    lines = out.read_text(encoding="utf-8").splitlines()
    header = json.loads(lines[0])
    assert header["format"] == "ledger-audit-export" and header["prev_hash"] == "0" * 64
    first = json.loads(lines[1])
    assert first["seq"] == 1 and first["state_encoding"] == "utf-8"
    assert "平台" in first["state"]  # UTF-8, not escaped
    assert first["timestamp"] is not None
    assert first["prev_hash"] == "0" * 64
    assert json.loads(lines[2])["prev_hash"] == first["chain_hash"]
    assert audit.verify_export(out) == {
        "ok": True,
        "events": N_EVENTS,
        "first_bad_seq": None,
        "problem": None,
        "checkpoint": None,
    }


def test_tampered_export_is_detected(ledger: DbConfig, tmp_path: Path) -> None:
    out = tmp_path / "ledger.jsonl"
    audit.export(ledger, out)
    lines = out.read_text(encoding="utf-8").splitlines()
    line = json.loads(lines[4])
    assert "1002.00" in line["state"]
    line["state"] = line["state"].replace("1002.00", "9002.00")
    lines[4] = json.dumps(line, ensure_ascii=False)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = audit.verify_export(out)
    assert result["ok"] is False and result["first_bad_seq"] == 4

    del lines[3]  # drop seq 3 entirely
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert audit.verify_export(out)["first_bad_seq"] == 3


def test_export_of_a_tampered_ledger_fails_offline_too(ledger: DbConfig, tmp_path: Path) -> None:
    with raw(ledger) as conn:
        ev = event_at(conn, ledger, 7)
        conn.execute(
            q(ledger, f"UPDATE ledger_events SET state = ? WHERE {nid_col(ledger)} = ?"),
            (bytes(ev["state"]) + b" ", ev["nid"]),
        )
    audit.export(ledger, tmp_path / "x.jsonl")
    result = audit.verify_export(tmp_path / "x.jsonl")
    assert result["ok"] is False and result["first_bad_seq"] == 7


def test_export_since_a_checkpoint(ledger: DbConfig, tmp_path: Path) -> None:
    audit.keygen(tmp_path / "k.pem")
    cp = audit.checkpoint(ledger, tmp_path / "k.pem")
    record(ledger, grants=1, payments=1)
    audit.export(ledger, tmp_path / "inc.jsonl", since=cp["seq"])
    result = audit.verify_export(tmp_path / "inc.jsonl", checkpoint=cp)
    assert result["ok"] is True, result
    assert result["events"] == 2 and result["checkpoint"] == {"seq": N_EVENTS, "ok": True}

    audit.export(ledger, tmp_path / "all.jsonl")
    assert audit.verify_export(tmp_path / "all.jsonl", checkpoint=cp)["ok"] is True
    other = dict(cp, chain_hash="f" * 64)
    assert audit.verify_export(tmp_path / "all.jsonl", checkpoint=other)["ok"] is False


def test_export_rejects_unknown_since(ledger: DbConfig, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput):
        audit.export(ledger, tmp_path / "x.jsonl", since=999)


# --- append-only triggers ------------------------------------------------------------------------


def test_triggers_refuse_update_and_delete(ledger: DbConfig, tmp_path: Path) -> None:
    # Every history table gets a row (SQLite triggers are per row).
    set_setting(ledger, "default_policy", "lhasa-city")
    audit.keygen(tmp_path / "k.pem")
    audit.checkpoint(ledger, tmp_path / "k.pem")
    with connect(ledger) as conn:
        execute(
            conn,
            "INSERT INTO request_log (request_id, fingerprint, result) VALUES (?, ?, ?)",
            ("r1", "f", "{}"),
        )
    for table in audit.APPEND_ONLY_TABLES:
        for stmt in (
            f"UPDATE {table} SET {first_column(table)} = {first_column(table)}",
            f"DELETE FROM {table}",
        ):
            with pytest.raises((sqlite3.DatabaseError, psycopg.Error)) as e:
                run_sql(ledger, stmt)
            assert f"{table} is append-only" in str(e.value), stmt
    assert audit.verify(ledger)["ok"] is True


def first_column(table: str) -> str:
    return {
        "ledger_events": "topic",
        "event_chain": "chain_hash",
        "request_log": "result",
        "ledger_settings": "value",
        "audit_checkpoints": "signature",
        "merkle_nodes": "hash",
        "audit_tree_heads": "root_hash",
    }[table]


def test_postgres_triggers_refuse_truncate(pg_url: str) -> None:
    cfg = parse_db_url(pg_url)
    migrate(cfg)
    record(cfg, grants=1, payments=1)
    for table in audit.APPEND_ONLY_TABLES:
        with pytest.raises(psycopg.errors.InsufficientPrivilege) as e, connect(cfg) as conn:
            conn.execute(f"TRUNCATE {table} CASCADE")
        assert f"{table} is append-only (TRUNCATE refused)" in str(e.value)
    assert audit.verify(cfg)["events"] == 2


# --- roles (PostgreSQL) ---------------------------------------------------------------------


def as_role(cfg: DbConfig, role: str) -> DbConfig:
    return parse_db_url(f"postgresql://{role}@{cfg.host}:{cfg.port}/{cfg.dbname}")


def test_roles(pg_url: str) -> None:
    cfg = parse_db_url(pg_url)
    migrate(cfg)
    record(cfg, grants=1, payments=1)
    assert audit.create_roles(cfg)
    audit.create_roles(cfg)  # idempotent

    # A read model created later (as a projection migration would).
    with connect(cfg) as conn:
        conn.execute("CREATE TABLE proj_demo (k text PRIMARY KEY, v text)")

    auditor, clerk = as_role(cfg, "ledger_auditor"), as_role(cfg, "ledger_clerk")

    # The auditor reads everything, changes nothing.
    assert audit.verify(auditor)["ok"] is True
    with connect(auditor) as conn:
        assert fetchone(conn, "SELECT COUNT(*) AS n FROM proj_demo") == {"n": 0}
    for stmt in (
        "INSERT INTO ledger_events (originator_id, originator_version) "
        "VALUES (gen_random_uuid(), 1)",
        "INSERT INTO proj_demo VALUES ('a', 'b')",
        "INSERT INTO ledger_settings (key, value) VALUES ('x', 'y')",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            run_sql(auditor, stmt)

    # The clerk records (through the chained recorder); since issue 12 it may
    # not write settings or read models (the owner / projectors do)...
    record(clerk, grants=1, payments=2)
    with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
        set_setting(clerk, "default_policy", "xinjiang-tic")
    for stmt in (
        "INSERT INTO proj_demo VALUES ('a', 'b')",
        "UPDATE proj_demo SET v = 'c'",
        "DELETE FROM proj_demo",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            run_sql(clerk, stmt)
    # ...and cannot change history, whatever the triggers say.
    for stmt in (
        "UPDATE ledger_events SET topic = 'x'",
        "DELETE FROM ledger_events",
        "DELETE FROM event_chain",
        "TRUNCATE ledger_events",
        "UPDATE request_log SET result = 'x'",
    ):
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="permission denied"):
            run_sql(clerk, stmt)
    result = audit.verify(cfg)
    assert result["ok"] is True and result["events"] == 5


def test_roles_on_sqlite_explain_themselves(sqlite_url: str) -> None:
    cfg = parse_db_url(sqlite_url)
    migrate(cfg)
    lines = audit.create_roles(cfg)
    assert "SQLite has no roles" in lines[0]
    assert "append-only triggers are in place" in lines[1]


# --- migrations and readiness ---------------------------------------------------------------------


def test_migrations_are_idempotent(db_url: str) -> None:
    cfg = parse_db_url(db_url)
    first = migrate(cfg)
    assert first[:2] == ["0001_events", "0002_append_only"]
    assert migrate(cfg) == []
    ensure_ready(cfg)
    ledger_id = get_setting(cfg, "ledger_id")
    assert ledger_id is not None
    migrate(cfg)
    assert get_setting(cfg, "ledger_id") == ledger_id


def test_concurrent_init_is_safe(db_url: str) -> None:
    cfg = parse_db_url(db_url)
    results: list[list[str]] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            results.append(migrate(cfg))
        except BaseException as e:  # pragma: no cover - the failure being tested for
            errors.append(e)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    applied = [label for r in results for label in r]
    assert sorted(applied) == sorted(set(applied))  # each applied exactly once
    ensure_ready(cfg)
    with connect(cfg) as conn:
        ids = fetchall(conn, "SELECT value FROM ledger_settings WHERE key = 'ledger_id'")
    assert len(ids) == 1


def test_settings_are_insert_only_newest_wins(db_url: str) -> None:
    cfg = parse_db_url(db_url)
    migrate(cfg)
    assert get_setting(cfg, "default_policy") is None
    assert set_setting(cfg, "default_policy", "lhasa-city") is True
    assert set_setting(cfg, "default_policy", "lhasa-city") is False
    assert set_setting(cfg, "default_policy", "xinjiang-tic") is True
    assert get_setting(cfg, "default_policy") == "xinjiang-tic"
    with connect(cfg) as conn:
        rows = fetchall(conn, "SELECT value FROM ledger_settings WHERE key = 'default_policy'")
    assert len(rows) == 2


def test_missing_sqlite_file_is_not_initialised_and_not_created(tmp_path: Path) -> None:
    cfg = parse_db_url(f"sqlite:///{tmp_path / 'nope.db'}")
    with pytest.raises(NotInitialised) as e:
        ensure_ready(cfg)
    assert exit_code(e.value) == 3
    assert "run `ledger init`" in str(e.value)
    with pytest.raises(NotInitialised):
        audit.verify(cfg)
    assert not (tmp_path / "nope.db").exists()
    assert list(tmp_path.iterdir()) == []


def test_uninitialised_databases(db_url: str, tmp_path: Path) -> None:
    cfg = parse_db_url(db_url)
    if cfg.backend == "sqlite":
        sqlite3.connect(cfg.sqlite_abspath).close()  # an empty file
    with pytest.raises(NotInitialised) as e:
        ensure_ready(cfg)
    assert exit_code(e.value) == 3 and "is not initialised" in str(e.value)


def test_schema_behind_is_not_initialised(db_url: str) -> None:
    cfg = parse_db_url(db_url)
    migrate(cfg)
    with connect(cfg) as conn:
        conn.execute("DELETE FROM schema_migrations WHERE version = 2")
    with pytest.raises(NotInitialised, match="migration 0002 pending"):
        ensure_ready(cfg)
    assert migrate(cfg) == ["0002_append_only"]  # re-applying it is harmless
    ensure_ready(cfg)


def test_unreachable_postgres_fails_fast_with_exit_3() -> None:
    cfg = parse_db_url("postgresql://postgres@127.0.0.1:1/ledger")
    started = time.monotonic()
    with pytest.raises(DatabaseUnavailable) as e:
        ensure_ready(cfg)
    assert time.monotonic() - started < 6
    assert exit_code(e.value) == 3
    assert str(e.value) == (
        "cannot reach the database at postgresql://postgres@127.0.0.1:1/ledger: connection refused"
    )


def test_missing_postgres_database_is_unavailable(pg_server: str) -> None:
    cfg = parse_db_url(f"{pg_server}/ledger_no_such_db_{uuid.uuid4().hex[:8]}")
    with pytest.raises(DatabaseUnavailable, match="does not exist"):
        ensure_ready(cfg)


def test_password_is_masked_in_messages() -> None:
    cfg = parse_db_url("postgresql://clerk:s3cret@127.0.0.1:1/ledger")
    with pytest.raises(DatabaseUnavailable) as e:
        ensure_ready(cfg)
    assert "s3cret" not in str(e.value) and "clerk:***@" in str(e.value)


@pytest.mark.parametrize(
    "url",
    [
        "",
        "mysql://x/y",
        "sqlite://ledger.db",
        "sqlite:///",
        "postgresql://host",
        "postgresql:///db",
        "postgresql://h:notaport/db",
    ],
)
def test_malformed_urls_are_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput) as e:
        parse_db_url(url)
    assert exit_code(e.value) == 2


def test_urls_parse() -> None:
    rel = parse_db_url("sqlite:///ledger.db")
    assert rel.backend == "sqlite" and rel.sqlite_path == Path("ledger.db")
    absolute = parse_db_url("sqlite:////var/lib/ledger/l.db")
    assert absolute.sqlite_path == Path("/var/lib/ledger/l.db")
    pg = parse_db_url("postgres://u:p%40ss@db.example:6543/ledger")
    assert (pg.backend, pg.user, pg.password, pg.host, pg.port, pg.dbname) == (
        "postgresql",
        "u",
        "p@ss",
        "db.example",
        6543,
        "ledger",
    )
    assert parse_db_url("postgresql://u@h/d").port == 5432


# --- through the CLI (real subprocesses: exit codes and stderr matter) ------------------------


def ledger_cli(*args: str, env_db: str | None = None) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "ledger"
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-c", "from cli import main; main()"]
    env = dict(os.environ)
    if env_db:
        env["LEDGER_DB"] = env_db
    return subprocess.run(
        [*cmd, *args], capture_output=True, text=True, env=env, timeout=120, check=False
    )


def _tamper_state(cfg: DbConfig, conn: Any) -> int:
    ev = event_at(conn, cfg, 3)
    conn.execute(
        q(cfg, f"UPDATE ledger_events SET state = ? WHERE {nid_col(cfg)} = ?"),
        (bytes(ev["state"]) + b" ", ev["nid"]),
    )
    return 3


def _tamper_delete(cfg: DbConfig, conn: Any) -> int:
    ev = event_at(conn, cfg, 4)
    conn.execute(q(cfg, f"DELETE FROM ledger_events WHERE {nid_col(cfg)} = ?"), (ev["nid"],))
    return 4


def _tamper_gap(cfg: DbConfig, conn: Any) -> int:
    ev = event_at(conn, cfg, 5)
    conn.execute(q(cfg, f"DELETE FROM ledger_events WHERE {nid_col(cfg)} = ?"), (ev["nid"],))
    conn.execute(q(cfg, "DELETE FROM event_chain WHERE seq = ?"), (5,))
    return 5


def _tamper_insert(cfg: DbConfig, conn: Any) -> int:
    ev = event_at(conn, cfg, 1)
    new_id = uuid.uuid4()
    conn.execute(
        q(
            cfg,
            "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
        ),
        (new_id.hex if cfg.backend == "sqlite" else new_id, 1, ev["topic"], bytes(ev["state"])),
    )
    return N_EVENTS + 1


def _tamper_swap(cfg: DbConfig, conn: Any) -> int:
    nid = nid_col(cfg)
    a, b = event_at(conn, cfg, 2), event_at(conn, cfg, 6)
    upd = q(cfg, f"UPDATE ledger_events SET {nid} = ? WHERE {nid} = ?")
    conn.execute(upd, (-1, a["nid"]))
    conn.execute(upd, (a["nid"], b["nid"]))
    conn.execute(upd, (b["nid"], -1))
    return 2


def _tamper_hash(cfg: DbConfig, conn: Any) -> int:
    conn.execute(q(cfg, "UPDATE event_chain SET chain_hash = ? WHERE seq = ?"), ("a" * 64, 7))
    return 7


@pytest.mark.parametrize(
    "tamper",
    [_tamper_state, _tamper_delete, _tamper_gap, _tamper_insert, _tamper_swap, _tamper_hash],
    ids=["state", "delete", "gap", "insert", "swap", "hash"],
)
def test_cli_verify_exits_4_naming_the_first_bad_seq(ledger: DbConfig, tamper: Any) -> None:
    ok = ledger_cli("--db", ledger.url, "audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert "yes" in ok.stdout

    with raw(ledger) as conn:
        bad_seq = tamper(ledger, conn)
    out = ledger_cli("audit", "verify", "--format", "json", env_db=ledger.url)
    assert out.returncode == 4, (out.stdout, out.stderr)
    result = json.loads(out.stdout)
    assert result["ok"] is False and result["first_bad_seq"] == bad_seq
    lines = out.stderr.strip().splitlines()
    assert lines[-1].startswith(f"error: verification failed at seq {bad_seq}: ")
    assert "Traceback" not in out.stderr


def test_cli_checkpoint_export_and_offline_verification(ledger: DbConfig, tmp_path: Path) -> None:
    key, cp, exp = tmp_path / "auditor.pem", tmp_path / "cp.json", tmp_path / "ledger.jsonl"
    made = ledger_cli("--db", ledger.url, "audit", "keygen", "--out", str(key))
    assert made.returncode == 0, made.stderr
    assert key.stat().st_mode & 0o777 == 0o600
    signed = ledger_cli(
        "--db",
        ledger.url,
        "audit",
        "checkpoint",
        "--key",
        str(key),
        "--out",
        str(cp),
        "--format",
        "json",
    )
    assert signed.returncode == 0, signed.stderr
    assert json.loads(signed.stdout)["seq"] == N_EVENTS == json.loads(cp.read_text())["seq"]

    record(ledger, grants=1, payments=1)
    checked = ledger_cli(
        "--db", ledger.url, "audit", "verify", "--checkpoint", str(cp), "--format", "json"
    )
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["checkpoint"] == {"seq": N_EVENTS, "ok": True}
    as_csv = ledger_cli(
        "--db", ledger.url, "audit", "verify", "--checkpoint", str(cp), "--format", "csv"
    )
    assert as_csv.returncode == 0, as_csv.stderr
    assert as_csv.stdout.splitlines()[0] == (
        "ok,events,first_bad_seq,problem,checkpoint_seq,checkpoint_ok"
    )
    assert as_csv.stdout.splitlines()[1].endswith(f",,,{N_EVENTS},yes")

    exported = ledger_cli("--db", ledger.url, "audit", "export", "--out", str(exp))
    assert exported.returncode == 0, exported.stderr
    # Offline: no database at all (LEDGER_DB points nowhere).
    offline = ledger_cli(
        "audit",
        "verify",
        "--file",
        str(exp),
        "--checkpoint",
        str(cp),
        "--format",
        "json",
        env_db=f"sqlite:///{tmp_path / 'absent.db'}",
    )
    assert offline.returncode == 0, offline.stderr
    assert json.loads(offline.stdout)["events"] == N_EVENTS + 2
    assert not (tmp_path / "absent.db").exists()

    doc = json.loads(cp.read_text())
    doc["chain_hash"] = "b" * 64
    cp.write_text(json.dumps(doc))
    forged = ledger_cli("--db", ledger.url, "audit", "verify", "--checkpoint", str(cp))
    assert forged.returncode == 4
    assert "bad signature" in forged.stderr


def test_the_documented_offline_procedure_verifies_an_export(
    ledger: DbConfig, tmp_path: Path
) -> None:
    """The Python procedure docs/AUDIT.md gives an auditor, run as written:
    ok on a true export and checkpoint with the published key id; it stops
    on an altered export and on a checkpoint signed by another key."""
    import re

    doc = (Path(__file__).resolve().parents[2] / "docs" / "AUDIT.md").read_text(encoding="utf-8")
    script = re.search(r"```python\n(.*?)```", doc, re.S)
    assert script, "docs/AUDIT.md has no python block"
    (tmp_path / "verify_export.py").write_text(script.group(1), encoding="utf-8")
    key, cp, exp = tmp_path / "auditor.pem", tmp_path / "cp.json", tmp_path / "ledger.jsonl"
    key_id = audit.keygen(key)["key_id"]
    audit.checkpoint(ledger, key, cp)
    audit.export(ledger, exp)

    def offline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(tmp_path / "verify_export.py"), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    good = offline(str(exp), str(cp), key_id)
    assert good.returncode == 0, good.stderr
    assert good.stdout.startswith(f"ok: {N_EVENTS} events")

    lines = exp.read_text(encoding="utf-8").splitlines()
    lines[3] = lines[3].replace("1001.00", "9001.00")
    (tmp_path / "altered.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    bad = offline(str(tmp_path / "altered.jsonl"), str(cp), key_id)
    assert bad.returncode != 0 and "hash mismatch at seq 3" in bad.stderr
    # python -O strips asserts; the procedure's checks are not asserts
    optimised = subprocess.run(
        [sys.executable, "-O", str(tmp_path / "verify_export.py"), str(tmp_path / "altered.jsonl")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert optimised.returncode == 1 and "hash mismatch at seq 3" in optimised.stderr

    wrong_key = offline(str(exp), str(cp), "0" * 16)
    assert wrong_key.returncode != 0 and "not signed by the published key" in wrong_key.stderr
    cli = ledger_cli(
        "audit", "verify", "--file", str(exp), "--checkpoint", str(cp), "--key-id", "0" * 16
    )
    assert cli.returncode == 4 and "not by the trusted key" in cli.stderr
    typo = ledger_cli(
        "audit", "verify", "--file", str(exp), "--checkpoint", str(cp), "--key-id", "KEYID"
    )
    assert typo.returncode == 2 and "invalid --key-id" in typo.stderr
    cli_ok = ledger_cli(
        "audit", "verify", "--file", str(exp), "--checkpoint", str(cp), "--key-id", key_id
    )
    assert cli_ok.returncode == 0, cli_ok.stderr


def test_cli_verify_uninitialised_is_exit_3(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    out = ledger_cli("--db", url, "audit", "verify")
    assert out.returncode == 3
    assert out.stderr.strip().splitlines()[-1] == (
        f"error: the database at {url} is not initialised (no such file); run `ledger init`"
    )
    assert not (tmp_path / "none.db").exists()


def test_cli_init_roles(db_url: str) -> None:
    out = ledger_cli("--db", db_url, "init", "--roles")
    assert out.returncode == 0, out.stderr
    if db_url.startswith("sqlite"):
        assert "SQLite has no roles" in out.stdout
    else:
        assert "ledger_auditor: read-only" in out.stdout
        again = ledger_cli("--db", db_url, "init", "--roles")
        assert again.returncode == 0, again.stderr


def test_chain_encoding_matches_the_documented_test_vector() -> None:
    """docs/AUDIT.md gives these bytes and hashes; code and document must agree."""
    from ledger.store.chain import GENESIS_HASH, encode_event, next_chain_hash

    oid = uuid.UUID("6f1c0a52-8d0e-5b8e-9c43-2a9e0f6c1b7d")
    state = '{"name":"拉萨"}'.encode()
    assert encode_event(1, 1, oid, 1, "aggregates.unit:Unit.Registered", state).hex() == (
        "0000000000000001310000000000000001310000000000000024"
        "36663163306135322d386430652d356238652d396334332d326139653066366331623764"
        "000000000000000131000000000000001f"
        "616767726567617465732e756e69743a556e69742e52656769737465726564"
        "00000000000000117b226e616d65223a22e68b89e890a8227d"
    )
    h1 = next_chain_hash(GENESIS_HASH, 1, 1, oid, 1, "aggregates.unit:Unit.Registered", state)
    assert h1 == "0070d8706de2e15cd2ba55601052d6722766035d2e5400d9204d6ea5a46c6e1b"
    # SQLite stores the id as 32 hex digits: the same canonical text.
    h2 = next_chain_hash(h1, 2, 3, oid.hex, 2, "aggregates.unit:Unit.Renamed", b"{}")
    assert h2 == "5cd55eb0ed1a69d0367604f5bcb3353053dba04736f32e3ac53dfcd701ba6094"


WRITER = """
import sys, uuid
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from ledger.store.db import app_environment, parse_db_url

class Grant(Aggregate):
    @event("Opened")
    def __init__(self, name: str) -> None:
        self.name = name

    @event("Paid")
    def pay(self, amount: str) -> None:
        pass

class Ledger(Application[uuid.UUID]):
    name = "Ledger"

app = Ledger(env=app_environment(parse_db_url(sys.argv[1])))
for i in range(int(sys.argv[2])):
    g = Grant(f"writer {sys.argv[3]} grant {i}")
    g.pay("1.00")
    app.save(g)
app.close()
"""


@pytest.mark.slow
def test_concurrent_writer_processes_never_fork_the_chain(db_url: str) -> None:
    """Several processes recording at once (SQLite's file lock, PostgreSQL's
    table lock) leave one dense, valid chain."""
    cfg = parse_db_url(db_url)
    migrate(cfg)
    writers, saves = 4, 25
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, db_url, str(saves), str(w)],
            cwd=str(Path(__file__).resolve().parents[2]),
            stderr=subprocess.PIPE,
            text=True,
        )
        for w in range(writers)
    ]
    for p in procs:
        _, err = p.communicate(timeout=300)
        assert p.returncode == 0, err
    result = audit.verify(cfg)
    assert result["ok"] is True, result
    assert result["events"] == writers * saves * 2
    with connect(cfg) as conn:
        row = fetchone(conn, "SELECT COUNT(*) AS n, MAX(seq) AS top FROM event_chain")
    assert row == {"n": writers * saves * 2, "top": writers * saves * 2}
