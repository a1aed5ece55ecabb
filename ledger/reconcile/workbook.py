"""The reconciliation workbook a finance officer can hand on (``--out FILE.xlsx``).

- a **cover** sheet (封面 cover): who ran it (the actor), when, on which
  statement (file name, layout, encoding, period, its SHA-256) and at which
  position of the ledger's chain (the head's seq and chain hash, to tie the
  report to a checkpoint: ``ledger audit checkpoint``);
- a **summary** (汇总 summary), then one sheet per kind of finding, the
  statement's own checks, and the budget view (``funds summary``);
- sheet names and headers in Chinese with the English slug beside
  (``金额不符 amount_mismatch``, ``凭证号 voucher``); column widths by display
  width (a Chinese character is two columns wide); an autofilter and a frozen
  header row on every sheet; a totals row (``合计 total``) under each sheet
  of findings, after a blank row; amounts are numbers, right-aligned
  ``#,##0.00``; dates are dates;
- printed landscape, fitted to the page width, the header repeated;
- a text cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage
  return is stored as text, never as a formula (formula injection).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from aggregates.values import CENT
from ledger.reconcile.findings import FINDINGS, ReconcileReport

MONEY_FORMAT = "#,##0.00"
DATE_FORMAT = "yyyy-mm-dd"
FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
TOTAL_LABEL = "合计 total"

SHEET_LABELS: dict[str, str] = {
    "cover": "封面",
    "summary": "汇总",
    "matched": "已匹配",
    "amount_mismatch": "金额不符",
    "ledger_only": "账面有对账单无",
    "statement_only": "对账单有账面无",
    "duplicates": "重复",
    "flags": "异常标记",
    "bad_lines": "无法读取的行",
    "statement_checks": "对账单核对",
    "budget": "预算执行",
}
COLUMN_LABELS: dict[str, str] = {
    "item": "项目",
    "value": "内容",
    "finding": "类别",
    "label": "名称",
    "count": "笔数",
    "voucher": "凭证号",
    "platform": "平台",
    "ledger_amount": "账面金额",
    "statement_amount": "对账单金额",
    "paid_on": "账面支付日期",
    "date": "对账单日期",
    "reference": "对账单摘要",
    "payee": "收款单位",
    "line": "行号",
    "detail": "说明",
    "where": "位置",
    "flag": "标记",
    "check": "核对项",
    "ok": "结果",
    "category": "科目",
    "fiscal_year": "年度",
    "allocated": "下达",
    "entitled": "应拨",
    "disbursed": "已拨付",
    "reversed": "已冲销",
    "recovered": "已收回",
    "net": "净拨付",
    "remaining": "余额",
    "as_of": "截至",
}
BUDGET_MONEY = frozenset(
    ("allocated", "entitled", "disbursed", "reversed", "recovered", "net", "remaining")
)
SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "matched": ("voucher", "platform", "ledger_amount", "statement_amount", "paid_on", "date",
                "reference", "payee", "line", "detail"),
    "amount_mismatch": ("voucher", "platform", "ledger_amount", "statement_amount", "paid_on",
                        "date", "line", "detail"),
    "ledger_only": ("voucher", "platform", "ledger_amount", "paid_on", "detail"),
    "statement_only": ("statement_amount", "date", "reference", "payee", "line"),
    "duplicates": ("voucher", "platform", "where", "count", "ledger_amount", "statement_amount",
                   "detail"),
    "flags": ("flag", "voucher", "platform", "ledger_amount", "statement_amount", "paid_on",
              "date", "line", "detail"),
    "bad_lines": ("line", "detail"),
}  # fmt: skip
MONEY_COLUMNS = frozenset({"ledger_amount", "statement_amount"}) | BUDGET_MONEY


def sheet_title(slug: str) -> str:
    """``金额不符 amount_mismatch``: the Chinese name, then the slug (≤ 31 characters)."""
    return f"{SHEET_LABELS[slug]} {slug}"[:31]


def column_title(slug: str) -> str:
    return f"{COLUMN_LABELS[slug]} {slug}" if slug in COLUMN_LABELS else slug


def display_width(text: str) -> int:
    """Columns a text takes on screen: two for a wide (CJK) character, else one."""
    return sum(2 if unicodedata.east_asian_width(c) in ("W", "F") else 1 for c in text)


def safe_text(text: str) -> bool:
    """True when a text cell would not be read as a formula by a spreadsheet."""
    return not text.startswith(FORMULA_LEAD)


def _shown(value: object) -> str:
    if isinstance(value, Decimal):
        return f"{value:,.2f}"
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


class _Sheet:
    """One sheet being written: typed cells, the header, widths, filter, print setup."""

    def __init__(self, ws: Any, columns: Sequence[str], bold: Any, right: Any) -> None:
        self.ws, self.columns, self.bold, self.right = ws, list(columns), bold, right
        self.row = 1
        self.put([column_title(c) for c in columns], header=True)

    def put(self, values: Sequence[object], *, header: bool = False, bold: bool = False) -> None:
        for c, value in enumerate(values, start=1):
            cell = self.ws.cell(row=self.row, column=c)
            if isinstance(value, Decimal):
                cell.value = value.quantize(CENT)
                cell.number_format = MONEY_FORMAT
                cell.alignment = self.right
            elif isinstance(value, bool):
                cell.value = "是 yes" if value else "否 no"
            elif isinstance(value, date):
                cell.value = value
                cell.number_format = DATE_FORMAT
            elif isinstance(value, str):
                cell.value = value
                cell.data_type = "s"  # never a formula, whatever it starts with
            else:
                cell.value = value
            if header or bold:
                cell.font = self.bold
        self.row += 1

    def finish(self, data_rows: int) -> None:
        from openpyxl.utils import get_column_letter

        ws = self.ws
        last = get_column_letter(max(1, len(self.columns)))
        ws.freeze_panes = "A2"
        ws.auto_filter.ref = f"A1:{last}{max(1, data_rows) + 1}"
        for i in range(1, len(self.columns) + 1):
            letter = get_column_letter(i)
            widest = max(
                (display_width(_shown(cell.value)) for (cell,) in ws.iter_rows(
                    min_col=i, max_col=i) if cell.value is not None),
                default=8,
            )  # fmt: skip
            ws.column_dimensions[letter].width = min(70, max(8, widest + 2))
        ws.page_setup.orientation = "landscape"
        ws.page_setup.fitToWidth = 1
        ws.page_setup.fitToHeight = 0
        ws.sheet_properties.pageSetUpPr.fitToPage = True
        ws.print_title_rows = "1:1"


def build_workbook(report: ReconcileReport) -> Any:
    """The workbook of a report (an openpyxl Workbook)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    from ledger.reconcile.report import rows, summary

    wb = Workbook()
    bold, right = Font(bold=True), Alignment(horizontal="right")

    def new(slug: str, columns: Sequence[str], first: bool = False) -> _Sheet:
        ws = wb.active if first else wb.create_sheet()
        ws.title = sheet_title(slug)
        return _Sheet(ws, columns, bold, right)

    cover = new("cover", ("item", "value"), first=True)
    period = report.period
    result = (
        "发现差异 discrepancies found"
        if report.has_discrepancies
        else "无差异 no discrepancies: the statement agrees"
    )
    items: list[tuple[str, str, object]] = [
        ("报告", "report", "对账报告 reconciliation of the ledger against a statement"),
        ("执行人", "actor", report.actor),
        ("生成时间", "generated_at", report.generated_at),
        ("对账单文件", "statement", report.statement),
        ("格式", "layout", report.layout),
        ("文件类型与编码", "encoding", report.encoding),
        (
            "对账期间",
            "period",
            f"{period.start.isoformat()} – {period.end.isoformat()} (from the {period.source})"
            if period is not None
            else "(not known: no --from/--to, none in the statement)",
        ),
        ("对账单哈希", "statement_sha256", report.statement_sha256),
        ("账本链位置", "chain_seq", report.chain_seq),
        ("账本链哈希", "chain_hash", report.chain_hash),
        ("年度", "fiscal_year", report.fiscal_year or "all"),
        ("日期容差（天）", "tolerance_days", report.tolerance_days),
        ("其他年度的行", "out_of_scope_lines", report.out_of_scope),
        ("收入行（非支付）", "inflow_lines", report.inflows),
        ("结论", "result", result),
    ]
    for zh, slug, value in items:
        cover.put([f"{zh} {slug}", value if value is not None else ""])
    cover.finish(len(items))

    sheet = new("summary", ("finding", "label", "count", "ledger_amount", "statement_amount"))
    lines = summary(report)
    for k, lab, n, la, sa in lines:
        sheet.put([k, lab, n, la, sa])
    sheet.finish(len(lines))

    typed_rows = rows(report)
    for kind in FINDINGS:
        columns = SHEET_COLUMNS[kind]
        sheet = new(kind, columns)
        kind_rows = [row for row in typed_rows if row["finding"] == kind]
        for row in kind_rows:
            sheet.put([row[c] for c in columns])
        _totals(sheet, columns, [[row[c] for c in columns] for row in kind_rows])
        sheet.finish(len(kind_rows))

    sheet = new("statement_checks", ("check", "ok", "detail"))
    for check in report.statement_checks:
        sheet.put([check.check, check.ok, check.detail])
    failed = sum(1 for c in report.statement_checks if not c.ok)
    sheet.row += 1
    sheet.put([TOTAL_LABEL, f"{failed} failed of {len(report.statement_checks)}"], bold=True)
    sheet.finish(len(report.statement_checks))

    if report.budget is not None:
        # the budget view: what `funds summary` answers, line by line, as of
        # the run's date (the same figures, from the same read model)
        from projections.funds import SUMMARY_COLUMNS

        columns = (*SUMMARY_COLUMNS, "as_of")
        sheet = new("budget", columns)
        values = [
            [
                *(
                    Decimal(str(line[c])) if c in BUDGET_MONEY and line[c] is not None else line[c]
                    for c in SUMMARY_COLUMNS
                ),
                report.budget_as_of,
            ]
            for line in report.budget
        ]
        for v in values:
            sheet.put(v)
        _totals(sheet, columns, values)
        sheet.finish(len(values))
    return wb


def _totals(sheet: _Sheet, columns: Sequence[str], values: Sequence[Sequence[object]]) -> None:
    """A blank row, then ``合计 total``: the count of rows and the sum of each money column."""
    sums: list[object] = []
    for i, column in enumerate(columns):
        if column in MONEY_COLUMNS:
            money_ = [v[i] for v in values]
            sums.append(sum((x for x in money_ if isinstance(x, Decimal)), Decimal(0)))
        else:
            sums.append(None)
    at = next((i for i, c in enumerate(columns) if c not in MONEY_COLUMNS), 0)
    sums[at] = f"{TOTAL_LABEL} ({len(values)})"
    sheet.row += 1
    sheet.put(sums, bold=True)
