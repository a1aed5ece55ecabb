"""Register sheets: what a bureau already keeps in spreadsheets, read into the
same recording commands as the CLI's.

A workbook (XLSX) holds one sheet per kind of record, named by its kind in
English or Chinese (`units` / 单位, `platforms` / 平台, `allocations` / 经费下达,
`payments` / 拨付, `debarments` / 禁入 or 失信); a CSV file is one kind, named by
``kind`` (``--kind``) or found in its file name (``2024年经费拨付.csv``). Sheets
are read in that order whatever their order in the workbook (units before the
platforms they host, platforms before their money).

The header row is the first of the sheet's first ten rows that names two of
its kind's columns; headers are matched in English or Chinese, ignoring case,
spaces, full-width forms and a bracketed unit (``金额（元）``). Other columns
(序号, 备注 …) are ignored. Each row is one command, except a platform row:
``platform propose`` and, when it has an approval document number (批准文号),
``platform approve`` — a register lists platforms that were filed and approved.
Values may be slugs or their Chinese labels (GLOSSARY.md): ``重点实验室``,
``市级``, ``企业``, ``运行费``, ``申报科技计划项目``."""

from __future__ import annotations

import csv
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from aggregates.errors import InvalidInput
from aggregates.values import CATEGORIES, KINDS, LEVELS, SCOPES, UNIT_TYPES
from ledger.importer.lines import Line, bad
from ledger.output import LABELS

SHEET_KINDS = ("units", "platforms", "allocations", "payments", "debarments")
KIND_NAMES: dict[str, tuple[str, ...]] = {
    "units": ("units", "unit", "单位", "单位名录", "单位信息", "单位登记"),
    "platforms": ("platforms", "platform", "平台", "平台名录", "平台清单", "平台备案"),
    "allocations": ("allocations", "allocation", "经费下达", "资金下达", "下达"),
    "payments": ("payments", "payment", "拨付", "经费拨付", "资金拨付", "拨款"),
    "debarments": ("debarments", "debarment", "禁入", "失信", "禁止申报", "失信惩戒"),
}


@dataclass(frozen=True)
class Column:
    field: str
    headers: tuple[str, ...]
    required: bool = False


def _cols(*specs: tuple[str, tuple[str, ...], bool]) -> tuple[Column, ...]:
    return tuple(Column(f, h, r) for f, h, r in specs)


