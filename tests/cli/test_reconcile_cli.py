"""`ledger funds reconcile` end to end: CliRunner on SQLite and PostgreSQL, and a
real subprocess where exit codes and stderr matter."""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from openpyxl import load_workbook

from cli import main
from tests.reconcile_scenario import UNI, build_ledger, check, cli, expected, gbk_statement
from tests.workbook_view import data_rows, sheet
from tests.workbook_view import header as header_of


def reconcile(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["funds", "reconcile", *args], env={"LEDGER_DB": url})


@pytest.fixture
def statement(tmp_path: Path) -> tuple[Path, int, int]:
    raw, only_line, bad_line = gbk_statement()
    path = tmp_path / "对账单-2026.csv"
    path.write_bytes(raw)
    return path, only_line, bad_line


def test_json_findings_and_bad_lines_on_stderr(
    db_url: str, statement: tuple[Path, int, int]
) -> None:
    # given the scenario ledger and a GBK bank statement
    build_ledger(db_url)
    path, only_line, bad_line = statement
    # when reconciled as JSON
    result = reconcile(db_url, "--statement", str(path), "--format", "json")
    # then stdout is exactly CLI.md's JSON, the bad line is on stderr, and it succeeds
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    check(data, expected(only_line))
    assert f"line {bad_line}: no such date" in result.stderr
    # and --fiscal-year narrows the ledger side
    result = reconcile(
        db_url, "--statement", str(path), "--format", "json", "--fiscal-year", "2026"
    )
    check(json.loads(result.stdout), expected(only_line, 2026))


def test_fail_on_discrepancy_exits_1(db_url: str, statement: tuple[Path, int, int]) -> None:
    build_ledger(db_url)
    result = reconcile(db_url, "--statement", str(statement[0]), "--fail-on-discrepancy")
    assert result.exit_code == 1
    assert "error: discrepancies found" in result.stderr
    assert "amount_mismatch 金额不符" in result.stdout  # the report is still printed


def one_payment_ledger(db_url: str) -> None:
    """A ledger with one payment: PZ-2026-0001, 200,000.00 on 2026-03-15 to 西藏农牧学院."""
    cli(db_url, "init")
    cli(
        db_url,
        "unit",
        "register",
        UNI,
        "--name",
        "西藏农牧学院",
        "--type",
        "university",
        "--on",
        "2025-01-01",
    )
    cli(
        db_url,
        "platform",
        "propose",
        "LS-KL-001",
        "--name",
        "实验室",
        "--kind",
        "key-laboratory",
        "--level",
        "city",
        "--host",
        UNI,
        "--on",
        "2025-02-01",
    )
    cli(db_url, "platform", "approve", "LS-KL-001", "--doc-no", "A1", "--on", "2025-03-01")
    cli(
        db_url,
        "funds",
        "allocate",
        "LS-KL-001",
        "--category",
        "operation",
        "--amount",
        "500000",
        "--fiscal-year",
        "2026",
        "--doc-no",
        "F1",
        "--on",
        "2026-01-05",
    )
    cli(
        db_url,
        "funds",
        "disburse",
        "LS-KL-001",
        "--category",
        "operation",
        "--amount",
        "200000",
        "--fiscal-year",
        "2026",
        "--voucher",
        "PZ-2026-0001",
        "--on",
        "2026-03-15",
    )


def test_a_clean_statement_passes_fail_on_discrepancy(db_url: str, tmp_path: Path) -> None:
    # given one payment and a statement (UTF-8, English) that shows it, with tolerance 0
    one_payment_ledger(db_url)
    path = tmp_path / "s.csv"
    # (the payee is the host's name: an unknown payee would be flagged payee-mismatch)
    path.write_text(
        'date,reference,payee,amount\n2026-03-15,PZ-2026-0001,西藏农牧学院,"200,000.00"\n',
        encoding="utf-8",
    )
    # when reconciled with --fail-on-discrepancy
    result = reconcile(
        db_url, "--statement", str(path), "--tolerance-days", "0", "--fail-on-discrepancy"
    )
    # then it succeeds and says so
    assert result.exit_code == 0, result.output
    assert "no discrepancies" in result.stdout
    assert result.stderr == ""


