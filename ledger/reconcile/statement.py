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
  :mod:`ledger.reconcile.columns`, the one place a bank's layout is
  described). Headers are compared after NFKC normalisation (full-width
  brackets become ASCII), case-folding, removing blanks and a trailing unit
  such as ``(元)``.
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
- **Totals** lines (``合计``, ``合　　计``, ``总计``, ``本页合计``, ``小计``,
  ``合计金额``, ``合计笔数：2``, ``total``) and **balance** lines (``期初余额``,
  ``期末余额``, ``承前页``, ``过次页``, ``Opening balance``…) are skipped,
  wherever the label is; blanks inside a label are ignored. After one, rows
  with neither a date nor an amount are a footer (printed-on date,
  signatures) and skipped; a row with a date or an amount is still read, and
  reported if bad. A repeated header row (multi-page exports) is skipped.
- A **bad line** (unparseable date or amount, no amount, a cell over csv's
  131,072-character limit) is reported with its 1-based physical line number
  in the file and the reason, and does not stop the rest.

A file that cannot be read, decoded, or has no header row raises
:class:`~aggregates.errors.InvalidInput` (exit 2).

Reading one cell (amounts, dates, totals labels) is
:mod:`ledger.reconcile.cells`.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

from aggregates.errors import InvalidInput
from ledger.reconcile.cells import (
    cell_or_none,
    clean_cell,
    is_balance_row,
    is_totals_row,
    parse_amount,
    parse_statement_date,
)
from ledger.reconcile.columns import (
    AMOUNT_HEADERS,
    DATE_HEADERS,
    INFLOW_MARKS,
    OUTFLOW_MARKS,
    Columns,
    find_columns,
    normalize_header,
)

__all__ = [
    "BadLine",
    "Columns",
    "StatementLine",
    "StatementParse",
    "parse_amount",
    "parse_statement",
    "parse_statement_bytes",
    "parse_statement_date",
]


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
    skipped_balances: int = 0  # balance and carried-forward lines (期初余额, 承前页 …)


# --- decoding ------------------------------------------------------------------


def _line_majority(data: bytes) -> str | None:
    """The encoding most lines with non-ASCII bytes are in: "utf-8" when most
    decode as UTF-8, else "gb18030" when most of them decode as GB18030; None
    when there are none, or neither holds most."""
    utf8 = gb = total = 0
    for raw in data[:2_000_000].split(b"\n"):
        if raw.isascii():
            continue
        total += 1
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            try:
                raw.decode("gb18030")
            except UnicodeDecodeError:
                continue
            gb += 1
        else:
            utf8 += 1
    if total and utf8 * 2 > total:
        return "utf-8"
    if total and gb * 2 > total:
        return "gb18030"
    return None


def _decode_lines(data: bytes, encoding: str) -> tuple[str, list[int]]:
    """The text of the lines that decode, an empty line for each that does
    not, and the 1-based numbers of those."""
    out: list[str] = []
    undecodable: list[int] = []
    for number, raw in enumerate(data.split(b"\n"), start=1):
        try:
            out.append(raw.decode(encoding if number == 1 else encoding.removesuffix("-sig")))
        except UnicodeDecodeError:
            out.append("")
            undecodable.append(number)
    return "\n".join(out), undecodable


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


def _rows(text: str, delimiter: str) -> Iterator[tuple[int, list[str], str | None]]:
    """Rows with the 1-based physical line each starts on, and why it could not be
    read (a cell over csv's field size limit), in which case the row is empty.

    A row csv cannot read does not stop the rest: the reader goes on with the
    next physical line. csv's field size limit (131,072 characters) is left as
    it is (it is process-wide state); an oversized cell is a bad line.
    """
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as e:
            reason = str(e)
            if "field limit" in reason:
                reason = (
                    f"a cell longer than {csv.field_size_limit():,} characters "
                    "(an unclosed quote?): the line cannot be read"
                )
            yield start, [], f"unreadable line: {reason}"
        else:
            yield start, row, None
        start = reader.line_num + 1


def _find_header(text: str) -> tuple[str, int, Columns] | None:
    """(delimiter, index of the header row, columns), searching the first rows."""
    for delimiter in (",", "\t", ";", "|"):
        for index, (_, row, error) in enumerate(_rows(text, delimiter)):
            if index > 200:
                break
            if error is not None:
                continue
            cols = find_columns(row)
            if cols is not None:
                return delimiter, index, cols
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
    majority = None if data.startswith((b"\xff\xfe", b"\xfe\xff")) else _line_majority(data)
    for encoding in _candidate_encodings(data):
        if majority is not None and encoding not in ("utf-8-sig", "gb18030"):
            break  # a Chinese bank's file: no guessing (latin-1 reads anything)
        if encoding == "gb18030" and majority == "utf-8":
            # GB18030 decodes most byte strings: a UTF-8 file with a stray line
            # in another encoding would be read whole as mojibake
            continue
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
    # No encoding reads the whole file: read it line by line in the encoding
    # most of its lines are in, and report each line that is not (a bad line
    # does not stop the rest)
    encoding = "utf-8-sig" if majority == "utf-8" else "gb18030"
    text, undecodable = _decode_lines(data, encoding) if majority else ("", [])
    found = _find_header(text) if text.strip() else None
    if found is not None:
        decoded_any = True
        delimiter, header_index, columns = found
        result = _parse_rows(text, delimiter, header_index, columns)
        result.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        shown = "UTF-8" if encoding == "utf-8-sig" else "GBK/GB18030"
        result.errors.extend(
            BadLine(n, f"undecodable bytes: the line is not {shown}, as the rest of the file is")
            for n in undecodable
            if n > result.header_line
        )
        result.errors.sort(key=lambda b: b.line)
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
    # After a totals or balance line, rows with neither a date nor an amount are a
    # footer (printed-on date, signatures) and skipped. Anything with a date or an
    # amount is read as a payment line, and reported if it cannot be.
    footer = False
    # Rows with neither a date nor an amount: a trailing note if nothing valid follows.
    pending: list[BadLine] = []

    def report(bad: BadLine) -> None:
        result.errors.extend(pending)
        pending.clear()
        result.errors.append(bad)

    for index, (line_no, row, error) in enumerate(_rows(text, delimiter)):
        if index < header_index:
            joined = " ".join(c for c in (clean_cell(x) for x in row) if c)
            if joined:
                result.preamble.append(joined)
            continue
        if index == header_index:
            result.header_line = line_no
            continue
        if error is not None:
            report(BadLine(line_no, error))
            continue
        if not any(clean_cell(c) for c in row):
            continue
        if tuple(normalize_header(c) for c in row[: cols.width]) == header_key:
            footer = False  # the header repeated on a new page
            continue
        labels = [c for i, c in enumerate(row) if i not in amount_cols]
        if is_totals_row(labels):
            result.skipped_totals += 1
            footer = True
            continue
        if is_balance_row(labels):
            result.skipped_balances += 1
            footer = True
            continue
        try:
            line = _parse_line(line_no, row, cols)
        except ValueError as e:
            bad = BadLine(line_no, str(e))
            if _looks_like_note(row, cols):
                if not footer:
                    pending.append(bad)
            else:
                report(bad)
            continue
        result.errors.extend(pending)
        pending.clear()
        footer = False
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
