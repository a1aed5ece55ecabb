"""Reading the reconciliation workbook back by its English slugs: sheet names and
headers are ``中文 slug``; each sheet of findings ends with a blank row and a
``合计 total`` row, which the data rows stop before."""

from __future__ import annotations

from typing import Any


def slug(text: object) -> str:
    return str(text).rsplit(" ", 1)[-1]


def sheet(wb: Any, name: str) -> Any:
    """The sheet whose title ends with the slug ``name``."""
    found = [ws for ws in wb.worksheets if slug(ws.title) == name]
    assert len(found) == 1, (name, wb.sheetnames)
    return found[0]


def sheet_slugs(wb: Any) -> list[str]:
    return [slug(title) for title in wb.sheetnames]


def header(ws: Any) -> list[str]:
    return [slug(c.value) for c in ws[1]]


def data_rows(ws: Any) -> list[tuple[Any, ...]]:
    """The rows under the header, up to the blank row before the totals."""
    out: list[tuple[Any, ...]] = []
    for row in ws.iter_rows(min_row=2, values_only=True):
        if all(v is None for v in row):
            break
        out.append(row)
    return out
