"""Issue 14's "done when": an import killed with SIGKILL at random points and
run again ends with exactly the events of one clean import — no event twice,
none missing, the chain whole. Here with a 3,000-event file and three kills on
each backend (benchmarks/import_kill.py does it at 100,000 events).

Each kill lands at a random point of the work: once the ledger holds a random
number of the file's events, after a further random pause (inside a batch's
checking, its transaction, or the read models' catch-up at the end)."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from ledger.importer.jsonl import read_jsonl
from ledger.importer.run import import_lines
from ledger.service import LedgerService
from ledger.store import db
from tests.conftest import TODAY
from tests.import_sample import write_sample
from tests.scenario import init_ledger

LEDGER_BIN = str(Path(sys.executable).with_name("ledger"))
EVENTS = 3000
KILLS = 3


def stored_events(url: str) -> list[tuple[str, int, str, dict[str, Any]]]:
    svc = LedgerService(url)
    try:
        out = []
        for n in svc.app.recorder.select_notifications(1, 1_000_000):
            state = json.loads(n.state)
            state.pop("timestamp", None)
            out.append((str(n.originator_id), n.originator_version, n.topic, state))
        return out
    finally:
        svc.close()


def head(url: str) -> int:
    with db.connect(db.parse_db_url(url)) as conn:
        row = db.fetchone(conn, "SELECT count(*) AS n FROM event_chain")
    return int(row["n"]) if row else 0


def test_an_import_killed_at_random_points_and_run_again_records_one_clean_import(
    db_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "sample.jsonl"
    write_sample(path, EVENTS)
    clean_url = f"sqlite:///{tmp_path / 'clean.db'}"
    init_ledger(clean_url)
    clean = import_lines(clean_url, read_jsonl(path), source=path.name, actor="导入员",
                         catch_up=False)  # fmt: skip
    assert clean.ok
    total = clean.events
    assert total >= EVENTS - 10

    init_ledger(db_url)
    env = {**os.environ, "LEDGER_TODAY": TODAY, "LEDGER_ACTOR": "导入员"}
    command = [LEDGER_BIN, "--db", db_url, "import", str(path), "--batch", "150"]
    rng = random.Random(14)
    targets = sorted(rng.sample(range(1, total - total // 10), KILLS))
    seen = []
    for target in targets:
        proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE)  # fmt: skip
        deadline = time.monotonic() + 60
        while proc.poll() is None and head(db_url) < target and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(rng.uniform(0, 0.3))
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        seen.append((target, head(db_url), proc.returncode))
    # at least one kill stopped the import part way (not every run had finished)
    assert any(code == -signal.SIGKILL and n < total for _, n, code in seen), seen

    final = subprocess.run(
        [*command, "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    report = json.loads(final.stdout)
    assert report["bad"] == []
    assert report["recorded"] + report["already_recorded"] == clean.lines

    assert stored_events(db_url) == stored_events(clean_url)
    verify = subprocess.run(
        [LEDGER_BIN, "--db", db_url, "audit", "verify", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert verify.returncode == 0 and json.loads(verify.stdout)["events"] == total
    with db.connect(db.parse_db_url(db_url)) as conn:
        row = db.fetchone(conn, "SELECT count(*) AS n FROM request_log")
    assert row is not None and int(row["n"]) == clean.lines
