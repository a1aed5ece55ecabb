"""The read side decodes stored events with ``event_mapper()``, without
building ``LedgerApp``: it must read back exactly what the application wrote."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID, uuid4

from eventsourcing.domain import Aggregate, event

from ledger.service import LedgerApp
from ledger.store.codec import event_mapper


class Sample(Aggregate):
    @event("Made")
    def __init__(self, on: date, amount: Decimal, other: UUID, at: datetime) -> None:
        self.on = on
        self.amount = amount
        self.other = other
        self.at = at


def test_event_mapper_reads_what_the_application_wrote() -> None:
    app = LedgerApp()
    try:
        made = Sample(
            date(2026, 6, 30), Decimal("1234.50"), uuid4(), datetime(2026, 7, 1, 8, tzinfo=UTC)
        )
        (first,) = made.collect_events()
        stored = app.mapper.to_stored_event(first)
        back = event_mapper().to_domain_event(stored)
        assert back == first
        assert isinstance(back.on, date) and not isinstance(back.on, datetime)  # type: ignore[attr-defined]
        assert back.amount == Decimal("1234.50")  # type: ignore[attr-defined]
        assert event_mapper().to_stored_event(first).state == stored.state
    finally:
        app.close()
