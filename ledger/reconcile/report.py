"""Reports of a reconciliation: JSON (CLI.md's shape), CSV (one flat row per
finding), the terminal table, and the XLSX workbook; writing a report file."""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from aggregates.errors import InvalidInput
from aggregates.values import CENT
from ledger.output import spreadsheet_text, table_lines, xlsx_text
from ledger.reconcile.findings import FINDINGS, FLAG_KINDS, ReconcileReport, money

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
    "over-allocation": "超出下达额度",
    "reversed-but-paid": "已冲销但银行已支付",
    "date-out-of-tolerance": "日期超出容差",
    "reference-mismatch": "对账单凭证号与账面不符",
    "payee-mismatch": "收款单位不是依托单位",
}


# --- reports -------------------------------------------------------------------------


def to_dict(report: ReconcileReport) -> dict[str, Any]:
    """The JSON shape of CLI.md, plus ``bad_lines``."""
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
    }


def to_json(report: ReconcileReport) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2)


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
    return spreadsheet_text(str(value))


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


# the budget sheet: `funds summary`'s columns (projections.funds.SUMMARY_COLUMNS)
BUDGET_MONEY = frozenset(
    ("allocated", "entitled", "disbursed", "reversed", "recovered", "net", "remaining")
)

XLSX_MONEY_FORMAT = "#,##0.00"
XLSX_DATE_FORMAT = "yyyy-mm-dd"


def to_xlsx(report: ReconcileReport, path: str | Path) -> None:
    """A workbook: a summary sheet, then one sheet per kind of finding.

    Header rows are frozen; amounts are numbers formatted ``#,##0.00``; dates
    are dates.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    bold = Font(bold=True)
    ws = wb.active
    ws.title = "summary"

    def put_row(sheet: object, r: int, values: Sequence[object]) -> None:
        for c, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=c)  # type: ignore[attr-defined]
            if isinstance(value, Decimal):
                cell.value = value.quantize(CENT)  # stored as the exact decimal text
                cell.number_format = XLSX_MONEY_FORMAT
            elif isinstance(value, date):
                cell.value = value
                cell.number_format = XLSX_DATE_FORMAT
            else:
                cell.value = value
                xlsx_text(cell)

    def header(sheet: object, names: Sequence[str]) -> None:
        put_row(sheet, 1, names)
        for c in range(1, len(names) + 1):
            sheet.cell(row=1, column=c).font = bold  # type: ignore[attr-defined]
        sheet.freeze_panes = "A2"  # type: ignore[attr-defined]

    header(ws, ["finding", "label", "count", "ledger_amount", "statement_amount"])
    r = 2
    for k, lab, n, la, sa in summary(report):
        put_row(ws, r, [k, lab, n, la, sa])
        r += 1
    r += 1
    for name, value in (
        ("statement", report.statement or ""),
        ("encoding", report.encoding or ""),
        ("fiscal_year", report.fiscal_year if report.fiscal_year is not None else "all"),
        ("tolerance_days", report.tolerance_days),
        ("out_of_scope_lines", report.out_of_scope),
    ):
        put_row(ws, r, [name, value])
        r += 1

    typed_rows = rows(report)
    for kind in FINDINGS:
        sheet = wb.create_sheet(kind)
        kind_rows = [row for row in typed_rows if row["finding"] == kind]
        columns = _SHEET_COLUMNS[kind]
        header(sheet, columns)
        for i, row in enumerate(kind_rows, start=2):
            put_row(sheet, i, [row[c] for c in columns])
    if report.budget is not None:
        # the budget view: what `funds summary` answers, line by line, as of
        # the run's date (the same figures, from the same read model)
        from projections.funds import SUMMARY_COLUMNS

        sheet = wb.create_sheet("budget")
        header(sheet, [*SUMMARY_COLUMNS, "as_of"])
        for i, line in enumerate(report.budget, start=2):
            put_row(
                sheet,
                i,
                [
                    *(
                        Decimal(str(line[c]))
                        if c in BUDGET_MONEY and line[c] is not None
                        else line[c]
                        for c in SUMMARY_COLUMNS
                    ),
                    report.budget_as_of,
                ],
            )
    for sheet in wb.worksheets:
        for col in sheet.columns:
            letter = col[0].column_letter
            longest = max((len(str(c.value)) for c in col if c.value is not None), default=8)
            sheet.column_dimensions[letter].width = min(60, max(10, longest + 2))
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


_SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "matched": (
        "voucher",
        "platform",
        "ledger_amount",
        "statement_amount",
        "paid_on",
        "date",
        "reference",
        "payee",
        "line",
        "detail",
    ),
    "amount_mismatch": (
        "voucher",
        "platform",
        "ledger_amount",
        "statement_amount",
        "paid_on",
        "date",
        "line",
        "detail",
    ),
    "ledger_only": ("voucher", "platform", "ledger_amount", "paid_on", "detail"),
    "statement_only": ("statement_amount", "date", "reference", "payee", "line"),
    "duplicates": (
        "voucher",
        "platform",
        "where",
        "count",
        "ledger_amount",
        "statement_amount",
        "detail",
    ),
    "flags": (
        "flag",
        "voucher",
        "platform",
        "ledger_amount",
        "statement_amount",
        "paid_on",
        "date",
        "line",
        "detail",
    ),
    "bad_lines": ("line", "detail"),
}
