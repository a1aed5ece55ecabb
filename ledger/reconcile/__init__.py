"""Reconcile the ledger's payments against a bank or treasury statement.

The engine reads the ledger through :class:`ReconcileSource`, a narrow,
read-only interface (an in-memory fake in unit tests, :class:`AppSource` over
the real application), and a statement parsed by :mod:`ledger.reconcile.statement`.
docs/RECONCILE.md states every rule; in short:

1. **By reference.** Vouchers compare as the ledger makes them unique
   (:func:`aggregates.values.normalise_voucher`: NFKC, stripped, upper-case).
   A line whose reference cell (``reference``/``voucher``/``凭证号``) equals a
   ledger voucher is that payment's line. Otherwise, if exactly one ledger
   voucher occurs as a whole token inside the line's reference or memo
   (``摘要``) text, it is. Several copies of one voucher in the ledger are each
   a payment of their own (paired by amount and date, flagged, or ledger_only).
2. **By payee.** A line with no explicit reference is matched to a payment not
   yet matched whose platform's host unit is the payee (by credit code, or by a
   current or former name or alias, normalised), with the same amount and
   dates at most ``tolerance_days`` apart; the closest date wins, a live
   payment before a reversed one. A line whose explicit reference names no
   voucher is not matched by payee: a wrong voucher must show. A line whose
   memo shows a voucher-like token that is no voucher, or whose payee name
   several units share, pairs only with the one payment that fits; the first
   is flagged ``reference-mismatch``.
3. **Findings.** Every ledger payment in scope that is not reversed ends in
   exactly one of ``matched``, ``amount_mismatch``, ``ledger_only``; every
   statement line in exactly one of a pairing, ``duplicates`` (a second line
   for the same voucher), ``statement_only``, or out of scope (paired with a
   payment of another fiscal year under ``--fiscal-year``). Flags come on top,
   ``payee-mismatch`` among them (a voucher paid to someone not the host).
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from aggregates.errors import InvalidInput
from aggregates.values import normalise_voucher
from ledger.reconcile.statement import BadLine, StatementLine, StatementParse, parse_statement

if TYPE_CHECKING:
    from aggregates.platform import Platform
    from aggregates.unit import Unit
    from ledger.service import LedgerService

CENT = Decimal("0.01")
DEFAULT_TOLERANCE_DAYS = 3
ACTIVE_STATUSES = frozenset({"construction", "operating", "rectification"})

FlagKind = Literal[
    "debarred-host",
    "blacklisted-host",
    "inactive-platform",
    "over-allocation",
    "reversed-but-paid",
    "date-out-of-tolerance",
    "reference-mismatch",
    "payee-mismatch",
]
FLAG_KINDS: tuple[FlagKind, ...] = (
    "reversed-but-paid",
    "debarred-host",
    "blacklisted-host",
    "inactive-platform",
    "over-allocation",
    "date-out-of-tolerance",
    "reference-mismatch",
    "payee-mismatch",
)
FINDINGS = (
    "matched",
    "amount_mismatch",
    "ledger_only",
    "statement_only",
    "duplicates",
    "flags",
    "bad_lines",
)
LABELS: dict[str, str] = {
    "matched": "已匹配",
    "amount_mismatch": "金额不符",
    "ledger_only": "账面有、对账单无",
    "statement_only": "对账单有、账面无",
    "duplicates": "重复",
    "flags": "异常标记",
    "bad_lines": "无法读取的行",
    "ledger": "账本",
    "statement": "对账单",
    "reference": "凭证号",
    "payee": "收款单位",
    "debarred-host": "依托单位被禁止申报",
    "blacklisted-host": "依托单位列入诚信黑名单",
    "inactive-platform": "平台不在建设期、运行期或整改期",
    "over-allocation": "超出下达额度",
    "reversed-but-paid": "已冲销但银行已支付",
    "date-out-of-tolerance": "日期超出容差",
    "reference-mismatch": "对账单凭证号与账面不符",
    "payee-mismatch": "收款单位不是依托单位",
}


def money(value: Decimal) -> str:
    """Money as CLI.md writes it: a string with two decimals."""
    return str(value.quantize(CENT, rounding=ROUND_HALF_UP))


# --- the interface to the ledger --------------------------------------------------


@dataclass(frozen=True)
class LedgerPayment:
    """One disbursement as the ledger recorded it."""

    voucher: str
    platform: str
    category: str
    fiscal_year: int
    amount: Decimal
    paid_on: date
    reversed: bool = False
    host_unit: str | None = None  # credit code of the platform's host unit on ``paid_on``


class ReconcileSource(Protocol):
    """What reconciliation reads from the ledger. Read-only; nothing else."""

    def payments(self) -> Sequence[LedgerPayment]:
        """Every disbursement recorded, reversed ones included, of every fiscal year."""
        ...

    def allocated(self, platform: str, category: str, fiscal_year: int) -> Decimal:
        """The amount approved for that line (0 when none)."""
        ...

    def platform_status_on(self, platform: str, on: date) -> str | None:
        """The platform's status slug on that date (None if it did not exist yet)."""
        ...

    def debarment_on(self, unit: str, on: date) -> str | None:
        """Why the unit is debarred on that date (any scope), or None if it is not."""
        ...

    def blacklisting_on(self, unit: str, on: date) -> str | None:
        """Why the unit is on the integrity blacklist on that date, or None."""
        ...

    def unit_names(self) -> Mapping[str, str | AbstractSet[str]]:
        """Every name a unit is known by (current, former, aliases) → the credit
        code(s) of every unit known by it (a name two units share maps to both)."""
        ...


# --- findings ----------------------------------------------------------------------


@dataclass(frozen=True)
class Match:
    payment: LedgerPayment
    line: StatementLine
    by: Literal["reference", "payee"]

    @property
    def days_apart(self) -> int:
        return abs((self.line.date - self.payment.paid_on).days)


@dataclass(frozen=True)
class AmountMismatch:
    voucher: str
    platform: str
    ledger_amount: Decimal
    statement_amount: Decimal
    paid_on: date
    date: date
    line: int


@dataclass(frozen=True)
class LedgerOnly:
    voucher: str
    platform: str
    amount: Decimal
    paid_on: date
    category: str
    fiscal_year: int


@dataclass(frozen=True)
class StatementOnly:
    reference: str | None
    payee: str | None
    amount: Decimal
    date: date
    line: int


@dataclass(frozen=True)
class Duplicate:
    voucher: str
    where: Literal["ledger", "statement"]
    count: int
    platform: str
    amount: Decimal  # the copies beyond the one paired (the money paid or recorded twice)
    lines: tuple[int, ...] = ()  # statement lines, for where == "statement"


