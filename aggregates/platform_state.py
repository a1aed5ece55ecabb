"""The Platform aggregate's state records: funds lines, payments,
entitlements and major change requests. Plain dataclasses the aggregate's
events build (aggregates/platform.py), kept compact so that a command costs
the same on a platform with thousands of payments (a funds line keeps running
totals and the net change per date; the payments are a book that a snapshot
restores as rows, each decoded when looked up); no rules here."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

ZERO = Decimal("0.00")


@dataclass
class FundLine:
    """One funds line (a category and fiscal year): running totals, and the
    amount paid net on each date it changed — all that the rules look up, so
    its size is bounded by the dates, not by the number of payments."""

    category: str
    fiscal_year: int
    allocated: Decimal = ZERO
    disbursed: Decimal = ZERO
    reversed: Decimal = ZERO
    recovered: Decimal = ZERO
    entitled: Decimal | None = None
    # the change of the amount paid net (disbursed − reversed − recovered) on
    # each effective date a payment, reversal or recovery of the line has
    net_changes: dict[date, Decimal] = field(default_factory=dict)

    @property
    def remaining(self) -> Decimal:
        return self.allocated - self.disbursed + self.reversed

    @property
    def net(self) -> Decimal:
        return self.disbursed - self.reversed - self.recovered

    def add(self, on: date, what: str, amount: Decimal) -> None:
        setattr(self, what, getattr(self, what) + amount)
        if what != "allocated":
            change = amount if what == "disbursed" else -amount
            self.net_changes[on] = self.net_changes.get(on, ZERO) + change

    def lowest_net_from(self, day: date) -> tuple[Decimal, date]:
        """The lowest amount paid net (disbursed − reversed − recovered) on any
        date from `day` on (the dates its entries change it, and `day` itself),
        with that date (the earliest, on a tie): what a recovery or reversal
        dated `day` must fit within, so that no "as of" view shows more clawed
        back than was paid."""
        net = ZERO
        changes = sorted(self.net_changes.items())
        k = 0
        while k < len(changes) and changes[k][0] <= day:
            net += changes[k][1]
            k += 1
        low, low_on = net, day
        for on, change in changes[k:]:
            net += change
            if net < low:
                low, low_on = net, on
        return low, low_on


@dataclass
class Payment:
    voucher: str
    category: str
    fiscal_year: int
    amount: Decimal
    paid_on: date
    flags: list[str]
    reversed_on: date | None = None

    def row(self, key: str) -> str:
        """The payment as one compact text (its snapshot): its fields
        percent-encoded, between "|"; its voucher "=" when it is `key`."""
        fields = [
            "=" if self.voucher == key else quote(self.voucher, safe=""),
            quote(self.category, safe=""),
            str(self.fiscal_year),
            str(self.amount),
            self.paid_on.isoformat(),
            "".join("," + quote(f, safe="") for f in self.flags),
            "" if self.reversed_on is None else self.reversed_on.isoformat(),
        ]
        return "|".join(fields)

    @classmethod
    def from_row(cls, key: str, row: str) -> Payment:
        voucher, category, fiscal_year, amount, paid_on, flags, reversed_on = row.split("|")
        return cls(
            key if voucher == "=" else unquote(voucher),
            unquote(category),
            int(fiscal_year),
            Decimal(amount),
            date.fromisoformat(paid_on),
            [unquote(f) for f in flags.split(",")[1:]],
            date.fromisoformat(reversed_on) if reversed_on else None,
        )


class PaymentBook(MutableMapping[str, Payment]):
    """A platform's payments by normalised voucher. Restored from a snapshot,
    each payment stays a compact text until it is looked up: a command on a
    platform with thousands of payments checks its voucher (a key lookup)
    and builds none of the others."""

    __slots__ = ("_rows",)

    def __init__(self, rows: dict[str, Payment | str] | None = None) -> None:
        self._rows: dict[str, Payment | str] = dict(rows or {})

    def __getitem__(self, key: str) -> Payment:
        value = self._rows[key]
        if not isinstance(value, Payment):
            value = self._rows[key] = Payment.from_row(key, value)
        return value

    def __setitem__(self, key: str, value: Payment) -> None:
        self._rows[key] = value

    def __delitem__(self, key: str) -> None:
        del self._rows[key]

    def __contains__(self, key: object) -> bool:
        return key in self._rows

    def __iter__(self) -> Iterator[str]:
        return iter(self._rows)

    def __len__(self) -> int:
        return len(self._rows)

    def __repr__(self) -> str:
        return f"PaymentBook({len(self._rows)} payments)"

    def snapshot_rows(self) -> tuple[str, str]:
        """The book as two texts (a snapshot's form): the voucher keys and, in
        the same order, each payment's row, percent-encoded, between ";" —
        plain ASCII that JSON stores and reads as it is."""
        keys = ";".join(quote(k, safe="") for k in self._rows)
        rows = ";".join(v.row(k) if isinstance(v, Payment) else v for k, v in self._rows.items())
        return keys, rows

    @classmethod
    def from_snapshot_rows(cls, keys: str, rows: str) -> PaymentBook:
        """The book of :meth:`snapshot_rows`' texts (rows decoded on lookup)."""
        key_list = keys.split(";") if keys else []
        if "%" in keys:
            key_list = [unquote(k) for k in key_list]
        row_list = rows.split(";") if rows else []
        if len(key_list) != len(row_list):
            raise ValueError("payment rows that do not match their vouchers")
        book = cls()
        book._rows = dict(zip(key_list, row_list, strict=True))
        return book


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
