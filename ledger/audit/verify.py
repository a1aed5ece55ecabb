"""Verifying the chain in the database: the verifier, reading the chain,
and ``audit verify``.

Verification streams the chain in ``seq`` order (a server-side cursor on
PostgreSQL, batches on SQLite), so it runs in constant memory. The same
:class:`ChainVerifier` checks the database and an export file
(:func:`ledger.audit.export.verify_export`), so an auditor can verify an export
offline with exactly the code (and the procedure) in docs/AUDIT.md.
"""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from aggregates.errors import NotInitialised
from ledger.audit.keys import check_checkpoint_document
from ledger.audit.rules_check import RuleReplay
from ledger.log import get_logger
from ledger.store.db import DbConfig, connect, fetchone, sql_for
from ledger.store.encoding import GENESIS_HASH, canonical_originator_id, next_chain_hash

log = get_logger()

Progress = Callable[[int, int], None]

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
    encoding: int = 1
    recorded_by: str | None = None  # the database login (encoding 2, PostgreSQL)
    recorded_at: str | None = None  # the server's clock (encoding 2)


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
    seen_v2: bool = False
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
        if row.encoding not in (1, 2):
            self.fail(row.seq, f"chain row at seq {row.seq} has unknown encoding {row.encoding}")
            return
        if row.encoding == 2 and (row.recorded_by is None or row.recorded_at is None):
            self.fail(row.seq, f"chain row at seq {row.seq} (encoding 2) lacks its login or time")
            return
        if row.encoding == 1 and self.seen_v2:
            self.fail(
                row.seq,
                f"chain row at seq {row.seq} has encoding 1 after encoding 2 rows: "
                "the database computes every new row (encoding 2), so it was written outside it",
            )
            return
        v2 = row.encoding == 2
        expected = next_chain_hash(
            self.prev_hash,
            row.seq,
            row.notification_id,
            row.originator_id,
            row.originator_version,
            row.topic,
            row.state if row.state is not None else b"",
            recorded_by=row.recorded_by if v2 else None,
            recorded_at=row.recorded_at if v2 else None,
        )
        if expected != row.chain_hash:
            self.fail(
                row.seq,
                f"hash mismatch at seq {row.seq}: the event (notification id "
                f"{row.notification_id}, {canonical_originator_id(row.originator_id)} "
                f"v{row.originator_version}) or its chain hash was altered",
            )
            return
        self.seen_v2 = self.seen_v2 or v2
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


def result_of(
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
        encoding=int(r["encoding"]) if r.get("encoding") is not None else 1,
        recorded_by=None if r.get("recorded_by") is None else str(r["recorded_by"]),
        recorded_at=None if r.get("recorded_at") is None else str(r["recorded_at"]),
    )


