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
    """A platform's payments by normalised voucher.

    Restored from a snapshot, the book stays the snapshot's two texts (the
    vouchers and the payments' rows, percent-encoded, between ";") until a
    command needs more than a voucher's presence: "is this voucher paid?" is
    a search of the vouchers' text, and the payments a command adds are kept
    beside it. Only a lookup of a recorded payment (a reversal), iterating
    the book or storing it from a state that was looked up builds the
    mapping, and each payment's row is decoded only when that payment is
    looked up. So a payment on a platform with thousands of payments builds
    none of the others."""

    __slots__ = ("_added", "_count", "_keys_text", "_rows", "_rows_text")

    def __init__(self, rows: dict[str, Payment | str] | None = None) -> None:
        self._rows: dict[str, Payment | str] | None = dict(rows or {})
        # while lazy (_rows None): ";" + the snapshot's keys text + ";", its
        # rows text, and the payments added since
        self._keys_text = ""
        self._rows_text = ""
        self._count = 0
        self._added: dict[str, Payment] = {}

    def _mapping(self) -> dict[str, Payment | str]:
        if self._rows is None:
            keys_text = self._keys_text[1:-1]
            keys = keys_text.split(";") if self._count else []
            if "%" in keys_text:
                keys = [unquote(k) for k in keys]
            rows = self._rows_text.split(";") if self._count else []
            mapping: dict[str, Payment | str] = dict(zip(keys, rows, strict=True))
            mapping.update(self._added)
            self._rows, self._keys_text, self._rows_text, self._added = mapping, "", "", {}
        return self._rows

    def __getitem__(self, key: str) -> Payment:
        if self._rows is None and key in self._added:
            return self._added[key]
        rows = self._mapping()
        value = rows[key]
        if not isinstance(value, Payment):
            value = rows[key] = Payment.from_row(key, value)
        return value

    def __setitem__(self, key: str, value: Payment) -> None:
        # while lazy, kept beside the texts without searching them (an event
        # replayed after the snapshot adds a voucher not paid before); one
        # that is there too replaces it where it stands when the mapping is
        # built, as a dict's update does
        if self._rows is None:
            self._added[key] = value
        else:
            self._rows[key] = value

    def __delitem__(self, key: str) -> None:
        del self._mapping()[key]

    def _in_text(self, key: str) -> bool:
        return self._count > 0 and f";{quote(key, safe='')};" in self._keys_text

    def __contains__(self, key: object) -> bool:
        if self._rows is not None:
            return key in self._rows
        return isinstance(key, str) and (key in self._added or self._in_text(key))

    def __iter__(self) -> Iterator[str]:
        return iter(self._mapping())

    def __len__(self) -> int:
        if self._rows is not None:
            return len(self._rows)
        return self._count + sum(1 for k in self._added if not self._in_text(k))

    def __repr__(self) -> str:
        return f"PaymentBook({len(self)} payments)"

    def snapshot_rows(self) -> tuple[str, str]:
        """The book as two texts (a snapshot's form): the number of payments
        and ":", then the voucher keys; in the same order, each payment's row —
        percent-encoded, between ";": plain ASCII that JSON stores and reads as
        it is."""
        if self._rows is not None or any(self._in_text(k) for k in self._added):
            rows_now = self._mapping()
            keys_text = ";".join(quote(k, safe="") for k in rows_now)
            rows_text = ";".join(
                v.row(k) if isinstance(v, Payment) else v for k, v in rows_now.items()
            )
            return f"{len(rows_now)}:{keys_text}", rows_text
        keys = [self._keys_text[1:-1]] if self._count else []
        rows = [self._rows_text] if self._count else []
        keys += [quote(k, safe="") for k in self._added]
        rows += [v.row(k) for k, v in self._added.items()]
        return f"{len(self)}:" + ";".join(keys), ";".join(rows)

    @classmethod
    def from_snapshot_rows(cls, keys: str, rows: str) -> PaymentBook:
        """The book of :meth:`snapshot_rows`' texts, kept as they are (above)."""
        count, _, keys = keys.partition(":")
        n = int(count)
        if n < 0 or (n == 0 and (keys or rows)):
            raise ValueError("payment rows that do not match their vouchers")
        if n > 0 and not (keys.count(";") == rows.count(";") == n - 1):
            raise ValueError("payment rows that do not match their vouchers")
        book = cls()
        book._rows, book._keys_text, book._rows_text, book._count = None, f";{keys};", rows, n
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
