"""The Merkle tree over the chain, kept in ``merkle_nodes(level, idx, hash)``.

The tree's leaves are the events in ``seq`` order (leaf index ``seq - 1``), each
leaf the event's chain record bytes (:func:`ledger.store.encoding.chain_record_bytes`,
docs/AUDIT.md §8); hashing and proofs are :mod:`ledger.audit.merkle` (RFC 9162).

**Maintenance.** :func:`extend` appends to the tree everything the chain holds
beyond it: it reads the tree's size (the number of leaf nodes), the compact
range at that size (one stored node per set bit), the chain rows after it
joined with their events, and inserts the new leaf nodes and every perfect
subtree node they complete. It is append-only (never an UPDATE, never a node
recomputed from the other nodes' leaves) and idempotent (a second run finds
nothing to do). Where it runs:

* SQLite: in the recording transaction, by the chained recorder, under the
  write lock that already serialises writers (:func:`extend_sqlite`);
* PostgreSQL: right after each recording commits, in its own short
  transaction under an advisory lock, skipped when another process holds the
  lock (that process, or the next, appends the rows); and, waiting for the
  lock, before every checkpoint, proof and pack (:func:`ensure`). It runs
  beside the chain rather than inside the recorder's transaction so that the
  tree only ever depends on what the chain table holds, however the chain row
  is written (by the recorder today, inside the database tomorrow).

A role that may not insert (the read-only auditor) still gets proofs: the
nodes the table lacks are computed in memory from the chain (:class:`TreeView`).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aggregates.errors import TamperDetected
from ledger.audit.merkle import (
    CompactRange,
    DictNodeStore,
    NodeAddr,
    fold,
    leaf_hash,
    node_hash,
    root_addresses,
)
from ledger.log import get_logger
from ledger.store.db import DbConfig, DbConnection, connect, pg_error, sql_for

if TYPE_CHECKING:
    import psycopg
from ledger.store.encoding import chain_record_bytes

log = get_logger()

BATCH = 5000
# pg_advisory_xact_lock key serialising appends to merkle_nodes ("merkle").
PG_MERKLE_LOCK_KEY = int.from_bytes(b"merkle", "big")

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


# --- the leaf -------------------------------------------------------------------------


def leaf_of(
    seq: int,
    notification_id: int,
    originator_id: Any,
    originator_version: int,
    topic: str,
    state: bytes,
    *,
    encoding: int = 1,
    recorded_by: str | None = None,
    recorded_at: str | None = None,
) -> bytes:
    """The tree's leaf for one event: its chain record bytes in the encoding
    its chain row has (docs/AUDIT.md §1, §8) — for an encoding 2 row
    (PostgreSQL) the login and the server time are in the leaf, exactly as
    the chain hashes them. An unknown encoding, or a v2 row without its login
    or time, is refused (ValueError): the chain row was not written by the
    database."""
    if encoding == 1:
        return chain_record_bytes(
            seq, notification_id, originator_id, originator_version, topic, bytes(state)
        )
    if encoding != 2:
        msg = f"chain row at seq {seq} has unknown encoding {encoding}"
        raise ValueError(msg)
    if recorded_by is None or recorded_at is None:
        msg = f"chain row at seq {seq} (encoding 2) lacks its login or time"
        raise ValueError(msg)
    return chain_record_bytes(
        seq,
        notification_id,
        originator_id,
        originator_version,
        topic,
        bytes(state),
        recorded_by=recorded_by,
        recorded_at=recorded_at,
    )


@dataclass(frozen=True)
class LeafRow:
    """One chain row with its event, as the leaf query reads it."""

    seq: int
    notification_id: int
    originator_id: Any
    originator_version: int
    topic: str
    state: bytes
    encoding: int
    recorded_by: str | None
    recorded_at: str | None

    def leaf(self) -> bytes:
        try:
            return leaf_of(
                self.seq,
                self.notification_id,
                self.originator_id,
                self.originator_version,
                self.topic,
                self.state,
                encoding=self.encoding,
                recorded_by=self.recorded_by,
                recorded_at=self.recorded_at,
            )
        except ValueError as e:
            raise TamperDetected(f"{e}: run `ledger audit verify`") from None

    def v1_leaf(self) -> bytes:
        """The six-field bytes of this row whatever its encoding: what ledgers
        before migration 0161 took as the leaf of an encoding 2 row."""
        return chain_record_bytes(
            self.seq,
            self.notification_id,
            self.originator_id,
            self.originator_version,
            self.topic,
            self.state,
        )


# --- database access, on a raw connection or the recorder's cursor ----------------------


def _query_of(conn: DbConnection) -> Query:
    if isinstance(conn, sqlite3.Connection):

        def q_sqlite(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
            return [tuple(r) for r in conn.execute(sql, tuple(params)).fetchall()]

        return q_sqlite

    def q_pg(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cur = conn.execute(sql_for(conn, sql), tuple(params))
        return [tuple(r.values()) if isinstance(r, dict) else tuple(r) for r in cur.fetchall()]

    return q_pg


def _nid(sqlite: bool) -> str:
    return "rowid" if sqlite else "notification_id"


def stored_size(q: Query) -> int:
    """The number of leaves in ``merkle_nodes`` (one index lookup)."""
    rows = q("SELECT MAX(idx) FROM merkle_nodes WHERE level = 0", ())
    top = rows[0][0] if rows else None
    return 0 if top is None else int(top) + 1


def fetch_nodes(q: Query, addrs: Iterable[NodeAddr], *, pg: bool = False) -> DictNodeStore:
    """The stored nodes among ``addrs``, in one query per 200 addresses
    (PostgreSQL, ``pg``: one query for all of them, the addresses as arrays)."""
    wanted = list(dict.fromkeys(addrs))
    store = DictNodeStore()
    if pg:
        if wanted:
            for level, idx, h in q(
                "SELECT m.level, m.idx, m.hash FROM merkle_nodes m JOIN "
                "unnest(?::smallint[], ?::bigint[]) AS w(level, idx) "
                "ON m.level = w.level AND m.idx = w.idx",
                ([a.level for a in wanted], [a.idx for a in wanted]),
            ):
                store.nodes[NodeAddr(int(level), int(idx))] = bytes(h)
        return store
    for i in range(0, len(wanted), 200):
        chunk = wanted[i : i + 200]
        where = " OR ".join("(level = ? AND idx = ?)" for _ in chunk)
        params: list[int] = []
        for a in chunk:
            params += [a.level, a.idx]
        for level, idx, h in q(f"SELECT level, idx, hash FROM merkle_nodes WHERE {where}", params):
            store.nodes[NodeAddr(int(level), int(idx))] = bytes(h)
    return store


# the chain table's encoding columns are read with the event: a leaf is the
# bytes the chain hashed for that row (encoding 1 or 2)
_LEAF_COLUMNS = (
    "SELECT c.seq, c.notification_id, e.originator_id, e.originator_version, "
    "e.topic, e.state, c.encoding, c.recorded_by, c.recorded_at FROM event_chain c "
)


def _chain_rows(q: Query, sqlite: bool, after: int, upto: int | None) -> Iterator[LeafRow]:
    """The chain rows with ``after < seq [<= upto]`` and their events, in seq
    order, in batches; a gap or a chain row without its event is tampering."""
    nid = _nid(sqlite)
    expected = after + 1
    while upto is None or expected <= upto:
        limit = BATCH if upto is None else min(BATCH, upto - expected + 1)
        rows = q(
            _LEAF_COLUMNS + f"LEFT JOIN ledger_events e ON e.{nid} = c.notification_id "
            "WHERE c.seq >= ? ORDER BY c.seq LIMIT ?",
            (expected, limit),
        )
        if not rows:
            break
        for seq, nid_value, oid, version, topic, state, encoding, by, at in rows:
            if int(seq) != expected:
                raise TamperDetected(
                    f"the chain has a gap at seq {expected}: run `ledger audit verify`"
                )
            if oid is None or topic is None or state is None:
                raise TamperDetected(
                    f"the event at seq {seq} is missing: run `ledger audit verify`"
                )
            yield LeafRow(
                int(seq),
                int(nid_value),
                oid,
                int(version),
                str(topic),
                bytes(state),
                1 if encoding is None else int(encoding),
                None if by is None else str(by),
                None if at is None else str(at),
            )
            expected += 1
    if upto is not None and expected <= upto:
        raise TamperDetected(f"the chain ends before seq {upto}: events were removed")


def _chain_leaves(q: Query, sqlite: bool, after: int, upto: int | None) -> Iterator[bytes]:
    """The leaves of the chain rows with ``after < seq [<= upto]``, in seq order."""
    for row in _chain_rows(q, sqlite, after, upto):
        yield row.leaf()


@dataclass
class Tail:
    """The tree grown past what is stored: its new size and the nodes created."""

    stored: int
    size: int
    nodes: list[tuple[NodeAddr, bytes]]


def compute_tail(
    q: Query,
    sqlite: bool,
    upto: int | None = None,
    *,
    new_leaves: tuple[int, Sequence[bytes]] | None = None,
    stored: int | None = None,
) -> Tail:
    """Append, in memory, the chain rows after the stored tree (up to ``upto``)
    to the stored compact range; the nodes that would be inserted.

    ``new_leaves``: (the seq of the first, the leaves) of chain rows the
    caller has just written in this transaction, their chain record bytes
    already computed. When the stored tree ends right before them they are
    appended as they are, instead of reading the rows back; otherwise (the
    tree is behind) the rows are read from the chain as always. ``stored``:
    the stored size, when the caller has just read it in this snapshot."""
    size = stored_size(q) if stored is None else stored
    if upto is not None and upto <= size:
        return Tail(size, size, [])
    frontier_nodes = fetch_nodes(q, root_addresses(size))
    try:
        frontier = CompactRange.from_store(frontier_nodes, size)
    except KeyError as e:
        raise TamperDetected(
            f"merkle_nodes lacks node {e.args[0]!r} of the tree of {size} leaves"
        ) from None
    created: list[tuple[NodeAddr, bytes]] = []
    leaves: Iterable[bytes]
    if new_leaves is not None and upto is None and new_leaves[0] == size + 1:
        leaves = new_leaves[1]
    else:
        leaves = _chain_leaves(q, sqlite, size, upto)
    for leaf in leaves:
        created += frontier.append(leaf_hash(leaf))
    return Tail(size, frontier.size, created)


def _insert_sqlite(execmany: Callable[[str, list[tuple[Any, ...]]], Any], tail: Tail) -> None:
    if tail.nodes:
        execmany(
            "INSERT INTO merkle_nodes (level, idx, hash) VALUES (?, ?, ?)",
            [(a.level, a.idx, h) for a, h in tail.nodes],
        )


def extend_sqlite(cursor: Any, new_leaves: tuple[int, Sequence[bytes]] | None = None) -> int:
    """Append the chain's new rows to the tree, on the SQLite recorder's cursor
    (inside the recording transaction, under its write lock). Returns the size.
    ``new_leaves``: see :func:`compute_tail`."""

    def q(sql: str, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        cursor.execute(sql, tuple(params))
        return [tuple(r) for r in cursor.fetchall()]

    tail = compute_tail(q, True, new_leaves=new_leaves)
    _insert_sqlite(cursor.executemany, tail)
    return tail.size


# an event the caller has just recorded: notification id, originator id and
# version, topic, state
Written = tuple[int, Any, int, str, bytes]


def _written_leaves(
    q: Query, size: int, written: Sequence[Written] | None
) -> tuple[int, list[bytes]] | None:
    """PostgreSQL: when the chain rows after the stored tree are exactly the
    events the caller has just recorded (their notification ids, in seq order),
    their leaves from the caller's copy of the events — only the ids are read
    back, not every event's state. Otherwise None (the rows are read)."""
    if not written:
        return None
    # the chain row's encoding, login and time are read back (they are in an
    # encoding 2 row's leaf, written by the database), the events' state is not
    rows = q(
        "SELECT seq, notification_id, encoding, recorded_by, recorded_at FROM event_chain "
        "WHERE seq > ? ORDER BY seq",
        (size,),
    )
    if [int(r[1]) for r in rows] != [w[0] for w in written]:
        return None
    if [int(r[0]) for r in rows] != list(range(size + 1, size + 1 + len(rows))):
        return None
    return size + 1, [
        leaf_of(
            size + 1 + k,
            nid,
            oid,
            version,
            topic,
            state,
            encoding=1 if row[2] is None else int(row[2]),
            recorded_by=None if row[3] is None else str(row[3]),
            recorded_at=None if row[4] is None else str(row[4]),
        )
        for k, ((nid, oid, version, topic, state), row) in enumerate(
            zip(written, rows, strict=True)
        )
    ]


