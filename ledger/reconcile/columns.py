"""Which column of a statement holds what: the header names banks use for
each field (English or Chinese), split outflow/inflow columns, debit/credit
flags, and finding the header row's :class:`Columns`.

Header names are compared after :func:`normalize_header` (NFKC, case-folded,
without blanks or a trailing unit such as ``(元)``). This is the one place a
bank's layout is described.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ledger.reconcile.cells import clean_cell

# Header names (compared after :func:`normalize_header`): CLI.md's names first,
# then a few spellings real exports use for the same column.
DATE_HEADERS = ("date", "交易日期", "transactiondate", "记账日期", "日期")
AMOUNT_HEADERS = ("amount", "金额", "借方发生额", "交易金额", "支出金额")
# Explicit identifier columns: their text is a voucher number or nothing.
REFERENCE_HEADERS = (
    "reference",
    "voucher",
    "凭证号",
    "voucherno",
    "referenceno",
    "凭证号码",
    "凭证编号",
)
# Free-text columns that may carry a voucher among other words.
MEMO_HEADERS = ("摘要", "用途", "附言", "memo", "description")
PAYEE_HEADERS = (
    "payee",
    "收款单位",
    "对方户名",
    "收款人",
    "收款人名称",
    "收款单位名称",
    "对方单位",
    "对方名称",
    "对方账户名称",
)
ACCOUNT_HEADERS = ("account", "对方账号", "收款账号", "收款人账号", "对方账户")
# A debit/credit flag beside a single amount column: only outflows are payments.
DIRECTION_HEADERS = (
    "借贷标志",
    "借贷方向",
    "收支标志",
    "收支方向",
    "交易方向",
    "direction",
    "dr/cr",
)
OUTFLOW_MARKS = frozenset(
    {"借", "支", "支出", "出", "付", "付款", "转出", "d", "dr", "debit", "out"}
)
INFLOW_MARKS = frozenset({"贷", "收", "收入", "入", "收款", "转入", "c", "cr", "credit", "in"})
# (outflow, inflow) pairs: the outflow is the payment.
SPLIT_HEADERS = (
    ("借方发生额", "贷方发生额"),
    ("记账金额(支出)", "记账金额(收入)"),
    ("交易金额(支出)", "交易金额(收入)"),
)

_UNIT_SUFFIX = re.compile(r"\((元|人民币|人民币元|rmb|cny|¥)\)$")


@dataclass(frozen=True)
class Columns:
    """Where each field is, by 0-based column index."""

    date: int
    outflow: int
    inflow: int | None = None
    references: tuple[int, ...] = ()
    memo: int | None = None
    payee: int | None = None
    account: int | None = None
    direction: int | None = None
    names: tuple[str, ...] = ()  # the header row as found

    @property
    def width(self) -> int:
        return len(self.names)


def normalize_header(text: str) -> str:
    s = clean_cell(text).casefold()
    s = re.sub(r"[\s_.#:-]+", "", s)
    return _UNIT_SUFFIX.sub("", s)


# --- header --------------------------------------------------------------------


def find_columns(cells: Sequence[str]) -> Columns | None:
    """The column layout if this row is a header row, else None."""
    names = [normalize_header(c) for c in cells]

    def first(candidates: Iterable[str]) -> int | None:
        for candidate in candidates:
            if candidate in names:
                return names.index(candidate)
        return None

    date_col = first(DATE_HEADERS)
    if date_col is None:
        return None
    outflow = inflow = None
    for out_name, in_name in SPLIT_HEADERS:
        if out_name in names and in_name in names:
            outflow, inflow = names.index(out_name), names.index(in_name)
            break
    if outflow is None:
        outflow = first(AMOUNT_HEADERS)
        if outflow is None:
            for out_name, _ in SPLIT_HEADERS:  # an outflow column alone is the amount
                if out_name in names:
                    outflow = names.index(out_name)
                    break
    if outflow is None:
        return None
    references = tuple(i for i, n in enumerate(names) if n in REFERENCE_HEADERS)
    return Columns(
        date=date_col,
        outflow=outflow,
        inflow=inflow,
        references=tuple(sorted(references, key=lambda i: REFERENCE_HEADERS.index(names[i]))),
        memo=first(MEMO_HEADERS),
        payee=first(PAYEE_HEADERS),
        account=first(ACCOUNT_HEADERS),
        direction=first(DIRECTION_HEADERS) if inflow is None else None,
        names=tuple(clean_cell(c) for c in cells),
    )
