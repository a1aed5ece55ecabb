"""What a statement file is read into: its lines (payments and inflows),
the lines that cannot be read, and the totals lines it carries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Literal


@dataclass(frozen=True)
class StatementLine:
    """One line of money the statement shows: a payment (an outflow), or,
    in ``StatementParse.inflows``, money that came in."""

    line: int  # 1-based physical line number in the file (row in a spreadsheet)
    date: date
    amount: Decimal  # positive, quantized to 0.01
    references: tuple[str, ...] = ()  # explicit reference cells, non-empty, in header order
    memo: str | None = (
        None  # free text (摘要, 附言, 用途 … joined by " | ") that may hold a voucher
    )
    payee: str | None = None
    account: str | None = None
    serial: str | None = None  # the bank's own serial / 凭证号: never a ledger voucher
    direction: Literal["out", "in"] = "out"

    @property
    def reference(self) -> str | None:
        """What the line shows as its reference: the first explicit one, else the memo."""
        if self.references:
            return self.references[0]
        return self.memo


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Movement:
    """A line's money in file order, for the running-balance check; ``None``
    amounts for a line that could not be read."""

    line: int
    outflow: Decimal | None
    inflow: Decimal | None
    balance: Decimal | None


@dataclass(frozen=True)
class TotalsLine:
    """A totals line (合计) and the amounts it shows: in the outflow and inflow
    columns, in the one amount column, or written after its label."""

    line: int
    label: str
    outflow: Decimal | None = None
    inflow: Decimal | None = None
    amount: Decimal | None = None  # one amount column, or a labelled amount of unknown side
    trailing: bool = False  # after the last line of money (not a page subtotal)
