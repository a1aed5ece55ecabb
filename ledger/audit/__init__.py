"""The audit trail: chain verification, export, signing keys, signed checkpoints
and the PostgreSQL roles.

Verification streams the chain in ``seq`` order (a server-side cursor on
PostgreSQL, batches on SQLite), so it runs in constant memory. The same
:class:`ChainVerifier` checks the database and an export file, so an auditor
can verify an export offline with exactly the code (and the procedure) in
docs/AUDIT.md.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import sqlite3
import sys
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import structlog
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from aggregates.errors import AlreadyExists, InvalidInput, NotInitialised, TamperDetected
from ledger.store.chain import GENESIS_HASH, canonical_originator_id, next_chain_hash
from ledger.store.db import DbConfig, connect, execute, fetchall, fetchone, sql_for

log = structlog.get_logger()

Progress = Callable[[int, int], None]

APPEND_ONLY_TABLES = (
    "ledger_events",
    "event_chain",
    "request_log",
    "ledger_settings",
    "audit_checkpoints",
)
EXPORT_FORMAT = "ledger-audit-export"
CHECKPOINT_FORMAT = "ledger-checkpoint"
BATCH = 2000


# --- the verifier (shared by the database and export paths) -----------------------------


@dataclass
class ChainRow:
    """One position of the chain as stored: the chain row, and its event if any."""

    seq: int
    notification_id: int
    chain_hash: str
    originator_id: Any = None
    originator_version: int | None = None
    topic: str | None = None
    state: bytes | None = None
    has_event: bool = True
    problem: str | None = None


@dataclass
class ChainVerifier:
    """Feed rows in seq order; remembers the first problem only."""

    prev_hash: str = GENESIS_HASH
    expected_seq: int = 1
    checked: int = 0
    first_bad_seq: int | None = None
    problem: str | None = None
    checkpoint_seq: int | None = None
    checkpoint_hash: str | None = None
    checkpoint_seen: bool = False
    checkpoint_problem: str | None = None
    head_hash: str = GENESIS_HASH
    last_notification_id: int = 0
    _failed: bool = field(default=False, repr=False)

    def fail(self, seq: int, problem: str) -> None:
        if not self._failed or (self.first_bad_seq is not None and seq < self.first_bad_seq):
            self.first_bad_seq = seq
            self.problem = problem
        self._failed = True

    def feed(self, row: ChainRow) -> None:
        self.checked += 1
        if self.checkpoint_seq is not None and row.seq == self.checkpoint_seq:
            self.checkpoint_seen = True
            if row.chain_hash != self.checkpoint_hash:
                self.checkpoint_problem = (
                    f"the chain hash at seq {row.seq} is not the checkpoint's: "
                    "the ledger does not extend the checkpoint (an event at or before "
                    f"seq {row.seq} was changed, removed or inserted, and the chain recomputed)"
                )
        if self._failed:
            return
        if row.seq < 1:
            self.fail(
                row.seq,
                f"chain row with seq {row.seq} (notification id {row.notification_id}): "
                "sequence numbers start at 1, so it was inserted outside the chain",
            )
            return
        if row.seq != self.expected_seq:
            if row.seq > self.expected_seq:
                missing = (
                    f"seq {self.expected_seq}"
                    if row.seq == self.expected_seq + 1
                    else f"seq {self.expected_seq}-{row.seq - 1}"
                )
                self.fail(self.expected_seq, f"gap in the chain: {missing} missing")
            else:
                self.fail(row.seq, f"seq {row.seq} appears twice or out of order")
            return
        if not row.has_event:
            self.fail(
                row.seq,
                f"event deleted: seq {row.seq} (notification id {row.notification_id}) "
                "has no event in ledger_events",
            )
            return
        if row.notification_id <= self.last_notification_id:
            self.fail(
                row.seq,
                f"events reordered: seq {row.seq} has notification id {row.notification_id}, "
                f"not after {self.last_notification_id}",
            )
            return
        if row.originator_id is None or row.originator_version is None or row.topic is None:
            self.fail(row.seq, f"event at seq {row.seq} has missing fields")
            return
        if row.problem is not None:
            self.fail(row.seq, f"event at seq {row.seq} was altered: {row.problem}")
            return
        expected = next_chain_hash(
            self.prev_hash,
            row.seq,
            row.notification_id,
            row.originator_id,
            row.originator_version,
            row.topic,
            row.state if row.state is not None else b"",
        )
        if expected != row.chain_hash:
            self.fail(
                row.seq,
                f"hash mismatch at seq {row.seq}: the event (notification id "
                f"{row.notification_id}, {canonical_originator_id(row.originator_id)} "
                f"v{row.originator_version}) or its chain hash was altered",
            )
            return
        self.prev_hash = expected
        self.head_hash = expected
        self.expected_seq += 1
        self.last_notification_id = row.notification_id

    def finish_checkpoint(self, last_seq: int) -> dict[str, Any] | None:
        if self.checkpoint_seq is None:
            return None
        if self.checkpoint_problem is None and not self.checkpoint_seen:
            if self.checkpoint_seq == 0:
                if self.checkpoint_hash != GENESIS_HASH:
                    self.checkpoint_problem = "a checkpoint at seq 0 must carry the genesis hash"
            else:
                self.checkpoint_problem = (
                    f"the checkpoint is at seq {self.checkpoint_seq} but the chain ends at "
                    f"seq {last_seq}: events were removed"
                )
        return {"seq": self.checkpoint_seq, "ok": self.checkpoint_problem is None}


def _result(
    v: ChainVerifier, events: int, checkpoint: dict[str, Any] | None, last_seq: int = 0
) -> dict[str, Any]:
    if (
        checkpoint is not None
        and v.first_bad_seq is not None
        and checkpoint["seq"] is not None
        and v.first_bad_seq <= int(checkpoint["seq"])
    ):
        # a chain broken at or before the checkpoint does not extend it, even
        # where the stored hash at its seq still equals the signed one
        checkpoint = {**checkpoint, "ok": False}
    ok = v.problem is None and (checkpoint is None or bool(checkpoint["ok"]))
    problem = v.problem
    first_bad = v.first_bad_seq
    if problem is None and v.checkpoint_problem is not None:
        problem = f"checkpoint: {v.checkpoint_problem}"
        if v.checkpoint_seen:
            # a rewritten and re-chained history: the change is at or before here
            first_bad = v.checkpoint_seq
        elif v.checkpoint_seq is not None and v.checkpoint_seq > last_seq:
            # events cut off the end: the first one missing
            first_bad = last_seq + 1
    return {
        "ok": ok,
        "events": events,
        "first_bad_seq": first_bad,
        "problem": problem,
        "checkpoint": checkpoint,
    }


# --- checkpoints: signing and checking -------------------------------------------------------


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def checkpoint_message(doc: dict[str, Any]) -> bytes:
    """The signed bytes: canonical JSON (sorted keys, no spaces, ASCII) of
    format, version, ledger_id, seq, chain_hash, taken_at."""
    payload = {k: doc.get(k) for k in ("format", "version", "ledger_id", "seq", "chain_hash")}
    payload["taken_at"] = doc.get("taken_at")
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def check_checkpoint_document(
    doc: dict[str, Any], ledger_id: str | None, trusted_key_id: str | None = None
) -> str | None:
    """The problem with a checkpoint's form, key, signature or ledger, or None.
    ``trusted_key_id``: the signer's key id as published (``--key-id``); the
    key embedded in the file proves only that *some* key signed it."""
    if doc.get("format") != CHECKPOINT_FORMAT or doc.get("version") != 1:
        return "not a ledger checkpoint file (format ledger-checkpoint, version 1)"
    seq = doc.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "the checkpoint has no valid seq"
    chain_hash = doc.get("chain_hash")
    if not isinstance(chain_hash, str) or len(chain_hash) != 64:
        return "the checkpoint has no valid chain_hash"
    try:
        raw = base64.b64decode(str(doc.get("public_key", "")), validate=True)
        public_key = Ed25519PublicKey.from_public_bytes(raw)
        signature = base64.b64decode(str(doc.get("signature", "")), validate=True)
    except ValueError:
        return "the checkpoint's public key or signature is malformed"
    if key_id_of(public_key) != doc.get("key_id"):
        return "the checkpoint's key id does not match its public key"
    if trusted_key_id is not None and doc.get("key_id") != trusted_key_id.strip().lower():
        return (
            f"the checkpoint was signed by key {doc.get('key_id')}, "
            f"not by the trusted key {trusted_key_id}"
        )
    try:
        public_key.verify(signature, checkpoint_message(doc))
    except InvalidSignature:
        return "bad signature: the checkpoint was not signed by its key, or was altered"
    if ledger_id is not None and doc.get("ledger_id") is None:
        return f"the checkpoint names no ledger (this ledger is {ledger_id})"
    if ledger_id is not None and doc.get("ledger_id") != ledger_id:
        return (
            f"the checkpoint is from another ledger (ledger id {doc.get('ledger_id')}, "
            f"this ledger is {ledger_id})"
        )
    return None


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read checkpoint {path}: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"cannot read checkpoint {path}: not a JSON object")
    return doc


# --- progress ---------------------------------------------------------------------------


def terminal_progress(label: str = "verifying") -> Progress | None:
    """A progress printer on stderr, or None when stderr is not a terminal."""
    if not sys.stderr.isatty():
        return None

    def show(done: int, total: int) -> None:
        """``total`` 0 while it is not known (an export file being read)."""
        if total <= 0 and done > 0:
            sys.stderr.write(f"\r{label}: {done}")
        else:
            pct = f" {100 * done // total:3d}%" if total else ""
            end = "\n" if done >= total else ""
            sys.stderr.write(f"\r{label}: {done}/{total}{pct}{end}")
        sys.stderr.flush()

    return show


# --- reading the chain from the database -----------------------------------------------------


def _nid_column(conn: Any) -> str:
    return "rowid" if isinstance(conn, sqlite3.Connection) else "notification_id"


def _stream(conn: Any, sql: str, params: tuple[Any, ...] = ()) -> Iterator[dict[str, Any]]:
    """Rows of a query in batches: a named server-side cursor on PostgreSQL."""
    if isinstance(conn, sqlite3.Connection):
        cur = conn.execute(sql, params)
        while True:
            rows = cur.fetchmany(BATCH)
            if not rows:
                return
            for r in rows:
                yield {k: r[k] for k in r.keys()}  # noqa: SIM118 - sqlite3.Row
    else:
        with conn.cursor(name="ledger_audit_stream") as cur:
            cur.itersize = BATCH
            cur.execute(sql_for(conn, sql), params)
            yield from cur


_HEX32 = frozenset("0123456789abcdef")


def _stored_row(r: dict[str, Any], sqlite: bool) -> ChainRow:
    """A chain row read from the database. A value stored with another type or
    in another form than the recorder writes (state as text, an id as bytes or
    re-spelt) is reported as altered, never crashes the verification."""
    problem: str | None = None
    state: Any = r["state"]
    if isinstance(state, str):
        problem = "its state is stored as text, not as the recorded bytes"
        state = state.encode("utf-8")
    elif state is not None:
        state = bytes(state)
    oid: Any = r["originator_id"]
    if isinstance(oid, (bytes, bytearray, memoryview)):
        problem = problem or "its originator id is stored as bytes, not as recorded"
        oid = bytes(oid).hex()
    elif sqlite and oid is not None:
        # the library's SQLite recorder stores a UUID as its 32 lowercase hex
        # digits, and reads events back by exactly that text
        text = str(oid)
        if len(text) != 32 or not set(text) <= _HEX32:
            problem = problem or (
                f"its originator id is stored as {text!r}, not in the form the recorder "
                "writes (32 lowercase hex digits)"
            )
            oid = f"altered:{text}"
    version: Any = r["originator_version"]
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        problem = problem or f"its version is stored as {version!r}, not as an integer"
        version = -1
    topic: Any = r["topic"]
    if topic is not None and not isinstance(topic, str):
        problem = problem or "its topic is not stored as text"
        topic = repr(topic)
    return ChainRow(
        seq=int(r["seq"]),
        notification_id=int(r["notification_id"]),
        chain_hash=str(r["chain_hash"]),
        originator_id=oid,
        originator_version=version,
        topic=topic,
        state=state,
        has_event=bool(r["has_event"]),
        problem=problem,
    )


def _chain_rows(conn: Any, since: int | None = None) -> Iterator[ChainRow]:
    """The chain in seq order joined with its events; every row when ``since``
    is None (rows at seq 0 or below included: they can only be forged)."""
    nid = _nid_column(conn)
    sql = (
        "SELECT c.seq, c.notification_id, c.chain_hash, e.originator_id, "
        "e.originator_version, e.topic, e.state, "
        f"CASE WHEN e.{nid} IS NULL THEN 0 ELSE 1 END AS has_event "
        f"FROM event_chain c LEFT JOIN ledger_events e ON e.{nid} = c.notification_id "
    )
    params: tuple[Any, ...] = ()
    if since is not None:
        sql += "WHERE c.seq > ? "
        params = (since,)
    sql += "ORDER BY c.seq"
    sqlite = isinstance(conn, sqlite3.Connection)
    for r in _stream(conn, sql, params):
        yield _stored_row(r, sqlite)


def _first_unchained_event(conn: Any) -> tuple[int, int] | None:
    """(notification id, seq it would sit before) of the first event that has
    no chain row — an inserted event — or None."""
    nid = _nid_column(conn)
    row = fetchone(
        conn,
        f"SELECT MIN(e.{nid}) AS nid FROM ledger_events e "
        f"WHERE NOT EXISTS (SELECT 1 FROM event_chain c WHERE c.notification_id = e.{nid})",
    )
    if row is None or row["nid"] is None:
        return None
    orphan = int(row["nid"])
    after = fetchone(
        conn,
        "SELECT MIN(seq) AS seq FROM event_chain WHERE notification_id > ?",
        (orphan,),
    )
    if after is not None and after["seq"] is not None:
        return orphan, int(after["seq"])
    last = fetchone(conn, "SELECT MAX(seq) AS seq FROM event_chain")
    return orphan, (int(last["seq"]) if last and last["seq"] is not None else 0) + 1


def _count(conn: Any, table: str) -> int:
    row = fetchone(conn, f"SELECT COUNT(*) AS n FROM {table}")
    return int(row["n"]) if row else 0


def _ledger_id(conn: Any) -> str | None:
    row = fetchone(
        conn,
        # the id given by the first `ledger init`: a later row cannot re-identify the ledger
        "SELECT value FROM ledger_settings WHERE key = 'ledger_id' ORDER BY id LIMIT 1",
    )
    return None if row is None else str(row["value"])


def _require_schema(cfg: DbConfig, conn: Any) -> None:
    if isinstance(conn, sqlite3.Connection):
        found = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'event_chain'"
        ).fetchone()
    else:
        found = conn.execute("SELECT to_regclass('public.event_chain') AS t").fetchone()
        found = found if found and found["t"] is not None else None
    if found is None:
        raise NotInitialised(
            f"the database at {cfg.display_url} is not initialised; run `ledger init`"
        )


def _begin_snapshot(conn: Any) -> None:
    """One consistent snapshot for the whole verification."""
    if not isinstance(conn, sqlite3.Connection):
        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


# --- verify ---------------------------------------------------------------------------


def verify(
    cfg: DbConfig,
    *,
    checkpoint: dict[str, Any] | None = None,
    progress: Progress | None = None,
    trusted_key_id: str | None = None,
) -> dict[str, Any]:
    """Recompute the whole chain; CLI.md's ``audit verify`` shape:
    ``{"ok", "events", "first_bad_seq", "problem", "checkpoint"}``."""
    with connect(cfg) as conn:
        _begin_snapshot(conn)
        _require_schema(cfg, conn)
        result, _ = _verify_in(conn, checkpoint, progress, trusted_key_id)
    log.info(
        "audit verify",
        ok=result["ok"],
        events=result["events"],
        first_bad_seq=result["first_bad_seq"],
    )
    return result


def _verify_in(
    conn: Any,
    checkpoint: dict[str, Any] | None,
    progress: Progress | None,
    trusted_key_id: str | None = None,
) -> tuple[dict[str, Any], ChainVerifier]:
    """Verify inside the caller's snapshot; the result, and the verifier (whose
    ``head_hash`` and ``expected_seq - 1`` are the verified head)."""
    total = _count(conn, "event_chain")
    events = _count(conn, "ledger_events")
    v = ChainVerifier()
    cp_problem: str | None = None
    if checkpoint is not None:
        cp_problem = check_checkpoint_document(checkpoint, _ledger_id(conn), trusted_key_id)
        v.checkpoint_seq = checkpoint.get("seq") if isinstance(checkpoint.get("seq"), int) else -1
        v.checkpoint_hash = str(checkpoint.get("chain_hash"))
    last_seq = 0
    for row in _chain_rows(conn):
        v.feed(row)
        last_seq = row.seq
        if progress is not None and (v.checked % BATCH == 0 or v.checked == total):
            progress(v.checked, total)
    orphan = _first_unchained_event(conn)
    if orphan is not None:
        nid, at_seq = orphan
        v.fail(
            at_seq,
            f"event inserted: notification id {nid} is in ledger_events but not in "
            f"the chain (before seq {at_seq})",
        )
    if v.problem is None and events != v.checked:
        # every event has exactly one chain row and every chain row one event
        v.fail(
            last_seq + 1,
            f"ledger_events holds {events} events but the chain has {v.checked} positions",
        )
    if progress is not None and total == 0:
        progress(0, 0)
    cp = v.finish_checkpoint(last_seq)
    if cp is not None and cp_problem is not None:
        v.checkpoint_problem = cp_problem
        v.checkpoint_seen = False
        cp = {"seq": checkpoint.get("seq") if checkpoint else None, "ok": False}
    return _result(v, events, cp, last_seq), v


# --- export ---------------------------------------------------------------------------


def _state_fields(state: bytes) -> dict[str, Any]:
    try:
        text = state.decode("utf-8")
    except UnicodeDecodeError:
        return {"state": base64.b64encode(state).decode("ascii"), "state_encoding": "base64"}
    return {"state": text, "state_encoding": "utf-8"}


def _timestamp_of(state: bytes) -> str | None:
    """The event's recorded timestamp, if the state is the library's JSON."""
    try:
        obj = json.loads(state)
    except (ValueError, UnicodeDecodeError):
        return None
    ts = obj.get("timestamp") if isinstance(obj, dict) else None
    if isinstance(ts, dict):
        ts = ts.get("_data_")
    return ts if isinstance(ts, str) else None


def export(cfg: DbConfig, out_path: str | Path, since: int | None = None) -> dict[str, Any]:
    """Write every event with seq > ``since`` (all when None) as JSON Lines:
    a header line, then one line per event in seq order (see docs/AUDIT.md).
    Returns the header plus ``{"events": N, "out": path}``."""
    since = since or 0
    if since < 0:
        raise InvalidInput("--since must be a sequence number, 0 or more")
    out = Path(out_path)
    n = 0
    with connect(cfg) as conn:
        _begin_snapshot(conn)
        _require_schema(cfg, conn)
        prev = GENESIS_HASH
        if since:
            row = fetchone(conn, "SELECT chain_hash FROM event_chain WHERE seq = ?", (since,))
            if row is None:
                raise InvalidInput(f"--since {since}: there is no event with that seq")
            prev = str(row["chain_hash"])
        header = {
            "format": EXPORT_FORMAT,
            "version": 1,
            "ledger_id": _ledger_id(conn),
            "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "since_seq": since,
            "prev_hash": prev,
            "genesis_hash": GENESIS_HASH,
            "encoding": "see docs/AUDIT.md: chain encoding v1",
        }
        tmp = out.with_name(out.name + ".part")
        try:
            with tmp.open("w", encoding="utf-8") as f:
                f.write(json.dumps(header, ensure_ascii=False) + "\n")
                for r in _chain_rows(conn, since or None):
                    line: dict[str, Any] = {
                        "seq": r.seq,
                        "notification_id": r.notification_id,
                        "originator_id": (
                            None
                            if r.originator_id is None
                            else canonical_originator_id(r.originator_id)
                        ),
                        "version": r.originator_version,
                        "topic": r.topic,
                    }
                    if r.state is None:
                        line.update({"state": None, "state_encoding": None})
                    else:
                        line.update(_state_fields(r.state))
                    line["timestamp"] = None if r.state is None else _timestamp_of(r.state)
                    line["prev_hash"] = prev
                    line["chain_hash"] = r.chain_hash
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
                    prev = r.chain_hash
                    n += 1
            tmp.replace(out)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise InvalidInput(f"cannot write {out}: {e}") from None
    log.info("audit export", out=str(out), events=n, since=since)
    return {**header, "events": n, "out": str(out)}


def _export_rows(lines: Iterable[str], path: Path) -> Iterator[ChainRow]:
    for lineno, text in enumerate(lines, start=2):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
            state_text = obj.get("state")
            enc = obj.get("state_encoding")
            if state_text is None:
                state = None
            elif enc == "base64":
                state = base64.b64decode(state_text, validate=True)
            elif enc == "utf-8":
                state = str(state_text).encode("utf-8")
            else:
                raise ValueError(f"unknown state_encoding {enc!r}")
            oid = obj.get("originator_id")
            problem = None
            if oid is not None and (
                not isinstance(oid, str) or canonical_originator_id(oid) != oid
            ):
                # the export writes the canonical form, which is what is hashed
                problem = f"its originator id {oid!r} is not in the exported (canonical) form"
                oid = f"altered:{oid}"
            for name in ("seq", "notification_id", "version"):
                value = obj.get(name)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError(f"{name} is {value!r}, not an integer")
            yield ChainRow(
                seq=int(obj["seq"]),
                notification_id=int(obj["notification_id"]),
                chain_hash=str(obj["chain_hash"]),
                originator_id=oid,
                originator_version=obj.get("version"),
                topic=obj.get("topic"),
                state=state,
                has_event=obj.get("originator_id") is not None,
                problem=problem,
            )
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidInput(f"{path} line {lineno}: not an export line ({e})") from None


def verify_export(
    path: str | Path,
    checkpoint: dict[str, Any] | None = None,
    *,
    progress: Progress | None = None,
    trusted_key_id: str | None = None,
) -> dict[str, Any]:
    """Verify an export file offline (no database): same checks, same shape."""
    p = Path(path)
    try:
        f = p.open(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read export {p}: {e}") from None
    with f:
        try:
            header = json.loads(f.readline() or "null")
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise InvalidInput(f"{p} is not a ledger audit export (no header line)")
        since = int(header.get("since_seq") or 0)
        v = ChainVerifier(prev_hash=str(header.get("prev_hash")), expected_seq=since + 1)
        v.head_hash = v.prev_hash
        cp_problem: str | None = None
        if checkpoint is not None:
            cp_problem = check_checkpoint_document(
                checkpoint, header.get("ledger_id"), trusted_key_id
            )
            seq = checkpoint.get("seq")
            v.checkpoint_seq = seq if isinstance(seq, int) else -1
            v.checkpoint_hash = str(checkpoint.get("chain_hash"))
            if v.checkpoint_seq == since:
                # The export starts right after the checkpoint: its link must match.
                v.checkpoint_seen = True
                if v.prev_hash != v.checkpoint_hash:
                    v.checkpoint_problem = (
                        f"the export's starting hash (after seq {since}) is not the "
                        "checkpoint's: the ledger does not extend the checkpoint"
                    )
            elif 0 <= v.checkpoint_seq < since:
                cp_problem = cp_problem or (
                    f"the export starts after seq {since}, so it cannot show the "
                    f"checkpoint at seq {v.checkpoint_seq}; export --since {v.checkpoint_seq}"
                )
        last_seq = since
        for row in _export_rows(f, p):
            v.feed(row)
            last_seq = row.seq
            if progress is not None and v.checked % BATCH == 0:
                progress(v.checked, 0)
        if progress is not None:
            progress(v.checked, v.checked)
    cp = v.finish_checkpoint(last_seq)
    if cp is not None and cp_problem is not None:
        v.checkpoint_problem = cp_problem
        v.checkpoint_seen = False
        cp = {"seq": checkpoint.get("seq") if checkpoint else None, "ok": False}
    return _result(v, v.checked, cp, last_seq)


# --- keys and checkpoints -------------------------------------------------------------


def keygen(out_path: str | Path) -> dict[str, str]:
    """Make an Ed25519 key pair: the private key as PKCS#8 PEM at ``out_path``
    (mode 0600, never overwritten) and the public key as PEM at ``out_path.pub``."""
    out = Path(out_path)
    pub = out.with_name(out.name + ".pub")
    for existing in (out, pub):
        if existing.exists():
            raise AlreadyExists(f"{existing} already exists; not overwriting a key")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private_pem)
        os.chmod(out, 0o600)
        pub.write_bytes(public_pem)
    except OSError as e:
        raise InvalidInput(f"cannot write key {out}: {e}") from None
    key_id = key_id_of(key.public_key())
    log.info("audit keygen", key_id=key_id, out=str(out))
    return {"key_id": key_id, "private_key": str(out), "public_key": str(pub)}


def _load_private_key(key_path: str | Path) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise InvalidInput(f"cannot read signing key {key_path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{key_path} is not an Ed25519 private key")
    return key


def checkpoint(
    cfg: DbConfig,
    key_path: str | Path,
    out_path: str | Path | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Verify the chain, then sign (ledger id, seq, chain hash, time) of its head,
    record it in ``audit_checkpoints`` and write it as JSON to ``out_path``.
    Refuses (TamperDetected, exit 4) to sign a chain that does not verify."""
    key = _load_private_key(key_path)
    # Verify and take the head in one snapshot: what is signed is exactly the
    # head that was verified, whatever is recorded meanwhile.
    with connect(cfg) as conn:
        _begin_snapshot(conn)
        _require_schema(cfg, conn)
        result, verified = _verify_in(conn, None, progress)
        ledger_id = _ledger_id(conn)
    if not result["ok"]:
        raise TamperDetected(
            "refusing to sign a checkpoint: the chain does not verify "
            f"(first bad seq {result['first_bad_seq']}: {result['problem']})"
        )
    seq, chain_hash = verified.expected_seq - 1, verified.head_hash
    public_raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    doc: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "ledger_id": ledger_id,
        "seq": seq,
        "chain_hash": chain_hash,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    doc["key_id"] = key_id_of(key.public_key())
    doc["public_key"] = base64.b64encode(public_raw).decode("ascii")
    doc["signature"] = base64.b64encode(key.sign(checkpoint_message(doc))).decode("ascii")
    try:
        _record_checkpoint(cfg, doc)
    except psycopg.errors.InsufficientPrivilege:
        # a read-only role (the auditor) may still sign what it verified
        doc["recorded"] = False
        log.info("checkpoint signed but not recorded in audit_checkpoints: read-only role")
    if out_path is not None:
        text = json.dumps(
            {k: v for k, v in doc.items() if k != "recorded"}, indent=2, ensure_ascii=False
        )
        try:
            Path(out_path).write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            raise InvalidInput(f"cannot write checkpoint {out_path}: {e}") from None
    log.info("audit checkpoint", seq=seq, key_id=doc["key_id"])
    return doc


