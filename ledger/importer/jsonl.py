"""Reading a JSON Lines import: one recording command per line,

    {"command": "funds disburse", "args": {"code": "LS-KL-001", "category": "operation",
     "amount": "200000", "fiscal-year": 2026, "voucher": "PZ-2026-0001", "on": "2026-03-15"},
     "request_id": "pz-2026-0001"}

UTF-8 (a byte-order mark is allowed). Blank lines are skipped. Numbers are
read as exact decimals, never floats. A line that is not such an object is a
bad line (exit 2), reported with its number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from ledger.importer.lines import Line, bad

KEYS = {"command", "args", "request_id"}


def read_jsonl(path: Path) -> Iterator[Line]:
    with path.open("rb") as f:
        for number, raw in enumerate(f, 1):
            where = f"line {number}"
            try:
                text = raw.decode("utf-8-sig" if number == 1 else "utf-8").strip()
            except UnicodeDecodeError:
                yield bad(number, where, "not UTF-8 text")
                continue
            if not text:
                continue
            yield parse_line(number, where, text)


def parse_line(number: int, where: str, text: str) -> Line:
    try:
        obj = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as e:
        return bad(number, where, f"not valid JSON ({e.msg} at column {e.colno})")
    if not isinstance(obj, dict):
        return bad(number, where, 'expected an object {"command": …, "args": {…}}')
    extra = sorted(set(obj) - KEYS)
    if extra:
        return bad(
            number,
            where,
            f"unknown key(s) {', '.join(extra)}; a line has command, args and request_id",
        )
    command = obj.get("command")
    if not isinstance(command, str) or not command.strip():
        return bad(number, where, 'missing "command" (e.g. "funds disburse")')
    args = obj.get("args", {})
    if not isinstance(args, dict):
        return bad(number, where, '"args" must be an object of the command\'s options')
    request_id = obj.get("request_id")
    if request_id is not None and (not isinstance(request_id, str) or not request_id.strip()):
        return bad(number, where, '"request_id" must be non-empty text')
    return Line(number, where, command, args, request_id)