@dataclass(frozen=True)
class Flag:
    """A flag on a payment. ``ledger_amount`` is the ledger's figure for the
    payment; ``statement_amount`` what the statement shows (None when it does not
    show the payment): the paired line's amount for a flag about that line
    (reversed-but-paid, date-out-of-tolerance, reference-mismatch,
    payee-mismatch), the money paid for the payment, duplicate lines included,
    for a flag about the payment (debarred, blacklisted, inactive,
    over-allocation)."""

    voucher: str
    platform: str
    flag: FlagKind
    detail: str
    paid_on: date
    ledger_amount: Decimal
    statement_amount: Decimal | None = None
    date: date | None = None  # the statement line's date, where it shows the payment
    line: int | None = None  # the statement line, where it shows the payment

    @property
    def amount(self) -> Decimal:
        """The money concerned: the bank's figure where it shows one, else the ledger's."""
        return self.statement_amount if self.statement_amount is not None else self.ledger_amount


@dataclass
class ReconcileReport:
    matches: list[Match] = field(default_factory=list)
    amount_mismatch: list[AmountMismatch] = field(default_factory=list)
    ledger_only: list[LedgerOnly] = field(default_factory=list)
    statement_only: list[StatementOnly] = field(default_factory=list)
    duplicates: list[Duplicate] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    bad_lines: list[BadLine] = field(default_factory=list)
    out_of_scope: int = 0  # statement lines paired with payments of another fiscal year
    fiscal_year: int | None = None
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS
    statement: str | None = None
    encoding: str | None = None
    # the budget view the workbook carries: `funds summary` rows as of a date
    budget: list[dict[str, Any]] | None = None
    budget_as_of: date | None = None

    @property
    def matched(self) -> int:
        return len(self.matches)

    @property
    def has_discrepancies(self) -> bool:
        """Anything unmatched, flagged or unreadable (``--fail-on-discrepancy``)."""
        return bool(
            self.amount_mismatch
            or self.ledger_only
            or self.statement_only
            or self.duplicates
            or self.flags
            or self.bad_lines
        )


# --- matching ------------------------------------------------------------------------


def _key(text: str) -> str:
    """A voucher as the ledger makes it unique: NFKC, stripped, upper-case."""
    return normalise_voucher(text)


# Legal-form endings a bank may add or drop (compared after removing punctuation).
_LEGAL_SUFFIX = re.compile(
    r"(?:股份有限公司|有限责任公司|有限公司|公司|companylimited|coltd|limited|ltd|inc)$"
)


def _name_key(text: str) -> str:
    """A unit name as payees are compared: NFKC (full-width brackets are ASCII),
    case-folded, without blanks or punctuation, without a legal-form ending
    (``有限公司``, ``有限责任公司``, ``股份有限公司``, ``公司``, ``Co., Ltd.``)."""
    s = unicodedata.normalize("NFKC", text).casefold()
    s = "".join(c for c in s if not c.isspace() and not unicodedata.category(c).startswith("P"))
    stripped = _LEGAL_SUFFIX.sub("", s)
    return stripped or s


_CREDIT_CODE = re.compile(r"[0-9A-HJ-NP-RTUW-Y]{18}")
_TOKEN = re.compile(r"(?<![A-Z0-9])[A-Z0-9]+(?:[-_/.][A-Z0-9]+)*(?![A-Z0-9])")
_VOUCHER_LABEL = re.compile(
    r"(?:凭证号码|凭证编号|凭证号|凭证|凭单号|(?<![A-Z])(?:VOUCHER(?:NO)?|REF(?:ERENCE)?(?:NO)?|NO))"
    r"\W*$"
)
# A period, not a voucher: 2026Q1, FY2026, 2026H2.
_PERIOD = re.compile(r"(?:FY)?(?:19|20)\d{2}(?:Q[1-4]|H[12])?|(?:Q[1-4]|H[12])(?:19|20)\d{2}")


class _VoucherFinder:
    """Finds ledger vouchers inside free text, as whole tokens."""

    def __init__(self, keys: Iterable[str]) -> None:
        ordered = sorted(set(keys), key=lambda k: (-len(k), k))
        self._pattern: re.Pattern[str] | None = None
        if ordered:
            alternatives = "|".join(re.escape(k) for k in ordered)
            self._pattern = re.compile(
                rf"(?<![A-Z0-9])(?<![A-Z0-9][-_/.])(?:{alternatives})(?![A-Z0-9]|[-_/.][A-Z0-9])"
            )

    def find(self, text: str) -> set[str]:
        if self._pattern is None:
            return set()
        return {m.group(0) for m in self._pattern.finditer(_key(text))}


def voucher_like_tokens(
    text: str | None, *, not_vouchers: AbstractSet[str] = frozenset()
) -> list[str]:
    """The tokens of a free text (摘要) that look like a voucher number.

    A token is a run of letters and digits, possibly joined by ``-_/.``, with no
    Chinese in it. It looks like a voucher when it has a letter and a digit
    (``PZ-WRONG-77``, ``2026PZ001``), or a digit right after a voucher label
    (``凭证号20260001``, ``Ref: 88``). Not: a platform code or a credit code
    (``not_vouchers``, 18-character codes), a period (``2026Q1``, ``FY2026``),
    a date or an amount (digits only).
    """
    if not text:
        return []
    normal = _key(text)
    found: list[str] = []
    for m in _TOKEN.finditer(normal):
        token = m.group(0)
        has_digit = any(c.isdigit() for c in token)
        has_letter = any(c.isalpha() for c in token)
        labelled = bool(_VOUCHER_LABEL.search(normal[: m.start()]))
        if not has_digit or (not has_letter and not labelled):
            continue
        if token in not_vouchers or _CREDIT_CODE.fullmatch(token) or _PERIOD.fullmatch(token):
            continue
        if has_letter and not labelled and len(token) < 3:
            continue
        if token not in found:
            found.append(token)
    return found


def _resolve_payee(payee: str | None, names: Mapping[str, frozenset[str]]) -> frozenset[str]:
    """The credit codes a statement payee may be: a credit code as is, else every
    unit known by that (normalised) name; empty if none."""
    if payee is None:
        return frozenset()
    code = unicodedata.normalize("NFKC", payee).strip().upper()
    if _CREDIT_CODE.fullmatch(code):
        return frozenset({code})
    return names.get(_name_key(payee), frozenset())


def _names_index(source: ReconcileSource) -> dict[str, frozenset[str]]:
    names: dict[str, set[str]] = defaultdict(set)
    for name, codes in source.unit_names().items():
        names[_name_key(name)].update({codes} if isinstance(codes, str) else codes)
    return {k: frozenset(v) for k, v in names.items()}


