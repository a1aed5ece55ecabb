"""Rebuild of the read models.

A rebuild replays every event into a scratch SQLite file (a temporary
directory: ``TMPDIR``), holding no lock on the ledger, while the live models
keep answering and catching up; it copies the scratch rows into shadow tables
(``rmb_…``) in bulk (SQLite: short ``INSERT … SELECT`` transactions over the
ATTACHed file; PostgreSQL: COPY), then applies the events recorded meanwhile
and swaps the shadow tables in under the catch-up lock
(``projections.runner``) in one short transaction.
"""

from __future__ import annotations

import re
import secrets
import sqlite3
import sys
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregates.errors import Conflict

if TYPE_CHECKING:
    import psycopg
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
    MONEY_COLUMNS,
    TRACKING_TABLE,
    money_from_db,
    positions,
    set_position,
    shadow_name,
)
from projections.runner import (
    ALL_TABLES,
    BATCH_SIZE,
    MODEL_NAMES,
    CatchUpResult,
    EventHook,
    apply_batch,
    guarded,
    ledger_head,
    locked_writer,
    mapper_of,
    model_projections,
    show_progress,
)
from projections.trusted import ChainGuard
from projections.verify import scratch_dir, scratch_models
from projections.view import ReadModelView

# Rebuild: shadow tables, the tables a swap replaced (SQLite: emptied in short
# transactions, then dropped), the twin-name suffix of their indexes, and the
# row in the shadow tracking table naming the rebuild that owns them.
SHADOW_PREFIX = "rmb_"
OLD_PREFIX = "rmo_"
INDEX_TWIN = "__r"
REBUILD_OWNER = "__rebuild__"
# SQLite: the target length of a transaction copying scratch rows into the
# shadow tables; the rebuild then pauses for a share of that (at least 20 ms)
# so that a waiting writer, whose busy handler polls every <= 100 ms, gets the
# write lock within a few polls. Rows a copy transaction starts with (it
# adapts), and at most.
REBUILD_BATCH_SECONDS = 0.1
SQLITE_PAUSE_SHARE = 0.35
SQLITE_COPY_CHUNK = 5000
SQLITE_COPY_CHUNK_MAX = 100_000
SQLITE_DROP_CHUNK = 5000
# PostgreSQL: the swap waits until no other session holds a live table, then
# at most this long for its locks (a reader may come in between), and
# retries, catching the shadow up again, for up to SWAP_PATIENCE_S.
PG_SWAP_LOCK_TIMEOUT = "1s"
SWAP_PATIENCE_S = 120.0


@contextmanager
def _session(cfg: DbConfig) -> Iterator[DbConnection]:
    """One connection for many short transactions (``_transaction``)."""
    conn: DbConnection = sqlite_connect(cfg) if cfg.backend == "sqlite" else pg_connect(cfg)
    if isinstance(conn, sqlite3.Connection):
        # The shadow tables' transactions need not reach the disk one by one:
        # in WAL mode (the ledger's) NORMAL never corrupts the file, and a
        # power cut loses at most the last batches of shadow rows, which the
        # next rebuild writes again. (This connection only: the events and
        # the live models keep their own setting.)
        conn.execute("PRAGMA synchronous = NORMAL")
    try:
        yield conn
    finally:
        conn.close()


@contextmanager
def _reader(cfg: DbConfig) -> Iterator[DbConnection]:
    """A connection whose every statement is its own short read transaction
    (the replay reads the events batch by batch; PostgreSQL: autocommit, so
    it holds no snapshot nor lock between batches)."""
    conn: DbConnection = (
        sqlite_connect(cfg) if cfg.backend == "sqlite" else pg_connect(cfg, autocommit=True)
    )
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
    from psycopg import sql as pgsql

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
    except (sqlite3.OperationalError, pg_error("UndefinedTable")):
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


def _columns(conn: DbConnection, table: str) -> list[str]:
    """The columns of a (shadow) table, in their order."""
    if isinstance(conn, sqlite3.Connection):
        return [str(r["name"]) for r in fetchall(conn, f"PRAGMA table_info({table})")]
    rows = fetchall(
        conn,
        "SELECT column_name AS name FROM information_schema.columns "
        "WHERE table_schema = 'public' AND table_name = ? ORDER BY ordinal_position",
        (table,),
    )
    return [str(r["name"]) for r in rows]


