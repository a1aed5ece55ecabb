"""Running an import: lines in batches, each batch recorded in one transaction
or not at all.

- Every line is the service call its command makes on the CLI (same parsing,
  same rules), on a `BatchService`: later lines see earlier lines' effects.
- A line already recorded (its request id is in the request log with the same
  command and arguments) is skipped; with other arguments it is refused.
- A bad line (unreadable, unknown command, bad arguments, refused by a rule)
  is reported with its number, and its whole batch records nothing. The rest
  of that batch is still checked (every bad line of it is reported), and the
  import stops there: the batches before it stay recorded, nothing after it
  is recorded (a later line may depend on the refused one). Fix the line and
  run the same file again: the recorded batches are skipped by request id.
- ``dry_run``: every line is checked against the ledger and the lines before
  it, nothing is recorded, and every bad line of the whole file is reported.
- A write conflict (another writer recorded on the same records first) retries
  the batch from a fresh read, a bounded number of times.
- The read models are caught up once, at the end.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import Any
from uuid import UUID

from aggregates.errors import Conflict, LedgerError
from aggregates.platform import platform_id
from aggregates.unit import unit_id
from aggregates.voucher import voucher_id
from ledger.importer.batch import BatchService
from ledger.importer.commands import Call, parse_call
from ledger.importer.lines import Line, RequestIds

DEFAULT_BATCH = 500
MAX_ATTEMPTS = 10


@dataclass
class BadLine:
    where: str
    number: int
    error: LedgerError

    @property
    def message(self) -> str:
        return self.error.message

    def as_json(self) -> dict[str, Any]:
        return {"line": self.number, "where": self.where, "error": self.message}


@dataclass
class ImportReport:
    """What an import did (or, dry, would do)."""

    source: str
    dry_run: bool
    batch_size: int
    lines: int = 0
    recorded: int = 0
    replayed: int = 0
    events: int = 0
    batches: int = 0
    bad: list[BadLine] = field(default_factory=list)
    # the batch refused: (its number, where its first line is, where its last is)
    refused: tuple[int, str, str] | None = None
    caught_up: bool = False
    # about the read models' catch-up at the end (the recording stands either way)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.bad

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "source": self.source,
            "dry_run": self.dry_run,
            "lines": self.lines,
            "recorded": self.recorded,
            "already_recorded": self.replayed,
            "events": self.events,
            "batches": self.batches,
            "batch_size": self.batch_size,
            "bad": [b.as_json() for b in self.bad],
        }
        if self.refused is not None:
            n, first, last = self.refused
            out["refused_batch"] = {"batch": n, "from": first, "to": last}
        return out


Progress = Callable[[ImportReport], None]


def _batches(lines: Iterable[Line], size: int) -> Iterator[list[Line]]:
    ids = RequestIds()
    it = iter(lines)
    while True:
        chunk = [ids.assign(line) for line in islice(it, size)]
        if not chunk:
            return
        yield chunk


def import_lines(
    db_url: str,
    lines: Iterable[Line],
    *,
    source: str,
    actor: str | None,
    dry_run: bool = False,
    batch_size: int = DEFAULT_BATCH,
    progress: Progress | None = None,
    catch_up: bool = True,
    show_progress: bool = False,
) -> ImportReport:
    """Record ``lines`` in batches of ``batch_size`` (see the module)."""
    if batch_size < 1:
        from aggregates.errors import InvalidInput

        raise InvalidInput(f"invalid --batch {batch_size}: expected 1 or more lines")
    report = ImportReport(source=source, dry_run=dry_run, batch_size=batch_size)
    svc = BatchService(db_url, dry_run=dry_run)
    try:
        for number, batch in enumerate(_batches(lines, batch_size), 1):
            report.lines += len(batch)
            if not _run_batch(svc, batch, actor, report):
                report.refused = (number, batch[0].where, batch[-1].where)
                if not dry_run:
                    break
            if progress is not None:
                progress(report)
        svc.take_snapshots()
        if catch_up and not dry_run and report.events:
            from ledger import reads

            result = reads.catch_up(svc, progress=show_progress)
            report.caught_up = not (result.read_only or result.busy or result.inconsistent)
            for warning in (reads.lag_warning(result), reads.inconsistency_warning(result)):
                if warning:
                    report.warnings.append(warning)
    finally:
        svc.close()
    return report


def _creates(call: Call) -> list[UUID]:
    """The records a line creates, whose existence the batch asks about at once."""
    try:
        if call.command == "funds disburse":
            return [voucher_id(str(call.kwargs["voucher"]).strip())]
        if call.command == "unit register":
            return [unit_id(str(call.args[0]))]
        if call.command == "platform propose":
            return [platform_id(str(call.args[0]))]
    except LedgerError:
        return []  # a malformed code: the line reports it when it runs
    return []


def _run_batch(
    svc: BatchService, batch: list[Line], actor: str | None, report: ImportReport
) -> bool:
    """Check and record one batch; False when a line of it is bad."""
    calls: list[Call | LedgerError] = []
    for line in batch:
        if line.error is not None:
            calls.append(line.error)
            continue
        try:
            calls.append(
                parse_call(line.command, line.args, actor=actor, request_id=line.request_id)
            )
        except LedgerError as e:
            calls.append(e)
    creates = [ident for c in calls if isinstance(c, Call) for ident in _creates(c)]
    for attempt in range(1, MAX_ATTEMPTS + 1):
        svc.prefetch([line.request_id for line in batch if line.request_id], creates)
        replayed_before = svc.replayed
        bad: list[BadLine] = []
        recorded = 0
        for line, call in zip(batch, calls, strict=True):
            if isinstance(call, LedgerError):
                bad.append(BadLine(line.where, line.number, call))
                continue
            events_before, requests_before = svc.batch_events, svc.batch_requests
            svc.begin_line()
            try:
                result = call.run(svc)
            except LedgerError as e:
                svc.rollback_line(events_before, requests_before)
                bad.append(BadLine(line.where, line.number, e))
                continue
            svc.end_line()
            if not result.replayed:
                recorded += 1
        events = svc.batch_events
        if bad:
            report.bad.extend(bad)
            if svc.dry_run:
                # a dry run goes on: the good lines' effects stay for the lines after
                report.recorded += recorded
                report.replayed += svc.replayed - replayed_before
                report.events += events
                svc.commit()
            else:
                svc.discard()
            return False
        conflict = svc.commit()
        if conflict is None:
            report.recorded += recorded
            report.replayed += svc.replayed - replayed_before
            report.events += events
            report.batches += 1
            return True
        # another writer recorded first: read afresh and judge the batch again
        svc.discard()
        svc.replayed = replayed_before
        time.sleep(random.uniform(0, min(0.5, 0.02 * 2 ** (attempt - 1))))
    raise Conflict(
        f"{batch[0].where} to {batch[-1].where}: other writers kept changing the same "
        f"records; gave up after {MAX_ATTEMPTS} attempts, nothing of this batch was recorded"
    )