def reconcile(
    source: ReconcileSource,
    statement: StatementParse | Sequence[StatementLine],
    *,
    fiscal_year: int | None = None,
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
) -> ReconcileReport:
    """Match the statement's lines to the ledger's payments and list what differs."""
    if tolerance_days < 0:
        raise InvalidInput(f"invalid tolerance {tolerance_days}: days cannot be negative")
    if isinstance(statement, StatementParse):
        lines = list(statement.lines)
        report = ReconcileReport(bad_lines=list(statement.errors), encoding=statement.encoding)
    else:
        lines = list(statement)
        report = ReconcileReport()
    report.fiscal_year = fiscal_year
    report.tolerance_days = tolerance_days
    lines.sort(key=lambda ln: ln.line)

    def in_scope(p: LedgerPayment) -> bool:
        return fiscal_year is None or p.fiscal_year == fiscal_year

    # The ledger side: every payment, by position; by normalised voucher. Vouchers
    # are unique in a sound ledger; every copy of one that is not is still a
    # payment of its own (paired, flagged, or ledger_only).
    payments = list(source.payments())
    by_voucher: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(payments):
        by_voucher[_key(p.voucher)].append(i)
    for copies in by_voucher.values():
        if len(copies) > 1:
            scoped = [i for i in copies if in_scope(payments[i])]
            if scoped:
                first = payments[scoped[0]]
                report.duplicates.append(
                    Duplicate(
                        voucher=first.voucher,
                        where="ledger",
                        count=len(copies),
                        platform=first.platform,
                        amount=sum(
                            (payments[i].amount for i in copies if i != scoped[0]), Decimal(0)
                        ),
                    )
                )
    names = _names_index(source)
    platform_codes = frozenset(_key(p.platform) for p in payments)

    # 1. by reference: exact, then a voucher token inside the text.
    finder = _VoucherFinder(by_voucher)
    by_ref: dict[str, list[StatementLine]] = defaultdict(list)
    unreferenced: list[StatementLine] = []
    suspect: dict[int, list[str]] = {}  # line → voucher-like tokens of its memo, none a voucher
    unmatched: list[StatementLine] = []
    for line in lines:
        key = next((_key(r) for r in line.references if _key(r) in by_voucher), None)
        several = False
        if key is None:
            found: set[str] = set()
            for text in (*line.references, line.memo):
                if text:
                    found |= finder.find(text)
            if len(found) == 1:
                key = found.pop()
            several = len(found) > 1
        if key is not None:
            by_ref[key].append(line)
        elif line.references or several:
            # an explicit reference that names no voucher, or a combined payment:
            # no payee fallback, so that it shows
            unmatched.append(line)
        else:
            tokens = voucher_like_tokens(line.memo, not_vouchers=platform_codes)
            if tokens:
                suspect[line.line] = tokens
            unreferenced.append(line)

    pairs: list[tuple[int, Match]] = []
    bank_paid: dict[int, Decimal] = {}  # payment → money the statement shows for it
    extra_lines: dict[int, list[StatementLine]] = {}
    for key, ref_lines in by_ref.items():
        copies = by_voucher[key]
        options = sorted(
            (
                ln.amount != payments[i].amount,
                abs((ln.date - payments[i].paid_on).days),
                payments[i].reversed,
                ln.line,
                i,
            )
            for i in copies
            for ln in ref_lines
        )
        used: set[int] = set()
        chosen: dict[int, StatementLine] = {}
        by_line = {ln.line: ln for ln in ref_lines}
        for _, _, _, line_no, i in options:
            if line_no in used or i in chosen:
                continue
            used.add(line_no)
            chosen[i] = by_line[line_no]
        for i, ln in chosen.items():
            pairs.append((i, Match(payments[i], ln, "reference")))
            bank_paid[i] = ln.amount
        extras = [ln for ln in ref_lines if ln.line not in used]
        if not extras:
            continue
        scoped = [i for i in copies if in_scope(payments[i])]
        if not scoped:
            report.out_of_scope += len(extras)
            continue
        # the extra lines count as money paid for the earliest payment they duplicate
        owner = min(chosen, key=lambda i: (payments[i].paid_on, i))
        bank_paid[owner] += sum((ln.amount for ln in extras), Decimal(0))
        extra_lines[owner] = extras
        p = payments[scoped[0]]
        report.duplicates.append(
            Duplicate(
                voucher=p.voucher,
                where="statement",
                count=len(ref_lines),
                platform=p.platform,
                amount=sum((ln.amount for ln in extras), Decimal(0)),
                lines=tuple(ln.line for ln in ref_lines),
            )
        )

    # 2. by payee, amount and date, for lines without a reference. A line whose
    # memo shows a voucher-like token that is no ledger voucher, or whose payee
    # name several units share, is paired only with the one payment that fits.
    taken = {i for i, _ in pairs}
    candidates: list[tuple[bool, bool, int, int, date, str, int, StatementLine]] = []
    for line in unreferenced:
        codes = _resolve_payee(line.payee, names)
        if not codes:
            continue
        fits = [
            (i, abs((line.date - p.paid_on).days))
            for i, p in enumerate(payments)
            if i not in taken
            and p.host_unit in codes
            and p.amount == line.amount
            and abs((line.date - p.paid_on).days) <= tolerance_days
        ]
        strict = line.line in suspect or len(codes) > 1
        if strict and len(fits) != 1:
            continue
        for i, days in fits:
            p = payments[i]
            candidates.append(
                (strict, p.reversed, days, line.line, p.paid_on, _key(p.voucher), i, line)
            )
    candidates.sort(key=lambda c: c[:7])
    used_lines: set[int] = set()
    for *_, i, line in candidates:
        if line.line in used_lines or i in taken:
            continue
        used_lines.add(line.line)
        taken.add(i)
        pairs.append((i, Match(payments[i], line, "payee")))
        bank_paid[i] = line.amount
    unmatched.extend(ln for ln in unreferenced if ln.line not in used_lines)

    # 3. classify the pairs.
    paired: dict[int, Match] = {}
    for i, m in pairs:
        p, ln = m.payment, m.line
        if not in_scope(p):
            report.out_of_scope += 1
            continue
        paired[i] = m

        if ln.line in suspect and m.by == "payee":
            report.flags.append(
                _line_flag(
                    m,
                    "reference-mismatch",
                    f"statement reference {', '.join(suspect[ln.line])} (line {ln.line}), "
                    f"ledger voucher {p.voucher}: paired by payee, amount and date only",
                )
            )
        if m.by == "reference" and ln.payee is not None and p.host_unit is not None:
            codes = _resolve_payee(ln.payee, names)
            if p.host_unit not in codes:
                who = (
                    "no registered unit by that name"
                    if not codes
                    else "that is " + ", ".join(sorted(codes))
                )
                report.flags.append(
                    _line_flag(
                        m,
                        "payee-mismatch",
                        f"statement payee {ln.payee} (line {ln.line}) is not the host unit "
                        f"{p.host_unit} of {p.platform} on {p.paid_on.isoformat()}: {who}",
                    )
                )
        if p.reversed:
            report.flags.append(
                _line_flag(
                    m,
                    "reversed-but-paid",
                    f"reversed in the ledger, but the statement shows {money(ln.amount)} "
                    f"paid on {ln.date.isoformat()} (line {ln.line})",
                )
            )
            continue
        if ln.amount != p.amount:
            report.amount_mismatch.append(
                AmountMismatch(
                    p.voucher, p.platform, p.amount, ln.amount, p.paid_on, ln.date, ln.line
                )
            )
        else:
            report.matches.append(m)
        if m.by == "reference" and m.days_apart > tolerance_days:
            report.flags.append(
                _line_flag(
                    m,
                    "date-out-of-tolerance",
                    f"paid on {p.paid_on.isoformat()} in the ledger, {ln.date.isoformat()} "
                    f"on the statement (line {ln.line}): {m.days_apart} days apart, "
                    f"tolerance {tolerance_days}",
                )
            )

    for i, p in enumerate(payments):
        if in_scope(p) and not p.reversed and i not in paired:
            report.ledger_only.append(
                LedgerOnly(p.voucher, p.platform, p.amount, p.paid_on, p.category, p.fiscal_year)
            )

    for ln in unmatched:
        report.statement_only.append(
            StatementOnly(ln.reference, ln.payee, ln.amount, ln.date, ln.line)
        )

    # 4. flags on the payments that count: live ones, and reversed ones the bank paid.
    shown = {i: bank_paid[i] for i in paired}
    for i, p in enumerate(payments):
        if not in_scope(p) or (p.reversed and i not in paired):
            continue
        m_ = paired.get(i)
        report.flags.extend(
            _compliance_flags(source, p, shown.get(i), m_.line if m_ is not None else None)
        )
    report.flags.extend(_allocation_flags(source, payments, paired, shown, extra_lines, in_scope))

    _sort(report)
    return report


