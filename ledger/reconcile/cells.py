"""Reading one cell of a statement: padding and Excel guards, empty cells,
amounts, dates, and the labels of totals and balance lines (see
:mod:`ledger.reconcile.statement` for what a statement may hold)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal, InvalidOperation

from aggregates.values import CENT

# Labels of lines that are not payments, matched at the start of a cell after
# NFKC, case-folding and removing every blank (``合　　计`` is ``合计``). What
# may follow a label: words such as 金额 / 笔数, then the end of the cell or
# anything but a Chinese character (``合计：2笔``, ``合计(元)``), so that
# ``总计算机公司`` or ``累计拨付`` are not labels.
_CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_ZH_TAIL = rf"(?:金额|笔数|发生额|借方|贷方|支出|收入|余额|数|额|笔)*(?:$|[^{_CJK}])"
_EN_TAIL = r"(?:amount|amounts|debit|credit|count)?(?:$|[^a-z])"
_TOTALS_ZH = re.compile(
    r"(?:本页|上页|本月|本年|本期|本日|当日|当月|期末|全部|借方|贷方|总)?"
    r"(?:合计|总计|小计|累计|汇总)" + _ZH_TAIL
)
_TOTALS_EN = re.compile(r"(?:page|grand|sub-?)?totals?" + _EN_TAIL)
# Balance and carried-forward lines: a balance, or a page's figures carried over.
_BALANCE_ZH = re.compile(
    r"(?:(?:期初|期末|上期|本期|上日|当日|本日|上月|本月|月初|月末|上年|本年|年初|年末"
    r"|上页|本页)?余额"
    r"|承前页?|过次页?|承上页|接上页|转下页|转次页|结转下页|结转次页"
    r"|(?:上页|上月|上年|上期|本期)结转|结转(?:下页|次页|下月|下年|下期|上年|上月))" + _ZH_TAIL
)
_BALANCE_EN = re.compile(
    r"(?:(?:opening|closing|previous|current)balance|balance(?:b/f|c/f|broughtforward"
    r"|carriedforward|forward)|broughtforward|carriedforward|b/f|c/f)" + _EN_TAIL
)
EMPTY_CELLS = frozenset({"", "-", "--", "---", "—", "——", "n/a", "null", "none"})

_DATE_TIME = r"(?:(?:\s+|t)\d{1,2}[:：]\d{2}(?:[:：]\d{2}(?:\.\d+)?)?|\s*\d{6})?"
_DATE_SEPARATED = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?" + _DATE_TIME, re.IGNORECASE
)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})" + _DATE_TIME, re.IGNORECASE)
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d*)?")
_PLAIN = re.compile(r"\d+(\.\d*)?|\.\d+")


# --- cells ---------------------------------------------------------------------


def clean_cell(text: str) -> str:
    """Strip padding (spaces, tabs, full-width blanks) and Excel's text guards."""
    s = unicodedata.normalize("NFKC", text).strip()
    if s.startswith('="') and s.endswith('"') and len(s) >= 3:
        s = s[2:-1].strip()
    if s.startswith("'"):
        s = s[1:].strip()
    return s


def cell_or_none(text: str) -> str | None:
    s = clean_cell(text)
    return None if s.casefold() in EMPTY_CELLS else s


def parse_amount(text: str) -> Decimal | None:
    """Parse a money cell into a Decimal quantized to 0.01; None for an empty cell.

    Raises ValueError with the reason for anything that is not an exact amount.
    """
    s = cell_or_none(text)
    if s is None:
        return None
    raw = s
    for token in ("¥", "元", "rmb", "cny", "RMB", "CNY", "\u00a0", " ", "'"):
        raw = raw.replace(token, "")
    negative = False
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1]
    if raw.startswith("-"):
        negative, raw = True, raw[1:]
    elif raw.startswith("+"):
        raw = raw[1:]
    if raw.endswith("-"):  # some ledgers print "1,234.00-"
        negative, raw = True, raw[:-1]
    if "," in raw:
        if not _GROUPED.fullmatch(raw):
            raise ValueError(f"unreadable amount {s!r}: misplaced thousands separator")
        raw = raw.replace(",", "")
    if not _PLAIN.fullmatch(raw):
        raise ValueError(f"unreadable amount {s!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already checked
        raise ValueError(f"unreadable amount {s!r}") from None
    quantized = value.quantize(CENT)
    if quantized != value:
        raise ValueError(f"amount {s!r} has more than two decimal places")
    return -quantized if negative else quantized


def parse_statement_date(text: str) -> date:
    """Parse a date cell in any of the usual forms; ValueError with the reason otherwise."""
    s = cell_or_none(text)
    if s is None:
        raise ValueError("no date")
    m = _DATE_SEPARATED.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if m is None:
        raise ValueError(f"unreadable date {s!r}")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError(f"no such date {s!r}") from None


def _compact(text: str) -> str:
    """A cell as a label is compared: NFKC, case-folded, every blank removed."""
    return re.sub(r"\s+", "", clean_cell(text)).casefold()


def is_totals_cell(text: str) -> bool:
    """A cell that labels a totals line: ``合计``, ``合　　计``, ``本页合计``,
    ``合计金额``, ``合计笔数：2``, ``总计：12笔``, ``Total``."""
    s = _compact(text)
    return bool(_TOTALS_ZH.match(s) or _TOTALS_EN.match(s))


def is_totals_row(cells: Sequence[str]) -> bool:
    return any(is_totals_cell(c) for c in cells)


def is_balance_cell(text: str) -> bool:
    """A cell that labels a balance or carried-forward line: ``期初余额``,
    ``期末余额``, ``承前页``, ``过次页``, ``Opening balance``, ``Balance b/f``."""
    s = _compact(text)
    return bool(_BALANCE_ZH.match(s) or _BALANCE_EN.match(s))


def is_balance_row(cells: Sequence[str]) -> bool:
    return any(is_balance_cell(c) for c in cells)
