"""Value objects: credit codes (GB 32100-2015), money, dates and the
"same calendar day N years / months later" arithmetic the rules rely on."""

from __future__ import annotations

import calendar
import re
from datetime import date
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.errors import InvalidInput
from aggregates.values import (
    CREDIT_CODE_CHARSET,
    add_months,
    add_years,
    credit_code_check_char,
    money_str,
    parse_date,
    parse_money,
    validate_credit_code,
)
from cli import exit_code

# --- unified social credit code -------------------------------------------------------

# GB 32100-2015 §4.3: weights are 3^i mod 31, check = 31 - (sum mod 31), 31 -> 0.
# Worked out independently of the product's table.
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


def reference_check_char(first17: str) -> str:
    total = sum(_ALPHABET.index(c) * pow(3, i, 31) for i, c in enumerate(first17))
    return _ALPHABET[(31 - total % 31) % 31]


# Codes printed on real business licences (public registry entries).
PUBLISHED_CODES = [
    "91350100M000100Y43",
    "91110000802100433B",  # 中国石油化工股份有限公司
    "914403001922038216",  # 华为技术有限公司
]


@pytest.mark.parametrize("code", PUBLISHED_CODES)
def test_published_credit_codes_are_valid(code: str) -> None:
    # given a code from a real licence / when validated / then accepted unchanged
    assert validate_credit_code(code) == code


def test_surrounding_whitespace_is_ignored() -> None:
    assert validate_credit_code("  91350100M000100Y43\t") == "91350100M000100Y43"


@given(st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17))
def test_any_17_characters_with_their_check_character_validate(first17: str) -> None:
    # given any 17 legal characters / when the check character is appended / then valid
    check = credit_code_check_char(first17)
    assert check == reference_check_char(first17)
    assert validate_credit_code(first17 + check) == first17 + check


@given(
    st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17),
    st.sampled_from(CREDIT_CODE_CHARSET),
)
def test_any_other_check_character_is_refused(first17: str, wrong: str) -> None:
    right = credit_code_check_char(first17)
    if wrong == right:
        return
    with pytest.raises(InvalidInput, match="check character"):
        validate_credit_code(first17 + wrong)


@pytest.mark.parametrize(
    ("code", "complaint"),
    [
        ("", "0 characters"),
        ("91350100M000100Y4", "17 characters"),
        ("91350100M000100Y433", "19 characters"),
        ("91350100M000100Y44", "check character is '4', expected '3'"),
        ("91350100I000100Y43", "character 'I' is not allowed"),
        ("91350100O000100Y43", "character 'O' is not allowed"),
        ("91350100S000100Y43", "character 'S' is not allowed"),
        ("91350100V000100Y43", "character 'V' is not allowed"),
        ("91350100Z000100Y43", "character 'Z' is not allowed"),
        ("91350100m000100y43", "character 'm' is not allowed"),  # lower case
        ("91350100M000 100Y4", "character ' ' is not allowed"),
        ("9135010０M000100Y43", "is not allowed"),  # a full-width digit
        ("91350100-000100Y43", "character '-' is not allowed"),
    ],
)
def test_malformed_credit_codes_are_refused_naming_the_fault(code: str, complaint: str) -> None:
    with pytest.raises(InvalidInput) as err:
        validate_credit_code(code)
    assert exit_code(err.value) == 2
    assert "GB 32100-2015" in str(err.value)
    assert complaint in str(err.value)


# --- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("500000", Decimal("500000.00")),
        ("500000.5", Decimal("500000.50")),
        ("0.01", Decimal("0.01")),
        ("1,234,567.89", Decimal("1234567.89")),
        ("1，000，000", Decimal("1000000.00")),  # full-width commas, as typed in Chinese
        ("１０００．５０", Decimal("1000.50")),  # full-width digits and point
        ("１,０００.５０", Decimal("1000.50")),
        ("  200000.00 ", Decimal("200000.00")),
        (Decimal("12.3"), Decimal("12.30")),
        (7, Decimal("7.00")),
    ],
)
def test_money_is_exact_yuan_with_two_places(text: str | Decimal | int, value: Decimal) -> None:
    parsed = parse_money(text)
    assert parsed == value
    assert isinstance(parsed, Decimal)
    assert parsed.as_tuple().exponent == -2


@pytest.mark.parametrize(
    "text",
    [
        "0",
        "0.00",
        "-5",
        "-0.01",
        "+5",
        "1.234",  # three places
        "1e3",
        "NaN",
        "Infinity",
        "",
        "abc",
        "12 000",
        "1,00",  # a decimal comma, not a thousands separator
        "1,0000",
        "12,34.50",
        ",100",
        "100,",
        "¥100",
    ],
)
def test_malformed_or_non_positive_amounts_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput) as err:
        parse_money(text)
    assert exit_code(err.value) == 2


