"""The compliance read model's projection: how each event changes its rows
(``projections.compliance`` holds its queries, which never load this module or
the aggregates; the catch-up, rebuild and verify do)."""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from projections.base import iso_date, iso_ts
from projections.view import ReadModelView


class ComplianceProjection(Projection[ReadModelView]):
    name = "compliance"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Other events are not compliance inputs."""

    @process_event.register
    def _report(self, domain_event: Platform.ReportFiled, tracking: Tracking) -> None:
        e: Any = domain_event
        self.view.insert(
            "rm_report",
            {
                "platform": self.view.code_of(e),
                "year": int(e.year),
                "filed_on": iso_date(e.effective_on),
                "due_on": iso_date(e.due_on),
                "late": int(bool(e.late)),
                "recorded_at": iso_ts(e.timestamp),
            },
        )

    @process_event.register
    def _evaluated(self, domain_event: Platform.Evaluated, tracking: Tracking) -> None:
        e: Any = domain_event
        self.view.insert(
            "rm_evaluation",
            {
                "platform": self.view.code_of(e),
                "cycle": e.cycle,
                "version": e.originator_version,
                "grade": e.grade,
                "evaluated_on": iso_date(e.effective_on),
                "recorded_at": iso_ts(e.timestamp),
            },
        )


__all__ = ["ComplianceProjection"]
