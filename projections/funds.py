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
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from ledger.store.db import DbConnection, fetchall
from projections.base import (
    ReadModelView,
    dumps,
    iso_date,
    iso_ts,
    loads,
    money_from_db,
    to_date,
)

ZERO = Decimal("0.00")
MOVEMENTS = ("allocated", "disbursed", "reversed", "recovered")


class FundsProjection(Projection[ReadModelView]):
    """Its lines (``rm_fund_line``) are kept for the batch (a write-back
    cache, ``projections.runner.BatchRows``): each line is read once and
    written once a batch, however many money events it has."""

    name = "funds"

    def __init__(self, view: ReadModelView) -> None:
        super().__init__(view)
        # (platform, category, fiscal year) -> the line's totals (Decimal), this batch
        self._lines: dict[tuple[str, str, int], dict[str, Any]] = {}

    def begin_batch(self) -> None:
        self._lines.clear()

    def end_batch(self) -> None:
        rows = [
            {
                "platform": key[0],
                "category": key[1],
                "fiscal_year": key[2],
                **{m: self.view.money(line[m]) for m in (*MOVEMENTS, "entitled")},
                "last_effective_on": line["last_effective_on"],
            }
            for key, line in self._lines.items()
        ]
        self._lines.clear()
        self.view.upsert_many("rm_fund_line", rows, ("platform", "category", "fiscal_year"))

    def _line(self, key: tuple[str, str, int]) -> dict[str, Any]:
        """A line's totals: kept this batch, else read (zero when new)."""
        line = self._lines.get(key)
        if line is None:
            row = self.view.one(
                "SELECT * FROM rm_fund_line WHERE platform = ? AND category = ? "
                "AND fiscal_year = ?",
                key,
            )
            line = {m: (self.view.money_out(row[m]) if row else ZERO) for m in MOVEMENTS}
            line["entitled"] = self.view.money_out(row["entitled"]) if row else None
            line["last_effective_on"] = row["last_effective_on"] if row else None
            self._lines[key] = line
        return line

    def _movement(
        self, e: Any, movement: str, *, entitled: Decimal | None = None, voucher: str | None = None
    ) -> str:
        code = self.view.code_of(e)
        self.view.insert(
            "rm_fund_event",
            {
                "notification_id": self.view.notification_id,
                "platform": code,
                "version": e.originator_version,
                "movement": movement,
                "category": e.category,
                "fiscal_year": int(e.fiscal_year),
                "amount": self.view.money(e.amount),
                "entitled": self.view.money(entitled),
                "entitlement": getattr(e, "entitlement", None),
                "voucher": voucher,
                "effective_on": iso_date(e.effective_on),
                "recorded_at": iso_ts(e.timestamp),
            },
        )
        key = (code, str(e.category), int(e.fiscal_year))
        line = self._line(key)
        line[movement] = (line[movement] or ZERO) + Decimal(e.amount)
        if entitled is not None:
            line["entitled"] = (line["entitled"] or ZERO) + Decimal(entitled)
        on = iso_date(e.effective_on)
        last = line["last_effective_on"]
        # money events may be backdated: the newest date, not the last event's
        if last is None or (on and on > last):
            line["last_effective_on"] = on
        return code

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Other events move no money."""

    @process_event.register
    def _allocated(self, domain_event: Platform.FundsAllocated, tracking: Tracking) -> None:
        e: Any = domain_event
        self._movement(e, "allocated", entitled=e.entitled if e.entitlement else None)

    @process_event.register
    def _disbursed(self, domain_event: Platform.FundsDisbursed, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self._movement(e, "disbursed", voucher=e.voucher)
        self.view.insert(
            "rm_payment",
            {
                "voucher": e.voucher,
                "platform": code,
                "category": e.category,
                "fiscal_year": int(e.fiscal_year),
                "amount": self.view.money(e.amount),
                "paid_on": iso_date(e.effective_on),
                "flags": dumps(list(e.flags)),
                "recorded_at": iso_ts(e.timestamp),
                "reversed_on": None,
                "reversal_recorded_at": None,
            },
        )

    @process_event.register
    def _reversed(self, domain_event: Platform.DisbursementReversed, tracking: Tracking) -> None:
        e: Any = domain_event
        self._movement(e, "reversed", voucher=e.voucher)
        self.view.update(
            "rm_payment",
            {"reversed_on": iso_date(e.effective_on), "reversal_recorded_at": iso_ts(e.timestamp)},
            {"voucher": e.voucher},
        )

    @process_event.register
    def _recovered(self, domain_event: Platform.FundsRecovered, tracking: Tracking) -> None:
        self._movement(domain_event, "recovered")


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
