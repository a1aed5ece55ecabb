"""The benchmark: one run measuring the ledger on both backends, side by side
with the bare eventsourcing library doing the same writes and replay, and (on
PostgreSQL) raw psycopg COPY and scan of the same rows (not run in CI).

    .venv/bin/python benchmarks/run.py --quick        # 100k events
    .venv/bin/python benchmarks/run.py --full         # 1M events
    .venv/bin/python benchmarks/run.py --events 20000 --backend sqlite

For each backend it generates a ledger (``benchmarks/generate.py``), then
measures:

- recording: the generator's ev/s (every command through ``LedgerService``,
  saved many aggregates a transaction); the bare library saving the same
  stored events into its own plain recorder, as many per transaction; raw
  ``COPY`` of the same rows (PostgreSQL);
- replay: the bare library reading and decoding every event; a raw scan;
- ``projections rebuild``, ``projections verify``, ``audit verify`` from the
  command line: ev/s, wall time, peak RSS of the process;
- one payment in-process (p50/p99) on a fresh platform and on a platform with
  ``--long`` payments, and one from the command line;
- queries from the command line (p50/p99): ``debarred --as-of``,
  ``eligibility``, ``platform show --as-of``, ``history --platform``,
  ``funds summary``; ``ledger --help``.

It writes ``benchmarks/results/<date>-<events>.md`` and ``.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as platform_mod
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(HERE))
os.environ.setdefault("LEDGER_TODAY", "2026-09-30")

import generate  # noqa: E402
from eventsourcing.persistence import StoredEvent  # noqa: E402

from ledger.service import LedgerService  # noqa: E402
from ledger.store import db  # noqa: E402
from ledger.store.codec import event_mapper  # noqa: E402

LEDGER = str(Path(sys.executable).parent / "ledger")
PG_DEFAULT = "postgresql://postgres@127.0.0.1:5432"
# events a transaction of the bare library's save, for a ledger given with
# --db (the generator's ~400 commands a transaction save about this many)
EXISTING_PER_TX = 650
ACTOR = "bench"


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def ms(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(pct(values, 0.5) * 1000, 1),
        "p99_ms": round(pct(values, 0.99) * 1000, 1),
        "n": len(values),
    }


def run_cli(url: str, *args: str) -> tuple[float, str]:
    """Wall seconds and stdout of one `ledger` process."""
    env = {**os.environ, "LEDGER_DB": url, "LEDGER_ACTOR": ACTOR}
    started = time.perf_counter()
    proc = subprocess.Popen(
        [LEDGER, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate()
    elapsed = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        msg = f"ledger {' '.join(args)} failed ({proc.returncode}): {err.decode()[:300]}"
        raise RuntimeError(msg)
    return elapsed, out.decode()


# Runs `ledger` in this interpreter and reports the process's own peak RSS
# (VmHWM: the high-water mark of its memory, not counting the runner that
# spawned it, which ru_maxrss would after a fork) on stderr at exit.
_RSS_WRAPPER = """
import atexit, sys
def _report():
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                sys.stderr.write("\\nVMHWM_KB " + line.split()[1] + "\\n")
atexit.register(_report)
sys.argv = ["ledger", *sys.argv[1:]]
from cli import main
main()
"""


def run_cli_rss(url: str, *args: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (MiB) of one `ledger` process."""
    env = {**os.environ, "LEDGER_DB": url, "LEDGER_ACTOR": ACTOR}
    started = time.perf_counter()
    proc = subprocess.run(
        [sys.executable, "-c", _RSS_WRAPPER, *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    elapsed = time.perf_counter() - started
    if proc.returncode != 0:
        msg = f"ledger {' '.join(args)} exited {proc.returncode}: {proc.stderr.decode()[-300:]}"
        raise RuntimeError(msg)
    kib = [
        int(line.split()[1])
        for line in proc.stderr.decode().splitlines()
        if line.startswith("VMHWM_KB")
    ]
    return elapsed, (kib[-1] // 1024) if kib else -1


def stored_events(url: str) -> list[StoredEvent]:
    """Every stored event of the ledger, in order (the rows the bare library re-saves)."""
    svc = LedgerService(url)
    out: list[StoredEvent] = []
    start = 1
    while True:
        batch = svc.app.recorder.select_notifications(start, 5000)
        if not batch:
            break
        out += [
            StoredEvent(
                originator_id=n.originator_id,
                originator_version=n.originator_version,
                topic=n.topic,
                state=n.state,
            )
            for n in batch
        ]
        start = batch[-1].id + 1
    svc.close()
    return out


def bare_library(backend: str, url: str, events: list[StoredEvent], per_tx: int) -> dict[str, Any]:
    """The bare library: its plain application recorder (no chain) saving the
    same stored events, `per_tx` per transaction, then replaying them (read
    and decode every event)."""
    from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
    from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteDatastore

    tmp = None
    if backend == "sqlite":
        tmp = tempfile.mkdtemp(prefix="bare-")
        datastore: Any = SQLiteDatastore(str(Path(tmp) / "bare.db"))
        recorder: Any = SQLiteApplicationRecorder(datastore, "bare_events")
    else:
        cfg = db.parse_db_url(url)
        datastore = PostgresDatastore(
            dbname=cfg.dbname,
            host=cfg.host,
            port=str(cfg.port),
            user=cfg.user,
            password=cfg.password,
        )
        recorder = PostgresApplicationRecorder(datastore, events_table_name="bare_events")
        with datastore.transaction(commit=True) as curs:
            curs.execute("DROP TABLE IF EXISTS bare_events")
    recorder.create_table()
    started = time.perf_counter()
    for i in range(0, len(events), per_tx):
        recorder.insert_events(events[i : i + per_tx])
    write_s = time.perf_counter() - started
    mapper = event_mapper()
    started = time.perf_counter()
    n, start = 0, 1
    while True:
        batch = recorder.select_notifications(start, 500)
        if not batch:
            break
        for note in batch:
            mapper.to_domain_event(note)
        n += len(batch)
        start = batch[-1].id + 1
    replay_s = time.perf_counter() - started
    if backend == "postgresql":
        with datastore.transaction(commit=True) as curs:
            curs.execute("DROP TABLE IF EXISTS bare_events")
    datastore.close()
    if tmp:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "bare_write_ev_s": round(len(events) / write_s),
        "bare_replay_ev_s": round(n / replay_s),
        "bare_events_per_tx": per_tx,
    }


def raw_pg(url: str, events: list[StoredEvent]) -> dict[str, Any]:
    """psycopg COPY of the same rows into a plain table, and a scan of them."""
    import psycopg

    cfg = db.parse_db_url(url)
    with psycopg.connect(dbname=cfg.dbname, host=cfg.host, port=cfg.port, user=cfg.user) as conn:
        conn.execute("DROP TABLE IF EXISTS raw_events")
        conn.execute(
            "CREATE TABLE raw_events (id bigserial PRIMARY KEY, originator_id uuid, "
            "originator_version int, topic text, state bytea, "
            "UNIQUE (originator_id, originator_version))"
        )
        conn.commit()
        started = time.perf_counter()
        with (
            conn.cursor() as cur,
            cur.copy(
                "COPY raw_events (originator_id, originator_version, topic, state) FROM STDIN"
            ) as copy,
        ):
            for s in events:
                copy.write_row((s.originator_id, s.originator_version, s.topic, s.state))
        conn.commit()
        copy_s = time.perf_counter() - started
        started = time.perf_counter()
        n = 0
        with conn.cursor(name="scan") as cur:
            cur.itersize = 5000
            cur.execute(
                "SELECT id, originator_id, originator_version, topic, state "
                "FROM raw_events ORDER BY id"
            )
            for _ in cur:
                n += 1
        scan_s = time.perf_counter() - started
        conn.execute("DROP TABLE raw_events")
        conn.commit()
    return {"raw_copy_ev_s": round(len(events) / copy_s), "raw_scan_ev_s": round(n / scan_s)}


def long_platform(url: str, payments: int) -> tuple[str, str]:
    """A platform with `payments` payments and a fresh one, both funded:
    (long code, fresh code)."""
    svc = generate.BatchingService(url)
    unit = generate.world_unit(next(iter(generate._DEMO_UNITS)), 99999)
    with generate.deferred_saves(svc):
        svc.register_unit(
            unit,
            name="基准测试单位有限公司",
            unit_type="enterprise",
            high_tech=True,
            aliases=[],
            actor=ACTOR,
            on=date(2024, 1, 2),
        )
        for code in ("BENCH-LONG", "BENCH-FRESH"):
            svc.propose(
                code,
                name=f"基准平台{code}",
                kind="key-laboratory",
                level="city",
                host=unit,
                co_builders=[],
                actor=ACTOR,
                policy="lhasa-city",
                on=date(2024, 1, 10),
            )
            svc.approve(code, doc_no="拉科发〔2024〕99号", actor=ACTOR, on=date(2024, 3, 1))
            svc.allocate(
                code,
                category="operation",
                amount=Decimal("900000000.00"),
                fiscal_year=2026,
                doc_no="拉财教〔2026〕99号",
                actor=ACTOR,
                on=date(2026, 1, 5),
            )
        for k in range(payments):
            svc.disburse(
                "BENCH-LONG",
                category="operation",
                amount=Decimal("100.00"),
                fiscal_year=2026,
                voucher=f"BL-{k:06d}",
                actor=ACTOR,
                on=date(2026, 2, 1),
            )
            if k % 400 == 399:
                svc.flush()
        svc.flush()
    svc.close()
    return "BENCH-LONG", "BENCH-FRESH"


def one_payment(url: str, codes: tuple[str, str], reps: int) -> dict[str, Any]:
    """One payment in-process on each platform (interleaved), p50/p99."""
    svc = LedgerService(url)
    times: dict[str, list[float]] = {c: [] for c in codes}
    for k in range(reps):
        for code in codes:
            started = time.perf_counter()
            svc.disburse(
                code,
                category="operation",
                amount=Decimal("1.00"),
                fiscal_year=2026,
                voucher=f"OP-{code}-{k}",
                actor=ACTOR,
                on=date(2026, 3, 1),
            )
            times[code].append(time.perf_counter() - started)
    svc.close()
    long_, fresh = (ms(times[c]) for c in codes)
    return {
        "payment_long_history": long_,
        "payment_fresh": fresh,
        "payment_ratio_p50": round(long_["p50_ms"] / fresh["p50_ms"], 2),
    }


def timed_cli(url: str, reps: int, *args: str) -> dict[str, Any]:
    return ms([run_cli(url, *args)[0] for _ in range(reps)])


def payment_only(backend: str, url: str, *, long: int, reps: int) -> dict[str, Any]:
    """Only the one-payment figure, on an empty ledger (``--only payment``)."""
    cfg = db.parse_db_url(url)
    if cfg.backend == "postgresql":
        db.create_database_if_missing(cfg)
    db.migrate(cfg)
    db.set_setting(cfg, "default_policy", generate.DEFAULT_POLICY_ID)
    print(f"[{backend}] one payment ({long} payments on the long platform)", file=sys.stderr)
    res: dict[str, Any] = {"backend": backend, "events": 0, "long_history_payments": long}
    res.update(one_payment(url, long_platform(url, long), reps))
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return res


def measure(
    backend: str,
    url: str,
    events: int,
    *,
    long: int,
    reps: int,
    replays_only: bool = False,
    existing: bool = False,
) -> dict[str, Any]:
    res: dict[str, Any] = {"backend": backend}
    if existing:
        # a ledger generated before (--db): its events, saved as the generator does
        per_tx = EXISTING_PER_TX
    else:
        print(f"[{backend}] generating {events} events", file=sys.stderr, flush=True)
        gen = generate.generate(
            url,
            events,
            payments=generate.DEFAULT_PAYMENTS,
            batch=generate.DEFAULT_BATCH,
            quiet=True,
        )
        res["record_ev_s"] = round(gen["events_per_s"])
        per_tx = max(1, round(gen["events"] / max(1, gen["commands"] / generate.DEFAULT_BATCH)))
    rows = stored_events(url)
    res["events"] = len(rows)
    print(f"[{backend}] bare library", file=sys.stderr, flush=True)
    res.update(bare_library(backend, url, rows, per_tx))
    if backend == "postgresql":
        res.update(raw_pg(url, rows))
    n = len(rows)
    del rows

    def cli_rate(name: str, *args: str) -> None:
        print(f"[{backend}] {name}", file=sys.stderr, flush=True)
        wall, rss = run_cli_rss(url, *args)
        res[name] = {
            "ev_s": round(n / wall),
            "seconds": round(wall, 2),
            "peak_rss_mb": rss,
            "load_1min": round(os.getloadavg()[0], 2),
        }

    cli_rate("catch_up", "debarred")  # a query catches the models up first
    cli_rate("rebuild", "projections", "rebuild")
    cli_rate("projections_verify", "projections", "verify")
    cli_rate("audit_verify", "audit", "verify")
    with tempfile.TemporaryDirectory(prefix="ledger-bench-export-") as tmp:
        cli_rate("audit_export", "audit", "export", "--out", str(Path(tmp) / "export.jsonl"))
    for key in ("rebuild", "projections_verify", "audit_verify", "audit_export"):
        res[key]["x_bare_replay"] = round(res[key]["ev_s"] / res["bare_replay_ev_s"], 2)
    if replays_only:
        return res

    print(f"[{backend}] one payment", file=sys.stderr, flush=True)
    codes = long_platform(url, long)
    res["long_history_payments"] = long
    res.update(one_payment(url, codes, reps))
    run_cli(url, "projections", "status")
    res["payment_cli"] = ms(
        [
            run_cli(
                url,
                "funds",
                "disburse",
                codes[1],
                "--category",
                "operation",
                "--amount",
                "1.00",
                "--fiscal-year",
                "2026",
                "--voucher",
                f"CLI-{k}",
                "--on",
                "2026-03-02",
            )[0]
            for k in range(max(3, reps // 4))
        ]
    )

    print(f"[{backend}] queries", file=sys.stderr, flush=True)
    unit = generate.world_unit(next(iter(generate._DEMO_UNITS)), 0)
    q = max(3, reps // 4)
    res["queries"] = {
        "ledger --help": timed_cli(url, q, "--help"),
        "debarred --as-of": timed_cli(url, q, "debarred", "--as-of", "2026-06-30"),
        "eligibility": timed_cli(url, q, "eligibility", unit, "--as-of", "2026-06-30"),
        "platform show --as-of": timed_cli(
            url, q, "platform", "show", "LS-KL-001-W0", "--as-of", "2025-06-30"
        ),
        "history --platform": timed_cli(url, q, "history", "--platform", "XJ-TIC-001-W0"),
        "funds summary": timed_cli(url, q, "funds", "summary", "XJ-TIC-001-W0"),
    }
    res["runner_peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    res["load_after"] = [round(x, 2) for x in os.getloadavg()]
    return res


def markdown(report: dict[str, Any]) -> str:
    lines = [
        f"# Benchmark, {report['backends'][0].get('events', report['events_asked'])} events"
        if report["backends"]
        else f"# Benchmark, {report['events_asked']} events",
        "",
        f"Taken {report['taken_at']} on {report['machine']}"
        + (
            f"; load average {report['load_at_start']} at the start."
            if "load_at_start" in report
            else "."
        ),
        "",
        "| figure | " + " | ".join(r["backend"] for r in report["backends"]) + " |",
        "| --- | " + " | ".join("---" for _ in report["backends"]) + " |",
    ]

    def row(label: str, get: Callable[[dict[str, Any]], Any]) -> None:
        cells = []
        for r in report["backends"]:
            try:
                cells.append(str(get(r)))
            except (KeyError, TypeError):
                cells.append("–")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")

    row("events", lambda r: r["events"])
    row("record (service, batched) ev/s", lambda r: r["record_ev_s"])
    row(
        "bare library save ev/s", lambda r: f"{r['bare_write_ev_s']} ({r['bare_events_per_tx']}/tx)"
    )
    row("raw COPY ev/s", lambda r: r["raw_copy_ev_s"])
    row("bare library replay ev/s", lambda r: r["bare_replay_ev_s"])
    row("raw scan ev/s", lambda r: r["raw_scan_ev_s"])
    for key, label in (
        ("catch_up", "catch-up from empty"),
        ("rebuild", "`projections rebuild`"),
        ("projections_verify", "`projections verify`"),
        ("audit_verify", "`audit verify`"),
        ("audit_export", "`audit export`"),
    ):
        row(
            f"{label} ev/s (× bare replay; s; peak RSS MB; load)",
            lambda r, k=key: (
                f"{r[k]['ev_s']} ({r[k].get('x_bare_replay', '–')}×; {r[k]['seconds']} s; "
                f"{r[k]['peak_rss_mb']} MB; {r[k].get('load_1min', '–')})"
            ),
        )
    row(
        "one payment in-process, fresh platform p50/p99 ms",
        lambda r: f"{r['payment_fresh']['p50_ms']} / {r['payment_fresh']['p99_ms']}",
    )
    row(
        "one payment in-process, long platform p50/p99 ms",
        lambda r: (
            f"{r['payment_long_history']['p50_ms']} / {r['payment_long_history']['p99_ms']} "
            f"({r['long_history_payments']} payments; ×{r['payment_ratio_p50']})"
        ),
    )
    row(
        "one payment from the CLI p50/p99 ms",
        lambda r: f"{r['payment_cli']['p50_ms']} / {r['payment_cli']['p99_ms']}",
    )
    row("load average after (1, 5, 15 min)", lambda r: ", ".join(map(str, r["load_after"])))
    for name in report["backends"][0].get("queries", ()):
        row(
            f"`{name}` p50/p99 ms",
            lambda r, n=name: f"{r['queries'][n]['p50_ms']} / {r['queries'][n]['p99_ms']}",
        )
    row("runner peak RSS MB", lambda r: r["runner_peak_rss_mb"])
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100k events")
    parser.add_argument("--full", action="store_true", help="1M events")
    parser.add_argument("--events", type=int)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--pg", default=os.environ.get("LEDGER_BENCH_PG", PG_DEFAULT))
    parser.add_argument("--long", type=int, default=2000, help="payments on the long platform")
    parser.add_argument("--reps", type=int, default=40)
    parser.add_argument(
        "--only",
        choices=("payment",),
        help="only this figure, on an empty ledger (payment: one payment, fresh vs long platform)",
    )
    parser.add_argument("--report", type=Path, help="print the Markdown of a results .json")
    parser.add_argument(
        "--db",
        help="measure this ledger (generated before by benchmarks/generate.py; its read "
        "models are rebuilt) instead of generating one",
    )
    parser.add_argument(
        "--replays-only",
        action="store_true",
        help="only the replay figures (bare replay, catch-up, rebuild, verify, audit verify)",
    )
    args = parser.parse_args()
    if args.report:
        print(markdown(json.loads(args.report.read_text())))
        return
    generate.quiet_logs()
    events = 0 if args.only else args.events or (1_000_000 if args.full else 100_000)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    backends = ["sqlite", "postgresql"] if args.backend == "both" else [args.backend]
    work = Path(tempfile.mkdtemp(prefix="ledger-bench-"))
    report: dict[str, Any] = {
        "events_asked": events,
        "load_before": [round(x, 2) for x in os.getloadavg()],
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "load_at_start": [round(x, 2) for x in os.getloadavg()],
        "machine": f"{platform_mod.node()}: {platform_mod.platform()}, {os.cpu_count()} CPUs, "
        f"Python {platform_mod.python_version()}",
        "backends": [],
    }
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    base = out / (f"{stamp}-{args.only}" if args.only else f"{stamp}-{events}")

    def named(report: dict[str, Any]) -> Path:
        """The results' file name: a ledger given with --db is named after the
        events it holds and its backend (not the --events default)."""
        if not args.db or not report["backends"]:
            return base
        first = report["backends"][0]
        tail = "-replays" if args.replays_only else ""
        return out / f"{stamp}-{first.get('events', 0)}-{first['backend']}{tail}"

    if args.db:
        backends = [db.parse_db_url(args.db).backend]
    for backend in backends:
        if args.db:
            url = args.db
        elif backend == "sqlite":
            url = f"sqlite:///{work / 'bench.db'}"
        else:
            url = f"{args.pg.rstrip('/')}/ledger_bench_{stamp.lower()}"
        if args.only == "payment":
            report["backends"].append(payment_only(backend, url, long=args.long, reps=args.reps))
        else:
            report["backends"].append(
                measure(
                    backend,
                    url,
                    events,
                    long=args.long,
                    reps=args.reps,
                    replays_only=args.replays_only,
                    existing=bool(args.db),
                )
            )
        # written after each backend, so that a long run keeps what it measured
        named(report).with_suffix(".json").write_text(
            json.dumps(report, indent=2, ensure_ascii=False) + "\n"
        )
        if backend == "postgresql" and not args.db:
            import psycopg

            cfg = db.parse_db_url(url)
            with psycopg.connect(
                dbname="postgres", host=cfg.host, port=cfg.port, user=cfg.user, autocommit=True
            ) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{cfg.dbname}"')
    shutil.rmtree(work, ignore_errors=True)
    named(report).with_suffix(".json").write_text(
        json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    )
    text = markdown(report)
    named(report).with_suffix(".md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
