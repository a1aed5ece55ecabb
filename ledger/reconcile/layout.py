"""Statement layouts as data: one TOML file per known bank or treasury export.

A layout says which column of an export is which (date, amount, payee,
counterpart account, free text, the bank's own serial, balance), how the
amount is written (one signed column, an outflow/inflow pair, or an amount
beside a direction column), the date formats, and how to recognise the
preamble and footer lines around the table. The schema is documented in
docs/LAYOUTS.md; the shipped layouts live in ``ledger/reconcile/layouts/``.

A layout is detected from a statement's header row: every header name of the
layout must be among the row's cells (compared after
:func:`~ledger.reconcile.columns.normalize_header`: NFKC, case-folded,
blanks and a trailing unit such as ``(元)`` removed); extra cells are allowed,
since banks add columns over time. When several layouts fit, the one naming
the most columns wins. When none fits, :func:`closest_layout` names the
nearest one for the error message.
"""

from __future__ import annotations

import codecs
import re
import tomllib
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from rapidfuzz import fuzz

from aggregates.errors import InvalidInput
from ledger.reconcile.columns import normalize_header

LAYOUTS_PACKAGE = "ledger.reconcile"
LAYOUTS_DIR = "layouts"

_NAME = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
# A date-time every format must be able to write and read back unchanged
# (in the fields the format has): catches a typo such as "%Y-%m-%" early.
_PROBE = datetime(2026, 3, 5, 14, 7, 9)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Amount(_Strict):
    """How a line's amount and its direction are written."""

    mode: Literal["signed", "out-in", "direction"]
    # signed / direction: the one amount column
    column: str | None = None
    # signed: which sign marks a payment (an outflow); "-" for most banks
    outflow_sign: Literal["-", "+"] = "-"
    # out-in: the outflow (payment) and inflow columns
    outflow: str | None = None
    inflow: str | None = None
    # direction: the direction column and its values
    direction: str | None = None
    outflow_values: tuple[str, ...] = ()
    inflow_values: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _fields_for_mode(self) -> Self:
        given = {
            "column": self.column is not None,
            "outflow": self.outflow is not None,
            "inflow": self.inflow is not None,
            "direction": self.direction is not None,
            "outflow_values": bool(self.outflow_values),
            "inflow_values": bool(self.inflow_values),
        }
        needed = {
            "signed": {"column"},
            "out-in": {"outflow", "inflow"},
            "direction": {"column", "direction", "outflow_values", "inflow_values"},
        }[self.mode]
        missing = sorted(k for k in needed if not given[k])
        extra = sorted(k for k, v in given.items() if v and k not in needed)
        if missing:
            raise ValueError(f"amount mode {self.mode!r} needs {', '.join(missing)}")
        if extra:
            raise ValueError(f"amount mode {self.mode!r} does not take {', '.join(extra)}")
        if self.mode != "signed" and self.outflow_sign != "-":
            raise ValueError("outflow_sign is for amount mode 'signed' only")
        clash = {_norm_value(v) for v in self.outflow_values} & {
            _norm_value(v) for v in self.inflow_values
        }
        if clash:
            raise ValueError(f"direction values both out and in: {', '.join(sorted(clash))}")
        return self

    def column_names(self) -> tuple[str, ...]:
        return tuple(
            c for c in (self.column, self.outflow, self.inflow, self.direction) if c is not None
        )

    def direction_of(self, flag: str) -> Literal["out", "in"] | None:
        """What a direction cell says (blanks and case ignored); None if neither."""
        value = _norm_value(flag)
        if value in {_norm_value(v) for v in self.outflow_values}:
            return "out"
        if value in {_norm_value(v) for v in self.inflow_values}:
            return "in"
        return None


class LayoutColumns(_Strict):
    """Which header names hold which field (names as in ``header``)."""

    date: str  # the date, or the date-time when the bank writes both in one cell
    time: str | None = None  # a separate time column
    booking_date: str | None = None  # 记账日 beside a transaction date
    payee: str | None = None  # counterpart name
    account: str | None = None  # counterpart account
    # the payee cell runs name and account together ("张三 6222…", "某中心1111…")
    counterpart_combined: bool = False
    memo: tuple[str, ...] = ()  # free-text columns, where a ledger voucher may stand
    serial: str | None = None  # the bank's own serial / voucher / cheque number
    # a column that holds the ledger's voucher or nothing (the generic layouts'
    # 凭证号 / reference): a text there that names no voucher is not matched by payee
    reference: str | None = None
    balance: str | None = None  # running balance (余额)
    currency: str | None = None

    @model_validator(mode="after")
    def _combined_needs_payee(self) -> Self:
        if self.counterpart_combined and self.payee is None:
            raise ValueError("counterpart_combined needs a payee column")
        return self

    def column_names(self) -> tuple[str, ...]:
        single = (
            self.date,
            self.time,
            self.booking_date,
            self.payee,
            self.account,
            self.serial,
            self.reference,
            self.balance,
            self.currency,
        )
        return tuple(c for c in single if c is not None) + self.memo


