"""Catch-up of the read models, their status, and the read transaction.

Catch-up reads the events after the lowest tracked position (joined with
``event_chain`` for their ``seq``), decodes them with the ledger's event
mapper (``ledger.store.codec``; no application is built to read), runs every
projection whose position is behind, and records the new positions, all in
one transaction per batch. Two processes catching up at once serialise on a
lock taken before the positions are (re-)read inside the transaction
(PostgreSQL: EXCLUSIVE on ``ledger_catchup_lock``; SQLite: ``BEGIN
IMMEDIATE``), so nothing is applied twice; a process killed mid-batch leaves
the previous commit, from which the next catch-up resumes. The catch-up after
a write never waits for that lock: when another process holds it, that process
applies the write (or the next command does).

Each model applies a batch inside its own savepoint: a model whose rows are
ahead of its tracking position (a tampered ``rm_tracking``) fails on a unique
key, is rolled back alone, and is reported as inconsistent; the others go on.

The rebuild (``projections.rebuild``) and the verify (``projections.verify``)
replay events through the same ``apply_batch``.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import singledispatchmethod
from typing import Any, Protocol, runtime_checkable
from uuid import UUID

from eventsourcing.persistence import Mapper, StoredEvent, Tracking
from eventsourcing.projection import Projection

from aggregates.errors import TamperDetected
from ledger.store.codec import event_mapper
from ledger.store.db import (
    DbConfig,
    DbConnection,
    connect,
    execute,
    fetchall,
    fetchone,
    pg_connect,
    pg_error,
    sqlite_connect,
)
from projections.base import (
    ALL_TABLES,
    MODEL_TABLES,
    CatchUpResult,
    RowMissing,
    ledger_head,
    positions,
    reading,
)
from projections.handlers.changes import ChangeProjection
from projections.handlers.compliance import ComplianceProjection
from projections.handlers.funds import FundsProjection
from projections.handlers.history import HistoryProjection
from projections.handlers.platforms import PlatformProjection
from projections.handlers.registry import RegistryProjection
from projections.handlers.units import UnitProjection
from projections.trusted import ChainGuard, chain_columns, mark_broken, refuse_if_untrusted
from projections.view import ReadModelView

# The read models, in the order they run on each batch (the registry first:
# the others look codes up in it).
PROJECTION_CLASSES: tuple[type[Projection[ReadModelView]], ...] = (
    RegistryProjection,
    PlatformProjection,
    UnitProjection,
    FundsProjection,
    ChangeProjection,
    HistoryProjection,
    ComplianceProjection,
)
MODEL_NAMES: tuple[str, ...] = tuple(c.name for c in PROJECTION_CLASSES)
BATCH_SIZE = 500
# The lock serialising catch-ups (migration 0120's empty table).
PG_CATCHUP_LOCK = "LOCK TABLE ledger_catchup_lock IN EXCLUSIVE MODE"
# How long a query's catch-up waits for that lock (it is held for one batch,
# or a rebuild's swap) before answering from the models as they are.
PG_READ_LOCK_TIMEOUT = "30s"
# How long the catch-up after a write waits for the SQLite write lock.
SQLITE_AFTER_WRITE_BUSY_MS = 2000

EventHook = Callable[[int], None]

def _inconsistent() -> tuple[type[Exception], ...]:
    """What a model ahead of its tracking position raises while applying."""
    return (sqlite3.IntegrityError, pg_error("IntegrityError"), RowMissing)


def mapper_of(target: Any) -> tuple[DbConfig, Mapper[UUID]]:
    """(cfg, event mapper) of a LedgerService (or anything with ``cfg`` and
    ``app``: its application's mapper), or of a DbConfig (the ledger's event
    mapper; no application is built)."""
    if isinstance(target, DbConfig):
        return target, event_mapper()
    return target.cfg, target.app.mapper


def _select_events(cfg: DbConfig) -> str:
    nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
    return (
        f"SELECT e.{nid} AS nid, e.originator_id, e.originator_version, e.topic, e.state, "
        f"c.seq, {chain_columns(nid)} FROM ledger_events e "
        f"LEFT JOIN event_chain c ON c.notification_id = e.{nid} "
        f"WHERE e.{nid} > ? ORDER BY e.{nid} LIMIT ?"
    )


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _is_busy(e: sqlite3.OperationalError) -> bool:
    text = str(e).lower()
    return "locked" in text or "busy" in text


@contextmanager
def locked_writer(cfg: DbConfig, *, wait: bool) -> Iterator[DbConnection | None]:
    """A write transaction holding the catch-up lock (committed on a normal
    exit), or None when another process holds it: at once when `wait` is
    false, else after a bounded wait (PostgreSQL: PG_READ_LOCK_TIMEOUT;
    SQLite: the busy timeout, short when not waiting)."""
    if cfg.backend == "sqlite":
        sconn = sqlite_connect(cfg)
        try:
            if not wait:
                sconn.execute(f"PRAGMA busy_timeout = {SQLITE_AFTER_WRITE_BUSY_MS}")
            try:
                sconn.execute("BEGIN IMMEDIATE")
            except sqlite3.OperationalError as e:
                if not _is_busy(e):
                    raise
                got: DbConnection | None = None
            else:
                got = sconn
            if got is None:
                yield None
                return
            try:
                yield sconn
            except BaseException:
                sconn.rollback()
                raise
            sconn.commit()
        finally:
            sconn.close()
        return
    pconn = pg_connect(cfg)
    try:
        ok = True
        try:
            # Not an advisory lock (any login may take one, and so stall every
            # catch-up): EXCLUSIVE on ledger_catchup_lock, a mode only a login
            # with UPDATE on it (the owner, ledger_projectors) can take.
            if wait:
                execute(pconn, f"SET LOCAL lock_timeout = '{PG_READ_LOCK_TIMEOUT}'")
                execute(pconn, PG_CATCHUP_LOCK)
                execute(pconn, "SET LOCAL lock_timeout = DEFAULT")
            else:
                execute(pconn, PG_CATCHUP_LOCK + " NOWAIT")
        except pg_error("LockNotAvailable"):
            ok = False
        if not ok:
            pconn.rollback()
            yield None
            return
        try:
            yield pconn
        except BaseException:
            pconn.rollback()
            raise
        pconn.commit()
    finally:
        pconn.close()


@contextmanager
def guarded(cfg: DbConfig) -> Iterator[None]:
    """A chain break found inside (TamperDetected) is kept in the verified
    head, in a transaction of its own (the failing one is rolled back), so
    every later query refuses too; then re-raised."""
    try:
        yield
    except TamperDetected as e:
        try:
            with locked_writer(cfg, wait=True) as conn:
                if conn is not None:
                    mark_broken(conn, str(e).split("; run ")[0])
        except Exception:
            pass
        raise


def can_write(cfg: DbConfig) -> bool:
    """Whether this connection may write the read models (not a read-only
    role / file, nor a hot standby)."""
    if cfg.backend == "sqlite":
        path = cfg.sqlite_abspath
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    with connect(cfg) as conn:
        row = fetchone(
            conn,
            "SELECT has_table_privilege('rm_tracking', 'INSERT') "
            "AND has_table_privilege('rm_tracking', 'UPDATE') "
            "AND has_table_privilege('rm_history', 'INSERT') "
            "AND has_table_privilege('ledger_catchup_lock', 'UPDATE') "
            # a hot standby (streaming replica) answers queries, never writes
            "AND NOT pg_is_in_recovery() AS ok",
        )
    return bool(row and row["ok"])


@runtime_checkable
class BatchRows(Protocol):
    """A projection that keeps rows across a batch's events (a write-back
    cache: reads served from it, one write per row at the end)."""

    def begin_batch(self) -> None:
        """Forget what was kept (a batch starts, or was rolled back)."""

    def end_batch(self) -> None:
        """Write what was kept (before the batch's tracking position)."""


Handler = Callable[[Any, Any, Tracking], None]
_HANDLERS: dict[tuple[type[Any], type[Any]], Handler | None] = {}


def handler_of(projection: Projection[ReadModelView], event_type: type[Any]) -> Handler | None:
    """The function a projection's ``process_event`` dispatches an event type
    to, called as ``handler(projection, event, tracking)``; None for its
    default (every model's default ignores the event). Looked up once per
    (model, event type): the bound singledispatchmethod is rebuilt on every
    attribute access, and a rebuild offers every event to seven models."""
    key = (type(projection), event_type)
    try:
        return _HANDLERS[key]
    except KeyError:
        pass
    found: Handler | None = None
    for klass in type(projection).__mro__:
        method = klass.__dict__.get("process_event")
        if method is None:
            continue
        if isinstance(method, singledispatchmethod):
            dispatcher = method.dispatcher
            func = dispatcher.dispatch(event_type)
            found = None if func is dispatcher.dispatch(object) else func
        else:
            found = method
        break
    _HANDLERS[key] = found
    return found


def model_projections(view: ReadModelView) -> list[Projection[ReadModelView]]:
    return [cls(view) for cls in PROJECTION_CLASSES]


def apply_batch(
    conn: DbConnection,
    cfg: DbConfig,
    mapper: Mapper[UUID],
    view: ReadModelView,
    projections: Sequence[Projection[ReadModelView]],
    pos: dict[str, int],
    *,
    batch_size: int,
    upto: dict[str, int] | None = None,
    events_conn: DbConnection | None = None,
    hook: EventHook | None = None,
    broken: dict[str, str] | None = None,
    chain: ChainGuard | None = None,
) -> int:
    """Apply the next batch of events to every projection behind, each model
    in its own savepoint, and record the positions (in `conn`'s transaction).
    A model that finds its rows ahead of its position (a unique key already
    taken, a row it expects missing) is rolled back alone and named in
    `broken` with the reason; it is skipped from then on. Returns the number
    of events read. With `chain`, every event read is first checked against
    the hash chain (projections.trusted): a break raises TamperDetected."""
    broken = {} if broken is None else broken
    active = [p for p in projections if p.name not in broken]
    if not active:
        return 0
    start = min(pos[p.name] for p in active)
    rows = fetchall(events_conn or conn, _select_events(cfg), (start, batch_size))
    if not rows:
        return 0
    if chain is not None:
        chain.check(events_conn or conn, rows)
    events: list[tuple[int, int, Any]] = []
    for r in rows:
        nid = int(r["nid"])
        if r["seq"] is None:
            raise TamperDetected(
                f"event {nid} has no event_chain row: the ledger was altered or a write "
                "was cut short; run `ledger audit verify`"
            )
        try:
            stored = StoredEvent(
                originator_id=UUID(str(r["originator_id"])),
                originator_version=int(r["originator_version"]),
                topic=str(r["topic"]),
                state=bytes(r["state"]),
            )
            event = mapper.to_domain_event(stored)
        except Exception as e:
            # what the application recorded always reads back: this was altered
            raise TamperDetected(
                f"stored event {nid} (chain seq {r['seq']}) cannot be read "
                f"({type(e).__name__}: {_first_line(e)}); the ledger may have been "
                "altered: run `ledger audit verify`"
            ) from None
        events.append((nid, int(r["seq"]), event))
        if hook is not None:
            hook(nid)
    last = events[-1][0]
    view.bind(conn)
    try:
        for p in active:
            lo = pos[p.name]
            hi = last if upto is None else min(last, upto[p.name])
            if lo >= hi:
                continue
            execute(conn, "SAVEPOINT rm_model")
            name = p.name
            batch_rows = p if isinstance(p, BatchRows) else None
            try:
                if batch_rows is not None:
                    batch_rows.begin_batch()
                for nid, seq, event in events:
                    if lo < nid <= hi:
                        handler = handler_of(p, type(event))
                        if handler is not None:
                            view.seq, view.notification_id = seq, nid
                            handler(p, event, Tracking(name, nid))
                if batch_rows is not None:
                    batch_rows.end_batch()
                p.view.insert_tracking(Tracking(name, hi))
            except _inconsistent() as e:
                view.discard()
                if batch_rows is not None:
                    batch_rows.begin_batch()  # (drops what it kept)
                execute(conn, "ROLLBACK TO SAVEPOINT rm_model")
                execute(conn, "RELEASE SAVEPOINT rm_model")
                broken[p.name] = (
                    f"its rows are ahead of its tracking position {lo} "
                    f"(applying the events after it: {_first_line(e)})"
                )
                continue
            execute(conn, "RELEASE SAVEPOINT rm_model")
            pos[p.name] = hi
    finally:
        view.bind(None)
    return len(rows)


def show_progress(show: bool, text: str) -> None:
    if show:
        print(f"\r{text}", end="", file=sys.stderr, flush=True)


def catch_up(
    target: Any,
    *,
    batch_size: int = BATCH_SIZE,
    hook: EventHook | None = None,
    wait: bool = True,
    progress: bool = False,
) -> CatchUpResult:
    """Bring every read model up to the ledger's head. Skipped (read_only)
    when this connection may not write; the caller warns if they lag. With
    `wait` false (after a write) it does nothing (busy) when another process
    holds the catch-up lock. Progress on stderr when `progress`."""
    cfg = target if isinstance(target, DbConfig) else target.cfg
    mapper: Mapper[UUID] | None = None if isinstance(target, DbConfig) else target.app.mapper
    shown = False
    try:
        result = CatchUpResult()
        with connect(cfg) as conn:
            refuse_if_untrusted(conn)
            result.position = min(positions(conn, MODEL_NAMES).values())
            result.head = ledger_head(conn)
        if result.position >= result.head:
            return result
        if not can_write(cfg):
            result.read_only = True
            return result
        if mapper is None:
            mapper = event_mapper()
        view = ReadModelView()
        projections = model_projections(view)
        while True:
            with guarded(cfg), locked_writer(cfg, wait=wait) as conn:
                if conn is None:
                    result.busy = True
                    return result
                pos = positions(conn, MODEL_NAMES)
                guard = ChainGuard.load(conn)
                n = apply_batch(
                    conn,
                    cfg,
                    mapper,
                    view,
                    projections,
                    pos,
                    batch_size=batch_size,
                    hook=hook,
                    broken=result.inconsistent,
                    chain=guard,
                )
                guard.finish(conn)
                guard.save(conn)
                result.position = min(pos.values())
                result.head = ledger_head(conn)
            result.applied += n
            if n == 0:
                return result
            shown = progress
            show_progress(progress, f"catching up the read models: {result.position}/{result.head}")
    finally:
        if shown:
            print(file=sys.stderr)


# --- status --------------------------------------------------------------------------------


def status(cfg: DbConfig) -> list[dict[str, Any]]:
    """Position, head and lag of each read model, in events (seq numbers)."""
    with connect(cfg) as conn:
        pos = positions(conn, MODEL_NAMES)
        head_nid = ledger_head(conn)
        head_seq = _seq_of(conn, head_nid)
        out = []
        for name in MODEL_NAMES:
            seq = _seq_of(conn, pos[name])
            out.append(
                {
                    "model": name,
                    "position": seq,
                    "head": head_seq,
                    "lag": max(0, head_seq - seq),
                    "notification_id": pos[name],
                    "tables": list(MODEL_TABLES[name]),
                }
            )
    return out


SEQ_OF_SQL = (
    "SELECT seq FROM event_chain WHERE notification_id <= ? ORDER BY notification_id DESC LIMIT 1"
)


def _seq_of(conn: DbConnection, notification_id: int) -> int:
    """The seq of the newest event at or before a notification id: one probe
    down the notification_id index (not a walk back over the lag)."""
    if notification_id <= 0:
        return 0
    row = fetchone(conn, SEQ_OF_SQL, (notification_id,))
    return int(row["seq"]) if row and row["seq"] is not None else 0


__all__ = [
    "ALL_TABLES",
    "BATCH_SIZE",
    "MODEL_NAMES",
    "PG_CATCHUP_LOCK",
    "PROJECTION_CLASSES",
    "CatchUpResult",
    "EventHook",
    "apply_batch",
    "can_write",
    "catch_up",
    "guarded",
    "ledger_head",
    "locked_writer",
    "mapper_of",
    "model_projections",
    "reading",
    "show_progress",
    "status",
]
