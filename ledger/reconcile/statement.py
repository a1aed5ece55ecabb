"""Bank and treasury statement files, parsed as they come.

A statement is a CSV, XLS or XLSX file exported by a Chinese bank or the
treasury (a PDF or an image is refused with what to export instead). Real
exports are messy, and this module takes them as they are:

- **Layouts**: the header row (the first row, after any preamble, that a
  layout fits) is matched against the shipped layouts
  (:mod:`ledger.reconcile.layout`, docs/LAYOUTS.md); ``layout=`` forces one.
  A header no layout fits is read by the built-in generic reading
  (:mod:`ledger.reconcile.columns`, layout ``generic``); a row neither fits
  is no header, and the error names the closest known layout.
- **Encoding** (CSV): UTF-8 (with or without BOM), UTF-16 with a BOM, GBK /
  GB18030; detected by decoding strictly (UTF-8 first, then GB18030, then
  charset-normalizer's best guess) and keeping the first decoding in which a
  header row is found.
- **Preamble**: lines before the header row (account number, period, bank
  name) are kept as ``preamble``; the statement's period is read from them
  (or from the file name, ``_20260301_20260331.``).
- **Amounts**: one signed column (the layout's sign convention says which
  sign is a payment), an outflow/inflow pair, or an amount beside a
  direction column (``借``/``贷``, ``借 Dr``). Outflows are payments
  (``lines``); inflows are kept apart (``inflows``) for the balance and
  totals checks and never matched as payments. In the generic reading a
  negative amount in a single amount column is a bad line.
- **Cells** are stripped of spaces, tabs and full-width blanks; ``-``, ``--``,
  ``—`` and blank mean empty; Excel's ``="…"`` and leading ``'`` guards are
  removed. Amounts take thousands separators and ``¥``/``元``/``CNY``; exact
  ``Decimal`` quantized to 0.01. Dates by the layout's formats, then
  ``2026-03-05``, ``2026/3/5``, ``20260305``, ``2026年3月5日``, each
  optionally with a time.
- **Totals** lines (``合计``, ``人民币合计``, ``# 支出合计: …``, ``本页合计``,
  ``total``) are kept aside for the totals check; **balance** lines
  (``期初余额``, ``承前页`` …) and trailing notes are skipped. After one,
  rows with neither a date nor an amount are a footer and skipped; a row with
  a date or an amount is still read, and reported if bad. A repeated header
  row (multi-page exports) is skipped.
- A **bad line** (unparseable date or amount, no amount, a cell over csv's
  131,072-character limit) is reported with its 1-based physical line number
  in the file and the reason, and does not stop the rest.

A file that cannot be read, decoded, or has no header row raises
:class:`~aggregates.errors.InvalidInput` (exit 2).

Reading one cell (amounts, dates, totals labels) is
:mod:`ledger.reconcile.cells`; rows of a file :mod:`~ledger.reconcile.grid`;
a row under its header :mod:`~ledger.reconcile.plan`; the statement's own
checks :mod:`~ledger.reconcile.checks`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from pathlib import Path

from aggregates.errors import InvalidInput
from ledger.reconcile.cells import (
    clean_cell,
    is_balance_row,
    is_totals_row,
    parse_amount,
    parse_statement_date,
)
from ledger.reconcile.checks import (
    Period,
    StatementCheck,
    balance_check,
    period_from_name,
    period_from_preamble,
    text_amount,
    total_check,
)
from ledger.reconcile.columns import Columns, find_columns, normalize_header
from ledger.reconcile.grid import Row, csv_rows, file_kind, html_rows, xls_sheets, xlsx_sheets
from ledger.reconcile.layout import (
    Layout,
    closest_layout,
    describe_no_layout,
    detect_layout,
)
from ledger.reconcile.lines import BadLine, Movement, StatementLine, TotalsLine
from ledger.reconcile.plan import ReadPlan, may_be_footer, plan_from_columns, plan_from_layout

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

_HEADER_SEARCH = 200  # rows searched for the header


@dataclass
class StatementParse:
    """The result of reading one statement file."""

    lines: list[StatementLine] = field(default_factory=list)  # payments (outflows)
    errors: list[BadLine] = field(default_factory=list)
    encoding: str = "utf-8"
    header_line: int = 0  # 1-based physical line of the header row
    plan: ReadPlan | None = None
    preamble: list[str] = field(default_factory=list)
    inflows: list[StatementLine] = field(default_factory=list)  # money in: never a payment
    skipped_inflows: int = 0
    skipped_totals: int = 0
    skipped_balances: int = 0  # balance and carried-forward lines (期初余额, 承前页 …)
    totals: list[TotalsLine] = field(default_factory=list)
    movements: list[Movement] = field(default_factory=list)  # every line of money, in file order
    layout: str | None = None  # the layout it was read by ("generic" for the built-in reading)
    kind: str = "csv"  # csv, xls, xlsx
    name: str | None = None
    sha256: str | None = None
    period: Period | None = None  # from the preamble or the file name

    def checks(self) -> list[StatementCheck]:
        """The totals and running-balance checks (the period check needs the ledger)."""
        out: list[StatementCheck] = []
        total = total_check(
            self.totals,
            sum((ln.amount for ln in self.lines), Decimal(0)),
            sum((ln.amount for ln in self.inflows), Decimal(0)),
        )
        if total is not None:
            out.append(total)
        balance = balance_check(self.movements)
        if balance is not None:
            out.append(balance)
        return out


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


# --- the header row ------------------------------------------------------------------


def _plan_for(row: Sequence[str], forced: Layout | None) -> ReadPlan | None:
    if forced is not None:
        cells = {normalize_header(c) for c in row}
        return plan_from_layout(forced, row) if forced.normalized_header <= cells else None
    layout = detect_layout(row)
    if layout is not None:
        return plan_from_layout(layout, row)
    cols = find_columns(row)
    return plan_from_columns(cols) if cols is not None else None


def _find_header(rows: Iterable[Row], forced: Layout | None) -> tuple[int, ReadPlan] | None:
    for index, (_, row, error) in enumerate(rows):
        if index > _HEADER_SEARCH:
            break
        if error is not None:
            continue
        plan = _plan_for(row, forced)
        if plan is not None:
            return index, plan
    return None


def _csv_header(text: str, forced: Layout | None) -> tuple[str, int, ReadPlan] | None:
    """(delimiter, index of the header row, plan), searching the first rows."""
    delimiters = [",", "\t", ";", "|"]
    if forced is not None and forced.delimiter not in delimiters[:1]:
        delimiters.insert(0, forced.delimiter)
    for delimiter in dict.fromkeys(delimiters):
        found = _find_header(csv_rows(text, delimiter), forced)
        if found is not None:
            return delimiter, found[0], found[1]
    return None


def _no_header(name: str, candidates: Iterable[Sequence[str]], forced: Layout | None) -> str:
    rows = [list(r) for r in candidates if sum(1 for c in r if clean_cell(c)) >= 2][:60]
    if forced is not None:
        want = forced.normalized_header

        def have(r: Sequence[str]) -> int:
            return len(want & {normalize_header(c) for c in r})

        best = max(rows, key=have, default=[])
        missing = [
            h
            for h in forced.header
            if normalize_header(h) not in {normalize_header(c) for c in best}
        ]
        return (
            f"statement {name} does not fit layout {forced.name!r}: no row has its header "
            f"(missing {', '.join(missing)})"
        )
    if not rows:
        return f"no header row in statement {name}: no row of at least two cells"

    def score(r: Sequence[str]) -> float:
        near = closest_layout(r)
        return near[1] if near is not None else 0.0

    return f"no header row in statement {name}: {describe_no_layout(max(rows, key=score))}"


# --- parsing ---------------------------------------------------------------------------


def parse_statement(path: str | Path, *, layout: Layout | None = None) -> StatementParse:
    """Read a statement file. See the module docstring for what it accepts."""
    p = Path(path)
    try:
        data = p.read_bytes()
    except OSError as e:
        raise InvalidInput(f"cannot read statement {p}: {e.strerror or e}") from None
    return parse_statement_bytes(data, name=str(p), layout=layout)


def parse_statement_bytes(
    data: bytes, *, name: str = "statement", layout: Layout | None = None
) -> StatementParse:
    kind = file_kind(data, name)
    if kind == "csv":
        result = _parse_csv(data, name, layout)
    else:
        if kind == "html":
            rows, encoding = html_rows(data, name)
            sheets = [rows]
        else:
            sheets = xls_sheets(data, name) if kind == "xls" else xlsx_sheets(data, name)
            encoding = kind
        # the first sheet with a header row (a cover sheet before the table is skipped)
        for rows in sheets:
            found = _find_header(rows, layout)
            if found is not None:
                result = _parse_rows(rows, found[0], found[1])
                break
        else:
            candidates = (r for sheet in sheets for _, r, _ in sheet)
            raise InvalidInput(_no_header(name, candidates, layout))
        result.encoding = encoding
    result.kind = kind
    result.name = name
    result.sha256 = hashlib.sha256(data).hexdigest()
    spec = result.plan.spec if result.plan is not None else None
    result.period = period_from_preamble(
        result.preamble, spec.preamble.period_markers if spec is not None else ()
    ) or period_from_name(name, spec.filename_period if spec is not None else None)
    return result


def _parse_csv(data: bytes, name: str, forced: Layout | None) -> StatementParse:
    decoded_any = False
    first_text: str | None = None
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
        first_text = first_text if first_text is not None else text
        found = _csv_header(text, forced)
        if found is None:
            continue
        delimiter, header_index, plan = found
        result = _parse_rows(csv_rows(text, delimiter), header_index, plan)
        result.encoding = "utf-8" if encoding == "utf-8-sig" else encoding
        return result
    # No encoding reads the whole file: read it line by line in the encoding
    # most of its lines are in, and report each line that is not (a bad line
    # does not stop the rest)
    encoding = "utf-8-sig" if majority == "utf-8" else "gb18030"
    text, undecodable = _decode_lines(data, encoding) if majority else ("", [])
    found = _csv_header(text, forced) if text.strip() else None
    if found is not None:
        decoded_any = True
        delimiter, header_index, plan = found
        result = _parse_rows(csv_rows(text, delimiter), header_index, plan)
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
    text = first_text if first_text is not None else text
    candidates: list[list[str]] = []
    for delimiter in (",", "\t"):
        for index, (_, row, _) in enumerate(csv_rows(text, delimiter)):
            if index > 60:
                break
            candidates.append(row)
    raise InvalidInput(_no_header(name, candidates, forced))


def _cell(row: Sequence[str], index: int | None) -> str:
    if index is None or index >= len(row):
        return ""
    return row[index]


def _sign_convention(rows: Sequence[Row], header_index: int, plan: ReadPlan) -> ReadPlan:
    """The generic reading of one amount column: payments positive, unless most
    amounts (or half) are negative — then the bank writes payments negative and money in
    positive (as most banks' exports do)."""
    if plan.spec is not None or plan.mode != "signed":
        return plan
    negative = positive = 0
    for _, row, error in rows[header_index + 1 :]:
        if error is not None:
            continue
        try:
            value = parse_amount(_cell(row, plan.amount))
        except ValueError:
            continue
        if value is not None and value < 0:
            negative += 1
        elif value is not None and value > 0:
            positive += 1
    if negative and negative >= positive:
        return replace(plan, outflow_sign="-", strict=False)
    return plan


def _parse_rows(rows: Iterable[Row], header_index: int, plan: ReadPlan) -> StatementParse:
    rows = list(rows)
    plan = _sign_convention(rows, header_index, plan)
    result = StatementParse(plan=plan, layout=plan.layout)
    header_key = plan.header_key
    amount_cols = plan.amount_columns
    # After a totals or balance line, rows with neither a date nor an amount are a
    # footer (printed-on date, signatures) and skipped. Anything with a date or an
    # amount is read as a line, and reported if it cannot be.
    footer = False
    # Rows with neither a date nor an amount: a trailing note if nothing valid follows.
    pending: list[BadLine] = []

    def report(bad: BadLine) -> None:
        result.errors.extend(pending)
        pending.clear()
        result.errors.append(bad)

    for index, (line_no, row, error) in enumerate(rows):
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
            result.movements.append(Movement(line_no, None, None, None))
            continue
        if not any(clean_cell(c) for c in row):
            continue
        if (
            normalize_header(_cell(row, plan.date)) == header_key[plan.date]
            and tuple(normalize_header(c) for c in row[: plan.width]) == header_key
        ):
            footer = False  # the header repeated on a new page
            continue
        labelled = plan.footer_label(row)
        footerish = labelled is not None or may_be_footer(row)
        labels = [c for i, c in enumerate(row) if i not in amount_cols] if footerish else []
        if labelled == "totals" or (footerish and is_totals_row(labels)):
            result.skipped_totals += 1
            result.totals.append(_totals_line(line_no, row, plan))
            footer = True
            continue
        if labelled == "note":
            footer = True
            continue
        if footerish and is_balance_row(labels):
            result.skipped_balances += 1
            footer = True
            continue
        try:
            reading = plan.read(line_no, row)
        except ValueError as e:
            bad = BadLine(line_no, str(e))
            if _looks_like_note(row, plan):
                if not footer:
                    pending.append(bad)
            else:
                report(bad)
                result.movements.append(Movement(line_no, None, None, _balance(row, plan)))
            continue
        result.errors.extend(pending)
        pending.clear()
        footer = False
        result.movements.append(Movement(line_no, reading.outflow, reading.inflow, reading.balance))
        if reading.line.direction == "out":
            result.lines.append(reading.line)
        else:
            result.inflows.append(reading.line)
            result.skipped_inflows += 1
    last = result.movements[-1].line if result.movements else result.header_line
    result.totals = [replace(t, trailing=t.line > last) for t in result.totals]
    return result


def _balance(row: Sequence[str], plan: ReadPlan) -> Decimal | None:
    try:
        return parse_amount(_cell(row, plan.balance)) if plan.balance is not None else None
    except ValueError:
        return None


def _totals_line(line_no: int, row: Sequence[str], plan: ReadPlan) -> TotalsLine:
    def amount(i: int | None) -> Decimal | None:
        try:
            return parse_amount(_cell(row, i)) if i is not None else None
        except ValueError:
            return None

    cells = [clean_cell(c) for c in row]
    label = next(
        (c for i, c in enumerate(cells) if c and i not in plan.amount_columns),
        next((c for c in cells if c), ""),
    )
    if plan.mode == "out-in":
        line = TotalsLine(line_no, label, outflow=amount(plan.amount), inflow=amount(plan.inflow))
    else:
        line = TotalsLine(line_no, label, amount=amount(plan.amount))
    if line.outflow is None and line.inflow is None and line.amount is None:
        written = next(
            (found for c in cells if c and (found := text_amount(label, c)) is not None), None
        )
        if written is not None:
            side, value = written
            label = label.split(":")[0].split("：")[0].strip()
            if side == "outflow":
                line = TotalsLine(line_no, label, outflow=value)
            elif side == "inflow":
                line = TotalsLine(line_no, label, inflow=value)
            else:
                line = TotalsLine(line_no, label, amount=value)
    return line


def _looks_like_note(row: Sequence[str], plan: ReadPlan) -> bool:
    """No amount in any amount column and no date: a note, not a transaction."""
    if plan.has_amount(row):
        return False
    try:
        plan.parse_date(_cell(row, plan.date))
    except ValueError:
        return True
    return False
