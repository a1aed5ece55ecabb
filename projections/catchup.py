"""Catch-up, rebuild, status and verify of the read models.

Catch-up reads the events after the lowest tracked position (joined with
``event_chain`` for their ``seq``), decodes them with the application's
mapper, runs every projection whose position is behind, and records the new
positions, all in one transaction per batch. Two processes catching up at once
serialise on a lock taken before the positions are (re-)read inside the
transaction (PostgreSQL: a transaction-level advisory lock; SQLite: ``BEGIN
IMMEDIATE``), so nothing is applied twice; a process killed mid-batch leaves
the previous commit, from which the next catch-up resumes.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from uuid import UUID

from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.projection import Projection

from ledger.db import (
    DbConfig,
    DbConnection,
    connect,
    execute,
    fetchall,
    fetchone,
    split_sqlite_script,
)
from projections.base import (
    MODEL_TABLES,
    MONEY_COLUMNS,
    TABLE_KEYS,
    ReadModelView,
    money_from_db,
    positions,
    set_position,
)
from projections.changes import ChangeProjection
from projections.compliance import ComplianceProjection
from projections.funds import FundsProjection
from projections.history import HistoryProjection
from projections.platforms import PlatformProjection
from projections.registry import RegistryProjection
from projections.units import UnitProjection

# The read models, in the order they run on each event (the registry first:
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
# pg_advisory_xact_lock key serialising catch-ups: the bytes of "rmodel".
PG_CATCHUP_LOCK_KEY = int.from_bytes(b"rmodel", "big")

EventHook = Callable[[int], None]


@dataclass
class CatchUpResult:
    applied: int = 0
    position: int = 0  # lowest notification id every model has applied
    head: int = 0  # newest notification id in the ledger
    read_only: bool = False

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


def _make_app(cfg: DbConfig) -> Any:
    from ledger import db
    from ledger.app import LedgerApp

    return LedgerApp(env=db.app_environment(cfg))


def _app_of(target: Any) -> tuple[DbConfig, Any, bool]:
    """(cfg, LedgerApp, whether we made the app) of a LedgerService (or
    anything with ``cfg`` and ``app``), or a DbConfig."""
    if isinstance(target, DbConfig):
        return target, _make_app(target), True
    return target.cfg, target.app, False


def _select_events(cfg: DbConfig) -> str:
    nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
    return (
        f"SELECT e.{nid} AS nid, e.originator_id, e.originator_version, e.topic, e.state, "
        f"c.seq FROM ledger_events e LEFT JOIN event_chain c ON c.notification_id = e.{nid} "
        f"WHERE e.{nid} > ? ORDER BY e.{nid} LIMIT ?"
    )


def _head(conn: DbConnection) -> int:
    row = fetchone(conn, "SELECT MAX(notification_id) AS n FROM event_chain")
    return int(row["n"]) if row and row["n"] is not None else 0


def _lock(conn: DbConnection) -> None:
    if not isinstance(conn, sqlite3.Connection):
        execute(conn, "SELECT pg_advisory_xact_lock(?)", (PG_CATCHUP_LOCK_KEY,))


def can_write(cfg: DbConfig) -> bool:
    """Whether this connection may write the read models (not a read-only role / file)."""
    if cfg.backend == "sqlite":
        path = cfg.sqlite_abspath
        return os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
    with connect(cfg) as conn:
        row = fetchone(
            conn,
            "SELECT has_table_privilege('rm_tracking', 'INSERT') "
            "AND has_table_privilege('rm_tracking', 'UPDATE') "
            "AND has_table_privilege('rm_history', 'INSERT') AS ok",
        )
    return bool(row and row["ok"])


def _projections(view: ReadModelView) -> list[Projection[ReadModelView]]:
    return [cls(view) for cls in PROJECTION_CLASSES]


def _apply_batch(
    conn: DbConnection,
    cfg: DbConfig,
    app: Any,
    view: ReadModelView,
    projections: Sequence[Projection[ReadModelView]],
    pos: dict[str, int],
    *,
    batch_size: int,
    upto: dict[str, int] | None = None,
    events_conn: DbConnection | None = None,
    hook: EventHook | None = None,
) -> int:
    """Apply the next batch of events to every projection behind; record the
    positions (in `conn`'s transaction). Returns the number of events read."""
    start = min(pos.values())
    rows = fetchall(events_conn or conn, _select_events(cfg), (start, batch_size))
    if not rows:
        return 0
    view.bind(conn)
    try:
        for r in rows:
            nid = int(r["nid"])
            if r["seq"] is None:
                raise RuntimeError(f"event {nid} has no event_chain row; run `ledger audit verify`")
            stored = StoredEvent(
                originator_id=UUID(str(r["originator_id"])),
                originator_version=int(r["originator_version"]),
                topic=str(r["topic"]),
                state=bytes(r["state"]),
            )
            event = app.mapper.to_domain_event(stored)
            view.seq, view.notification_id = int(r["seq"]), nid
            for p in projections:
                if pos[p.name] < nid and (upto is None or nid <= upto[p.name]):
                    p.process_event(event, Tracking(p.name, nid))
            if hook is not None:
                hook(nid)
        last = int(rows[-1]["nid"])
        for p in projections:
            target = last if upto is None else min(last, upto[p.name])
            if pos[p.name] < target:
                p.view.insert_tracking(Tracking(p.name, target))
                pos[p.name] = target
    finally:
        view.bind(None)
    return len(rows)


def catch_up(
    target: Any, *, batch_size: int = BATCH_SIZE, hook: EventHook | None = None
) -> CatchUpResult:
    """Bring every read model up to the ledger's head. Skipped (read_only)
    when this connection may not write; the caller warns if they lag."""
    if isinstance(target, DbConfig):
        cfg, app, owned = target, None, False
    else:
        cfg, app, owned = target.cfg, target.app, False
    try:
        result = CatchUpResult()
        with connect(cfg) as conn:
            result.position = min(positions(conn, MODEL_NAMES).values())
            result.head = _head(conn)
        if result.position >= result.head:
            return result
        if not can_write(cfg):
            result.read_only = True
            return result
        if app is None:
            app, owned = _make_app(cfg), True
        view = ReadModelView()
        projections = _projections(view)
        while True:
            with connect(cfg, write=True) as conn:
                _lock(conn)
                pos = positions(conn, MODEL_NAMES)
                n = _apply_batch(
                    conn, cfg, app, view, projections, pos, batch_size=batch_size, hook=hook
                )
                result.position = min(pos.values())
                result.head = _head(conn)
            result.applied += n
            if n == 0:
                return result
    finally:
        if owned and app is not None:
            app.close()


def rebuild(
    target: Any, *, batch_size: int = BATCH_SIZE, progress: bool | None = None
) -> CatchUpResult:
    """Empty every read-model table and replay every event, in one transaction
    (readers see the old models until it commits)."""
    cfg, app, owned = _app_of(target)
    show = sys.stderr.isatty() if progress is None else progress
    try:
        result = CatchUpResult()
        view = ReadModelView()
        projections = _projections(view)
        with connect(cfg, write=True) as conn:
            _lock(conn)
            for tables in MODEL_TABLES.values():
                for t in tables:
                    execute(conn, f"DELETE FROM {t}")
            for name in MODEL_NAMES:
                set_position(conn, name, 0)
            pos = dict.fromkeys(MODEL_NAMES, 0)
            head = _head(conn)
            while True:
                n = _apply_batch(conn, cfg, app, view, projections, pos, batch_size=batch_size)
                if n == 0:
                    break
                result.applied += n
                if show:
                    print(
                        f"\rrebuilding read models: {min(pos.values())}/{head}",
                        end="",
                        file=sys.stderr,
                        flush=True,
                    )
            result.position = min(pos.values())
            result.head = _head(conn)
        if show:
            print(file=sys.stderr)
        return result
    finally:
        if owned:
            app.close()


# --- status --------------------------------------------------------------------------------


def status(cfg: DbConfig) -> list[dict[str, Any]]:
    """Position, head and lag of each read model, in events (seq numbers)."""
    with connect(cfg) as conn:
        pos = positions(conn, MODEL_NAMES)
        head_nid = _head(conn)
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


def _seq_of(conn: DbConnection, notification_id: int) -> int:
    if notification_id <= 0:
        return 0
    row = fetchone(
        conn,
        "SELECT MAX(seq) AS s FROM event_chain WHERE notification_id <= ?",
        (notification_id,),
    )
    return int(row["s"]) if row and row["s"] is not None else 0


# --- reading -------------------------------------------------------------------------------


@contextmanager
def reading(cfg: DbConfig) -> Iterator[DbConnection]:
    """A read transaction over one consistent snapshot of the read models."""
    with connect(cfg) as conn:
        if not isinstance(conn, sqlite3.Connection):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield conn


# --- verify --------------------------------------------------------------------------------


@dataclass
class VerifyReport:
    differences: list[str] = field(default_factory=list)
    rows_compared: int = 0
    positions: dict[str, int] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.differences

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows_compared": self.rows_compared,
            "positions": self.positions,
            "differences": self.differences,
        }


