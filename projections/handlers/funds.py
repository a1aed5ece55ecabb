"""The funds read model's projection: how each event changes its rows
(``projections.funds`` holds its queries, which never load this module or
the aggregates; the catch-up, rebuild and verify do)."""

from __future__ import annotations

from decimal import Decimal
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from projections.base import (
    dumps,
    iso_date,
    iso_ts,
)
from projections.funds import MOVEMENTS, ZERO
from projections.view import ReadModelView


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


__all__ = ["FundsProjection"]
