"""How to read the rows under a statement's header: a :class:`ReadPlan` made
from a known layout (:mod:`ledger.reconcile.layout`) or, for a header no
shipped layout fits, from the built-in generic reading of
:mod:`ledger.reconcile.columns` (layout name ``generic``).

A plan reads one row into a :class:`Reading`: the line (a payment when money
went out, an inflow when it came in), the money out and in, and the running
balance the row shows. Anything that cannot be read is a ValueError with the
reason (a bad line).
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache, cached_property
from typing import Literal

from ledger.reconcile.cells import cell_or_none, clean_cell, parse_amount, parse_statement_date
from ledger.reconcile.columns import INFLOW_MARKS, OUTFLOW_MARKS, Columns, normalize_header
from ledger.reconcile.layout import Layout
from ledger.reconcile.lines import StatementLine

GENERIC = "generic"
# a name run together with an account number: "西藏大学5400…", "张三 6222…", "6222… 张三"
_NAME_THEN_ACCOUNT = re.compile(r"^(?P<name>.*?\D)[\s:：/,，-]*(?P<account>\d[\d*]{%d,})$")
_ACCOUNT_THEN_NAME = re.compile(r"^(?P<account>\d[\d*]{%d,})[\s:：/,，-]+(?P<name>\D.*)$")
_CURRENCY_TOTALS = re.compile(r"(?:人民币|本币|外币|美元|rmb|cny|usd)(?:合计|总计)")
# a direction cell the generic reading knows by its first character (借 Dr, 支出)
_OUT_FIRST = frozenset("借支付出")
_IN_FIRST = frozenset("贷收入存")
# words of a footer, totals or balance line: a row without any is none of those
FOOTER_WORDS = (
    "合计", "总计", "小计", "累计", "汇总", "total", "余额", "承前", "过次", "承上", "接上",
    "转下", "转次", "结转", "balance", "b/f", "c/f", "brought", "carried",
)  # fmt: skip


@cache
def _counterpart_patterns(digits: int) -> tuple[re.Pattern[str], re.Pattern[str]]:
    return (
        re.compile(_NAME_THEN_ACCOUNT.pattern % (digits - 1)),
        re.compile(_ACCOUNT_THEN_NAME.pattern % (digits - 1)),
    )


def split_counterpart(text: str | None, *, digits: int = 10) -> tuple[str | None, str | None]:
    """(name, account) of a counterpart cell that may run both together; the cell
    as the name and no account when it does not end (or start) with at least
    ``digits`` digits of an account number."""
    if text is None:
        return None, None
    s = text.strip()
    if not s[-1:].isdigit() and not s[:1].isdigit():
        return s, None
    for pattern in _counterpart_patterns(digits):
        m = pattern.match(s)
        if m is not None:
            name = m.group("name").strip(" \t:：/,，-")
            if name:
                return name, m.group("account")
    return s, None


@dataclass(frozen=True)
class Reading:
    line: StatementLine
    outflow: Decimal
    inflow: Decimal
    balance: Decimal | None


def _cell(row: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index]


@dataclass(frozen=True)
class ReadPlan:
    """Where each field is (0-based column indices) and how amounts are written."""

    layout: str
    names: tuple[str, ...]  # the header row as found
    date: int
    mode: Literal["signed", "out-in", "direction"]
    amount: int  # the amount column (signed, direction) or the outflow column (out-in)
    inflow: int | None = None
    direction: int | None = None
    outflow_sign: Literal["-", "+"] = "+"
    references: tuple[int, ...] = ()
    memos: tuple[int, ...] = ()
    payee: int | None = None
    account: int | None = None
    combined: bool = False
    serial: int | None = None
    balance: int | None = None
    # the built-in generic reading: a negative amount is a bad line, not an inflow
    strict: bool = False
    spec: Layout | None = None

    @property
    def width(self) -> int:
        return len(self.names)

    @property
    def header_key(self) -> tuple[str, ...]:
        return tuple(normalize_header(n) for n in self.names)

    @cached_property
    def amount_columns(self) -> frozenset[int]:
        return frozenset(i for i in (self.amount, self.inflow) if i is not None)

    @property
    def memo_columns(self) -> tuple[int, ...]:
        return self.memos

    def parse_date(self, text: str) -> dt.date:
        cell = cell_or_none(text)
        if cell is None:
            raise ValueError("no date")
        if self.spec is not None and not self._year_month_day:
            try:
                return self.spec.parse_date(cell).date()
            except ValueError:
                pass  # the usual forms below
        try:
            return parse_statement_date(cell)
        except ValueError as usual:
            if self.spec is None or not self._year_month_day:
                raise
            error = usual
        try:
            return self.spec.parse_date(cell).date()
        except ValueError:
            raise error from None

    @cached_property
    def _year_month_day(self) -> bool:
        """The layout's date formats all write year, month, day in that order: the
        usual forms (a fast reader) read them the same, so they are tried first."""
        if self.spec is None:
            return True
        return all(-1 < f.find("%Y") < f.find("%m") < f.find("%d") for f in self.spec.date_formats)

    def _direction(self, flag: str) -> Literal["out", "in"] | None:
        if self.spec is not None:
            return self.spec.amount.direction_of(flag)
        mark = "".join(flag.split()).casefold()
        if mark in OUTFLOW_MARKS or mark[:1] in _OUT_FIRST:
            return "out"
        if mark in INFLOW_MARKS or mark[:1] in _IN_FIRST:
            return "in"
        return None

    def has_amount(self, row: Sequence[str]) -> bool:
        return any(cell_or_none(_cell(row, i)) is not None for i in self.amount_columns)

    def read(self, line_no: int, row: Sequence[str]) -> Reading:
        """The row's money and line; ValueError with the reason if it is bad."""
        outflow, inflow = self._money(row)
        when = self.parse_date(_cell(row, self.date))
        try:
            balance = parse_amount(_cell(row, self.balance)) if self.balance is not None else None
        except ValueError:
            balance = None  # an unreadable balance is not checked; the line still counts
        references = tuple(
            r for r in (cell_or_none(_cell(row, i)) for i in self.references) if r is not None
        )
        memos = [m for m in (cell_or_none(_cell(row, i)) for i in self.memos) if m is not None]
        payee = cell_or_none(_cell(row, self.payee))
        account = cell_or_none(_cell(row, self.account))
        if payee is not None:
            name, run_in = split_counterpart(payee, digits=6 if self.combined else 10)
            if run_in is not None:
                payee = name
                account = account or run_in
        line = StatementLine(
            line=line_no,
            date=when,
            amount=outflow if outflow else inflow,
            references=references,
            memo=" | ".join(memos) if memos else None,
            payee=payee,
            account=account,
            serial=cell_or_none(_cell(row, self.serial)),
            direction="out" if outflow else "in",
        )
        return Reading(line, outflow, inflow, balance)

    def _money(self, row: Sequence[str]) -> tuple[Decimal, Decimal]:
        zero = Decimal(0)
        if self.mode == "out-in":
            out = parse_amount(_cell(row, self.amount))
            inn = parse_amount(_cell(row, self.inflow))
            if out is None or out == 0:
                if inn is not None and inn != 0:
                    if inn < 0 and self.strict:
                        raise ValueError(f"negative inflow {inn}: expected a positive amount")
                    return zero, abs(inn)
                raise ValueError("no amount in either the outflow or the inflow column")
            if out < 0:
                if self.strict:
                    raise ValueError(f"negative outflow {out}: expected a positive payment")
                out = -out  # some banks write the outflow column negative
            return out, abs(inn) if inn is not None else zero
        if self.mode == "direction":
            flag = cell_or_none(_cell(row, self.direction)) or ""
            value = parse_amount(_cell(row, self.amount))
            way = self._direction(flag)
            if way is None:
                raise ValueError(f"unknown debit/credit flag {flag.casefold()!r}")
            if value is None:
                raise ValueError("no amount")
            if value < 0:
                raise ValueError(f"negative amount {value} beside a debit/credit flag")
            if value == 0:
                raise ValueError("zero amount")
            return (value, zero) if way == "out" else (zero, value)
        value = parse_amount(_cell(row, self.amount))
        if value is None:
            raise ValueError("no amount")
        if self.strict and value < 0:
            raise ValueError(f"negative amount {value}: a refund or reversal, not a payment")
        if value == 0:
            raise ValueError("zero amount")
        is_out = value < 0 if self.outflow_sign == "-" else value > 0
        return (abs(value), zero) if is_out else (zero, abs(value))

    # --- footer --------------------------------------------------------------------

    def footer_label(self, row: Sequence[str]) -> Literal["totals", "note"] | None:
        """A totals line or a trailing note the layout names (``人民币合计``,
        ``# 支出合计: …``, ``以上数据仅供参考``)."""
        if self.spec is None:
            # the generic reading: a currency's totals (人民币合计, RMB合计)
            first = next((_compact(c) for c in row if clean_cell(c)), "")
            return "totals" if _CURRENCY_TOTALS.match(first) else None
        joined = compact_row(row)
        if not any(_compact(label) in joined for label in self.spec.footer.totals) and not any(
            _compact(label) in joined for label in self.spec.footer.notes
        ):
            prefix = self.spec.preamble.comment_prefix
            if not prefix or prefix not in joined:
                return None
        texts = [_compact(c) for c in row if clean_cell(c)]
        if not texts:
            return None
        first = texts[0]
        for label in self.spec.footer.totals:
            if any(t.startswith(_compact(label)) for t in texts):
                return "totals"
        for label in self.spec.footer.notes:
            if first.startswith(_compact(label)):
                return "note"
        prefix = self.spec.preamble.comment_prefix
        if prefix and first.startswith(prefix):
            return "note"
        return None


