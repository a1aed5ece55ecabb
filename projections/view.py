"""The tracking view of the read models: the library's ``TrackingRecorder``
over our own connections, through which every handler writes (its own module:
what only queries the read models never imports the event-sourcing library)."""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder

from ledger.store.db import DbConnection, sql_for_pg
from projections.base import (
    CODES_CACHE_MAX,
    INSERT_BUFFER_MAX,
    LIVE_PREFIX,
    TRACKING_TABLE,
    RowMissing,
    ViewNotOpen,
    _row,
    money_from_db,
    money_to_db,
    set_position,
    shadow_name,
)


class ReadModelView(TrackingRecorder):
    """The materialised view of the read models: the library's tracking
    recorder interface over the ledger's own tables (``rm_tracking``).

    During a catch-up it holds the batch's connection (``conn``); handlers
    write through it, and ``insert_tracking`` records the position in the
    same transaction.
    """

    def __init__(self, conn: DbConnection | None = None, *, prefix: str = LIVE_PREFIX) -> None:
        self._conn = conn
        # the tables written: the live ones (rm_…) or a rebuild's shadow (rmb_…)
        self.prefix = prefix
        # originator id -> (aggregate, code); deterministic ids, so never stale;
        # at most CODES_CACHE_MAX entries (the oldest is forgotten first)
        self.codes: dict[str, tuple[str, str]] = {}
        # the seq (event_chain) and notification id of the event being processed
        self.seq: int = 0
        self.notification_id: int = 0
        # the writes (INSERT, upsert, UPDATE) not yet sent: statement -> rows,
        # each statement's rows written together (executemany), the
        # statements in the order they came, before any other use of the
        # connection; a table has one statement buffered at a time (a write
        # to it by another statement sends what was buffered first), so the
        # writes to each table keep their order
        self._pending: dict[str, list[tuple[Any, ...]]] = {}
        self._pending_of: dict[str, str] = {}  # table -> its buffered statement
        self._pending_n = 0

    @property
    def conn(self) -> DbConnection:
        """The batch's connection, with the buffered inserts written first (so
        whatever reads or writes through it sees them, in order)."""
        if self._conn is None:
            raise ViewNotOpen("the read-model view has no open transaction")
        if self._pending_n:
            self.flush()
        return self._conn

    def bind(self, conn: DbConnection | None) -> None:
        """Bind a batch's connection (or unbind: None). Inserts still buffered
        (a batch that failed before its tracking position was written) are
        dropped with its transaction."""
        self.discard()
        self._conn = conn

    def flush(self) -> None:
        """Send the buffered writes (one executemany a statement)."""
        pending = self._pending
        self.discard()
        if not pending or self._conn is None:
            return
        cur = self._conn.cursor()
        try:
            for sql, rows in pending.items():
                cur.executemany(sql, rows)
        finally:
            cur.close()

    def discard(self) -> None:
        """Drop the buffered writes (their model's savepoint was rolled back)."""
        self._pending, self._pending_of, self._pending_n = {}, {}, 0

    def _write(self, table: str, sql: str, params: tuple[Any, ...]) -> None:
        """Buffer a write (a statement already rewritten for the prefix and backend)."""
        if self._pending_of.get(table, sql) != sql:
            self.flush()
        rows = self._pending.get(sql)
        if rows is None:
            rows = self._pending[sql] = []
            self._pending_of[table] = sql
        rows.append(params)
        self._pending_n += 1
        if self._pending_n >= INSERT_BUFFER_MAX:
            self.flush()

    @property
    def is_sqlite(self) -> bool:
        if self._conn is None:
            raise ViewNotOpen("the read-model view has no open transaction")
        return isinstance(self._conn, sqlite3.Connection)

    # --- the library's TrackingRecorder interface ------------------------------------

    def insert_tracking(self, tracking: Tracking) -> None:
        set_position(
            self.conn,
            tracking.application_name,
            tracking.notification_id,
            table=self.table(TRACKING_TABLE),
        )

    def max_tracking_id(self, application_name: str) -> int | None:
        row = self.one(
            "SELECT notification_id FROM rm_tracking WHERE projection = ?",
            (application_name,),
        )
        return None if row is None else int(row["notification_id"])

    # --- writing helpers ------------------------------------------------------------------

    def table(self, name: str) -> str:
        """The name of a read-model table in the tables this view writes."""
        return name if self.prefix == LIVE_PREFIX else shadow_name(name, self.prefix)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run a handler's statement (``?`` placeholders, live table names) on
        the tables this view writes. The rewritten text is cached: handlers
        run a few dozen distinct statements, millions of times in a rebuild."""
        conn = self.conn
        sqlite = isinstance(conn, sqlite3.Connection)
        return conn.execute(_rewrite(sql, self.prefix, sqlite), tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
        row = self.execute(sql, params).fetchone()
        return None if row is None else _row(row)

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
        return [_row(r) for r in self.execute(sql, params).fetchall()]

    def insert(self, table: str, row: dict[str, Any]) -> None:
        """Insert a row. Writes are buffered (``_write``) and sent many rows a
        statement before the connection is next used, or at the end of the
        model's batch (``insert_tracking``)."""
        cols = tuple(row)
        self._write(
            table,
            _insert_sql(table, cols, self.prefix, self._sqlite()),
            tuple([row[c] for c in cols]),
        )

    def upsert(self, table: str, row: dict[str, Any], key: Sequence[str]) -> None:
        """Insert a row, or update the one with its key (buffered, as ``insert``)."""
        cols = tuple(row)
        sql = _rewrite(_upsert_sql(table, cols, tuple(key)), self.prefix, self._sqlite())
        self._write(table, sql, tuple([row[c] for c in cols]))

    def upsert_many(self, table: str, rows: Sequence[dict[str, Any]], key: Sequence[str]) -> None:
        """Upsert rows (of different keys), those with the same columns together."""
        for row in sorted(rows, key=lambda r: tuple(r)):
            self.upsert(table, row, key)

    def update(self, table: str, values: dict[str, Any], where: dict[str, Any]) -> None:
        """Update the rows matching `where` (buffered, as ``insert``)."""
        sql = _rewrite(_update_sql(table, tuple(values), tuple(where)), self.prefix, self._sqlite())
        self._write(table, sql, (*values.values(), *where.values()))

    def _sqlite(self) -> bool:
        if self._conn is None:
            raise ViewNotOpen("the read-model view has no open transaction")
        return isinstance(self._conn, sqlite3.Connection)

    def money(self, value: Decimal | None) -> Any:
        # (the connection's kind only: buffered inserts stay buffered)
        if self._conn is None:
            raise ViewNotOpen("the read-model view has no open transaction")
        return money_to_db(self._conn, value)

    def money_out(self, value: Any) -> Decimal | None:
        if self._conn is None:
            raise ViewNotOpen("the read-model view has no open transaction")
        return money_from_db(self._conn, value)

    def aggregate_of(self, originator_id: Any) -> tuple[str, str]:
        """(aggregate, code) of an originator id, from the registry model."""
        key = str(originator_id)
        found = self.codes.get(key)
        if found is None:
            row = self.one(
                "SELECT aggregate, code FROM rm_aggregate WHERE originator_id = ?", (key,)
            )
            if row is None:
                raise RowMissing(f"no aggregate registered for originator {key}")
            found = (str(row["aggregate"]), str(row["code"]))
            self.remember(key, found)
        return found

    def remember(self, key: str, found: tuple[str, str]) -> None:
        if key not in self.codes and len(self.codes) >= CODES_CACHE_MAX:
            del self.codes[next(iter(self.codes))]
        self.codes[key] = found

    def code_of(self, domain_event: Any) -> str:
        return self.aggregate_of(domain_event.originator_id)[1]