def extend(
    conn: DbConnection, *, wait: bool = True, written: Sequence[Written] | None = None
) -> int | None:
    """Append the chain's new rows to the tree inside the caller's write
    transaction. PostgreSQL serialises on an advisory lock; with ``wait``
    False it returns None at once when another process holds it. Returns the
    tree's size. ``written``: the events the caller has just recorded (see
    :func:`_written_leaves`)."""
    q = _query_of(conn)
    if isinstance(conn, sqlite3.Connection):
        tail = compute_tail(q, True)
        _insert_sqlite(conn.executemany, tail)
        return tail.size
    if wait:
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MERKLE_LOCK_KEY,))
    else:
        got = conn.execute("SELECT pg_try_advisory_xact_lock(%s) AS ok", (PG_MERKLE_LOCK_KEY,))
        row = got.fetchone()
        if not row or not row["ok"]:
            return None
    new_leaves = _written_leaves(q, stored_size(q), written)
    tail = compute_tail(q, False, new_leaves=new_leaves)
    if tail.nodes:
        conn.execute(
            "INSERT INTO merkle_nodes (level, idx, hash) "
            "SELECT * FROM unnest(%s::smallint[], %s::bigint[], %s::bytea[])",
            (
                [a.level for a, _ in tail.nodes],
                [a.idx for a, _ in tail.nodes],
                [h for _, h in tail.nodes],
            ),
        )
    return tail.size


