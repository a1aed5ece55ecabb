"""The Platform aggregate's state records: funds lines, payments,
entitlements and major change requests. Plain dataclasses the aggregate's
events build (aggregates/platform.py); no rules here."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

ZERO = Decimal("0.00")


@dataclass
class FundLine:
    category: str
    fiscal_year: int
    allocated: Decimal = ZERO
    disbursed: Decimal = ZERO
    reversed: Decimal = ZERO
    recovered: Decimal = ZERO
    entitled: Decimal | None = None
    # every money event of the line: (effective date, what, amount)
    entries: list[tuple[date, str, Decimal]] = field(default_factory=list)

    @property
    def remaining(self) -> Decimal:
        return self.allocated - self.disbursed + self.reversed

    @property
    def net(self) -> Decimal:
        return self.disbursed - self.reversed - self.recovered

    def add(self, on: date, what: str, amount: Decimal) -> None:
        setattr(self, what, getattr(self, what) + amount)
        self.entries.append((on, what, amount))

    def _net_on(self, day: date) -> Decimal:
        net = ZERO
        for on, what, amount in self.entries:
            if on <= day and what != "allocated":
                net += amount if what == "disbursed" else -amount
        return net

    def lowest_net_from(self, day: date) -> tuple[Decimal, date]:
        """The lowest amount paid net (disbursed − reversed − recovered) on any
        date from `day` on (the dates its entries change it, and `day` itself),
        with that date: what a recovery or reversal dated `day` must fit within,
        so that no "as of" view shows more clawed back than was paid."""
        days = sorted({day} | {on for on, _, _ in self.entries if on >= day})
        return min(((self._net_on(d), d) for d in days), key=lambda vd: vd[0])


@dataclass
class Payment:
    voucher: str
    category: str
    fiscal_year: int
    amount: Decimal
    paid_on: date
    flags: list[str]
    reversed_on: date | None = None


@dataclass
class EntitlementState:
    key: str
    category: str
    amount: Decimal
    basis: str
    earned_on: date
    granted_by: str | None = None  # "category:fiscal_year" of the first allocation that used it
    allocated: Decimal = Decimal("0.00")  # allocated so far, in one part or several (SPEC §6)

    @property
    def open(self) -> bool:
        return self.allocated < self.amount


@dataclass
class ChangeRequest:
    id: str
    change_type: str
    details: dict[str, str]
    requested_on: date
    reason: str | None
    actor: str
    status: str = "pending"
    decided_on: date | None = None
    decision_doc_no: str | None = None
    decision_reason: str | None = None
    recorded_at: str = ""
    applied: dict[str, Any] = field(default_factory=dict)
