"""The demo's bank statement: the ledger's payments as a Chinese bank would
export them (GBK, Chinese headers, CRLF), with deliberate discrepancies for
``ledger demo`` to find."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from aggregates.values import CENT
from ledger.reconcile.source import AggregateReader, AppSource, LedgerPayment


def write_demo_statement_from_ledger(
    service: AggregateReader, path: str | Path, *, fiscal_year: int | None = None
) -> Path:
    """Write the demo statement for the payments recorded in the ledger (``ledger demo``)."""
    source = AppSource(service)
    payments = [p for p in source.payments() if fiscal_year is None or p.fiscal_year == fiscal_year]
    return write_demo_statement(path, payments, source.current_names())


# --- the demo statement ----------------------------------------------------------------

DEMO_HEADER = ("交易日期", "摘要", "对方户名", "对方账号", "借方发生额", "贷方发生额", "余额")
CATEGORY_LABELS = {
    "startup": "开办费",
    "operation": "运行费",
    "research": "研究经费",
    "subsidy": "扶持资助",
    "reward": "奖励",
    "matching": "配套资金",
}


def _grouped(value: Decimal) -> str:
    return f"{value.quantize(CENT):,.2f}"


def demo_statement_lines(
    payments: Sequence[LedgerPayment],
    unit_names: Mapping[str, str],
    *,
    account: str = "5400 1234 5678 0000 0001",
    opening_balance: Decimal = Decimal("50000000.00"),
) -> list[list[str]]:
    """The rows of a bank statement for the demo's payments, with deliberate discrepancies.

    ``unit_names`` maps a credit code to the unit's name (the payee the bank
    shows). Of the live payments, in date order: the first is paid 1,000.00
    short (amount_mismatch), the second is missing (ledger_only), the third
    is paid twice (duplicates), the fourth shows no voucher and is matched by
    payee (matched); the first reversed payment is still paid
    (reversed-but-paid flag); one payment to an unknown company
    (statement_only); one interest inflow (skipped); a preamble and a totals
    line. Vouchers sit inside the 摘要 text, as banks write them.
    """
    live = sorted((p for p in payments if not p.reversed), key=lambda p: (p.paid_on, p.voucher))
    reversed_ = sorted((p for p in payments if p.reversed), key=lambda p: (p.paid_on, p.voucher))

    def payee(p: LedgerPayment) -> str:
        return unit_names.get(p.host_unit or "", p.host_unit or "")

    def acct(p: LedgerPayment) -> str:
        digits = "".join(str(ord(c) % 10) for c in (p.host_unit or p.platform))
        return f"6217 {digits[:4]:0<4} {digits[4:8]:0<4} {digits[8:12]:0<4}"

    def memo(p: LedgerPayment) -> str:
        return f"拨付{p.platform}{CATEGORY_LABELS.get(p.category, p.category)} 凭证号{p.voucher}"

    entries: list[tuple[date, str, str, str, Decimal | None, Decimal | None]] = []
    for i, p in enumerate(live):
        if i == 1:
            continue  # missing from the statement
        amount = p.amount
        if i == 0:
            amount = p.amount - Decimal("1000.00") if p.amount > 1000 else p.amount / 2
        text = memo(p)
        when = p.paid_on
        if i == 3:
            text, when = "科技经费拨款", p.paid_on + timedelta(days=1)
        entries.append((when, text, payee(p), acct(p), amount.quantize(CENT), None))
        if i == 2:
            entries.append((when, text, payee(p), acct(p), amount, None))
    if reversed_:
        p = reversed_[0]
        entries.append((p.paid_on, memo(p), payee(p), acct(p), p.amount, None))
    last = max((e[0] for e in entries), default=date(2026, 1, 5))
    entries.append(
        (
            last,
            "设备采购款 凭证号PZ-2026-9999",
            "拉萨市雪域仪器设备有限公司",
            "6217 0000 9999 0001",
            Decimal("86400.00"),
            None,
        )
    )
    entries.append(
        (
            date(last.year, 6, 21) if last.month > 6 else last,
            "结息 利息收入",
            "-",
            "-",
            None,
            Decimal("1234.56"),
        )
    )
    entries.sort(key=lambda e: e[0])

    first = min(e[0] for e in entries)
    rows_: list[list[str]] = [
        ["西藏某银行拉萨分行 对公账户交易明细", "", "", "", "", "", ""],
        [f"账号：{account}", "", "户名：拉萨市科学技术局科技经费专户", "", "", "", ""],
        [f"起止日期：{first.isoformat()} 至 {last.isoformat()}", "", "", "", "", "", ""],
        [],
        list(DEMO_HEADER),
    ]
    balance = opening_balance
    out_total = in_total = Decimal(0)
    for when, text, who, account_no, out, inn in entries:
        balance = balance - (out or 0) + (inn or 0)
        out_total += out or 0
        in_total += inn or 0
        rows_.append(
            [
                when.strftime("%Y%m%d"),
                text,
                who,
                account_no,
                _grouped(out) if out is not None else "-",
                _grouped(inn) if inn is not None else "-",
                _grouped(balance),
            ]
        )
    rows_.append(["合计", "", "", "", _grouped(out_total), _grouped(in_total), ""])
    return rows_


def write_demo_statement(
    path: str | Path, payments: Sequence[LedgerPayment], unit_names: Mapping[str, str]
) -> Path:
    """Write the demo statement as the bank would: GBK, Chinese headers, CRLF."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(demo_statement_lines(payments, unit_names))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buf.getvalue().encode("gbk"))
    return target
