"""The recording core of the application: `LedgerApp` (the event store, its
recorder the hash-chained one), the metadata every recording carries (actor,
effective date, today), and `ServiceCore._record` — one atomic save per
command, made idempotent by `--request-id` and retried a bounded number of
times on a write conflict. Library errors are translated in
:mod:`ledger.service.errors`."""

from __future__ import annotations

import hashlib
import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import JSONTranscoder

from aggregates.errors import (
    AlreadyExists,
    Conflict,
    InvalidInput,
    LedgerError,
    PlatformNotFound,
    UnitNotFound,
)
from aggregates.meta import Meta
from aggregates.platform import Platform, platform_id
from aggregates.policy import Policy
from aggregates.unit import Unit, unit_id
from aggregates.values import validate_credit_code, validate_platform_code
from aggregates.voucher import voucher_id
from ledger.clock import today
from ledger.log import get_logger
from ledger.policies import DEFAULT_POLICY_ID, load_policy
from ledger.service.errors import get_aggregate, opening_database, save_or_conflict
from ledger.store import db, snapshots
from ledger.store.chain import RequestRecord, lookup_request
from ledger.store.codec import DateAsISO

log = get_logger()

MAX_ATTEMPTS = 10
# the first retry waits up to this long (random), each next one up to twice as
# long, at most half a second
RETRY_BACKOFF_S = 0.02
# the programme new proposals follow when `ledger init` named none
DEFAULT_POLICY = DEFAULT_POLICY_ID


class LedgerApp(Application[UUID]):
    """The event-sourced application; its recorder is the hash-chained one."""

    name = "Ledger"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


