"""Reports of a reconciliation: JSON (CLI.md's shape), CSV (one flat row per
finding), the terminal table, and the XLSX workbook; writing a report file."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from aggregates.errors import InvalidInput
from ledger.output import FORMULA_START, spreadsheet_text, table_lines
from ledger.reconcile.findings import FLAG_KINDS, ReconcileReport, money

LABELS: dict[str, str] = {
    "matched": "已匹配",
    "amount_mismatch": "金额不符",
    "ledger_only": "账面有、对账单无",
    "statement_only": "对账单有、账面无",
    "duplicates": "重复",
    "flags": "异常标记",
    "bad_lines": "无法读取的行",
    "ledger": "账本",
    "statement": "对账单",
    "reference": "凭证号",
    "payee": "收款单位",
    "debarred-host": "依托单位被禁止申报",
    "blacklisted-host": "依托单位列入诚信黑名单",
    "inactive-platform": "平台不在建设期、运行期或整改期",
    "past-term": "平台建设运行期限已满",
    "over-allocation": "超出下达额度",
    "reversed-but-paid": "已冲销但银行已支付",
    "date-out-of-tolerance": "日期超出容差",
    "reference-mismatch": "对账单凭证号与账面不符",
    "payee-mismatch": "收款单位不是依托单位",
    "statement_checks": "对账单自身核对",
    "total": "合计核对",
    "balance": "余额核对",
    "period": "对账期间",
}


# --- reports -------------------------------------------------------------------------


def to_dict(report: ReconcileReport) -> dict[str, Any]:
    """The JSON shape of CLI.md (``statement_checks``, ``layout``, ``period``
    included), plus ``bad_lines``."""
    return {
        "matched": report.matched,
        "amount_mismatch": [
            {
                "voucher": x.voucher,
                "platform": x.platform,
                "ledger_amount": money(x.ledger_amount),
                "statement_amount": money(x.statement_amount),
            }
            for x in report.amount_mismatch
        ],
        "ledger_only": [
            {
                "voucher": x.voucher,
                "platform": x.platform,
                "amount": money(x.amount),
                "paid_on": x.paid_on.isoformat(),
            }
            for x in report.ledger_only
        ],
        "statement_only": [
            {
                "reference": x.reference,
                "payee": x.payee,
                "amount": money(x.amount),
                "date": x.date.isoformat(),
                "line": x.line,
            }
            for x in report.statement_only
        ],
        "duplicates": [
            {"voucher": x.voucher, "where": x.where, "count": x.count} for x in report.duplicates
        ],
        "flags": [
            {"voucher": x.voucher, "platform": x.platform, "flag": x.flag, "detail": x.detail}
            for x in report.flags
        ],
        "bad_lines": [{"line": b.line, "reason": b.reason} for b in report.bad_lines],
        "statement_checks": [
            {"check": c.check, "ok": c.ok, "detail": c.detail} for c in report.statement_checks
        ],
        "layout": report.layout,
        "period": (
            {"from": report.period.start.isoformat(), "to": report.period.end.isoformat()}
            if report.period is not None
            else None
        ),
    }


def to_json(report: ReconcileReport) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2)


# a cell a spreadsheet would take for a formula (CSV injection): written as text
FORMULA_LEAD = FORMULA_START

CSV_COLUMNS = (
    "finding",
    "flag",
    "voucher",
    "platform",
    "where",
    "count",
    "ledger_amount",
    "statement_amount",
    "paid_on",
    "date",
    "reference",
    "payee",
    "line",
    "detail",
)


def rows(report: ReconcileReport) -> list[dict[str, str | int | Decimal | date | None]]:
    """One flat row per finding (matched payments included), typed values."""
    out: list[dict[str, str | int | Decimal | date | None]] = []

    def add(**values: str | int | Decimal | date | None) -> None:
        out.append({c: values.get(c) for c in CSV_COLUMNS})

    for m in report.matches:
        add(
            finding="matched",
            voucher=m.payment.voucher,
            platform=m.payment.platform,
            ledger_amount=m.payment.amount,
            statement_amount=m.line.amount,
            paid_on=m.payment.paid_on,
            date=m.line.date,
            reference=m.line.reference,
            payee=m.line.payee,
            line=m.line.line,
            detail=f"by {m.by}",
        )
    for a in report.amount_mismatch:
        add(
            finding="amount_mismatch",
            voucher=a.voucher,
            platform=a.platform,
            ledger_amount=a.ledger_amount,
            statement_amount=a.statement_amount,
            paid_on=a.paid_on,
            date=a.date,
            line=a.line,
            detail=f"statement − ledger = {money(a.statement_amount - a.ledger_amount)}",
        )
    for lo in report.ledger_only:
        add(
            finding="ledger_only",
            voucher=lo.voucher,
            platform=lo.platform,
            ledger_amount=lo.amount,
            paid_on=lo.paid_on,
            detail=f"{lo.category} {lo.fiscal_year}",
        )
    for so in report.statement_only:
        add(
            finding="statement_only",
            statement_amount=so.amount,
            date=so.date,
            reference=so.reference,
            payee=so.payee,
            line=so.line,
        )
    for d in report.duplicates:
        add(
            finding="duplicates",
            voucher=d.voucher,
            platform=d.platform,
            where=d.where,
            count=d.count,
            ledger_amount=d.amount if d.where == "ledger" else None,
            statement_amount=d.amount if d.where == "statement" else None,
            detail=("lines " + ", ".join(map(str, d.lines))) if d.lines else None,
        )
    for f in report.flags:
        add(
            finding="flags",
            flag=f.flag,
            voucher=f.voucher,
            platform=f.platform,
            ledger_amount=f.ledger_amount,
            statement_amount=f.statement_amount,
            paid_on=f.paid_on,
            date=f.date,
            line=f.line,
            detail=f.detail,
        )
    for b in report.bad_lines:
        add(finding="bad_lines", line=b.line, detail=b.reason)
    return out


def _csv_value(value: str | int | Decimal | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, date):
        return value.isoformat()
    # shown as text by a spreadsheet, never run as a formula (ledger.output)
    return spreadsheet_text(value) if isinstance(value, str) else str(value)


def to_csv(report: ReconcileReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows(report):
        writer.writerow([_csv_value(row[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def summary(report: ReconcileReport) -> list[tuple[str, str, int, Decimal | None, Decimal | None]]:
    """(finding, label, count, ledger amount, statement amount) per kind and per flag."""
    zero = Decimal(0)
    out: list[tuple[str, str, int, Decimal | None, Decimal | None]] = [
        (
            "matched",
            LABELS["matched"],
            report.matched,
            sum((m.payment.amount for m in report.matches), zero),
            sum((m.line.amount for m in report.matches), zero),
        ),
        (
            "amount_mismatch",
            LABELS["amount_mismatch"],
            len(report.amount_mismatch),
            sum((a.ledger_amount for a in report.amount_mismatch), zero),
            sum((a.statement_amount for a in report.amount_mismatch), zero),
        ),
        (
            "ledger_only",
            LABELS["ledger_only"],
            len(report.ledger_only),
            sum((x.amount for x in report.ledger_only), zero),
            None,
        ),
        (
            "statement_only",
            LABELS["statement_only"],
            len(report.statement_only),
            None,
            sum((x.amount for x in report.statement_only), zero),
        ),
        (
            "duplicates",
            LABELS["duplicates"],
            len(report.duplicates),
            sum((d.amount for d in report.duplicates if d.where == "ledger"), zero),
            sum((d.amount for d in report.duplicates if d.where == "statement"), zero),
        ),
    ]
    for kind in FLAG_KINDS:
        flagged = [f for f in report.flags if f.flag == kind]
        shown = [f.statement_amount for f in flagged if f.statement_amount is not None]
        out.append(
            (
                f"flags: {kind}",
                LABELS[kind],
                len(flagged),
                sum((f.ledger_amount for f in flagged), zero),
                sum(shown, zero) if shown else None,
            )
        )
    out.append(("bad_lines", LABELS["bad_lines"], len(report.bad_lines), None, None))
    return out


def to_table(report: ReconcileReport) -> str:
    """A terminal report: summary first, then each non-empty kind of finding."""

    def label(slug: str) -> str:
        return f"{slug} {LABELS[slug]}" if slug in LABELS else slug

    out: list[str] = []
    head = f"reconcile {report.statement or 'statement'}"
    if report.encoding:
        head += f" ({report.encoding})"
    head += f" · fiscal year {report.fiscal_year or 'all'} · tolerance {report.tolerance_days} days"
    if report.layout:
        head += f" · layout {report.layout}"
    if report.period is not None:
        head += f" · period {report.period.start} to {report.period.end}"
    out += [head, ""]
    body = [
        [
            f"{k} {lab}",
            str(n),
            money(la) if la is not None else "",
            money(sa) if sa is not None else "",
        ]
        for k, lab, n, la, sa in summary(report)
        if n or not k.startswith("flags:")
    ]
    out += table_lines(
        ["finding 类别", "count 笔数", "ledger 账面金额", "statement 对账单金额"], body
    )
    if report.out_of_scope:
        out.append(f"({report.out_of_scope} statement line(s) paid other fiscal years' payments)")
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "amount_mismatch",
            ["voucher", "platform", "ledger_amount", "statement_amount", "line"],
            [
                [
                    a.voucher,
                    a.platform,
                    money(a.ledger_amount),
                    money(a.statement_amount),
                    str(a.line),
                ]
                for a in report.amount_mismatch
            ],
        ),
        (
            "ledger_only",
            ["voucher", "platform", "amount", "paid_on"],
            [
                [x.voucher, x.platform, money(x.amount), x.paid_on.isoformat()]
                for x in report.ledger_only
            ],
        ),
        (
            "statement_only",
            ["line", "date", "amount", "reference", "payee"],
            [
                [str(x.line), x.date.isoformat(), money(x.amount), x.reference or "", x.payee or ""]
                for x in report.statement_only
            ],
        ),
        (
            "duplicates",
            ["voucher", "where", "count"],
            [[d.voucher, label(d.where), str(d.count)] for d in report.duplicates],
        ),
        (
            "flags",
            ["voucher", "platform", "flag", "detail"],
            [[f.voucher, f.platform, label(f.flag), f.detail] for f in report.flags],
        ),
        (
            "bad_lines",
            ["line", "reason"],
            [[str(b.line), b.reason] for b in report.bad_lines],
        ),
        (
            "statement_checks",
            ["check", "ok", "detail"],
            [
                [label(c.check), "ok" if c.ok else "FAILED", c.detail]
                for c in report.statement_checks
            ],
        ),
    ]
    for slug, headers, body in sections:
        if body:
            out += ["", f"{label(slug)} ({len(body)})"]
            out += table_lines(headers, body)
    out.append("")
    out.append(
        "discrepancies found"
        if report.has_discrepancies
        else "no discrepancies: the statement agrees"
    )
    return "\n".join(out)


def to_xlsx(report: ReconcileReport, path: str | Path) -> None:
    """The workbook (:mod:`ledger.reconcile.workbook`): a cover, a summary, one
    sheet per kind of finding, the statement's checks and the budget view."""
    from ledger.reconcile.workbook import build_workbook

    wb = build_workbook(report)
    _write_atomically(path, wb.save)


