"""The units read model's projection: how each event changes its rows
(``projections.units`` holds its queries, which never load this module or
the aggregates; the catch-up, rebuild and verify do)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.unit import Unit, debarment_programme
from projections.base import dumps, iso_date, iso_ts
from projections.handlers.registry import REGISTERED
from projections.view import ReadModelView


class UnitProjection(Projection[ReadModelView]):
    name = "units"

    def _touch(self, e: Any) -> str:
        code = self.view.code_of(e)
        self.view.update("rm_unit", {"version": e.originator_version}, {"code": code})
        return code

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Events of other aggregates change nothing here."""

    @process_event.register
    def _any(self, domain_event: Unit.Event, tracking: Tracking) -> None:
        self._touch(domain_event)

    @process_event.register(REGISTERED)
    def _registered(self, domain_event: Any, tracking: Tracking) -> None:
        e: Any = domain_event
        on, at = iso_date(e.effective_on), iso_ts(e.timestamp)
        self.view.insert(
            "rm_unit",
            {
                "code": e.code,
                "version": e.originator_version,
                "name": e.name,
                "unit_type": e.unit_type,
                "high_tech": int(bool(e.high_tech)),
                "aliases": dumps(list(e.aliases)),
                "registered_on": on,
                "recorded_at": at,
            },
        )
        names = [("registered", e.name)] + [("alias", a) for a in dict.fromkeys(e.aliases)]
        for source, name in names:
            self.view.insert(
                "rm_unit_name",
                {
                    "code": e.code,
                    "version": e.originator_version,
                    "source": source,
                    "name": name,
                    "since": on,
                    "recorded_at": at,
                },
            )

    @process_event.register
    def _renamed(self, domain_event: Unit.Renamed, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self._touch(e)
        self.view.insert(
            "rm_unit_name",
            {
                "code": code,
                "version": e.originator_version,
                "source": "renamed",
                "name": e.name,
                "since": iso_date(e.effective_on),
                "recorded_at": iso_ts(e.timestamp),
            },
        )
        # the current name is the newest rename by (date, version), as
        # Standing.name_on gives it: renames are dated in order, so this is the
        # one just recorded, but the rule is kept here whatever the order
        current = self.view.one(
            "SELECT name FROM rm_unit_name WHERE code = ? AND source = 'renamed' "
            "ORDER BY since DESC, version DESC LIMIT 1",
            (code,),
        )
        name = e.name if current is None else current["name"]
        self.view.update("rm_unit", {"name": name}, {"code": code})

    @process_event.register
    def _violation(self, domain_event: Unit.ViolationRecorded, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self._touch(e)
        self.view.insert(
            "rm_violation",
            {
                "id": e.violation_id,
                "unit": code,
                "version": e.originator_version,
                "kind": e.kind,
                "occurred_on": iso_date(e.occurred_on),
                "found_on": iso_date(e.effective_on),
                "platform": e.platform,
                "doc_no": e.doc_no,
                "reason": e.reason,
                "policy": debarment_programme(e),
                "recorded_at": iso_ts(e.timestamp),
            },
        )

    @process_event.register
    def _debarred(self, domain_event: Unit.Debarred, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self._touch(e)
        self.view.insert(
            "rm_debarment",
            {
                "id": e.debarment_id,
                "unit": code,
                "version": e.originator_version,
                "years": int(e.years),
                "start_on": iso_date(e.start),
                "end_on": iso_date(e.end),
                "scopes": dumps(list(e.scopes)),
                "basis": e.basis,
                "doc_no": e.doc_no,
                "reason": e.reason,
                "violation": e.violation,
                "recorded_at": iso_ts(e.timestamp),
                "imposed_on": iso_date(e.effective_on),
                "policy": debarment_programme(e),
                "lifted_on": None,
                "lift_doc_no": None,
                "lift_reason": None,
                "lift_recorded_at": None,
            },
        )

    @process_event.register
    def _lifted(self, domain_event: Unit.DebarmentLifted, tracking: Tracking) -> None:
        e: Any = domain_event
        self._touch(e)
        self.view.update(
            "rm_debarment",
            {
                "lifted_on": iso_date(e.effective_on),
                "lift_doc_no": e.doc_no,
                "lift_reason": e.reason,
                "lift_recorded_at": iso_ts(e.timestamp),
            },
            {"id": e.debarment_id},
        )

    @process_event.register
    def _blacklisted(self, domain_event: Unit.Blacklisted, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self._touch(e)
        self.view.insert(
            "rm_blacklist",
            {
                "id": e.entry_id,
                "unit": code,
                "version": e.originator_version,
                "added_on": iso_date(e.effective_on),
                "basis": e.basis,
                "doc_no": e.doc_no,
                "reason": e.reason,
                "violation": e.violation,
                "recorded_at": iso_ts(e.timestamp),
                "removed_on": None,
                "removal_doc_no": None,
                "removal_reason": None,
                "removal_recorded_at": None,
            },
        )

    @process_event.register
    def _unblacklisted(self, domain_event: Unit.Unblacklisted, tracking: Tracking) -> None:
        e: Any = domain_event
        self._touch(e)
        self.view.update(
            "rm_blacklist",
            {
                "removed_on": iso_date(e.effective_on),
                "removal_doc_no": e.doc_no,
                "removal_reason": e.reason,
                "removal_recorded_at": iso_ts(e.timestamp),
            },
            {"id": e.entry_id},
        )

    @process_event.register
    def _lead_assumed(self, domain_event: Unit.ConsortiumLeadAssumed, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self._touch(e)
        self.view.upsert(
            "rm_consortium_lead",
            {
                "unit": code,
                "platform": e.platform,
                "since": iso_date(e.effective_on),
                # the term's end, where the approval set one (002 §3.2)
                "until_on": iso_date(getattr(e, "until", None)),
                "recorded_at": iso_ts(e.timestamp),
                "until_recorded_at": iso_ts(e.timestamp) if getattr(e, "until", None) else None,
            },
            ("unit", "platform"),
        )

    @process_event.register
    def _lead_released(self, domain_event: Unit.ConsortiumLeadReleased, tracking: Tracking) -> None:
        e: Any = domain_event
        code = self._touch(e)
        self.view.update(
            "rm_consortium_lead",
            {"until_on": iso_date(e.effective_on), "until_recorded_at": iso_ts(e.timestamp)},
            {"unit": code, "platform": e.platform},
        )


__all__ = ["UnitProjection"]
