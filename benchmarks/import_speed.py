"""Measure `ledger import` against the bare eventsourcing library (not run in CI).

For each backend, in one run: the bare library saving the same number of
events as new aggregates, 500 aggregates per `Application.save` (one
transaction each) — the bar issue 14 sets — and `ledger import` of a
synthetic JSON Lines file of that many events (tests/import_sample.py: units,
platforms, allocations, payments; every line through the service's rules,
the hash chain and the request log), 500 lines a batch. The read models'
catch-up after the import is timed on its own (it is the read side's work).

    .venv/bin/python benchmarks/import_speed.py [--events 20000] [--batch 500]
        [--pg postgresql://postgres@127.0.0.1:5432] [--no-pg]

Prints a Markdown table: events per second and the ratio to the bare library.
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate

from ledger.importer.jsonl import read_jsonl
from ledger.importer.run import import_lines
from ledger.store import db
from tests.import_sample import write_sample

os.environ.setdefault("LEDGER_TODAY", "2026-11-23")


class Payment(Aggregate):
    """A bare aggregate with about the payload of a payment event."""

    def __init__(self, platform: str, category: str, amount: str, voucher: str) -> None:
        self.platform = platform
        self.category = category
        self.amount = amount
        self.voucher = voucher


class Bare(Application[uuid.UUID]):
    name = "Bare"


def bare_save(env: dict[str, str], events: int, batch: int) -> float:
    """Seconds for the library to save ``events`` new aggregates, ``batch`` a save."""
    app = Bare(env=env)
    try:
        start = time.perf_counter()
        done = 0
        while done < events:
            n = min(batch, events - done)
            aggs = [
                Payment("LS-KL-0001", "operation", str(Decimal(1000 + i) / 100), f"PZ-{done + i}")
                for i in range(n)
            ]
            app.save(*aggs)
            done += n
        return time.perf_counter() - start
    finally:
        app.close()


def ledger_import(url: str, path: Path, batch: int) -> tuple[float, float, int]:
    """Seconds to import, seconds to catch the read models up, events recorded."""
    cfg = db.parse_db_url(url)
    db.migrate(cfg)
    db.set_setting(cfg, "default_policy", "lhasa-city")
    start = time.perf_counter()
    report = import_lines(
        url, read_jsonl(path), source=path.name, actor="bench", batch_size=batch, catch_up=False
    )
    took = time.perf_counter() - start
    if not report.ok:
        raise SystemExit(
            f"the sample did not import: {report.bad[0].where}: {report.bad[0].message}"
        )
    from ledger import reads

    start = time.perf_counter()
    reads.catch_up(cfg)
    return took, time.perf_counter() - start, report.events


def raw_copy(url: str) -> float:
    """PostgreSQL: ev/s of a raw psycopg COPY of the ledger's stored events
    into a plain table (benchmarks/run.py's; issue 14's moonshot compares
    with it)."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run

    events = run.stored_events(url)
    return float(run.raw_pg(url, events)["raw_copy_ev_s"])


def pg_database(base: str) -> tuple[str, str]:
    name = f"ledger_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}", name


def drop_pg(base: str, name: str) -> None:
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def pg_env(url: str) -> dict[str, str]:
    cfg = db.parse_db_url(url)
    return {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": cfg.dbname,
        "POSTGRES_HOST": cfg.host,
        "POSTGRES_PORT": str(cfg.port),
        "POSTGRES_USER": cfg.user,
        "POSTGRES_PASSWORD": cfg.password,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--pg", default="postgresql://postgres@127.0.0.1:5432")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    load_before = os.getloadavg()
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        sample = Path(tmp) / "sample.jsonl"
        lines = write_sample(sample, args.events)

        # SQLite
        bare = bare_save(
            {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": f"{tmp}/bare.db"},
            args.events,
            args.batch,
        )
        took, caught, events = ledger_import(f"sqlite:///{tmp}/ledger.db", sample, args.batch)
        rows.append(dict(backend="SQLite", bare=bare, took=took, caught=caught, events=events))

        if not args.no_pg:
            bare_url, bare_name = pg_database(args.pg)
            url, name = pg_database(args.pg)
            try:
                bare = bare_save({**pg_env(bare_url), "CREATE_TABLE": "y"}, args.events, args.batch)
                took, caught, events = ledger_import(url, sample, args.batch)
                copy_rate = raw_copy(url)
                rows.append(
                    dict(
                        backend="PostgreSQL",
                        bare=bare,
                        took=took,
                        caught=caught,
                        events=events,
                        copy=copy_rate,
                    )
                )
            finally:
                drop_pg(args.pg, bare_name)
                drop_pg(args.pg, name)

    print(
        f"`ledger import` of {lines} lines vs the bare library saving {args.events} events, "
        f"{args.batch} aggregates a transaction — {time.strftime('%Y-%m-%d')}, "
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}; "
        f"load average before {', '.join(f'{x:.2f}' for x in load_before)}\n"
    )
    print(
        "| backend | bare library ev/s | import ev/s | ratio | read-model catch-up ev/s "
        "| raw COPY ev/s | import / COPY |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for r in rows:
        bare_rate = args.events / r["bare"]
        rate = r["events"] / r["took"]
        copy_rate = r.get("copy")
        copy_cells = f"{copy_rate:,.0f} | {rate / copy_rate:.2f}×" if copy_rate else "– | –"
        print(
            f"| {r['backend']} | {bare_rate:,.0f} | {rate:,.0f} | {rate / bare_rate:.2f}× "
            f"| {r['events'] / r['caught']:,.0f} | {copy_cells} |"
        )
    print(f"\nload average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
