"""Catch-up, rebuild, status and verify of the read models.

Catch-up reads the events after the lowest tracked position (joined with
``event_chain`` for their ``seq``), decodes them with the application's
mapper, runs every projection whose position is behind, and records the new
positions, all in one transaction per batch. Two processes catching up at once
serialise on a lock taken before the positions are (re-)read inside the
transaction (PostgreSQL: a transaction-level advisory lock; SQLite: ``BEGIN
IMMEDIATE``), so nothing is applied twice; a process killed mid-batch leaves
the previous commit, from which the next catch-up resumes. The catch-up after
a write never waits for that lock: when another process holds it, that process
applies the write (or the next command does).

Each model applies a batch inside its own savepoint: a model whose rows are
ahead of its tracking position (a tampered ``rm_tracking``) fails on a unique
key, is rolled back alone, and is reported as inconsistent; the others go on.

A rebuild replays every event into shadow tables (``rmb_…``) in short
transactions while the live models keep answering and catching up, then swaps
the shadow tables in under the catch-up lock in one short transaction.
"""

from __future__ import annotations

import os
import re
import secrets
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import psycopg.errors
from eventsourcing.persistence import StoredEvent, Tracking
from eventsourcing.projection import Projection
from psycopg import sql as pgsql

from aggregates.errors import Conflict, TamperDetected
from ledger.store.db import (
    DbConfig,
    DbConnection,
    connect,
    execute,
    fetchall,
    fetchone,
    pg_connect,
    split_sqlite_script,
    sqlite_connect,
)
from projections.base import (
    INTEGER_KEYS,
    LIVE_PREFIX,
    MODEL_TABLES,
    MONEY_COLUMNS,
    TABLE_KEYS,
    TRACKING_TABLE,
    ReadModelView,
    RowMissing,
    money_from_db,
    positions,
    set_position,
    shadow_name,
)
from projections.changes import ChangeProjection
from projections.compliance import ComplianceProjection
from projections.funds import FundsProjection
from projections.history import HistoryProjection
from projections.platforms import PlatformProjection
from projections.registry import RegistryProjection
from projections.units import UnitProjection

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
ALL_TABLES: tuple[str, ...] = tuple(t for ts in MODEL_TABLES.values() for t in ts)
BATCH_SIZE = 500
# pg_advisory_xact_lock key serialising catch-ups: the bytes of "rmodel".
PG_CATCHUP_LOCK_KEY = int.from_bytes(b"rmodel", "big")
# How long a query's catch-up waits for that lock (it is held for one batch,
# or a rebuild's swap) before answering from the models as they are.
PG_READ_LOCK_TIMEOUT = "30s"
# How long the catch-up after a write waits for the SQLite write lock.
SQLITE_AFTER_WRITE_BUSY_MS = 2000

# Rebuild: shadow tables, the tables a swap replaced (SQLite: emptied in short
# transactions, then dropped), the twin-name suffix of their indexes, and the
# row in the shadow tracking table naming the rebuild that owns them.
SHADOW_PREFIX = "rmb_"
OLD_PREFIX = "rmo_"
INDEX_TWIN = "__r"
REBUILD_OWNER = "__rebuild__"
# A rebuild transaction's target length; on SQLite the rebuild then pauses for
# a share of that (at least 20 ms) so that a waiting writer, whose busy handler
# polls every <= 100 ms, gets the write lock within a few polls.
REBUILD_BATCH_SECONDS = 0.1
SQLITE_PAUSE_SHARE = 0.35
SQLITE_DROP_CHUNK = 5000
# PostgreSQL: the swap waits until no other session holds a live table, then
# at most this long for its locks (a reader may come in between), and
# retries, catching the shadow up again, for up to SWAP_PATIENCE_S.
PG_SWAP_LOCK_TIMEOUT = "1s"
SWAP_PATIENCE_S = 120.0

EventHook = Callable[[int], None]

_INCONSISTENT = (sqlite3.IntegrityError, psycopg.IntegrityError, RowMissing)