def _line_flag(m: Match, kind: FlagKind, detail: str) -> Flag:
    """A flag about the statement line paired with a payment."""
    p, ln = m.payment, m.line
    return Flag(
        p.voucher, p.platform, kind, detail, p.paid_on, p.amount, ln.amount, ln.date, ln.line
    )


def _compliance_flags(
    source: ReconcileSource, p: LedgerPayment, paid: Decimal | None, ln: StatementLine | None
) -> list[Flag]:
    flags: list[Flag] = []
    on = p.paid_on.isoformat()

    def flag(kind: FlagKind, detail: str) -> Flag:
        return Flag(
            p.voucher,
            p.platform,
            kind,
            detail,
            p.paid_on,
            p.amount,
            paid,
            ln.date if ln is not None else None,
            ln.line if ln is not None else None,
        )

    status = source.platform_status_on(p.platform, p.paid_on)
    if status not in ACTIVE_STATUSES:
        flags.append(
            flag(
                "inactive-platform",
                f"platform {p.platform} was {status or 'not yet proposed'} on {on}, "
                "not in construction, operating or rectification",
            )
        )
    if p.host_unit is not None:
        debarment = source.debarment_on(p.host_unit, p.paid_on)
        if debarment is not None:
            flags.append(
                flag(
                    "debarred-host",
                    f"host unit {p.host_unit} was debarred on {on}: {debarment}",
                )
            )
        blacklisting = source.blacklisting_on(p.host_unit, p.paid_on)
        if blacklisting is not None:
            flags.append(
                flag(
                    "blacklisted-host",
                    f"host unit {p.host_unit} was on the integrity blacklist on {on}: "
                    f"{blacklisting}",
                )
            )
    return flags


def _allocation_flags(
    source: ReconcileSource,
    payments: Sequence[LedgerPayment],
    paired: Mapping[int, Match],
    shown: Mapping[int, Decimal],
    extra_lines: Mapping[int, Sequence[StatementLine]],
    in_scope: Callable[[LedgerPayment], bool],
) -> list[Flag]:
    """Payments that take the money paid on a budget line beyond its allocation.

    Money paid counts the bank's figure where the statement shows the payment
    (reversed payments the bank paid included, and a line the bank paid twice
    counted twice), the ledger's figure for a live payment the statement does
    not show, and nothing for a reversed payment it does not show.
    """
    budget: dict[tuple[str, str, int], list[int]] = defaultdict(list)
    for i, p in enumerate(payments):
        budget[(p.platform, p.category, p.fiscal_year)].append(i)
    flags: list[Flag] = []
    for (platform, category, year), items in budget.items():
        items.sort(key=lambda i: (payments[i].paid_on, payments[i].voucher, i))
        allocated = source.allocated(platform, category, year)
        total = Decimal(0)
        for i in items:
            p = payments[i]
            if i in paired:
                paid = shown[i]
            elif not p.reversed:
                paid = p.amount
            else:
                continue
            total += paid
            if total > allocated and in_scope(p):
                twice = extra_lines.get(i, ())
                note = (
                    f" (the statement shows it {len(twice) + 1} times: lines "
                    + ", ".join(str(ln.line) for ln in (paired[i].line, *twice))
                    + ")"
                    if twice
                    else ""
                )
                ln = paired[i].line if i in paired else None
                flags.append(
                    Flag(
                        p.voucher,
                        platform,
                        "over-allocation",
                        f"paid {money(total)} on {platform} {category} {year} up to this "
                        f"payment, allocated {money(allocated)}: {money(total - allocated)} "
                        f"beyond the allocation{note}",
                        p.paid_on,
                        p.amount,
                        shown.get(i),
                        ln.date if ln is not None else None,
                        ln.line if ln is not None else None,
                    )
                )
    return flags


def _sort(report: ReconcileReport) -> None:
    report.matches.sort(key=lambda m: (m.payment.paid_on, m.payment.voucher, m.line.line))
    report.amount_mismatch.sort(key=lambda x: (x.paid_on, x.voucher, x.line))
    report.ledger_only.sort(key=lambda x: (x.paid_on, x.voucher, x.platform))
    report.statement_only.sort(key=lambda x: x.line)
    report.duplicates.sort(key=lambda x: (x.where, x.voucher))
    report.flags.sort(
        key=lambda x: (x.paid_on, x.voucher, x.platform, FLAG_KINDS.index(x.flag), x.line or 0)
    )
    report.bad_lines.sort(key=lambda x: x.line)


