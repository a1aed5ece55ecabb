"""The change-request read model (SPEC §5): one row per request with its
status and decision, for ``change list``."""

from __future__ import annotations

from datetime import date
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from ledger.store.db import DbConnection, fetchall
from projections.base import ReadModelView, dumps, iso_date, iso_ts, loads


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


def change_list(
    conn: DbConnection,
    *,
    pending: bool = False,
    platform: str | None = None,
    as_of: date | None = None,
) -> list[dict[str, Any]]:
    """``change list``: requests by platform and number; with `as_of`, those
    requested by that date, a decision dated after it not yet taken (pending)."""
    sql, params = "SELECT * FROM rm_change_request WHERE 1 = 1", []
    if platform is not None:
        sql += " AND platform = ?"
        params.append(platform)
    rows = _change_rows(conn, sql + " ORDER BY platform, number", params)
    if as_of is not None:
        day = as_of.isoformat()
        rows = [r for r in rows if str(r["requested_on"]) <= day]
        for r in rows:
            if r["decided_on"] is not None and str(r["decided_on"]) > day:
                r.update(status="pending", decided_on=None, decision_doc_no=None)
                r.update(decision_reason=None, applied=None)
    return [r for r in rows if not pending or r["status"] == "pending"]


def _change_rows(conn: DbConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "platform": r["platform"],
            "type": r["change_type"],
            "details": loads(r["details"]),
            "status": r["status"],
            "requested_on": r["requested_on"],
            "reason": r["reason"],
            "actor": r["actor"],
            "decided_on": r["decided_on"],
            "decision_doc_no": r["decision_doc_no"],
            "decision_reason": r["decision_reason"],
            "applied": loads(r["applied"]),
        }
        for r in fetchall(conn, sql, params)
    ]
