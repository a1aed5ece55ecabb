"""The registry read model: which aggregate and code each originator id is.

Only an aggregate's first event carries its code; every other model looks the
code up here (``ReadModelView.aggregate_of``). It runs first in every batch.
"""

from __future__ import annotations

from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from aggregates.unit import Unit
from aggregates.voucher import Voucher
from projections.view import ReadModelView

# Created by @event("...") on __init__, so invisible to the type checker.
PROPOSED: type[Any] = Platform.Proposed  # type: ignore[attr-defined]
REGISTERED: type[Any] = Unit.Registered  # type: ignore[attr-defined]
USED: type[Any] = Voucher.Used  # type: ignore[attr-defined]


class RegistryProjection(Projection[ReadModelView]):
    name = "registry"

    def _register(self, domain_event: Any, aggregate: str, code: str) -> None:
        key = str(domain_event.originator_id)
        self.view.upsert(
            "rm_aggregate",
            {"originator_id": key, "aggregate": aggregate, "code": code},
            ("originator_id",),
        )
        self.view.remember(key, (aggregate, code))

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Only creation events name their aggregate."""

    @process_event.register(PROPOSED)
    def _platform(self, domain_event: Any, tracking: Tracking) -> None:
        self._register(domain_event, "platform", domain_event.code)

    @process_event.register(REGISTERED)
    def _unit(self, domain_event: Any, tracking: Tracking) -> None:
        self._register(domain_event, "unit", domain_event.code)

    @process_event.register(USED)
    def _voucher(self, domain_event: Any, tracking: Tracking) -> None:
        self._register(domain_event, "voucher", domain_event.voucher)
