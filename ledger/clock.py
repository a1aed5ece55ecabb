"""Today's date for the ledger: the one light helper the command line needs
before it knows which side (read or write) it will load."""

from __future__ import annotations

import os
from datetime import date

from aggregates.errors import InvalidInput


def today() -> date:
    """Today, or `LEDGER_TODAY` for reproducible runs."""
    raw = os.environ.get("LEDGER_TODAY")
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(f"invalid LEDGER_TODAY {raw!r}: expected YYYY-MM-DD") from None
    return date.today()