def scratch_models() -> sqlite3.Connection:
    """An in-memory SQLite database with the read-model tables (no events)."""
    conn = sqlite3.connect(":memory:", isolation_level=None)
    conn.row_factory = sqlite3.Row
    for entry in sorted(resources.files("migrations.sqlite").iterdir(), key=lambda e: e.name):
        if entry.name.startswith("01") and entry.name.endswith(".sql"):
            for stmt in split_sqlite_script(entry.read_text(encoding="utf-8")):
                conn.execute(stmt)
    return conn


def verify(target: Any, *, batch_size: int = BATCH_SIZE) -> VerifyReport:
    """Rebuild every model aside (in memory), up to each live model's tracked
    position, and compare with the live tables row by row."""
    cfg, app, owned = _app_of(target)
    report = VerifyReport()
    try:
        with reading(cfg) as live:
            live_pos = positions(live, MODEL_NAMES)
            report.positions = dict(live_pos)
            scratch = scratch_models()
            view = ReadModelView()
            projections = _projections(view)
            pos = dict.fromkeys(MODEL_NAMES, 0)
            scratch.execute("BEGIN")
            while _apply_batch(
                scratch,
                cfg,
                app,
                view,
                projections,
                pos,
                batch_size=batch_size,
                upto=live_pos,
                events_conn=live,
            ):
                if all(pos[n] >= live_pos[n] for n in MODEL_NAMES):
                    break
            scratch.execute("COMMIT")
            for name, tables in MODEL_TABLES.items():
                for table in tables:
                    _compare(report, name, table, live, scratch)
            scratch.close()
    finally:
        if owned:
            app.close()
    return report


