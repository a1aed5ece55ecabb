"""Measure what the hash chain costs when recording (not run in CI).

For each backend, in one run and on one database, record the same stored
events through the library's plain application recorder (table
``plain_events``) and through our chained recorder (``ledger_events`` +
``event_chain``), alternating in rounds so drift hits both alike. One
``insert_events`` call is one command's transaction, as ``ledger`` records:
``--batch`` events per call (default 2: a command usually records one or two).

    .venv/bin/python benchmarks/chain_overhead.py [--events 6000] [--batch 2] [--rounds 12]
        [--pg postgresql://postgres@127.0.0.1:5432] [--no-tree]

"Chained" includes the Merkle tree's append (in the SQLite transaction; after
the commit on PostgreSQL) unless ``--no-tree``.

Prints a Markdown table (the one in docs/AUDIT.md came from here).
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
import structlog
from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.store.chain import ChainedSQLiteApplicationRecorder
from ledger.store.chain_pg import ChainedPostgresApplicationRecorder
from ledger.store.db import migrate, parse_db_url

STATE = (
    '{"actor":"财务处 张三","effective_on":{"_type_":"date_iso","_data_":"2026-06-30"},'
    '"doc_no":"拉科发〔2026〕12号","reason":null,"basis":"003 art. 15",'
    '"category":"operation","amount":{"_type_":"decimal_str","_data_":"500000.00"},'
    '"fiscal_year":2026,"voucher":"PZ2026-0001",'
    '"timestamp":{"_type_":"datetime_iso","_data_":"2026-06-30T08:00:00.000000+00:00"}}'
).encode()


def batches(n_calls: int, batch: int) -> list[list[StoredEvent]]:
    out = []
    for _ in range(n_calls):
        oid = uuid.uuid4()
        out.append(
            [
                StoredEvent(
                    originator_id=oid,
                    originator_version=v,
                    topic="aggregates.platform:Platform.Disbursed",
                    state=STATE,
                )
                for v in range(1, batch + 1)
            ]
        )
    return out


def timed(recorder: ApplicationRecorder, work: list[list[StoredEvent]]) -> float:
    started = time.perf_counter()
    for events in work:
        recorder.insert_events(events)
    return time.perf_counter() - started


def compare(
    name: str,
    plain: ApplicationRecorder,
    chained: ApplicationRecorder,
    events: int,
    batch: int,
    rounds: int,
) -> list[str]:
    """Alternate plain and chained in rounds; report the medians of the rounds
    (a shared machine is noisy) and the spread of the per-round overhead."""
    calls = max(1, events // batch // rounds)
    timed(plain, batches(20, batch))  # warm up both
    timed(chained, batches(20, batch))
    per_plain: list[float] = []
    per_chained: list[float] = []
    for r in range(rounds):
        first, second = (plain, chained) if r % 2 == 0 else (chained, plain)
        a = timed(first, batches(calls, batch)) / (calls * batch)
        b = timed(second, batches(calls, batch)) / (calls * batch)
        p, c = (a, b) if first is plain else (b, a)
        per_plain.append(p)
        per_chained.append(c)
    n = calls * batch * rounds
    p_med, c_med = statistics.median(per_plain), statistics.median(per_chained)
    overheads = sorted(100.0 * (c / p - 1) for p, c in zip(per_plain, per_chained, strict=True))
    return [
        f"| {name} | {n} | {batch} | {1 / p_med:,.0f} | {1 / c_med:,.0f} "
        f"| {1e6 * p_med:,.0f} | {1e6 * c_med:,.0f} | {100.0 * (c_med / p_med - 1):+.0f} % "
        f"| {overheads[0]:+.0f} % … {overheads[-1]:+.0f} % |"
    ]


def sqlite_case(events: int, batch: int, rounds: int) -> list[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        cfg = parse_db_url(f"sqlite:///{path}")
        migrate(cfg)
        datastore = SQLiteDatastore(str(path))
        plain = SQLiteApplicationRecorder(datastore, events_table_name="plain_events")
        plain.create_table()
        chained = ChainedSQLiteApplicationRecorder(datastore)
        try:
            return compare("SQLite (file, WAL)", plain, chained, events, batch, rounds)
        finally:
            datastore.close()


def pg_case(base: str, events: int, batch: int, rounds: int) -> list[str]:
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        cfg = parse_db_url(f"{base}/{name}")
        migrate(cfg)
        datastore = PostgresDatastore(
            cfg.dbname, cfg.host, cfg.port, cfg.user, cfg.password, pool_size=1
        )
        plain = PostgresApplicationRecorder(datastore, events_table_name="plain_events")
        plain.create_table()
        chained = ChainedPostgresApplicationRecorder(datastore)
        try:
            return compare("PostgreSQL 15 (local)", plain, chained, events, batch, rounds)
        finally:
            datastore.close()
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=6000, help="events per variant and backend")
    ap.add_argument("--batch", type=int, default=2, help="events per transaction")
    ap.add_argument("--rounds", type=int, default=12)
    ap.add_argument(
        "--pg", default=os.environ.get("LEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
    )
    ap.add_argument("--no-pg", action="store_true")
    ap.add_argument(
        "--no-tree",
        action="store_true",
        help="the chain alone: the Merkle tree's append (docs/AUDIT.md §8) skipped",
    )
    args = ap.parse_args()
    if args.no_tree:
        from ledger.audit import merkle_store

        merkle_store.extend_sqlite = lambda cursor: 0  # type: ignore[assignment]
        merkle_store.extend_after_commit = lambda conn: None  # type: ignore[assignment]
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    cases: list[Callable[[], list[str]]] = [
        lambda: sqlite_case(args.events, args.batch, args.rounds)
    ]
    if not args.no_pg:
        cases.append(lambda: pg_case(args.pg, args.events, args.batch, args.rounds))
    print(
        f"python {platform.python_version()}, sqlite {sqlite3.sqlite_version}, "
        f"{platform.machine()}, {os.cpu_count()} CPUs"
    )
    print()
    print(
        "| backend | events | events / transaction | plain events/s | chained events/s "
        "| plain µs/event | chained µs/event | chain overhead (median) | per-round range |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for case in cases:
        for line in case():
            print(line, flush=True)


if __name__ == "__main__":
    main()