PLATFORM_CODE = ("平台编号", "平台代码", "编号", "platform", "platform_code", "code")
COLUMNS: dict[str, tuple[Column, ...]] = {
    "units": _cols(
        ("code", ("统一社会信用代码", "社会信用代码", "信用代码", "code", "credit_code"), True),
        ("name", ("单位名称", "名称", "name"), True),
        ("type", ("单位类型", "单位性质", "类型", "type", "unit_type"), True),
        ("high-tech", ("高新技术企业", "是否高新技术企业", "高企", "high_tech"), False),
        ("alias", ("别名", "简称", "aliases", "alias"), False),
        ("doc-no", ("文号", "doc_no"), False),
        ("on", ("登记日期", "日期", "on", "date"), False),
    ),
    "platforms": _cols(
        ("code", PLATFORM_CODE, True),
        ("name", ("平台名称", "名称", "name"), True),
        ("kind", ("平台类型", "类型", "类别", "kind"), True),
        ("level", ("级别", "平台级别", "level"), True),
        (
            "host",
            ("依托单位", "依托单位代码", "依托单位统一社会信用代码", "牵头单位", "host"),
            True,
        ),
        (
            "co-builder",
            ("共建单位", "共建单位代码", "成员单位", "co_builders", "co_builder"),
            False,
        ),
        ("policy", ("政策", "管理办法", "policy"), False),
        ("agreement-on", ("协议签订日期", "共建协议签订日期", "agreement_on"), False),
        ("proposed-on", ("申报日期", "proposed_on"), False),
        ("proposal-doc-no", ("申报文号", "proposal_doc_no"), False),
        ("doc-no", ("批准文号", "备案文号", "认定文号", "doc_no", "approval_doc_no"), False),
        ("approved-on", ("批准日期", "备案日期", "认定日期", "approved_on"), False),
        ("construction-years", ("建设期", "建设期限", "construction_years"), False),
        ("term-years", ("期限", "共建期限", "组建期", "term_years"), False),
    ),
    "allocations": _cols(
        ("code", PLATFORM_CODE, True),
        ("category", ("经费类别", "资金类别", "类别", "category"), True),
        ("amount", ("金额", "下达金额", "amount"), True),
        ("fiscal-year", ("年度", "预算年度", "财政年度", "fiscal_year"), True),
        ("doc-no", ("文号", "下达文号", "doc_no"), True),
        ("on", ("下达日期", "日期", "on", "date"), False),
        ("entitlement", ("entitlement",), False),
        ("reason", ("说明", "reason"), False),
    ),
    "payments": _cols(
        ("code", PLATFORM_CODE, True),
        ("category", ("经费类别", "资金类别", "类别", "category"), True),
        ("amount", ("金额", "拨付金额", "amount"), True),
        ("fiscal-year", ("年度", "预算年度", "财政年度", "fiscal_year"), True),
        ("voucher", ("凭证号", "凭证编号", "voucher"), True),
        ("on", ("拨付日期", "支付日期", "日期", "paid_on", "on", "date"), False),
        ("doc-no", ("文号", "doc_no"), False),
        ("reason", ("摘要", "reason"), False),
    ),
    "debarments": _cols(
        ("code", ("统一社会信用代码", "社会信用代码", "信用代码", "unit", "code"), True),
        ("years", ("年限", "禁入年限", "禁止申报年限", "years"), True),
        ("from", ("起始日期", "开始日期", "起始日", "from", "start"), True),
        ("scope", ("范围", "禁入范围", "限制范围", "scope", "scopes"), True),
        ("doc-no", ("文号", "决定文号", "doc_no"), True),
        ("reason", ("事由", "原因", "理由", "reason"), True),
        ("basis", ("依据", "basis"), False),
        ("on", ("决定日期", "on"), False),
        ("violation", ("violation",), False),
    ),
}

# Chinese labels (and a few usual variants) of the slugs a sheet may hold
_EXTRA_LABELS = {
    "自治区级": "regional",
    "省级": "regional",
    "国家": "national",
    "大学": "university",
    "高等院校": "university",
    "科研院所": "institute",
    "研究院": "institute",
}


def _norm(text: str) -> str:
    """Header or name as compared: NFKC, lower case, no spaces, no bracketed unit."""
    t = unicodedata.normalize("NFKC", text).strip().lower()
    t = re.sub(r"\(.*?\)", "", t)
    return re.sub(r"[\s\-_*]", "", t)


def _slug(value: str, choices: Sequence[str], what: str) -> str:
    v = unicodedata.normalize("NFKC", value).strip()
    if v in choices:
        return v
    lowered = v.lower().replace("_", "-").replace(" ", "-")
    if lowered in choices:
        return lowered
    for slug in choices:
        label = LABELS.get(slug)
        if label and _norm(label) == _norm(v):
            return slug
    extra = _EXTRA_LABELS.get(v)
    if extra is not None and extra in choices:
        return extra
    options = ", ".join(f"{c} ({LABELS[c]})" if c in LABELS else c for c in choices)
    raise InvalidInput(f"invalid {what} {value!r}; expected one of: {options}")


def kind_of(name: str) -> str | None:
    """The kind a sheet or file name stands for (exact, then contained), or None."""
    n = _norm(name)
    for kind, names in KIND_NAMES.items():
        if n in (_norm(x) for x in names):
            return kind
    found = {k for k, names in KIND_NAMES.items() for x in names if _norm(x) in n}
    return found.pop() if len(found) == 1 else None