@dataclass
class CatchUpResult:
    applied: int = 0
    position: int = 0  # lowest notification id every model has applied
    head: int = 0  # newest notification id in the ledger
    read_only: bool = False
    busy: bool = False  # another process held the catch-up lock; nothing done here
    # model -> why it could not be caught up (rows ahead of its position)
    inconsistent: dict[str, str] = field(default_factory=dict)

    @property
    def lag(self) -> int:
        return max(0, self.head - self.position)


def _make_app(cfg: DbConfig) -> Any:
    from ledger.service import LedgerApp
    from ledger.store import db

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


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def _is_busy(e: sqlite3.OperationalError) -> bool:
    text = str(e).lower()
    return "locked" in text or "busy" in text


@contextmanager
def _writer(cfg: DbConfig, *, wait: bool) -> Iterator[DbConnection | None]:
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
            if wait:
                execute(pconn, f"SET LOCAL lock_timeout = '{PG_READ_LOCK_TIMEOUT}'")
                execute(pconn, "SELECT pg_advisory_xact_lock(?)", (PG_CATCHUP_LOCK_KEY,))
                execute(pconn, "SET LOCAL lock_timeout = DEFAULT")
            else:
                row = fetchone(
                    pconn, "SELECT pg_try_advisory_xact_lock(?) AS ok", (PG_CATCHUP_LOCK_KEY,)
                )
                ok = bool(row and row["ok"])
        except psycopg.errors.LockNotAvailable:
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
    broken: dict[str, str] | None = None,
) -> int:
    """Apply the next batch of events to every projection behind, each model
    in its own savepoint, and record the positions (in `conn`'s transaction).
    A model that finds its rows ahead of its position (a unique key already
    taken, a row it expects missing) is rolled back alone and named in
    `broken` with the reason; it is skipped from then on. Returns the number
    of events read."""
    broken = {} if broken is None else broken
    active = [p for p in projections if p.name not in broken]
    if not active:
        return 0
    start = min(pos[p.name] for p in active)
    rows = fetchall(events_conn or conn, _select_events(cfg), (start, batch_size))
    if not rows:
        return 0
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
            event = app.mapper.to_domain_event(stored)
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
            try:
                for nid, seq, event in events:
                    if lo < nid <= hi:
                        view.seq, view.notification_id = seq, nid
                        p.process_event(event, Tracking(p.name, nid))
                p.view.insert_tracking(Tracking(p.name, hi))
            except _INCONSISTENT as e:
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


def _progress(show: bool, text: str) -> None:
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
    if isinstance(target, DbConfig):
        cfg, app, owned = target, None, False
    else:
        cfg, app, owned = target.cfg, target.app, False
    shown = False
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
            with _writer(cfg, wait=wait) as conn:
                if conn is None:
                    result.busy = True
                    return result
                pos = positions(conn, MODEL_NAMES)
                n = _apply_batch(
                    conn,
                    cfg,
                    app,
                    view,
                    projections,
                    pos,
                    batch_size=batch_size,
                    hook=hook,
                    broken=result.inconsistent,
                )
                result.position = min(pos.values())
                result.head = _head(conn)
            result.applied += n
            if n == 0:
                return result
            shown = progress
            _progress(progress, f"catching up the read models: {result.position}/{result.head}")
    finally:
        if shown:
            print(file=sys.stderr)
        if owned and app is not None:
            app.close()


# --- rebuild -------------------------------------------------------------------------------


@contextmanager
def _session(cfg: DbConfig) -> Iterator[DbConnection]:
    """One connection for many short transactions (``_transaction``)."""
    conn: DbConnection = sqlite_connect(cfg) if cfg.backend == "sqlite" else pg_connect(cfg)
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _transaction(conn: DbConnection, *, write: bool) -> Iterator[DbConnection]:
    """One transaction on a session's connection: committed on a normal exit,
    rolled back on an exception (SQLite: BEGIN IMMEDIATE when `write`)."""
    if isinstance(conn, sqlite3.Connection):
        conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
    try:
        yield conn
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _twin(name: str) -> str:
    """The other name of an index (NAME <-> NAME__r)."""
    return name[: -len(INDEX_TWIN)] if name.endswith(INDEX_TWIN) else name + INDEX_TWIN


