"""The reconciliation engine against an in-memory ledger (ledger.reconcile).

The end-to-end tests with the real application on SQLite and PostgreSQL are in
tests/reconcile/test_reconcile_app.py and tests/cli/; these pin down the matching
rules and the reports.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from openpyxl import load_workbook

from aggregates.errors import InvalidInput
from ledger.reconcile import (
    LedgerPayment,
    ReconcileReport,
    ReconcileSource,
    demo_statement_lines,
    reconcile,
    reconcile_file,
    summary,
    to_csv,
    to_dict,
    to_json,
    to_table,
    to_xlsx,
    voucher_like_tokens,
    write_demo_statement,
    write_report,
)
from ledger.reconcile.statement import StatementLine, parse_statement
from tests.workbook_view import data_rows, sheet, sheet_slugs
from tests.workbook_view import header as header_of

UNI = "12540000MB0000001X"  # host of LS-KL-001 (a made-up code; the engine does not check it)
CO = "91540100MA6T00002Y"  # host of LS-TIC-002
D = date(2026, 3, 5)


@dataclass
class FakeLedger:
    """The ledger as reconciliation sees it, in memory."""

    items: list[LedgerPayment] = field(default_factory=list)
    allocations: dict[tuple[str, str, int], Decimal] = field(default_factory=dict)
    # platform → [(from, status)] in date order
    statuses: dict[str, list[tuple[date, str]]] = field(default_factory=dict)
    debarred: dict[str, list[tuple[date, date, str]]] = field(default_factory=dict)
    blacklisted: dict[str, list[tuple[date, date | None]]] = field(default_factory=dict)
    names: dict[str, str | frozenset[str]] = field(default_factory=dict)

    def payments(self) -> Sequence[LedgerPayment]:
        return list(self.items)

    def allocated(self, platform: str, category: str, fiscal_year: int) -> Decimal:
        return self.allocations.get((platform, category, fiscal_year), Decimal("10000000.00"))

    def platform_status_on(self, platform: str, on: date) -> str | None:
        current: str | None = None
        for since, status in self.statuses.get(platform, [(date(2020, 1, 1), "operating")]):
            if since <= on:
                current = status
        return current

    def term_ended_on(self, platform: str, on: date) -> str | None:
        return None

    def debarment_on(self, unit: str, on: date, programme: str | None = None) -> str | None:
        for start, end, detail in self.debarred.get(unit, []):
            if start <= on < end:
                return f"{detail} until {end.isoformat()}"
        return None

    def blacklisting_on(self, unit: str, on: date) -> str | None:
        for start, end in self.blacklisted.get(unit, []):
            if start <= on and (end is None or on < end):
                return f"since {start.isoformat()}"
        return None

    def unit_names(self) -> Mapping[str, str | AbstractSet[str]]:
        return dict(self.names)


def pay(
    voucher: str,
    amount: str = "100000.00",
    on: date = D,
    *,
    platform: str = "LS-KL-001",
    category: str = "operation",
    year: int = 2026,
    reversed: bool = False,
    host: str | None = UNI,
) -> LedgerPayment:
    return LedgerPayment(
        voucher=voucher,
        platform=platform,
        category=category,
        fiscal_year=year,
        amount=Decimal(amount),
        paid_on=on,
        reversed=reversed,
        host_unit=host,
    )


def line(
    n: int,
    ref: str | None,
    amount: str = "100000.00",
    on: date = D,
    *,
    payee: str | None = None,
    memo: str | None = None,
) -> StatementLine:
    return StatementLine(
        line=n,
        date=on,
        amount=Decimal(amount),
        references=(ref,) if ref else (),
        memo=memo,
        payee=payee,
    )


def ledger(*items: LedgerPayment, **kwargs: object) -> FakeLedger:
    fake = FakeLedger(items=list(items), **kwargs)  # type: ignore[arg-type]
    fake.names.setdefault("西藏大学", UNI)
    fake.names.setdefault("西藏农牧学院", UNI)  # a former name
    fake.names.setdefault("拉萨高原科技有限公司", CO)
    return fake


def kinds(report: ReconcileReport) -> list[tuple[str, str]]:
    return [(f.voucher, f.flag) for f in report.flags]


def test_fake_is_a_reconcile_source() -> None:
    source: ReconcileSource = ledger()
    assert source.payments() == []


# --- matching by reference -------------------------------------------------------------


def test_everything_matches() -> None:
    # given two payments and a statement that shows both by voucher
    src = ledger(pay("PZ-001"), pay("PZ-002", "250.50"))
    # when reconciled
    report = reconcile(src, [line(2, "PZ-001"), line(3, "pz-002", "250.50")])
    # then both match and nothing else is reported
    assert report.matched == 2
    assert not report.has_discrepancies
    assert to_dict(report) == {
        "matched": 2,
        "amount_mismatch": [],
        "ledger_only": [],
        "statement_only": [],
        "duplicates": [],
        "flags": [],
        "bad_lines": [],
        "statement_checks": [],
        "layout": None,
        "period": None,
    }


def test_amount_mismatch() -> None:
    src = ledger(pay("PZ-001", "100000.00"))
    report = reconcile(src, [line(7, "PZ-001", "99000.00")])
    assert report.matched == 0
    assert to_dict(report)["amount_mismatch"] == [
        {
            "voucher": "PZ-001",
            "platform": "LS-KL-001",
            "ledger_amount": "100000.00",
            "statement_amount": "99000.00",
        }
    ]
    assert report.ledger_only == [] and report.statement_only == []


def test_ledger_only_and_reversed_payment_not_on_statement_is_fine() -> None:
    src = ledger(
        pay("PZ-001"), pay("PZ-002", on=D + timedelta(days=10)), pay("PZ-003", reversed=True)
    )
    report = reconcile(src, [line(2, "PZ-001")])
    assert to_dict(report)["ledger_only"] == [
        {
            "voucher": "PZ-002",
            "platform": "LS-KL-001",
            "amount": "100000.00",
            "paid_on": "2026-03-15",
        }
    ]
    assert report.flags == []


def test_statement_only_for_unknown_reference_and_unknown_payee() -> None:
    src = ledger(pay("PZ-001"))
    lines = [
        line(2, "PZ-001"),
        line(3, "PZ-999", "5.00", payee="西藏大学"),
        line(4, None, "6.00", payee="无名公司"),
    ]
    report = reconcile(src, lines)
    assert to_dict(report)["statement_only"] == [
        {
            "reference": "PZ-999",
            "payee": "西藏大学",
            "amount": "5.00",
            "date": "2026-03-05",
            "line": 3,
        },
        {"reference": None, "payee": "无名公司", "amount": "6.00", "date": "2026-03-05", "line": 4},
    ]


def test_a_wrong_reference_is_not_rescued_by_payee() -> None:
    # given a line with a voucher the ledger does not have, but the payee, amount and
    # date of a ledger payment
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, "PZ-00l", payee="西藏大学")])
    # then both sides show, so the wrong voucher is seen
    assert [x.voucher for x in report.ledger_only] == ["PZ-001"]
    assert [x.line for x in report.statement_only] == [2]


def test_duplicate_on_the_statement() -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, "PZ-001"), line(5, "PZ-001")])
    assert report.matched == 1
    assert to_dict(report)["duplicates"] == [
        {"voucher": "PZ-001", "where": "statement", "count": 2}
    ]
    assert report.duplicates[0].lines == (2, 5)
    assert report.statement_only == []


def test_duplicate_lines_with_different_amounts_pair_the_equal_one() -> None:
    src = ledger(pay("PZ-001", "10.00"))
    report = reconcile(src, [line(2, "PZ-001", "99.00"), line(3, "PZ-001", "10.00")])
    assert report.matched == 1 and report.matches[0].line.line == 3
    assert report.amount_mismatch == []
    assert [(d.where, d.count) for d in report.duplicates] == [("statement", 2)]


def test_duplicate_in_the_ledger() -> None:
    src = ledger(pay("PZ-001"), pay("PZ-001", platform="LS-TIC-002", host=CO))
    report = reconcile(src, [line(2, "PZ-001")])
    assert to_dict(report)["duplicates"] == [{"voucher": "PZ-001", "where": "ledger", "count": 2}]
    assert report.matched == 1
    # the statement shows one payment: the other copy is not silently dropped
    assert [(x.voucher, x.platform) for x in report.ledger_only] == [("PZ-001", "LS-TIC-002")]


# --- references inside free text ---------------------------------------------------------


def test_voucher_inside_memo_text_matches() -> None:
    src = ledger(pay("PZ-2026-001"))
    report = reconcile(src, [line(2, None, memo="拨付LS-KL-001运行费 凭证号PZ-2026-001。")])
    assert report.matched == 1
    assert report.matches[0].by == "reference"


def test_voucher_inside_a_reference_cell_matches() -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, "记账凭证：PZ-001，2026")])
    assert report.matched == 1


def test_voucher_must_be_a_whole_token() -> None:
    # PZ-1 is not found inside PZ-10 or XPZ-1; PZ-10 is found
    src = ledger(pay("PZ-1", "5.00"), pay("PZ-10", "6.00"))
    report = reconcile(
        src, [line(2, None, "6.00", memo="付款PZ-10"), line(3, None, "5.00", memo="XPZ-1A")]
    )
    assert [m.payment.voucher for m in report.matches] == ["PZ-10"]
    assert [x.voucher for x in report.ledger_only] == ["PZ-1"]
    assert [x.line for x in report.statement_only] == [3]


def test_two_vouchers_in_one_text_match_neither() -> None:
    src = ledger(pay("PZ-001", "5.00"), pay("PZ-002", "5.00"))
    report = reconcile(src, [line(2, None, "10.00", memo="合并支付 PZ-001 PZ-002")])
    assert report.matched == 0
    assert [x.line for x in report.statement_only] == [2]


def test_exact_reference_wins_over_token_in_memo() -> None:
    src = ledger(pay("PZ-001", "5.00"), pay("PZ-002", "5.00"))
    report = reconcile(
        src, [StatementLine(2, D, Decimal("5.00"), references=("PZ-002",), memo="PZ-001")]
    )
    assert [m.payment.voucher for m in report.matches] == ["PZ-002"]


# --- matching by payee ----------------------------------------------------------------------


@pytest.mark.parametrize("payee", ["西藏大学", "西藏农牧学院", " 西藏 大学 ", UNI, UNI.lower()])
def test_line_without_reference_matches_by_payee_name_former_name_or_code(payee: str) -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, None, payee=payee, on=D + timedelta(days=1))])
    assert report.matched == 1
    assert report.matches[0].by == "payee"
    assert not report.has_discrepancies


def test_memo_without_a_voucher_counts_as_no_reference() -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, None, payee="西藏大学", memo="科技经费拨款")])
    assert report.matched == 1


@pytest.mark.parametrize(("days", "matched"), [(0, 1), (3, 1), (-3, 1), (4, 0), (-4, 0)])
def test_payee_matching_tolerance_boundary(days: int, matched: int) -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, None, payee="西藏大学", on=D + timedelta(days=days))])
    assert report.matched == matched
    assert len(report.ledger_only) == 1 - matched
    assert len(report.statement_only) == 1 - matched


@pytest.mark.parametrize(("tolerance", "matched"), [(0, 0), (6, 0), (7, 1), (10, 1)])
def test_payee_matching_uses_the_given_tolerance(tolerance: int, matched: int) -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(
        src, [line(2, None, payee="西藏大学", on=D + timedelta(days=7))], tolerance_days=tolerance
    )
    assert report.matched == matched


def test_payee_matching_needs_the_same_amount_and_the_host() -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(
        src,
        [line(2, None, "100000.01", payee="西藏大学"), line(3, None, payee="拉萨高原科技有限公司")],
    )
    assert report.matched == 0
    assert len(report.statement_only) == 2


def test_payee_matching_takes_the_closest_date_and_a_live_payment_first() -> None:
    src = ledger(
        pay("PZ-A", on=D - timedelta(days=3)),
        pay("PZ-B", on=D + timedelta(days=1)),
        pay("PZ-R", on=D, reversed=True),
    )
    report = reconcile(src, [line(2, None, payee="西藏大学")])
    assert [m.payment.voucher for m in report.matches] == ["PZ-B"]
    assert [x.voucher for x in report.ledger_only] == ["PZ-A"]
    assert report.flags == []


def test_payee_matching_pairs_each_line_once() -> None:
    src = ledger(pay("PZ-A"), pay("PZ-B", on=D + timedelta(days=1)))
    lines = [
        line(2, None, payee="西藏大学"),
        line(3, None, payee="西藏大学", on=D + timedelta(days=1)),
    ]
    report = reconcile(src, lines)
    assert sorted((m.payment.voucher, m.line.line) for m in report.matches) == [
        ("PZ-A", 2),
        ("PZ-B", 3),
    ]


def test_a_line_already_matched_by_reference_is_not_taken_again_by_payee() -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, "PZ-001"), line(3, None, payee="西藏大学")])
    assert report.matched == 1
    assert [x.line for x in report.statement_only] == [3]


# --- flags ------------------------------------------------------------------------------------


@pytest.mark.parametrize(("days", "flagged"), [(3, False), (-3, False), (4, True), (-4, True)])
def test_date_out_of_tolerance_boundary(days: int, flagged: bool) -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, "PZ-001", on=D + timedelta(days=days))])
    assert report.matched == 1
    assert kinds(report) == ([("PZ-001", "date-out-of-tolerance")] if flagged else [])
    if flagged:
        assert "4 days apart, tolerance 3" in report.flags[0].detail


def test_date_out_of_tolerance_with_given_tolerance() -> None:
    src = ledger(pay("PZ-001"))
    lines = [line(2, "PZ-001", on=D + timedelta(days=10))]
    assert kinds(reconcile(src, lines, tolerance_days=10)) == []
    assert kinds(reconcile(src, lines, tolerance_days=9)) == [("PZ-001", "date-out-of-tolerance")]
    assert kinds(
        reconcile(src, [line(2, "PZ-001", on=D + timedelta(days=1))], tolerance_days=0)
    ) == [("PZ-001", "date-out-of-tolerance")]


def test_negative_tolerance_is_invalid() -> None:
    with pytest.raises(InvalidInput):
        reconcile(ledger(), [], tolerance_days=-1)


def test_reversed_but_paid() -> None:
    src = ledger(pay("PZ-001", reversed=True))
    report = reconcile(src, [line(4, "PZ-001")])
    assert report.matched == 0
    assert report.ledger_only == [] and report.statement_only == []
    assert to_dict(report)["flags"] == [
        {
            "voucher": "PZ-001",
            "platform": "LS-KL-001",
            "flag": "reversed-but-paid",
            "detail": "reversed in the ledger, but the statement shows 100000.00 paid on "
            "2026-03-05 (line 4)",
        }
    ]


def test_debarred_host_on_the_payment_date() -> None:
    src = ledger(
        pay("PZ-IN", on=date(2026, 3, 5)),
        pay("PZ-END", on=date(2029, 3, 5)),  # the end day is no longer covered
        pay("PZ-BEFORE", on=date(2026, 3, 4)),
        debarred={UNI: [(date(2026, 3, 5), date(2029, 3, 5), "D1 platform-application")]},
    )
    lines = [
        line(2, "PZ-IN", on=date(2026, 3, 5)),
        line(3, "PZ-END", on=date(2029, 3, 5)),
        line(4, "PZ-BEFORE", on=date(2026, 3, 4)),
    ]
    report = reconcile(src, lines)
    assert kinds(report) == [("PZ-IN", "debarred-host")]
    assert report.flags[0].detail == (
        f"host unit {UNI} was debarred on 2026-03-05: D1 platform-application until 2029-03-05"
    )
    assert report.matched == 3


def test_debarred_host_flag_also_on_a_ledger_only_payment() -> None:
    src = ledger(pay("PZ-001"), debarred={UNI: [(D, D + timedelta(days=1), "D1")]})
    report = reconcile(src, [])
    assert kinds(report) == [("PZ-001", "debarred-host")]
    assert len(report.ledger_only) == 1


def test_blacklisted_host() -> None:
    src = ledger(pay("PZ-001"), pay("PZ-002", host=CO), blacklisted={UNI: [(D, None)]})
    report = reconcile(src, [line(2, "PZ-001"), line(3, "PZ-002")])
    assert kinds(report) == [("PZ-001", "blacklisted-host")]


def test_inactive_platform() -> None:
    src = ledger(
        pay("PZ-001", on=date(2026, 3, 5)),
        pay("PZ-002", on=date(2026, 6, 1)),
        pay("PZ-003", on=date(2026, 1, 1)),
        statuses={
            "LS-KL-001": [
                (date(2026, 2, 1), "construction"),
                (date(2026, 5, 1), "delisted"),
            ]
        },
    )
    lines = [
        line(2, "PZ-001", on=date(2026, 3, 5)),
        line(3, "PZ-002", on=date(2026, 6, 1)),
        line(4, "PZ-003", on=date(2026, 1, 1)),
    ]
    report = reconcile(src, lines)
    assert kinds(report) == [("PZ-003", "inactive-platform"), ("PZ-002", "inactive-platform")]
    assert "delisted on 2026-06-01" in report.flags[1].detail
    assert "not yet proposed" in report.flags[0].detail


def test_reversed_payment_not_on_statement_gets_no_compliance_flag() -> None:
    src = ledger(pay("PZ-001", reversed=True), blacklisted={UNI: [(D, None)]})
    assert reconcile(src, []).flags == []


def test_reversed_but_paid_to_a_blacklisted_host_has_both_flags() -> None:
    src = ledger(pay("PZ-001", reversed=True), blacklisted={UNI: [(D, None)]})
    report = reconcile(src, [line(2, "PZ-001")])
    assert kinds(report) == [("PZ-001", "reversed-but-paid"), ("PZ-001", "blacklisted-host")]


def test_over_allocation_by_what_the_bank_paid() -> None:
    # given an allocation of 200,000 and two payments of 100,000
    key = ("LS-KL-001", "operation", 2026)
    src = ledger(
        pay("PZ-001", on=D),
        pay("PZ-002", on=D + timedelta(days=1)),
        allocations={key: Decimal("200000.00")},
    )
    # when the bank paid them as recorded, nothing is over
    ok = reconcile(src, [line(2, "PZ-001"), line(3, "PZ-002", on=D + timedelta(days=1))])
    assert ok.flags == []
    # when the bank paid more on the second, it is an amount mismatch and beyond the allocation
    report = reconcile(
        src, [line(2, "PZ-001"), line(3, "PZ-002", "100000.01", on=D + timedelta(days=1))]
    )
    assert [x.voucher for x in report.amount_mismatch] == ["PZ-002"]
    assert kinds(report) == [("PZ-002", "over-allocation")]
    assert "0.01 beyond the allocation" in report.flags[0].detail


def test_over_allocation_when_a_reversed_payment_was_paid_and_replaced() -> None:
    key = ("LS-KL-001", "operation", 2026)
    src = ledger(
        pay("PZ-001", on=D, reversed=True),
        pay("PZ-002", on=D + timedelta(days=2)),
        allocations={key: Decimal("150000.00")},
    )
    report = reconcile(src, [line(2, "PZ-001"), line(3, "PZ-002", on=D + timedelta(days=2))])
    assert kinds(report) == [("PZ-001", "reversed-but-paid"), ("PZ-002", "over-allocation")]


def test_over_allocation_without_any_allocation() -> None:
    src = ledger(pay("PZ-001"), allocations={("LS-KL-001", "operation", 2026): Decimal(0)})
    assert kinds(reconcile(src, [line(2, "PZ-001")])) == [("PZ-001", "over-allocation")]


# --- fiscal year ------------------------------------------------------------------------------


def test_fiscal_year_filter() -> None:
    # given payments of two fiscal years, some on the statement
    src = ledger(
        pay("PZ-25A", year=2025, on=date(2026, 1, 10)),
        pay("PZ-25B", year=2025, on=date(2026, 1, 11)),
        pay("PZ-26A", year=2026, on=date(2026, 3, 5)),
        pay("PZ-26B", year=2026, on=date(2026, 3, 6)),
    )
    lines = [
        line(2, "PZ-25A", "1.00", on=date(2026, 1, 10)),  # mismatch, but of 2025
        line(3, "PZ-25A", "1.00", on=date(2026, 1, 10)),  # a duplicate of 2025
        line(4, "PZ-26A"),
        line(5, "PZ-777", "3.00"),
        line(6, None, payee="西藏大学", on=date(2026, 1, 11)),  # PZ-25B by payee
    ]
    # when reconciled for 2026 only
    report = reconcile(src, lines, fiscal_year=2026)
    # then 2025's payments and the lines that paid them are out of scope
    assert report.matched == 1
    assert [x.voucher for x in report.ledger_only] == ["PZ-26B"]
    assert [x.line for x in report.statement_only] == [5]
    assert report.amount_mismatch == [] and report.duplicates == []
    assert report.out_of_scope == 3
    # and without the filter everything shows
    full = reconcile(src, lines)
    assert full.matched == 2
    assert [x.voucher for x in full.amount_mismatch] == ["PZ-25A"]
    assert [x.voucher for x in full.ledger_only] == ["PZ-26B"]
    assert [(d.voucher, d.count) for d in full.duplicates] == [("PZ-25A", 2)]


# --- a whole statement, every finding kind ----------------------------------------------------


GBK_STATEMENT = (
    "西藏某银行 对公账户交易明细\r\n"
    "账号：5400 1234 5678 0000 0001\r\n"
    "起止日期：2026-01-01 至 2026-11-23\r\n"
    "交易日期,凭证号,摘要,对方户名,对方账号,借方发生额,贷方发生额,余额\r\n"
    '2026/3/5,PZ-001,运行费,西藏大学,6217 0001,"100,000.00",-,"9,900,000.00"\r\n'  # 5 match
    '2026/3/6,PZ-002,运行费,西藏大学,6217 0001,"99,000.00",-,"9,801,000.00"\r\n'  # 6 mismatch
    '2026/3/7,PZ-004,研究经费,西藏大学,6217 0001,"100,000.00",-,"9,701,000.00"\r\n'  # 7 dup
    '2026/3/7,PZ-004,研究经费,西藏大学,6217 0001,"100,000.00",-,"9,601,000.00"\r\n'  # 8 dup
    '2026/3/8,PZ-005,冲销未退回,西藏大学,6217 0001,"100,000.00",-,"9,501,000.00"\r\n'  # 9 rev
    '2026年3月10日,-,科技经费拨款,拉萨高原科技有限公司,6217 0002,"100,000.00",-,"9,401,000.00"\r\n'
    '2026/3/11,-,结息,-,-,-,"12.34","9,401,012.34"\r\n'  # 11 inflow, skipped
    '2026/3/12,PZ-999,设备款,无名公司,6217 0003,"8,000.00",-,"9,393,012.34"\r\n'  # 12 stmt only
    '2026/3/40,PZ-007,运行费,西藏大学,6217 0001,"1.00",-,"9,393,011.34"\r\n'  # 13 bad date
    '2026/3/20,PZ-008,运行费,西藏大学,6217 0001,"100,000.00",-,"9,293,011.34"\r\n'  # 14 late
    '合计,,,,,"707,001.00","12.34",\r\n'
)


def realistic_ledger() -> FakeLedger:
    return ledger(
        pay("PZ-001", on=date(2026, 3, 5)),
        pay("PZ-002", on=date(2026, 3, 6)),
        pay("PZ-003", on=date(2026, 3, 6)),  # not on the statement
        pay("PZ-004", on=date(2026, 3, 7), category="research"),
        pay("PZ-005", on=date(2026, 3, 8), reversed=True),
        pay("PZ-006", on=date(2026, 3, 9), platform="LS-TIC-002", host=CO),  # by payee
        pay("PZ-008", on=date(2026, 3, 15)),  # bank paid 5 days later
        debarred={CO: [(date(2026, 1, 1), date(2029, 1, 1), "D1 platform-application")]},
    )


EXPECTED: dict[str, Any] = {
    "matched": 4,
    "amount_mismatch": [
        {
            "voucher": "PZ-002",
            "platform": "LS-KL-001",
            "ledger_amount": "100000.00",
            "statement_amount": "99000.00",
        }
    ],
    "ledger_only": [
        {
            "voucher": "PZ-003",
            "platform": "LS-KL-001",
            "amount": "100000.00",
            "paid_on": "2026-03-06",
        }
    ],
    "statement_only": [
        {
            "reference": "PZ-999",
            "payee": "无名公司",
            "amount": "8000.00",
            "date": "2026-03-12",
            "line": 12,
        }
    ],
    "duplicates": [{"voucher": "PZ-004", "where": "statement", "count": 2}],
    "flag_kinds": [
        ("PZ-005", "reversed-but-paid"),
        ("PZ-006", "debarred-host"),
        ("PZ-008", "date-out-of-tolerance"),
    ],
}


def check_realistic(report: ReconcileReport, *, only_line: int = 12, bad_line: int = 13) -> None:
    data = to_dict(report)
    expected = dict(EXPECTED)
    expected["statement_only"] = [{**EXPECTED["statement_only"][0], "line": only_line}]
    for key in ("matched", "amount_mismatch", "ledger_only", "statement_only", "duplicates"):
        assert data[key] == expected[key], key
    assert kinds(report) == EXPECTED["flag_kinds"]
    assert [b.line for b in report.bad_lines] == [bad_line]
    assert report.has_discrepancies


def test_gbk_statement_with_chinese_headers_every_finding(tmp_path: Path) -> None:
    path = tmp_path / "statement.csv"
    path.write_bytes(GBK_STATEMENT.encode("gbk"))
    report = reconcile_file(realistic_ledger(), path)
    assert report.encoding == "gb18030"
    check_realistic(report)


def test_utf8_statement_with_english_headers_every_finding(tmp_path: Path) -> None:
    text = (
        "Account: 5400 1234\n"
        "date,voucher,payee,account,amount\n"
        '2026-03-05,PZ-001,西藏大学,6217,"100,000.00"\n'
        '2026-03-06,PZ-002,西藏大学,6217,"99,000.00"\n'
        '2026-03-07,PZ-004,西藏大学,6217,"100,000.00"\n'
        '2026-03-07,PZ-004,西藏大学,6217,"100,000.00"\n'
        '2026-03-08,PZ-005,西藏大学,6217,"100,000.00"\n'
        '2026-03-10,-,拉萨高原科技有限公司,6217,"100,000.00"\n'
        "\n"
        '2026-03-12,PZ-999,无名公司,6217,"8,000.00"\n'
        "2026-03-40,PZ-007,西藏大学,6217,1.00\n"
        '2026-03-20,PZ-008,西藏大学,6217,"100,000.00"\n'
        'Total,,,,"707,001.00"\n'
    )
    path = tmp_path / "statement.csv"
    path.write_text(text, encoding="utf-8")
    report = reconcile_file(realistic_ledger(), path)
    assert report.encoding == "utf-8"
    check_realistic(report, only_line=10, bad_line=11)


# --- reports ----------------------------------------------------------------------------------


@pytest.fixture
def realistic_report(tmp_path: Path) -> ReconcileReport:
    path = tmp_path / "statement.csv"
    path.write_bytes(GBK_STATEMENT.encode("gbk"))
    return reconcile_file(realistic_ledger(), path)


def test_json_is_utf8_with_money_as_strings(realistic_report: ReconcileReport) -> None:
    text = to_json(realistic_report)
    assert "无名公司" in text  # not ASCII-escaped
    data = json.loads(text)
    assert data["statement_only"][0]["amount"] == "8000.00"
    assert data["bad_lines"][0]["line"] == 13
    assert set(data) >= {
        "matched",
        "amount_mismatch",
        "ledger_only",
        "statement_only",
        "duplicates",
        "flags",
    }


def test_csv_is_one_flat_file_one_row_per_finding(realistic_report: ReconcileReport) -> None:
    rows_ = list(csv.DictReader(io.StringIO(to_csv(realistic_report))))
    by_kind: dict[str, list[dict[str, str]]] = {}
    for row in rows_:
        by_kind.setdefault(row["finding"], []).append(row)
    assert {k: len(v) for k, v in by_kind.items()} == {
        "matched": 4,
        "amount_mismatch": 1,
        "ledger_only": 1,
        "statement_only": 1,
        "duplicates": 1,
        "flags": 3,
        "bad_lines": 1,
    }
    mismatch = by_kind["amount_mismatch"][0]
    assert (mismatch["ledger_amount"], mismatch["statement_amount"]) == ("100000.00", "99000.00")
    assert [r["flag"] for r in by_kind["flags"]] == [
        "reversed-but-paid",
        "debarred-host",
        "date-out-of-tolerance",
    ]
    assert by_kind["bad_lines"][0]["line"] == "13"


def test_table_shows_chinese_labels_beside_slugs(realistic_report: ReconcileReport) -> None:
    text = to_table(realistic_report)
    assert "amount_mismatch 金额不符" in text
    assert "reversed-but-paid 已冲销但银行已支付" in text
    assert "debarred-host 依托单位被禁止申报" in text
    assert "statement 对账单" in text
    assert "discrepancies found" in text


def test_table_when_all_agrees() -> None:
    text = to_table(reconcile(ledger(pay("PZ-001")), [line(2, "PZ-001")]))
    assert "no discrepancies" in text


def test_xlsx_reads_back_with_the_same_figures(
    realistic_report: ReconcileReport, tmp_path: Path
) -> None:
    # when the workbook is written
    out = tmp_path / "reconcile.xlsx"
    to_xlsx(realistic_report, out)
    # then it reads back: a summary sheet and one per kind, header rows frozen
    wb = load_workbook(out)
    assert sheet_slugs(wb) == [
        "cover",
        "summary",
        "matched",
        "amount_mismatch",
        "ledger_only",
        "statement_only",
        "duplicates",
        "flags",
        "bad_lines",
        "statement_checks",
    ]
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
    # the summary has the same counts and amounts as the report
    ws = sheet(wb, "summary")
    got = {}
    for row in ws.iter_rows(min_row=2, values_only=True):
        if row[0] is None:
            break
        got[row[0]] = row
    for finding, _label, count, ledger_amount, statement_amount in summary(realistic_report):
        assert got[finding][2] == count
        for cell, expected in (
            (got[finding][3], ledger_amount),
            (got[finding][4], statement_amount),
        ):
            if expected is None:
                assert cell is None
            else:
                assert Decimal(str(cell)).quantize(Decimal("0.01")) == expected
    assert got["matched"][2] == 4
    assert Decimal(str(got["statement_only"][4])) == Decimal("8000")
    # amounts are numbers with two decimals
    cell = ws.cell(row=2, column=4)
    assert isinstance(cell.value, int | float)
    assert cell.number_format == "#,##0.00"
    # each kind's sheet lists its findings
    am = sheet(wb, "amount_mismatch")
    header = header_of(am)
    values = dict(zip(header, [c.value for c in am[2]], strict=True))
    assert values["voucher"] == "PZ-002"
    assert Decimal(str(values["ledger_amount"])) == Decimal("100000")
    assert Decimal(str(values["statement_amount"])) == Decimal("99000")
    assert am.cell(row=2, column=header.index("ledger_amount") + 1).number_format == "#,##0.00"
    assert len(data_rows(am)) == 1
    flags = sheet(wb, "flags")
    assert [r[0] for r in data_rows(flags)] == [
        "reversed-but-paid",
        "debarred-host",
        "date-out-of-tolerance",
    ]
    so = sheet(wb, "statement_only")
    so_header = header_of(so)
    so_row = dict(zip(so_header, [c.value for c in so[2]], strict=True))
    assert so_row["line"] == 13 - 1 and so_row["payee"] == "无名公司"
    assert sheet(wb, "bad_lines").cell(row=2, column=1).value == 13


# --- the demo statement ----------------------------------------------------------------------


def test_demo_statement_has_exactly_the_deliberate_discrepancies(tmp_path: Path) -> None:
    # given the demo's payments: six live ones and a reversed one
    payments = [
        pay("LS-2026-001", "300000.00", date(2026, 2, 10)),
        pay("LS-2026-002", "150000.00", date(2026, 3, 10)),
        pay("LS-2026-003", "80000.00", date(2026, 4, 10), platform="LS-TIC-002", host=CO),
        pay("LS-2026-004", "60000.00", date(2026, 5, 10), platform="LS-TIC-002", host=CO),
        pay("LS-2026-005", "45000.00", date(2026, 6, 10)),
        pay("LS-2026-006", "20000.00", date(2026, 7, 10), reversed=True),
        pay("LS-2026-007", "90000.00", date(2026, 8, 10)),
    ]
    src = ledger(*payments)
    names = {UNI: "西藏大学", CO: "拉萨高原科技有限公司"}
    # when the statement is written and reconciled
    path = write_demo_statement(tmp_path / "demo" / "statement-2026.csv", payments, names)
    raw = path.read_bytes()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    parsed = parse_statement(path)
    assert parsed.errors == [] and parsed.skipped_totals == 1 and parsed.skipped_inflows == 1
    assert len(parsed.preamble) >= 2
    report = reconcile(src, parsed, fiscal_year=2026)
    # then exactly the designed findings come out
    data = to_dict(report)
    assert data["matched"] == 4  # -003 (and its duplicate), -005, -007 by voucher, -004 by payee
    assert [x.voucher for x in report.amount_mismatch] == ["LS-2026-001"]
    assert data["amount_mismatch"][0]["statement_amount"] == "299000.00"
    assert [x.voucher for x in report.ledger_only] == ["LS-2026-002"]
    assert [x.payee for x in report.statement_only] == ["拉萨市雪域仪器设备有限公司"]
    assert data["duplicates"] == [{"voucher": "LS-2026-003", "where": "statement", "count": 2}]
    assert kinds(report) == [("LS-2026-006", "reversed-but-paid")]
    assert {m.payment.voucher: m.by for m in report.matches}["LS-2026-004"] == "payee"


def test_demo_statement_lines_with_few_payments() -> None:
    rows_ = demo_statement_lines([pay("A")], {UNI: "西藏大学"})
    assert rows_[-1][0] == "合计"


# --- vouchers as the ledger makes them unique: NFKC, stripped, upper-case -------------

BLK = "91540100MA6T00003Z"  # host of LS-TIC-003 (made up)


@pytest.mark.parametrize("shown", ["v1", "Ｖ1", " V1 ", "ｖ１"])
def test_a_voucher_matches_however_the_bank_writes_its_width_and_case(shown: str) -> None:
    report = reconcile(ledger(pay("V1")), [line(2, shown)])
    assert report.matched == 1 and not report.has_discrepancies


def test_every_ledger_copy_of_one_voucher_is_reported_matched_or_ledger_only() -> None:
    # given one voucher recorded three times (v1, Ｖ1, V1 are one voucher), on three platforms
    src = ledger(
        pay("v1", "100.00"),
        pay("Ｖ1", "200.00", platform="LS-TIC-002", host=CO),
        pay("V1", "300.00", platform="LS-TIC-003", host=BLK),
        blacklisted={BLK: [(D, None)]},
    )
    # when the statement shows one payment of 200.00 under V1
    report = reconcile(src, [line(2, "V1", "200.00")])
    # then the duplicate is reported, counting every copy
    assert [(d.where, d.count) for d in report.duplicates] == [("ledger", 3)]
    # the copy the bank paid is matched, the others are ledger_only, each keeps its flags
    assert [(m.payment.platform, m.line.line) for m in report.matches] == [("LS-TIC-002", 2)]
    assert sorted((x.platform, x.amount) for x in report.ledger_only) == [
        ("LS-KL-001", Decimal("100.00")),
        ("LS-TIC-003", Decimal("300.00")),
    ]
    assert [(f.platform, f.flag) for f in report.flags] == [("LS-TIC-003", "blacklisted-host")]


def test_two_ledger_copies_and_two_lines_pair_by_amount() -> None:
    src = ledger(pay("PZ-1", "100.00"), pay("pz-1", "200.00", platform="LS-TIC-002", host=CO))
    report = reconcile(src, [line(2, "PZ-1", "200.00"), line(3, "ＰＺ-1", "100.00")])
    assert sorted((m.payment.platform, m.line.line) for m in report.matches) == [
        ("LS-KL-001", 3),
        ("LS-TIC-002", 2),
    ]
    assert report.ledger_only == [] and report.statement_only == []
    assert [(d.where, d.count) for d in report.duplicates] == [("ledger", 2)]


# --- flags: both amounts, each under its own name ---------------------------------------


def test_flag_rows_show_the_ledger_and_the_statement_amount_in_their_own_columns(
    tmp_path: Path,
) -> None:
    # given a reversed payment of 100,000 the bank paid as 90,000, a payment the bank paid
    # 0.01 beyond its allocation, and one to a blacklisted host the statement does not show
    src = ledger(
        pay("PZ-R", reversed=True, category="research"),
        pay("PZ-A", on=D + timedelta(days=1)),
        pay("PZ-L", "5.00", on=D + timedelta(days=2), platform="LS-TIC-002", host=CO),
        allocations={("LS-KL-001", "operation", 2026): Decimal("100000.00")},
        blacklisted={CO: [(D, None)]},
    )
    lines = [line(2, "PZ-R", "90000.00"), line(3, "PZ-A", "100000.01", D + timedelta(days=1))]
    report = reconcile(src, lines)
    # then the CSV has the ledger's figure as ledger_amount, the bank's as statement_amount
    flags = {
        (r["voucher"], r["flag"]): r
        for r in csv.DictReader(io.StringIO(to_csv(report)))
        if r["finding"] == "flags"
    }
    assert set(flags) == {
        ("PZ-R", "reversed-but-paid"),
        ("PZ-A", "over-allocation"),
        ("PZ-L", "blacklisted-host"),
    }
    rbp = flags[("PZ-R", "reversed-but-paid")]
    assert (rbp["ledger_amount"], rbp["statement_amount"], rbp["date"], rbp["line"]) == (
        "100000.00",
        "90000.00",
        "2026-03-05",
        "2",
    )
    over = flags[("PZ-A", "over-allocation")]
    assert (over["ledger_amount"], over["statement_amount"]) == ("100000.00", "100000.01")
    unshown = flags[("PZ-L", "blacklisted-host")]
    assert (unshown["ledger_amount"], unshown["statement_amount"], unshown["line"]) == (
        "5.00",
        "",
        "",
    )
    # and the workbook's flags sheet too
    out = tmp_path / "r.xlsx"
    to_xlsx(report, out)
    ws = sheet(load_workbook(out), "flags")
    header = header_of(ws)
    assert {"ledger_amount", "statement_amount", "date", "line"} <= set(header)
    got = {
        (r["voucher"], r["flag"]): r
        for r in (dict(zip(header, row, strict=True)) for row in data_rows(ws))
    }
    rbp_x = got[("PZ-R", "reversed-but-paid")]
    assert Decimal(str(rbp_x["ledger_amount"])) == Decimal("100000")
    assert Decimal(str(rbp_x["statement_amount"])) == Decimal("90000")
    assert got[("PZ-L", "blacklisted-host")]["statement_amount"] is None
    # and the summary sums each side under its own name
    sums = {k: (la, sa) for k, _, _, la, sa in summary(report)}
    assert sums["flags: reversed-but-paid"] == (Decimal("100000.00"), Decimal("90000.00"))
    assert sums["flags: blacklisted-host"] == (Decimal("5.00"), None)


# --- a voucher in the memo (摘要) --------------------------------------------------------


def test_a_wrong_voucher_in_the_memo_is_paired_by_payee_but_flagged() -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, None, payee="西藏大学", memo="运行费 凭证号PZ-WRONG-77")])
    assert report.matched == 1 and report.matches[0].by == "payee"
    assert kinds(report) == [("PZ-001", "reference-mismatch")]
    assert "PZ-WRONG-77" in report.flags[0].detail and "PZ-001" in report.flags[0].detail
    assert report.has_discrepancies


def test_a_wrong_voucher_in_the_memo_with_two_candidates_pairs_neither() -> None:
    src = ledger(pay("PZ-A"), pay("PZ-B", on=D + timedelta(days=1)))
    report = reconcile(src, [line(2, None, payee="西藏大学", memo="PZ-WRONG-77")])
    assert report.matched == 0
    assert [x.line for x in report.statement_only] == [2]
    assert {x.voucher for x in report.ledger_only} == {"PZ-A", "PZ-B"}


@pytest.mark.parametrize(
    "memo",
    ["拨付运行费", "拨付LS-KL-001运行费", "2026年运行费 100,000.00 元", f"付{UNI}", "6217 0001"],
)
def test_a_memo_without_a_voucher_like_token_matches_by_payee_silently(memo: str) -> None:
    src = ledger(pay("PZ-001"))
    report = reconcile(src, [line(2, None, payee="西藏大学", memo=memo)])
    assert report.matched == 1 and not report.has_discrepancies


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("运行费 PZ-WRONG-77", ["PZ-WRONG-77"]),
        ("凭证号20260001", ["20260001"]),
        ("凭证号：20260001", ["20260001"]),
        ("拨付ls-kl-001运行费", []),  # a platform code
        ("2026-03-05 100,000.00", []),  # a date and an amount
        ("拨付运行费", []),
        ("ＰＺ２０２６", ["PZ2026"]),
        ("Ref: 88", ["88"]),
        ("FY2026 运行费 2026Q1", []),  # periods
        ("CASINO 2026", []),
    ],
)
def test_voucher_like_tokens(text: str, tokens: list[str]) -> None:
    assert voucher_like_tokens(text, not_vouchers=frozenset({"LS-KL-001"})) == tokens


# --- over-allocation counts what the bank paid twice -------------------------------------


def test_a_payment_the_bank_made_twice_counts_twice_toward_the_allocation() -> None:
    src = ledger(pay("PZ-001"), allocations={("LS-KL-001", "operation", 2026): Decimal("150000")})
    report = reconcile(src, [line(2, "PZ-001"), line(3, "PZ-001")])
    assert report.matched == 1
    assert [(d.where, d.count) for d in report.duplicates] == [("statement", 2)]
    assert kinds(report) == [("PZ-001", "over-allocation")]
    assert "50000.00 beyond the allocation" in report.flags[0].detail
    assert "lines 2, 3" in report.flags[0].detail
    assert report.flags[0].statement_amount == Decimal("200000.00")


# --- payee-mismatch -------------------------------------------------------------------------


def test_a_voucher_paid_to_another_unit_is_flagged_payee_mismatch() -> None:
    report = reconcile(ledger(pay("PZ-001")), [line(2, "PZ-001", payee="拉萨高原科技有限公司")])
    assert report.matched == 1
    assert kinds(report) == [("PZ-001", "payee-mismatch")]
    assert CO in report.flags[0].detail and UNI in report.flags[0].detail
    assert report.has_discrepancies


def test_an_unknown_payee_on_a_voucher_line_is_flagged() -> None:
    report = reconcile(ledger(pay("PZ-001")), [line(2, "PZ-001", payee="无名公司")])
    assert kinds(report) == [("PZ-001", "payee-mismatch")]
    assert "no registered unit" in report.flags[0].detail


@pytest.mark.parametrize(
    "payee",
    [
        "拉萨高原科技有限公司",
        "拉萨高原科技",  # without 有限公司
        "拉萨高原科技有限责任公司",
        " 拉萨 高原科技有限公司 ",
        "拉萨(高原)科技有限公司",  # half-width brackets; the alias has full-width ones
        "ＬＳ高原科技",
        CO,
        CO.lower(),
    ],
)
def test_no_payee_mismatch_for_the_hosts_names_however_written(payee: str) -> None:
    src = ledger(
        pay("PZ-001", platform="LS-TIC-002", host=CO),
        names={"拉萨（高原）科技有限公司": CO, "LS高原科技有限公司": CO},
    )
    report = reconcile(src, [line(2, "PZ-001", payee=payee)])
    assert report.matched == 1 and not report.has_discrepancies


def test_payee_mismatch_after_a_host_change() -> None:
    # given a platform whose host on the payment date is CO, paid to UNI (the former host)
    src = ledger(pay("PZ-001", host=CO))
    report = reconcile(src, [line(2, "PZ-001", payee="西藏农牧学院")])
    assert kinds(report) == [("PZ-001", "payee-mismatch")]


# --- names two units share ----------------------------------------------------------------

SHARED = "高原研究所"


def test_a_shared_name_pairs_when_exactly_one_payment_fits() -> None:
    src = ledger(
        pay("PZ-U", "100.00"),
        pay("PZ-C", "200.00", platform="LS-TIC-002", host=CO),
        names={SHARED: frozenset({UNI, CO})},
    )
    report = reconcile(src, [line(2, None, "200.00", payee=SHARED)])
    assert [m.payment.voucher for m in report.matches] == ["PZ-C"]
    assert report.statement_only == [] and report.flags == []
    assert [x.voucher for x in report.ledger_only] == ["PZ-U"]


def test_a_shared_name_is_no_silent_pick() -> None:
    # given two units known by one name (spelt differently), each with a payment that fits
    src = ledger(
        pay("PZ-U", on=D),
        pay("PZ-C", on=D + timedelta(days=2), platform="LS-TIC-002", host=CO),
        names={SHARED: UNI, f" {SHARED[:2]} {SHARED[2:]}": CO},
    )
    report = reconcile(src, [line(2, None, payee=SHARED)])
    # then neither is picked: the line and both payments show
    assert report.matched == 0
    assert [x.line for x in report.statement_only] == [2]
    assert {x.voucher for x in report.ledger_only} == {"PZ-U", "PZ-C"}


def test_a_shared_name_that_includes_the_host_is_no_payee_mismatch() -> None:
    src = ledger(pay("PZ-001"), names={SHARED: frozenset({UNI, CO})})
    report = reconcile(src, [line(2, "PZ-001", payee=SHARED)])
    assert not report.has_discrepancies


# --- writing the report --------------------------------------------------------------------


@pytest.mark.parametrize("name", ["x.xlsx", "x.csv"])
def test_writing_a_report_into_a_missing_directory_is_invalid_input(
    tmp_path: Path, name: str
) -> None:
    report = reconcile(ledger(pay("PZ-001")), [line(2, "PZ-001")])
    target = tmp_path / "nope" / name
    with pytest.raises(InvalidInput, match=r"cannot write report .*nope.*does not exist"):
        write_report(report, target)
    with pytest.raises(InvalidInput, match="does not exist"):
        to_xlsx(report, tmp_path / "nope" / "y.xlsx")
    assert not (tmp_path / "nope").exists()


def test_write_report_writes_csv_with_bom_and_xlsx(tmp_path: Path) -> None:
    report = reconcile(ledger(pay("PZ-001")), [line(2, "PZ-001")])
    write_report(report, tmp_path / "r.csv")
    assert (tmp_path / "r.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert (tmp_path / "r.csv").read_text(encoding="utf-8-sig") == to_csv(report)
    write_report(report, tmp_path / "r.xlsx")
    assert sheet_slugs(load_workbook(tmp_path / "r.xlsx"))[:2] == ["cover", "summary"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["r.csv", "r.xlsx"]  # no temp files
