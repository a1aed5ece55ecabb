"""The statement's own checks: its period (from the preamble, the file name,
or ``--from/--to``), its totals line (合计) against the lines read, and its
running balance (余额) line by line. Each is a :class:`StatementCheck`
(``statement_checks`` in the JSON and the workbook); a failed one is a
discrepancy (``--fail-on-discrepancy``)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Literal

from ledger.reconcile.cells import clean_cell, parse_amount, parse_statement_date
from ledger.reconcile.lines import Movement, TotalsLine

CheckKind = Literal["total", "balance", "period"]
PeriodSource = Literal["options", "preamble", "file name"]

# labels of a preamble line carrying the period, beside a layout's own
PERIOD_MARKERS = (
    "起止日期",
    "起始日期",
    "日期范围",
    "对账期间",
    "查询期间",
    "交易期间",
    "查询日期",
    "账单周期",
    "期间",
    "period",
    "statementperiod",
)
_DATE = re.compile(
    r"(?<!\d)(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})(?!\d)|(?<!\d)(\d{4})(\d{2})(\d{2})(?!\d)"
)
_FILE_PERIOD = re.compile(r"(?<!\d)((?:19|20)\d{6})\D{1,3}((?:19|20)\d{6})(?!\d)")
# a totals line that is a page's or a running subtotal, not the statement's
_SUBTOTAL = ("本页", "上页", "小计", "承前", "过次", "累计", "page", "sub")
_OUT_WORDS = ("支出", "借方", "取出", "转出", "付款", "debit", "out")
_IN_WORDS = ("收入", "贷方", "存入", "转入", "收款", "credit", "in")
_TEXT_AMOUNT = re.compile(r"([-+]?\d[\d,]*\.\d{1,2})\s*(?:元)?\s*$")


@dataclass(frozen=True)
class Period:
    start: date
    end: date
    source: PeriodSource

    def __contains__(self, day: object) -> bool:
        return isinstance(day, date) and self.start <= day <= self.end

    def describe(self) -> str:
        return f"{self.start.isoformat()} to {self.end.isoformat()} (from the {self.source})"


@dataclass(frozen=True)
class StatementCheck:
    check: CheckKind
    ok: bool
    detail: str


def fmt(value: Decimal) -> str:
    return f"{value:,.2f}"


def _dates(text: str) -> list[date]:
    found: list[date] = []
    for m in _DATE.finditer(text):
        y, mo, d = (m.group(1), m.group(2), m.group(3)) if m.group(1) else m.group(4, 5, 6)
        try:
            found.append(date(int(y), int(mo), int(d)))
        except ValueError:
            continue
    return found


def period_from_preamble(preamble: Sequence[str], markers: Iterable[str] = ()) -> Period | None:
    """The period a preamble line names after one of the markers: its first two
    dates (start ≤ end)."""
    labels = [re.sub(r"\s+", "", m).casefold() for m in (*markers, *PERIOD_MARKERS)]
    for text in preamble:
        compact = re.sub(r"\s+", " ", clean_cell(text))
        folded = compact.casefold().replace(" ", "")
        for label in labels:
            at = folded.find(label)
            if at < 0:
                continue
            # find the marker in the spaced text too: dates after it count
            dates = _dates(compact[_spaced_index(compact, at) :])
            if len(dates) >= 2 and dates[0] <= dates[1]:
                return Period(dates[0], dates[1], "preamble")
    return None


def _spaced_index(text: str, compact_index: int) -> int:
    """The index in ``text`` of the character at ``compact_index`` of the text
    without blanks."""
    seen = 0
    for i, ch in enumerate(text):
        if ch.isspace():
            continue
        if seen == compact_index:
            return i
        seen += 1
    return len(text)


def period_from_name(name: str, pattern: str | None = None) -> Period | None:
    """The period in a file name (``交易明细_1546_20260301_20260331.xls``)."""
    base = Path(name).name
    for regex in (re.compile(pattern) if pattern else None, _FILE_PERIOD):
        if regex is None:
            continue
        m = regex.search(base)
        if m is None or m.re.groups < 2:
            continue
        try:
            start, end = parse_statement_date(m.group(1)), parse_statement_date(m.group(2))
        except ValueError:
            continue
        if start <= end:
            return Period(start, end, "file name")
    return None


# --- totals ------------------------------------------------------------------------------


def text_amount(label: str, text: str) -> tuple[str, Decimal] | None:
    """('outflow'|'inflow'|'amount', value) written after a totals label
    (``# 支出合计: 655000.50``); None without an amount with decimals."""
    m = _TEXT_AMOUNT.search(clean_cell(text))
    if m is None:
        return None
    try:
        value = parse_amount(m.group(1))
    except ValueError:
        return None
    if value is None:
        return None
    folded = label.casefold()
    side = (
        "outflow"
        if any(w in folded for w in _OUT_WORDS)
        else "inflow"
        if any(w in folded for w in _IN_WORDS)
        else "amount"
    )
    return side, value


def total_check(
    totals: Sequence[TotalsLine], outflow: Decimal, inflow: Decimal
) -> StatementCheck | None:
    """The statement's totals line(s) after its last line against the money read;
    None when it has none with an amount."""
    parts: list[str] = []
    ok = True
    for t in totals:
        label = re.sub(r"\s+", "", t.label).casefold()
        if not t.trailing or any(s in label for s in _SUBTOTAL):
            continue
        for side, shown, read in (("outflow", t.outflow, outflow), ("inflow", t.inflow, inflow)):
            if shown is None:
                continue
            good = abs(shown) == read
            ok &= good
            rel = "=" if good else "≠"
            parts.append(f"{t.label} (line {t.line}) {side} {fmt(shown)} {rel} {fmt(read)} read")
        if t.amount is not None:
            fits = {outflow, inflow, outflow + inflow, abs(inflow - outflow)}
            good = abs(t.amount) in fits
            ok &= good
            if good:
                parts.append(
                    f"{t.label} (line {t.line}) {fmt(t.amount)} agrees with the lines read"
                )
            else:
                parts.append(
                    f"{t.label} (line {t.line}) {fmt(t.amount)} ≠ the lines read "
                    f"(out {fmt(outflow)}, in {fmt(inflow)})"
                )
    if not parts:
        return None
    return StatementCheck("total", ok, "; ".join(parts))


# --- running balance -----------------------------------------------------------------------


def _breaks(moves: Sequence[Movement]) -> tuple[int, list[tuple[int, Decimal, Decimal]]]:
    prev: Decimal | None = None
    checked = 0
    breaks: list[tuple[int, Decimal, Decimal]] = []
    for m in moves:
        if m.outflow is None or m.inflow is None:  # an unreadable line: start again after it
            prev = m.balance
            continue
        if prev is None:
            prev = m.balance
            continue
        expected = prev + m.inflow - m.outflow
        if m.balance is None:
            prev = expected
            continue
        checked += 1
        if expected != m.balance:
            breaks.append((m.line, expected, m.balance))
        prev = m.balance
    return checked, breaks


def balance_check(movements: Sequence[Movement]) -> StatementCheck | None:
    """Each line's balance is the one before plus its inflow minus its outflow;
    newest-first exports are walked from the bottom. None with fewer than two
    balances."""
    if sum(1 for m in movements if m.balance is not None) < 2:
        return None
    forward = _breaks(movements)
    backward = _breaks(list(reversed(movements)))
    checked, breaks = forward if len(forward[1]) <= len(backward[1]) else backward
    if not breaks:
        first = next(m.balance for m in movements if m.balance is not None)
        last = next(m.balance for m in reversed(movements) if m.balance is not None)
        return StatementCheck(
            "balance",
            True,
            f"the running balance (余额) agrees on {checked} line(s) after the first "
            f"({fmt(first)} … {fmt(last)})",
        )
    shown = "; ".join(
        f"line {line} shows {fmt(bal)}, the lines before give {fmt(exp)}"
        for line, exp, bal in breaks[:5]
    )
    more = f"; and {len(breaks) - 5} more" if len(breaks) > 5 else ""
    return StatementCheck(
        "balance",
        False,
        f"the running balance (余额) breaks at {len(breaks)} line(s): {shown}{more}",
    )


def period_check(period: Period, dates: Iterable[tuple[int, date]], outside: int) -> StatementCheck:
    """Lines dated outside the period, and how many ledger payments the period
    leaves out (not expected on this statement)."""
    stray = [(line, d) for line, d in dates if d not in period]
    note = (
        f"; {outside} ledger payment(s) outside it not expected on this statement"
        if outside
        else ""
    )
    if not stray:
        return StatementCheck("period", True, f"{period.describe()}: every line within{note}")
    shown = ", ".join(f"line {line} ({d.isoformat()})" for line, d in stray[:5])
    more = f" and {len(stray) - 5} more" if len(stray) > 5 else ""
    return StatementCheck(
        "period",
        False,
        f"{period.describe()}: {len(stray)} line(s) dated outside it: {shown}{more}{note}",
    )