def _tables_with_prefix(conn: DbConnection, prefix: str) -> list[str]:
    pattern = prefix.replace("_", "\\_") + "%"
    if isinstance(conn, sqlite3.Connection):
        rows = fetchall(
            conn,
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE ? ESCAPE '\\'",
            (pattern,),
        )
        return _drop_order(str(r["name"]) for r in rows)
    rows = fetchall(
        conn,
        "SELECT tablename AS name FROM pg_tables WHERE schemaname = 'public' "
        "AND tablename LIKE ? ESCAPE '\\'",
        (pattern,),
    )
    return _drop_order(str(r["name"]) for r in rows)


def _drop_order(names: Iterable[str]) -> list[str]:
    """Table names in the order a rebuild drops them: a shadow tracking table
    first. A rebuild's batch reads its tracking table (``_own``) before it
    writes the others, so a second rebuild that drops the tracking table first
    waits for that batch instead of deadlocking with it."""
    return sorted(names, key=lambda t: (not t.endswith(TRACKING_TABLE[len("rm") :]), t))


def _drop_tables(cfg: DbConfig, prefixes: Sequence[str], pause: float = 0.0) -> None:
    """Drop every table with one of these prefixes (a rebuild's shadow or
    replaced tables). PostgreSQL drops them at once; SQLite, whose DROP TABLE
    frees every page in one transaction, first empties them in short ones."""
    with connect(cfg) as conn:
        tables = [t for p in prefixes for t in _tables_with_prefix(conn, p)]
    if cfg.backend != "sqlite":
        if tables:
            with connect(cfg, write=True) as conn:
                for t in tables:
                    execute(conn, f"DROP TABLE IF EXISTS {t}")
        return
    for t in tables:
        while True:
            with connect(cfg, write=True) as conn:
                if t not in _tables_with_prefix(conn, t):
                    break  # dropped meanwhile (a rebuild started at the same time)
                cur = execute(
                    conn,
                    f"DELETE FROM {t} WHERE rowid IN (SELECT rowid FROM {t} LIMIT ?)",
                    (SQLITE_DROP_CHUNK,),
                )
                done = cur.rowcount < SQLITE_DROP_CHUNK
            if done:
                break
            time.sleep(pause)
        with connect(cfg, write=True) as conn:
            execute(conn, f"DROP TABLE IF EXISTS {t}")


_SQLITE_TABLE = re.compile(r'^(CREATE\s+TABLE\s+)(?:IF\s+NOT\s+EXISTS\s+)?("?)(\w+)\2', re.I)
_SQLITE_INDEX = re.compile(
    r'^(CREATE\s+(?:UNIQUE\s+)?INDEX\s+)(?:IF\s+NOT\s+EXISTS\s+)?("?)(\w+)\2\s+ON\s+("?)(\w+)\4',
    re.I,
)
_PG_INDEX = re.compile(r"^(CREATE\s+(?:UNIQUE\s+)?INDEX\s+)(\S+)(\s+ON\s+(?:ONLY\s+)?)(\S+)")


def _create_shadow(conn: DbConnection, owner: int) -> None:
    """Empty shadow tables shaped as the live ones (columns, keys, indexes;
    on PostgreSQL also the live tables' grants), and the owner row."""
    for table in (*ALL_TABLES, TRACKING_TABLE):
        shadow = shadow_name(table, SHADOW_PREFIX)
        if isinstance(conn, sqlite3.Connection):
            _create_sqlite_shadow(conn, table, shadow)
        else:
            _create_pg_shadow(conn, table, shadow)
    set_position(conn, REBUILD_OWNER, owner, table=shadow_name(TRACKING_TABLE, SHADOW_PREFIX))


def _create_sqlite_shadow(conn: sqlite3.Connection, table: str, shadow: str) -> None:
    """The live table's own CREATE statements, renamed; each index under its
    twin name (SQLite cannot rename an index, and the live one keeps its name)."""

    def table_sql(m: re.Match[str]) -> str:
        return f"{m.group(1)}{shadow}"

    def index_sql(m: re.Match[str]) -> str:
        return f"{m.group(1)}{_twin(m.group(3))} ON {shadow}"

    row = fetchone(
        conn, "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
    )
    if row is None:
        raise RuntimeError(f"read-model table {table} is missing; run `ledger init`")
    execute(conn, _SQLITE_TABLE.sub(table_sql, str(row["sql"])))
    for ix in fetchall(
        conn,
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
        "AND sql IS NOT NULL",
        (table,),
    ):
        execute(conn, _SQLITE_INDEX.sub(index_sql, str(ix["sql"])))


