"""Read models built only from a verified history (docs/AUDIT.md §13).

Catch-up, rebuild and ``projections verify`` recompute the chain hash of
every event they read, from its stored bytes (and, for encoding 2, the
login and time the database recorded), and compare it with the stored
chain row, incrementally: ``ledger_verified_head`` keeps the seq and hash of
the newest event verified so far, so a catch-up checks only what is new. A
re-read below that head (a model behind the others, a rebuild) starts from
the stored hash before it and must arrive at the verified head's hash.

On a break they stop with :class:`TamperDetected` (exit 4, one line), and the
reason is kept in ``ledger_verified_head.broken`` so every later query
refuses too (:func:`refuse_if_untrusted`), until a rebuild verifies the whole
chain again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import Any

from aggregates.errors import TamperDetected
from ledger.store.db import DbConnection, execute, fetchall, fetchone
from ledger.store.encoding import GENESIS_HASH, next_chain_hash

VERIFIED_TABLE = "ledger_verified_head"
_WALK_BATCH = 2000


def _nid(conn: DbConnection) -> str:
    return "rowid" if isinstance(conn, sqlite3.Connection) else "notification_id"


def chain_columns(nid: str) -> str:
    """The chain row columns apply_batch selects beside each event."""
    del nid
    return "c.chain_hash, c.encoding, c.recorded_by, c.recorded_at"


def _has_table(conn: DbConnection) -> bool:
    if isinstance(conn, sqlite3.Connection):
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (VERIFIED_TABLE,)
        ).fetchone()
        return row is not None
    row = fetchone(conn, f"SELECT to_regclass('public.{VERIFIED_TABLE}') AS t")
    return bool(row and row["t"] is not None)


def read_head(conn: DbConnection) -> tuple[int, str, str | None]:
    """(seq, chain hash, broken reason) of the verified head; (0, genesis, None) if none."""
    if not _has_table(conn):
        return 0, GENESIS_HASH, None
    row = fetchone(conn, f"SELECT seq, chain_hash, broken FROM {VERIFIED_TABLE} WHERE id = 1")
    if row is None:
        return 0, GENESIS_HASH, None
    return int(row["seq"]), str(row["chain_hash"]), row["broken"]


def _stored_hash(conn: DbConnection, seq: int) -> str | None:
    if seq <= 0:
        return GENESIS_HASH
    row = fetchone(conn, "SELECT chain_hash FROM event_chain WHERE seq = ?", (seq,))
    return None if row is None else str(row["chain_hash"])


def refuse_if_untrusted(conn: DbConnection) -> None:
    """Raise TamperDetected when a catch-up or rebuild found the chain broken,
    or the stored chain no longer passes through the verified head (a history
    rewritten and re-chained). Two one-row reads: cheap enough for every query."""
    seq, chain_hash, broken = read_head(conn)
    if broken:
        raise TamperDetected(
            f"the read models cannot be trusted: {broken}; run `ledger audit verify`"
        )
    if seq > 0 and _stored_hash(conn, seq) != chain_hash:
        raise TamperDetected(
            f"the read models cannot be trusted: the chain hash at seq {seq} is no longer "
            "the one verified when they were built (the history was rewritten); "
            "run `ledger audit verify`"
        )


def mark_broken(conn: DbConnection, reason: str) -> None:
    """Keep the reason (in the caller's transaction) so later queries refuse."""
    seq, chain_hash, _ = read_head(conn)
    execute(conn, f"DELETE FROM {VERIFIED_TABLE} WHERE id = 1")
    execute(
        conn,
        f"INSERT INTO {VERIFIED_TABLE} (id, seq, chain_hash, broken) VALUES (1, ?, ?, ?)",
        (seq, chain_hash, reason),
    )


class ChainGuard:
    """Recomputes the chain over the events a replay reads, in seq order."""

    def __init__(self, seq: int = 0, chain_hash: str = GENESIS_HASH) -> None:
        self.loaded = (seq, chain_hash)
        self.high_seq, self.high_hash = seq, chain_hash  # newest verified position
        self.prev_seq, self.prev_hash = seq, chain_hash  # where the next event must follow
        self.linked = True  # prev descends, verified, from the genesis or the high mark

    @classmethod
    def load(cls, conn: DbConnection) -> ChainGuard:
        seq, chain_hash, _ = read_head(conn)
        return cls(seq, chain_hash)

    def _break(self, seq: int, why: str) -> TamperDetected:
        return TamperDetected(f"chain broken at seq {seq}: {why}; run `ledger audit verify`")

    def _feed(self, r: dict[str, Any]) -> None:
        seq = r["seq"]
        if seq is None or int(seq) != self.prev_seq + 1:
            raise self._break(
                self.prev_seq + 1,
                f"expected seq {self.prev_seq + 1} next, read {seq} "
                "(an event or chain row was removed, reordered or inserted)",
            )
        seq = int(seq)
        if r.get("originator_id") is None or r.get("topic") is None:
            raise self._break(seq, "the chain row has no event")
        encoding = int(r.get("encoding") or 1)
        v2 = encoding == 2
        if encoding not in (1, 2) or (
            v2 and (r.get("recorded_by") is None or r.get("recorded_at") is None)
        ):
            raise self._break(seq, f"the chain row's encoding ({encoding}) is not valid")
        state = r.get("state")
        try:
            computed = next_chain_hash(
                self.prev_hash,
                seq,
                int(r["nid"]),
                str(r["originator_id"]),
                int(r["originator_version"]),
                str(r["topic"]),
                b"" if state is None else bytes(state),
                recorded_by=str(r["recorded_by"]) if v2 else None,
                recorded_at=str(r["recorded_at"]) if v2 else None,
            )
        except (ValueError, TypeError) as e:
            raise self._break(seq, f"the stored event cannot be encoded ({e})") from None
        if computed != r["chain_hash"]:
            raise self._break(
                seq, "the stored event's bytes do not hash to its chain row (it was altered)"
            )
        if seq == self.high_seq:
            if computed != self.high_hash:
                raise self._break(seq, "the chain no longer passes through the verified head")
            self.linked = True
        self.prev_seq, self.prev_hash = seq, computed
        if self.linked and seq > self.high_seq:
            self.high_seq, self.high_hash = seq, computed

    def _walk(self, conn: DbConnection, upto: int) -> None:
        """Verify the stored stretch after prev up to ``upto`` (not read by the batch)."""
        nid = _nid(conn)
        while self.prev_seq < upto:
            rows = fetchall(
                conn,
                f"SELECT c.seq, c.notification_id AS nid, {chain_columns(nid)}, "
                "e.originator_id, e.originator_version, e.topic, e.state "
                f"FROM event_chain c LEFT JOIN ledger_events e ON e.{nid} = c.notification_id "
                "WHERE c.seq > ? AND c.seq <= ? ORDER BY c.seq LIMIT ?",
                (self.prev_seq, upto, _WALK_BATCH),
            )
            if not rows:
                raise self._break(self.prev_seq + 1, "the chain row is missing")
            for r in rows:
                self._feed(r)

    def check(self, conn: DbConnection, rows: Sequence[dict[str, Any]]) -> None:
        """Verify a batch of event rows (``nid``, ``seq``, the chain columns and
        the stored event), read in notification-id order."""
        if not rows:
            return
        first = rows[0]["seq"]
        if first is None:
            raise self._break(self.prev_seq + 1, "an event has no chain row")
        start = int(first) - 1
        if start > self.prev_seq:
            self._walk(conn, start)
        elif start < self.prev_seq:
            stored = _stored_hash(conn, start)
            if stored is None:
                raise self._break(start, "the chain row is missing")
            self.prev_seq, self.prev_hash = start, stored
            self.linked = start == 0 or start >= self.high_seq
            if start == self.high_seq and stored != self.high_hash:
                raise self._break(start, "the chain no longer passes through the verified head")
        for r in rows:
            self._feed(r)

    def finish(self, conn: DbConnection) -> None:
        """After the last batch of a transaction: a re-read that stopped below
        the verified head still needs the stored chain to pass through it."""
        if not self.linked and _stored_hash(conn, self.high_seq) != self.high_hash:
            raise self._break(self.high_seq, "the chain no longer passes through the verified head")

    def save(self, conn: DbConnection, *, clear_broken: bool = False) -> None:
        """Record the verified head (in the caller's transaction)."""
        if self.high_seq == self.loaded[0] and not clear_broken:
            return
        _, _, broken = read_head(conn)
        execute(conn, f"DELETE FROM {VERIFIED_TABLE} WHERE id = 1")
        execute(
            conn,
            f"INSERT INTO {VERIFIED_TABLE} (id, seq, chain_hash, broken) VALUES (1, ?, ?, ?)",
            (self.high_seq, self.high_hash, None if clear_broken else broken),
        )
        self.loaded = (self.high_seq, self.high_hash)


__all__ = [
    "VERIFIED_TABLE",
    "ChainGuard",
    "mark_broken",
    "read_head",
    "refuse_if_untrusted",
]