def _record_checkpoint(cfg: DbConfig, doc: dict[str, Any]) -> None:
    with connect(cfg, write=True) as conn:
        execute(
            conn,
            "INSERT INTO audit_checkpoints "
            "(seq, chain_hash, taken_at, key_id, signature, public_key, ledger_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                doc["seq"],
                doc["chain_hash"],
                doc["taken_at"],
                doc["key_id"],
                doc["signature"],
                doc["public_key"],
                doc["ledger_id"],
            ),
        )


def list_checkpoints(cfg: DbConfig) -> list[dict[str, Any]]:
    with connect(cfg) as conn:
        return fetchall(
            conn,
            "SELECT seq, chain_hash, taken_at, key_id, ledger_id "
            "FROM audit_checkpoints ORDER BY id",
        )


# --- roles ----------------------------------------------------------------------------


def create_roles(cfg: DbConfig) -> list[str]:
    """PostgreSQL: create (or bring up to date) ``ledger_auditor`` (read-only)
    and ``ledger_clerk`` (append-only on the history tables, full DML on the
    read models). Idempotent. SQLite has no roles: says so, after checking the
    append-only triggers are in place. Returns lines to print."""
    if cfg.backend == "sqlite":
        with connect(cfg) as conn:
            names = {
                str(r["name"])
                for r in fetchall(conn, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
            }
        missing = [
            t
            for t in APPEND_ONLY_TABLES
            if f"{t}_no_update" not in names or f"{t}_no_delete" not in names
        ]
        if missing:
            raise NotInitialised(
                f"the append-only triggers are missing on {', '.join(missing)}; run `ledger init`"
            )
        return [
            "SQLite has no roles: access is whoever can open the file.",
            "The append-only triggers are in place: "
            + ", ".join(APPEND_ONLY_TABLES)
            + " refuse UPDATE and DELETE.",
        ]
    with connect(cfg) as conn:
        if isinstance(conn, sqlite3.Connection):  # pragma: no cover - narrowed above
            raise TypeError("expected PostgreSQL")
        _create_pg_roles(conn, cfg.dbname)
    return [
        "ledger_auditor: read-only (SELECT on every table, including tables created later)",
        "ledger_clerk: SELECT, INSERT on "
        + ", ".join(APPEND_ONLY_TABLES)
        + "; full DML on the read models",
        "both are LOGIN roles without a password; set one (ALTER ROLE … PASSWORD) "
        "unless the server trusts local connections",
    ]


def _create_pg_roles(conn: psycopg.Connection[Any], dbname: str) -> None:
    from psycopg import sql

    conn.execute("SELECT pg_advisory_xact_lock(%s)", (int.from_bytes(b"roles", "big"),))
    for role in ("ledger_auditor", "ledger_clerk"):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    both = sql.SQL("ledger_auditor, ledger_clerk")
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), both))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(both))
    # Auditor: read everything, now and later.
    conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ledger_auditor")
    conn.execute("GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ledger_auditor")
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ledger_auditor"
    )
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO ledger_auditor"
    )
    # Clerk: append-only history, full DML on the read models.
    tables = [
        str(r["tablename"])
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    ]
    for table in tables:
        ident = sql.Identifier("public", table)
        if table in APPEND_ONLY_TABLES:
            conn.execute(
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM ledger_clerk").format(ident)
            )
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO ledger_clerk").format(ident))
        elif table == "schema_migrations":
            conn.execute(sql.SQL("GRANT SELECT ON {} TO ledger_clerk").format(ident))
        else:
            conn.execute(
                sql.SQL(
                    "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {} TO ledger_clerk"
                ).format(ident)
            )
    conn.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ledger_clerk")
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO ledger_clerk"
    )
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ledger_clerk"
    )
    lock_fn = conn.execute("SELECT to_regprocedure('public.ledger_events_lock()') AS f").fetchone()
    if lock_fn is not None and lock_fn["f"] is not None:
        conn.execute("GRANT EXECUTE ON FUNCTION public.ledger_events_lock() TO ledger_clerk")