class Preamble(_Strict):
    """Lines before the header row."""

    # labels that appear in the preamble (help to recognise the export)
    markers: tuple[str, ...] = ()
    # labels of the line(s) that carry the statement's period
    period_markers: tuple[str, ...] = ()
    # preamble and footer lines start with this (CMB 一网通 writes "# …")
    comment_prefix: str | None = None


class Footer(_Strict):
    """Lines after the data."""

    totals: tuple[str, ...] = ()  # labels of totals lines (合计, 人民币合计, # 支出合计 …)
    notes: tuple[str, ...] = ()  # labels of trailing notes that are not data


class Layout(_Strict):
    """One known export layout."""

    name: str = Field(pattern=_NAME)
    bank: str = Field(min_length=1)
    description: str = Field(min_length=1)
    source: str = Field(min_length=1)  # where the shape comes from
    # True when no public sample was found and the shape is built from documents
    constructed: bool = False
    formats: tuple[Literal["csv", "xls", "xlsx"], ...] = Field(min_length=1)
    encodings: tuple[str, ...] = ("utf-8",)  # for csv: the encodings the bank writes
    delimiter: str = Field(default=",", min_length=1, max_length=1)
    header: tuple[str, ...] = Field(min_length=2)  # the header row, verbatim, in order
    columns: LayoutColumns
    amount: Amount
    date_formats: tuple[str, ...] = Field(min_length=1)  # strptime formats of the date cell
    time_formats: tuple[str, ...] = ()  # strptime formats of the time column, if any
    # a regex with two groups (start, end) finding the period in the file name
    filename_period: str | None = None
    preamble: Preamble = Preamble()
    footer: Footer = Footer()

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        normalized = [normalize_header(h) for h in self.header]
        if "" in normalized:
            raise ValueError("header has an empty name")
        dupes = sorted({n for n in normalized if normalized.count(n) > 1})
        if dupes:
            raise ValueError(f"header names repeat: {', '.join(dupes)}")
        known = set(normalized)
        for col in (*self.columns.column_names(), *self.amount.column_names()):
            if normalize_header(col) not in known:
                raise ValueError(f"column {col!r} is not in the header")
        if self.time_formats and self.columns.time is None:
            raise ValueError("time_formats needs a time column")
        for fmt in (*self.date_formats, *self.time_formats):
            _check_format(fmt)
        for enc in self.encodings:
            try:
                codecs.lookup(enc)
            except LookupError:
                raise ValueError(f"unknown encoding {enc!r}") from None
        if self.filename_period is not None:
            try:
                groups = re.compile(self.filename_period).groups
            except re.error as e:
                raise ValueError(f"filename_period is not a regex: {e}") from None
            if groups != 2:
                raise ValueError("filename_period needs two groups (start, end)")
        return self

    @property
    def normalized_header(self) -> frozenset[str]:
        return frozenset(normalize_header(h) for h in self.header)

    def positions(self, header_cells: Sequence[str]) -> dict[str, int]:
        """Where each of this layout's header names is in a statement's header
        row (0-based), keyed by the name as the layout writes it; KeyError for a
        name the row does not have (detect the layout first)."""
        at = {normalize_header(c): i for i, c in reversed(list(enumerate(header_cells)))}
        return {h: at[normalize_header(h)] for h in self.header}

    def parse_date(self, text: str) -> datetime:
        """The date (or date-time) cell by this layout's formats, tried in
        order; ValueError naming the formats if none fits."""
        cell = text.strip()
        for fmt in self.date_formats:
            try:
                return datetime.strptime(cell, fmt)
            except ValueError:
                continue
        raise ValueError(f"date {cell!r} fits none of {', '.join(self.date_formats)}")


def _norm_value(text: str) -> str:
    return re.sub(r"\s+", "", text).casefold()


def _check_format(fmt: str) -> None:
    if "%" not in fmt:
        raise ValueError(f"date format {fmt!r} has no % directive")
    try:
        text = _PROBE.strftime(fmt)
        datetime.strptime(text, fmt)
    except ValueError as e:
        raise ValueError(f"bad date format {fmt!r}: {e}") from None


# --- loading -----------------------------------------------------------------------


