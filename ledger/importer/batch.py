"""`BatchService`: the `LedgerService` whose recordings are gathered into a
batch and saved together — the import's fast path.

Every line runs the service method the CLI runs (the same rules, on the same
aggregates); only loading and saving differ:

- aggregates are loaded once and kept in a cache, so a later line sees what an
  earlier line of the import did (its events are pending on the cached
  aggregate until the batch is saved);
- ``_record`` does not save: it takes the events the line added, in the order
  the CLI would have saved them, and the line's request row, into the batch;
- ``commit()`` saves the whole batch in ONE transaction (every event, its
  chain row and every request row): a batch is all or nothing;
- a line that fails (a rule, bad input) is undone on the cached aggregates
  (``rollback_line``: each aggregate it touched is rebuilt from the store and
  the batch's events before that line), so the next line is judged on the state
  without it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from aggregates.errors import Conflict, InvalidInput, PlatformNotFound, UnitNotFound
from aggregates.platform import Platform, platform_id
from aggregates.policy import Policy
from aggregates.unit import Unit, unit_id
from aggregates.values import validate_credit_code, validate_platform_code
from ledger.importer.lines import DERIVED_PREFIX
from ledger.service import LedgerService, Result
from ledger.service.core import event_summary, fingerprint
from ledger.service.errors import save_batch_or_conflict
from ledger.store import snapshots
from ledger.store.chain import RequestRecord, existing_originators, lookup_fingerprints

# aggregates kept between batches (their state as saved); above it the cache is emptied
CACHE_LIMIT = 20_000


@dataclass
class _Cached:
    agg: Aggregate
    # the version stored in the database (0: created in this batch, not saved yet)
    stored: int


class BatchService(LedgerService):
    """A LedgerService that gathers recordings into batches (see the module)."""

    def __init__(self, db_url: str, *, dry_run: bool = False) -> None:
        super().__init__(db_url)
        self.dry_run = dry_run
        self._cache: dict[UUID, _Cached] = {}
        # this line: id -> number of pending events when the line first touched it
        self._marks: dict[UUID, int] = {}
        self._returned: set[UUID] = set()
        self._events: list[Any] = []
        self._requests: list[RequestRecord] = []
        # request id -> fingerprint: recorded already (prefetched), or in this batch
        self._known: dict[str, str] = {}
        self._batch_known: dict[str, str] = {}
        self._policy: Policy | None = None
        # records a batch's lines create that the store has not (asked once a batch)
        self._absent: set[UUID] = set()
        self.replayed = 0
        # snapshots are taken once at the end of the import, not after every
        # batch (ledger.store.snapshots): id -> (aggregate, its version before
        # the import's first save of it, its version as saved last)
        self._to_snapshot: dict[UUID, tuple[Aggregate, int, int]] = {}

    # --- loading through the cache -------------------------------------------------------

    @property
    def default_policy(self) -> Policy:
        if self._policy is None:
            self._policy = super().default_policy
        return self._policy

    def _from_cache(self, ident: UUID) -> Aggregate | None:
        entry = self._cache.get(ident)
        if entry is None:
            return None
        self._marks.setdefault(ident, len(entry.agg.pending_events))
        return entry.agg

    def _adopt(self, agg: Aggregate, stored: int) -> None:
        self._cache[agg.id] = _Cached(agg, stored)
        self._marks.setdefault(agg.id, len(agg.pending_events))

    def platform(self, code: str) -> Platform:
        validate_platform_code(code)
        agg = self._from_cache(platform_id(code))
        if agg is None:
            agg = super().platform(code)
            self._adopt(agg, agg.version)
        if not isinstance(agg, Platform):  # pragma: no cover - ids are namespaced
            raise PlatformNotFound(code)
        return agg

    def unit(self, code: str) -> Unit:
        validate_credit_code(code)
        agg = self._from_cache(unit_id(code))
        if agg is None:
            agg = super().unit(code)
            self._adopt(agg, agg.version)
        if not isinstance(agg, Unit):  # pragma: no cover
            raise UnitNotFound(code)
        return agg

    def exists(self, ident: UUID) -> bool:
        if ident in self._cache:
            return True
        if ident in self._absent:
            return False
        return super().exists(ident)

    # --- recording into the batch ---------------------------------------------------------

    def prefetch(self, request_ids: list[str], creates: list[UUID]) -> None:
        """Ask once per batch: which request ids are recorded, and which of the
        records its lines create (units, platforms, vouchers) exist already."""
        wanted = [r for r in request_ids if r not in self._known]
        if wanted:
            self._known.update(lookup_fingerprints(self.cfg, wanted))
        ask = [i for i in creates if i not in self._cache]
        self._absent = set(ask) - existing_originators(self.cfg, ask) if ask else set()

    def _record(
        self,
        command: str,
        args: dict[str, Any],
        request_id: str | None,
        work: Any,
    ) -> Result:
        fp = fingerprint(command, args)
        if request_id is not None:
            if not request_id.strip():
                raise InvalidInput("the request id is empty")
            prior = self._batch_known.get(request_id) or self._known.get(request_id)
            if prior is not None:
                if prior != fp and request_id.startswith(DERIVED_PREFIX):
                    raise Conflict(
                        "this line was already imported with other arguments or by another "
                        f"actor (request id {request_id}); nothing of this batch was recorded"
                    )
                if prior != fp:
                    raise Conflict(
                        f"request id {request_id} was already used for a different command "
                        "or arguments; nothing of this batch was recorded"
                    )
                self.replayed += 1
                return Result(event="", code=str(args.get("code", "")), version=0, replayed=True)
        aggregates: list[Aggregate]
        result: Result
        aggregates, result = work()
        ordered: list[Aggregate] = []
        for agg in aggregates:
            if agg.id not in self._returned:
                self._returned.add(agg.id)
                ordered.append(agg)
        events: list[tuple[Aggregate, Any]] = []
        for agg in ordered:
            if agg.id not in self._marks:  # created by this line
                self._adopt(agg, 0)
                mark = 0
            else:
                mark = self._marks[agg.id]
                if self._cache[agg.id].agg is not agg:  # pragma: no cover - loaded twice
                    raise Conflict(f"{command}: one record was loaded twice in one line")
            events.extend((agg, ev) for ev in agg.pending_events[mark:])
        result.events = [event_summary(agg, ev) for agg, ev in events]
        self._events.extend(ev for _, ev in events)
        if request_id is not None:
            self._requests.append(
                RequestRecord(request_id, fp, json.dumps(result.as_json(), ensure_ascii=False))
            )
            self._batch_known[request_id] = fp
        return result

    def begin_line(self) -> None:
        self._marks = {}
        self._returned = set()

    def end_line(self) -> None:
        """A line recorded: undo what it did to aggregates it did not record
        (as the CLI, which saves only what the command returns, would)."""
        for ident, mark in self._marks.items():
            if (
                ident not in self._returned
                and ident in self._cache
                and len(self._cache[ident].agg.pending_events) != mark
            ):
                self._restore(ident, mark)
        self._marks = {}
        self._returned = set()

    def rollback_line(self, events_before: int, requests_before: int) -> None:
        """A line failed: every aggregate it touched goes back to its state
        before the line; its events and request row leave the batch."""
        for ident, mark in self._marks.items():
            if ident in self._cache:
                self._restore(ident, mark)
        del self._events[events_before:]
        for r in self._requests[requests_before:]:
            self._batch_known.pop(r.request_id, None)
        del self._requests[requests_before:]
        self._marks = {}
        self._returned = set()

    def _restore(self, ident: UUID, mark: int) -> None:
        entry = self._cache[ident]
        keep = list(entry.agg.pending_events[:mark])
        if entry.stored == 0 and not keep:
            del self._cache[ident]
            return
        agg: Any = None
        if entry.stored:
            agg = self.app.repository.get(ident, version=entry.stored)
        for ev in keep:
            agg = ev.mutate(agg)
        agg.pending_events.extend(keep)
        entry.agg = agg

    @property
    def batch_events(self) -> int:
        return len(self._events)

    @property
    def batch_requests(self) -> int:
        return len(self._requests)

    def commit(self) -> IntegrityError | None:
        """Save the batch in one transaction (nothing when a dry run). Returns
        the write conflict, if another writer recorded first."""
        if self.dry_run:
            self._known.update(self._batch_known)
            self._events, self._requests, self._batch_known = [], [], {}
            return None
        touched = [e for e in self._cache.values() if e.agg.pending_events]
        counts = [(e.agg, len(e.agg.pending_events)) for e in touched]
        if self._events or self._requests:
            for entry in touched:
                entry.agg.collect_events()
            conflict = save_batch_or_conflict(
                self.app, self._events, [e.agg for e in touched], self._requests
            )
            if conflict is not None:
                return conflict
        for entry in touched:
            entry.stored = entry.agg.version
        for agg, new_events in counts:
            if isinstance(agg, (Platform, Unit)):
                first = self._to_snapshot.get(agg.id, (agg, agg.version - new_events, 0))[1]
                self._to_snapshot[agg.id] = (agg, first, agg.version)
        self._events, self._requests, self._batch_known = [], [], {}
        self._known = {}  # what was recorded is in the request log now
        self._absent = set()
        if len(self._cache) > CACHE_LIMIT:
            self.take_snapshots()
            self._cache = {}
        return None

    def take_snapshots(self) -> None:
        """The snapshots the commands would have written (ledger.store.snapshots):
        one of each platform and unit whose saves this import took across a
        multiple of the interval, at its version as saved last — written once,
        after the batches, not after each one (a snapshot is a cache; an
        import killed before it leaves none, and commands replay the events).
        An aggregate changed since its last save (a refused batch) is skipped."""
        pending, self._to_snapshot = self._to_snapshot, {}
        if not self.use_snapshots or self.dry_run:
            return
        for agg, first, saved in pending.values():
            if agg.version != saved or agg.pending_events:
                continue
            if snapshots.crossed_interval(agg, saved - first):
                snapshots.save_snapshot(self._snapshot_conn, agg)

    def discard(self) -> None:
        """Forget the batch and every cached aggregate (after a conflict)."""
        self._cache = {}
        self._absent = set()
        self._events, self._requests, self._batch_known, self._known = [], [], {}, {}
        self._marks, self._returned = {}, set()
