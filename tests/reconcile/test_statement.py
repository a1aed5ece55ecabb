"""Statement files as banks and the treasury export them (ledger.statement)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from aggregates.errors import InvalidInput
from ledger.reconcile.statement import parse_amount, parse_statement, parse_statement_date


def write(tmp_path: Path, text: str, encoding: str = "utf-8", name: str = "s.csv") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


# --- encodings and headers ------------------------------------------------------


def test_utf8_english_headers(tmp_path: Path) -> None:
    # given a plain UTF-8 export with English headers
    path = write(
        tmp_path,
        "date,reference,payee,amount,account\n"
        "2026-03-05,PZ-001,Lhasa University,500000.00,6217000011112222\n"
        '2026-03-06,PZ-002,某科技有限公司,"1,250.50",\n',
    )
    # when it is parsed
    parsed = parse_statement(path)
    # then every line is read with exact money
    assert parsed.errors == []
    assert parsed.encoding == "utf-8"
    assert [ln.reference for ln in parsed.lines] == ["PZ-001", "PZ-002"]
    assert parsed.lines[0].amount == Decimal("500000.00")
    assert parsed.lines[1].amount == Decimal("1250.50")
    assert parsed.lines[1].payee == "某科技有限公司"
    assert parsed.lines[0].account == "6217000011112222"
    assert parsed.lines[1].account is None
    assert [ln.line for ln in parsed.lines] == [2, 3]


def test_utf8_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "date,voucher,amount\n2026-03-05,PZ-001,10.00\n", "utf-8-sig")
    parsed = parse_statement(path)
    assert parsed.encoding == "utf-8"
    assert parsed.lines[0].references == ("PZ-001",)


def test_gbk_chinese_headers_preamble_split_columns_and_totals(tmp_path: Path) -> None:
    # given a GBK export as a Chinese bank writes it
    text = (
        "中国某银行 对公账户交易明细\r\n"
        "账号：5400 1234 5678,,,,,\r\n"
        "起止日期：2026-01-01 至 2026-03-31,,,,,\r\n"
        "\r\n"
        "交易日期 , 凭证号 ,摘要,对方户名,借方发生额,贷方发生额\r\n"
        ' 2026-03-05 ,\tPZ-001\t,拨付运行费,西藏大学,"500,000.00",-\r\n'
        '2026-03-06,-,利息收入,-,-,"1,234.56"\r\n'
        '2026-03-07,,科技经费拨款,拉萨市某研究院,"20,000.00",\r\n'
        '合计,,,,"520,000.00","1,234.56"\r\n'
    )
    path = write(tmp_path, text, "gbk")
    # when it is parsed
    parsed = parse_statement(path)
    # then the encoding is detected, the preamble kept aside, the inflow and totals skipped
    assert parsed.encoding == "gb18030"
    assert parsed.header_line == 5
    assert parsed.preamble[0] == "中国某银行 对公账户交易明细"
    assert parsed.errors == []
    assert parsed.skipped_inflows == 1
    assert parsed.skipped_totals == 1
    assert [(ln.line, ln.amount) for ln in parsed.lines] == [
        (6, Decimal("500000.00")),
        (8, Decimal("20000.00")),
    ]
    first, second = parsed.lines
    assert first.references == ("PZ-001",)
    assert first.memo == "拨付运行费"
    assert first.payee == "西藏大学"
    assert second.references == ()  # "" is no reference
    assert second.reference == "科技经费拨款"  # shown as the memo


def test_an_undecodable_line_is_a_bad_line_not_the_end_of_the_file(tmp_path: Path) -> None:
    """A GBK statement with two stray bytes in one line: that line is
    reported with its number; every other line is read."""
    lines = [
        "交易日期,凭证号,摘要,对方户名,金额",
        "2026-03-05,PZ-001,拨付运行费,西藏大学,500.00",
        "2026-03-06,PZ-002,拨付运行费,拉萨市某研究院,600.00",
        "2026-03-07,PZ-003,拨付运行费,西藏净土农业科技有限公司,700.00",
    ]
    data = "\r\n".join(lines).encode("gbk").replace(b"PZ-002", b"PZ-002\xff\x80")
    path = tmp_path / "bad.csv"
    path.write_bytes(data)
    parsed = parse_statement(path)
    assert parsed.encoding == "gb18030"
    assert [ln.references for ln in parsed.lines] == [("PZ-001",), ("PZ-003",)]
    assert parsed.lines[1].payee == "西藏净土农业科技有限公司"
    assert [(b.line, "undecodable" in b.reason) for b in parsed.errors] == [(3, True)]


def test_a_gbk_line_in_a_utf8_file_is_reported_not_read_as_mojibake(tmp_path: Path) -> None:
    head = "交易日期,凭证号,对方户名,金额\n2026-03-05,PZ-001,西藏大学,500.00\n".encode()
    stray = "2026-03-06,PZ-002,拉萨市某研究院,600.00\n".encode("gbk")
    tail = "2026-03-07,PZ-003,西藏净土农业科技有限公司,700.00\n".encode()
    path = tmp_path / "mixed.csv"
    path.write_bytes(head + stray + tail)
    parsed = parse_statement(path)
    assert parsed.encoding == "utf-8"
    assert [ln.payee for ln in parsed.lines] == ["西藏大学", "西藏净土农业科技有限公司"]
    assert [b.line for b in parsed.errors] == [3]


@pytest.mark.parametrize(
    ("outflow", "inflow"),
    [
        ("记账金额(支出)", "记账金额(收入)"),
        ("记账金额（支出）", "记账金额（收入）"),  # full-width brackets, as exported
        ("交易金额(支出)", "交易金额(收入)"),
        ("借方发生额(元)", "贷方发生额(元)"),
    ],
)
def test_split_outflow_inflow_columns(tmp_path: Path, outflow: str, inflow: str) -> None:
    path = write(
        tmp_path,
        f"交易日期,摘要,对方户名,{outflow},{inflow}\n"
        "2026-03-05,PZ-001,甲,100.00,\n"
        "2026-03-06,退款,乙,,50.00\n"
        "2026-03-07,PZ-002,丙,0.00,7.00\n",
        "gbk",
    )
    parsed = parse_statement(path)
    assert [ln.memo for ln in parsed.lines] == ["PZ-001"]
    assert parsed.skipped_inflows == 2
    assert parsed.errors == []


def test_an_outflow_column_alone_is_the_amount(tmp_path: Path) -> None:
    path = write(tmp_path, "交易日期,收款单位,借方发生额\n2026-03-05,甲,99.00\n", "gbk")
    assert parse_statement(path).lines[0].amount == Decimal("99.00")


def test_tab_separated_file(tmp_path: Path) -> None:
    path = write(tmp_path, "交易日期\t金额\t对方户名\n2026-03-05\t1,000.00\t甲\n", "gb18030")
    parsed = parse_statement(path)
    assert parsed.lines[0].amount == Decimal("1000.00")
    assert parsed.lines[0].payee == "甲"


def test_utf16_with_bom(tmp_path: Path) -> None:
    path = write(tmp_path, "date\tamount\n2026-03-05\t12.30\n", "utf-16")
    assert parse_statement(path).lines[0].amount == Decimal("12.30")


def test_excel_text_guards_are_removed(tmp_path: Path) -> None:
    path = write(tmp_path, 'date,voucher,amount,account\n2026-03-05,="PZ-001",1.00,\'6217\n')
    line = parse_statement(path).lines[0]
    assert line.references == ("PZ-001",)
    assert line.account == "6217"


def test_reference_columns_in_priority_order(tmp_path: Path) -> None:
    path = write(tmp_path, "摘要,凭证号,date,voucher,amount\n说明,B,2026-03-05,A,1.00\n")
    line = parse_statement(path).lines[0]
    assert line.references == ("A", "B")  # voucher before 凭证号
    assert line.memo == "说明"


def test_no_header_row_is_invalid_input(tmp_path: Path) -> None:
    path = write(tmp_path, "when,how much\n2026-03-05,1.00\n")
    with pytest.raises(InvalidInput, match="no header row"):
        parse_statement(path)


def test_missing_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read statement"):
        parse_statement(tmp_path / "nope.csv")


# --- bad lines -----------------------------------------------------------------------


def test_bad_lines_report_physical_line_numbers_and_do_not_stop_the_rest(tmp_path: Path) -> None:
    # given a file whose second record spans two physical lines (a quoted newline)
    text = (
        "preamble: account 1\n"  # line 1
        "date,reference,payee,amount\n"  # line 2
        '2026-03-05,PZ-001,"Lhasa\nUniversity",10.00\n'  # lines 3-4
        "2026-13-01,PZ-002,x,10.00\n"  # line 5: no such date
        "2026-03-06,PZ-003,x,ten\n"  # line 6: unreadable amount
        "2026-03-07,PZ-004,x,\n"  # line 7: no amount
        "yesterday,PZ-005,x,1.00\n"  # line 8: unreadable date
        "2026-03-08,PZ-006,x,1.005\n"  # line 9: three decimals
        "2026-03-09,PZ-007,x,-5.00\n"  # line 10: negative
        '2026-03-10,PZ-008,x,"1,2345.00"\n'  # line 11: bad grouping
        "2026-03-11,PZ-009,x,7.00\n"  # line 12: fine
    )
    parsed = parse_statement(write(tmp_path, text))
    assert [ln.line for ln in parsed.lines] == [3, 12]
    assert parsed.lines[0].payee == "Lhasa\nUniversity"
    reasons = {b.line: b.reason for b in parsed.errors}
    assert sorted(reasons) == [5, 6, 7, 8, 9, 10, 11]
    assert "no such date" in reasons[5]
    assert "unreadable amount" in reasons[6]
    assert reasons[7] == "no amount"
    assert "unreadable date" in reasons[8]
    assert "more than two decimal places" in reasons[9]
    assert "negative amount" in reasons[10]
    assert "thousands separator" in reasons[11]
    assert str(parsed.errors[0]) == f"line 5: {reasons[5]}"


def test_footer_after_totals_is_not_a_bad_line(tmp_path: Path) -> None:
    text = (
        "交易日期,摘要,金额\n"
        "2026-03-05,PZ-001,10.00\n"
        "本页合计,,10.00\n"
        "打印日期：2026-04-01,,\n"
        "经办人：张三,,\n"
    )
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    assert parsed.errors == []
    assert parsed.skipped_totals == 1
    assert len(parsed.lines) == 1


def test_trailing_notes_without_totals_are_not_bad_lines(tmp_path: Path) -> None:
    text = "date,reference,amount\n2026-03-05,PZ-001,10.00\nprinted by the bank,,\n"
    parsed = parse_statement(write(tmp_path, text))
    assert parsed.errors == []


def test_a_note_followed_by_payments_is_reported(tmp_path: Path) -> None:
    text = "date,reference,amount\nsomething odd,,\n2026-03-05,PZ-001,10.00\n"
    parsed = parse_statement(write(tmp_path, text))
    assert [b.line for b in parsed.errors] == [2]


def test_multi_page_export_with_page_totals_and_repeated_header(tmp_path: Path) -> None:
    text = (
        "交易日期,凭证号,金额\n"
        "2026-03-05,PZ-001,10.00\n"
        "本页合计,,10.00\n"
        "交易日期,凭证号,金额\n"
        "2026-03-06,PZ-002,20.00\n"
        "2026-03-07,PZ-003,abc\n"
        "总计：2笔,,30.00\n"
    )
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    assert [ln.references for ln in parsed.lines] == [("PZ-001",), ("PZ-002",)]
    assert [b.line for b in parsed.errors] == [6]
    assert parsed.skipped_totals == 2


def test_dated_totals_line_is_skipped(tmp_path: Path) -> None:
    text = "交易日期,摘要,金额\n2026-03-05,PZ-001,10.00\n2026-03-31,本月合计,10.00\n"
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    assert len(parsed.lines) == 1
    assert parsed.skipped_totals == 1


def test_english_total_line(tmp_path: Path) -> None:
    text = "date,reference,amount\n2026-03-05,PZ-001,10.00\nTotal,,10.00\n"
    parsed = parse_statement(write(tmp_path, text))
    assert parsed.errors == [] and parsed.skipped_totals == 1


# --- cells ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "2026-03-05",
        "2026/3/5",
        "2026/03/05",
        "20260305",
        "2026.03.05",
        "2026-3-5",
        "2026年3月5日",
        "2026年03月05日 10:22:33",
        "2026-03-05 10:22",
        "2026-03-05T10:22:33",
        "2026/3/5 9:05:00",
        "20260305 102233",
        "\t 2026-03-05 \t",
        "２０２６－０３－０５",  # full-width
    ],
)
def test_dates_in_the_usual_forms(text: str) -> None:
    assert parse_statement_date(text) == date(2026, 3, 5)


@pytest.mark.parametrize("text", ["2026-02-30", "05/03/2026", "March 5", "2026-03", "-", ""])
def test_bad_dates(text: str) -> None:
    with pytest.raises(ValueError):
        parse_statement_date(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1,234,567.80", "1234567.80"),
        ("1，234，567.80", "1234567.80"),  # full-width commas
        ("¥1,234.50", "1234.50"),
        ("￥1,234.50", "1234.50"),
        ("1234.5元", "1234.50"),
        ("RMB 100", "100.00"),
        ("  500000  ", "500000.00"),
        ("\t42.10\t", "42.10"),
        ("0.30", "0.30"),
        ("1234.500", "1234.50"),
        ("(1,000.00)", "-1000.00"),
        ("-12.00", "-12.00"),
    ],
)
def test_amounts(text: str, expected: str) -> None:
    value = parse_amount(text)
    assert value == Decimal(expected)
    assert value is not None and value.as_tuple().exponent == -2


@pytest.mark.parametrize("text", ["-", "", "  ", "--", "—"])
def test_empty_amount_cells(text: str) -> None:
    assert parse_amount(text) is None


@pytest.mark.parametrize("text", ["abc", "1.2.3", "12,34", "1.001", "1e5", "NaN"])
def test_bad_amounts(text: str) -> None:
    with pytest.raises(ValueError):
        parse_amount(text)


def test_a_debit_credit_flag_beside_one_amount_column(tmp_path: Path) -> None:
    text = (
        "交易日期,摘要,金额,借贷标志\n"
        "2026-03-05,PZ-001,100.00,借\n"
        "2026-03-06,利息,5.00,贷\n"
        "2026-03-07,PZ-002,7.00,?\n"
    )
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    assert [ln.memo for ln in parsed.lines] == ["PZ-001"]
    assert parsed.skipped_inflows == 1
    assert [(b.line, b.reason) for b in parsed.errors] == [(4, "unknown debit/credit flag '?'")]


@pytest.mark.parametrize(
    "header",
    [
        "Date,Voucher No.,Payee,Amount",
        "记账日期,凭证号码,收款人名称,交易金额",
        "DATE , REFERENCE , PAYEE , AMOUNT (CNY)",
    ],
)
def test_common_header_spellings(tmp_path: Path, header: str) -> None:
    parsed = parse_statement(write(tmp_path, f"{header}\n2026-03-05,PZ-001,甲,1.00\n", "gbk"))
    line = parsed.lines[0]
    assert (line.references, line.payee, line.amount) == (("PZ-001",), "甲", Decimal("1.00"))


# --- messy exports: subtotals, balances, oversized cells -----------------------------


def test_bad_lines_after_a_subtotal_are_still_reported(tmp_path: Path) -> None:
    # given a page subtotal followed by a bad date, a bad amount and a good payment
    text = (
        "交易日期,凭证号,摘要,对方户名,借方发生额,贷方发生额\n"  # line 1
        "2026-03-05,PZ-001,运行费,甲,100.00,\n"  # line 2
        "本页小计,,,,100.00,\n"  # line 3
        "2026-03-40,PZ-002,运行费,甲,200.00,\n"  # line 4: no such date
        "2026-03-06,PZ-003,运行费,甲,abc,\n"  # line 5: unreadable amount
        "2026-03-07,PZ-004,运行费,甲,300.00,\n"  # line 6: fine
        "合计,,,,600.00,\n"  # line 7
        "2026-03-08,PZ-005,运行费,甲,1.005,\n"  # line 8: three decimals, after the totals
        "打印日期：2026-04-01,,,,,\n"  # line 9: a footer (no date, no amount)
        "经办人：张三,,,,,\n"  # line 10: a footer
    )
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    # then every bad payment line is reported with its line number, the rest is read
    assert [ln.line for ln in parsed.lines] == [2, 6]
    assert [b.line for b in parsed.errors] == [4, 5, 8]
    assert "no such date" in parsed.errors[0].reason
    assert "unreadable amount" in parsed.errors[1].reason
    assert "more than two decimal places" in parsed.errors[2].reason
    assert parsed.skipped_totals == 2


@pytest.mark.parametrize(
    "label",
    [
        "合　　计",
        "合 计",
        "合计金额",
        "合计笔数：2",
        "本页合计",
        "总计",
        "小计",
        "本页小计",
        "合计(元)",
    ],
)
@pytest.mark.parametrize("where", ["date", "memo"])
def test_totals_labels_with_blanks_and_suffixes_are_skipped(
    tmp_path: Path, label: str, where: str
) -> None:
    totals = f"{label},,,10.00" if where == "date" else f"2026-03-31,{label},,10.00"
    text = f"交易日期,摘要,对方户名,金额\n2026-03-05,PZ-001,甲,10.00\n{totals}\n"
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    assert parsed.errors == []
    assert parsed.skipped_totals == 1
    assert [ln.line for ln in parsed.lines] == [2]


def test_a_payee_that_starts_like_a_totals_label_is_a_payment(tmp_path: Path) -> None:
    text = "交易日期,摘要,对方户名,金额\n2026-03-05,累计拨付,总计算机公司,10.00\n"
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    assert [ln.payee for ln in parsed.lines] == ["总计算机公司"]
    assert parsed.skipped_totals == 0


@pytest.mark.parametrize(
    "row",
    [
        "期初余额,,,,,-,10000.00",  # label in the date column, a balance only
        ",期初余额,,,,,10000.00",  # label in the memo column, no date
        "2026-03-01,期初余额,,,,,10000.00",  # dated
        "承前页,,,,500.00,20.00,9520.00",  # a page's figures carried forward
        "2026-03-31,过次页,,,500.00,20.00,9520.00",
        "期末余额,,,,,,9000.00",
        "期　末　余　额,,,,,,9000.00",
        "2026-03-31,上页结转,,,,,9000.00",
    ],
)
def test_balance_and_carried_forward_lines_are_not_payments(tmp_path: Path, row: str) -> None:
    # given a balance-only line among the payments
    text = (
        "交易日期,摘要,凭证号,对方户名,借方发生额,贷方发生额,余额\n"
        f"{row}\n"
        "2026-03-05,运行费,PZ-001,甲,100.00,-,9900.00\n"
        f"{row}\n"
    )
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    # then it is neither a payment nor a bad line
    assert parsed.errors == []
    assert [ln.references for ln in parsed.lines] == [("PZ-001",)]
    assert parsed.skipped_balances == 2


def test_a_payment_whose_memo_mentions_a_balance_is_still_a_payment(tmp_path: Path) -> None:
    text = "交易日期,摘要,对方户名,金额\n2026-03-05,余额宝转入,甲,10.00\n"
    parsed = parse_statement(write(tmp_path, text, "gbk"))
    assert [ln.memo for ln in parsed.lines] == ["余额宝转入"]
    assert parsed.skipped_balances == 0


def test_a_cell_over_the_csv_field_limit_is_a_bad_line(tmp_path: Path) -> None:
    # given a line with a 200,000-character memo between two good lines
    huge = "x" * 200_000
    text = (
        "date,reference,memo,amount\n"  # line 1
        "2026-03-05,PZ-001,ok,10.00\n"  # line 2
        f"2026-03-06,PZ-002,{huge},20.00\n"  # line 3
        "2026-03-07,PZ-003,ok,30.00\n"  # line 4
    )
    parsed = parse_statement(write(tmp_path, text))
    # then that line is reported with its number, and the others are read
    assert [ln.references for ln in parsed.lines] == [("PZ-001",), ("PZ-003",)]
    assert [b.line for b in parsed.errors] == [3]
    assert "131,072" in parsed.errors[0].reason


def test_an_unclosed_quote_swallowing_a_huge_span_is_a_bad_line(tmp_path: Path) -> None:
    filler = "".join(f"note {i}\n" for i in range(30_000))  # > 131,072 characters
    text = (
        "date,reference,memo,amount\n"
        "2026-03-05,PZ-001,ok,10.00\n"
        f'2026-03-06,PZ-002,"{filler}'  # the quote is never closed
    )
    parsed = parse_statement(write(tmp_path, text))
    assert [ln.references for ln in parsed.lines] == [("PZ-001",)]
    assert parsed.errors and parsed.errors[0].line == 3
    assert "131,072" in parsed.errors[0].reason