def test_out_xlsx_and_csv(db_url: str, statement: tuple[Path, int, int], tmp_path: Path) -> None:
    build_ledger(db_url)
    path = statement[0]
    data = json.loads(reconcile(db_url, "--statement", str(path), "--format", "json").stdout)
    # an xlsx workbook reads back with the same figures
    xlsx = tmp_path / "reconcile.xlsx"
    assert reconcile(db_url, "--statement", str(path), "--out", str(xlsx)).exit_code == 0
    wb = load_workbook(xlsx)
    summary = {r[0]: r for r in data_rows(sheet(wb, "summary")) if r[0]}
    assert summary["matched"][2] == data["matched"]
    assert summary["amount_mismatch"][2] == len(data["amount_mismatch"])
    assert Decimal(str(summary["amount_mismatch"][4])) == sum(
        Decimal(x["statement_amount"]) for x in data["amount_mismatch"]
    )
    assert Decimal(str(summary["ledger_only"][3])) == Decimal("100000")
    assert summary["flags: over-allocation"][2] == 1
    am = sheet(wb, "amount_mismatch")
    header = header_of(am)
    got = [dict(zip(header, r, strict=True)) for r in data_rows(am)]
    assert [(g["voucher"], Decimal(str(g["statement_amount"]))) for g in got] == [
        (x["voucher"], Decimal(x["statement_amount"])) for x in data["amount_mismatch"]
    ]
    assert am.freeze_panes == "A2"
    # the budget view: the figures of `funds summary`, line by line
    budget = sheet(wb, "budget")
    assert budget.freeze_panes == "A2"
    names = header_of(budget)
    lines = [dict(zip(names, r, strict=True)) for r in data_rows(budget)]
    summary_json = json.loads(
        CliRunner()
        .invoke(main, ["funds", "summary", "--format", "json"], env={"LEDGER_DB": db_url})
        .stdout
    )
    assert lines and len(lines) == len(summary_json)
    money = ("allocated", "disbursed", "reversed", "recovered", "net", "remaining")
    for got_line, want in zip(lines, summary_json, strict=True):
        assert (got_line["platform"], got_line["category"], got_line["fiscal_year"]) == (
            want["platform"],
            want["category"],
            want["fiscal_year"],
        )
        for m in money:
            assert Decimal(str(got_line[m])).quantize(Decimal("0.01")) == Decimal(want[m]), m
        assert budget.cell(row=2, column=names.index("net") + 1).number_format == "#,##0.00"
    # a csv file is one flat table, one row per finding
    out_csv = tmp_path / "reconcile.csv"
    assert reconcile(db_url, "--statement", str(path), "--out", str(out_csv)).exit_code == 0
    rows = list(csv.DictReader(io.StringIO(out_csv.read_text(encoding="utf-8-sig"))))
    kinds = [r["finding"] for r in rows]
    assert kinds.count("matched") == 7
    assert kinds.count("flags") == 6
    assert kinds.count("statement_only") == 1
    # --format csv prints the same table
    printed = reconcile(db_url, "--statement", str(path), "--format", "csv").stdout
    assert printed == out_csv.read_text(encoding="utf-8-sig")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--out", "report.pdf"], "invalid --out"),
        (["--tolerance-days", "-1"], "invalid --tolerance-days"),
        (["--fiscal-year", "1800"], "invalid fiscal year"),
    ],
)
def test_bad_usage_exits_2(
    sqlite_url: str, statement: tuple[Path, int, int], args: list[str], message: str
) -> None:
    cli(sqlite_url, "init")
    result = reconcile(sqlite_url, "--statement", str(statement[0]), *args)
    assert result.exit_code == 2
    assert message in result.stderr


def test_unreadable_statement_exits_2(sqlite_url: str, tmp_path: Path) -> None:
    cli(sqlite_url, "init")
    missing = reconcile(sqlite_url, "--statement", str(tmp_path / "nope.csv"))
    assert missing.exit_code == 2 and "cannot read statement" in missing.stderr
    headerless = tmp_path / "x.csv"
    headerless.write_text("a,b\n1,2\n")
    result = reconcile(sqlite_url, "--statement", str(headerless))
    assert result.exit_code == 2 and "no header row" in result.stderr


def test_subprocess_piped_output_has_no_progress(
    sqlite_url: str, statement: tuple[Path, int, int]
) -> None:
    build_ledger(sqlite_url)
    path, only_line, bad_line = statement
    env = {**os.environ, "LEDGER_DB": sqlite_url}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "cli",
            "funds",
            "reconcile",
            "--statement",
            str(path),
            "--format",
            "json",
            "--fail-on-discrepancy",
        ],
        capture_output=True,
        env=env,
        timeout=120,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert proc.returncode == 1
    check(json.loads(proc.stdout.decode("utf-8")), expected(only_line))
    stderr = proc.stderr.decode("utf-8").splitlines()
    assert stderr[0].startswith(f"line {bad_line}: ")
    assert stderr[-1].startswith("error: discrepancies found")
    assert len(stderr) == 2  # no progress when stderr is not a terminal


# --- messy statements, wrong references, unwritable reports -------------------------------


