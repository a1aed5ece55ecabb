"""Real statements as banks export them (issue 13): signed amounts and inflows,
PDFs and images refused, the closest layout named, a forced layout, split
counterparts, the bank's serial, repeated references, the statement's period
and its own totals and balance."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from aggregates.errors import InvalidInput
from ledger.reconcile import reconcile, to_dict
from ledger.reconcile.checks import Period, balance_check, period_from_name
from ledger.reconcile.layout import get_layout
from ledger.reconcile.lines import Movement
from ledger.reconcile.plan import split_counterpart
from ledger.reconcile.statement import parse_statement
from tests.reconcile.test_reconcile import ledger, line, pay


def write(tmp_path: Path, text: str, name: str = "s.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


CMB_APP = (
    "记账日期,货币,交易金额,联机余额,交易摘要,对手信息,客户摘要\n"
    '2026-03-05,CNY,"-100,000.00","900,000.00",转账汇款,西藏大学 5400012345678901234,PZ-001\n'
    '2026-03-06,CNY,"2,000.00","902,000.00",退回,西藏大学 5400012345678901234,退回\n'
    '2026-03-07,CNY,"-50.00","901,950.00",转账汇款,西藏大学5400012345678901234,手续费\n'
)


def test_a_signed_column_reads_payments_and_keeps_inflows_apart(tmp_path: Path) -> None:
    parsed = parse_statement(write(tmp_path, CMB_APP))
    assert parsed.layout == "cmb-app"
    assert [(ln.line, ln.amount) for ln in parsed.lines] == [
        (2, Decimal("100000.00")),
        (4, Decimal("50.00")),
    ]
    assert [(ln.line, ln.amount, ln.direction) for ln in parsed.inflows] == [
        (3, Decimal("2000.00"), "in")
    ]
    # the counterpart cell's name and account are split
    assert [(ln.payee, ln.account) for ln in parsed.lines] == [
        ("西藏大学", "5400012345678901234"),
        ("西藏大学", "5400012345678901234"),
    ]
    assert parsed.errors == []
    assert [c.ok for c in parsed.checks()] == [True]  # the balance


def test_an_inflow_is_never_matched_as_a_payment(tmp_path: Path) -> None:
    # given a ledger payment of 2,000.00 on the day money came back
    src = ledger(pay("PZ-001"), pay("PZ-009", "2000.00", date(2026, 3, 6)))
    report = reconcile(src, parse_statement(write(tmp_path, CMB_APP)))
    # then the inflow of 2,000.00 does not pay it
    assert [x.voucher for x in report.ledger_only] == ["PZ-009"]
    assert report.inflows == 1


@pytest.mark.parametrize(
    ("name", "head", "what"),
    [
        ("s.pdf", b"%PDF-1.7\n", "is a PDF"),
        ("s.csv", b"%PDF-1.4\n", "is a PDF"),
        ("s.png", b"\x89PNG\r\n\x1a\n", "is an image"),
        ("s.jpg", b"\xff\xd8\xff\xe0", "is an image"),
    ],
)
def test_a_pdf_or_an_image_says_what_to_export(
    tmp_path: Path, name: str, head: bytes, what: str
) -> None:
    path = tmp_path / name
    path.write_bytes(head + b"\x00" * 64)
    with pytest.raises(InvalidInput, match=f"{what}.*CSV, XLS or XLSX") as e:
        parse_statement(path)
    assert "\n" not in str(e.value)


def test_no_fit_names_the_closest_layout(tmp_path: Path) -> None:
    # (no date column the generic reading knows: 交易时刻; no amount: 转入额 / 转出额)
    text = "凭证号,交易时刻,对方单位,对方账号,转入额,转出额,余额,用途\n1,x,y,z,,1.00,2.00,u\n"
    with pytest.raises(InvalidInput) as e:
        parse_statement(write(tmp_path, text))
    message = str(e.value)
    assert message.startswith("no header row in statement")
    assert "closest is 'icbc-corporate'" in message and "missing" in message


def test_a_forced_layout_reads_by_it_or_says_what_is_missing(tmp_path: Path) -> None:
    path = write(tmp_path, CMB_APP)
    assert parse_statement(path, layout=get_layout("cmb-app")).layout == "cmb-app"
    with pytest.raises(InvalidInput, match=r"does not fit layout 'abc-debit'.*missing"):
        parse_statement(path, layout=get_layout("abc-debit"))


def test_date_times_in_the_date_column(tmp_path: Path) -> None:
    text = (
        "对方账号\t交易时间\t借贷标志\t对方单位\t对方行号\t用途\t摘要\t附言\t发生额\t余额\t币种\n"
        "1\t2026-03-05 10:15:02\t借\t甲\t1\tPZ-001\t网银\t\t10.00\t90.00\t人民币\n"
    )
    parsed = parse_statement(write(tmp_path, text, encoding="gbk"))
    assert parsed.layout == "icbc-corporate-dc"
    assert parsed.lines[0].date == date(2026, 3, 5)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("西藏大学5400012345678901234", ("西藏大学", "5400012345678901234")),
        ("张三 6222024400001111222", ("张三", "6222024400001111222")),
        ("6222024400001111222 张三", ("张三", "6222024400001111222")),
        ("西藏大学", ("西藏大学", None)),
        ("第3研究所", ("第3研究所", None)),
    ],
)
def test_a_counterpart_cell_is_split(cell: str, expected: tuple[str, str | None]) -> None:
    assert split_counterpart(cell) == expected


def test_the_banks_serial_is_not_a_voucher_and_does_not_block_payee_matching(
    tmp_path: Path,
) -> None:
    # given an ICBC corporate export whose 凭证号 is the bank's, equal to a ledger voucher
    text = (
        "凭证号,交易时间,对方单位,对方账号,转入金额,转出金额,余额,用途,摘要,附言\n"
        'PZ-002,2026-03-05 10:00:00,西藏大学,1,,"100,000.00",0.00,科研经费,转账,\n'
    )
    src = ledger(pay("PZ-001"), pay("PZ-002", "5.00"))
    report = reconcile(src, parse_statement(write(tmp_path, text)))
    # then the line is PZ-001's by payee, amount and date, never PZ-002's
    assert [(m.payment.voucher, m.by) for m in report.matches] == [("PZ-001", "payee")]
    assert [x.voucher for x in report.ledger_only] == ["PZ-002"]


def test_a_voucher_in_any_free_text_column(tmp_path: Path) -> None:
    text = (
        "凭证号,交易时间,对方单位,对方账号,转入金额,转出金额,余额,用途,摘要,附言\n"
        '0001,2026-03-05 10:00:00,某公司,1,,"100,000.00",0.00,科研经费,转账,付 PZ-001\n'
    )
    report = reconcile(ledger(pay("PZ-001")), parse_statement(write(tmp_path, text)))
    assert [(m.payment.voucher, m.by) for m in report.matches] == [("PZ-001", "reference")]


def test_a_reference_paid_twice_is_a_duplicate_even_unknown_to_the_ledger() -> None:
    lines = [line(2, "PZ-404", "10.00"), line(3, "PZ-404", "10.00"), line(4, "PZ-405", "1.00")]
    report = reconcile(ledger(), lines)
    data = to_dict(report)
    assert data["duplicates"] == [{"voucher": "PZ-404", "where": "statement", "count": 2}]
    assert report.duplicates[0].lines == (2, 3)
    assert [x.line for x in report.statement_only] == [2, 4]


def test_the_period_bounds_the_payments_expected(tmp_path: Path) -> None:
    # given a March statement (period in its preamble) and a ledger with a May payment
    text = (
        "某银行 对公账户交易明细\n起止日期：2026-03-01 至 2026-03-31\n"
        "交易日期,凭证号,摘要,对方户名,借方发生额,贷方发生额\n"
        '2026-03-05,PZ-001,拨款,西藏大学,"100,000.00",\n'
    )
    src = ledger(pay("PZ-001"), pay("PZ-005", on=date(2026, 5, 5)))
    report = reconcile(src, parse_statement(write(tmp_path, text, encoding="gbk")))
    # then May's payment is not missing from it
    assert report.ledger_only == []
    data = to_dict(report)
    assert data["period"] == {"from": "2026-03-01", "to": "2026-03-31"}
    (check,) = [c for c in data["statement_checks"] if c["check"] == "period"]
    assert check["ok"] and "1 ledger payment(s) outside it" in check["detail"]
    # and a period given explicitly wins; lines outside it fail the check
    april = Period(date(2026, 4, 1), date(2026, 5, 31), "options")
    report = reconcile(src, parse_statement(write(tmp_path, text, encoding="gbk")), period=april)
    assert [x.voucher for x in report.ledger_only] == ["PZ-005"]
    (check,) = [c for c in report.statement_checks if c.check == "period"]
    assert not check.ok and "line 4 (2026-03-05)" in check.detail
    assert report.has_discrepancies


def test_a_totals_line_that_does_not_add_up_fails(tmp_path: Path) -> None:
    text = (
        "交易日期,凭证号,摘要,对方户名,借方发生额,贷方发生额\n"
        '2026-03-05,PZ-001,拨款,西藏大学,"100,000.00",\n'
        '合计,,,,"100,001.00",0.00\n'
    )
    parsed = parse_statement(write(tmp_path, text, encoding="gbk"))
    (total,) = parsed.checks()
    assert (total.check, total.ok) == ("total", False)
    assert "100,001.00 ≠ 100,000.00" in total.detail


def test_balance_breaks_are_named_and_newest_first_exports_read() -> None:
    d = Decimal
    good = [Movement(1, d(0), d(0), d(100)), Movement(2, d(10), d(0), d(90))]
    assert balance_check(good) is not None and balance_check(good).ok  # type: ignore[union-attr]
    newest_first = list(reversed(good))
    assert balance_check([Movement(i + 1, m.outflow, m.inflow, m.balance)
                          for i, m in enumerate(newest_first)]).ok  # type: ignore[union-attr]  # fmt: skip
    bad = [*good, Movement(3, d(10), d(0), d(85))]
    check = balance_check(bad)
    assert check is not None and not check.ok and "line 3 shows 85.00" in check.detail


def test_the_period_in_a_file_name() -> None:
    period = period_from_name("交易明细_1546_20260301_20260331.xls")
    assert period is not None and (period.start, period.end) == (
        date(2026, 3, 1),
        date(2026, 3, 31),
    )
    assert period_from_name("对账单-2026.csv") is None


# --- layouts no shipped file describes: the generic reading ---------------------------

UNSEEN = {
    # CMB 企业网银-like: 交易日, 借方金额 / 贷方金额, 收/付方名称, 流水号, several free texts
    "cmb-corporate-like": (
        "交易日,交易时间,起息日,交易类型,借方金额,贷方金额,余额,摘要,流水号,业务名称,用途,"
        "收/付方名称,收/付方帐号\n"
        "20260305,10:00:00,20260305,汇出,100000.00,,900000.00,汇款,G001,企业银行,PZ-001,"
        "西藏大学,5400012345678901234\n"
        "20260306,02:00:00,20260306,利息,,12.00,900012.00,结息,G002,,,,\n"
    ),
    # a signed column, payments negative, the counterpart run together with its account
    "signed-like": (
        "记账日期,交易金额,账户余额,交易描述,对手信息\n"
        "2026-03-05,-100000.00,900000.00,付 PZ-001,西藏大学5400012345678901234\n"
        "2026-03-06,+12.00,900012.00,利息,\n"
    ),
    # BOC 企业网银-like: bilingual headers, one signed amount, payer and payee both
    "bilingual-like": (
        "交易日期[ Transaction Date ],交易金额[ Trade Amount ],"
        "交易后余额[ After-transaction balance ],"
        "付款人名称[ Payer's Name ],收款人名称[ Payee's Name ],用途[ Purpose ]\n"
        "20260305,-100000.00,900000.00,拉萨市科技局,西藏大学,PZ-001 拨款\n"
        "20260306,12.00,900012.00,中国银行,拉萨市科技局,结息\n"
    ),
    # two columns a bank names differently: 支出金额 beside 存入金额
    "out-in-like": (
        "交易日期,摘要,支出金额,存入金额,账户余额,对方户名\n"
        "2026-03-05,PZ-001,100000.00,,900000.00,西藏大学\n"
        "2026-03-06,利息,,12.00,900012.00,\n"
    ),
    # a direction column written 借 Dr / 贷 Cr, a currency's totals line
    "direction-like": (
        "交易日期,借贷,交易金额,对方户名,附言\n"
        "2026-03-05,借 Dr,100000.00,西藏大学,PZ-001\n"
        "2026-03-06,贷 Cr,12.00,,利息\n"
        "人民币合计,,100012.00,,\n"
    ),
}


@pytest.mark.parametrize("name", sorted(UNSEEN))
def test_layouts_not_shipped_read_generically(tmp_path: Path, name: str) -> None:
    parsed = parse_statement(write(tmp_path, UNSEEN[name], encoding="gbk"))
    assert parsed.layout == "generic" and parsed.errors == []
    assert [(ln.amount, ln.date) for ln in parsed.lines] == [
        (Decimal("100000.00"), date(2026, 3, 5))
    ]
    assert [ln.amount for ln in parsed.inflows] == [Decimal("12.00")]
    assert all(c.ok for c in parsed.checks())
    report = reconcile(ledger(pay("PZ-001")), parsed)
    assert report.matched == 1 and not report.has_discrepancies


def test_a_bank_number_in_a_voucher_column_does_not_block_the_payee(tmp_path: Path) -> None:
    # given a generic statement whose 凭证号 is the bank's number (digits only)
    text = (
        "交易日期,凭证号,对方户名,借方发生额,贷方发生额\n2026-03-05,0012345,西藏大学,100000.00,\n"
    )
    report = reconcile(
        ledger(pay("PZ-001")), parse_statement(write(tmp_path, text, encoding="gbk"))
    )
    # then the line is paired by payee, amount and date
    assert [(m.payment.voucher, m.by) for m in report.matches] == [("PZ-001", "payee")]


def test_an_xls_that_is_a_web_page_is_read_as_its_table(tmp_path: Path) -> None:
    # given a bank's ".xls" that is an HTML table (GBK, declared in a meta tag)
    html = (
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=gbk"></head>'
        "<body><table><tr><td colspan=4>账户明细 起止日期：2026-03-01 至 2026-03-31</td></tr>"
        "<tr><th>交易日期</th><th>摘要</th><th>对方户名</th><th>支出金额</th><th>收入金额</th></tr>"
        "<tr><td>2026-03-05</td><td>拨付 PZ-001</td><td>西藏大学</td><td>100,000.00</td>"
        "<td></td></tr>"
        "<tr><td>2026-03-06</td><td>利息</td><td></td><td></td><td>12.00</td></tr>"
        "</table></body></html>"
    )
    parsed = parse_statement(write(tmp_path, html, name="明细.xls", encoding="gbk"))
    assert (parsed.kind, parsed.encoding, parsed.layout) == ("html", "gbk", "generic")
    assert [(ln.amount, ln.payee) for ln in parsed.lines] == [(Decimal("100000.00"), "西藏大学")]
    assert len(parsed.inflows) == 1
    assert parsed.period is not None and parsed.period.end == date(2026, 3, 31)


def test_a_workbook_whose_first_sheet_is_a_cover(tmp_path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    wb.active.append(["某银行 账户对账单"])
    table = wb.create_sheet("明细")
    table.append(["交易日期", "摘要", "金额", "借贷标志"])
    table.append([date(2026, 3, 5), "PZ-001", 100000.5, "借"])
    path = tmp_path / "s.xlsx"
    wb.save(path)
    parsed = parse_statement(path)
    assert parsed.layout == "generic-direction"
    assert [(ln.amount, ln.date) for ln in parsed.lines] == [
        (Decimal("100000.50"), date(2026, 3, 5))
    ]


def test_an_xls_that_is_an_xml_spreadsheet(tmp_path: Path) -> None:
    xml = (
        '<?xml version="1.0" encoding="utf-8"?>\n'
        '<Workbook xmlns="urn:schemas-microsoft-com:office:spreadsheet" '
        'xmlns:ss="urn:schemas-microsoft-com:office:spreadsheet"><Worksheet ss:Name="明细">'
        '<Table><Row><Cell ss:MergeAcross="2"><Data ss:Type="String">交易明细</Data></Cell></Row>'
        "<Row><Cell><Data>交易日期</Data></Cell><Cell><Data>摘要</Data></Cell>"
        "<Cell><Data>金额</Data></Cell><Cell><Data>借贷标志</Data></Cell></Row>"
        "<Row><Cell><Data>2026-03-05</Data></Cell><Cell><Data>PZ-001</Data></Cell>"
        '<Cell><Data ss:Type="Number">100000</Data></Cell><Cell><Data>借</Data></Cell></Row>'
        "</Table></Worksheet></Workbook>"
    )
    parsed = parse_statement(write(tmp_path, xml, name="明细.xls"))
    assert parsed.layout == "generic-direction"
    assert [(ln.amount, ln.memo) for ln in parsed.lines] == [(Decimal("100000.00"), "PZ-001")]