def _create_pg_shadow(conn: psycopg.Connection[Any], table: str, shadow: str) -> None:
    execute(
        conn,
        f"CREATE TABLE {shadow} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS "
        "INCLUDING STORAGE)",
    )
    oid = f"public.{table}"
    for c in fetchall(
        conn,
        "SELECT conname, pg_get_constraintdef(oid) AS def FROM pg_constraint "
        "WHERE conrelid = ?::regclass AND contype IN ('p', 'u') ORDER BY conname",
        (oid,),
    ):
        execute(conn, f"ALTER TABLE {shadow} ADD CONSTRAINT {_twin(str(c['conname']))} {c['def']}")

    def index_sql(m: re.Match[str]) -> str:
        return f"{m.group(1)}{_twin(m.group(2))}{m.group(3)}public.{shadow}"

    for ix in fetchall(
        conn,
        "SELECT i.relname AS name, pg_get_indexdef(x.indexrelid) AS def FROM pg_index x "
        "JOIN pg_class i ON i.oid = x.indexrelid WHERE x.indrelid = ?::regclass "
        "AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid) "
        "ORDER BY i.relname",
        (oid,),
    ):
        execute(conn, _PG_INDEX.sub(index_sql, str(ix["def"])))
    for g in fetchall(
        conn,
        "SELECT CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee) END AS role, "
        "a.privilege_type FROM pg_class c, aclexplode(c.relacl) a "
        "WHERE c.oid = ?::regclass AND a.grantee <> c.relowner",
        (oid,),
    ):
        role = g["role"]
        grantee = pgsql.SQL("PUBLIC") if role is None else pgsql.Identifier(str(role))
        conn.execute(
            pgsql.SQL("GRANT {} ON {} TO {}").format(
                pgsql.SQL(str(g["privilege_type"])), pgsql.Identifier(shadow), grantee
            )
        )


def _wait_for_quiet_tables(cfg: DbConfig, deadline: float) -> None:
    """PostgreSQL: wait (polling, not queueing) until no other session holds a
    lock on a live read-model table, so that the swap's ACCESS EXCLUSIVE
    request does not wait in the lock queue behind a long reader, holding up
    every reader after it."""
    names = list(ALL_TABLES)
    marks = ", ".join("?" for _ in names)
    while time.monotonic() < deadline:
        with connect(cfg) as conn:
            busy = fetchone(
                conn,
                "SELECT 1 AS x FROM pg_locks l JOIN pg_class c ON c.oid = l.relation "
                f"WHERE c.relname IN ({marks}) AND l.pid <> pg_backend_pid() LIMIT 1",
                names,
            )
        if busy is None:
            return
        time.sleep(0.1)


def _own(conn: DbConnection, owner: int) -> None:
    """Refuse to go on when another rebuild has replaced this one's shadow tables."""
    try:
        row = fetchone(
            conn,
            f"SELECT notification_id FROM {shadow_name(TRACKING_TABLE, SHADOW_PREFIX)} "
            "WHERE projection = ?",
            (REBUILD_OWNER,),
        )
    except (sqlite3.OperationalError, psycopg.errors.UndefinedTable):
        row = None
    if row is None or int(row["notification_id"]) != owner:
        raise Conflict(
            "another `ledger projections rebuild` started and took over; this one stopped "
            "(the live read models are unchanged)"
        )


