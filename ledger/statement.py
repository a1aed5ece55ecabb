"""Bank and treasury statement files, parsed as they come.

A statement is a CSV file exported by a Chinese bank or the treasury. Real
exports are messy, and this module takes them as they are:

- **Encoding**: UTF-8 (with or without BOM), UTF-16 with a BOM, GBK / GB18030;
  detected by decoding strictly (UTF-8 first, then GB18030, then
  charset-normalizer's best guess) and keeping the first decoding in which a
  header row is found.
- **Preamble**: lines before the header row (account number, period, bank
  name) are kept as ``preamble`` and otherwise ignored. The header row is the
  first row with a date column and an amount (or outflow) column.
- **Columns** are found by header name, English or Chinese (see
  :data:`DATE_HEADERS` …). Headers are compared after NFKC normalisation
  (full-width brackets become ASCII), case-folding, removing blanks and a
  trailing unit such as ``(元)``.
- **Split columns**: an outflow column beside an inflow column
  (``借方发生额``/``贷方发生额``, ``记账金额(支出)``/``记账金额(收入)``,
  ``交易金额(支出)``/``交易金额(收入)``); the outflow is the payment. A line
  with only an inflow is not a payment: it is skipped, not reported.
- **Cells** are stripped of spaces, tabs and full-width blanks; ``-``, ``--``,
  ``—`` and blank mean empty; Excel's ``="…"`` and leading ``'`` guards are
  removed.
- **Amounts**: thousands separators (``1,234,567.80``, also full-width
  ``，``), ``¥``/``￥``/``元``/``RMB``/``CNY``; exact ``Decimal`` quantized to
  0.01. More than two non-zero decimal places, or a negative amount in a
  single amount column, is a bad line.
- **Dates**: ``2026-03-05``, ``2026/3/5``, ``20260305``, ``2026.03.05``,
  ``2026年3月5日``, each optionally followed by a time.
- **Totals** lines (``合计``, ``总计``, ``本页合计``, ``小计``, ``累计``,
  ``total``) are skipped, and so is anything unparseable after the first one
  (a footer: printed-on date, signatures); a repeated header row (multi-page
  exports) is skipped.
- A **bad line** (unparseable date or amount, no amount) is reported with its
  1-based physical line number in the file and the reason, and does not stop
  the rest.

A file that cannot be read, decoded, or has no header row raises
:class:`~aggregates.errors.InvalidInput` (exit 2).
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from pathlib import Path

from aggregates.errors import InvalidInput

CENT = Decimal("0.01")

# Header names (compared after :func:`normalize_header`): CLI.md's names first,
# then a few spellings real exports use for the same column.
DATE_HEADERS = ("date", "交易日期", "transactiondate", "记账日期", "日期")
AMOUNT_HEADERS = ("amount", "金额", "借方发生额", "交易金额", "支出金额")
# Explicit identifier columns: their text is a voucher number or nothing.
REFERENCE_HEADERS = (
    "reference",
    "voucher",
    "凭证号",
    "voucherno",
    "referenceno",
    "凭证号码",
    "凭证编号",
)
# Free-text columns that may carry a voucher among other words.
MEMO_HEADERS = ("摘要", "用途", "附言", "memo", "description")
PAYEE_HEADERS = (
    "payee",
    "收款单位",
    "对方户名",
    "收款人",
    "收款人名称",
    "收款单位名称",
    "对方单位",
    "对方名称",
    "对方账户名称",
)
ACCOUNT_HEADERS = ("account", "对方账号", "收款账号", "收款人账号", "对方账户")
# A debit/credit flag beside a single amount column: only outflows are payments.
DIRECTION_HEADERS = (
    "借贷标志",
    "借贷方向",
    "收支标志",
    "收支方向",
    "交易方向",
    "direction",
    "dr/cr",
)
OUTFLOW_MARKS = frozenset(
    {"借", "支", "支出", "出", "付", "付款", "转出", "d", "dr", "debit", "out"}
)
INFLOW_MARKS = frozenset({"贷", "收", "收入", "入", "收款", "转入", "c", "cr", "credit", "in"})
# (outflow, inflow) pairs: the outflow is the payment.
SPLIT_HEADERS = (
    ("借方发生额", "贷方发生额"),
    ("记账金额(支出)", "记账金额(收入)"),
    ("交易金额(支出)", "交易金额(收入)"),
)

_TOTALS_ZH = re.compile(
    r"(本页|本月|本年|本期|本日|当日|期末|全部|总)?(合计|总计|小计|累计|汇总)\s*([:(\[].*)?"
)
_TOTALS_EN = re.compile(r"(page\s*|grand\s*|sub-?)?totals?\s*([:(\[].*)?")
EMPTY_CELLS = frozenset({"", "-", "--", "---", "—", "——", "n/a", "null", "none"})

_UNIT_SUFFIX = re.compile(r"\((元|人民币|人民币元|rmb|cny|¥)\)$")
_DATE_TIME = r"(?:(?:\s+|t)\d{1,2}[:：]\d{2}(?:[:：]\d{2}(?:\.\d+)?)?|\s*\d{6})?"
_DATE_SEPARATED = re.compile(
    r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?" + _DATE_TIME, re.IGNORECASE
)
_DATE_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})" + _DATE_TIME, re.IGNORECASE)
_GROUPED = re.compile(r"\d{1,3}(,\d{3})+(\.\d*)?")
_PLAIN = re.compile(r"\d+(\.\d*)?|\.\d+")


@dataclass(frozen=True)
class StatementLine:
    """One payment the statement shows (an outflow)."""

    line: int  # 1-based physical line number in the file
    date: date
    amount: Decimal  # positive, quantized to 0.01
    references: tuple[str, ...] = ()  # explicit reference cells, non-empty, in header order
    memo: str | None = None  # free text (摘要) that may contain a voucher
    payee: str | None = None
    account: str | None = None

    @property
    def reference(self) -> str | None:
        """What the line shows as its reference: the first explicit one, else the memo."""
        if self.references:
            return self.references[0]
        return self.memo


@dataclass(frozen=True)
class BadLine:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass(frozen=True)
class Columns:
    """Where each field is, by 0-based column index."""

    date: int
    outflow: int
    inflow: int | None = None
    references: tuple[int, ...] = ()
    memo: int | None = None
    payee: int | None = None
    account: int | None = None
    direction: int | None = None
    names: tuple[str, ...] = ()  # the header row as found

    @property
    def width(self) -> int:
        return len(self.names)


@dataclass
class StatementParse:
    """The result of reading one statement file."""

    lines: list[StatementLine] = field(default_factory=list)
    errors: list[BadLine] = field(default_factory=list)
    encoding: str = "utf-8"
    header_line: int = 0  # 1-based physical line of the header row
    columns: Columns | None = None
    preamble: list[str] = field(default_factory=list)
    skipped_inflows: int = 0
    skipped_totals: int = 0


# --- cells ---------------------------------------------------------------------


def clean_cell(text: str) -> str:
    """Strip padding (spaces, tabs, full-width blanks) and Excel's text guards."""
    s = unicodedata.normalize("NFKC", text).strip()
    if s.startswith('="') and s.endswith('"') and len(s) >= 3:
        s = s[2:-1].strip()
    if s.startswith("'"):
        s = s[1:].strip()
    return s


