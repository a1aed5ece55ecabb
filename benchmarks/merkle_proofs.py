"""Measure Merkle proofs and audit packs (issue 16; not run in CI).

1. **A proof at 1M leaves.** A ``merkle_nodes`` table of a tree of ``--leaves``
   leaves (default 1,048,576; synthetic leaf hashes: a proof reads nodes only)
   is written into a SQLite file (and PostgreSQL with ``--pg``); then inclusion
   proofs at random leaves and consistency proofs between random sizes are
   built the way ``ledger audit prove`` builds them — the addresses a proof
   needs, one query for the nodes, the proof assembled — and verified.
2. **A pack of one platform.** The demo ledger plus ``--extra`` recorded
   events (unit registrations, so the tree is larger), a signed tree head,
   then ``build_pack`` of one platform and of the whole ledger, timed.

    .venv/bin/python benchmarks/merkle_proofs.py [--leaves N] [--proofs 200] [--extra 2000]
        [--pg postgresql://postgres@127.0.0.1:5432] [--ledger-events 1000000]
        [--ledger-events-pg 1000000] [--only-ledgers]

3. With ``--ledger-events N``: a SQLite ledger of N synthetic events (written
   straight into the tables, with their true chain hashes), its tree appended
   from empty, a signed tree head, and ``prove`` timed end to end; with
   ``--ledger-events-pg N`` the same on PostgreSQL (the trigger computes the
   chain rows, encoding 2, so the leaves carry the login and server time).

Prints figures (medians and 95th percentiles of wall time per proof).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import platform
import random
import sqlite3
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from aggregates.platform import platform_id
from aggregates.values import credit_code_check_char
from ledger import audit
from ledger.audit import merkle_store, proofs, verify_pack
from ledger.audit.merkle import (
    CompactRange,
    DictNodeStore,
    NodeAddr,
    consistency_addresses,
    consistency_proof_at,
    inclusion_addresses,
    inclusion_proof_at,
    needed_addresses,
    root_addresses,
    verify_consistency,
    verify_inclusion,
)
from ledger.audit.merkle_store import fetch_nodes
from ledger.audit.pack import build_pack
from ledger.demo import load_demo
from ledger.service import LedgerService
from ledger.store.db import migrate, parse_db_url, set_setting

Query = Callable[[str, Sequence[Any]], list[tuple[Any, ...]]]


def build_nodes(leaves: int) -> list[tuple[int, int, bytes]]:
    """Every node of a tree of ``leaves`` synthetic leaf hashes."""
    frontier = CompactRange()
    rows: list[tuple[int, int, bytes]] = []
    for i in range(leaves):
        for addr, h in frontier.append(hashlib.sha256(i.to_bytes(8, "big")).digest()):
            rows.append((addr.level, addr.idx, h))
    return rows


def sqlite_table(path: Path, rows: list[tuple[int, int, bytes]]) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(
        "CREATE TABLE merkle_nodes (level INTEGER NOT NULL, idx INTEGER NOT NULL, "
        "hash BLOB NOT NULL, PRIMARY KEY (level, idx)) WITHOUT ROWID"
    )
    conn.execute("BEGIN")
    conn.executemany("INSERT INTO merkle_nodes VALUES (?, ?, ?)", rows)
    conn.execute("COMMIT")
    return conn


def pg_table(url: str, rows: list[tuple[int, int, bytes]]) -> tuple[psycopg.Connection[Any], str]:
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{url}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    conn = psycopg.connect(f"{url}/{name}", autocommit=True)
    conn.execute(
        "CREATE TABLE merkle_nodes (level smallint NOT NULL, idx bigint NOT NULL, "
        "hash bytea NOT NULL, PRIMARY KEY (level, idx))"
    )
    with conn.cursor() as cur, cur.copy("COPY merkle_nodes (level, idx, hash) FROM STDIN") as cp:
        for r in rows:
            cp.write_row(r)
    conn.execute("ANALYZE merkle_nodes")
    return conn, name


def query_of(conn: Any) -> Query:
    if isinstance(conn, sqlite3.Connection):
        return lambda sql, params: [tuple(r) for r in conn.execute(sql, tuple(params))]
    return lambda sql, params: [
        tuple(r) for r in conn.execute(sql.replace("?", "%s"), tuple(params)).fetchall()
    ]


def figures(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[int(len(ms) * 0.95) - 1]
    return f"median {statistics.median(ms):.2f} ms, p95 {p95:.2f} ms, max {ms[-1]:.2f} ms"


def bench_proofs(label: str, q: Query, leaves: int, n: int, rng: random.Random) -> None:
    root_store = fetch_nodes(q, root_addresses(leaves))
    root = CompactRange.from_store(root_store, leaves).root()
    inclusion: list[float] = []
    for _ in range(n):
        index = rng.randrange(leaves)
        t0 = time.perf_counter()
        groups = inclusion_addresses(index, leaves)
        store = fetch_nodes(q, needed_addresses([*groups, [NodeAddr(0, index)]]))
        path = inclusion_proof_at(store, index, leaves)
        leaf = store.get(0, index)
        inclusion.append(time.perf_counter() - t0)
        if not verify_inclusion(leaf, index, leaves, path, root):
            raise SystemExit(f"{label}: the inclusion proof of leaf {index} does not verify")
    consistency: list[float] = []
    for _ in range(n):
        old = rng.randrange(1, leaves)
        t0 = time.perf_counter()
        groups = consistency_addresses(old, leaves)
        store = fetch_nodes(q, needed_addresses([*groups, root_addresses(old)]))
        path = consistency_proof_at(store, old, leaves)
        old_root = DictNodeStore(store.nodes)
        consistency.append(time.perf_counter() - t0)
        old_hash = CompactRange.from_store(old_root, old).root()
        if not verify_consistency(old, leaves, old_hash, root, path):
            raise SystemExit(f"{label}: the consistency proof from {old} does not verify")
    print(f"- {label}, {leaves:,} leaves: inclusion proof {figures(inclusion)}")
    print(f"- {label}, {leaves:,} leaves: consistency proof {figures(consistency)}")


def bench_pack(url: str, extra: int, tmp: Path) -> None:
    migrate(parse_db_url(url))
    set_setting(parse_db_url(url), "default_policy", "lhasa-city")
    svc = LedgerService(url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    svc = LedgerService(url)
    t0 = time.perf_counter()
    try:
        for i in range(extra):
            first17 = f"91540100MA{i:07d}"
            svc.register_unit(
                first17 + credit_code_check_char(first17),
                name=f"基准单位{i}",
                unit_type="enterprise",
                high_tech=False,
                aliases=[],
                actor="bench",
                on=date(2025, 1, 2),
            )
    finally:
        svc.close()
    recorded = time.perf_counter() - t0
    cfg = parse_db_url(url)
    merkle_store.ensure(cfg)
    key = tmp / f"k{uuid.uuid4().hex[:6]}.pem"
    audit.keygen(key)
    t0 = time.perf_counter()
    head = audit.checkpoint(cfg, key)
    signed = time.perf_counter() - t0
    rng = random.Random(7)
    proving: list[float] = []
    for _ in range(30):
        t0 = time.perf_counter()
        proofs.prove(cfg, rng.randrange(1, head["tree_size"] + 1))
        proving.append(time.perf_counter() - t0)
    times: list[float] = []
    for _ in range(5):
        t0 = time.perf_counter()
        pack = build_pack(cfg, platform="LS-KL-001")
        times.append(time.perf_counter() - t0)
    t0 = time.perf_counter()
    whole = build_pack(cfg)
    whole_s = time.perf_counter() - t0
    print(
        f"- {cfg.backend}: {head['tree_size']:,} events ({extra:,} recorded in {recorded:.1f} s, "
        f"{extra / recorded:.0f}/s with the tree), checkpoint {signed:.2f} s"
    )
    print(f"- {cfg.backend}: `prove` (the library call, connection to proof) {figures(proving)}")
    print(
        f"- {cfg.backend}: pack of platform LS-KL-001 ({len(pack['events'])} events): "
        f"{figures(times)}; pack of the whole ledger ({len(whole['events']):,} events): "
        f"{whole_s:.2f} s"
    )


def bench_ledger(events: int, tmp: Path, n: int) -> None:
    """A SQLite ledger of ``events`` synthetic events written straight into
    ledger_events and event_chain (with their true chain hashes), its tree
    appended by ``ensure``, a signed tree head, then ``prove`` end to end."""
    from ledger.store.chain import GENESIS_HASH, next_chain_hash

    url = f"sqlite:///{tmp / 'big.db'}"
    cfg = parse_db_url(url)
    migrate(cfg)
    conn = sqlite3.connect(cfg.sqlite_abspath, isolation_level=None)
    t0 = time.perf_counter()
    prev = GENESIS_HASH
    conn.execute("BEGIN")
    for start in range(1, events + 1, 10_000):
        ev, ch = [], []
        for seq in range(start, min(start + 10_000, events + 1)):
            oid = uuid.UUID(int=seq)
            state = b'{"amount":{"_type_":"decimal_str","_data_":"%d.00"}}' % seq
            topic = "aggregates.platform:Platform.FundsDisbursed"
            prev = next_chain_hash(prev, seq, seq, oid, 1, topic, state)
            ev.append((oid.hex, 1, topic, state))
            ch.append((seq, seq, prev))
        conn.executemany(
            "INSERT INTO ledger_events (originator_id, originator_version, topic, state) "
            "VALUES (?, ?, ?, ?)",
            ev,
        )
        conn.executemany(
            "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (?, ?, ?)", ch
        )
    conn.execute("COMMIT")
    conn.close()
    written = time.perf_counter() - t0
    t0 = time.perf_counter()
    merkle_store.ensure(cfg)
    appended = time.perf_counter() - t0
    key = tmp / "big.pem"
    audit.keygen(key)
    t0 = time.perf_counter()
    audit.checkpoint(cfg, key)
    signed = time.perf_counter() - t0
    rng = random.Random(3)
    proving: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter()
        proof = proofs.prove(cfg, rng.randrange(1, events + 1))
        proving.append(time.perf_counter() - t0)
        if not proofs.verify_proof(proof)["ok"]:
            raise SystemExit("a proof of the synthetic ledger does not verify")
    print(
        f"- SQLite ledger of {events:,} events (written in {written:.0f} s): tree appended "
        f"from empty in {appended:.1f} s, checkpoint (chain and every node checked) "
        f"{signed:.1f} s, `prove` end to end {figures(proving)}"
    )


def bench_ledger_pg(base: str, events: int, tmp: Path, n: int) -> None:
    """The same on PostgreSQL: N synthetic events COPYed into ledger_events in
    batches of 10,000 — the database's trigger computes their chain rows
    (encoding 2: login and server time) — then the tree appended from empty
    (encoding 2 leaves), a signed tree head, ``prove`` end to end, and a pack
    of one aggregate's history."""
    name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        cfg = parse_db_url(f"{base}/{name}")
        migrate(cfg)
        t0 = time.perf_counter()
        with psycopg.connect(f"{base}/{name}") as conn:
            for start in range(1, events + 1, 10_000):
                with (
                    conn.cursor() as cur,
                    cur.copy(
                        "COPY ledger_events (originator_id, originator_version, topic, state) "
                        "FROM STDIN"
                    ) as cp,
                ):
                    for seq in range(start, min(start + 10_000, events + 1)):
                        # 1,000 aggregates of 1,000 versions: a history per aggregate
                        agg, version = divmod(seq - 1, 1000)
                        cp.write_row(
                            (
                                platform_id(f"BENCH-{agg:04d}"),
                                version + 1,
                                "aggregates.platform:Platform.FundsDisbursed",
                                b'{"amount":{"_type_":"decimal_str","_data_":"%d.00"},'
                                b'"category":"operation","fiscal_year":2026}' % seq,
                            )
                        )
                conn.commit()
        written = time.perf_counter() - t0
        t0 = time.perf_counter()
        merkle_store.ensure(cfg)
        appended = time.perf_counter() - t0
        key = tmp / "bigpg.pem"
        audit.keygen(key)
        t0 = time.perf_counter()
        head = audit.checkpoint(cfg, key)
        signed = time.perf_counter() - t0
        rng = random.Random(3)
        proving: list[float] = []
        for _ in range(n):
            t0 = time.perf_counter()
            proof = proofs.prove(cfg, rng.randrange(1, events + 1))
            proving.append(time.perf_counter() - t0)
            if not proofs.verify_proof(proof)["ok"] or proof["event"].get("encoding") != 2:
                raise SystemExit("a proof of the synthetic PostgreSQL ledger does not verify")
        packing: list[float] = []
        for _ in range(5):
            t0 = time.perf_counter()
            pack = build_pack(cfg, platform=f"BENCH-{rng.randrange(events // 1000):04d}")
            packing.append(time.perf_counter() - t0)
        if "ok:" not in verify_pack.verify(pack, head["key_id"], []):
            raise SystemExit("the pack of the synthetic PostgreSQL ledger does not verify")
        print(
            f"- PostgreSQL ledger of {events:,} events: pack of one platform's history "
            f"({len(pack['events']):,} events) {figures(packing)}"
        )
        print(
            f"- PostgreSQL ledger of {events:,} events (COPYed, chain rows by the trigger, "
            f"in {written:.0f} s): tree appended from empty (encoding 2 leaves) in "
            f"{appended:.1f} s, checkpoint {signed:.1f} s (tree size {head['tree_size']:,}), "
            f"`prove` end to end {figures(proving)}"
        )
    finally:
        with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--leaves", type=int, default=1 << 20)
    parser.add_argument("--proofs", type=int, default=200)
    parser.add_argument("--extra", type=int, default=2000)
    parser.add_argument("--pg", default=None, help="postgresql://user@host:port (no database)")
    parser.add_argument(
        "--ledger-events",
        type=int,
        default=0,
        help="also a SQLite ledger of this many events: `prove` end to end",
    )
    parser.add_argument(
        "--ledger-events-pg",
        type=int,
        default=0,
        help="also a PostgreSQL ledger of this many events (needs --pg)",
    )
    parser.add_argument("--only-ledgers", action="store_true", help="skip parts 1 and 2")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    print(f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}, {date.today()}")
    if args.only_ledgers:
        with tempfile.TemporaryDirectory() as d:
            if args.ledger_events:
                bench_ledger(args.ledger_events, Path(d), 50)
            if args.ledger_events_pg and args.pg:
                bench_ledger_pg(args.pg, args.ledger_events_pg, Path(d), 50)
        return
    rng = random.Random(16)
    t0 = time.perf_counter()
    rows = build_nodes(args.leaves)
    print(
        f"- built {len(rows):,} nodes of {args.leaves:,} leaves in {time.perf_counter() - t0:.1f} s"
    )
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        conn = sqlite_table(tmp / "nodes.db", rows)
        bench_proofs("SQLite", query_of(conn), args.leaves, args.proofs, rng)
        conn.close()
        if args.pg:
            pconn, name = pg_table(args.pg, rows)
            try:
                bench_proofs("PostgreSQL", query_of(pconn), args.leaves, args.proofs, rng)
            finally:
                pconn.close()
                with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        del rows
        if args.ledger_events:
            bench_ledger(args.ledger_events, tmp, 50)
        if args.ledger_events_pg and args.pg:
            bench_ledger_pg(args.pg, args.ledger_events_pg, tmp, 50)
        bench_pack(f"sqlite:///{tmp / 'ledger.db'}", args.extra, tmp)
        if args.pg:
            name = f"ledger_bench_{uuid.uuid4().hex[:8]}"
            with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
                admin.execute(f'CREATE DATABASE "{name}"')
            try:
                bench_pack(f"{args.pg}/{name}", args.extra, tmp)
            finally:
                with psycopg.connect(f"{args.pg}/postgres", autocommit=True) as admin:
                    admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