def _swap(conn: DbConnection, pos: dict[str, int]) -> None:
    """Put the shadow tables in place of the live ones, and their positions."""
    shadow_tracking = shadow_name(TRACKING_TABLE, SHADOW_PREFIX)
    for table in ALL_TABLES:
        shadow = shadow_name(table, SHADOW_PREFIX)
        if isinstance(conn, sqlite3.Connection):
            # SQLite: the old table is emptied and dropped afterwards, in short
            # transactions; its indexes keep their names until then
            old = shadow_name(table, OLD_PREFIX)
            # a replaced table another run has not finished dropping yet
            execute(conn, f"DROP TABLE IF EXISTS {old}")
            execute(conn, f"ALTER TABLE {table} RENAME TO {old}")
            execute(conn, f"ALTER TABLE {shadow} RENAME TO {table}")
            continue
        execute(conn, f"DROP TABLE {table}")
        execute(conn, f"ALTER TABLE {shadow} RENAME TO {table}")
        oid = f"public.{table}"
        for c in fetchall(
            conn,
            "SELECT conname FROM pg_constraint WHERE conrelid = ?::regclass AND conname LIKE ?",
            (oid, f"%{INDEX_TWIN}"),
        ):
            name = str(c["conname"])
            execute(conn, f"ALTER TABLE {table} RENAME CONSTRAINT {name} TO {_twin(name)}")
        for ix in fetchall(
            conn,
            "SELECT i.relname AS name FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid "
            "WHERE x.indrelid = ?::regclass AND i.relname LIKE ?",
            (oid, f"%{INDEX_TWIN}"),
        ):
            name = str(ix["name"])
            execute(conn, f"ALTER INDEX {name} RENAME TO {_twin(name)}")
    for name in MODEL_NAMES:
        set_position(conn, name, pos[name])
    execute(conn, f"DROP TABLE {shadow_tracking}")