def cell_or_none(text: str) -> str | None:
    s = clean_cell(text)
    return None if s.casefold() in EMPTY_CELLS else s


def normalize_header(text: str) -> str:
    s = clean_cell(text).casefold()
    s = re.sub(r"[\s_.#:-]+", "", s)
    return _UNIT_SUFFIX.sub("", s)


def parse_amount(text: str) -> Decimal | None:
    """Parse a money cell into a Decimal quantized to 0.01; None for an empty cell.

    Raises ValueError with the reason for anything that is not an exact amount.
    """
    s = cell_or_none(text)
    if s is None:
        return None
    raw = s
    for token in ("¥", "元", "rmb", "cny", "RMB", "CNY", "\u00a0", " ", "'"):
        raw = raw.replace(token, "")
    negative = False
    if raw.startswith("(") and raw.endswith(")"):
        negative, raw = True, raw[1:-1]
    if raw.startswith("-"):
        negative, raw = True, raw[1:]
    elif raw.startswith("+"):
        raw = raw[1:]
    if raw.endswith("-"):  # some ledgers print "1,234.00-"
        negative, raw = True, raw[:-1]
    if "," in raw:
        if not _GROUPED.fullmatch(raw):
            raise ValueError(f"unreadable amount {s!r}: misplaced thousands separator")
        raw = raw.replace(",", "")
    if not _PLAIN.fullmatch(raw):
        raise ValueError(f"unreadable amount {s!r}")
    try:
        value = Decimal(raw)
    except InvalidOperation:  # pragma: no cover - the regex already checked
        raise ValueError(f"unreadable amount {s!r}") from None
    quantized = value.quantize(CENT)
    if quantized != value:
        raise ValueError(f"amount {s!r} has more than two decimal places")
    return -quantized if negative else quantized