def _compact(text: str) -> str:
    return re.sub(r"\s+", "", clean_cell(text)).casefold()


def compact_row(row: Sequence[str]) -> str:
    """A row's cells run together as labels are compared: NFKC, case-folded, no blanks."""
    return "".join(unicodedata.normalize("NFKC", "".join(row)).split()).casefold()


def may_be_footer(row: Sequence[str]) -> bool:
    """False when the row has no word of a totals, balance or footer line (fast)."""
    joined = compact_row(row)
    return any(w in joined for w in FOOTER_WORDS)


def plan_from_layout(layout: Layout, header_cells: Sequence[str]) -> ReadPlan:
    """The plan for a header row the layout fits (detect it first)."""
    at = layout.positions(header_cells)
    c, a = layout.columns, layout.amount

    def pos(name: str | None) -> int | None:
        return at[name] if name is not None else None

    references = (at[c.reference],) if c.reference is not None else ()
    if a.mode == "out-in":
        assert a.outflow is not None and a.inflow is not None
        amount, inflow = at[a.outflow], at[a.inflow]
    else:
        assert a.column is not None
        amount, inflow = at[a.column], None
    return ReadPlan(
        layout=layout.name,
        names=tuple(clean_cell(x) for x in header_cells),
        date=at[c.date],
        mode=a.mode,
        amount=amount,
        inflow=inflow,
        direction=pos(a.direction),
        outflow_sign=a.outflow_sign,
        references=references,
        memos=tuple(at[m] for m in c.memo if at[m] not in references),
        payee=pos(c.payee),
        account=pos(c.account),
        combined=c.counterpart_combined,
        serial=pos(c.serial),
        balance=pos(c.balance),
        spec=layout,
    )


def plan_from_columns(cols: Columns) -> ReadPlan:
    """The built-in generic reading of a header no shipped layout fits."""
    mode: Literal["signed", "out-in", "direction"] = (
        "out-in"
        if cols.inflow is not None
        else "direction"
        if cols.direction is not None
        else "signed"
    )
    return ReadPlan(
        layout=GENERIC,
        names=cols.names,
        date=cols.date,
        mode=mode,
        amount=cols.outflow,
        inflow=cols.inflow,
        direction=cols.direction,
        outflow_sign="+",
        references=cols.references,
        memos=cols.memos or ((cols.memo,) if cols.memo is not None else ()),
        payee=cols.payee,
        account=cols.account,
        serial=cols.serial,
        balance=cols.balance,
        strict=True,
    )
