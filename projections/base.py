"""The machinery every read model shares: the tracking view (a library
``TrackingRecorder`` over our own connections), value conversions, and the
list of read-model tables.

A read model is a library ``Projection`` whose handlers write rows through the
view's open connection; the catch-up (``projections.runner``) opens one
transaction per batch of events, runs the handlers, and records each model's
tracking position in that same transaction. So rows and position are written
together or not at all, and a model can always resume from its position or be
rebuilt from zero.
"""

from __future__ import annotations

import functools
import json
import re
import sqlite3
from collections.abc import Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from eventsourcing.persistence import Tracking, TrackingRecorder

from aggregates.values import CENT
from ledger.store.db import DbConnection, execute, fetchall, sql_for_pg

# The tables of each read model (derived data: emptied by a rebuild).
MODEL_TABLES: dict[str, tuple[str, ...]] = {
    "registry": ("rm_aggregate",),
    "platforms": ("rm_platform", "rm_platform_snapshot", "rm_platform_status"),
    "units": (
        "rm_unit",
        "rm_unit_name",
        "rm_violation",
        "rm_debarment",
        "rm_blacklist",
        "rm_consortium_lead",
    ),
    "funds": ("rm_fund_event", "rm_fund_line", "rm_payment"),
    "changes": ("rm_change_request",),
    "history": ("rm_history",),
    "compliance": ("rm_report", "rm_evaluation"),
}

# Primary keys, for comparing a rebuild with the live tables (projections verify).
TABLE_KEYS: dict[str, tuple[str, ...]] = {
    "rm_aggregate": ("originator_id",),
    "rm_platform": ("code",),
    "rm_platform_snapshot": ("code", "version"),
    "rm_platform_status": ("code", "version"),
    "rm_unit": ("code",),
    "rm_unit_name": ("code", "version", "source", "name"),
    "rm_violation": ("id",),
    "rm_debarment": ("id",),
    "rm_blacklist": ("id",),
    "rm_consortium_lead": ("unit", "platform"),
    "rm_fund_event": ("notification_id",),
    "rm_fund_line": ("platform", "category", "fiscal_year"),
    "rm_payment": ("voucher",),
    "rm_change_request": ("id",),
    "rm_history": ("seq",),
    "rm_report": ("platform", "year"),
    "rm_evaluation": ("platform", "cycle"),
}

# Money columns (INTEGER cents on SQLite, numeric(18,2) on PostgreSQL).
MONEY_COLUMNS = frozenset({"amount", "entitled", "allocated", "disbursed", "reversed", "recovered"})

# Integer key columns (the others are text: compared in byte order, COLLATE "C").
INTEGER_KEYS = frozenset({"version", "fiscal_year", "notification_id", "seq", "year"})

# Table-name prefixes: the live read models, and the shadow tables a rebuild
# fills before it swaps them in (projections.rebuild).
LIVE_PREFIX = "rm_"
TRACKING_TABLE = "rm_tracking"
_TABLE_NAME = re.compile(r"\brm_(?=\w)")

# How many originator ids the view remembers (codes never change, so this only
# bounds memory: a rebuild sees one voucher aggregate per payment).
CODES_CACHE_MAX = 20_000
# writes buffered at most before they are sent (ReadModelView._write)
INSERT_BUFFER_MAX = 1000


def shadow_name(table: str, prefix: str) -> str:
    """`rm_platform` under another prefix (`rmb_platform`)."""
    return _TABLE_NAME.sub(prefix, table)


class RowMissing(LookupError):
    """A handler found no row where the events so far put one: the model is
    inconsistent with its tracking position (or was tampered with)."""


class ViewNotOpen(RuntimeError):
    """A handler ran outside a catch-up transaction (a programming error)."""


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


def _row(row: Any) -> dict[str, Any]:
    if isinstance(row, sqlite3.Row):
        return {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row is not a Mapping
    return dict(row)


# --- positions -------------------------------------------------------------------------


def set_position(
    conn: DbConnection, projection: str, notification_id: int, *, table: str = TRACKING_TABLE
) -> None:
    execute(
        conn,
        f"INSERT INTO {table} (projection, notification_id) VALUES (?, ?) "
        "ON CONFLICT (projection) DO UPDATE SET notification_id = excluded.notification_id",
        (projection, notification_id),
    )


def positions(
    conn: DbConnection, names: Sequence[str], *, table: str = TRACKING_TABLE
) -> dict[str, int]:
    rows = fetchall(conn, f"SELECT projection, notification_id FROM {table}")
    have = {str(r["projection"]): int(r["notification_id"]) for r in rows}
    return {n: have.get(n, 0) for n in names}


# --- values ------------------------------------------------------------------------------


def iso_date(d: date | None) -> str | None:
    return None if d is None else d.isoformat()


def iso_ts(ts: datetime) -> str:
    """A recorded-at moment as fixed-width UTC text (sorts as it compares)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    utc = ts.astimezone(UTC)
    if utc.year >= 1000:  # (isoformat is the same text, several times faster)
        return utc.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"
    return utc.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_date(value: Any) -> date | None:
    if value is None:
        return None
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value))


def money_to_db(conn: DbConnection, value: Decimal | None) -> Any:
    """Decimal yuan → INTEGER cents (SQLite) or the Decimal itself (PostgreSQL)."""
    if value is None:
        return None
    q = Decimal(value).quantize(CENT)
    if isinstance(conn, sqlite3.Connection):
        return int(q * 100)
    return q


def money_from_db(conn: DbConnection, value: Any) -> Decimal | None:
    if value is None:
        return None
    if isinstance(conn, sqlite3.Connection):
        return (Decimal(int(value)) / 100).quantize(CENT)
    return Decimal(value).quantize(CENT)


def dumps(value: Any) -> str:
    """Stable JSON text for a column (sorted keys, UTF-8): the text of
    ``jsonable(value)``. The encoder converts only what JSON cannot hold
    (``_json_default``); a dict with keys other than text (which JSON would
    sort before turning them into text) takes the slow path."""
    try:
        return _ENCODER.encode(value)
    except TypeError:
        return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)


def _json_default(value: Any) -> Any:
    if isinstance(value, (set, frozenset)):
        return list(value)
    return jsonable(value)


_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, default=_json_default)


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value.quantize(CENT))
    if isinstance(value, datetime):
        return iso_ts(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def loads(text: Any) -> Any:
    return None if text is None else json.loads(str(text))
