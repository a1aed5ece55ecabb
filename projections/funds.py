"""The funds read model: one row per money event (allocated, disbursed,
reversed, recovered) with its effective date, the running totals of each
platform × category × fiscal-year line, and the payments (by voucher) for
reconciliation. Money is Decimal in Python; INTEGER cents on SQLite,
numeric(18,2) on PostgreSQL; never a float.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from ledger.store.db import DbConnection, fetchall
from projections.base import (
    loads,
    money_from_db,
    to_date,
)

ZERO = Decimal("0.00")
MOVEMENTS = ("allocated", "disbursed", "reversed", "recovered")


# --- queries ---------------------------------------------------------------------------


# The columns of a `funds summary` row, in the order it prints them (also the
# reconcile workbook's budget sheet).
SUMMARY_COLUMNS: tuple[str, ...] = (
    "platform",
    "category",
    "fiscal_year",
    "allocated",
    "entitled",
    "disbursed",
    "reversed",
    "recovered",
    "net",
    "remaining",
)


def summary(
    conn: DbConnection,
    as_of: date,
    *,
    platform: str | None = None,
    fiscal_year: int | None = None,
) -> list[dict[str, Any]]:
    """``funds summary``: per platform × category × fiscal year, the money
    events effective on or before `as_of`. net = disbursed − reversed −
    recovered; remaining = allocated − disbursed + reversed.

    A line whose money events are all effective by `as_of`
    (``last_effective_on``) is its running totals; every other line sums its
    events effective by then, one range of the covering index
    ``rm_fund_event_asof_idx`` per line (``dated_lines_query``), and is left
    out when it had none. So the cost grows with the lines listed and their
    own events, never with the ledger, and "today" plays no part."""
    day = as_of.isoformat()
    where, params = _line_filter(platform, fiscal_year)
    lines: list[dict[str, Any]] = [
        {
            **{k: r[k] for k in ("platform", "category", "fiscal_year")},
            **{m: money_from_db(conn, r[m]) for m in (*MOVEMENTS, "entitled")},
        }
        for r in fetchall(
            conn,
            f"SELECT * FROM rm_fund_line l WHERE l.last_effective_on <= ?{where}",
            [day, *params],
        )
    ]
    sql, dated_params = dated_lines_query(
        isinstance(conn, sqlite3.Connection), day, platform=platform, fiscal_year=fiscal_year
    )
    by_line: dict[tuple[str, str, int], dict[str, Any]] = {}
    for r in fetchall(conn, sql, dated_params):
        key = (str(r["platform"]), str(r["category"]), int(r["fiscal_year"]))
        line = by_line.setdefault(
            key,
            {
                "platform": key[0],
                "category": key[1],
                "fiscal_year": key[2],
                **dict.fromkeys(MOVEMENTS, ZERO),
                "entitled": None,
            },
        )
        line[str(r["movement"])] = money_from_db(conn, r["total"]) or ZERO
        if r["movement"] == "allocated" and int(r["n_entitled"] or 0) > 0:
            line["entitled"] = money_from_db(conn, r["entitled"])
    lines += by_line.values()
    out = []
    for ln in sorted(lines, key=lambda x: (x["platform"], x["fiscal_year"], x["category"])):
        allocated, disbursed = ln["allocated"] or ZERO, ln["disbursed"] or ZERO
        reversed_, recovered = ln["reversed"] or ZERO, ln["recovered"] or ZERO
        out.append(
            {
                "platform": ln["platform"],
                "category": ln["category"],
                "fiscal_year": int(ln["fiscal_year"]),
                "allocated": allocated,
                "entitled": ln["entitled"],
                "disbursed": disbursed,
                "reversed": reversed_,
                "recovered": recovered,
                "net": disbursed - reversed_ - recovered,
                "remaining": allocated - disbursed + reversed_,
            }
        )
    return out


def _line_filter(platform: str | None, fiscal_year: int | None) -> tuple[str, list[Any]]:
    where, params = "", list[Any]()
    if platform is not None:
        where += " AND l.platform = ?"
        params.append(platform)
    if fiscal_year is not None:
        where += " AND l.fiscal_year = ?"
        params.append(fiscal_year)
    return where, params


def dated_lines_query(
    sqlite: bool, day: str, *, platform: str | None = None, fiscal_year: int | None = None
) -> tuple[str, list[Any]]:
    """The totals per movement, effective by `day`, of the lines with a money
    event after it (or no date yet): for each such line one range probe of
    ``rm_fund_event_asof_idx``. SQLite's planner does that for a join; on
    PostgreSQL a LATERAL subquery says so (a hash join would read every money
    event)."""
    where, params = _line_filter(platform, fiscal_year)
    lines = "(l.last_effective_on IS NULL OR l.last_effective_on > ?)" + where
    sums = "SUM(e.amount) AS total, SUM(e.entitled) AS entitled, COUNT(e.entitled) AS n_entitled"
    match = (
        "e.platform = l.platform AND e.category = l.category AND e.fiscal_year = l.fiscal_year "
        "AND e.effective_on <= ?"
    )
    if sqlite:
        sql = (
            f"SELECT l.platform, l.category, l.fiscal_year, e.movement, {sums} "
            f"FROM rm_fund_line l JOIN rm_fund_event e ON {match} WHERE {lines} "
            "GROUP BY l.platform, l.category, l.fiscal_year, e.movement"
        )
        return sql, [day, day, *params]
    sql = (
        "SELECT l.platform, l.category, l.fiscal_year, m.movement, m.total, m.entitled, "
        f"m.n_entitled FROM rm_fund_line l CROSS JOIN LATERAL (SELECT e.movement, {sums} "
        f"FROM rm_fund_event e WHERE {match} GROUP BY e.movement) m WHERE {lines}"
    )
    return sql, [day, day, *params]


@dataclass(frozen=True)
class PaymentRow:
    """One disbursement, for reconciliation."""

    voucher: str
    platform: str
    category: str
    fiscal_year: int
    amount: Decimal
    paid_on: date
    reversed_on: date | None
    flags: tuple[str, ...]


def payments(
    conn: DbConnection, *, fiscal_year: int | None = None, platform: str | None = None
) -> list[PaymentRow]:
    """Every disbursement recorded (reversed ones included), by paid date and voucher."""
    sql = "SELECT * FROM rm_payment WHERE 1 = 1"
    params: list[Any] = []
    if fiscal_year is not None:
        sql += " AND fiscal_year = ?"
        params.append(fiscal_year)
    if platform is not None:
        sql += " AND platform = ?"
        params.append(platform)
    out = []
    for r in fetchall(conn, sql + " ORDER BY paid_on, voucher", params):
        paid = to_date(r["paid_on"])
        amount = money_from_db(conn, r["amount"])
        if paid is None or amount is None:  # pragma: no cover - NOT NULL columns
            continue
        out.append(
            PaymentRow(
                str(r["voucher"]),
                str(r["platform"]),
                str(r["category"]),
                int(r["fiscal_year"]),
                amount,
                paid,
                to_date(r["reversed_on"]),
                tuple(loads(r["flags"]) or ()),
            )
        )
    return out


def allocated(conn: DbConnection, platform: str, category: str, fiscal_year: int) -> Decimal:
    """The amount approved for one line (0 when none)."""
    rows = fetchall(
        conn,
        "SELECT allocated FROM rm_fund_line WHERE platform = ? AND category = ? "
        "AND fiscal_year = ?",
        (platform, category, fiscal_year),
    )
    return (money_from_db(conn, rows[0]["allocated"]) or ZERO) if rows else ZERO