def chain_rows(conn: Any, since: int | None = None) -> Iterator[ChainRow]:
    """The chain in seq order joined with its events; every row when ``since``
    is None (rows at seq 0 or below included: they can only be forged)."""
    nid = _nid_column(conn)
    sql = (
        "SELECT c.seq, c.notification_id, c.chain_hash, c.encoding, c.recorded_by, "
        "c.recorded_at, e.originator_id, e.originator_version, e.topic, e.state, "
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


def ledger_id_of(conn: Any) -> str | None:
    row = fetchone(
        conn,
        # the id given by the first `ledger init`: a later row cannot re-identify the ledger
        "SELECT value FROM ledger_settings WHERE key = 'ledger_id' ORDER BY id LIMIT 1",
    )
    return None if row is None else str(row["value"])


def require_schema(cfg: DbConfig, conn: Any) -> None:
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


def begin_snapshot(conn: Any) -> None:
    """One consistent snapshot for the whole verification."""
    if not isinstance(conn, sqlite3.Connection):
        import psycopg

        if conn.info.transaction_status == psycopg.pq.TransactionStatus.IDLE:
            # the transaction's first statement will be BEGIN … REPEATABLE READ
            # READ ONLY: one round trip less than BEGIN, then SET TRANSACTION
            conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
            conn.read_only = True
        else:
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")


# --- verify ---------------------------------------------------------------------------


def verify(
    cfg: DbConfig,
    *,
    checkpoint: dict[str, Any] | None = None,
    progress: Progress | None = None,
    trusted_key_id: str | None = None,
    witness_key_ids: tuple[str, ...] = (),
    rules: bool = False,
) -> dict[str, Any]:
    """Recompute the whole chain; CLI.md's ``audit verify`` shape:
    ``{"ok", "events", "first_bad_seq", "problem", "checkpoint"}``. With
    ``rules``, also replay every aggregate through the domain in the same
    pass (``ledger.audit.rules_check``): ``"rules": {"ok", "checked", "first"}``."""
    with connect(cfg) as conn:
        begin_snapshot(conn)
        require_schema(cfg, conn)
        result, _ = verify_in(
            conn, checkpoint, progress, trusted_key_id, witness_key_ids, rules=rules
        )
    log.info(
        "audit verify",
        ok=result["ok"],
        events=result["events"],
        first_bad_seq=result["first_bad_seq"],
    )
    return result


def verify_in(
    conn: Any,
    checkpoint: dict[str, Any] | None,
    progress: Progress | None,
    trusted_key_id: str | None = None,
    witness_key_ids: tuple[str, ...] = (),
    *,
    rules: bool = False,
) -> tuple[dict[str, Any], ChainVerifier]:
    """Verify inside the caller's snapshot; the result, and the verifier (whose
    ``head_hash`` and ``expected_seq - 1`` are the verified head)."""
    total = _count(conn, "event_chain")
    events = _count(conn, "ledger_events")
    v = ChainVerifier()
    cp_problem: str | None = None
    if checkpoint is not None:
        cp_problem = check_checkpoint_document(
            checkpoint, ledger_id_of(conn), trusted_key_id, witness_key_ids
        )
        v.checkpoint_seq = checkpoint.get("seq") if isinstance(checkpoint.get("seq"), int) else -1
        v.checkpoint_hash = str(checkpoint.get("chain_hash"))
    recorded, ignored = recorded_checkpoints(conn)
    signed_at: dict[int, str] = {}  # the stored chain hash at each recorded checkpoint's seq
    logins: dict[str, int] = {}
    login_at: dict[int, str] = {}
    last_seq = 0
    replay = RuleReplay() if rules else None
    for row in chain_rows(conn):
        v.feed(row)
        last_seq = row.seq
        if replay is not None and row.has_event and row.problem is None and row.topic:
            replay.feed(
                row.seq,
                row.originator_id,
                int(row.originator_version or 0),
                row.topic,
                row.state or b"",
                row.recorded_by,
            )
        if row.recorded_by is not None:
            logins[row.recorded_by] = logins.get(row.recorded_by, 0) + 1
        if row.seq in recorded:
            signed_at[row.seq] = row.chain_hash
        if v.first_bad_seq == row.seq and row.recorded_by is not None:
            login_at[row.seq] = row.recorded_by
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
    elif cp is not None and cp["ok"] and checkpoint is not None and v.problem is None:
        tree_problem = _tree_head_problem(conn, checkpoint)
        if tree_problem == OLD_LEAVES_NOTE:
            # not tampering: the head still binds this chain (said, never silent)
            log.warning("checkpoint over the old Merkle leaves", note=tree_problem)
            cp = {**cp, "note": tree_problem}
        elif tree_problem is not None:
            v.checkpoint_problem = tree_problem
            cp = {**cp, "ok": False}

    result = result_of(v, events, cp, last_seq)
    _apply_recorded(result, v, recorded, ignored, signed_at, last_seq)
    if rules:
        # the attribution report: how many events each database login recorded
        result["logins"] = dict(sorted(logins.items()))
    if replay is not None:
        breach = replay.finish()
        result["rules"] = {
            "ok": breach is None,
            "checked": replay.checked,
            "first": None if breach is None else breach.as_json(),
        }
        if breach is not None:
            result["ok"] = False
            if result["problem"] is None:
                who = (
                    f" (recorded by database login {breach.recorded_by})"
                    if breach.recorded_by
                    else ""
                )
                result["first_bad_seq"] = breach.seq
                result["problem"] = (
                    f"rule {breach.rule} broken at seq {breach.seq}: {breach.problem}{who}; "
                    "no command could have recorded it"
                )
    bad = result["first_bad_seq"]
    if bad is not None and bad in login_at:
        result["problem"] = f"{result['problem']} (recorded by database login {login_at[bad]})"
    return result, v


OLD_LEAVES_NOTE = (
    "the checkpoint signs the Merkle tree as built before migration 0161 (v1 leaves for "
    "encoding 2 rows): its chain hash matches, and its root is the root of the chain's "
    "events with those leaves, recomputed now; the ledger's tree has the encoding 2 "
    "leaves since, so take a new checkpoint for proofs (docs/AUDIT.md §8)"
)


def _tree_head_problem(conn: Any, checkpoint: dict[str, Any]) -> str | None:
    """A signed tree head (checkpoint version 2): the tree at its size must
    have its root (docs/AUDIT.md §9)."""
    if checkpoint.get("version") != 2:
        return None
    from ledger.audit.merkle_store import TreeView, first_bad_node, signed_over_old_leaves

    size = int(checkpoint["tree_size"])
    if TreeView(conn, size).root().hex() != checkpoint.get("root_hash"):
        if signed_over_old_leaves(conn, size, checkpoint.get("root_hash")):
            return OLD_LEAVES_NOTE
        return (
            f"the Merkle tree of {size} events does not have the checkpoint's root hash: "
            "the tree's stored nodes were altered"
        )
    bad = first_bad_node(conn, size)
    if bad is not None:
        return f"the Merkle tree does not match the chain at seq {bad[0]}: {bad[1]}"
    return None


def recorded_checkpoints(conn: Any) -> tuple[dict[int, list[dict[str, Any]]], list[str]]:
    """The signed checkpoints in ``audit_checkpoints`` whose signature checks
    against their recorded public key (by seq), and why the others were not
    used (a row that does not verify proves nothing, and must not wedge
    verification either)."""
    from ledger.audit.keys import CHECKPOINT_FORMAT

    ledger_id = ledger_id_of(conn)
    good: dict[int, list[dict[str, Any]]] = {}
    ignored: list[str] = []
    # a signed tree head (version 2) keeps its tree size and root beside the
    # checkpoint row (audit_tree_heads, migration 0160)
    for r in _stream(
        conn,
        "SELECT c.id, c.seq, c.chain_hash, c.taken_at, c.key_id, c.signature, c.public_key, "
        "c.ledger_id, t.version AS head_version, t.tree_size, t.root_hash "
        "FROM audit_checkpoints c LEFT JOIN audit_tree_heads t ON t.checkpoint_id = c.id "
        "ORDER BY c.id",
    ):
        doc = {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            **{k: r[k] for k in ("seq", "chain_hash", "taken_at", "key_id")},
            **{k: r[k] for k in ("signature", "public_key", "ledger_id")},
        }
        if r["head_version"] is not None:
            doc.update(
                version=int(r["head_version"]),
                tree_size=int(r["tree_size"]),
                root_hash=str(r["root_hash"]),
            )
        if isinstance(doc["seq"], int) is False:
            doc["seq"] = int(doc["seq"]) if str(doc["seq"]).lstrip("-").isdigit() else None
        problem = check_checkpoint_document(doc, ledger_id)
        if problem is not None:
            ignored.append(f"audit_checkpoints row {r['id']}: {problem}")
            continue
        good.setdefault(int(doc["seq"]), []).append(doc)
    return good, ignored


def _apply_recorded(
    result: dict[str, Any],
    v: ChainVerifier,
    recorded: dict[int, list[dict[str, Any]]],
    ignored: list[str],
    at_seq: dict[int, str],
    last_seq: int,
) -> None:
    """Check the chain against every recorded checkpoint; the first bad seq a
    checkpoint proves: for a cut tail the first missing seq, for a rewritten
    (and re-chained) history the first seq after the newest checkpoint that
    still matches, below the first that does not."""
    keys = sorted({str(d["key_id"]) for docs in recorded.values() for d in docs})
    summary: dict[str, Any] = {
        "used": sum(len(d) for d in recorded.values()),
        "key_ids": keys,
        "ignored": ignored,
        "ok": True,
    }
    # in the result when they find something (the shape of CLI.md stays as it
    # was for a ledger they confirm); logged either way
    log.info("recorded checkpoints", used=summary["used"], key_ids=keys, ignored=len(ignored))
    good_below = 0
    for seq in sorted(recorded):
        docs = recorded[seq]
        if seq == 0:
            matches = all(d["chain_hash"] == GENESIS_HASH for d in docs)
        elif seq > last_seq:
            summary["ok"] = False
            problem = (
                f"a checkpoint signed by key {docs[0]['key_id']} is at seq {seq} but the chain "
                f"ends at seq {last_seq}: events were removed"
            )
            _fail(result, last_seq + 1, problem)
            result["recorded_checkpoints"] = summary
            return
        else:
            matches = all(d["chain_hash"] == at_seq.get(seq) for d in docs)
        if not matches:
            summary["ok"] = False
            problem = (
                f"the chain hash at seq {seq} is not the one signed by key "
                f"{docs[0]['key_id']} at {docs[0]['taken_at']}: an event after seq "
                f"{good_below} and at or before seq {seq} was changed, removed or inserted, "
                "and the chain recomputed"
            )
            _fail(result, good_below + 1, problem)
            result["recorded_checkpoints"] = summary
            return
        good_below = seq
    if ignored:
        result["recorded_checkpoints"] = summary
    del v


def _fail(result: dict[str, Any], seq: int, problem: str) -> None:
    result["ok"] = False
    if result["first_bad_seq"] is None or seq < int(result["first_bad_seq"]):
        result["first_bad_seq"] = seq
        result["problem"] = f"recorded checkpoint: {problem}"
