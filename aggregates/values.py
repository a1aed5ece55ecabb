"""Value objects and the small arithmetic the rules need: credit codes,
money, dates, and "the same calendar day N years later"."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal

from aggregates.errors import InvalidInput

# --- enums (slugs of SPEC.md) -------------------------------------------------

UNIT_TYPES = ("enterprise", "university", "institute", "hospital", "government", "other")
KINDS = (
    "high-energy-platform",
    "tech-innovation-center",
    "innovation-consortium",
    "engineering-research-center",
    "key-laboratory",
    "clinical-research-center",
    "field-station",
    "new-rd-institution",
    "co-built-platform",
)
LEVELS = ("district", "city", "regional", "national")  # lowest to highest
STATUSES = (
    "proposed",
    "construction",
    "operating",
    "rectification",
    "rejected",
    "withdrawn",
    "delisted",
)
ACTIVE_STATUSES = ("construction", "operating", "rectification")
FINAL_STATUSES = ("rejected", "withdrawn", "delisted")
GRADES = ("excellent", "good", "qualified", "poor")
DELIST_REASONS = (
    "failed-rectification",
    "no-show",
    "withdrawal",
    "fraud",
    "misconduct",
    "accident",
    "terminated",
    "other",
)
CATEGORIES = ("startup", "operation", "research", "subsidy", "reward", "matching")
VIOLATION_KINDS = (
    "false-materials",
    "academic-misconduct",
    "ip-violation",
    "safety-accident",
    "environmental-accident",
    "biosafety-accident",
    "task-default",
    "consortium-breach",
    "illegal-conduct",
)
SCOPES = ("platform-application", "consortium-lead", "project-application")
# a debarment is for 3 or 5 years (SPEC §7); every check and message says it from here
DEBARMENT_YEARS = (3, 5)
DEBARMENT_YEARS_TEXT = " or ".join(str(y) for y in DEBARMENT_YEARS)  # "3 or 5"
CHANGE_TYPES = (
    "rename",
    "host-change",
    "co-builder-change",
    "lead-change",
    "member-change",
    "other",
)

UnitType = Literal["enterprise", "university", "institute", "hospital", "government", "other"]


def check_choice(value: str, choices: tuple[str, ...], what: str) -> str:
    if value not in choices:
        raise InvalidInput(f"invalid {what} {value!r}; expected one of: {', '.join(choices)}")
    return value


# --- unified social credit code (GB 32100-2015) ---------------------------------

CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The check character (18th) for the first 17 characters of a credit code."""
    total = sum(
        CREDIT_CODE_CHARSET.index(c) * w for c, w in zip(first17, CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


# pure: cached, an import asks for the same ones line after line
@lru_cache(maxsize=65536)
def validate_credit_code(code: str) -> str:
    """Return the code if it is a valid 18-character unified social credit code."""
    code = code.strip()
    if len(code) != 18:
        raise InvalidInput(
            f"malformed unified social credit code {code!r}: it has {len(code)} characters, "
            "not 18 (GB 32100-2015)"
        )
    bad = [c for c in code if c not in CREDIT_CODE_CHARSET]
    if bad:
        raise InvalidInput(
            f"malformed unified social credit code {code!r}: character {bad[0]!r} is not allowed "
            "(GB 32100-2015 uses 0-9 and A-Y without I, O, S, V, Z)"
        )
    expected = credit_code_check_char(code[:17])
    if code[17] != expected:
        raise InvalidInput(
            f"malformed unified social credit code {code!r}: check character is {code[17]!r}, "
            f"expected {expected!r} (GB 32100-2015)"
        )
    return code


PLATFORM_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


# pure: cached, an import asks for the same ones line after line
@lru_cache(maxsize=65536)
def validate_platform_code(code: str) -> str:
    if not PLATFORM_CODE_RE.match(code):
        raise InvalidInput(
            f"malformed platform code {code!r}: expected [A-Za-z0-9][A-Za-z0-9._-]{{0,63}}"
        )
    return code


# --- money -----------------------------------------------------------------------

CENT = Decimal("0.01")


# One entry's ceiling: under a trillion yuan. Far above any grant, and low
# enough that a line's sums stay exact in PostgreSQL's numeric(18,2) and in
# SQLite's 64-bit integer cents.
MAX_AMOUNT = Decimal("999999999999.99")


def normalise_voucher(voucher: str) -> str:
    """The form a voucher number is unique in: NFKC (full-width → half-width),
    stripped, upper-case — so `pz-1`, `ＰＺ-1` and `PZ-1` are one voucher."""
    return unicodedata.normalize("NFKC", voucher).strip().upper()


def parse_money(text: str | Decimal | int, *, what: str = "amount") -> Decimal:
    """Exact yuan with at most two decimal places, positive. Never a float."""
    if isinstance(text, float):  # pragma: no cover - guarded by types
        raise InvalidInput(f"invalid {what}: floats are not money")
    # full-width digits, separators and point as typed on a Chinese keyboard
    raw = unicodedata.normalize("NFKC", str(text)).strip()
    # thousands separators only in groups of three ("1,00" is not 100 yuan)
    if re.fullmatch(r"\d{1,3}([,，]\d{3})+(\.\d{1,2})?", raw):
        raw = raw.replace(",", "").replace("，", "")
    if not re.fullmatch(r"\d+(\.\d{1,2})?", raw):
        raise InvalidInput(
            f"invalid {what} {str(text)!r}: expected a positive number of yuan "
            "with at most two decimal places"
        )
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - regex already checked
        raise InvalidInput(f"invalid {what} {text!r}") from None
    if value <= 0:
        raise InvalidInput(f"invalid {what} {text!r}: must be positive")
    if value > MAX_AMOUNT:
        raise InvalidInput(
            f"invalid {what} {text!r}: more than {MAX_AMOUNT:,} yuan in one entry "
            "(a typing error? the ledger's totals must stay exact)"
        )
    return value.quantize(CENT)


def money_str(value: Decimal) -> str:
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


# --- dates -----------------------------------------------------------------------


def parse_date(text: str, *, what: str = "date") -> date:
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text.strip()):
            raise ValueError
        return date.fromisoformat(text.strip())
    except ValueError:
        raise InvalidInput(f"invalid {what} {text!r}: expected YYYY-MM-DD") from None


def add_years(start: date, years: int) -> date:
    """The same calendar day `years` later; 29 February becomes 1 March."""
    try:
        return start.replace(year=start.year + years)
    except ValueError:  # 29 February in a non-leap year
        return date(start.year + years, 3, 1)


def add_months(start: date, months: int) -> date:
    """The same day `months` later; a day the month lacks rolls to the 1st after it."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    try:
        return date(year, month, start.day)
    except ValueError:
        first_next = date(year + (month // 12), month % 12 + 1, 1)
        return first_next


def period_end_months(start: date, months: int) -> date:
    """The end of a period of `months` months from `start` (SPEC §2.1, 民法典
    art. 202): the corresponding day of the last month, or that month's last
    day when it has none (a month from 31 January ends on 28/29 February)."""
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    for day in (start.day, 30, 29, 28):
        try:
            return date(year, month, min(start.day, day))
        except ValueError:
            continue
    raise AssertionError("unreachable: every month has 28 days")  # pragma: no cover


def period_end_years(start: date, years: int) -> date:
    """The end of a period of `years` years (a term, a construction period):
    29 February ends on 28 February (SPEC §2.1). Bans keep :func:`add_years`."""
    return period_end_months(start, 12 * years)


def day_before(d: date) -> date:
    return d - timedelta(days=1)


@dataclass(frozen=True)
class MemberInfo:
    """What the composition rules need to know of a member unit."""

    code: str
    unit_type: str
    high_tech: bool