@dataclass
class Result:
    """What a recording command recorded, for printing."""

    event: str
    code: str
    version: int
    id: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event, "code": self.code, "version": self.version}
        if self.id is not None:
            out["id"] = self.id
        out["recorded"] = self.events
        if self.warnings:
            out["warnings"] = self.warnings
        if self.replayed:
            out["replayed"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(
            event=data["event"],
            code=data["code"],
            version=data["version"],
            id=data.get("id"),
            events=list(data.get("recorded", [])),
            warnings=list(data.get("warnings", [])),
            replayed=True,
        )


def _canon(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value


def fingerprint(command: str, args: dict[str, Any]) -> str:
    blob = json.dumps(
        {"command": command, "args": _canon(args)}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def event_summary(agg: Aggregate, ev: Any) -> dict[str, Any]:
    kind = (
        "platform" if isinstance(agg, Platform) else "unit" if isinstance(agg, Unit) else "voucher"
    )
    code = getattr(agg, "code", None) or getattr(agg, "voucher", "")
    return {
        "aggregate": kind,
        "code": code,
        "version": ev.originator_version,
        "event": type(ev).__name__,
        "effective_on": ev.effective_on.isoformat() if hasattr(ev, "effective_on") else None,
        "basis": getattr(ev, "basis", None),
    }


class ServiceCore:
    """The recording core every area builds on: the store, loading, the
    metadata of a recording, and `_record` (one atomic save per command,
    idempotent under a request id, retried on a write conflict)."""

    def __init__(self, db_url: str, *, check_ready: bool = True) -> None:
        self.cfg = db.parse_db_url(db_url)
        if check_ready:
            db.ensure_ready(self.cfg)
        with opening_database(db_url):
            self.app = LedgerApp(env=db.app_environment(self.cfg))
        self.after_write: list[Callable[[], None]] = []
        # load platforms and units from snapshots (ledger.store.snapshots)
        self.use_snapshots = True

    def close(self) -> None:
        self.app.close()

    # --- settings ------------------------------------------------------------

    @property
    def default_policy(self) -> Policy:
        return load_policy(db.get_setting(self.cfg, "default_policy") or DEFAULT_POLICY)

    # --- loading --------------------------------------------------------------

    def platform(self, code: str) -> Platform:
        validate_platform_code(code)
        agg = self._load(platform_id(code), Platform, lambda: PlatformNotFound(code))
        if not isinstance(agg, Platform):  # pragma: no cover - ids are namespaced
            raise PlatformNotFound(code)
        return agg

    def unit(self, code: str) -> Unit:
        validate_credit_code(code)
        agg = self._load(unit_id(code), Unit, lambda: UnitNotFound(code))
        if not isinstance(agg, Unit):  # pragma: no cover
            raise UnitNotFound(code)
        return agg

    def _load(
        self, ident: UUID, cls: type[Aggregate], not_found: Callable[[], LedgerError]
    ) -> Aggregate:
        """The aggregate from its newest usable snapshot and the events after
        it (ledger.store.snapshots), else from all its events."""
        if self.use_snapshots:
            agg = snapshots.load(self._snapshot_conn, ident, cls, self._events_after)
            if agg is not None:
                return agg
        return get_aggregate(self.app, ident, not_found)

    def _events_after(self, ident: UUID, version: int) -> Iterator[Any]:
        events: Iterator[Any] = self.app.repository.event_store.get(ident, gt=version)
        return events

    def _snapshot_conn(self) -> AbstractContextManager[db.DbConnection]:
        """A connection for the snapshots: the application's own (PostgreSQL:
        from its pool, autocommit), or a short SQLite one."""
        if self.cfg.backend == "postgresql":
            return cast(
                "AbstractContextManager[db.DbConnection]",
                self.app.recorder.datastore.get_connection(),  # type: ignore[attr-defined]
            )
        return db.connect(self.cfg)

    def _take_snapshots(self, saved: list[tuple[Aggregate, int]]) -> None:
        """Snapshot the platforms and units a save took across a multiple of
        the interval (after the save, in a transaction of their own)."""
        for agg, new_events in saved:
            if isinstance(agg, (Platform, Unit)) and snapshots.crossed_interval(agg, new_events):
                snapshots.save_snapshot(self._snapshot_conn, agg)

    def exists(self, ident: UUID) -> bool:
        return bool(self.app.recorder.select_events(ident, limit=1))

    # --- the recording machinery ---------------------------------------------------

    def meta(
        self,
        actor: str | None,
        on: date | None,
        *,
        doc_no: str | None = None,
        reason: str | None = None,
        basis: str | None = None,
        need_doc: bool = False,
        need_reason: bool = False,
    ) -> Meta:
        if not actor or not actor.strip():
            raise InvalidInput(
                "an actor is required to record: give --actor NAME or set LEDGER_ACTOR"
            )
        now = today()
        effective = on or now
        if effective > now:
            raise InvalidInput(f"the effective date {effective} is after today ({now})")
        if need_doc and not (doc_no and doc_no.strip()):
            raise InvalidInput("a document number is required (--doc-no)")
        if need_reason and not (reason and reason.strip()):
            raise InvalidInput("a reason is required (--reason)")
        return Meta(
            actor=actor.strip(),
            effective_on=effective,
            doc_no=doc_no,
            reason=reason,
            basis=basis,
            defaulted=on is None,
        )

    def _record(
        self,
        command: str,
        args: dict[str, Any],
        request_id: str | None,
        work: Callable[[], tuple[list[Aggregate], Result]],
    ) -> Result:
        fp = fingerprint(command, args)
        if request_id is not None:
            if not request_id.strip():
                raise InvalidInput("--request-id is empty")
            replay = self._replay(request_id, fp)
            if replay is not None:
                return replay
        for attempt in range(1, MAX_ATTEMPTS + 1):
            try:
                aggregates, result = work()
            except LedgerError:
                # The same request may have been recorded by a twin started at the
                # same moment, after our first look: its events now refuse ours
                # ("voucher already used"). The request log decides, not the rule.
                if request_id is not None:
                    replay = self._replay(request_id, fp)
                    if replay is not None:
                        return replay
                raise
            pending = [(agg, ev) for agg in aggregates for ev in agg.pending_events]
            result.events = [event_summary(agg, ev) for agg, ev in pending]
            request = (
                RequestRecord(request_id, fp, json.dumps(result.as_json(), ensure_ascii=False))
                if request_id is not None
                else None
            )
            counts = [(agg, len(agg.pending_events)) for agg in aggregates]
            conflict = save_or_conflict(self.app, aggregates, request)
            if conflict is not None:
                if request_id is not None:
                    replay = self._replay(request_id, fp)
                    if replay is not None:
                        return replay
                self._raise_if_voucher_taken(command, args)
                # routine under concurrent writers: said with -v, not on every
                # run's stderr (a refusal is one line; a success says nothing)
                log.info(
                    "concurrent write; retrying",
                    command=command,
                    attempt=attempt,
                    error=str(conflict),
                )
                # back off with jitter, so writers racing on one aggregate spread out
                time.sleep(random.uniform(0, min(0.5, RETRY_BACKOFF_S * 2 ** (attempt - 1))))
                continue
            log.info("recorded", command=command, recorded=result.event, code=result.code)
            if self.use_snapshots:
                self._take_snapshots(counts)
            for hook in self.after_write:
                hook()
            return result
        raise Conflict(
            f"{command}: other writers kept changing the same records; gave up after "
            f"{MAX_ATTEMPTS} attempts, nothing was recorded — try again"
        )

    def _replay(self, request_id: str, fp: str) -> Result | None:
        prior = lookup_request(self.cfg, request_id)
        if prior is None:
            return None
        prior_fp, prior_result = prior
        if prior_fp != fp:
            raise Conflict(
                f"request id {request_id} was already used for a different command or arguments; "
                "nothing was recorded"
            )
        return Result.from_json(json.loads(prior_result))

    def _raise_if_voucher_taken(self, command: str, args: dict[str, Any]) -> None:
        if command == "funds disburse" and self.exists(voucher_id(str(args["voucher"]))):
            raise AlreadyExists(
                f"voucher {args['voucher']} is already used (one voucher, one payment, ledger-wide)"
            )

    def _simple(
        self,
        command: str,
        code: str,
        event: str,
        meta: Meta,
        request_id: str | None,
        extra: dict[str, Any],
        action: Callable[[Platform], list[Aggregate]],
        warnings: list[str] | None = None,
    ) -> Result:
        """``warnings``: filled by ``action`` on each attempt, printed with the result."""
        args = {"code": code, "meta": meta.fingerprint(), **extra}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            touched = [plat, *action(plat)]
            return touched, Result(event, code, plat.version, warnings=list(warnings or []))

        return self._record(command, args, request_id, work)

    # --- reading every event (for replays, exports and read-model rebuilds) -----------------

    def all_codes(self) -> Iterator[tuple[str, Any]]:
        """Every notification in order, decoded: (topic, domain event)."""
        start = 1
        while True:
            batch = self.app.recorder.select_notifications(start, 500)
            if not batch:
                return
            for n in batch:
                yield n.topic, self.app.mapper.to_domain_event(n)
            start = batch[-1].id + 1


def _only(action: Callable[[Platform], None]) -> Callable[[Platform], list[Aggregate]]:
    """An action on the platform alone (no other aggregate touched)."""

    def run(p: Platform) -> list[Aggregate]:
        action(p)
        return []

    return run
