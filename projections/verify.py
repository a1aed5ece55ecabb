"""Verify of the read models: rebuild them aside (a scratch SQLite file), up
to each live model's tracked position, and compare with the live tables row
by row."""

from __future__ import annotations

import sqlite3
import sys
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from ledger.store.db import DbConnection, split_sqlite_script
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


def scratch_models(path: str | Path = ":memory:") -> sqlite3.Connection:
    """A SQLite database (in memory, or a scratch file) with the read-model
    tables (no events)."""
    conn = sqlite3.connect(str(path), isolation_level=None)
    conn.row_factory = sqlite3.Row
    if str(path) != ":memory:":
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
    for entry in sorted(resources.files("migrations.sqlite").iterdir(), key=lambda e: e.name):
        if (
            entry.name.startswith("01")
            and entry.name.endswith(".sql")
            and entry.name not in NOT_READ_MODEL_MIGRATIONS
        ):
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
    cfg, mapper = mapper_of(target)
    report = VerifyReport()
    for model, why in (known or {}).items():
        report.add(f"{model}: {why}; run `ledger projections rebuild`")
    with reading(cfg) as live, tempfile.TemporaryDirectory(prefix="ledger-verify-") as tmp:
        live_pos = positions(live, MODEL_NAMES)
        report.positions = dict(live_pos)
        head = ledger_head(live)
        for name, p in live_pos.items():
            if p > head:
                report.add(
                    f"{name}: tracking position {p} is beyond the ledger's head {head}; "
                    "run `ledger projections rebuild`"
                )
        scratch = scratch_models(Path(tmp) / "verify.db")
        try:
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
        finally:
            scratch.close()
    if progress:
        print(file=sys.stderr)
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


__all__ = ["MAX_LISTED", "VerifyReport", "scratch_models", "verify"]
