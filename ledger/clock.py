"""Today's date for the ledger: the one light helper the command line needs
before it knows which side (read or write) it will load."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime

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


def parse_timestamp(value: str | None, what: str = "--known-at") -> datetime | None:
    """An ISO 8601 moment (``--known-at``, the web view's known-at) in UTC; a
    naive one is read as UTC. None stays None; anything else is InvalidInput."""
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(f"invalid {what} {value!r}: expected an ISO 8601 timestamp") from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    try:
        return ts.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(
            f"invalid {what} {value!r}: out of range (years 0001 to 9999, in UTC)"
        ) from None
