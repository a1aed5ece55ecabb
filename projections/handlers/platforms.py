"""The platforms read model's projection: how each event changes its rows
(``projections.platforms`` holds its queries, which never load this module or
the aggregates; the catch-up, rebuild and verify do)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from projections.base import RowMissing, dumps, iso_date, iso_ts
from projections.handlers.registry import PROPOSED
from projections.platforms import SNAPSHOT_FIELDS
from projections.view import ReadModelView


class PlatformProjection(Projection[ReadModelView]):
    """The current rows (``rm_platform``) a batch touches are kept for the
    batch (a write-back cache, ``projections.runner.BatchRows``): read once,
    changed in memory, written once at its end."""

    name = "platforms"

    def __init__(self, view: ReadModelView) -> None:
        super().__init__(view)
        # code -> its current row, this batch
        self._rows: dict[str, dict[str, Any]] = {}

    def begin_batch(self) -> None:
        self._rows.clear()

    def end_batch(self) -> None:
        rows = list(self._rows.values())
        self._rows.clear()
        self.view.upsert_many("rm_platform", rows, ("code",))

    # --- helpers ----------------------------------------------------------------

    def _current(self, code: str) -> dict[str, Any]:
        row = self._rows.get(code)
        if row is None:
            row = self.view.one("SELECT * FROM rm_platform WHERE code = ?", (code,))
            if row is None:
                raise RowMissing(f"platform {code} has no current row")
            self._rows[code] = row
        return row

    def _snapshot(self, e: Any, changes: dict[str, Any], *, status_changed: bool) -> None:
        code = self.view.code_of(e)
        row = self._current(code)
        row.update(changes)
        row.update(
            version=e.originator_version,
            effective_on=iso_date(e.effective_on),
            recorded_at=iso_ts(e.timestamp),
            event=type(e).__name__,
            last_version=e.originator_version,
        )
        # (the current row is written at the end of the batch)
        self.view.insert("rm_platform_snapshot", {k: row[k] for k in SNAPSHOT_FIELDS})
        if status_changed:
            self.view.insert(
                "rm_platform_status",
                {
                    "code": code,
                    "version": e.originator_version,
                    "effective_on": row["effective_on"],
                    "recorded_at": row["recorded_at"],
                    "status": row["status"],
                },
            )

    def _status(self, e: Any, **extra: Any) -> None:
        self._snapshot(
            e,
            {"status": e.status, "status_since": iso_date(e.effective_on), **extra},
            status_changed=True,
        )

    # --- handlers -------------------------------------------------------------------

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events of other aggregates change nothing here."""

    @process_event.register
    def _any(self, domain_event: Platform.Event, tracking: Tracking) -> None:
        # reports, change requests, funds, entitlements: no snapshot
        code = self.view.code_of(domain_event)
        row = self._rows.get(code)
        if row is not None:
            row["last_version"] = domain_event.originator_version
            return
        self.view.update(
            "rm_platform", {"last_version": domain_event.originator_version}, {"code": code}
        )

    @process_event.register(PROPOSED)
    def _proposed(self, domain_event: Any, tracking: Tracking) -> None:
        e: Any = domain_event
        on = iso_date(e.effective_on)
        row = {
            "code": e.code,
            "version": e.originator_version,
            "effective_on": on,
            "recorded_at": iso_ts(e.timestamp),
            "event": type(e).__name__,
            "name": e.name,
            "kind": e.kind,
            "level": e.level,
            "policy": e.policy,
            "status": "proposed",
            "status_since": on,
            "host_unit": e.host,
            "co_builders": dumps(list(e.co_builders)),
            "proposed_on": on,
            "approved_on": None,
            "construction_ends": None,
            "term_ends": None,
            "rectification_due": None,
            "delist_reason": None,
            "funding_suspended": 0,
            "consecutive_poor": 0,
            "due_for_termination": 0,
            "agreement_on": iso_date(e.agreement_on),
            "filing_due": iso_date(e.filing_due),
            "filing_late": int(bool(e.filing_late)),
            "last_version": e.originator_version,
        }
        self.view.insert("rm_platform", row)  # (a second proposal of a code fails here)
        self._rows[e.code] = dict(row)
        self.view.insert("rm_platform_snapshot", {k: row[k] for k in SNAPSHOT_FIELDS})
        self.view.insert(
            "rm_platform_status",
            {
                "code": e.code,
                "version": e.originator_version,
                "effective_on": on,
                "recorded_at": row["recorded_at"],
                "status": "proposed",
            },
        )

    @process_event.register
    def _status_event(self, domain_event: Platform.StatusEvent, tracking: Tracking) -> None:
        # Rejected, Withdrawn, Accepted
        self._status(domain_event)

    @process_event.register
    def _approved(self, domain_event: Platform.Approved, tracking: Tracking) -> None:
        e: Any = domain_event
        self._status(
            e,
            approved_on=iso_date(e.effective_on),
            construction_ends=iso_date(e.construction_ends),
            term_ends=iso_date(e.term_ends),
        )

    @process_event.register
    def _acceptance_failed(
        self, domain_event: Platform.AcceptanceFailed, tracking: Tracking
    ) -> None:
        e: Any = domain_event
        self._status(e, rectification_due=iso_date(e.rectification_due))

    @process_event.register
    def _evaluated(self, domain_event: Platform.Evaluated, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self.view.code_of(e)
        before = self._current(code)
        changes: dict[str, Any] = {
            "consecutive_poor": int(e.consecutive_poor),
            "due_for_termination": int(bool(e.due_for_termination)),
        }
        if e.rectification_due is not None:
            changes["rectification_due"] = iso_date(e.rectification_due)
        changed = e.status != before["status"]
        if changed:
            changes.update(status=e.status, status_since=iso_date(e.effective_on))
        self._snapshot(e, changes, status_changed=changed)

    @process_event.register
    def _rectification_passed(
        self, domain_event: Platform.RectificationPassed, tracking: Tracking
    ) -> None:
        self._status(domain_event, rectification_due=None)

    @process_event.register
    def _rectification_failed(
        self, domain_event: Platform.RectificationFailed, tracking: Tracking
    ) -> None:
        e: Any = domain_event
        self._status(e, delist_reason=e.reason_code, rectification_due=None)

    @process_event.register
    def _delisted(self, domain_event: Platform.Delisted, tracking: Tracking) -> None:
        e: Any = domain_event
        self._status(e, delist_reason=e.reason_code, rectification_due=None)

    @process_event.register
    def _upgraded(self, domain_event: Platform.Upgraded, tracking: Tracking) -> None:
        e: Any = domain_event
        self._snapshot(e, {"level": e.level}, status_changed=False)

    @process_event.register
    def _change_approved(self, domain_event: Platform.ChangeApproved, tracking: Tracking) -> None:
        e: Any = domain_event
        changes: dict[str, Any] = {}
        for key, value in dict(e.applied).items():
            if key == "name":
                changes["name"] = value
            elif key == "host":
                changes["host_unit"] = value
            elif key == "co_builders":
                changes["co_builders"] = dumps(list(value))
        self._snapshot(e, changes, status_changed=False)

    @process_event.register
    def _suspended(self, domain_event: Platform.FundingSuspended, tracking: Tracking) -> None:
        self._snapshot(domain_event, {"funding_suspended": 1}, status_changed=False)

    @process_event.register
    def _resumed(self, domain_event: Platform.FundingResumed, tracking: Tracking) -> None:
        self._snapshot(domain_event, {"funding_suspended": 0}, status_changed=False)


__all__ = ["PlatformProjection"]
