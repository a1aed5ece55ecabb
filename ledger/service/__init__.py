"""The application: `LedgerService`, one method per command of CLI.md, composed
of one class per area (units and integrity, the platform lifecycle, change
requests, funds) on the recording core (`LedgerApp`, `_record`: idempotency by
request id, bounded retries of write conflicts). Library and driver errors are
translated into the domain's error hierarchy in :mod:`ledger.service.errors`.

Modules: :mod:`.core`, :mod:`.errors`, :mod:`.units`, :mod:`.platforms`,
:mod:`.changes`, :mod:`.funds`."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from aggregates.errors import LedgerError
from ledger.clock import today
from ledger.service.changes import ChangeCommands
from ledger.service.core import DEFAULT_POLICY, LedgerApp, Result, ServiceCore
from ledger.service.funds import FundCommands, check_fiscal_year
from ledger.service.platforms import PlatformCommands
from ledger.service.units import UnitCommands


class LedgerService(ChangeCommands, PlatformCommands, UnitCommands, FundCommands):
    """One method per command. Every recording method validates, then records
    all the events it implies in one atomic save."""


@contextmanager
def service(db_url: str) -> Iterator[LedgerService]:
    svc = LedgerService(db_url)
    try:
        yield svc
    finally:
        svc.close()


__all__ = [
    "DEFAULT_POLICY",
    "LedgerApp",
    "LedgerError",
    "LedgerService",
    "Result",
    "ServiceCore",
    "check_fiscal_year",
    "service",
    "today",
]