def ensure(cfg: DbConfig) -> bool:
    """Bring the stored tree up to the chain (before a checkpoint, proof or
    pack). Returns False when this login may not write the tree (a read-only
    role): proofs then compute the missing nodes in memory."""
    try:
        with connect(cfg, write=True) as conn:
            extend(conn)
    except pg_error("InsufficientPrivilege"):  # psycopg's, loaded only for PostgreSQL
        return False
    except sqlite3.OperationalError as e:
        if "readonly" in str(e) or "read-only" in str(e):
            return False
        raise
    return True


def extend_after_commit(
    conn: psycopg.Connection[Any], written: Sequence[Written] | None = None
) -> None:
    """PostgreSQL: after a recording commits, append its rows in a short
    transaction of their own, never waiting for another process that is doing
    it. A failure here loses nothing (the next extend appends the rows) and
    never fails the recording that was committed: it is logged."""
    import psycopg

    try:
        with conn.transaction():
            # derived data: a crash that loses this commit loses nothing the
            # next append does not redo, so it need not wait for the disk
            conn.execute("SET LOCAL synchronous_commit = off")
            extend(conn, wait=False, written=written)
    except psycopg.errors.InsufficientPrivilege:
        # a clerk's login may not write the tree: the owner's catch-up worker
        # (`projections follow`) or the next checkpoint appends it
        log.info("merkle tree left to the owner's worker: this login may not extend it")
    except (psycopg.Error, TamperDetected) as e:
        log.warning("merkle tree not extended after recording", error=str(e).splitlines()[0])


