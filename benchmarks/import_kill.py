"""Issue 14's "done when" at full size (not run in CI; tests/reliability/
test_import_kill.py is the CI-sized version): an import of a 100,000-event JSON
Lines file, killed with SIGKILL at random points and run again, ends with
exactly the events of one clean import.

    .venv/bin/python benchmarks/import_kill.py [--events 100000] [--kills 5] [--batch 500]
        [--seed 14] [--pg postgresql://postgres@127.0.0.1:5432/dbname]

Without --pg it runs on SQLite files in a temporary directory; with --pg the
killed import goes to that (empty) PostgreSQL database and the clean import to
a SQLite file. Each kill lands once the ledger holds a random number of the
file's events, after a further random pause. The events are compared
without the moment they were recorded (originator, version, topic, state),
one SHA-256 over each ledger in order. Exit 0 when they are equal.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import structlog

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.importer.jsonl import read_jsonl
from ledger.importer.run import import_lines
from ledger.service import LedgerService
from ledger.store import db
from tests.import_sample import write_sample

TODAY = "2026-11-23"
LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))


def digest(url: str) -> tuple[int, str]:
    """(events, SHA-256 of every event in order, without its timestamp)."""
    svc = LedgerService(url)
    h = hashlib.sha256()
    count = 0
    try:
        start = 1
        while True:
            batch = svc.app.recorder.select_notifications(start, 5000)
            if not batch:
                break
            for n in batch:
                state = json.loads(n.state)
                state.pop("timestamp", None)
                h.update(
                    json.dumps(
                        [str(n.originator_id), n.originator_version, n.topic, state],
                        sort_keys=True,
                        ensure_ascii=False,
                    ).encode()
                )
                count += 1
            start = batch[-1].id + 1
    finally:
        svc.close()
    return count, h.hexdigest()


def head(url: str) -> int:
    with db.connect(db.parse_db_url(url)) as conn:
        row = db.fetchone(conn, "SELECT count(*) AS n FROM event_chain")
    return int(row["n"]) if row else 0


def init(url: str) -> None:
    cfg = db.parse_db_url(url)
    db.migrate(cfg)
    db.set_setting(cfg, "default_policy", "lhasa-city")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--seed", type=int, default=14)
    parser.add_argument("--pg", default=None, help="an empty PostgreSQL database for the import")
    args = parser.parse_args()
    os.environ["LEDGER_TODAY"] = TODAY
    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "sample.jsonl"
        lines = write_sample(path, args.events)
        clean_url = f"sqlite:///{tmp}/clean.db"
        init(clean_url)
        t = time.perf_counter()
        clean = import_lines(clean_url, read_jsonl(path), source=path.name, actor="bench",
                             batch_size=args.batch, catch_up=False)  # fmt: skip
        print(
            f"clean import: {lines} lines, {clean.events} events in {time.perf_counter() - t:.1f} s"
        )
        if not clean.ok:
            print(f"the sample did not import: {clean.bad[0].message}")
            return 1

        url = args.pg or f"sqlite:///{tmp}/killed.db"
        init(url)
        if head(url):
            print(f"{url} is not empty")
            return 1
        env = {**os.environ, "LEDGER_ACTOR": "bench"}
        command = [LEDGER_BIN, "--db", url, "import", str(path), "--batch", str(args.batch)]
        rng = random.Random(args.seed)
        targets = sorted(rng.sample(range(1, clean.events), args.kills))
        for target in targets:
            proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                    stderr=subprocess.DEVNULL)  # fmt: skip
            while proc.poll() is None and head(url) < target:
                time.sleep(0.05)
            pause = rng.uniform(0, 1.0)
            time.sleep(pause)
            killed = proc.poll() is None
            if killed:
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait()
            state = "killed" if killed else f"had finished (exit {proc.returncode})"
            print(f"kill at >= {target} events + {pause:.2f} s: {state}; ledger holds {head(url)}")
        t = time.perf_counter()
        final = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        print(f"final run ({time.perf_counter() - t:.1f} s): exit {final.returncode}: "
              f"{final.stdout.strip()} {final.stderr.strip()}")  # fmt: skip
        want, got = digest(clean_url), digest(url)
        same = want == got and final.returncode == 0
        print(f"clean: {want[0]} events {want[1][:16]}…; killed and re-run: {got[0]} events "
              f"{got[1][:16]}… — {'EQUAL' if same else 'DIFFERENT'}")  # fmt: skip
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