def test_balance_lines_and_spaced_totals_pass_fail_on_discrepancy(
    db_url: str, tmp_path: Path
) -> None:
    # given a real-looking export: opening balance, carried-forward lines, spaced totals
    one_payment_ledger(db_url)
    text = (
        "交易日期,摘要,凭证号,对方户名,借方发生额,贷方发生额,余额\r\n"
        '期初余额,,,,,,"1,000,000.00"\r\n'
        '2026-03-15,运行费,PZ-2026-0001,西藏农牧学院,"200,000.00",-,"800,000.00"\r\n'
        '2026-03-31,过次页,,,"200,000.00",0.00,"800,000.00"\r\n'
        '承前页,,,,"200,000.00",0.00,"800,000.00"\r\n'
        '合　　计,,,,"200,000.00",0.00,\r\n'
        "合计笔数：1,,,,,,\r\n"
        '期末余额,,,,,,"800,000.00"\r\n'
    )
    path = tmp_path / "s.csv"
    path.write_bytes(text.encode("gbk"))
    # when reconciled with --fail-on-discrepancy
    result = reconcile(db_url, "--statement", str(path), "--fail-on-discrepancy")
    # then nothing is a bad line and it passes
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    assert "no discrepancies" in result.stdout


def test_a_bad_line_after_a_subtotal_fails_fail_on_discrepancy(
    sqlite_url: str, tmp_path: Path
) -> None:
    one_payment_ledger(sqlite_url)
    text = (
        "交易日期,凭证号,对方户名,金额\r\n"
        '2026-03-15,PZ-2026-0001,西藏农牧学院,"200,000.00"\r\n'
        '本页小计,,,"200,000.00"\r\n'
        '2026-03-16,PZ-2026-0002,西藏农牧学院,"5,00.00"\r\n'
    )
    path = tmp_path / "s.csv"
    path.write_bytes(text.encode("gbk"))
    result = reconcile(sqlite_url, "--statement", str(path), "--fail-on-discrepancy")
    assert result.exit_code == 1
    assert result.stderr.splitlines()[0].startswith("line 4: ")
    assert "bad_lines" in result.stderr


def test_an_oversized_cell_is_a_bad_line_not_a_crash(sqlite_url: str, tmp_path: Path) -> None:
    one_payment_ledger(sqlite_url)
    huge = "备注" * 70_000  # 140,000 characters
    text = (
        "date,reference,payee,memo,amount\n"
        f'2026-03-14,PZ-X,西藏农牧学院,{huge},"1.00"\n'
        '2026-03-15,PZ-2026-0001,西藏农牧学院,运行费,"200,000.00"\n'
    )
    path = tmp_path / "s.csv"
    path.write_text(text, encoding="utf-8")
    result = reconcile(sqlite_url, "--statement", str(path), "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["matched"] == 1
    assert [b["line"] for b in data["bad_lines"]] == [2]
    assert result.stderr.startswith("line 2: ") and "131,072" in result.stderr


def test_a_wrong_voucher_in_the_memo_fails_fail_on_discrepancy(db_url: str, tmp_path: Path) -> None:
    # given the payment shown with payee, amount and date right, but another voucher in 摘要
    one_payment_ledger(db_url)
    path = tmp_path / "s.csv"
    text = "交易日期,摘要,收款单位,金额\r\n"
    text += '2026-03-15,运行费 PZ-WRONG-77,西藏农牧学院,"200,000.00"\r\n'
    path.write_bytes(text.encode("gbk"))
    # when reconciled
    result = reconcile(
        db_url, "--statement", str(path), "--format", "json", "--fail-on-discrepancy"
    )
    # then it is paired by payee, flagged, and the run fails
    assert result.exit_code == 1
    data = json.loads(result.stdout)
    assert data["matched"] == 1 and data["ledger_only"] == [] and data["statement_only"] == []
    assert [(f["voucher"], f["flag"]) for f in data["flags"]] == [
        ("PZ-2026-0001", "reference-mismatch")
    ]
    assert "PZ-WRONG-77" in data["flags"][0]["detail"]
    assert "reference-mismatch" in result.stderr


@pytest.mark.parametrize("name", ["x.xlsx", "x.csv"])
def test_out_into_a_missing_directory_exits_2_and_writes_nothing(
    db_url: str, tmp_path: Path, name: str
) -> None:
    one_payment_ledger(db_url)
    path = tmp_path / "s.csv"
    path.write_text(
        'date,reference,payee,amount\n2026-03-15,PZ-2026-0001,西藏农牧学院,"200,000.00"\n',
        encoding="utf-8",
    )
    out = tmp_path / "nonexistent" / "dir" / name
    result = reconcile(db_url, "--statement", str(path), "--out", str(out))
    assert result.exit_code == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert str(out) in lines[0] and "does not exist" in lines[0]
    assert "unexpected" not in lines[0]
    assert not (tmp_path / "nonexistent").exists()
