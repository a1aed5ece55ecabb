"""The web view's pages timed over HTTP (not run in CI): `ledger serve` on a
ledger you give (e.g. one made by benchmarks/generate.py), each main page
fetched a few times, the times printed (first, median, max).

    .venv/bin/python benchmarks/generate.py --db sqlite:////tmp/big.db --events 50000
    .venv/bin/python benchmarks/web.py --db sqlite:////tmp/big.db

The owner should catch the read models up first (any query command does):
the view never does.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.browser import LEDGER, serving  # noqa: E402


def fetch(url: str) -> float:
    start = time.perf_counter()
    with urllib.request.urlopen(url, timeout=600) as r:
        r.read()
        if r.status != 200:  # pragma: no cover - urlopen raises first
            raise RuntimeError(f"{url}: HTTP {r.status}")
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", required=True, help="ledger URL (read models caught up)")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    listed = subprocess.run(
        [LEDGER, "--db", args.db, "platform", "list", "--format", "json"],
        capture_output=True,
        text=True,
        check=True,
    )
    platforms = json.loads(listed.stdout)
    code = platforms[len(platforms) // 2]["code"]
    q = urllib.parse.quote
    pages = [
        "/",
        f"/search?q={q('重点实验室')}",
        f"/platform/{q(code)}",
        f"/platform/{q(code)}/funds",
        f"/platform/{q(code)}/funds?known_at=2999-01-01",
        "/barred",
        "/barred?known_at=2999-01-01",
        "/chain",
        "/chain?verify=1",
    ]
    print(f"{len(platforms)} platforms; platform pages for {code}; load {os.getloadavg()[0]:.1f}")
    with serving(args.db) as base:
        for page in pages:
            times = [fetch(base + page) for _ in range(args.runs)]
            print(
                f"{page:55.55} first {times[0] * 1000:8.0f} ms  "
                f"median {statistics.median(times) * 1000:8.0f} ms  max {max(times) * 1000:8.0f} ms"
            )
    print(f"load {os.getloadavg()[0]:.1f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
