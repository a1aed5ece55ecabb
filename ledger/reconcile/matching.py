"""Matching a statement's lines to the ledger's payments, and what differs.

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

import re
import unicodedata
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from decimal import Decimal
from pathlib import Path

from aggregates.errors import InvalidInput
from aggregates.values import normalise_voucher
from ledger.reconcile.checks import Period, period_check
from ledger.reconcile.findings import (
    DEFAULT_TOLERANCE_DAYS,
    FLAG_KINDS,
    AmountMismatch,
    Duplicate,
    Flag,
    FlagKind,
    LedgerOnly,
    Match,
    ReconcileReport,
    StatementOnly,
    money,
)
from ledger.reconcile.layout import Layout
from ledger.reconcile.source import LedgerPayment, ReconcileSource
from ledger.reconcile.statement import StatementLine, StatementParse, parse_statement

ACTIVE_STATUSES = frozenset({"construction", "operating", "rectification"})


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


_WHOLE_TOKEN = re.compile(r"[A-Z0-9]+(?:[-_/.][A-Z0-9]+)*")


class _VoucherFinder:
    """Finds ledger vouchers inside free text, as whole tokens.

    A voucher made of letters, digits and ``-_/.`` is found by looking up each
    maximal token of the text in a set (fast for a ledger of any size); any
    other voucher (with Chinese or blanks in it) by one pattern of them all.
    """

    def __init__(self, keys: Iterable[str]) -> None:
        tokens: set[str] = set()
        others: list[str] = []
        for k in set(keys):
            if _WHOLE_TOKEN.fullmatch(k):
                tokens.add(k)
            else:
                others.append(k)
        self._tokens = frozenset(tokens)
        self._pattern: re.Pattern[str] | None = None
        if others:
            ordered = sorted(others, key=lambda k: (-len(k), k))
            alternatives = "|".join(re.escape(k) for k in ordered)
            self._pattern = re.compile(
                rf"(?<![A-Z0-9])(?<![A-Z0-9][-_/.])(?:{alternatives})(?![A-Z0-9]|[-_/.][A-Z0-9])"
            )

    def find(self, text: str) -> set[str]:
        normal = _key(text)
        found = {m.group(0) for m in _TOKEN.finditer(normal)} & self._tokens
        if self._pattern is not None:
            found |= {m.group(0) for m in self._pattern.finditer(normal)}
        return found


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
    period: Period | None = None,
) -> ReconcileReport:
    """Match the statement's lines to the ledger's payments and list what differs.

    ``period`` (``--from/--to``), else the statement's own (preamble, file
    name), bounds which ledger payments are expected on it: a payment paid
    outside it is not ``ledger_only``. Lines of money in are never payments.
    """
    if tolerance_days < 0:
        raise InvalidInput(f"invalid tolerance {tolerance_days}: days cannot be negative")
    if isinstance(statement, StatementParse):
        lines = [ln for ln in statement.lines if ln.direction == "out"]
        report = ReconcileReport(bad_lines=list(statement.errors), encoding=statement.encoding)
        report.statement_checks = statement.checks()
        report.layout = statement.layout
        report.statement_sha256 = statement.sha256
        report.statement_kind = statement.kind
        report.inflows = len(statement.inflows)
        period = period or statement.period
        dated = [(ln.line, ln.date) for ln in (*statement.lines, *statement.inflows)]
    else:
        lines = [ln for ln in statement if ln.direction == "out"]
        report = ReconcileReport()
        dated = [(ln.line, ln.date) for ln in lines]
    report.fiscal_year = fiscal_year
    report.tolerance_days = tolerance_days
    report.period = period
    lines.sort(key=lambda ln: ln.line)

    def in_scope(p: LedgerPayment) -> bool:
        return fiscal_year is None or p.fiscal_year == fiscal_year

    def expected(p: LedgerPayment) -> bool:
        """A payment the statement should show: in scope and in its period."""
        return in_scope(p) and (period is None or p.paid_on in period)

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
        elif several or any(not _bank_number(r) for r in line.references):
            # an explicit reference that names no voucher, or a combined payment:
            # no payee fallback, so that it shows (a number of digits only that is
            # no voucher is the bank's own serial: it does not block the payee)
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
    by_host_amount: dict[tuple[str | None, Decimal], list[int]] = defaultdict(list)
    if unreferenced:
        for i, p in enumerate(payments):
            if i not in taken:
                by_host_amount[(p.host_unit, p.amount)].append(i)
    candidates: list[tuple[bool, bool, int, int, date, str, int, StatementLine]] = []
    for line in unreferenced:
        codes = _resolve_payee(line.payee, names)
        if not codes:
            continue
        fits = sorted(
            (i, abs((line.date - payments[i].paid_on).days))
            for code in codes
            for i in by_host_amount.get((code, line.amount), ())
            if abs((line.date - payments[i].paid_on).days) <= tolerance_days
        )
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
        if expected(p) and not p.reversed and i not in paired:
            report.ledger_only.append(
                LedgerOnly(p.voucher, p.platform, p.amount, p.paid_on, p.category, p.fiscal_year)
            )
    if period is not None:
        outside = sum(
            1
            for i, p in enumerate(payments)
            if in_scope(p) and not p.reversed and i not in paired and p.paid_on not in period
        )
        report.statement_checks.append(period_check(period, dated, outside))

    # a reference the statement shows on several lines the ledger does not know:
    # paid twice all the same (the first line is statement_only, the others duplicates)
    repeated: dict[str, list[StatementLine]] = defaultdict(list)
    for ln in unmatched:
        ref = _line_reference(ln, platform_codes)
        if ref is not None:
            repeated[ref].append(ln)
    extra_unknown: set[int] = set()
    for ref, same in repeated.items():
        if len(same) < 2:
            continue
        same.sort(key=lambda x: x.line)
        extra_unknown.update(x.line for x in same[1:])
        report.duplicates.append(
            Duplicate(
                voucher=ref,
                where="statement",
                count=len(same),
                platform="",
                amount=sum((x.amount for x in same[1:]), Decimal(0)),
                lines=tuple(x.line for x in same),
            )
        )
    for ln in unmatched:
        if ln.line not in extra_unknown:
            report.statement_only.append(
                StatementOnly(ln.reference or ln.serial, ln.payee, ln.amount, ln.date, ln.line)
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


def _bank_number(reference: str) -> bool:
    """Digits only: a bank's serial or cheque number in a 凭证号 column."""
    return _key(reference).isdigit()


def _line_reference(ln: StatementLine, platform_codes: AbstractSet[str]) -> str | None:
    """The reference a line shows, normalised: its explicit reference, else the one
    voucher-like token of its free text; None if it shows none (or several)."""
    if ln.references:
        return _key(ln.references[0])
    tokens = voucher_like_tokens(ln.memo, not_vouchers=platform_codes)
    return tokens[0] if len(tokens) == 1 else None


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
        debarment = source.debarment_on(p.host_unit, p.paid_on, p.programme)
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
    term = source.term_ended_on(p.platform, p.paid_on)
    if term is not None:
        flags.append(flag("past-term", f"paid on {on}: {term}"))
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
    layout: Layout | None = None,
    period: Period | None = None,
) -> ReconcileReport:
    """Parse a statement file and reconcile it."""
    parsed = parse_statement(path, layout=layout)
    report = reconcile(
        source, parsed, fiscal_year=fiscal_year, tolerance_days=tolerance_days, period=period
    )
    report.statement = str(path)
    return report