# --- cells ---------------------------------------------------------------------------------


def _cell(value: Any) -> Any:
    """A cell as the commands read it: text trimmed, whole numbers as int,
    other numbers as exact decimals (by their shortest form), dates as dates;
    None when empty."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        d = Decimal(repr(value))
        return int(d) if d == d.to_integral_value() else d
    text = str(value).strip()
    return None if text in ("", "-", "—", "/") else text


def _split(value: Any) -> list[str]:
    return [p.strip() for p in re.split(r"[,，、;；\n]", str(value)) if p.strip()]


def _yes(value: Any, where: str) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    t = _norm(str(value))
    if t in ("是", "y", "yes", "true", "1", "√", "✓", "高新技术企业"):
        return True
    if t in ("否", "n", "no", "false", "0", "×", "✗", ""):
        return False
    raise InvalidInput(f"invalid high-tech {value!r}: expected 是 or 否 (yes or no)")


def _day(value: Any) -> Any:
    """A date cell, or text such as 2024/3/1 or 2024年3月1日 as YYYY-MM-DD."""
    if value is None or isinstance(value, date):
        return value
    m = re.fullmatch(r"(\d{4})\s*[-/.年]\s*(\d{1,2})\s*[-/.月]\s*(\d{1,2})\s*日?", str(value))
    if m:
        return f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}"
    return value


# --- rows into commands ----------------------------------------------------------------------


def _commands(kind: str, row: dict[str, Any], where: str) -> list[tuple[str, dict[str, Any]]]:
    """The recording commands of one row."""
    args = {k: v for k, v in row.items() if v is not None}
    for key in ("on", "from", "agreement-on", "proposed-on", "approved-on"):
        if key in args:
            args[key] = _day(args[key])
    for key in ("fiscal-year", "years", "construction-years", "term-years"):
        if isinstance(args.get(key), str):
            args[key] = args[key].removesuffix("年").removesuffix("年度").strip()
    if isinstance(args.get("amount"), str):
        args["amount"] = args["amount"].removesuffix("元").strip()
    if kind == "units":
        args["type"] = _slug(str(args["type"]), UNIT_TYPES, "unit type")
        args["high-tech"] = _yes(args.get("high-tech"), where)
        if "alias" in args:
            args["alias"] = _split(args["alias"])
        return [("unit register", args)]
    if kind == "platforms":
        args["kind"] = _slug(str(args["kind"]), KINDS, "platform kind")
        args["level"] = _slug(str(args["level"]), LEVELS, "level")
        if "co-builder" in args:
            args["co-builder"] = _split(args["co-builder"])
        approval: dict[str, Any] = {"code": args["code"]}
        for k in ("doc-no", "construction-years", "term-years"):
            if k in args:
                approval[k] = args.pop(k)
        approved_on = args.pop("approved-on", None)
        proposed_on = args.pop("proposed-on", None) or approved_on
        if proposed_on is not None:
            args["on"] = proposed_on
        if "proposal-doc-no" in args:
            args["doc-no"] = args.pop("proposal-doc-no")
        out = [("platform propose", args)]
        if "doc-no" in approval:
            if approved_on is not None:
                approval["on"] = approved_on
            out.append(("platform approve", approval))
        return out
    if kind in ("allocations", "payments"):
        args["category"] = _slug(str(args["category"]), CATEGORIES, "fund category")
        return [("funds allocate" if kind == "allocations" else "funds disburse", args)]
    # debarments
    args["scope"] = [_slug(s, SCOPES, "debarment scope") for s in _split(args["scope"])]
    return [("unit debar", args)]


def _header(cells: Sequence[Any], kind: str) -> dict[int, str] | None:
    """Column index -> field, when this row is the kind's header row."""
    by_header = {_norm(h): c.field for c in COLUMNS[kind] for h in c.headers}
    found: dict[int, str] = {}
    for i, cell in enumerate(cells):
        if cell is None:
            continue
        field = by_header.get(_norm(str(cell)))
        if field == "amount" and "万元" in str(cell):
            raise InvalidInput(
                f"column {cell!r} is in 万元 (ten thousands of yuan); give amounts in yuan (元)"
            )
        if field is not None and field not in found.values():
            found[i] = field
    return found if len(found) >= 2 else None


