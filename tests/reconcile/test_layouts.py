"""Statement layouts as data (ledger.reconcile.layout): every shipped TOML
loads, every fixture in tests/fixtures/statements/ is detected as its layout,
and each layout's column choices read its fixture consistently (running
balance, totals, vouchers in a free-text column)."""

from __future__ import annotations

import csv
import io
import itertools
import re
import unicodedata
from datetime import datetime
from decimal import Decimal, InvalidOperation
from pathlib import Path

import openpyxl
import pytest
import xlrd

from aggregates.errors import InvalidInput
from ledger.reconcile.columns import normalize_header
from ledger.reconcile.layout import (
    Layout,
    closest_layout,
    describe_no_layout,
    detect_layout,
    get_layout,
    load_layout_file,
    load_layouts,
    parse_layout,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "statements"

# fixture file -> the layout it has the shape of
FIXTURE_LAYOUT = {
    "abc-debit.csv": "abc-debit",
    "boc-debit.csv": "boc-debit",
    "boc-credit.csv": "boc-credit",
    "bocom-debit.csv": "bocom-debit",
    "cmb-app.csv": "cmb-app",
    "cmb-yiwangtong.csv": "cmb-yiwangtong",
    "交易明细_1546_20260301_20260331.xls": "ccb-personal",
    "ccb-corporate.xls": "ccb-corporate",
    "spdb-debit.xls": "spdb-debit",
    "icbc-personal.csv": "icbc-personal",
    "icbc-personal-v1.csv": "icbc-personal-v1",
    "icbc-corporate.xlsx": "icbc-corporate",
    "icbc-corporate-dc.csv": "icbc-corporate-dc",
    "treasury-zero-balance.csv": "treasury-zero-balance",
    "generic-en.csv": "generic-en",
    "generic-zh.csv": "generic-zh",
    "generic-direction.csv": "generic-direction",
}
# the fixtures' own rows: three payments with vouchers, one interest inflow
PAYMENTS = [Decimal("500000.00"), Decimal("120000.00"), Decimal("35000.50")]
INTEREST = Decimal("1234.56")
VOUCHER = re.compile(r"V2026-\d{4}")
EMPTY = {"", "-", "--", "—"}

MINIMAL = """
name = "my-bank"
bank = "某银行"
description = "d"
source = "s"
formats = ["csv"]
header = ["日期", "金额", "说明"]
date_formats = ["%Y-%m-%d"]
[columns]
date = "日期"
memo = ["说明"]
[amount]
mode = "signed"
column = "金额"
"""


# --- reading a fixture as a grid of cells ---------------------------------------------


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(Decimal(repr(value)))
    return unicodedata.normalize("NFKC", str(value)).strip()


def read_grid(path: Path, layout: Layout) -> list[list[str]]:
    suffix = path.suffix.lower()
    if suffix == ".xlsx":
        book = openpyxl.load_workbook(path, read_only=True)
        sheet = book.worksheets[0]
        return [[_cell(v) for v in row] for row in sheet.iter_rows(values_only=True)]
    if suffix == ".xls":
        xsheet = xlrd.open_workbook(str(path)).sheet_by_index(0)
        return [[_cell(v) for v in xsheet.row_values(r)] for r in range(xsheet.nrows)]
    data = path.read_bytes()
    for encoding in layout.encodings:
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        rows = csv.reader(io.StringIO(text.lstrip("\ufeff")), delimiter=layout.delimiter)
        return [[_cell(c) for c in row] for row in rows]
    raise AssertionError(f"{path.name} decodes in none of {layout.encodings}")


def col(header: list[str], name: str) -> int:
    return [normalize_header(h) for h in header].index(normalize_header(name))


def money(text: str) -> Decimal:
    if text in EMPTY:
        return Decimal(0)
    try:
        return Decimal(text.replace(",", "").replace("+", "")).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise AssertionError(f"not an amount: {text!r}") from None


def is_footer(row: list[str], layout: Layout) -> bool:
    first = next((c for c in row if c), "")
    labels = (*layout.footer.totals, *layout.footer.notes)
    if any(first.startswith(label) for label in labels):
        return True
    prefix = layout.preamble.comment_prefix
    return prefix is not None and first.startswith(prefix)


def numbers_in(row: list[str]) -> set[Decimal]:
    found = set()
    for cell in row:
        for m in re.finditer(r"-?\d[\d,]*\.\d{2}", cell):
            found.add(Decimal(m.group().replace(",", "")))
    return found


# --- shipped layouts ------------------------------------------------------------------


def test_every_shipped_layout_loads_and_is_named_after_its_file() -> None:
    layouts = load_layouts()
    names = [lay.name for lay in layouts]
    assert len(names) == len(set(names)) == 17
    assert set(FIXTURE_LAYOUT.values()) == set(names)  # every layout has a fixture


def test_no_two_layouts_have_the_same_header() -> None:
    headers = [lay.normalized_header for lay in load_layouts()]
    assert len(headers) == len(set(headers))


def test_the_twelve_banks_and_the_treasury_are_covered() -> None:
    banks = " ".join(lay.bank for lay in load_layouts())
    for needle in (
        "农业银行",
        "中国银行 (BOC) 借记卡",
        "中国银行 (BOC) 信用卡",
        "交通银行",
        "招商银行 (CMB) 储蓄卡",
        "一网通",
        "建设银行 (CCB) 个人",
        "建设银行 (CCB) 对公",
        "浦东发展银行",
        "工商银行 (ICBC) 对公",
        "零余额账户",
    ):
        assert needle in banks


def test_a_constructed_layout_says_so() -> None:
    treasury = get_layout("treasury-zero-balance")
    assert treasury.constructed
    assert "constructed" in treasury.source
    assert not any(lay.constructed for lay in load_layouts() if lay is not treasury)


# --- fixtures in their real shape -----------------------------------------------------


@pytest.mark.parametrize(("fixture", "name"), sorted(FIXTURE_LAYOUT.items()))
def test_each_fixture_header_is_detected_as_its_layout(fixture: str, name: str) -> None:
    layout = get_layout(name)
    grid = read_grid(FIXTURES / fixture, layout)
    detected = [(i, detect_layout(row)) for i, row in enumerate(grid)]
    found = [(i, lay.name) for i, lay in detected if lay is not None]
    # the header row and only it is detected (a data or preamble row never is)
    assert len(found) == 1, found
    assert found[0][1] == name


@pytest.mark.parametrize(("fixture", "name"), sorted(FIXTURE_LAYOUT.items()))
def test_each_layout_reads_its_fixture_consistently(fixture: str, name: str) -> None:
    layout = get_layout(name)
    path = FIXTURES / fixture
    grid = read_grid(path, layout)
    at = next(i for i, row in enumerate(grid) if detect_layout(row) is layout)
    header, preamble = grid[at], grid[:at]
    outflows: list[Decimal] = []
    inflows: list[Decimal] = []
    balances: list[tuple[Decimal, Decimal, Decimal]] = []  # (out, in, balance)
    totals: list[list[str]] = []
    for row in grid[at + 1 :]:
        if not any(row):
            continue
        if is_footer(row, layout):
            totals.append(row)
            continue
        row = row + [""] * (len(header) - len(row))
        layout.parse_date(row[col(header, layout.columns.date)])
        a = layout.amount
        if a.mode == "signed":
            assert a.column is not None
            value = money(row[col(header, a.column)])
            out = value if (value < 0) == (a.outflow_sign == "-") else Decimal(0)
            inn = Decimal(0) if out else value
            out, inn = abs(out), abs(inn)
        elif a.mode == "out-in":
            assert a.outflow is not None and a.inflow is not None
            out = money(row[col(header, a.outflow)])
            inn = money(row[col(header, a.inflow)])
        else:
            assert a.column is not None and a.direction is not None
            value = money(row[col(header, a.column)])
            flag = re.sub(r"\s+", "", row[col(header, a.direction)]).casefold()
            outs = {re.sub(r"\s+", "", v).casefold() for v in a.outflow_values}
            ins = {re.sub(r"\s+", "", v).casefold() for v in a.inflow_values}
            assert flag in outs | ins, flag
            out, inn = (value, Decimal(0)) if flag in outs else (Decimal(0), value)
        memo = " ".join(row[col(header, m)] for m in layout.columns.memo)
        if out:
            outflows.append(out)
            assert VOUCHER.search(memo), f"no voucher in the free text of {row}"
            if layout.columns.payee is not None:
                payee = row[col(header, layout.columns.payee)]
                assert payee
                assert bool(re.search(r"\d{10,}", payee)) == layout.columns.counterpart_combined
        if inn:
            inflows.append(inn)
            assert not VOUCHER.search(memo)
        if layout.columns.balance is not None:
            balances.append((out, inn, money(row[col(header, layout.columns.balance)])))
    assert outflows == PAYMENTS
    assert inflows in ([INTEREST], [])
    # the running balance adds up line by line
    for (_, _, before), (out, inn, after) in itertools.pairwise(balances):
        assert before - out + inn == after
    # a totals line, where the layout has one, carries the sum of the payments
    if layout.footer.totals:
        assert totals, "no totals line"
        assert sum(PAYMENTS) in set().union(*(numbers_in(r) for r in totals))
    # the statement's period is where the layout says
    if layout.preamble.period_markers:
        text = " ".join(" ".join(r) for r in preamble)
        assert any(m in text for m in layout.preamble.period_markers)
    if layout.filename_period is not None:
        assert re.search(layout.filename_period, fixture)


def test_gbk_fixtures_are_gbk_where_the_bank_writes_gbk() -> None:
    for fixture in ("cmb-yiwangtong.csv", "icbc-corporate-dc.csv", "treasury-zero-balance.csv"):
        data = (FIXTURES / fixture).read_bytes()
        with pytest.raises(UnicodeDecodeError):
            data.decode("utf-8")
        data.decode("gbk")


def test_every_fixture_is_listed_in_sources() -> None:
    sources = (FIXTURES / "SOURCES.md").read_text(encoding="utf-8")
    for fixture in FIXTURE_LAYOUT:
        assert fixture in sources


# --- detection ------------------------------------------------------------------------


def test_detection_ignores_padding_order_and_added_columns() -> None:
    row = [
        "  交易时间 ",
        "凭证号\t",
        "对方单位",
        "对方账号",
        "转入金额",
        "转出金额",
        "余额",
        "用途",
        "摘要",
        "附言",
        "回单个性化信息",
    ]
    layout = detect_layout(row)
    assert layout is not None
    assert layout.name == "icbc-corporate"


def test_full_width_brackets_match() -> None:
    header = list(get_layout("ccb-corporate").header)
    header[3] = "借方发生额(支取)"  # ASCII brackets for the bank's full-width ones
    layout = detect_layout(header)
    assert layout is not None
    assert layout.name == "ccb-corporate"


def test_the_most_specific_layout_wins() -> None:
    # an ICBC personal header holds no generic layout, but a generic header plus
    # a bank's columns is the bank's layout, not the generic one
    row = [*get_layout("icbc-corporate-dc").header]
    layout = detect_layout(row)
    assert layout is not None
    assert layout.name == "icbc-corporate-dc"
    generic = detect_layout(["交易日期", "摘要", "金额", "借贷标志", "余额"])
    assert generic is not None
    assert generic.name == "generic-direction"


def test_no_layout_for_a_header_missing_a_column() -> None:
    header = [h for h in get_layout("spdb-debit").header if h != "取出金额"]
    assert detect_layout(header) is None
    assert detect_layout([]) is None
    assert detect_layout(["", " "]) is None


def test_closest_layout_names_the_near_one() -> None:
    # an ICBC corporate export whose user left out two columns
    header = [h for h in get_layout("icbc-corporate").header if h not in ("用途", "附言")]
    assert detect_layout(header) is None
    near = closest_layout(header)
    assert near is not None
    layout, score = near
    assert layout.name == "icbc-corporate"
    assert 70 < score < 100
    message = describe_no_layout(header)
    assert "closest is 'icbc-corporate'" in message
    assert "missing 用途, 附言" in message
    assert "\n" not in message


def test_the_older_icbc_export_is_its_own_layout_and_the_newer_wins_on_its_header() -> None:
    older = detect_layout(get_layout("icbc-personal-v1").header)
    newer = detect_layout(get_layout("icbc-personal").header)
    assert older is not None and newer is not None
    assert (older.name, newer.name) == ("icbc-personal-v1", "icbc-personal")


def test_closest_layout_prefers_a_misspelt_header_of_the_same_bank() -> None:
    header = ["交易日", "记账日", "卡号后四位", "交易描述", "存入", "支出", "币种"]
    near = closest_layout(header)
    assert near is not None
    assert near[0].name == "boc-credit"
    assert closest_layout([]) is None


# --- a user's own layout and bad layouts ---------------------------------------------


def test_a_user_layout_file(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(MINIMAL, encoding="utf-8")
    layout = load_layout_file(path)
    assert layout.name == "my-bank"
    assert layout.amount.outflow_sign == "-"
    assert layout.encodings == ("utf-8",)
    assert detect_layout(["日期", "金额", "说明"], [layout]) is layout


def test_an_unreadable_layout_file_is_invalid_input(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="cannot read"):
        load_layout_file(tmp_path / "missing.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("name = ", encoding="utf-8")
    with pytest.raises(InvalidInput, match="not TOML"):
        load_layout_file(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('column = "金额"', 'column = "余额"'), "column '余额' is not in the header"),
        (('mode = "signed"', 'mode = "out-in"'), "needs inflow, outflow"),
        (('mode = "signed"', 'mode = "direction"'), "needs direction, inflow_values"),
        (('column = "金额"', 'column = "金额"\noutflow = "金额"'), "does not take outflow"),
        (('["%Y-%m-%d"]', '["%Y-%m-%"]'), "bad date format"),
        (('["%Y-%m-%d"]', '["YYYY-MM-DD"]'), "no % directive"),
        (('["%Y-%m-%d"]', "[]"), "date_formats"),
        (('"说明"]\ndate', '"说明"]\ndate'), ""),  # unchanged: valid
        (
            ('header = ["日期", "金额", "说明"]', 'header = ["日期", "金额", " 金 额 "]'),
            "header names repeat",
        ),
        (('name = "my-bank"', 'name = "My Bank"'), "name"),
        (('formats = ["csv"]', 'formats = ["pdf"]'), "formats"),
        (('formats = ["csv"]', 'formats = ["csv"]\nencodings = ["klingon"]'), "unknown encoding"),
        (('formats = ["csv"]', 'formats = ["csv"]\nfilename_period = "(\\\\d{8})"'), "two groups"),
        (('formats = ["csv"]', 'formats = ["csv"]\nextra = 1'), "extra"),
        (
            ('memo = ["说明"]', 'memo = ["说明"]\ncounterpart_combined = true'),
            "counterpart_combined needs a payee",
        ),
        (('memo = ["说明"]', 'memo = ["说明"]\ntime = "日期"'), ""),
        (
            ('date_formats = ["%Y-%m-%d"]', 'date_formats = ["%Y-%m-%d"]\ntime_formats = ["%H"]'),
            "time_formats needs a time column",
        ),
    ],
)
def test_bad_layouts_are_refused_with_one_line(change: tuple[str, str], message: str) -> None:
    old, new = change
    assert old in MINIMAL
    text = MINIMAL.replace(old, new, 1)
    if not message:
        assert parse_layout(text, origin="x.toml").name == "my-bank"
        return
    with pytest.raises(InvalidInput) as caught:
        parse_layout(text, origin="x.toml")
    assert message in str(caught.value)
    assert str(caught.value).startswith("layout x.toml: ")
    assert "\n" not in str(caught.value)


def test_direction_values_cannot_be_both_out_and_in() -> None:
    text = MINIMAL.replace('"说明"]\ndate', '"说明", "借贷"]\ndate')
    text = text.replace(
        'mode = "signed"',
        'mode = "direction"\ndirection = "借贷"\noutflow_values = ["借"]\ninflow_values = [" 借 "]',
    )
    with pytest.raises(InvalidInput, match="both out and in: 借"):
        parse_layout(text, origin="x.toml")


def test_an_unknown_layout_name_lists_the_known_ones() -> None:
    with pytest.raises(InvalidInput, match=r"no layout named 'nope' \(known: abc-debit, "):
        get_layout("nope")


def test_the_example_in_docs_layouts_is_a_valid_layout() -> None:
    doc = (Path(__file__).resolve().parents[2] / "docs" / "LAYOUTS.md").read_text(encoding="utf-8")
    (example,) = re.findall(r"```toml\n(.*?)```", doc, re.S)
    layout = parse_layout(example, origin="docs/LAYOUTS.md")
    assert layout.amount.mode == "out-in"
    assert layout.columns.serial == "流水号"


def test_positions_follow_the_statement_not_the_layout() -> None:
    layout = get_layout("generic-direction")
    row = [" 借贷标志", "余额", "金额 ", "交易日期", "摘要"]
    assert layout.positions(row) == {"交易日期": 3, "摘要": 4, "金额": 2, "借贷标志": 0}
    with pytest.raises(KeyError):
        layout.positions(["交易日期", "摘要"])


def test_direction_values_ignore_blanks_and_case() -> None:
    amount = get_layout("bocom-debit").amount
    assert amount.direction_of("借 Dr") == "out"
    assert amount.direction_of(" 贷cr ") == "in"
    assert amount.direction_of("借") == "out"
    assert amount.direction_of("?") is None


def test_dates_by_the_layouts_formats() -> None:
    spdb = get_layout("spdb-debit")
    assert spdb.parse_date("2026/03/05  14:06:51") == datetime(2026, 3, 5, 14, 6, 51)
    assert spdb.parse_date("2026/03/05") == datetime(2026, 3, 5)
    with pytest.raises(ValueError, match="fits none of"):
        spdb.parse_date("05.03.2026")


def test_equally_specific_layouts_are_chosen_by_name(tmp_path: Path) -> None:
    a = parse_layout(MINIMAL.replace('name = "my-bank"', 'name = "b-bank"'), origin="b")
    b = parse_layout(
        MINIMAL.replace('name = "my-bank"', 'name = "a-bank"').replace("说明", "备注"), origin="a"
    )
    row = ["日期", "金额", "说明", "备注"]
    first = detect_layout(row, [a, b])
    second = detect_layout(row, [b, a])
    assert first is not None and second is not None
    assert first.name == second.name == "a-bank"
