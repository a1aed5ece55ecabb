"""Hostile text made inert for a terminal: a light module (stdlib only), so
that the command line can escape an argument in its one-line error before it
loads anything else."""

from __future__ import annotations

import re

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
