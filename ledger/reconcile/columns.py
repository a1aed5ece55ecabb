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
# then the spellings real exports use for the same column, most specific first.
DATE_HEADERS = (
    "date",
    "交易日期",
    "transactiondate",
    "记账日期",
    "日期",
    "交易日",
    "记账日",
    "入账日期",
    "发生日期",
    "业务日期",
    "支付日期",
    "交易时间",
    "记账时间",
    "postingdate",
    "valuedate",
    "bookingdate",
)
AMOUNT_HEADERS = (
    "amount",
    "金额",
    "借方发生额",
    "交易金额",
    "支出金额",
    "发生额",
    "记账金额",
    "交易额",
    "收支金额",
    "支付金额",
    "amountcny",
    "transactionamount",
)
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
MEMO_HEADERS = (
    "摘要",
    "用途",
    "附言",
    "memo",
    "description",
    "备注",
    "交易描述",
    "交易摘要",
    "交易附言",
    "客户摘要",
    "业务摘要",
    "其它摘要",
    "其他摘要",
    "交易备注",
    "交易用途",
    "资金用途",
    "交易说明",
    "说明",
    "交易详情",
    "remark",
    "remarks",
    "narrative",
    "purpose",
    "details",
)
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
    "对方账户名",
    "对方单位名称",
    "收/付方名称",
    "收付方名称",
    "对手信息",
    "交易对手",
    "交易对手名称",
    "对方",
    "收款方",
    "收款方名称",
    "counterparty",
    "beneficiary",
)
ACCOUNT_HEADERS = (
    "account",
    "对方账号",
    "收款账号",
    "收款人账号",
    "对方账户",
    "对方帐号",
    "收/付方帐号",
    "收/付方账号",
    "收付方帐号",
    "交易对手账号",
    "对方卡号/账号",
    "收款方账号",
    "counterpartyaccount",
)
# The bank's own number for a line: never a ledger voucher.
SERIAL_HEADERS = (
    "流水号",
    "交易流水号",
    "日志号",
    "业务参考号",
    "交易参考号",
    "银行流水号",
    "交易序号",
    "serialno",
)
BALANCE_HEADERS = (
    "余额",
    "账户余额",
    "本次余额",
    "联机余额",
    "交易后余额",
    "balance",
    "runningbalance",
)
# A debit/credit flag beside a single amount column: only outflows are payments.
DIRECTION_HEADERS = (
    "借贷标志",
    "借贷方向",
    "收支标志",
    "收支方向",
    "交易方向",
    "direction",
    "dr/cr",
    "借贷",
    "借/贷",
    "收/支",
    "收支",
    "方向",
    "收支类型",
    "debit/credit",
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
    ("借方金额", "贷方金额"),
    ("支出金额", "收入金额"),
    ("支出", "收入"),
    ("转出金额", "转入金额"),
    ("取出金额", "存入金额"),
    ("付款金额", "收款金额"),
    ("出账金额", "入账金额"),
    ("借方发生额(支取)", "贷方发生额(收入)"),
    ("借方", "贷方"),
    ("debit", "credit"),
    ("withdrawal", "deposit"),
    ("withdrawals", "deposits"),
    ("moneyout", "moneyin"),
)

# Every outflow and inflow name of the pairs above, and a few more, to pair
# two columns a bank names differently (支出金额 beside 存入金额).
OUTFLOW_HEADERS = (
    *(out for out, _ in SPLIT_HEADERS),
    "支取金额",
    "支出额",
    "借方发生数",
    "付出金额",
    "转出",
    "取出",
)
INFLOW_HEADERS = (
    *(inn for _, inn in SPLIT_HEADERS),
    "存入",
    "收入额",
    "贷方发生数",
    "转入",
    "存入金额",
)
# A bilingual header's English part in brackets: 交易日期[ Transaction Date ]
_ENGLISH_SUFFIX = re.compile(r"[\[(（【][a-z0-9'’/&,()]*[\])）】]$")

_UNIT_SUFFIX = re.compile(r"\((元|人民币|人民币元|rmb|cny|¥)\)$")


@dataclass(frozen=True)
class Columns:
    """Where each field is, by 0-based column index."""

    date: int
    outflow: int
    inflow: int | None = None
    references: tuple[int, ...] = ()
    memo: int | None = None  # the first free-text column
    payee: int | None = None
    account: int | None = None
    direction: int | None = None
    names: tuple[str, ...] = ()  # the header row as found
    memos: tuple[int, ...] = ()  # every free-text column, in header order
    serial: int | None = None  # the bank's own serial number
    balance: int | None = None  # the running balance

    @property
    def width(self) -> int:
        return len(self.names)


def normalize_header(text: str) -> str:
    s = clean_cell(text).casefold()
    s = re.sub(r"[\s_.#:-]+", "", s)
    s = _UNIT_SUFFIX.sub("", s)
    if re.search(r"[^\x00-\x7f]", s):  # a Chinese name with its English beside
        s = _ENGLISH_SUFFIX.sub("", s) or s
    return s


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
        # any outflow name beside any inflow name (支出金额 beside 存入金额)
        outs = [names.index(n) for n in OUTFLOW_HEADERS if n in names]
        ins = [names.index(n) for n in INFLOW_HEADERS if n in names]
        if outs and ins:
            outflow, inflow = outs[0], ins[0]
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
    used = {date_col, outflow, inflow, *references}
    memos = tuple(i for i, n in enumerate(names) if n in MEMO_HEADERS and i not in used)
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
        memos=memos,
        serial=first(SERIAL_HEADERS),
        balance=first(BALANCE_HEADERS),
    )