def rebuild(
    target: Any,
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool | None = None,
    hook: EventHook | None = None,
) -> CatchUpResult:
    """Replay every event into shadow tables, in short transactions (the live
    models keep answering and catching up meanwhile), then swap them in, in
    one short transaction under the catch-up lock. Killed at any point, it
    leaves the live models as they were; the next rebuild drops its leftovers."""
    cfg, app, owned = _app_of(target)
    show = sys.stderr.isatty() if progress is None else progress
    sqlite = cfg.backend == "sqlite"
    shadow_tracking = shadow_name(TRACKING_TABLE, SHADOW_PREFIX)
    try:
        result = CatchUpResult()
        # the tables a swap replaced, left by a run killed before it dropped
        # them: nobody reads them, so they are emptied in short transactions
        _drop_tables(cfg, (OLD_PREFIX,), pause=0.01)
        owner = secrets.randbits(62)
        # Start under the catch-up lock (PostgreSQL; SQLite has one writer), so
        # that two rebuilds starting at once, or one starting while another
        # swaps, take turns. Shadow tables found here are a killed run's, or
        # those of a rebuild still running: they are dropped in this one
        # transaction (never piecemeal, which could take a table from under a
        # rebuild that started meanwhile), and a running rebuild stops at its
        # next batch, saying it was taken over.
        with _writer(cfg, wait=True) as conn:
            if conn is None:
                raise Conflict(
                    "could not start the rebuild: another process held the read models "
                    "too long; nothing was changed — try again"
                )
            # (and replaced tables another run is still emptying: on SQLite
            # they hold the index names the new shadows take)
            for t in [
                *_tables_with_prefix(conn, SHADOW_PREFIX),
                *_tables_with_prefix(conn, OLD_PREFIX),
            ]:
                execute(conn, f"DROP TABLE IF EXISTS {t}")
            _create_shadow(conn, owner)
            head = _head(conn)
        view = ReadModelView(prefix=SHADOW_PREFIX)
        projections = _projections(view)
        broken: dict[str, str] = {}
        size = batch_size
        with _session(cfg) as session:
            while True:
                began = time.monotonic()
                with _transaction(session, write=True) as conn:
                    _own(conn, owner)
                    pos = positions(conn, MODEL_NAMES, table=shadow_tracking)
                    n = _apply_batch(
                        conn, cfg, app, view, projections, pos, batch_size=size, hook=hook,
                        broken=broken,
                    )  # fmt: skip
                    if broken:
                        raise RuntimeError(f"rebuild failed: {broken}")
                took = time.monotonic() - began
                if n == 0:
                    break
                result.applied += n
                _progress(show, f"rebuilding read models: {min(pos.values())}/{max(head, 1)}")
                if sqlite:
                    # SQLite has one writer: keep each transaction near
                    # REBUILD_BATCH_SECONDS, then let waiting writers in
                    if took > REBUILD_BATCH_SECONDS and size > 10:
                        size = max(10, size // 2)
                    elif took < REBUILD_BATCH_SECONDS / 2 and size < batch_size:
                        size = min(batch_size, size * 2)
                    time.sleep(max(0.02, min(took, 2 * REBUILD_BATCH_SECONDS) * SQLITE_PAUSE_SHARE))
        deadline = time.monotonic() + SWAP_PATIENCE_S
        while True:
            if not sqlite:
                _wait_for_quiet_tables(cfg, deadline)
            try:
                with _writer(cfg, wait=True) as conn:
                    if conn is not None:
                        _own(conn, owner)
                        pos = positions(conn, MODEL_NAMES, table=shadow_tracking)
                        # the events recorded since the last batch
                        while n := _apply_batch(
                            conn, cfg, app, view, projections, pos, batch_size=batch_size,
                            broken=broken,
                        ):  # fmt: skip
                            result.applied += n
                        if broken:
                            raise RuntimeError(f"rebuild failed: {broken}")
                        if not sqlite:
                            execute(conn, f"SET LOCAL lock_timeout = '{PG_SWAP_LOCK_TIMEOUT}'")
                        _swap(conn, pos)
                        result.position = min(pos.values())
                        result.head = _head(conn)
                        break
            except psycopg.errors.LockNotAvailable:
                pass  # readers held the live tables: catch the shadow up, try again
            if time.monotonic() > deadline:
                raise Conflict(
                    "could not swap in the rebuilt read models: other processes kept them busy; "
                    "the live models are unchanged — try again"
                )
            time.sleep(0.2)
        if show:
            print(file=sys.stderr)
        _drop_tables(cfg, (OLD_PREFIX,), pause=0.01 if sqlite else 0.0)
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


# --- reading -------------------------------------------------------------------------------


@contextmanager
def reading(cfg: DbConfig) -> Iterator[DbConnection]:
    """A read transaction over one consistent snapshot of the read models.
    On PostgreSQL it holds ACCESS SHARE on every read-model table from the
    start, so a rebuild's swap waits for it (and it never reads a table
    swapped in after its snapshot was taken)."""
    with connect(cfg) as conn:
        if not isinstance(conn, sqlite3.Connection):
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
            conn.execute(
                f"LOCK TABLE {', '.join((TRACKING_TABLE, *ALL_TABLES))} IN ACCESS SHARE MODE"
            )
        yield conn


# --- verify --------------------------------------------------------------------------------

# Differences listed in a report (all are counted).
MAX_LISTED = 200


@dataclass
class VerifyReport:
    differences: list[str] = field(default_factory=list)
    rows_compared: int = 0
    positions: dict[str, int] = field(default_factory=dict)
    total: int = 0  # every difference found (only the first MAX_LISTED are listed)

    @property
    def ok(self) -> bool:
        return self.total == 0

    def add(self, difference: str) -> None:
        self.total += 1
        if len(self.differences) < MAX_LISTED:
            self.differences.append(difference)

    def as_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "rows_compared": self.rows_compared,
            "positions": self.positions,
            "differences": self.differences,
            "differences_total": self.total,
        }


