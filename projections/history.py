"""The history index: one row per event, by (aggregate, code, seq), so
``history --platform/--unit`` reads one aggregate's events without scanning
the ledger. ``seq`` is the event's dense sequence number (event_chain)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any

from ledger.store.db import DbConnection, fetchall
from projections.base import loads

COMMON = frozenset(
    {
        "originator_id",
        "originator_version",
        "originator_topic",
        "timestamp",
        "actor",
        "effective_on",
        "doc_no",
        "reason",
        "basis",
    }
)


def event_data(domain_event: Any) -> dict[str, Any]:
    """The event's own attributes (everything but the common metadata)."""
    return {k: v for k, v in sorted(vars(domain_event).items()) if k not in COMMON}


def history_query(
    *,
    aggregate: str | None = None,
    code: str | None = None,
    since: date | None = None,
    until: date | None = None,
    where: HistoryFilter | None = None,
) -> tuple[str, list[Any]]:
    """The SQL and parameters of ``history``. With a code: that aggregate's
    rows (``rm_history_code_idx``); without: the platform and unit events, a
    date range read through ``rm_history_on_idx`` (effective_on, seq)."""
    # the database login that recorded each event (chain encoding v2,
    # PostgreSQL; NULL on SQLite and for older rows): from its chain row
    select = (
        "SELECT h.*, c.recorded_by AS recorded_by_login FROM rm_history h "
        "LEFT JOIN event_chain c ON c.seq = h.seq"
    )
    if aggregate is not None and code is not None:
        sql = f"{select} WHERE h.aggregate = ? AND h.code = ?"
        params: list[Any] = [aggregate, code]
    else:
        # platform and unit events: `<>` (which no index serves) rather than
        # IN, so that the planner reads a date range through rm_history_on_idx
        sql = f"{select} WHERE h.aggregate <> 'voucher'"
        params = []
    if since is not None or until is not None:
        # both bounds, so that SQLite's planner (no statistics) takes the
        # (effective_on, seq) index for a one-sided range too
        sql += " AND h.effective_on >= ? AND h.effective_on <= ?"
        params += [
            since.isoformat() if since is not None else "0000-01-01",
            until.isoformat() if until is not None else "9999-12-31",
        ]
    f = where or HistoryFilter()
    for column, value in (("actor", f.actor), ("event", f.event), ("doc_no", f.doc_no)):
        if value is not None:
            sql += f" AND h.{column} = ?"
            params.append(value)
    if f.recorded_from is not None:
        sql += " AND h.recorded_at >= ?"
        params.append(f.recorded_from)
    if f.recorded_to is not None:
        sql += " AND h.recorded_at <= ?"
        params.append(f.recorded_to)
    order = {"effective": "h.effective_on, h.seq", "recorded": "h.recorded_at, h.seq"}.get(
        f.order, "h.seq"
    )
    return sql + f" ORDER BY {order}", params


@dataclass(frozen=True)
class HistoryFilter:
    """``history``'s filters beyond the aggregate and effective dates: who
    recorded, which event, which document, when recorded (ISO timestamps,
    inclusive: --recorded-from/--recorded-to, --known-at), and the order
    (``seq``: as chained; ``effective``: by effective date; ``recorded``)."""

    actor: str | None = None
    event: str | None = None
    doc_no: str | None = None
    recorded_from: str | None = None
    recorded_to: str | None = None
    order: str = "seq"


def history(
    conn: DbConnection,
    *,
    aggregate: str | None = None,
    code: str | None = None,
    since: date | None = None,
    until: date | None = None,
    where: HistoryFilter | None = None,
) -> list[dict[str, Any]]:
    """``history``: the events, oldest first (by seq); --since/--until bound
    the effective date (inclusive). Without a code: every platform and unit
    event (vouchers' events repeat the payments and are left out)."""
    sql, params = history_query(
        aggregate=aggregate, code=code, since=since, until=until, where=where
    )
    return [
        {
            "seq": int(r["seq"]),
            "aggregate": r["aggregate"],
            "code": r["code"],
            "version": int(r["version"]),
            "event": r["event"],
            "effective_on": r["effective_on"],
            "recorded_at": r["recorded_at"],
            "actor": r["actor"],
            "doc_no": r["doc_no"],
            "reason": r["reason"],
            "basis": r["basis"],
            "data": loads(r["data"]),
            "recorded_by": r["recorded_by_login"],
        }
        for r in fetchall(conn, sql, params)
    ]
