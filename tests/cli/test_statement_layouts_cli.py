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
    odd.write_text("凭证号,交易时间,对方单位,转入金额,转出金额,余额\n1,2026-03-05,x,,1.00,1.00\n")
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
    assert header[:4] == ["name", "bank", "description", "amount"]
    result = run(sqlite_url, "funds", "layouts")
    assert "icbc-corporate" in result.stdout and "工商银行" in result.stdout
