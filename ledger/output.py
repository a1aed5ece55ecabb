"""Rendering records as a table (with Chinese labels beside the slugs), JSON
(UTF-8, not ASCII-escaped) or CSV. Money is a string with two decimals."""

from __future__ import annotations

import csv
import io
import json
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from aggregates.values import money_str

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

# what a terminal would act on rather than show: C0 controls (tab, newline and
# carriage return included), DEL, C1 controls, and the bidirectional overrides,
# embeddings, isolates and marks that reorder what is displayed
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    c = m.group(0)
    if c in _NAMED:
        return _NAMED[c]
    return f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}"


def terminal_safe(text: str) -> str:
    """The text with every control, escape or bidi character shown as an escape
    (`\\x1b`, `\\r`, `\\n`, `\\u202e`): for tables, records and one-line errors.
    JSON is exact instead (json's own escaping)."""
    return _UNSAFE.sub(_escape, text)


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


def table_lines(headers: Sequence[str], body: Sequence[Sequence[str]]) -> list[str]:
    """Text cells as aligned lines: the headers, a rule, then the rows; two
    spaces between columns, a wide (Chinese) character counted as two. The
    product's one table renderer (records here, reconciliation reports too).
    Control, escape and bidi characters in a cell are shown escaped."""
    headers = [terminal_safe(h) for h in headers]
    body = [[terminal_safe(v) for v in row] for row in body]
    widths = [max([width(h), *(width(row[i]) for row in body)]) for i, h in enumerate(headers)]
    lines = ["  ".join(pad(h, widths[i]) for i, h in enumerate(headers)).rstrip()]
    lines.append("  ".join("-" * w for w in widths))
    for row in body:
        lines.append("  ".join(pad(v, widths[i]) for i, v in enumerate(row)).rstrip())
    return lines


def to_table(rows: Sequence[dict[str, Any]], columns: Sequence[str] | None = None) -> str:
    if not rows:
        return "(none)"
    cols = list(columns or rows[0].keys())
    cells = [[labelled(r.get(c)) if c in LABELLED else plain(r.get(c)) for c in cols] for r in rows]
    return "\n".join(table_lines(cols, cells))


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