def parse_statement_date(text: str) -> date:
    """Parse a date cell in any of the usual forms; ValueError with the reason otherwise."""
    s = cell_or_none(text)
    if s is None:
        raise ValueError("no date")
    m = _DATE_SEPARATED.fullmatch(s) or _DATE_COMPACT.fullmatch(s)
    if m is None:
        raise ValueError(f"unreadable date {s!r}")
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        raise ValueError(f"no such date {s!r}") from None


def is_totals_cell(text: str) -> bool:
    """A cell that labels a totals line: ``合计``, ``本页合计``, ``总计：12笔``, ``Total``."""
    s = clean_cell(text).casefold()
    return bool(_TOTALS_ZH.fullmatch(s) or _TOTALS_EN.fullmatch(s))


def is_totals_row(cells: Sequence[str]) -> bool:
    return any(is_totals_cell(c) for c in cells)


# --- header --------------------------------------------------------------------


def find_columns(cells: Sequence[str]) -> Columns | None:
    """The column layout if this row is a header row, else None."""
    names = [normalize_header(c) for c in cells]

    def first(candidates: Iterable[str]) -> int | None:
        for candidate in candidates:
            if candidate in names:
                return names.index(candidate)
        return None

    date_col = first(DATE_HEADERS)
    if date_col is None:
        return None
    outflow = inflow = None
    for out_name, in_name in SPLIT_HEADERS:
        if out_name in names and in_name in names:
            outflow, inflow = names.index(out_name), names.index(in_name)
            break
    if outflow is None:
        outflow = first(AMOUNT_HEADERS)
        if outflow is None:
            for out_name, _ in SPLIT_HEADERS:  # an outflow column alone is the amount
                if out_name in names:
                    outflow = names.index(out_name)
                    break
    if outflow is None:
        return None
    references = tuple(i for i, n in enumerate(names) if n in REFERENCE_HEADERS)
    return Columns(
        date=date_col,
        outflow=outflow,
        inflow=inflow,
        references=tuple(sorted(references, key=lambda i: REFERENCE_HEADERS.index(names[i]))),
        memo=first(MEMO_HEADERS),
        payee=first(PAYEE_HEADERS),
        account=first(ACCOUNT_HEADERS),
        direction=first(DIRECTION_HEADERS) if inflow is None else None,
        names=tuple(clean_cell(c) for c in cells),
    )


# --- decoding ------------------------------------------------------------------


def _candidate_encodings(data: bytes) -> Iterator[str]:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        yield "utf-16"
        return
    yield "utf-8-sig"
    yield "gb18030"
    try:
        from charset_normalizer import from_bytes

        for match in from_bytes(data[:200_000]):
            if match.encoding not in ("utf_8", "gb18030"):
                yield match.encoding
    except Exception:  # pragma: no cover - the detector is a last resort
        return


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str]]]:
    """Rows with the 1-based physical line each starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    try:
        for row in reader:
            yield start, row
            start = reader.line_num + 1
    except csv.Error as e:
        raise ValueError(f"line {start}: {e}") from None


def _find_header(text: str) -> tuple[str, int, Columns] | None:
    """(delimiter, index of the header row, columns), searching the first rows."""
    for delimiter in (",", "\t", ";", "|"):
        try:
            for index, (_, row) in enumerate(_rows(text, delimiter)):
                if index > 200:
                    break
                cols = find_columns(row)
                if cols is not None:
                    return delimiter, index, cols
        except ValueError:
            continue
    return None


# --- parsing -------------------------------------------------------------------


def parse_statement(path: str | Path) -> StatementParse:
    """Read a statement file. See the module docstring for what it accepts."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InvalidInput(f"cannot read statement {p}: {e.strerror or e}") from None
    return parse_statement_bytes(data, name=str(p))