def reconcile_file(
    source: ReconcileSource,
    path: str | Path,
    *,
    fiscal_year: int | None = None,
    tolerance_days: int = DEFAULT_TOLERANCE_DAYS,
) -> ReconcileReport:
    """Parse a statement file and reconcile it."""
    parsed = parse_statement(path)
    report = reconcile(source, parsed, fiscal_year=fiscal_year, tolerance_days=tolerance_days)
    report.statement = str(path)
    return report


# --- reports -------------------------------------------------------------------------


def to_dict(report: ReconcileReport) -> dict[str, Any]:
    """The JSON shape of CLI.md, plus ``bad_lines``."""
    return {
        "matched": report.matched,
        "amount_mismatch": [
            {
                "voucher": x.voucher,
                "platform": x.platform,
                "ledger_amount": money(x.ledger_amount),
                "statement_amount": money(x.statement_amount),
            }
            for x in report.amount_mismatch
        ],
        "ledger_only": [
            {
                "voucher": x.voucher,
                "platform": x.platform,
                "amount": money(x.amount),
                "paid_on": x.paid_on.isoformat(),
            }
            for x in report.ledger_only
        ],
        "statement_only": [
            {
                "reference": x.reference,
                "payee": x.payee,
                "amount": money(x.amount),
                "date": x.date.isoformat(),
                "line": x.line,
            }
            for x in report.statement_only
        ],
        "duplicates": [
            {"voucher": x.voucher, "where": x.where, "count": x.count} for x in report.duplicates
        ],
        "flags": [
            {"voucher": x.voucher, "platform": x.platform, "flag": x.flag, "detail": x.detail}
            for x in report.flags
        ],
        "bad_lines": [{"line": b.line, "reason": b.reason} for b in report.bad_lines],
    }


def to_json(report: ReconcileReport) -> str:
    return json.dumps(to_dict(report), ensure_ascii=False, indent=2)


CSV_COLUMNS = (
    "finding",
    "flag",
    "voucher",
    "platform",
    "where",
    "count",
    "ledger_amount",
    "statement_amount",
    "paid_on",
    "date",
    "reference",
    "payee",
    "line",
    "detail",
)


def rows(report: ReconcileReport) -> list[dict[str, str | int | Decimal | date | None]]:
    """One flat row per finding (matched payments included), typed values."""
    out: list[dict[str, str | int | Decimal | date | None]] = []

    def add(**values: str | int | Decimal | date | None) -> None:
        out.append({c: values.get(c) for c in CSV_COLUMNS})

    for m in report.matches:
        add(
            finding="matched",
            voucher=m.payment.voucher,
            platform=m.payment.platform,
            ledger_amount=m.payment.amount,
            statement_amount=m.line.amount,
            paid_on=m.payment.paid_on,
            date=m.line.date,
            reference=m.line.reference,
            payee=m.line.payee,
            line=m.line.line,
            detail=f"by {m.by}",
        )
    for a in report.amount_mismatch:
        add(
            finding="amount_mismatch",
            voucher=a.voucher,
            platform=a.platform,
            ledger_amount=a.ledger_amount,
            statement_amount=a.statement_amount,
            paid_on=a.paid_on,
            date=a.date,
            line=a.line,
            detail=f"statement − ledger = {money(a.statement_amount - a.ledger_amount)}",
        )
    for lo in report.ledger_only:
        add(
            finding="ledger_only",
            voucher=lo.voucher,
            platform=lo.platform,
            ledger_amount=lo.amount,
            paid_on=lo.paid_on,
            detail=f"{lo.category} {lo.fiscal_year}",
        )
    for so in report.statement_only:
        add(
            finding="statement_only",
            statement_amount=so.amount,
            date=so.date,
            reference=so.reference,
            payee=so.payee,
            line=so.line,
        )
    for d in report.duplicates:
        add(
            finding="duplicates",
            voucher=d.voucher,
            platform=d.platform,
            where=d.where,
            count=d.count,
            ledger_amount=d.amount if d.where == "ledger" else None,
            statement_amount=d.amount if d.where == "statement" else None,
            detail=("lines " + ", ".join(map(str, d.lines))) if d.lines else None,
        )
    for f in report.flags:
        add(
            finding="flags",
            flag=f.flag,
            voucher=f.voucher,
            platform=f.platform,
            ledger_amount=f.ledger_amount,
            statement_amount=f.statement_amount,
            paid_on=f.paid_on,
            date=f.date,
            line=f.line,
            detail=f.detail,
        )
    for b in report.bad_lines:
        add(finding="bad_lines", line=b.line, detail=b.reason)
    return out


def _csv_value(value: str | int | Decimal | date | None) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return money(value)
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def to_csv(report: ReconcileReport) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows(report):
        writer.writerow([_csv_value(row[c]) for c in CSV_COLUMNS])
    return buf.getvalue()


def summary(report: ReconcileReport) -> list[tuple[str, str, int, Decimal | None, Decimal | None]]:
    """(finding, label, count, ledger amount, statement amount) per kind and per flag."""
    zero = Decimal(0)
    out: list[tuple[str, str, int, Decimal | None, Decimal | None]] = [
        (
            "matched",
            LABELS["matched"],
            report.matched,
            sum((m.payment.amount for m in report.matches), zero),
            sum((m.line.amount for m in report.matches), zero),
        ),
        (
            "amount_mismatch",
            LABELS["amount_mismatch"],
            len(report.amount_mismatch),
            sum((a.ledger_amount for a in report.amount_mismatch), zero),
            sum((a.statement_amount for a in report.amount_mismatch), zero),
        ),
        (
            "ledger_only",
            LABELS["ledger_only"],
            len(report.ledger_only),
            sum((x.amount for x in report.ledger_only), zero),
            None,
        ),
        (
            "statement_only",
            LABELS["statement_only"],
            len(report.statement_only),
            None,
            sum((x.amount for x in report.statement_only), zero),
        ),
        (
            "duplicates",
            LABELS["duplicates"],
            len(report.duplicates),
            sum((d.amount for d in report.duplicates if d.where == "ledger"), zero),
            sum((d.amount for d in report.duplicates if d.where == "statement"), zero),
        ),
    ]
    for kind in FLAG_KINDS:
        flagged = [f for f in report.flags if f.flag == kind]
        shown = [f.statement_amount for f in flagged if f.statement_amount is not None]
        out.append(
            (
                f"flags: {kind}",
                LABELS[kind],
                len(flagged),
                sum((f.ledger_amount for f in flagged), zero),
                sum(shown, zero) if shown else None,
            )
        )
    out.append(("bad_lines", LABELS["bad_lines"], len(report.bad_lines), None, None))
    return out