def _one_line(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    msg = str(first["msg"]).removeprefix("Value error, ")
    return f"{where}: {msg}" if where else msg


def parse_layout(text: str, *, origin: str) -> Layout:
    """Read one layout from TOML text; InvalidInput (one line) if it is not a valid layout."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise InvalidInput(f"layout {origin}: not TOML: {e}") from None
    try:
        return Layout.model_validate(data)
    except ValidationError as e:
        raise InvalidInput(f"layout {origin}: {_one_line(e)}") from None


def load_layout_file(path: str | Path) -> Layout:
    """A user's own layout file (``--layout FILE.toml``)."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise InvalidInput(f"layout {p}: cannot read: {e}") from None
    return parse_layout(text, origin=str(p))


@cache
def _shipped() -> tuple[Layout, ...]:
    folder = files(LAYOUTS_PACKAGE).joinpath(LAYOUTS_DIR)
    found: dict[str, Layout] = {}
    for entry in sorted(folder.iterdir(), key=lambda t: t.name):
        if not entry.name.endswith(".toml"):
            continue
        layout = parse_layout(entry.read_text(encoding="utf-8"), origin=entry.name)
        if entry.name != f"{layout.name}.toml":
            raise InvalidInput(f"layout {entry.name}: its name is {layout.name!r}")
        found[layout.name] = layout
    return tuple(found.values())


def load_layouts() -> list[Layout]:
    """Every shipped layout, by name."""
    return list(_shipped())


def get_layout(name: str) -> Layout:
    """A shipped layout by name; InvalidInput naming the known ones if there is none."""
    for layout in _shipped():
        if layout.name == name:
            return layout
    known = ", ".join(lay.name for lay in _shipped())
    raise InvalidInput(f"no layout named {name!r} (known: {known})")


# --- detection ----------------------------------------------------------------------


def _cells(header_cells: Iterable[str]) -> list[str]:
    return [n for n in (normalize_header(c) for c in header_cells) if n]


def detect_layout(
    header_cells: Sequence[str], layouts: Sequence[Layout] | None = None
) -> Layout | None:
    """The layout whose every header name is in this row; the most specific one
    (most names) when several fit, and of equally specific ones the first by
    name, so that the answer does not depend on the order of loading."""
    cells = set(_cells(header_cells))
    if not cells:
        return None
    fitting = [
        lay
        for lay in (layouts if layouts is not None else _shipped())
        if lay.normalized_header <= cells
    ]
    if not fitting:
        return None
    most = max(len(lay.normalized_header) for lay in fitting)
    return min((lay for lay in fitting if len(lay.normalized_header) == most), key=lambda x: x.name)


def closest_layout(
    header_cells: Sequence[str], layouts: Sequence[Layout] | None = None
) -> tuple[Layout, float] | None:
    """The known layout nearest to a header row no layout fits, with a score
    0–100: how well the layout's names are found among the cells and the
    cells among the layout's names (fuzzy, so 交易日 is close to 交易日期)."""
    cells = _cells(header_cells)
    if not cells:
        return None
    best: tuple[Layout, float] | None = None
    for lay in layouts if layouts is not None else _shipped():
        names = sorted(lay.normalized_header)
        covered = sum(max(fuzz.ratio(n, c) for c in cells) for n in names) / len(names)
        used = sum(max(fuzz.ratio(c, n) for n in names) for c in cells) / len(cells)
        score = round((covered + used) / 2, 1)
        if best is None or score > best[1]:
            best = (lay, score)
    return best


def describe_no_layout(header_cells: Sequence[str]) -> str:
    """The one-line error for a header row no known layout fits."""
    near = closest_layout(header_cells)
    shown = ", ".join(c.strip() for c in header_cells if c.strip())
    if near is None:
        return f"no known statement layout fits the header ({shown})"
    layout, score = near
    missing = sorted(
        h for h in layout.header if normalize_header(h) not in set(_cells(header_cells))
    )
    return (
        f"no known statement layout fits the header ({shown}); closest is "
        f"{layout.name!r} ({layout.bank}, {score:.0f}% alike, missing {', '.join(missing)}); "
        "give --layout FILE.toml"
    )


def describe_amount(layout: Layout) -> str:
    """How a layout writes its amount, in a few words (for ``funds layouts``)."""
    a = layout.amount
    if a.mode == "signed":
        return f"signed {a.column}, {a.outflow_sign} is a payment"
    if a.mode == "out-in":
        return f"out {a.outflow} / in {a.inflow}"
    outs, ins = "/".join(a.outflow_values), "/".join(a.inflow_values)
    return f"{a.column} + {a.direction} ({outs} out, {ins} in)"


def layout_rows(layouts: Sequence[Layout] | None = None) -> list[dict[str, str]]:
    """One row per shipped layout: name, bank, description, amount mode, formats, source."""
    return [
        {
            "name": lay.name,
            "bank": lay.bank,
            "description": lay.description,
            "amount": describe_amount(lay),
            "amount_mode": lay.amount.mode,
            "formats": ", ".join(lay.formats),
            "source": (
                "constructed: "
                if lay.constructed and not lay.source.startswith("constructed")
                else ""
            )
            + lay.source,
        }
        for lay in (layouts if layouts is not None else _shipped())
    ]