def parse_statement_bytes(data: bytes, *, name: str = "statement") -> StatementParse:
    decoded_any = False
    for encoding in _candidate_encodings(data):
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        decoded_any = True
        found = _find_header(text)
        if found is None:
            continue
        delimiter, header_index, columns = found
        result = _parse_rows(text, delimiter, header_index, columns)
        result.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        return result
    if not decoded_any:
        raise InvalidInput(f"cannot decode statement {name}: neither UTF-8 nor GBK/GB18030")
    raise InvalidInput(
        f"no header row in statement {name}: expected a date column "
        f"({' / '.join(DATE_HEADERS)}) and an amount column "
        f"({' / '.join(AMOUNT_HEADERS)}, or an outflow/inflow pair)"
    )


def _cell(row: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index]


def _parse_rows(text: str, delimiter: str, header_index: int, cols: Columns) -> StatementParse:
    result = StatementParse(columns=cols)
    header_key = tuple(normalize_header(n) for n in cols.names)
    amount_cols = {cols.outflow} | ({cols.inflow} if cols.inflow is not None else set())
    after_totals = False
    # Rows with neither a date nor an amount: a footer if nothing valid follows them.
    pending: list[BadLine] = []
    for index, (line_no, row) in enumerate(_rows(text, delimiter)):
        if index < header_index:
            joined = " ".join(c for c in (clean_cell(x) for x in row) if c)
            if joined:
                result.preamble.append(joined)
            continue
        if index == header_index:
            result.header_line = line_no
            continue
        if not any(clean_cell(c) for c in row):
            continue
        if tuple(normalize_header(c) for c in row[: cols.width]) == header_key:
            after_totals = False  # the header repeated on a new page
            continue
        labels = [c for i, c in enumerate(row) if i not in amount_cols]
        if is_totals_row(labels):
            result.skipped_totals += 1
            after_totals = True
            continue
        try:
            line = _parse_line(line_no, row, cols)
        except ValueError as e:
            if after_totals:
                continue  # a footer below the totals: printed-on date, signatures
            bad = BadLine(line_no, str(e))
            if _looks_like_note(row, cols):
                pending.append(bad)
            else:
                result.errors.extend(pending)
                pending.clear()
                result.errors.append(bad)
            continue
        result.errors.extend(pending)
        pending.clear()
        after_totals = False
        if line is None:
            result.skipped_inflows += 1
        else:
            result.lines.append(line)
    return result


def _looks_like_note(row: Sequence[str], cols: Columns) -> bool:
    """No amount in any amount column and no date: a note, not a transaction."""
    if cell_or_none(_cell(row, cols.outflow)) is not None:
        return False
    if cols.inflow is not None and cell_or_none(_cell(row, cols.inflow)) is not None:
        return False
    try:
        parse_statement_date(_cell(row, cols.date))
    except ValueError:
        return True
    return False


def _parse_line(line_no: int, row: Sequence[str], cols: Columns) -> StatementLine | None:
    """The payment on this row, None if the row is only an inflow; ValueError if bad."""
    outflow = parse_amount(_cell(row, cols.outflow))
    if cols.inflow is not None:
        inflow = parse_amount(_cell(row, cols.inflow))
        if outflow is None or outflow == 0:
            if inflow is not None and inflow != 0:
                parse_statement_date(_cell(row, cols.date))  # an undated row is still bad
                return None
            raise ValueError("no amount in either the outflow or the inflow column")
        if outflow < 0:
            raise ValueError(f"negative outflow {outflow}: expected a positive payment")
    else:
        if cols.direction is not None:
            mark = (cell_or_none(_cell(row, cols.direction)) or "").casefold()
            if mark in INFLOW_MARKS:
                parse_statement_date(_cell(row, cols.date))  # an undated row is still bad
                return None
            if mark not in OUTFLOW_MARKS:
                raise ValueError(f"unknown debit/credit flag {mark!r}")
        if outflow is None:
            raise ValueError("no amount")
        if outflow < 0:
            raise ValueError(f"negative amount {outflow}: a refund or reversal, not a payment")
        if outflow == 0:
            raise ValueError("zero amount")
    when = parse_statement_date(_cell(row, cols.date))
    references = tuple(
        ref for ref in (cell_or_none(_cell(row, i)) for i in cols.references) if ref is not None
    )
    return StatementLine(
        line=line_no,
        date=when,
        amount=outflow,
        references=references,
        memo=cell_or_none(_cell(row, cols.memo)),
        payee=cell_or_none(_cell(row, cols.payee)),
        account=cell_or_none(_cell(row, cols.account)),
    )
