"""``audit verify --rules`` keeps its own table of the statuses each status
event's command accepts (``ledger.audit.rules_check.STATUS_FROM``): it replays
events, not commands. The table must say what the aggregate's commands say.
This test reads ``aggregates/platform.py``: every method that calls
``self._require(action, *statuses)`` and then ``self.trigger_event(self.X, …)``
pairs event X with those statuses, and the pairs must be the table's."""

from __future__ import annotations

import ast
from pathlib import Path

import aggregates.platform as platform_module
from aggregates.platform import ACTIVE_STATUSES
from ledger.audit.rules_check import STATUS_FROM

NAMED = {"ACTIVE_STATUSES": tuple(ACTIVE_STATUSES)}


def _statuses(args: list[ast.expr]) -> tuple[str, ...]:
    out: list[str] = []
    for a in args:
        if isinstance(a, ast.Constant) and isinstance(a.value, str):
            out.append(a.value)
        elif isinstance(a, ast.Starred) and isinstance(a.value, ast.Name):
            out.extend(NAMED[a.value.id])
        else:
            raise AssertionError(f"unexpected _require argument: {ast.dump(a)}")
    return tuple(out)


def _commands() -> dict[str, tuple[str, ...]]:
    tree = ast.parse(Path(platform_module.__file__).read_text(encoding="utf-8"))
    found: dict[str, tuple[str, ...]] = {}
    for method in ast.walk(tree):
        if not isinstance(method, ast.FunctionDef):
            continue
        required: tuple[str, ...] | None = None
        events: list[str] = []
        for node in ast.walk(method):
            if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
                continue
            if node.func.attr == "_require":
                required = _statuses(node.args[1:])
            elif node.func.attr == "trigger_event" and node.args:
                ev = node.args[0]
                if isinstance(ev, ast.Attribute):
                    events.append(ev.attr)
        if required is not None:
            for ev_name in events:
                found[ev_name] = required
    return found


def test_the_replay_s_status_table_is_the_commands() -> None:
    commands = _commands()
    # the parse found the lifecycle's commands
    assert {"Approved", "Accepted", "Delisted"} <= set(commands), commands
    assert {k: set(v) for k, v in commands.items()} == {k: set(v) for k, v in STATUS_FROM.items()}