def read_rows(kind: str, rows: Iterator[tuple[int, Sequence[Any]]], sheet: str) -> Iterator[Line]:
    """The lines of one sheet: ``rows`` are (row number, cells)."""
    header: dict[int, str] | None = None
    for number, cells in rows:
        if header is None:
            try:
                header = _header(cells, kind)
            except InvalidInput as e:
                yield bad(number, f"{sheet} row {number}", e.message)
                return
            if header is None and number >= 10:
                break
            if header is not None:
                absent = [c for c in COLUMNS[kind] if c.required and c.field not in header.values()]
                if absent:
                    names = "; ".join(f"{c.headers[0]} / {c.headers[-1]}" for c in absent)
                    yield bad(number, f"{sheet} row {number}", f"{kind}: missing column(s) {names}")
                    return
            continue
        values = {field: _cell(cells[i]) if i < len(cells) else None for i, field in header.items()}
        if all(v is None for v in values.values()):
            continue
        where = f"{sheet} row {number}"
        missing = [
            c.headers[0] for c in COLUMNS[kind] if c.required and values.get(c.field) is None
        ]
        if missing:
            yield bad(number, where, f"empty {', '.join(missing)}")
            continue
        try:
            commands = _commands(kind, values, where)
        except InvalidInput as e:
            yield bad(number, where, e.message)
            continue
        for command, args in commands:
            yield Line(number, where, command, args)
    if header is None:
        names = ", ".join(c.headers[0] for c in COLUMNS[kind] if c.required)
        yield bad(0, sheet, f"{kind}: no header row found in the first 10 rows (expected {names})")


# --- files ------------------------------------------------------------------------------------


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InvalidInput("the CSV file is neither UTF-8 nor GBK/GB18030 text")


def read_csv(path: Path, kind: str | None = None) -> Iterator[Line]:
    found = kind or kind_of(path.stem)
    if found is None:
        raise InvalidInput(
            f"which register is {path.name}? name the kind with --kind "
            f"({', '.join(SHEET_KINDS)}), or put it in the file name (e.g. payments.csv, 拨付.csv)"
        )
    text = _decode(path.read_bytes())
    rows = csv.reader(text.splitlines())
    yield from read_rows(
        found, ((n, [_cell(c) for c in r]) for n, r in enumerate(rows, 1)), path.name
    )


def read_xlsx(path: Path, kind: str | None = None) -> Iterator[Line]:
    from openpyxl import load_workbook

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except Exception as e:  # openpyxl raises several kinds for a file that is no workbook
        raise InvalidInput(f"{path.name} is not a readable XLSX workbook ({e})") from None
    try:
        sheets: dict[str, Any] = {}
        for ws in wb.worksheets:
            k = kind if kind is not None and len(wb.worksheets) == 1 else kind_of(ws.title)
            if k is None:
                raise InvalidInput(
                    f"sheet {ws.title!r} of {path.name} is no register this import reads; "
                    "name each sheet by its kind: "
                    + ", ".join(f"{k} ({'/'.join(KIND_NAMES[k][2:4])})" for k in SHEET_KINDS)
                )
            if k in sheets:
                raise InvalidInput(
                    f"{path.name} has two {k} sheets: {sheets[k].title!r}, {ws.title!r}"
                )
            sheets[k] = ws
        for k in SHEET_KINDS:
            if k in sheets:
                ws = sheets[k]
                rows = ((n, list(r)) for n, r in enumerate(ws.iter_rows(values_only=True), 1))
                yield from read_rows(k, rows, ws.title)
    finally:
        wb.close()
