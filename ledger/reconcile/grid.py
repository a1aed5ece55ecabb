"""A statement file as rows of cells: which kind of file it is (CSV, XLS,
XLSX; a PDF or an image is refused with what to export instead), decoding a
CSV file, and the rows of a sheet.

A row is ``(line, cells, error)``: the 1-based physical line (CSV) or row
(XLS/XLSX) it starts on, its cells as text, and why it could not be read
(then the cells are empty). Spreadsheet cells are turned into the text a
bank's CSV would hold: numbers without float noise (``35000.5``), dates and
date-times as ``YYYY-MM-DD[ HH:MM:SS]``.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from datetime import date, datetime, time
from decimal import Decimal
from html.parser import HTMLParser
from pathlib import Path
from typing import Literal

from aggregates.errors import InvalidInput

Row = tuple[int, list[str], str | None]
Kind = Literal["csv", "xls", "xlsx", "html"]

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # .xls (BIFF8 in an OLE2 compound file)
_ZIP = b"PK\x03\x04"  # .xlsx
_IMAGES = (
    b"\x89PNG",
    b"\xff\xd8\xff",  # JPEG
    b"GIF87a",
    b"GIF89a",
    b"II*\x00",  # TIFF
    b"MM\x00*",
)
_IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp", ".heic"}
)
_EXPORT = (
    "export the statement from online banking as CSV, XLS or XLSX "
    "(明细查询 → 下载/导出 Excel 或 CSV) and give that file"
)


def file_kind(data: bytes, name: str) -> Kind:
    """CSV, XLS or XLSX by content (then by name); InvalidInput for a PDF or an image."""
    suffix = Path(name).suffix.lower()
    if data.startswith(b"%PDF") or suffix == ".pdf":
        raise InvalidInput(f"statement {name} is a PDF, which cannot be reconciled: {_EXPORT}")
    if data.startswith(_IMAGES) or (data.startswith(b"RIFF") and data[8:12] == b"WEBP"):
        raise InvalidInput(f"statement {name} is an image, which cannot be reconciled: {_EXPORT}")
    if suffix in _IMAGE_SUFFIXES:
        raise InvalidInput(f"statement {name} is an image, which cannot be reconciled: {_EXPORT}")
    if data.startswith(_OLE2):
        return "xls"
    if data.startswith(_ZIP):
        return "xlsx"
    head = data[:4096].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith((b"<html", b"<!doctype html", b"<table", b"<?xml")) and b"<t" in head:
        return "html"  # a bank's ".xls" that is an HTML table inside (many are)
    return "csv"  # a bank's ".xls" that is text inside (some are) is read as text


# --- CSV -------------------------------------------------------------------------------


def csv_rows(text: str, delimiter: str) -> Iterator[Row]:
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


# --- spreadsheets ----------------------------------------------------------------------


def _number(value: float | int | Decimal) -> str:
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return format(Decimal(repr(value)), "f")
    return str(value)


def _when(value: datetime | date | time) -> str:
    if isinstance(value, datetime):
        if value.time() == time(0):
            return value.date().isoformat()
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value.strftime("%H:%M:%S")


def xls_sheets(data: bytes, name: str) -> list[list[Row]]:
    """The non-empty sheets of an .xls file (xlrd), in order."""
    import xlrd

    try:
        book = xlrd.open_workbook(file_contents=data, on_demand=True)
    except Exception as e:  # xlrd raises many kinds for a broken file
        raise InvalidInput(f"cannot read statement {name}: not a readable XLS file ({e})") from None
    sheets: list[list[Row]] = []
    for index in range(book.nsheets):
        sheet = book.sheet_by_index(index)
        out: list[Row] = []
        for r in range(sheet.nrows):
            cells: list[str] = []
            for cell in sheet.row(r):
                if cell.ctype == xlrd.XL_CELL_TEXT:
                    cells.append(str(cell.value))
                elif cell.ctype == xlrd.XL_CELL_NUMBER:
                    cells.append(_number(cell.value))
                elif cell.ctype == xlrd.XL_CELL_DATE:
                    try:
                        cells.append(_when(xlrd.xldate_as_datetime(cell.value, book.datemode)))
                    except Exception:  # an out-of-range date serial
                        cells.append(_number(cell.value))
                elif cell.ctype == xlrd.XL_CELL_BOOLEAN:
                    cells.append(str(bool(cell.value)))
                else:  # empty, blank, error
                    cells.append("")
            out.append((r + 1, cells, None))
        if out:
            sheets.append(out)
    book.release_resources()
    return sheets


def xlsx_sheets(data: bytes, name: str) -> list[list[Row]]:
    """The non-empty sheets of an .xlsx file (openpyxl, read-only, values only)."""
    from openpyxl import load_workbook

    try:
        wb = load_workbook(io.BytesIO(data), read_only=True, data_only=True)
    except Exception as e:  # zipfile, XML and openpyxl errors alike
        raise InvalidInput(
            f"cannot read statement {name}: not a readable XLSX file ({e})"
        ) from None
    sheets: list[list[Row]] = []
    try:
        for ws in wb.worksheets:
            out: list[Row] = []
            for r, values in enumerate(ws.iter_rows(values_only=True), start=1):
                cells: list[str] = []
                for v in values:
                    if v is None:
                        cells.append("")
                    elif isinstance(v, (datetime, date, time)):
                        cells.append(_when(v))
                    elif isinstance(v, bool):
                        cells.append(str(v))
                    elif isinstance(v, (int, float, Decimal)):
                        cells.append(_number(v))
                    else:
                        cells.append(str(v))
                out.append((r, cells, None))
            if out:
                sheets.append(out)
    finally:
        wb.close()
    return sheets


# --- HTML tables and XML Spreadsheet 2003 (a bank's ".xls" that is text) ---------------------


class _Tables(HTMLParser):
    """The rows of every <table>, each cell's text (a cell spanning columns is
    followed by empty cells, so columns stay in place). Excel's XML Spreadsheet
    2003 (``<Row><Cell><Data>``), which some banks save as ".xls", reads the same."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.rows: list[list[str]] = []
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._span = 1

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("tr", "row"):
            self._close_row()
            self._row = []
        elif tag in ("td", "th", "cell"):
            self._close_cell()
            if self._row is None:
                self._row = []
            self._cell = []
            values = dict(attrs)
            span = values.get("colspan") or "1"
            across = values.get("ss:mergeacross")  # SpreadsheetML: columns merged to the right
            if across is not None and across.isdigit():
                span = str(int(across) + 1)
            self._span = int(span) if span.isdigit() and 0 < int(span) < 100 else 1
        elif tag == "br" and self._cell is not None:
            self._cell.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th", "cell"):
            self._close_cell()
        elif tag in ("tr", "row", "table"):
            self._close_row()

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell.append(data)

    def _close_cell(self) -> None:
        if self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._row.extend([""] * (self._span - 1))
        self._cell = None
        self._span = 1

    def _close_row(self) -> None:
        self._close_cell()
        if self._row is not None:
            self.rows.append(self._row)
        self._row = None

    def close(self) -> None:
        super().close()
        self._close_row()


def html_rows(data: bytes, name: str) -> tuple[list[Row], str]:
    """The rows of the tables of an HTML page, and the encoding it was read in."""
    head = data[:4096].decode("ascii", "replace").lower()
    declared = re.search(r"charset\s*=\s*[\"']?([a-z0-9_-]+)", head)
    candidates = [declared.group(1)] if declared else []
    candidates += ["utf-8-sig", "gb18030"]
    for encoding in candidates:
        try:
            text = data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
        parser = _Tables()
        parser.feed(text)
        parser.close()
        rows: list[Row] = [(i, cells, None) for i, cells in enumerate(parser.rows, start=1)]
        return rows, "utf-8" if encoding == "utf-8-sig" else encoding
    raise InvalidInput(f"cannot decode statement {name}: neither UTF-8 nor GBK/GB18030")
