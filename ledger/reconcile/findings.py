"""What reconciliation finds: the pairings, the discrepancies and the flags,
gathered in a :class:`ReconcileReport` (docs/RECONCILE.md names each)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from aggregates.values import CENT
from ledger.reconcile.checks import Period, StatementCheck
from ledger.reconcile.lines import BadLine, StatementLine
from ledger.reconcile.source import LedgerPayment

DEFAULT_TOLERANCE_DAYS = 3

FlagKind = Literal[
    "debarred-host",
    "blacklisted-host",
    "inactive-platform",
    "past-term",
    "over-allocation",
    "reversed-but-paid",
    "date-out-of-tolerance",
    "reference-mismatch",
    "payee-mismatch",
]
FLAG_KINDS: tuple[FlagKind, ...] = (
    "reversed-but-paid",
    "debarred-host",
    "blacklisted-host",
    "inactive-platform",
    "past-term",
    "over-allocation",
    "date-out-of-tolerance",
    "reference-mismatch",
    "payee-mismatch",
)
FINDINGS = (
    "matched",
    "amount_mismatch",
    "ledger_only",
    "statement_only",
    "duplicates",
    "flags",
    "bad_lines",
)


def money(value: Decimal) -> str:
    """Money as CLI.md writes it: a string with two decimals."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


# --- findings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    payment: LedgerPayment
    line: StatementLine
    by: Literal["reference", "payee"]

    @property
    def days_apart(self) -> int:
        return abs((self.line.date - self.payment.paid_on).days)


@dataclass(frozen=True)
class AmountMismatch:
    voucher: str
    platform: str
    ledger_amount: Decimal
    statement_amount: Decimal
    paid_on: date
    date: date
    line: int


@dataclass(frozen=True)
class LedgerOnly:
    voucher: str
    platform: str
    amount: Decimal
    paid_on: date
    category: str
    fiscal_year: int


@dataclass(frozen=True)
class StatementOnly:
    reference: str | None
    payee: str | None
    amount: Decimal
    date: date
    line: int


@dataclass(frozen=True)
class Duplicate:
    voucher: str
    where: Literal["ledger", "statement"]
    count: int
    platform: str
    amount: Decimal  # the copies beyond the one paired (the money paid or recorded twice)
    lines: tuple[int, ...] = ()  # statement lines, for where == "statement"


@dataclass(frozen=True)
class Flag:
    """A flag on a payment. ``ledger_amount`` is the ledger's figure for the
    payment; ``statement_amount`` what the statement shows (None when it does not
    show the payment): the paired line's amount for a flag about that line
    (reversed-but-paid, date-out-of-tolerance, reference-mismatch,
    payee-mismatch), the money paid for the payment, duplicate lines included,
    for a flag about the payment (debarred, blacklisted, inactive,
    over-allocation)."""

    voucher: str
    platform: str
    flag: FlagKind
    detail: str
    paid_on: date
    ledger_amount: Decimal
    statement_amount: Decimal | None = None
    date: date | None = None  # the statement line's date, where it shows the payment
    line: int | None = None  # the statement line, where it shows the payment

    @property
    def amount(self) -> Decimal:
        """The money concerned: the bank's figure where it shows one, else the ledger's."""
        return self.statement_amount if self.statement_amount is not None else self.ledger_amount


@dataclass
class ReconcileReport:
    matches: list[Match] = field(default_factory=list)
    amount_mismatch: list[AmountMismatch] = field(default_factory=list)
    ledger_only: list[LedgerOnly] = field(default_factory=list)
    statement_only: list[StatementOnly] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    out_of_scope: int = 0  # statement lines paired with payments of another fiscal year
    fiscal_year: int | None = None
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS
    statement: str | None = None
    encoding: str | None = None
    statement_checks: list[StatementCheck] = field(default_factory=list)
    layout: str | None = None  # the layout the statement was read by
    period: Period | None = None  # the statement's period: bounds the payments expected
    statement_sha256: str | None = None
    statement_kind: str | None = None  # csv, xls, xlsx
    inflows: int = 0  # lines of money in (never payments)
    # who ran it and where the ledger's chain stood (the workbook's cover)
    actor: str | None = None
    generated_at: str | None = None
    chain_seq: int | None = None
    chain_hash: str | None = None
    # the budget view the workbook carries: `funds summary` rows as of a date
    budget: list[dict[str, Any]] | None = None
    budget_as_of: date | None = None

    @property
    def matched(self) -> int:
        return len(self.matches)

    @property
    def has_discrepancies(self) -> bool:
        """Anything unmatched, flagged or unreadable (``--fail-on-discrepancy``)."""
        return bool(
            self.amount_mismatch
            or self.ledger_only
            or self.statement_only
            or self.duplicates
            or self.flags
            or self.bad_lines
            or any(not c.ok for c in self.statement_checks)
        )
