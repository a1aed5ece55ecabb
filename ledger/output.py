"""Rendering records as a table (with Chinese labels beside the slugs), JSON
(UTF-8, not ASCII-escaped) or CSV. Money is a string with two decimals."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aggregates.errors import InvalidInput
from aggregates.values import money_str
from ledger.text import terminal_safe as terminal_safe

LABELS: dict[str, str] = {
    # platform kinds
    "high-energy-platform": "高能级科技创新平台",
    "tech-innovation-center": "技术创新中心",
    "innovation-consortium": "创新联合体",
    "engineering-research-center": "工程技术研究中心",
    "key-laboratory": "重点实验室",
    "clinical-research-center": "临床医学研究中心",
    "field-station": "野外科学观测研究站",
    "new-rd-institution": "新型研发机构",
    "co-built-platform": "共建科创平台",
    # levels
    "national": "国家级",
    "regional": "自治区（省）级",
    "city": "市级",
    "district": "区级",
    # statuses
    "proposed": "已申报",
    "construction": "建设期",
    "operating": "运行期",
    "rectification": "整改期",
    "rejected": "未通过",
    "withdrawn": "已撤回",
    "delisted": "已退出（摘牌）",
    # grades
    "excellent": "优秀",
    "good": "良好",
    "qualified": "合格",
    "poor": "较差",
    # delisting reasons
    "failed-rectification": "整改不通过",
    "no-show": "无故不参加评估",
    "withdrawal": "中途退出",
    "fraud": "弄虚作假（清退）",
    "misconduct": "学术不端等（摘牌）",
    "accident": "环保、安全生产、生物安全事故",
    "terminated": "终止合作",
    "other": "其他",
    # fund categories
    "startup": "开办费",
    "operation": "运行费",
    "research": "研究经费",
    "subsidy": "扶持资助",
    "reward": "奖励",
    "matching": "配套资金",
    # unit types
    "enterprise": "企业",
    "university": "高校",
    "institute": "科研院所",
    "hospital": "医院",
    "government": "政府部门",
    # violation kinds
    "false-materials": "弄虚作假、提供虚假材料",
    "academic-misconduct": "学术不端",
    "ip-violation": "知识产权违法违规",
    "safety-accident": "安全生产事故",
    "environmental-accident": "环保事故",
    "biosafety-accident": "生物安全事故",
    "task-default": "无故不完成科研任务",
    "consortium-breach": "牵头企业组织不力、未按协议履约",
    "illegal-conduct": "违法违规",
    # scopes
    "platform-application": "申请科技创新平台",
    "consortium-lead": "牵头组建或作为核心层参与创新联合体",
    "project-application": "申报科技计划项目",
    # change types
    "rename": "更名",
    "host-change": "变更依托单位",
    "co-builder-change": "变更共建单位",
    "lead-change": "变更牵头单位",
    "member-change": "增减成员单位",
    # other
    "debarment": "禁止申报",
    "blacklist": "诚信黑名单",
    "eligibility": "申报资格",
    "look-back": "申报前两年内无失信记录",
    "leads-consortium": "已牵头其他创新联合体",
    "active": "生效中",
    "lifted": "已解除",
    "expired": "已期满",
    "pending": "待审批",  # a change request awaiting its decision
    "not-yet-in-force": "未生效",  # a debarment decided, its start still to come
    "removed": "已移出",  # a blacklist entry removed by document
    "approved": "已批准",
    # funds events
    "FundsAllocated": "下达",
    "FundsDisbursed": "拨付",
    "DisbursementReversed": "冲销",
    "FundsRecovered": "追回",
    "FundingSuspended": "暂停拨付",
    "FundingResumed": "恢复拨付",
}

# columns whose values are slugs worth labelling in tables
LABELLED = {
    "kind",
    "level",
    "status",
    "grade",
    "reason_code",
    "category",
    "type",
    "unit_type",
    "scope",
    "scopes",
    "rule",
    "purpose",
    "change_type",
    "event",
    "from_level",
}


# --- hostile text ------------------------------------------------------------------------

# a cell a spreadsheet would run as a formula (or DDE) if it starts with one of these
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def spreadsheet_text(value: str) -> str:
    """A CSV cell that cannot become a formula: text starting with = + - @, tab or
    carriage return gets a leading apostrophe (shown as text by Excel, LibreOffice,
    Numbers). Numbers stay numbers: a negative amount such as ``-12.50`` is kept
    as it is, so money columns still add up."""
    if value.startswith(FORMULA_START) and not _NUMBER.fullmatch(value):
        return "'" + value
    return value


def labelled(value: Any) -> str:
    text = plain(value)
    if isinstance(value, (list, tuple)):
        return ", ".join(labelled(v) for v in value)
    label = LABELS.get(text)
    return f"{text} {label}" if label else text


def plain(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, Decimal):
        return money_str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, (list, tuple)):
        return ", ".join(plain(v) for v in value)
    if isinstance(value, dict):
        return json.dumps(jsonable(value), ensure_ascii=False, sort_keys=True)
    return str(value)


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_str(value)
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    return value


def to_json(data: Any) -> str:
    return json.dumps(jsonable(data), ensure_ascii=False, indent=2)


def width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def pad(text: str, n: int) -> str:
    return text + " " * max(0, n - width(text))


def display_text(text: str) -> str:
    """The one hook every table cell's text passes through before it is shown:
    control, escape and bidi characters are shown escaped (terminal_safe)."""
    return terminal_safe(text)


@dataclass(frozen=True)
class View:
    """How a table is shown: which columns (`--columns a,b,c`, or all of them
    under `--wide`, else the command's first-read columns), without headers
    (`--no-headers`), and the width to fit (None: as wide as it needs, the
    case when the output is piped and COLUMNS is not set)."""

    columns: tuple[str, ...] = ()
    wide: bool = False
    no_headers: bool = False
    width: int | None = None


def terminal_width(is_tty: bool) -> int | None:
    """COLUMNS when set, else the terminal's width on a terminal, else None."""
    env = os.environ.get("COLUMNS", "").strip()
    if env.isdigit() and int(env) > 0:
        return int(env)
    if is_tty:
        return shutil.get_terminal_size().columns
    return None


def money_cell(value: Decimal) -> str:
    """An amount as a table shows it: two decimals, thousands separated."""
    return f"{Decimal(money_str(value)):,.2f}"


def table_lines(
    headers: Sequence[str],
    body: Sequence[Sequence[str]],
    *,
    right: frozenset[int] = frozenset(),
    footer: Sequence[str] | None = None,
    no_headers: bool = False,
    fit: int | None = None,
) -> list[str]:
    """Text cells as aligned lines: the headers, a rule, the rows, and a footer
    (a rule, then e.g. the 合计 row); two spaces between columns, a wide
    (Chinese) character counted as two, the columns in `right` right-aligned,
    cells wrapped to fit `fit` columns when given. The product's one table
    renderer (records here, reconciliation reports too), built on rich
    (imported here only, so that commands printing no table never load it).
    A table that fits without wrapping is laid out directly (`_unwrapped`,
    the same lines: a test compares the two), rich only when cells must wrap."""
    shown_headers = [display_text(h) for h in headers]
    shown_body = [[display_text(v) for v in row] for row in body]
    shown_footer = None if footer is None else [display_text(f) for f in footer]
    fast = _unwrapped(shown_headers, shown_body, right, shown_footer, no_headers, fit)
    if fast is not None:
        return fast
    return _rich_lines(shown_headers, shown_body, right, shown_footer, no_headers, fit)


# what str.splitlines (and so rich) breaks a cell's lines at
_LINE_BREAK = re.compile("[\n\r\x0b\x0c\x1c-\x1e\x85\u2028\u2029]")


def _unwrapped(
    headers: Sequence[str],
    body: Sequence[Sequence[str]],
    right: frozenset[int],
    footer: Sequence[str] | None,
    no_headers: bool,
    fit: int | None,
) -> list[str] | None:
    """The lines rich draws for a table whose every cell fits on one line
    (each column as wide as its widest cell, by rich's own cell widths; one
    space of padding and one of separator between columns; dashes under the
    headers and over the footer), or None when it would wrap: rich lays out
    thousands of rows a hundred times slower, and the queries print them."""
    from rich.cells import cell_len

    n = len(headers)
    if n == 0 or any(len(row) != n for row in body) or (footer is not None and len(footer) != n):
        return None
    rows = [list(r) for r in body]
    every = "".join(headers) + "".join(footer or ()) + "".join("".join(r) for r in rows)
    if _LINE_BREAK.search(every):
        return None  # a cell of several lines

    def cells_of(text: str) -> int:
        # printable ASCII (what display_text leaves of it) is one cell a character
        return len(text) if text.isascii() else cell_len(text)

    lens = [[cells_of(c) for c in r] for r in rows]
    head_lens = [cells_of(h) for h in headers]
    foot_lens = None if footer is None else [cells_of(f) for f in footer]
    widths = []
    for i in range(n):
        w = max((r[i] for r in lens), default=0)
        if not no_headers:
            w = max(w, head_lens[i])
        if foot_lens is not None:
            w = max(w, foot_lens[i])
        if w == 0:
            return None  # an empty column: rich's own rules apply
        widths.append(w)
    if sum(widths) + 2 * (n - 1) > (fit or 100_000):
        return None

    def line(cells: Sequence[str], cell_lens: Sequence[int]) -> str:
        parts = []
        for i, (c, k) in enumerate(zip(cells, cell_lens, strict=True)):
            if i in right:  # rich drops a right-aligned cell's trailing spaces
                c = c.rstrip()
                k = cells_of(c)
                parts.append(" " * (widths[i] - k) + c)
            else:
                parts.append(c + " " * (widths[i] - k))
        return "  ".join(parts).rstrip()

    rule = " ".join("-" * (w + (1 if i < n - 1 else 0)) for i, w in enumerate(widths))
    out = []
    if not no_headers:
        out += [line(headers, head_lens), rule]
    out += [line(r, k) for r, k in zip(rows, lens, strict=True)]
    if footer is not None and foot_lens is not None:
        out += [rule, line(footer, foot_lens)]
    return out


def _rich_lines(
    headers: Sequence[str],
    body: Sequence[Sequence[str]],
    right: frozenset[int],
    footer: Sequence[str] | None,
    no_headers: bool,
    fit: int | None,
) -> list[str]:
    """The table drawn by rich (cells already made terminal-safe)."""
    from rich import box
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    rule = box.Box("    \n    \n -  \n    \n    \n -  \n    \n    \n", ascii=True)
    table = Table(
        box=rule,
        show_edge=False,
        pad_edge=False,
        padding=(0, 1, 0, 0),
        show_header=not no_headers,
        show_footer=footer is not None,
    )
    for i, h in enumerate(headers):
        table.add_column(
            Text(h),
            footer=Text(footer[i]) if footer is not None else "",
            justify="right" if i in right else "left",
            overflow="fold",
        )
    for row in body:
        table.add_row(*(Text(v) for v in row))
    console = Console(
        width=fit or 100_000,
        no_color=True,
        highlight=False,
        color_system=None,
        force_terminal=False,
        soft_wrap=False,
        legacy_windows=False,
    )
    with console.capture() as cap:
        console.print(table)
    return [line.rstrip() for line in cap.get().rstrip("\n").split("\n")]


def to_table(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    default: Sequence[str] | None = None,
    view: View | None = None,
) -> str:
    """Records as a table: `columns` are all there are to show (in order),
    `default` those a person reads first (shown unless the view asks for all
    or names its own). Amounts are right-aligned with thousands separators
    and, on a table of more than one row, totalled in a 合计 row."""
    if not rows:
        return "(none)"
    view = view or View()
    every = list(columns or rows[0].keys())
    if view.columns:
        unknown = [c for c in view.columns if c not in every and c not in rows[0]]
        if unknown:
            raise InvalidInput(
                f"unknown column(s) {', '.join(unknown)}; this table has: {', '.join(every)}"
            )
        cols = list(view.columns)
    elif view.wide or not default:
        cols = every
    else:
        cols = [c for c in every if c in default]
    money_cols = {
        i
        for i, c in enumerate(cols)
        if any(isinstance(r.get(c), Decimal) for r in rows)
        and all(r.get(c) is None or isinstance(r.get(c), Decimal) for r in rows)
    }
    numbers = {
        i
        for i, c in enumerate(cols)
        if i not in money_cols
        and any(isinstance(r.get(c), int) and not isinstance(r.get(c), bool) for r in rows)
        and all(
            r.get(c) is None or (isinstance(r.get(c), int) and not isinstance(r.get(c), bool))
            for r in rows
        )
    }
    cells = [
        [
            money_cell(r[c])
            if i in money_cols and r.get(c) is not None
            else (labelled(r.get(c)) if c in LABELLED else plain(r.get(c)))
            for i, c in enumerate(cols)
        ]
        for r in rows
    ]
    footer: list[str] | None = None
    if money_cols and len(rows) > 1:
        footer = ["" for _ in cols]
        for i, c in enumerate(cols):
            if i in money_cols:
                footer[i] = money_cell(sum((r.get(c) or Decimal(0) for r in rows), Decimal(0)))
        first_text = next((i for i in range(len(cols)) if i not in money_cols), None)
        if first_text is not None:
            footer[first_text] = "合计"
    lines = table_lines(
        cols,
        cells,
        right=frozenset(money_cols | numbers),
        footer=footer,
        no_headers=view.no_headers,
        fit=view.width,
    )
    return "\n".join(lines)


def to_record(obj: dict[str, Any]) -> str:
    """One record as `key: value` lines, labels beside slugs."""
    if not obj:
        return "(none)"
    n = max(width(k) for k in obj)
    out = []
    for k, v in obj.items():
        if isinstance(v, list) and v and isinstance(v[0], dict):
            out.append(f"{pad(k, n)} :")
            out.append("  " + to_table(v).replace("\n", "\n  "))
        else:
            shown = terminal_safe(labelled(v) if k in LABELLED else plain(v))
            out.append(f"{pad(terminal_safe(k), n)} : {shown}")
    return "\n".join(out)


def to_csv(
    rows: Sequence[dict[str, Any]],
    columns: Sequence[str] | None = None,
    *,
    terminal: bool = False,
) -> str:
    """CSV; a cell that a spreadsheet would run as a formula is text
    (`spreadsheet_text`); on a terminal, control characters are shown escaped."""
    shown = terminal_safe if terminal else (lambda t: t)
    buf = io.StringIO()
    cols = list(columns or (rows[0].keys() if rows else []))
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(cols)
    for r in rows:
        writer.writerow(
            ["" if r.get(c) is None else shown(spreadsheet_text(plain(r.get(c)))) for c in cols]
        )
    return buf.getvalue().rstrip("\n")
