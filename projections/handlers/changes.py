"""The changes read model's projection: how each event changes its rows
(``projections.changes`` holds its queries, which never load this module or
the aggregates; the catch-up, rebuild and verify do)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from projections.base import dumps, iso_date, iso_ts
from projections.view import ReadModelView


class ChangeProjection(Projection[ReadModelView]):
    name = "changes"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Other events are not change requests."""

    @process_event.register
    def _requested(self, domain_event: Platform.ChangeRequested, tracking: Tracking) -> None:
        e: Any = domain_event
        self.view.insert(
            "rm_change_request",
            {
                "id": e.request_id,
                "platform": self.view.code_of(e),
                "number": int(str(e.request_id).rsplit(":CR", 1)[-1]),
                "change_type": e.change_type,
                "details": dumps(dict(e.details)),
                "status": "pending",
                "requested_on": iso_date(e.effective_on),
                "reason": e.reason,
                "actor": e.actor,
                "recorded_at": iso_ts(e.timestamp),
                "decided_on": None,
                "decision_doc_no": None,
                "decision_reason": None,
                "applied": None,
            },
        )

    def _decide(self, e: Any, status: str, **extra: Any) -> None:
        self.view.update(
            "rm_change_request",
            {"status": status, "decided_on": iso_date(e.effective_on), **extra},
            {"id": e.request_id},
        )

    @process_event.register
    def _approved(self, domain_event: Platform.ChangeApproved, tracking: Tracking) -> None:
        e: Any = domain_event
        self._decide(e, "approved", decision_doc_no=e.doc_no, applied=dumps(dict(e.applied)))

    @process_event.register
    def _rejected(self, domain_event: Platform.ChangeRejected, tracking: Tracking) -> None:
        e: Any = domain_event
        self._decide(e, "rejected", decision_doc_no=e.doc_no, decision_reason=e.reason)

    @process_event.register
    def _withdrawn(self, domain_event: Platform.ChangeWithdrawn, tracking: Tracking) -> None:
        e: Any = domain_event
        self._decide(e, "withdrawn", decision_reason=e.reason)


__all__ = ["ChangeProjection"]