@functools.lru_cache(maxsize=1024)
def _insert_sql(table: str, cols: tuple[str, ...], prefix: str, sqlite: bool) -> str:
    return _rewrite(
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})",
        prefix,
        sqlite,
    )


@functools.lru_cache(maxsize=1024)
def _update_sql(table: str, cols: tuple[str, ...], where: tuple[str, ...]) -> str:
    return (
        f"UPDATE {table} SET {', '.join(f'{c} = ?' for c in cols)} "
        f"WHERE {' AND '.join(f'{c} = ?' for c in where)}"
    )


@functools.lru_cache(maxsize=1024)
def _upsert_sql(table: str, cols: tuple[str, ...], key: tuple[str, ...]) -> str:
    updates = [c for c in cols if c not in key]
    return (
        f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)}) "
        f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET "
        + ", ".join(f"{c} = excluded.{c}" for c in updates)
    )


@functools.lru_cache(maxsize=1024)
def _rewrite(sql: str, prefix: str, sqlite: bool) -> str:
    """A handler's statement for a prefix and a backend (``?`` → ``%s`` on PostgreSQL)."""
    if prefix != LIVE_PREFIX:
        sql = shadow_name(sql, prefix)
    return sql if sqlite else sql_for_pg(sql)


__all__ = ["ReadModelView"]