def test_floats_are_not_money() -> None:
    with pytest.raises(InvalidInput, match="floats"):
        parse_money(0.1)  # type: ignore[arg-type]


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("10000000000"), places=2))
def test_money_round_trips_through_its_printed_form(amount: Decimal) -> None:
    assert parse_money(money_str(amount)) == amount
    assert money_str(amount) == f"{amount:.2f}"


@given(st.integers(min_value=1, max_value=10**12 - 1), st.integers(min_value=0, max_value=99))
def test_thousands_separators_do_not_change_the_amount(yuan: int, fen: int) -> None:
    plain = f"{yuan}.{fen:02d}"
    grouped = f"{yuan:,}.{fen:02d}"
    assert parse_money(grouped) == parse_money(plain) == Decimal(plain)


@pytest.mark.parametrize("text", ["1000000000000", "1,000,000,000,000.00", "100000000000000000"])
def test_an_amount_of_a_trillion_or_more_is_refused(text: str) -> None:
    """Beyond any grant, and beyond what the read models' columns sum exactly."""
    with pytest.raises(InvalidInput, match=re.escape("more than 999,999,999,999.99")) as err:
        parse_money(text)
    assert exit_code(err.value) == 2
    assert parse_money("999,999,999,999.99") == Decimal("999999999999.99")


# --- dates -------------------------------------------------------------------------------


@pytest.mark.parametrize("text", ["2026-02-30", "2026/01/01", "26-1-1", "2026-1-1", "today", ""])
def test_malformed_dates_are_refused(text: str) -> None:
    with pytest.raises(InvalidInput, match="YYYY-MM-DD"):
        parse_date(text)


def test_a_date_parses() -> None:
    assert parse_date("2024-02-29") == date(2024, 2, 29)


@pytest.mark.parametrize(
    ("start", "years", "end"),
    [
        (date(2025, 7, 1), 3, date(2028, 7, 1)),
        (date(2024, 2, 29), 3, date(2027, 3, 1)),  # 29 Feb → 1 Mar
        (date(2024, 2, 29), 4, date(2028, 2, 29)),  # leap to leap keeps the day
        (date(2024, 2, 29), 5, date(2029, 3, 1)),
        (date(2023, 2, 28), 1, date(2024, 2, 28)),
        (date(2025, 12, 31), 5, date(2030, 12, 31)),
    ],
)
def test_add_years_examples(start: date, years: int, end: date) -> None:
    assert add_years(start, years) == end


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)), st.integers(1, 10))
def test_add_years_is_the_same_month_and_day_n_years_later(start: date, years: int) -> None:
    end = add_years(start, years)
    target_year = start.year + years
    if (start.month, start.day) == (2, 29) and not calendar.isleap(target_year):
        assert end == date(target_year, 3, 1)
    else:
        assert (end.year, end.month, end.day) == (target_year, start.month, start.day)
    # never shorter than N×365 days, never longer than N×366
    assert 365 * years <= (end - start).days <= 366 * years


@pytest.mark.parametrize(
    ("start", "months", "end"),
    [
        (date(2025, 7, 1), 12, date(2026, 7, 1)),
        (date(2025, 12, 15), 1, date(2026, 1, 15)),
        (date(2026, 1, 31), 1, date(2026, 3, 1)),  # 31 Jan + 1 month: Feb lacks the 31st
        (date(2024, 1, 30), 1, date(2024, 3, 1)),
        (date(2024, 1, 29), 1, date(2024, 2, 29)),
        (date(2026, 3, 31), 1, date(2026, 5, 1)),
        (date(2024, 2, 29), 12, date(2025, 3, 1)),
        (date(2025, 11, 30), 3, date(2026, 3, 1)),  # 30 Feb does not exist
        (date(2025, 11, 28), 3, date(2026, 2, 28)),
        (date(2025, 12, 31), 2, date(2026, 3, 1)),
    ],
)
def test_add_months_examples(start: date, months: int, end: date) -> None:
    assert add_months(start, months) == end


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)), st.integers(1, 10))
def test_twelve_months_are_a_year(start: date, years: int) -> None:
    assert add_months(start, 12 * years) == add_years(start, years)


@given(st.dates(min_value=date(1990, 1, 1), max_value=date(2090, 12, 31)), st.integers(1, 36))
def test_add_months_lands_in_the_right_month_or_the_first_of_the_next(
    start: date, months: int
) -> None:
    end = add_months(start, months)
    index = start.year * 12 + start.month - 1 + months
    year, month = divmod(index, 12)
    month += 1
    if start.day <= calendar.monthrange(year, month)[1]:
        assert end == date(year, month, start.day)
    else:
        nxt_year, nxt_month = divmod(index + 1, 12)
        assert end == date(nxt_year, nxt_month + 1, 1)
