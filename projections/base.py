"""The machinery every read model shares: value conversions, positions, and
the list of read-model tables (the tracking view, a library
``TrackingRecorder`` over our own connections, is ``projections.view``:
queries never load the library).

A read model is a library ``Projection`` whose handlers write rows through the
view's open connection; the catch-up (``projections.runner``) opens one
transaction per batch of events, runs the handlers, and records each model's
tracking position in that same transaction. So rows and position are written
together or not at all, and a model can always resume from its position or be
rebuilt from zero.
"""

from __future__ import annotations

import json
import re
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from aggregates.values import CENT
from ledger.store.db import DbConfig, DbConnection, connect, execute, fetchall, fetchone

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

ALL_TABLES: tuple[str, ...] = tuple(t for ts in MODEL_TABLES.values() for t in ts)

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


# --- where the read models stand --------------------------------------------------------


@dataclass
class CatchUpResult:
    applied: int = 0
    position: int = 0  # lowest notification id every model has applied
    head: int = 0  # newest notification id in the ledger
    read_only: bool = False
    busy: bool = False  # another process held the catch-up lock; nothing done here
    # model -> why it could not be caught up (rows ahead of its position)
    inconsistent: dict[str, str] = field(default_factory=dict)

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


def ledger_head(conn: DbConnection) -> int:
    row = fetchone(conn, "SELECT MAX(notification_id) AS n FROM event_chain")
    return int(row["n"]) if row and row["n"] is not None else 0


# --- reading -------------------------------------------------------------------------------


@contextmanager
def reading(cfg: DbConfig) -> Iterator[DbConnection]:
    """A read transaction over one consistent snapshot of the read models.
    On PostgreSQL it holds ACCESS SHARE on every read-model table from the
    start, so a rebuild's swap waits for it (and it never reads a table
    swapped in after its snapshot was taken)."""
    with connect(cfg) as conn:
        if not isinstance(conn, sqlite3.Connection):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute(
                f"LOCK TABLE {', '.join((TRACKING_TABLE, *ALL_TABLES))} IN ACCESS SHARE MODE"
            )
        yield conn


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
