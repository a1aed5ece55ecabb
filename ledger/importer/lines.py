"""One line of an import, whatever the file: where it is (for the report), the
recording command and its arguments, its request id — or why it could not be
read. JSON Lines and register sheets both produce these.

Request ids. A line's own ``request_id`` is used as given. A line without one
gets ``imp-`` + SHA-256 of the command, its arguments (names normalised) and
how many identical lines came before it in the file: re-running the file
records nothing new, two identical lines stay two decisions, and editing one
line (fixing a bad one) leaves the ids of every other line as they were — so
the batches recorded before the fix are not recorded again."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

from aggregates.errors import InvalidInput, LedgerError
from ledger.importer.commands import command_name, normalise_args

DERIVED_PREFIX = "imp-"


@dataclass
class Line:
    """A line (or a sheet row's command) to record, or a line that is bad."""

    number: int
    where: str
    command: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    request_id: str | None = None
    error: LedgerError | None = None


def _plain(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


class RequestIds:
    """Derives the request id of each line that has none (see the module)."""

    def __init__(self) -> None:
        self._seen: dict[str, int] = {}

    def assign(self, line: Line) -> Line:
        if line.error is not None or line.request_id is not None:
            return line
        try:
            name = command_name(line.command)
            args = normalise_args(line.args)
        except LedgerError:
            return line  # reported when the line is parsed
        blob = json.dumps(
            {"command": name, "args": _plain(args)},
            sort_keys=True,
            ensure_ascii=False,
            separators=(",", ":"),
        )
        digest = hashlib.sha256(blob.encode()).hexdigest()
        n = self._seen.get(digest, 0)
        self._seen[digest] = n + 1
        line.request_id = DERIVED_PREFIX + hashlib.sha256(f"{digest}#{n}".encode()).hexdigest()[:40]
        return line


def bad(number: int, where: str, message: str) -> Line:
    return Line(number, where, error=InvalidInput(message))
