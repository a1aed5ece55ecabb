"""Reconciliation against the real ledger, on SQLite and on PostgreSQL.

The ledger is the scenario of tests/reconcile_scenario.py, recorded through the
CLI; the engine reads it through AppSource (the aggregates themselves).
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

from aggregates.values import credit_code_check_char
from ledger.reconcile import AppSource, reconcile_file, to_dict
from ledger.service import LedgerService
from tests.reconcile_scenario import (
    BAD,
    BL,
    CO,
    UNI,
    build_ledger,
    check,
    cli,
    expected,
    gbk_statement,
    utf8_statement,
)


def test_app_source_reads_the_ledger(db_url: str) -> None:
    # given the scenario ledger
    build_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        src = AppSource(svc)
        # then the payments carry the host on the payment date and the reversals
        payments = {p.voucher: p for p in src.payments()}
        assert len(payments) == 13
        assert payments["PZ-005"].reversed and payments["PZ-006"].reversed
        assert not payments["PZ-001"].reversed
        assert payments["PZ-001"].amount == Decimal("100000.00")
        assert payments["PZ-001"].host_unit == UNI
        assert payments["PZ-2025-1"].fiscal_year == 2025
        assert src.allocated("LS-KL-002", "operation", 2026) == Decimal("100000.00")
        assert src.allocated("LS-KL-002", "research", 2026) == Decimal(0)
        assert src.platform_status_on("LS-KL-005", date(2026, 3, 16)) == "operating"
        assert src.platform_status_on("LS-KL-005", date(2026, 3, 17)) == "delisted"
        assert src.debarment_on(BAD, date(2026, 1, 31)) is None
        assert "project-application" in (src.debarment_on(BAD, date(2026, 2, 1)) or "")
        assert src.blacklisting_on(BL, date(2026, 2, 1)) is not None
        assert src.blacklisting_on(BL, date(2026, 1, 31)) is None
        assert src.blacklisting_on(CO, date(2026, 2, 1)) is None
        names = src.unit_names()
        assert names["西藏农牧学院"] == {UNI} and names["西藏农牧大学"] == {UNI}
        assert src.current_names()[UNI] == "西藏农牧大学"
    finally:
        svc.close()


def test_reconcile_gbk_and_utf8_statements_give_exactly_the_findings(
    db_url: str, tmp_path: Path
) -> None:
    build_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        for name, (raw, only_line, bad_line) in (
            ("gbk.csv", gbk_statement()),
            ("utf8.csv", utf8_statement()),
        ):
            path = tmp_path / name
            path.write_bytes(raw)
            # when the statement is reconciled against every fiscal year
            report = reconcile_file(AppSource(svc), path)
            # then every finding is there, exactly
            check(to_dict(report), expected(only_line))
            assert [b.line for b in report.bad_lines] == [bad_line]
            assert {m.payment.voucher: m.by for m in report.matches}["PZ-007"] == "payee"
            # and for fiscal year 2026 the 2025 payment and its line are out of scope
            report_2026 = reconcile_file(AppSource(svc), path, fiscal_year=2026)
            check(to_dict(report_2026), expected(only_line, 2026))
            assert report_2026.out_of_scope == 1
    finally:
        svc.close()


def test_a_wider_tolerance_clears_the_date_flag(db_url: str, tmp_path: Path) -> None:
    build_ledger(db_url)
    path = tmp_path / "s.csv"
    path.write_bytes(gbk_statement()[0])
    svc = LedgerService(db_url)
    try:
        report = reconcile_file(AppSource(svc), path, tolerance_days=4)
    finally:
        svc.close()
    assert "date-out-of-tolerance" not in {f.flag for f in report.flags}


def test_a_name_two_units_share_maps_to_both_and_is_never_a_silent_pick(
    db_url: str, tmp_path: Path
) -> None:
    # given the scenario ledger, and a second unit whose alias is UNI's former name
    build_ledger(db_url)
    other = "12540000MB0000009" + credit_code_check_char("12540000MB0000009")
    cli(
        db_url,
        "unit",
        "register",
        other,
        "--name",
        "西藏农牧科学研究所",
        "--type",
        "institute",
        "--alias",
        "西藏农牧学院",
        "--on",
        "2025-01-01",
    )
    path = tmp_path / "s.csv"
    raw, only_line, _ = gbk_statement()
    path.write_bytes(raw)
    svc = LedgerService(db_url)
    try:
        # then the name maps to both units
        assert AppSource(svc).unit_names()["西藏农牧学院"] == {UNI, other}
        # and the line paid to that name (PZ-007, 70,000.00) still pairs: one payment fits
        report = reconcile_file(AppSource(svc), path)
        check(to_dict(report), expected(only_line))
        assert {m.payment.voucher: m.by for m in report.matches}["PZ-007"] == "payee"
    finally:
        svc.close()
    # when the other unit hosts a platform paid the same amount on the same day
    cli(
        db_url,
        "platform",
        "propose",
        "LS-KL-009",
        "--name",
        "农牧实验室",
        "--kind",
        "key-laboratory",
        "--level",
        "city",
        "--host",
        other,
        "--on",
        "2025-02-01",
    )
    cli(db_url, "platform", "approve", "LS-KL-009", "--doc-no", "A9", "--on", "2025-03-01")
    cli(
        db_url,
        "funds",
        "allocate",
        "LS-KL-009",
        "--category",
        "operation",
        "--amount",
        "70000",
        "--fiscal-year",
        "2026",
        "--doc-no",
        "F9",
        "--on",
        "2026-01-05",
    )
    cli(
        db_url,
        "funds",
        "disburse",
        "LS-KL-009",
        "--category",
        "operation",
        "--amount",
        "70000",
        "--fiscal-year",
        "2026",
        "--voucher",
        "PZ-090",
        "--on",
        "2026-04-10",
    )
    svc = LedgerService(db_url)
    try:
        report = reconcile_file(AppSource(svc), path)
    finally:
        svc.close()
    # then neither is picked: the line is statement_only, both payments ledger_only
    assert {x.voucher for x in report.ledger_only} == {"PZ-003", "PZ-007", "PZ-090"}
    assert 70000 in {x.amount for x in report.statement_only}
