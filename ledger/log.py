"""Logging through structlog, loaded when a line is first logged.

structlog takes ~35 ms to import (its stdlib integration loads asyncio), and
most commands — every query — log nothing at the default level. So the
modules log through ``get_logger()`` here, a stand-in that imports structlog
(with rich hidden: structlog would import it for tracebacks we never print)
and applies the command line's settings (``configure``) and its bound
context (``bind``) the first time a logger is used. When structlog is already
loaded (a test, a benchmark), ``configure`` and ``bind`` act at once, as
before.
"""

from __future__ import annotations

import sys
from types import ModuleType
from typing import Any

# the command line's settings while structlog is not loaded: verbose, and the
# context to bind (command, actor)
_pending_verbose: bool | None = None
_pending_context: dict[str, Any] = {}


def _import_structlog() -> ModuleType:
    """structlog, imported with rich hidden when rich is not loaded yet (rich
    is for tables only, imported when one is printed: ledger/output.py)."""
    loaded = sys.modules.get("structlog")
    if loaded is not None:
        return loaded
    hide = "rich" not in sys.modules
    if hide:
        sys.modules["rich"] = None  # type: ignore[assignment]
    try:
        import structlog
    finally:
        if hide:
            del sys.modules["rich"]
    return structlog


def _structlog() -> ModuleType:
    """structlog, loaded and set up as the command line asked."""
    global _pending_verbose
    first = "structlog" not in sys.modules
    structlog = _import_structlog()
    if first or _pending_verbose is not None or _pending_context:
        verbose, _pending_verbose = _pending_verbose, None
        if verbose is not None:
            _apply(structlog, verbose)
        if _pending_context:
            structlog.contextvars.bind_contextvars(**_pending_context)
            _pending_context.clear()
    return structlog


def _apply(structlog: ModuleType, verbose: bool) -> None:
    import logging

    level = logging.INFO if verbose else logging.WARNING
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


def configure(verbose: bool) -> None:
    """The command line's logging: INFO with -v, else WARNING, on stderr (key=value
    lines on a terminal, JSON otherwise). Applied now if structlog is loaded,
    else when the first line is logged."""
    global _pending_verbose
    if "structlog" in sys.modules:
        _pending_verbose = None
        _apply(sys.modules["structlog"], verbose)
    else:
        _pending_verbose = verbose


def bind(**context: Any) -> None:
    """Context every later line carries (structlog's contextvars)."""
    if "structlog" in sys.modules:
        sys.modules["structlog"].contextvars.bind_contextvars(**context)
    else:
        _pending_context.update(context)


# Levels the command line drops unless -v: while structlog is not loaded and
# the command line asked for WARNING, a line at these levels loads nothing.
_BELOW_WARNING = frozenset({"debug", "info"})


def _dropped(*args: Any, **kwargs: Any) -> None:
    del args, kwargs


class LazyLogger:
    """Stands for ``structlog.get_logger(...)``: each method call asks structlog
    (loading it the first time) for the logger, as configured then; a line
    the configured level would drop is dropped without loading it."""

    def __init__(self, *args: Any, **initial: Any) -> None:
        self._args = args
        self._initial = initial

    def __getattr__(self, name: str) -> Any:
        if name in _BELOW_WARNING and _pending_verbose is False and "structlog" not in sys.modules:
            return _dropped
        return getattr(_structlog().get_logger(*self._args, **self._initial), name)


def get_logger(*args: Any, **initial: Any) -> Any:
    """A logger that loads structlog when first used."""
    return LazyLogger(*args, **initial)


__all__ = ["LazyLogger", "bind", "configure", "get_logger"]
