"""Idempotency under concurrency: the same `--request-id` with the same
arguments, started together in real processes, succeeds every time and records
once (issue 12). Before the fix, 20 of 80 exited 1 "voucher already used": a twin
recorded between a process's first look at the request log and its own rule check.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest

from ledger.service import LedgerService
from tests.scenario import event_count, events_since, funded, init_ledger, register_all

WRITERS = 8
ROUNDS = 3

# A real `ledger` process that has imported everything, says so, then waits for
# the starting signal: the writers then really start together (on a loaded
# machine, interpreter start-up alone would spread them over seconds).
STARTER = """
import os, sys, time
import cli, commands.funds, ledger.reads, ledger.service
ready, go = sys.argv[1], sys.argv[2]
open(ready, "w").close()
while not os.path.exists(go):
    time.sleep(0.002)
sys.argv = ["ledger", *sys.argv[3:]]
cli.main()
"""


def _ledger(url: str, *args: str, gate: tuple[Path, Path] | None = None) -> subprocess.Popen[str]:
    env = {**os.environ, "LEDGER_TODAY": "2026-11-23", "LEDGER_ACTOR": "王会计"}
    env.pop("LEDGER_DB", None)
    head = [sys.executable, "-m", "cli"]
    if gate is not None:
        head = [sys.executable, "-c", STARTER, str(gate[0]), str(gate[1])]
    return subprocess.Popen(
        [*head, "--db", url, *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_one_request_id_started_together_succeeds_every_time_and_records_once(
    db_url: str, tmp_path: Path
) -> None:
    # given a funded platform
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        register_all(svc)
        funded(svc)
        start = event_count(svc)
    finally:
        svc.close()

    outcomes: list[tuple[int, str]] = []
    for r in range(ROUNDS):
        # when eight identical payments with one request id start together
        args = [
            "funds",
            "disburse",
            "LS-KL-001",
            "--category",
            "operation",
            "--amount",
            "100.00",
            "--fiscal-year",
            "2026",
            "--voucher",
            f"PZ-RACE-{r}",
            "--on",
            str(date(2026, 3, 15)),
            "--request-id",
            f"race-{r}",
        ]
        go = tmp_path / f"go-{r}"
        gates = [(tmp_path / f"ready-{r}-{i}", go) for i in range(WRITERS)]
        procs = [_ledger(db_url, *args, gate=g) for g in gates]
        deadline = time.monotonic() + 120
        while not all(g[0].exists() for g in gates) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        for p in procs:
            _out, err = p.communicate(timeout=120)
            outcomes.append((p.returncode, err.strip()))

    # then every one succeeded, and each round recorded exactly once
    failures = [o for o in outcomes if o[0] != 0]
    assert failures == [], f"{len(failures)} of {len(outcomes)} failed: {failures[:3]}"
    svc = LedgerService(db_url)
    try:
        # one payment and its voucher per round (PostgreSQL's ids may have gaps:
        # count the events, not the ids)
        recorded = events_since(svc, start)
        assert len(recorded) == 2 * ROUNDS
        assert sorted(type(e).__name__ for e in recorded).count("FundsDisbursed") == ROUNDS
    finally:
        svc.close()


@pytest.mark.parametrize("variant", ["different amount"])
def test_the_same_request_id_with_other_arguments_is_still_refused(
    db_url: str, variant: str
) -> None:
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        register_all(svc)
        funded(svc)
        start = event_count(svc)
    finally:
        svc.close()
    base = [
        "funds",
        "disburse",
        "LS-KL-001",
        "--category",
        "operation",
        "--fiscal-year",
        "2026",
        "--voucher",
        "PZ-ONE",
        "--on",
        "2026-03-15",
        "--request-id",
        "one",
    ]
    first = _ledger(db_url, *base, "--amount", "100.00")
    first.communicate(timeout=60)
    assert first.returncode == 0
    other = _ledger(db_url, *base, "--amount", "200.00")
    _, err = other.communicate(timeout=60)
    assert other.returncode == 1
    assert "already used for a different command" in err
    assert len(err.strip().splitlines()) == 1
    svc = LedgerService(db_url)
    try:
        assert len(events_since(svc, start)) == 2
    finally:
        svc.close()