def _table(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    def width(text: str) -> int:
        return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)

    widths = [max([width(h), *(width(r[i]) for r in body)]) for i, h in enumerate(headers)]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c + " " * (w - width(c)) for c, w in zip(cells, widths, strict=True))

    return [fmt(headers).rstrip(), fmt(["-" * w for w in widths]).rstrip()] + [
        fmt(r).rstrip() for r in body
    ]


def to_table(report: ReconcileReport) -> str:
    """A terminal report: summary first, then each non-empty kind of finding."""

    def label(slug: str) -> str:
        return f"{slug} {LABELS[slug]}" if slug in LABELS else slug

    out: list[str] = []
    head = f"reconcile {report.statement or 'statement'}"
    if report.encoding:
        head += f" ({report.encoding})"
    head += f" · fiscal year {report.fiscal_year or 'all'} · tolerance {report.tolerance_days} days"
    out += [head, ""]
    body = [
        [
            f"{k} {lab}",
            str(n),
            money(la) if la is not None else "",
            money(sa) if sa is not None else "",
        ]
        for k, lab, n, la, sa in summary(report)
        if n or not k.startswith("flags:")
    ]
    out += _table(["finding 类别", "count 笔数", "ledger 账面金额", "statement 对账单金额"], body)
    if report.out_of_scope:
        out.append(f"({report.out_of_scope} statement line(s) paid other fiscal years' payments)")
    sections: list[tuple[str, list[str], list[list[str]]]] = [
        (
            "amount_mismatch",
            ["voucher", "platform", "ledger_amount", "statement_amount", "line"],
            [
                [
                    a.voucher,
                    a.platform,
                    money(a.ledger_amount),
                    money(a.statement_amount),
                    str(a.line),
                ]
                for a in report.amount_mismatch
            ],
        ),
        (
            "ledger_only",
            ["voucher", "platform", "amount", "paid_on"],
            [
                [x.voucher, x.platform, money(x.amount), x.paid_on.isoformat()]
                for x in report.ledger_only
            ],
        ),
        (
            "statement_only",
            ["line", "date", "amount", "reference", "payee"],
            [
                [str(x.line), x.date.isoformat(), money(x.amount), x.reference or "", x.payee or ""]
                for x in report.statement_only
            ],
        ),
        (
            "duplicates",
            ["voucher", "where", "count"],
            [[d.voucher, label(d.where), str(d.count)] for d in report.duplicates],
        ),
        (
            "flags",
            ["voucher", "platform", "flag", "detail"],
            [[f.voucher, f.platform, label(f.flag), f.detail] for f in report.flags],
        ),
        (
            "bad_lines",
            ["line", "reason"],
            [[str(b.line), b.reason] for b in report.bad_lines],
        ),
    ]
    for slug, headers, body in sections:
        if body:
            out += ["", f"{label(slug)} ({len(body)})"]
            out += _table(headers, body)
    out.append("")
    out.append(
        "discrepancies found"
        if report.has_discrepancies
        else "no discrepancies: the statement agrees"
    )
    return "\n".join(out)


# the budget sheet: `funds summary`'s columns (projections.funds.SUMMARY_COLUMNS)
BUDGET_MONEY = frozenset(
    ("allocated", "entitled", "disbursed", "reversed", "recovered", "net", "remaining")
)

XLSX_MONEY_FORMAT = "#,##0.00"
XLSX_DATE_FORMAT = "yyyy-mm-dd"


def to_xlsx(report: ReconcileReport, path: str | Path) -> None:
    """A workbook: a summary sheet, then one sheet per kind of finding.

    Header rows are frozen; amounts are numbers formatted ``#,##0.00``; dates
    are dates.
    """
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    bold = Font(bold=True)
    ws = wb.active
    ws.title = "summary"

    def put_row(sheet: object, r: int, values: Sequence[object]) -> None:
        for c, value in enumerate(values, start=1):
            cell = sheet.cell(row=r, column=c)  # type: ignore[attr-defined]
            if isinstance(value, Decimal):
                cell.value = value.quantize(CENT)  # stored as the exact decimal text
                cell.number_format = XLSX_MONEY_FORMAT
            elif isinstance(value, date):
                cell.value = value
                cell.number_format = XLSX_DATE_FORMAT
            else:
                cell.value = value

    def header(sheet: object, names: Sequence[str]) -> None:
        put_row(sheet, 1, names)
        for c in range(1, len(names) + 1):
            sheet.cell(row=1, column=c).font = bold  # type: ignore[attr-defined]
        sheet.freeze_panes = "A2"  # type: ignore[attr-defined]

    header(ws, ["finding", "label", "count", "ledger_amount", "statement_amount"])
    r = 2
    for k, lab, n, la, sa in summary(report):
        put_row(ws, r, [k, lab, n, la, sa])
        r += 1
    r += 1
    for name, value in (
        ("statement", report.statement or ""),
        ("encoding", report.encoding or ""),
        ("fiscal_year", report.fiscal_year if report.fiscal_year is not None else "all"),
        ("tolerance_days", report.tolerance_days),
        ("out_of_scope_lines", report.out_of_scope),
    ):
        put_row(ws, r, [name, value])
        r += 1

    typed_rows = rows(report)
    for kind in FINDINGS:
        sheet = wb.create_sheet(kind)
        kind_rows = [row for row in typed_rows if row["finding"] == kind]
        columns = _SHEET_COLUMNS[kind]
        header(sheet, columns)
        for i, row in enumerate(kind_rows, start=2):
            put_row(sheet, i, [row[c] for c in columns])
    if report.budget is not None:
        # the budget view: what `funds summary` answers, line by line, as of
        # the run's date (the same figures, from the same read model)
        from projections.funds import SUMMARY_COLUMNS

        sheet = wb.create_sheet("budget")
        header(sheet, [*SUMMARY_COLUMNS, "as_of"])
        for i, line in enumerate(report.budget, start=2):
            put_row(
                sheet,
                i,
                [
                    *(
                        Decimal(str(line[c]))
                        if c in BUDGET_MONEY and line[c] is not None
                        else line[c]
                        for c in SUMMARY_COLUMNS
                    ),
                    report.budget_as_of,
                ],
            )
    for sheet in wb.worksheets:
        for col in sheet.columns:
            letter = col[0].column_letter
            longest = max((len(str(c.value)) for c in col if c.value is not None), default=8)
            sheet.column_dimensions[letter].width = min(60, max(10, longest + 2))
    _write_atomically(path, wb.save)


