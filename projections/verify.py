"""Verify of the read models: rebuild them aside (a scratch SQLite file), up
to each live model's tracked position, and compare with the live tables row
by row."""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.store.db import DbConfig, DbConnection, split_sqlite_script, sqlite_connect
from projections.base import (
    INTEGER_KEYS,
    MODEL_TABLES,
    MONEY_COLUMNS,
    TABLE_KEYS,
    money_from_db,
    positions,
)
from projections.runner import (
    BATCH_SIZE,
    MODEL_NAMES,
    apply_batch,
    ledger_head,
    mapper_of,
    model_projections,
    reading,
    show_progress,
)
from projections.trusted import ChainGuard
from projections.view import ReadModelView

# The file a run holds locked in its scratch directory.
SCRATCH_LOCK = "in-use.lock"
# The page cache of a scratch file (MB).
SCRATCH_CACHE_MB = 64
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


# 01NN migrations that change the event tables, not the read models
NOT_READ_MODEL_MIGRATIONS = frozenset({"0120_chain_encoding.sql"})


@contextmanager
def scratch_dir(kind: str) -> Iterator[str]:
    """A temporary directory (``TMPDIR``, ``ledger-<kind>-…``) for a scratch
    file, locked (``flock`` on a file in it) while this run uses it. The
    directories of runs killed before they removed theirs (unlocked; this
    user's only) are removed first: a scratch file can be hundreds of MB."""
    root = Path(tempfile.gettempdir())
    for pattern in ("ledger-rebuild-*", "ledger-verify-*"):
        for path in root.glob(pattern):
            _remove_if_orphaned(path)
    with (
        tempfile.TemporaryDirectory(prefix=f"ledger-{kind}-") as tmp,
        open(Path(tmp) / SCRATCH_LOCK, "w") as lock,
    ):
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield tmp