def _copy_sqlite(
    cfg: DbConfig, scratch_path: str, owner: int, pos: dict[str, int], show: bool
) -> None:
    """SQLite: the scratch rows into the shadow tables, ``INSERT … SELECT`` over
    the ATTACHed scratch file, in short write transactions (each near
    REBUILD_BATCH_SECONDS, then a pause so that a waiting writer gets the lock),
    and the positions with the last one."""
    shadow_tracking = shadow_name(TRACKING_TABLE, SHADOW_PREFIX)
    with _session(cfg) as conn:
        execute(conn, "ATTACH DATABASE ? AS scratch", (scratch_path,))
        # what is left to copy: (statement, next rowid, last rowid) per table
        todo: list[list[Any]] = []
        total = done = 0
        for table in ALL_TABLES:
            names = ", ".join(_columns(conn, shadow_name(table, SHADOW_PREFIX)))
            row = fetchone(conn, f"SELECT MAX(rowid) AS m, COUNT(*) AS n FROM scratch.{table}")
            if row is None or not row["n"]:
                continue
            total += int(row["n"])
            sql = (
                f"INSERT INTO main.{shadow_name(table, SHADOW_PREFIX)} ({names}) "
                f"SELECT {names} FROM scratch.{table} WHERE rowid >= ? AND rowid < ? "
                "ORDER BY rowid"
            )
            todo.append([sql, 0, int(row["m"])])
        chunk = SQLITE_COPY_CHUNK
        while True:
            began = time.monotonic()
            last = not todo
            with _transaction(conn, write=True):
                _own(conn, owner)
                # rows of `chunk` rowids, from one table or several small ones
                budget = chunk
                while todo and budget > 0:
                    item = todo[0]
                    sql, low, end = item
                    high = min(end + 1, low + budget)
                    done += max(0, execute(conn, sql, (low, high)).rowcount)
                    budget -= high - low
                    item[1] = high
                    if high > end:
                        todo.pop(0)
                if last:
                    for name, at in pos.items():
                        set_position(conn, name, at, table=shadow_tracking)
            if last:
                break
            took = time.monotonic() - began
            show_progress(show, f"rebuilding read models: copying rows {done}/{total}")
            if took > REBUILD_BATCH_SECONDS and chunk > 100:
                chunk = max(100, chunk // 2)
            elif took < REBUILD_BATCH_SECONDS / 2:
                chunk = min(SQLITE_COPY_CHUNK_MAX, chunk * 2)
            time.sleep(max(0.02, min(took, 2 * REBUILD_BATCH_SECONDS) * SQLITE_PAUSE_SHARE))
        execute(conn, "DETACH DATABASE scratch")


def _copy_pg(
    cfg: DbConfig, scratch: sqlite3.Connection, owner: int, pos: dict[str, int], show: bool
) -> None:
    """PostgreSQL: the scratch rows into the shadow tables with COPY, one
    transaction a table (nobody else uses the shadow tables, and readers and
    writers of the live ones are not held up; a rebuild that takes over
    waits at most for one table's COPY to drop them), money cents turned
    back into numeric; the positions last."""
    shadow_tracking = shadow_name(TRACKING_TABLE, SHADOW_PREFIX)
    total = 0
    with _session(cfg) as pconn:
        assert not isinstance(pconn, sqlite3.Connection)
        for table in ALL_TABLES:
            with _transaction(pconn, write=True):
                _own(pconn, owner)
                shadow = shadow_name(table, SHADOW_PREFIX)
                cols = _columns(pconn, shadow)
                money = [i for i, c in enumerate(cols) if c in MONEY_COLUMNS]
                names = ", ".join(cols)
                cur = scratch.execute(f"SELECT {names} FROM {table} ORDER BY rowid")
                with (
                    pconn.cursor() as pcur,
                    pcur.copy(f"COPY {shadow} ({names}) FROM STDIN") as copy,
                ):
                    while rows := cur.fetchmany(2000):
                        for r in rows:
                            values = list(r)
                            for i in money:
                                values[i] = money_from_db(scratch, values[i])
                            copy.write_row(values)
                        total += len(rows)
                        show_progress(show, f"rebuilding read models: copying rows {total}")
        with _transaction(pconn, write=True):
            _own(pconn, owner)
            for name, at in pos.items():
                set_position(pconn, name, at, table=shadow_tracking)


def rebuild(
    target: Any,
    *,
    batch_size: int = BATCH_SIZE,
    progress: bool | None = None,
    hook: EventHook | None = None,
) -> CatchUpResult:
    """Replay every event into a scratch SQLite file (no lock on the ledger
    is held: recording and reading go on), copy its rows into the shadow
    tables in bulk (SQLite: short ``INSERT … SELECT`` transactions;
    PostgreSQL: COPY), then apply the events recorded meanwhile and swap the
    shadow tables in, in one short transaction under the catch-up lock.
    Killed at any point, it leaves the live models as they were; the next
    rebuild drops its leftovers."""
    cfg, mapper = mapper_of(target)
    show = sys.stderr.isatty() if progress is None else progress
    sqlite = cfg.backend == "sqlite"
    shadow_tracking = shadow_name(TRACKING_TABLE, SHADOW_PREFIX)
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
    with locked_writer(cfg, wait=True) as conn:
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
        head = ledger_head(conn)
        # every event is re-verified against the chain from the genesis, and
        # must arrive at the head verified before (projections.trusted)
        guard = ChainGuard.load(conn)
    broken: dict[str, str] = {}
    pos = dict.fromkeys(MODEL_NAMES, 0)
    with (
        guarded(cfg),
        scratch_dir("rebuild") as tmp,
        _reader(cfg) as events,
    ):
        scratch_path = str(Path(tmp) / "rebuild.db")
        scratch = scratch_models(scratch_path)
        try:
            # 1. replay into the scratch file: only reads on the ledger
            view = ReadModelView()
            projections = model_projections(view)
            while True:
                _own(events, owner)
                scratch.execute("BEGIN")
                n = apply_batch(
                    scratch, cfg, mapper, view, projections, pos, batch_size=batch_size,
                    events_conn=events, hook=hook, broken=broken, chain=guard,
                )  # fmt: skip
                scratch.execute("COMMIT")
                if broken:
                    raise RuntimeError(f"rebuild failed: {broken}")
                if n == 0:
                    break
                result.applied += n
                show_progress(
                    show, f"rebuilding read models: replayed {min(pos.values())}/{max(head, 1)}"
                )
            # 2. its rows into the shadow tables, in bulk
            if sqlite:
                _copy_sqlite(cfg, scratch_path, owner, pos, show)
            else:
                _copy_pg(cfg, scratch, owner, pos, show)
        finally:
            scratch.close()
    # 3. the events recorded meanwhile, and the swap
    view = ReadModelView(prefix=SHADOW_PREFIX)
    projections = model_projections(view)
    deadline = time.monotonic() + SWAP_PATIENCE_S
    while True:
        if not sqlite:
            _wait_for_quiet_tables(cfg, deadline)
        try:
            with guarded(cfg), locked_writer(cfg, wait=True) as conn:
                if conn is not None:
                    _own(conn, owner)
                    pos = positions(conn, MODEL_NAMES, table=shadow_tracking)
                    while n := apply_batch(
                        conn, cfg, mapper, view, projections, pos, batch_size=batch_size,
                        broken=broken, chain=guard,
                    ):  # fmt: skip
                        result.applied += n
                    guard.finish(conn)
                    # the whole chain verified again: a break found before is cleared
                    guard.save(conn, clear_broken=True)
                    if broken:
                        raise RuntimeError(f"rebuild failed: {broken}")
                    if not sqlite:
                        execute(conn, f"SET LOCAL lock_timeout = '{PG_SWAP_LOCK_TIMEOUT}'")
                    _swap(conn, pos)
                    result.position = min(pos.values())
                    result.head = ledger_head(conn)
                    break
        except pg_error("LockNotAvailable"):
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


__all__ = ["OLD_PREFIX", "SHADOW_PREFIX", "rebuild"]
