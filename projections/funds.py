"""The funds read model: one row per money event (allocated, disbursed,
reversed, recovered) with its effective date, the running totals of each
platform × category × fiscal-year line, and the payments (by voucher) for
reconciliation. Money is Decimal in Python; INTEGER cents on SQLite,
numeric(18,2) on PostgreSQL; never a float.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from ledger.db import DbConnection, fetchall
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
    name = "funds"

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
        key = {"platform": code, "category": e.category, "fiscal_year": int(e.fiscal_year)}
        row = self.view.one(
            "SELECT * FROM rm_fund_line WHERE platform = ? AND category = ? AND fiscal_year = ?",
            list(key.values()),
        )
        line: dict[str, Decimal | None] = {
            m: (self.view.money_out(row[m]) if row else ZERO) for m in MOVEMENTS
        }
        line["entitled"] = self.view.money_out(row["entitled"]) if row else None
        line[movement] = (line[movement] or ZERO) + Decimal(e.amount)
        if entitled is not None:
            line["entitled"] = (line["entitled"] or ZERO) + Decimal(entitled)
        self.view.upsert(
            "rm_fund_line",
            {**key, **{k: self.view.money(v) for k, v in line.items()}},
            tuple(key),
        )
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


def summary(
    conn: DbConnection,
    as_of: date,
    *,
    today: date,
    platform: str | None = None,
    fiscal_year: int | None = None,
) -> list[dict[str, Any]]:
    """``funds summary``: per platform × category × fiscal year, the money
    events effective on or before `as_of`. net = disbursed − reversed −
    recovered; remaining = allocated − disbursed + reversed."""
    where: list[str] = []
    params: list[Any] = []
    if platform is not None:
        where.append("platform = ?")
        params.append(platform)
    if fiscal_year is not None:
        where.append("fiscal_year = ?")
        params.append(fiscal_year)
    lines: list[dict[str, Any]]
    if as_of >= today:
        sql = "SELECT * FROM rm_fund_line"
        if where:
            sql += " WHERE " + " AND ".join(where)
        lines = [
            {
                **{k: r[k] for k in ("platform", "category", "fiscal_year")},
                **{m: money_from_db(conn, r[m]) for m in (*MOVEMENTS, "entitled")},
            }
            for r in fetchall(conn, sql, params)
        ]
    else:
        where.append("effective_on <= ?")
        params.append(as_of.isoformat())
        sql = (
            "SELECT platform, category, fiscal_year, movement, SUM(amount) AS total, "
            "SUM(entitled) AS entitled, COUNT(entitled) AS n_entitled FROM rm_fund_event WHERE "
            + " AND ".join(where)
            + " GROUP BY platform, category, fiscal_year, movement"
        )
        by_line: dict[tuple[str, str, int], dict[str, Any]] = {}
        for r in fetchall(conn, sql, params):
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
        lines = list(by_line.values())
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
