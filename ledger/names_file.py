"""Reading a list of names to screen: a text file or stdin (one name a
line), or one column of a CSV or XLSX file (an applicant list), chosen by
its header (default: the first column)."""

from __future__ import annotations

import csv
import io
import sys
from pathlib import Path

from aggregates.errors import InvalidInput


def read_names(source: str, column: str | None = None) -> tuple[int, list[str]]:
    """The line (or row) number of the first name, and the names in `source`
    ("-" for stdin), in order, blank lines kept (so that numbers are the file's)."""
    if source == "-":
        return 1, sys.stdin.read().splitlines()
    path = Path(source)
    if not path.is_file():
        raise InvalidInput(f"no such file: {source}")
    suffix = path.suffix.lower()
    if suffix in (".xlsx", ".xlsm"):
        return 2, _xlsx_column(path, column)
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any bytes but a few
        raise InvalidInput(f"{source}: neither UTF-8 nor GB18030 text")
    if suffix == ".csv" or column is not None:
        return 2, _pick(list(csv.reader(io.StringIO(text))), column, source)
    return 1, text.splitlines()


def _xlsx_column(path: Path, column: str | None) -> list[str]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several kinds for a file it cannot read
        raise InvalidInput(f"{path}: not a readable XLSX workbook ({type(e).__name__})") from None
    ws = wb.worksheets[0]
    rows = [["" if v is None else str(v) for v in r] for r in ws.iter_rows(values_only=True)]
    wb.close()
    return _pick(rows, column, str(path))


def _pick(rows: list[list[str]], column: str | None, source: str) -> list[str]:
    """The column headed `column` (default the first), header row left out."""
    if not rows:
        return []
    header = [h.strip() for h in rows[0]]
    if column is None:
        index = 0
    elif column in header:
        index = header.index(column)
    else:
        raise InvalidInput(
            f"{source}: no column {column!r}; the columns are: {', '.join(h for h in header if h)}"
        )
    return [r[index] if index < len(r) else "" for r in rows[1:]]
