"""Generate a realistic ledger for the benchmarks (not run in CI).

The ledger is made of *worlds*: each world is the demo ledger
(``ledger.demo.load_demo``: every kind of platform under every programme,
approvals, evaluations, a failed rectification and its ban, a misconduct
finding with its ban and delisting, a blacklisting, allocations, payments, a
reversal, a recovery, a suspension, a change request, a debarment lifted on
appeal) recorded under the world's own unit codes, platform codes and
vouchers, followed by a run of payments on one platform of the world. Worlds
are added until the ledger holds the asked number of events.

Every command goes through ``LedgerService`` (the same domain rules as the
command line). To write fast, the commands of a batch are recorded against
aggregates kept in memory and saved together, many aggregates per
transaction, through ``LedgerApp.save(*aggregates)`` (one chained insert):
the events are the ones the commands would have recorded one by one.

    .venv/bin/python benchmarks/generate.py --db sqlite:///bench.db --events 100000
    .venv/bin/python benchmarks/generate.py --db postgresql://postgres@127.0.0.1:5432/bench \
        --events 1000000

``LEDGER_TODAY`` is set to 2026-09-30 (the demo's dates end there).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("LEDGER_TODAY", "2026-09-30")

import structlog
from eventsourcing.domain import Aggregate

import ledger.service.core as service_core
from aggregates.values import credit_code_check_char
from ledger import demo
from ledger.policies import DEFAULT_POLICY_ID
from ledger.service import LedgerService
from ledger.store import db

# The demo's own codes, and what a world makes of them.
_DEMO_UNITS = {demo.unit_code(k): (i, v[0]) for i, (k, v) in enumerate(demo.UNITS.items())}
_PLATFORM = re.compile(r"^(LS|XJ|KQ)-[A-Z]+-\d{3}$")
_VOUCHER = re.compile(r"^PZ\d{4}-\d{4}$")
# payments per world on its long-history platform (XJ-TIC-001 of the world)
DEFAULT_PAYMENTS = 60
# commands recorded per transaction
DEFAULT_BATCH = 400


def world_unit(code: str, world: int) -> str:
    index, first17 = _DEMO_UNITS[code]
    head = first17[:10] + f"{world:05d}{index:02d}"
    return head + credit_code_check_char(head)


def translate(value: Any, world: int) -> Any:
    """A demo argument as world `world` has it (codes, vouchers, names)."""
    if isinstance(value, str):
        if value in _DEMO_UNITS:
            return world_unit(value, world)
        if _PLATFORM.match(value) or _VOUCHER.match(value):
            return f"{value}-W{world}"
        return value
    if isinstance(value, list):
        return [translate(v, world) for v in value]
    return value


class BatchingService(LedgerService):
    """LedgerService whose saves are deferred: aggregates stay in memory
    between commands and their pending events are saved together by
    :meth:`flush` (one transaction)."""

    def __init__(self, db_url: str) -> None:
        super().__init__(db_url)
        self.cache: dict[UUID, Aggregate] = {}
        self.dirty: dict[UUID, Aggregate] = {}
        self.saved_events = 0
        # the aggregates stay in memory between commands: no snapshot is read
        # (flush writes them, as the commands would have)
        self.use_snapshots = False
        get = self.app.repository.get

        def cached_get(ident: UUID, *args: Any, **kwargs: Any) -> Any:
            agg = self.cache.get(ident)
            if agg is None:
                agg = get(ident, *args, **kwargs)
                self.cache[ident] = agg
            return agg

        self.app.repository.get = cached_get  # type: ignore[method-assign]

    def exists(self, ident: UUID) -> bool:
        return ident in self.cache or super().exists(ident)

    def defer(self, aggregates: list[Aggregate]) -> None:
        for agg in aggregates:
            self.cache[agg.id] = agg
            self.dirty[agg.id] = agg

    def flush(self) -> int:
        aggs = list(self.dirty.values())
        counts = [(a, len(a.pending_events)) for a in aggs]
        n = sum(c for _, c in counts)
        if aggs:
            self.app.save(*aggs)
            # the snapshots the commands would have written, one by one
            self._take_snapshots(counts)
        self.dirty.clear()
        self.saved_events += n
        return n


@contextmanager
def deferred_saves(svc: BatchingService) -> Iterator[None]:
    """While active, `_record`'s save only marks the aggregates dirty."""
    original = service_core.save_or_conflict

    def defer(app: Any, aggregates: Any, request: Any) -> None:
        svc.defer(list(aggregates))
        return None

    service_core.save_or_conflict = defer  # type: ignore[assignment]
    try:
        yield
    finally:
        service_core.save_or_conflict = original