def check_out_path(path: str | Path) -> None:
    """Refuse, as invalid input (exit 2), a report file that cannot be written:
    its directory does not exist or is not writable, or it is a directory."""
    target = Path(path)
    parent = target.parent
    reason = None
    if target.is_dir():
        reason = "it is a directory"
    elif not parent.exists():
        reason = f"directory {parent} does not exist"
    elif not parent.is_dir():
        reason = f"{parent} is not a directory"
    elif not os.access(parent, os.W_OK | os.X_OK):
        reason = f"directory {parent} is not writable"
    elif target.exists() and not os.access(target, os.W_OK):
        reason = "the file is not writable"
    if reason is not None:
        raise InvalidInput(f"cannot write report {path}: {reason}")


def _write_atomically(path: str | Path, write: Callable[[str], object]) -> None:
    """Write through a temporary file beside ``path``, then rename it into place:
    a failure leaves nothing behind. OSError is invalid input (exit 2)."""
    check_out_path(path)
    target = Path(path)
    tmp: Path | None = None
    try:
        for attempt in range(100):
            candidate = target.with_name(f".{target.name}.{os.getpid()}.{attempt}.tmp")
            try:
                # created as open() would (the umask applies), and never over another file
                os.close(os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            except FileExistsError:
                continue
            tmp = candidate
            break
        else:  # pragma: no cover - a hundred stale temporary files
            raise InvalidInput(f"cannot write report {path}: no free temporary file name")
        write(str(tmp))
        os.replace(tmp, target)
        tmp = None
    except OSError as e:
        raise InvalidInput(f"cannot write report {path}: {e.strerror or e}") from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                tmp.unlink()


def write_report(report: ReconcileReport, path: str | Path) -> Path:
    """Write the report to ``path``: ``.xlsx`` a workbook, ``.csv`` the flat table
    (UTF-8 with BOM, so Excel opens it). Nothing is written if it fails."""
    kind = Path(path).suffix.lower()
    if kind == ".xlsx":
        to_xlsx(report, path)
    elif kind == ".csv":
        text = to_csv(report)

        def write(tmp: str) -> None:
            with open(tmp, "w", encoding="utf-8-sig", newline="") as fh:
                fh.write(text)

        _write_atomically(path, write)
    else:
        raise InvalidInput(f"invalid report file {path}: expected a .csv or .xlsx file name")
    return Path(path)


_SHEET_COLUMNS: dict[str, tuple[str, ...]] = {
    "matched": (
        "voucher",
        "platform",
        "ledger_amount",
        "statement_amount",
        "paid_on",
        "date",
        "reference",
        "payee",
        "line",
        "detail",
    ),
    "amount_mismatch": (
        "voucher",
        "platform",
        "ledger_amount",
        "statement_amount",
        "paid_on",
        "date",
        "line",
        "detail",
    ),
    "ledger_only": ("voucher", "platform", "ledger_amount", "paid_on", "detail"),
    "statement_only": ("statement_amount", "date", "reference", "payee", "line"),
    "duplicates": (
        "voucher",
        "platform",
        "where",
        "count",
        "ledger_amount",
        "statement_amount",
        "detail",
    ),
    "flags": (
        "flag",
        "voucher",
        "platform",
        "ledger_amount",
        "statement_amount",
        "paid_on",
        "date",
        "line",
        "detail",
    ),
    "bad_lines": ("line", "detail"),
}


# --- the adapter to the real application ---------------------------------------------


class AppSource:
    """:class:`ReconcileSource` over the real application.

    It reads the aggregates themselves (replayed from the event store), not the
    read models: reconciliation is an audit and answers from the source of
    truth, never from a projection that may lag. Dates are business dates
    ("as of" each payment date) with everything recorded up to now.
    """

    def __init__(self, service: LedgerService) -> None:
        self._svc = service
        self._platforms: dict[str, Platform] | None = None
        self._original_host: dict[str, str] = {}
        self._unit_codes: list[str] = []
        self._units: dict[str, Unit | None] = {}

    def _created(self, topic: str) -> Iterator[Any]:
        recorder = self._svc.app.recorder
        start = 1
        while True:
            batch = recorder.select_notifications(start, 500, topics=[topic])
            if not batch:
                return
            for n in batch:
                yield self._svc.app.mapper.to_domain_event(n)
            start = batch[-1].id + 1

    def _load(self) -> dict[str, Platform]:
        if self._platforms is None:
            from aggregates.platform import Platform
            from aggregates.unit import Unit

            platforms: dict[str, Platform] = {}
            for ev in self._created(f"{Platform.__module__}:{Platform.__qualname__}.Proposed"):
                platforms[ev.code] = self._svc.platform(ev.code)
                self._original_host[ev.code] = ev.host
            self._unit_codes = [
                ev.code for ev in self._created(f"{Unit.__module__}:{Unit.__qualname__}.Registered")
            ]
            self._platforms = platforms
        return self._platforms

    def _unit(self, code: str) -> Unit | None:
        if code not in self._units:
            from aggregates.errors import UnitNotFound

            try:
                self._units[code] = self._svc.unit(code)
            except (UnitNotFound, InvalidInput):
                self._units[code] = None
        return self._units[code]

    def host_on(self, platform: str, on: date) -> str | None:
        """The platform's host unit on a date: the proposed host, then approved changes."""
        plat = self._load().get(platform)
        if plat is None:
            return None
        host = self._original_host.get(platform, plat.host)
        changes = [
            cr
            for cr in plat.changes.values()
            if cr.status == "approved" and "host" in cr.applied and cr.decided_on is not None
        ]
        for cr in sorted(changes, key=lambda c: c.decided_on or on):
            if cr.decided_on is not None and cr.decided_on <= on:
                host = str(cr.applied["host"])
        return host

    def payments(self) -> Sequence[LedgerPayment]:
        out: list[LedgerPayment] = []
        for code, plat in sorted(self._load().items()):
            for p in plat.payments.values():
                out.append(
                    LedgerPayment(
                        voucher=p.voucher,
                        platform=code,
                        category=p.category,
                        fiscal_year=p.fiscal_year,
                        amount=Decimal(p.amount).quantize(CENT),
                        paid_on=p.paid_on,
                        reversed=p.reversed_on is not None,
                        host_unit=self.host_on(code, p.paid_on),
                    )
                )
        return out

    def allocated(self, platform: str, category: str, fiscal_year: int) -> Decimal:
        plat = self._load().get(platform)
        line = plat.line(category, fiscal_year) if plat is not None else None
        return Decimal(line.allocated) if line is not None else Decimal(0)

    def platform_status_on(self, platform: str, on: date) -> str | None:
        plat = self._load().get(platform)
        return plat.status_on(on) if plat is not None else None

    def debarment_on(self, unit: str, on: date) -> str | None:
        u = self._unit(unit)
        if u is None:
            return None
        active = [d for d in u.debarments.values() if d.active_on(on)]
        if not active:
            return None
        return "; ".join(
            f"{d.id} ({', '.join(d.scopes)}) from {d.start.isoformat()} until "
            f"{d.until().isoformat()}"
            + (f" ({d.basis or d.doc_no})" if d.basis or d.doc_no else "")
            for d in active
        )

    def blacklisting_on(self, unit: str, on: date) -> str | None:
        u = self._unit(unit)
        if u is None:
            return None
        entry = next((b for b in u.blacklist.values() if b.active_on(on)), None)
        if entry is None:
            return None
        cite = entry.basis or entry.doc_no
        return f"{entry.id} since {entry.added_on.isoformat()}" + (f" ({cite})" if cite else "")

    def unit_names(self) -> Mapping[str, frozenset[str]]:
        """Every name (current, former, alias) → every unit known by it: a name
        two units share maps to both, and the engine picks neither."""
        self._load()
        names: dict[str, set[str]] = defaultdict(set)
        for code in self._unit_codes:
            u = self._unit(code)
            if u is None:
                continue
            for former in u.former_names:
                names[str(former["name"])].add(code)
            for alias in u.aliases:
                names[alias].add(code)
            names[u.name].add(code)
        return {name: frozenset(codes) for name, codes in names.items()}

    def current_names(self) -> dict[str, str]:
        """Credit code → current name (the payee a bank shows)."""
        self._load()
        return {c: u.name for c in self._unit_codes if (u := self._unit(c)) is not None}


def write_demo_statement_from_ledger(
    service: LedgerService, path: str | Path, *, fiscal_year: int | None = None
) -> Path:
    """Write the demo statement for the payments recorded in the ledger (``ledger demo``)."""
    source = AppSource(service)
    payments = [p for p in source.payments() if fiscal_year is None or p.fiscal_year == fiscal_year]
    return write_demo_statement(path, payments, source.current_names())


# --- the demo statement ----------------------------------------------------------------

DEMO_HEADER = ("交易日期", "摘要", "对方户名", "对方账号", "借方发生额", "贷方发生额", "余额")
CATEGORY_LABELS = {
    "startup": "开办费",
    "operation": "运行费",
    "research": "研究经费",
    "subsidy": "扶持资助",
    "reward": "奖励",
    "matching": "配套资金",
}


def _grouped(value: Decimal) -> str:
    return f"{value.quantize(CENT):,.2f}"


def demo_statement_lines(
    payments: Sequence[LedgerPayment],
    unit_names: Mapping[str, str],
    *,
    account: str = "5400 1234 5678 0000 0001",
    opening_balance: Decimal = Decimal("50000000.00"),
) -> list[list[str]]:
    """The rows of a bank statement for the demo's payments, with deliberate discrepancies.

    ``unit_names`` maps a credit code to the unit's name (the payee the bank
    shows). Of the live payments, in date order: the first is paid 1,000.00
    short (amount_mismatch), the second is missing (ledger_only), the third
    is paid twice (duplicates), the fourth shows no voucher and is matched by
    payee (matched); the first reversed payment is still paid
    (reversed-but-paid flag); one payment to an unknown company
    (statement_only); one interest inflow (skipped); a preamble and a totals
    line. Vouchers sit inside the 摘要 text, as banks write them.
    """
    live = sorted((p for p in payments if not p.reversed), key=lambda p: (p.paid_on, p.voucher))
    reversed_ = sorted((p for p in payments if p.reversed), key=lambda p: (p.paid_on, p.voucher))

    def payee(p: LedgerPayment) -> str:
        return unit_names.get(p.host_unit or "", p.host_unit or "")

    def acct(p: LedgerPayment) -> str:
        digits = "".join(str(ord(c) % 10) for c in (p.host_unit or p.platform))
        return f"6217 {digits[:4]:0<4} {digits[4:8]:0<4} {digits[8:12]:0<4}"

    def memo(p: LedgerPayment) -> str:
        return f"拨付{p.platform}{CATEGORY_LABELS.get(p.category, p.category)} 凭证号{p.voucher}"

    entries: list[tuple[date, str, str, str, Decimal | None, Decimal | None]] = []
    for i, p in enumerate(live):
        if i == 1:
            continue  # missing from the statement
        amount = p.amount
        if i == 0:
            amount = p.amount - Decimal("1000.00") if p.amount > 1000 else p.amount / 2
        text = memo(p)
        when = p.paid_on
        if i == 3:
            text, when = "科技经费拨款", p.paid_on + timedelta(days=1)
        entries.append((when, text, payee(p), acct(p), amount.quantize(CENT), None))
        if i == 2:
            entries.append((when, text, payee(p), acct(p), amount, None))
    if reversed_:
        p = reversed_[0]
        entries.append((p.paid_on, memo(p), payee(p), acct(p), p.amount, None))
    last = max((e[0] for e in entries), default=date(2026, 1, 5))
    entries.append(
        (
            last,
            "设备采购款 凭证号PZ-2026-9999",
            "拉萨市雪域仪器设备有限公司",
            "6217 0000 9999 0001",
            Decimal("86400.00"),
            None,
        )
    )
    entries.append(
        (
            date(last.year, 6, 21) if last.month > 6 else last,
            "结息 利息收入",
            "-",
            "-",
            None,
            Decimal("1234.56"),
        )
    )
    entries.sort(key=lambda e: e[0])

    first = min(e[0] for e in entries)
    rows_: list[list[str]] = [
        ["西藏某银行拉萨分行 对公账户交易明细", "", "", "", "", "", ""],
        [f"账号：{account}", "", "户名：拉萨市科学技术局科技经费专户", "", "", "", ""],
        [f"起止日期：{first.isoformat()} 至 {last.isoformat()}", "", "", "", "", "", ""],
        [],
        list(DEMO_HEADER),
    ]
    balance = opening_balance
    out_total = in_total = Decimal(0)
    for when, text, who, account_no, out, inn in entries:
        balance = balance - (out or 0) + (inn or 0)
        out_total += out or 0
        in_total += inn or 0
        rows_.append(
            [
                when.strftime("%Y%m%d"),
                text,
                who,
                account_no,
                _grouped(out) if out is not None else "-",
                _grouped(inn) if inn is not None else "-",
                _grouped(balance),
            ]
        )
    rows_.append(["合计", "", "", "", _grouped(out_total), _grouped(in_total), ""])
    return rows_


def write_demo_statement(
    path: str | Path, payments: Sequence[LedgerPayment], unit_names: Mapping[str, str]
) -> Path:
    """Write the demo statement as the bank would: GBK, Chinese headers, CRLF."""
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows(demo_statement_lines(payments, unit_names))
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(buf.getvalue().encode("gbk"))
    return target