# --- reading the tree in a snapshot (stored nodes, plus a computed tail) -----------------


class TreeView:
    """The tree as of the caller's snapshot: stored nodes, and for a role that
    could not store them, the nodes beyond the stored size computed in memory."""

    def __init__(self, conn: DbConnection, size: int, *, stored: int | None = None) -> None:
        self.conn = conn
        self.q = _query_of(conn)
        self.size = size
        self.pg = not isinstance(conn, sqlite3.Connection)
        tail = compute_tail(self.q, not self.pg, upto=size, stored=stored)
        self.stored = tail.stored
        self.overlay = DictNodeStore()
        self.overlay.put_all(tail.nodes)
        # nodes already read in this snapshot (they never change): a proof's
        # nodes are fetched with the root's in one query (prefetch)
        self.read: dict[NodeAddr, bytes] = {}

    def prefetch(self, addrs: Iterable[NodeAddr]) -> None:
        """Read these nodes now, in one query (PostgreSQL), for later calls."""
        self.nodes(addrs)

    def nodes(self, addrs: Iterable[NodeAddr]) -> DictNodeStore:
        wanted = list(dict.fromkeys(addrs))
        missing = [a for a in wanted if a not in self.overlay.nodes and a not in self.read]
        self.read.update(fetch_nodes(self.q, missing, pg=self.pg).nodes)
        store = DictNodeStore()
        for a in wanted:
            if a in self.overlay.nodes:
                store.nodes[a] = self.overlay.nodes[a]
            elif a in self.read:
                store.nodes[a] = self.read[a]
        return store

    def root(self, size: int | None = None) -> bytes:
        addrs = root_addresses(self.size if size is None else size)
        store = self.nodes(addrs)
        return fold([store.get(a.level, a.idx) for a in addrs])


def full_root(leaves: Iterable[bytes]) -> tuple[int, bytes]:
    """The size and root of the tree over ``leaves`` (chain record bytes),
    recomputed in memory: what a checkpoint compares the stored tree with."""
    frontier = CompactRange()
    for leaf in leaves:
        frontier.append(leaf_hash(leaf))
    return frontier.size, frontier.root()


def chain_leaves(conn: DbConnection, upto: int) -> Iterable[bytes]:
    """The leaves of seq 1..``upto`` read from the chain in the caller's snapshot."""
    return _chain_leaves(_query_of(conn), isinstance(conn, sqlite3.Connection), 0, upto)