def _remove_if_orphaned(path: Path) -> None:
    try:
        st = path.stat()
        # (a directory just made may not hold its lock yet)
        if not path.is_dir() or st.st_uid != os.getuid() or time.time() - st.st_mtime < 60:
            return
        with open(path / SCRATCH_LOCK, "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)  # held: a run still uses it
            shutil.rmtree(path, ignore_errors=True)
    except OSError:
        return


def scratch_models(path: str | Path = ":memory:") -> sqlite3.Connection:
    """A SQLite database (in memory, or a scratch file) with the read-model
    tables (no events)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        # a larger page cache than the default 2 MB: the replay inserts into
        # several indexes per table (bounded: SCRATCH_CACHE_MB of memory)
        conn.execute(f"PRAGMA cache_size = -{SCRATCH_CACHE_MB * 1024}")
    for entry in sorted(resources.files("migrations.sqlite").iterdir(), key=lambda e: e.name):
        if (
            entry.name.startswith("01")
            and entry.name.endswith(".sql")
            and entry.name not in NOT_READ_MODEL_MIGRATIONS
        ):
            for stmt in split_sqlite_script(entry.read_text(encoding="utf-8")):
                conn.execute(stmt)
    return conn


# the scratch file's name on a SQLite live connection (ATTACHed)
SCRATCH = "verify_scratch"


@contextmanager
def _live(cfg: DbConfig, path: Path) -> Iterator[tuple[DbConnection, sqlite3.Connection]]:
    """The live read models in one read transaction (``runner.reading``),
    and the scratch file. SQLite: the scratch file is ATTACHed to the live
    connection first (not possible inside a transaction), so that tables
    are compared in SQL; the live snapshot starts at the first read."""
    scratch = scratch_models(path)
    try:
        if cfg.backend != "sqlite":
            with reading(cfg) as live:
                yield live, scratch
            return
        conn = sqlite_connect(cfg)
        try:
            conn.execute(f"ATTACH DATABASE ? AS {SCRATCH}", (str(path),))
            conn.execute("BEGIN")
            yield conn, scratch
            conn.rollback()
        finally:
            conn.close()
    finally:
        scratch.close()


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
    cfg, mapper = mapper_of(target)
    report = VerifyReport()
    for model, why in (known or {}).items():
        report.add(f"{model}: {why}; run `ledger projections rebuild`")
    with (
        scratch_dir("verify") as tmp,
        _live(cfg, Path(tmp) / "verify.db") as (live, scratch),
    ):
        live_pos = positions(live, MODEL_NAMES)
        report.positions = dict(live_pos)
        head = ledger_head(live)
        for name, p in live_pos.items():
            if p > head:
                report.add(
                    f"{name}: tracking position {p} is beyond the ledger's head {head}; "
                    "run `ledger projections rebuild`"
                )
        view = ReadModelView()
        projections = model_projections(view)
        pos = dict.fromkeys(MODEL_NAMES, 0)
        target_pos = max(live_pos.values())
        # replay only verified events: each one's chain hash recomputed
        # from the genesis, arriving at the head verified before
        guard = ChainGuard.load(live)
        while True:
            scratch.execute("BEGIN")
            n = apply_batch(
                scratch, cfg, mapper, view, projections, pos, batch_size=batch_size,
                upto=live_pos, events_conn=live, chain=guard,
            )  # fmt: skip
            scratch.execute("COMMIT")
            show_progress(
                progress,
                f"verifying read models: replayed {min(pos.values())}/{target_pos}",
            )
            if not n or all(pos[m] >= live_pos[m] for m in MODEL_NAMES):
                break
        for name, tables in MODEL_TABLES.items():
            for table in tables:
                show_progress(progress, f"verifying read models: comparing {table:<30}")
                _compare(report, name, table, live, scratch)
    if progress:
        print(file=sys.stderr)
    return report


def _columns(conn: DbConnection, table: str) -> list[str]:
    if isinstance(conn, sqlite3.Connection):
        return [str(r[1]) for r in conn.execute(f"PRAGMA main.table_info({table})").fetchall()]
    cur = conn.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
        "AND table_name = %s ORDER BY ordinal_position",
        (table,),
    )
    return [str(r["column_name"]) for r in cur.fetchall()]


def _ordered(
    conn: DbConnection, table: str, cols: Sequence[str], key: Sequence[str]
) -> Iterator[tuple[Any, ...]]:
    """The rows of a table (these columns; NULL for one it lacks) in
    primary-key order (text in byte order on both backends), as tuples,
    streamed: a server-side cursor on PostgreSQL."""
    have = set(_columns(conn, table))
    select = ", ".join(c if c in have else f"NULL AS {c}" for c in cols)
    if isinstance(conn, sqlite3.Connection):
        cur = conn.cursor()
        cur.row_factory = None
        cur.execute(f"SELECT {select} FROM {table} ORDER BY {', '.join(key)}")
        while rows := cur.fetchmany(2000):
            yield from rows
        return
    from psycopg.rows import tuple_row

    order = ", ".join(k if k in INTEGER_KEYS else f'{k} COLLATE "C"' for k in key)
    with conn.cursor(name=f"verify_{table}", row_factory=tuple_row) as named:
        named.itersize = 2000
        named.execute(f"SELECT {select} FROM {table} ORDER BY {order}")
        yield from named


def _normalised(
    conn: DbConnection, rows: Iterator[tuple[Any, ...]], money: Sequence[int]
) -> Iterator[tuple[Any, ...]]:
    """Money as Decimal (SQLite stores cents)."""
    if not money:
        yield from rows
        return
    for r in rows:
        values = list(r)
        for i in money:
            values[i] = money_from_db(conn, values[i])
        yield tuple(values)


def _same_in_sql(live: sqlite3.Connection, table: str, cols: Sequence[str]) -> int | None:
    """SQLite, the scratch file ATTACHed to the live connection: the number
    of rows when the live table and the rebuild hold the same rows (two
    EXCEPTs, in the database engine), else None."""
    names = ", ".join(cols)
    try:
        differ = live.execute(
            f"SELECT EXISTS (SELECT {names} FROM main.{table} EXCEPT "
            f"SELECT {names} FROM {SCRATCH}.{table}) OR EXISTS (SELECT {names} FROM "
            f"{SCRATCH}.{table} EXCEPT SELECT {names} FROM main.{table})"
        ).fetchone()[0]
    except sqlite3.Error:
        return None  # (a live table not shaped as the rebuild: compared row by row)
    if differ:
        return None
    return int(live.execute(f"SELECT COUNT(*) FROM {SCRATCH}.{table}").fetchone()[0])


def _compare(
    report: VerifyReport,
    model: str,
    table: str,
    live: DbConnection,
    scratch: sqlite3.Connection,
) -> None:
    """Merge the live table and the rebuild, both in key order."""
    key = TABLE_KEYS[table]
    cols = _columns(scratch, table)
    if isinstance(live, sqlite3.Connection):
        same = _same_in_sql(live, table, cols)
        if same is not None:
            report.rows_compared += same
            return
    at = [cols.index(k) for k in key]
    money = [i for i, c in enumerate(cols) if c in MONEY_COLUMNS]
    a_rows = _normalised(live, _ordered(live, table, cols, key), money)
    b_rows = _normalised(scratch, _ordered(scratch, table, cols, key), money)
    a = next(a_rows, None)
    b = next(b_rows, None)
    while a is not None or b is not None:
        ka = None if a is None else tuple(a[i] for i in at)
        kb = None if b is None else tuple(b[i] for i in at)
        if ka is not None and ka == kb and a == b:
            report.rows_compared += 1
            a, b = next(a_rows, None), next(b_rows, None)
            continue
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
        for i, col in enumerate(cols):
            if a[i] != b[i]:
                report.add(f"{label}: {col} is {a[i]!r}, a rebuild gives {b[i]!r}")
        a, b = next(a_rows, None), next(b_rows, None)


__all__ = ["MAX_LISTED", "VerifyReport", "scratch_models", "verify"]
