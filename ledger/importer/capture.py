"""Writing recordings as an import file: `CapturingService` stands in for a
`LedgerService`, passes every recording call through to it and writes the
call as the JSON line that records the same thing (``{"command": "funds
disburse", "args": {...}}``). The demo written this way is the import's
reference file: importing it must record exactly what the demo records."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any, TextIO

from ledger.importer.commands import COMMANDS

# service method -> (command, its positional argument names, {parameter: option})
_BY_METHOD: dict[str, tuple[str, list[str], dict[str, str]]] = {
    c.method: (
        c.name,
        [k for k, _ in c.positional],
        {o.param: k for k, o in c.options.items()},
    )
    for c in COMMANDS.values()
}


def _jsonable(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: _jsonable(v) for k, v in value.items()}
    return value


def call_as_line(method: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The JSON line of one recording call of the service."""
    command, positional, options = _BY_METHOD[method]
    out: dict[str, Any] = dict(zip(positional, (_jsonable(a) for a in args), strict=True))
    request_id = None
    for param, value in kwargs.items():
        if param == "request_id":
            request_id = value
            continue
        if value is None:
            continue
        if command == "platform rectify" and param == "passed":
            out["passed" if value else "failed"] = True
            continue
        key = options.get(param) or param.replace("_", "-")
        out[key] = _jsonable(value)
    line: dict[str, Any] = {"command": command, "args": out}
    if request_id is not None:
        line["request_id"] = request_id
    return line


class CapturingService:
    """Passes calls to ``svc``; writes each recording call to ``out`` as a line."""

    def __init__(self, svc: Any, out: TextIO) -> None:
        self._svc = svc
        self._out = out

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._svc, name)
        if name not in _BY_METHOD or not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self._out.write(json.dumps(call_as_line(name, args, kwargs), ensure_ascii=False))
            self._out.write("\n")
            return result

        wrapped: Callable[..., Any] = call
        return wrapped