def scratch_models(path: str | Path = ":memory:") -> sqlite3.Connection:
    """A SQLite database (in memory, or a scratch file) with the read-model
    tables (no events)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
    for entry in sorted(resources.files("migrations.sqlite").iterdir(), key=lambda e: e.name):
        if entry.name.startswith("01") and entry.name.endswith(".sql"):
            for stmt in split_sqlite_script(entry.read_text(encoding="utf-8")):
                conn.execute(stmt)
    return conn


def verify(
    target: Any,
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool = False,
    known: dict[str, str] | None = None,
) -> VerifyReport:
    """Rebuild every model aside (a scratch SQLite file), up to each live
    model's tracked position, and compare with the live tables row by row,
    both read in key order (memory stays bounded). `known`: models a
    catch-up found inconsistent, reported first."""
    cfg, app, owned = _app_of(target)
    report = VerifyReport()
    for model, why in (known or {}).items():
        report.add(f"{model}: {why}; run `ledger projections rebuild`")
    try:
        with reading(cfg) as live, tempfile.TemporaryDirectory(prefix="ledger-verify-") as tmp:
            live_pos = positions(live, MODEL_NAMES)
            report.positions = dict(live_pos)
            head = _head(live)
            for name, p in live_pos.items():
                if p > head:
                    report.add(
                        f"{name}: tracking position {p} is beyond the ledger's head {head}; "
                        "run `ledger projections rebuild`"
                    )
            scratch = scratch_models(Path(tmp) / "verify.db")
            try:
                view = ReadModelView()
                projections = _projections(view)
                pos = dict.fromkeys(MODEL_NAMES, 0)
                target_pos = max(live_pos.values())
                while True:
                    scratch.execute("BEGIN")
                    n = _apply_batch(
                        scratch, cfg, app, view, projections, pos, batch_size=batch_size,
                        upto=live_pos, events_conn=live,
                    )  # fmt: skip
                    scratch.execute("COMMIT")
                    _progress(
                        progress,
                        f"verifying read models: replayed {min(pos.values())}/{target_pos}",
                    )
                    if not n or all(pos[m] >= live_pos[m] for m in MODEL_NAMES):
                        break
                for name, tables in MODEL_TABLES.items():
                    for table in tables:
                        _progress(progress, f"verifying read models: comparing {table:<30}")
                        _compare(report, name, table, live, scratch)
            finally:
                scratch.close()
        if progress:
            print(file=sys.stderr)
    finally:
        if owned:
            app.close()
    return report


def _normal(conn: DbConnection, row: dict[str, Any]) -> dict[str, Any]:
    return {k: (money_from_db(conn, v) if k in MONEY_COLUMNS else v) for k, v in row.items()}


def _ordered(conn: DbConnection, table: str, key: Sequence[str]) -> Iterator[dict[str, Any]]:
    """Every row of a table in primary-key order (text in byte order on both
    backends), streamed: a server-side cursor on PostgreSQL."""
    if isinstance(conn, sqlite3.Connection):
        cur = conn.execute(f"SELECT * FROM {table} ORDER BY {', '.join(key)}")
        while rows := cur.fetchmany(1000):
            for r in rows:
                yield {k: r[k] for k in r.keys()}  # noqa: SIM118 - sqlite3.Row is not a Mapping
        return
    order = ", ".join(k if k in INTEGER_KEYS else f'{k} COLLATE "C"' for k in key)
    with conn.cursor(name=f"verify_{table}") as named:
        named.itersize = 1000
        named.execute(f"SELECT * FROM {table} ORDER BY {order}")
        for r in named:
            yield dict(r)


def _compare(
    report: VerifyReport,
    model: str,
    table: str,
    live: DbConnection,
    scratch: sqlite3.Connection,
) -> None:
    """Merge the live table and the rebuild, both in key order."""
    key = TABLE_KEYS[table]
    a_rows = _ordered(live, table, key)
    b_rows = _ordered(scratch, table, key)
    a = next(a_rows, None)
    b = next(b_rows, None)
    while a is not None or b is not None:
        ka = None if a is None else tuple(a[k] for k in key)
        kb = None if b is None else tuple(b[k] for k in key)
        k = ka if kb is None or (ka is not None and ka < kb) else kb
        label = f"{model}: {table} {dict(zip(key, k or (), strict=True))}"
        if kb is None or (ka is not None and ka < kb):
            report.add(f"{label}: in the live table but not in a rebuild")
            a = next(a_rows, None)
            continue
        report.rows_compared += 1
        if ka is None or kb < ka:
            report.add(f"{label}: missing from the live table")
            b = next(b_rows, None)
            continue
        assert a is not None and b is not None
        na, nb = _normal(live, a), _normal(scratch, b)
        for col in nb:
            if na.get(col) != nb[col]:
                report.add(f"{label}: {col} is {na.get(col)!r}, a rebuild gives {nb[col]!r}")
        a, b = next(a_rows, None), next(b_rows, None)


__all__ = [
    "LIVE_PREFIX",
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