def check_out_path(path: str | Path) -> None:
    """Refuse, as invalid input (exit 2), a report file that cannot be written:
    its directory does not exist or is not writable, or it is a directory."""
    target = Path(path)
    parent = target.parent
    reason = None
    if target.is_dir():
        reason = "it is a directory"
    elif not parent.exists():
        reason = f"directory {parent} does not exist"
    elif not parent.is_dir():
        reason = f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        reason = f"directory {parent} is not writable"
    elif target.exists() and not os.access(target, os.W_OK):
        reason = "the file is not writable"
    if reason is not None:
        raise InvalidInput(f"cannot write report {path}: {reason}")


def _write_atomically(path: str | Path, write: Callable[[str], object]) -> None:
    """Write through a temporary file beside ``path``, then rename it into place:
    a failure leaves nothing behind. OSError is invalid input (exit 2)."""
    check_out_path(path)
    target = Path(path)
    tmp: Path | None = None
    try:
        for attempt in range(100):
            candidate = target.with_name(f".{target.name}.{os.getpid()}.{attempt}.tmp")
            try:
                # created as open() would (the umask applies), and never over another file
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:  # pragma: no cover - a hundred stale temporary files
            raise InvalidInput(f"cannot write report {path}: no free temporary file name")
        write(str(tmp))
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise InvalidInput(f"cannot write report {path}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_report(report: ReconcileReport, path: str | Path) -> Path:
    """Write the report to ``path``: ``.xlsx`` a workbook, ``.csv`` the flat table
    (UTF-8 with BOM, so Excel opens it). Nothing is written if it fails."""
    kind = Path(path).suffix.lower()
    if kind == ".xlsx":
        to_xlsx(report, path)
    elif kind == ".csv":
        text = to_csv(report)

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                fh.write(text)

        _write_atomically(path, write)
    else:
        raise InvalidInput(f"invalid report file {path}: expected a .csv or .xlsx file name")
    return Path(path)
