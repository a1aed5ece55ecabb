"""The history read model's projection: how each event changes its rows
(``projections.history`` holds its queries, which never load this module or
the aggregates; the catch-up, rebuild and verify do)."""

from __future__ import annotations

from datetime import date
from functools import singledispatchmethod
from typing import Any

from eventsourcing.domain import DomainEvent
from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from projections.base import dumps, iso_date, iso_ts
from projections.history import event_data
from projections.view import ReadModelView


class HistoryProjection(Projection[ReadModelView]):
    name = "history"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Not a domain event: nothing to index."""

    @process_event.register
    def _event(self, domain_event: DomainEvent, tracking: Tracking) -> None:
        e: Any = domain_event
        aggregate, code = self.view.aggregate_of(e.originator_id)
        on = getattr(e, "effective_on", None)
        self.view.insert(
            "rm_history",
            {
                "seq": self.view.seq,
                "notification_id": tracking.notification_id,
                "aggregate": aggregate,
                "code": code,
                "version": e.originator_version,
                "event": type(e).__name__,
                "effective_on": iso_date(on) if isinstance(on, date) else None,
                "recorded_at": iso_ts(e.timestamp),
                "actor": getattr(e, "actor", None),
                "doc_no": getattr(e, "doc_no", None),
                "reason": getattr(e, "reason", None),
                "basis": getattr(e, "basis", None),
                "data": dumps(event_data(e)),
            },
        )


__all__ = ["HistoryProjection"]
