"""``ledger projections follow``: the catch-up worker.

Clerks and auditors may only SELECT the read models (docs/AUDIT.md §13), so
something with the owner's rights keeps them current: this worker, run by
the owner or a member of ``ledger_projectors``. On PostgreSQL it LISTENs on
``ledger_chain`` (NOTIFYed by the chain trigger, migration 0120, in the
recording transaction, so delivered at its commit) and catches up on each
notification; it also catches up every ``poll`` seconds in case one was
missed. SQLite has no notifications: it polls. Each catch-up is bounded (one
batch per transaction, under the catch-up lock); SIGTERM or SIGINT stops the
worker between catch-ups. A chain break (TamperDetected) stops it too.
"""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import Any

from aggregates.errors import LedgerError
from ledger.store.db import DbConfig, pg_connect
from projections.runner import CatchUpResult, can_write, catch_up

CHANNEL = "ledger_chain"
# The worker's listening session is named so (pg_stat_activity.application_name,
# which every login may read): a query that may not catch up waits for the
# worker only when one is connected.
WORKER_APPLICATION = "ledger projections follow"
# SQLite has no sessions to look at: the worker catches up at least every 0.5 s,
# so a read-only query stops waiting when the models have not moved for this long.
SQLITE_NO_PROGRESS_S = 1.0


class NotPermitted(LedgerError):
    """This login may not write the read models (exit 1, like a refused privilege)."""


def follow(
    cfg: DbConfig,
    *,
    poll: float = 5.0,
    idle_exit: float | None = None,
    on_catch_up: Callable[[CatchUpResult], None] | None = None,
    stop: threading.Event | None = None,
) -> int:
    """Keep the read models at the ledger's head until stopped (SIGTERM /
    SIGINT, ``stop`` set, or ``idle_exit`` seconds without a new event).
    Returns the number of events applied."""
    if not can_write(cfg):
        raise NotPermitted(
            "this login may not write the read models: run `ledger projections follow` "
            "as the database owner or a member of ledger_projectors"
        )
    stop = stop or threading.Event()
    previous: dict[signal.Signals, Any] = {}

    def handle(signum: int, frame: FrameType | None) -> None:
        del frame
        stop.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            previous[sig] = signal.signal(sig, handle)
    applied = 0
    last_event = time.monotonic()
    try:
        listener = (
            None
            if cfg.backend == "sqlite"
            else pg_connect(cfg, autocommit=True, application_name=WORKER_APPLICATION)
        )
        try:
            if listener is not None:
                listener.execute(f"LISTEN {CHANNEL}")
            while not stop.is_set():
                result = catch_up(cfg, wait=True)
                applied += result.applied
                if result.applied:
                    last_event = time.monotonic()
                if on_catch_up is not None:
                    on_catch_up(result)
                if idle_exit is not None and time.monotonic() - last_event >= idle_exit:
                    break
                wait = poll if idle_exit is None else min(poll, idle_exit)
                if listener is None:
                    stop.wait(min(wait, 0.5))
                    continue
                # wake on the first notification (or after `wait`, or every
                # 0.5 s to see a stop request); drain the rest at once
                deadline = time.monotonic() + wait
                while not stop.is_set() and time.monotonic() < deadline:
                    got = list(listener.notifies(timeout=0.5, stop_after=1))
                    if got:
                        list(listener.notifies(timeout=0.0))
                        break
        finally:
            if listener is not None:
                listener.close()
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return applied


def worker_connected(cfg: DbConfig) -> bool:
    """Whether a catch-up worker (``projections follow``) is connected to this
    PostgreSQL database: its listening session, by name."""
    from ledger.store.db import connect, fetchone

    with connect(cfg) as conn:
        row = fetchone(
            conn,
            "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = ? AND pid <> pg_backend_pid()) AS up",
            (WORKER_APPLICATION,),
        )
    return bool(row and row["up"])


def wait_for_head(cfg: DbConfig, result: CatchUpResult, seconds: float = 2.0) -> CatchUpResult:
    """A login that may not catch up (read-only) waits up to ``seconds`` for the
    worker to bring the read models to the head; the result as it then is. No
    wait when no worker is there to wait for: on PostgreSQL, none connected
    (``worker_connected``); on SQLite, the models still for
    ``SQLITE_NO_PROGRESS_S`` (the worker polls at least twice as often)."""
    from ledger.store.db import connect
    from projections.base import MODEL_TABLES, ledger_head, positions

    if not result.lag or (cfg.backend != "sqlite" and not worker_connected(cfg)):
        return result
    started = time.monotonic()
    deadline = started + seconds
    moved_at, last = started, result.position
    while result.lag and time.monotonic() < deadline:
        time.sleep(0.1)
        with connect(cfg) as conn:
            result.position = min(positions(conn, tuple(MODEL_TABLES)).values())
            result.head = ledger_head(conn)
        now = time.monotonic()
        if result.position != last:
            moved_at, last = now, result.position
        elif cfg.backend == "sqlite" and now - moved_at >= SQLITE_NO_PROGRESS_S:
            break
    return result


__all__ = [
    "CHANNEL",
    "WORKER_APPLICATION",
    "NotPermitted",
    "follow",
    "wait_for_head",
    "worker_connected",
]
