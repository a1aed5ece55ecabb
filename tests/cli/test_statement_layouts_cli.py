"""`ledger funds reconcile` on real bank layouts and `ledger funds layouts`,
through the CLI on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from click.testing import CliRunner, Result

from cli import main
from tests.statement_ledger import (
    FIXTURES,
    build_statement_ledger,
    clean_statement,
    findings,
)


def run(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, list(args), env={"LEDGER_DB": url})


def reconcile_json(url: str, statement: Path, *args: str) -> dict[str, object]:
    result = run(url, "funds", "reconcile", "--statement", str(statement), "--format", "json",
                 *args)  # fmt: skip
    assert result.exit_code == 0, result.output
    data: dict[str, object] = json.loads(result.stdout)
    return data


def test_bank_layouts_give_the_findings_of_a_clean_statement(db_url: str, tmp_path: Path) -> None:
    # given a ledger of three March payments and a clean statement of them
    build_statement_ledger(db_url)
    clean_path = tmp_path / "clean.csv"
    clean_path.write_text(clean_statement(), encoding="utf-8")
    clean = reconcile_json(db_url, clean_path)
    assert clean["matched"] == 3 and clean["layout"] == "generic-en" and clean["period"] is None
    # when the banks' own exports are reconciled (XLS with a period in its name, GBK CSV)
    ccb = reconcile_json(db_url, FIXTURES / "交易明细_1546_20260301_20260331.xls")
    cmb = reconcile_json(db_url, FIXTURES / "cmb-yiwangtong.csv")
    icbc = reconcile_json(db_url, FIXTURES / "icbc-corporate.xlsx", "--layout", "icbc-corporate")
    # then the findings are the same, with the layout, the period and the checks
    for data, layout in ((ccb, "ccb-personal"), (cmb, "cmb-yiwangtong"), (icbc, "icbc-corporate")):
        assert findings(data) == findings(clean)
        assert data["layout"] == layout
    assert ccb["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    checks = {c["check"]: c for c in cmb["statement_checks"]}  # type: ignore[attr-defined]
    assert set(checks) == {"total", "balance", "period"}
    assert all(c["ok"] for c in checks.values())
    # and --from/--to give the period
    april = reconcile_json(db_url, clean_path, "--from", "2026-03-10", "--to", "2026-03-31")
    assert april["period"] == {"from": "2026-03-10", "to": "2026-03-31"}
    assert [c["ok"] for c in april["statement_checks"]] == [False]  # type: ignore[attr-defined]


def test_a_broken_balance_fails_on_discrepancy(db_url: str, tmp_path: Path) -> None:
    build_statement_ledger(db_url)
    text = (FIXTURES / "cmb-yiwangtong.csv").read_bytes().decode("gbk")
    path = tmp_path / "cmb.csv"
    path.write_bytes(text.replace("380000.00", "390000.00").encode("gbk"))
    result = run(db_url, "funds", "reconcile", "--statement", str(path), "--fail-on-discrepancy")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[-1].startswith("error: discrepancies found")
    assert "statement check balance failed" in result.stderr.splitlines()[-1]
    assert "balance" in result.stdout and "line 10 shows 390,000.00" in result.stdout


def test_bad_statements_and_layouts_are_one_line_exit_2(sqlite_url: str, tmp_path: Path) -> None:
    build_statement_ledger(sqlite_url)
    pdf = tmp_path / "statement.pdf"
    pdf.write_bytes(b"%PDF-1.7\n")
    odd = tmp_path / "odd.csv"
    odd.write_text("凭证号,交易时刻,对方单位,转入额,转出额,余额\n1,2026-03-05,x,,1.00,1.00\n")
    for args, message in (
        (["--statement", str(pdf)], "is a PDF"),
        (["--statement", str(odd)], "closest is 'icbc-corporate'"),
        (["--statement", str(odd), "--layout", "no-such"], "no layout named 'no-such'"),
        (["--statement", str(odd), "--layout", "cmb-app"], "does not fit layout 'cmb-app'"),
        (["--statement", str(odd), "--from", "2026-04-01", "--to", "2026-03-01"], "is after"),
    ):
        result = run(sqlite_url, "funds", "reconcile", *args)
        assert result.exit_code == 2, (args, result.output)
        assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_a_users_own_layout_file(sqlite_url: str, tmp_path: Path) -> None:
    build_statement_ledger(sqlite_url)
    layout = tmp_path / "my-bank.toml"
    layout.write_text(
        'name = "my-bank"\nbank = "某农商银行"\ndescription = "d"\nsource = "ours"\n'
        'formats = ["csv"]\nheader = ["日子", "钱", "说明"]\ndate_formats = ["%d.%m.%Y"]\n'
        '[columns]\ndate = "日子"\nmemo = ["说明"]\n[amount]\nmode = "signed"\ncolumn = "钱"\n',
        encoding="utf-8",
    )
    statement = tmp_path / "mine.csv"
    statement.write_text(
        "日子,钱,说明\n05.03.2026,-500000.00,V2026-0001\n12.03.2026,-120000.00,V2026-0002\n"
        "28.03.2026,-35000.50,V2026-0003\n21.03.2026,1234.56,利息\n",
        encoding="utf-8",
    )
    data = reconcile_json(sqlite_url, statement, "--layout", str(layout))
    assert data["layout"] == "my-bank" and data["matched"] == 3
    assert data["statement_only"] == [] and data["ledger_only"] == []


def test_funds_layouts_lists_them(sqlite_url: str) -> None:
    result = run(sqlite_url, "funds", "layouts", "--format", "json")
    assert result.exit_code == 0, result.output
    rows = json.loads(result.stdout)
    by_name = {r["name"]: r for r in rows}
    assert len(rows) >= 17 and "treasury-zero-balance" in by_name
    assert by_name["cmb-app"]["amount_mode"] == "signed"
    assert by_name["treasury-zero-balance"]["source"].startswith("constructed")
    result = run(sqlite_url, "funds", "layouts", "--format", "csv")
    header = next(csv.reader(io.StringIO(result.stdout)))
    assert header[:5] == ["name", "bank", "description", "amount_mode", "amount"]
    result = run(sqlite_url, "funds", "layouts")
    assert "icbc-corporate" in result.stdout and "工商银行" in result.stdout


def test_the_workbook_a_finance_officer_can_hand_on(db_url: str, tmp_path: Path) -> None:
    import hashlib

    from openpyxl import load_workbook

    from ledger.reconcile.source import chain_head
    from ledger.reconcile.workbook import display_width
    from tests.workbook_view import data_rows, header, sheet, sheet_slugs

    build_statement_ledger(db_url)
    # given the CCB export plus a line whose payee would be a formula in a spreadsheet
    statement = tmp_path / "交易明细_1546_20260301_20260331.csv"
    statement.write_text(
        clean_statement() + '2026-03-30,PZ-X,"=HYPERLINK(""http://x"")",10.00,\n', encoding="utf-8"
    )
    out = tmp_path / "对账-2026-03.xlsx"
    result = CliRunner().invoke(
        main,
        ["funds", "reconcile", "--statement", str(statement), "--out", str(out)],
        env={"LEDGER_DB": db_url, "LEDGER_ACTOR": "财务科 卓玛"},
    )
    assert result.exit_code == 0, result.output
    wb = load_workbook(out)
    # sheets: Chinese names with the slug beside, the cover first
    assert sheet_slugs(wb)[:3] == ["cover", "summary", "matched"]
    assert wb.sheetnames[0] == "封面 cover" and "金额不符 amount_mismatch" in wb.sheetnames
    assert {"statement_checks", "budget"} <= set(sheet_slugs(wb))
    # the cover says who, when, which statement and where the ledger's chain stood
    cover = {row[0].rsplit(" ", 1)[-1]: row[1] for row in data_rows(sheet(wb, "cover"))}
    assert cover["actor"] == "财务科 卓玛"
    assert cover["generated_at"].endswith("Z")
    assert cover["statement"] == str(statement) and cover["layout"] == "generic-en"
    assert cover["encoding"] == "utf-8"
    assert cover["period"].startswith("2026-03-01 – 2026-03-31")  # from the file name
    assert cover["statement_sha256"] == hashlib.sha256(statement.read_bytes()).hexdigest()
    seq, chain_hash = chain_head(db_url)
    assert (cover["chain_seq"], cover["chain_hash"]) == (seq, chain_hash) and seq > 0
    # the same head as the audit export's last event
    export = tmp_path / "ledger.jsonl"
    assert run(db_url, "audit", "export", "--out", str(export)).exit_code == 0
    last = json.loads(export.read_text(encoding="utf-8").splitlines()[-1])
    assert (last["seq"], last["chain_hash"]) == (seq, chain_hash)
    for ws in wb.worksheets:
        # headers in Chinese with the slug, a frozen header, a filter, printed landscape
        first = ws.cell(row=1, column=1).value
        assert " " in first and first.split(" ")[0] != first.split(" ")[1]
        assert ws.freeze_panes == "A2"
        assert ws.auto_filter.ref and ws.auto_filter.ref.startswith("A1:")
        assert ws.page_setup.orientation == "landscape"
        assert ws.page_setup.fitToWidth == 1 and ws.sheet_properties.pageSetUpPr.fitToPage
        # columns as wide as their widest text on screen (a Chinese character is two)
        for (cell,) in ws.iter_rows(min_col=1, max_col=1):
            if cell.value is not None and not isinstance(cell.value, int | float):
                shown = display_width(str(cell.value))
                assert ws.column_dimensions["A"].width >= min(70, shown + 2)
    matched = sheet(wb, "matched")
    assert header(matched)[:3] == ["voucher", "platform", "ledger_amount"]
    assert matched.cell(row=1, column=1).value == "凭证号 voucher"
    assert len(data_rows(matched)) == 3
    # a totals row after a blank row, amounts right-aligned #,##0.00
    total = matched.cell(row=6, column=1)
    assert total.value == "合计 total (3)"
    amount = matched.cell(row=6, column=3)
    assert float(amount.value) == 655000.50
    assert amount.number_format == "#,##0.00" and amount.alignment.horizontal == "right"
    assert matched.cell(row=2, column=3).alignment.horizontal == "right"
    # the formula-like payee is text, never a formula
    only = sheet(wb, "statement_only")
    payee = only.cell(row=2, column=header(only).index("payee") + 1)
    assert payee.value == '=HYPERLINK("http://x")' and payee.data_type == "s"
    # the statement's own checks are in the workbook
    checks = sheet(wb, "statement_checks")
    assert [r[0] for r in data_rows(checks)] == ["period"]
    # and in a CSV report the same cell is guarded as text
    out_csv = tmp_path / "r.csv"
    result = CliRunner().invoke(
        main,
        ["funds", "reconcile", "--statement", str(statement), "--out", str(out_csv)],
        env={"LEDGER_DB": db_url},
    )
    assert result.exit_code == 0
    text = out_csv.read_text(encoding="utf-8-sig")
    assert "'=HYPERLINK" in text and ",=HYPERLINK" not in text