def _normal(conn: DbConnection, row: dict[str, Any]) -> dict[str, Any]:
    return {k: (money_from_db(conn, v) if k in MONEY_COLUMNS else v) for k, v in row.items()}


def _compare(
    report: VerifyReport,
    model: str,
    table: str,
    live: DbConnection,
    scratch: sqlite3.Connection,
) -> None:
    key = TABLE_KEYS[table]
    order = ", ".join(key)
    a = {
        tuple(r[k] for k in key): _normal(live, r)
        for r in fetchall(live, f"SELECT * FROM {table} ORDER BY {order}")
    }
    b = {
        tuple(r[k] for k in key): _normal(scratch, r)
        for r in fetchall(scratch, f"SELECT * FROM {table} ORDER BY {order}")
    }
    report.rows_compared += len(b)
    for k in sorted(set(a) | set(b), key=str):
        label = f"{model}: {table} {dict(zip(key, k, strict=True))}"
        if k not in a:
            report.differences.append(f"{label}: missing from the live table")
        elif k not in b:
            report.differences.append(f"{label}: in the live table but not in a rebuild")
        else:
            for col in b[k]:
                if a[k].get(col) != b[k][col]:
                    report.differences.append(
                        f"{label}: {col} is {a[k].get(col)!r}, a rebuild gives {b[k][col]!r}"
                    )


__all__ = [
    "MODEL_NAMES",
    "CatchUpResult",
    "VerifyReport",
    "can_write",
    "catch_up",
    "reading",
    "rebuild",
    "status",
    "verify",
]