def _stored_level(q: Query, level: int, count: int) -> Iterator[tuple[int, bytes]]:
    """Stored nodes ``(idx, hash)`` of one level with idx < count, in idx order."""
    at = 0
    while at < count:
        rows = q(
            "SELECT idx, hash FROM merkle_nodes WHERE level = ? AND idx >= ? AND idx < ? "
            "ORDER BY idx LIMIT ?",
            (level, at, count, BATCH),
        )
        if not rows:
            return
        for idx, h in rows:
            yield int(idx), bytes(h)
        at = int(rows[-1][0]) + 1


def first_bad_node(conn: DbConnection, size: int) -> tuple[int, str] | None:
    """Check every stored node of the tree of the first ``size`` leaves: each
    leaf against its event, each higher node against the two below it. The
    first seq whose node is wrong or missing, described; None when all hold.
    O(size) reads, as many as a chain verification."""
    q = _query_of(conn)
    sqlite = isinstance(conn, sqlite3.Connection)
    stored = min(stored_size(q), size)
    nodes = _stored_level(q, 0, stored)
    for index, row in enumerate(_chain_rows(q, sqlite, 0, stored)):
        got = next(nodes, None)
        if got is None or got[0] != index:
            return index + 1, f"merkle_nodes lacks the leaf of seq {index + 1}"
        if got[1] != leaf_hash(row.leaf()):
            if row.encoding == 2 and got[1] == leaf_hash(row.v1_leaf()):
                return index + 1, (
                    f"the tree's leaf for seq {index + 1} is the hash of the event's v1 "
                    "bytes, not of the encoding 2 record the chain hashed (login and time): "
                    "merkle_nodes was built by a ledger before migration 0161; run "
                    "`ledger init` to re-derive it (docs/AUDIT.md §8, existing ledgers)"
                )
            return index + 1, (
                f"the tree's leaf for seq {index + 1} is not the hash of that event: the "
                "event was rewritten after it was recorded, or merkle_nodes was altered"
            )
    level = 1
    while stored >> level:
        below = _stored_level(q, level - 1, (stored >> level) * 2)
        here = _stored_level(q, level, stored >> level)
        for index in range(stored >> level):
            left, right, got = next(below, None), next(below, None), next(here, None)
            first_seq = (index << level) + 1
            if left is None or right is None or got is None or got[0] != index:
                return first_seq, f"merkle_nodes lacks node ({level}, {index})"
            if got[1] != node_hash(left[1], right[1]):
                return first_seq, (
                    f"merkle_nodes node ({level}, {index}) is not the hash of the two below "
                    "it: merkle_nodes was altered"
                )
        level += 1
    return None


# --- trees built before migration 0161 (v1 leaves for encoding 2 rows) -------------------


def rederived(conn: DbConnection) -> dict[str, Any] | None:
    """The record migration 0161 left when it moved aside a tree built with v1
    leaves for encoding 2 rows (docs/AUDIT.md §8), or None."""
    q = _query_of(conn)
    exists = q(
        "SELECT name FROM sqlite_master WHERE name = 'merkle_rederived'"
        if isinstance(conn, sqlite3.Connection)
        else "SELECT to_regclass('public.merkle_rederived') AS t",
        (),
    )
    if not exists or exists[0][0] is None:
        return None  # a schema before migration 0161: nothing was moved aside
    rows = q(
        "SELECT first_v2_seq, tree_size_before, last_checkpoint_id, moved_to "
        "FROM merkle_rederived ORDER BY id LIMIT 1",
        (),
    )
    if not rows:
        return None
    first, size, last_cp, moved_to = rows[0]
    return {
        "first_v2_seq": int(first),
        "tree_size_before": int(size),
        "last_checkpoint_id": None if last_cp is None else int(last_cp),
        "moved_to": str(moved_to),
    }


def old_leaf_root(conn: DbConnection, size: int) -> bytes:
    """The root of the first ``size`` events with every leaf the row's
    six-field (v1) bytes, recomputed from the chain: the root a signed tree
    head taken before migration 0161 signed. O(size) reads."""
    q = _query_of(conn)
    frontier = CompactRange()
    for row in _chain_rows(q, isinstance(conn, sqlite3.Connection), 0, size):
        frontier.append(leaf_hash(row.v1_leaf()))
    return frontier.root()


def signed_over_old_leaves(conn: DbConnection, size: int, root_hex: Any) -> bool:
    """Whether a signed tree head of ``size`` events and root ``root_hex`` was
    signed over the leaves used before migration 0161 on this ledger: the
    migration re-derived the tree, the head covers an encoding 2 row, and its
    root is the old leaves' root recomputed from the chain in this snapshot."""
    moved = rederived(conn)
    if moved is None or size < moved["first_v2_seq"]:
        return False
    return bool(old_leaf_root(conn, size).hex() == root_hex)