class World:
    """A proxy of the service that records the demo under world `n`'s codes."""

    def __init__(self, svc: BatchingService, n: int, on_command: Callable[[], None]) -> None:
        self._svc, self._n, self._tick = svc, n, on_command

    def __getattr__(self, name: str) -> Any:
        target = getattr(self._svc, name)
        if name == "all_codes":
            return lambda: iter(())
        if not callable(target):
            return target

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(translate(a, self._n) for a in args)
            kwargs = {k: translate(v, self._n) for k, v in kwargs.items()}
            if name in ("register_unit", "propose") and "name" in kwargs:
                kwargs["name"] = f"{kwargs['name']}（{self._n}）"
            result = target(*args, **kwargs)
            self._tick()
            return result

        return call


def quiet_logs() -> None:
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def generate(db_url: str, events: int, *, payments: int, batch: int, quiet: bool) -> dict[str, Any]:
    cfg = db.parse_db_url(db_url)
    if cfg.backend == "postgresql":
        db.create_database_if_missing(cfg)
    db.migrate(cfg)
    db.set_setting(cfg, "default_policy", DEFAULT_POLICY_ID)
    svc = BatchingService(db_url)
    commands = 0
    started = time.perf_counter()

    def tick() -> None:
        nonlocal commands
        commands += 1
        if commands % batch == 0:
            svc.flush()

    def total() -> int:
        return svc.saved_events + sum(len(a.pending_events) for a in svc.dirty.values())

    world = 0
    with deferred_saves(svc):
        while total() < events:
            w = World(svc, world, tick)
            demo.load_demo(w)  # type: ignore[arg-type]
            code = f"XJ-TIC-001-W{world}"
            w.allocate(
                code,
                category="operation",
                amount=Decimal("90000000.00"),
                fiscal_year=2026,
                doc_no=f"新财教〔2026〕{world}号",
                actor=demo.ACTOR,
                on=date(2026, 1, 5),
            )
            for k in range(payments):
                if total() >= events:
                    break
                svc.disburse(
                    code,
                    category="operation",
                    amount=Decimal(1000 + k % 97) + Decimal("0.50"),
                    fiscal_year=2026,
                    voucher=f"PZW{world}-{k:05d}",
                    actor=demo.ACTOR,
                    on=date(2026, 1, 6) + timedelta(days=k % 260),
                )
                tick()
            world += 1
            # aggregates of finished worlds are not touched again
            for ident in [i for i in svc.cache if i not in svc.dirty]:
                del svc.cache[ident]
            if not quiet and sys.stderr.isatty():
                print(f"\rgenerated {total()} events", end="", file=sys.stderr, flush=True)
        svc.flush()
        svc.cache.clear()
    elapsed = time.perf_counter() - started
    if not quiet and sys.stderr.isatty():
        print(file=sys.stderr)
    svc.close()
    return {
        "events": svc.saved_events,
        "commands": commands,
        "worlds": world,
        "seconds": elapsed,
        "events_per_s": svc.saved_events / elapsed if elapsed else 0.0,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", required=True, help="ledger URL (an empty ledger)")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--payments", type=int, default=DEFAULT_PAYMENTS)
    parser.add_argument("--batch", type=int, default=DEFAULT_BATCH)
    args = parser.parse_args()
    quiet_logs()
    out = generate(args.db, args.events, payments=args.payments, batch=args.batch, quiet=False)
    print(
        f"{out['events']} events ({out['commands']} commands, {out['worlds']} worlds) "
        f"in {out['seconds']:.1f} s: {out['events_per_s']:.0f} ev/s"
    )


if __name__ == "__main__":
    main()
