"""Screenshots of the web view's main pages (docs/WEB.md), taken with the real
browser the tests use: the demo ledger (with one unit renamed) is built in a
scratch directory, `ledger serve` runs on it, and the distribution's headless
Chromium saves each page as a PNG here.

    .venv/bin/python docs/screenshots/take.py

Needs /usr/bin/chromium and /usr/bin/chromedriver (Debian: apt-get install
chromium chromium-driver); nothing is downloaded.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent))

from tests.browser import (  # noqa: E402
    FORMER_NAME,
    LEDGER,
    browser_missing,
    chromium,
    demo_ledger,
    serving,
)

TODAY = "2026-11-23"
WIDTH = 1280
# (file, path): the main pages, in the order docs/WEB.md shows them
PAGES = (
    ("home.png", "/"),
    ("search.png", f"/search?q={FORMER_NAME}"),
    ("search-platform.png", "/search?q=高原生物重点"),
    ("platform.png", f"/platform/LS-KL-001?as_of={TODAY}"),
    ("platform-as-of.png", "/platform/LS-KL-001?as_of=2024-02-01"),
    ("funds.png", f"/platform/LS-KL-001/funds?as_of={TODAY}"),
    ("barred.png", f"/barred?as_of={TODAY}"),
    ("chain.png", "/chain?verify=1"),
)


def full_page(driver: Any, path: Path) -> None:
    """The whole page, not only the window: the window grown to the page's height."""
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(WIDTH, min(max(height + 120, 600), 4000))
    driver.save_screenshot(str(path))


def main() -> int:
    why = browser_missing()
    if why is not None:
        print(f"error: {why}", file=sys.stderr)
        return 1
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    env.update({"LEDGER_TODAY": TODAY, "LEDGER_ACTOR": "demo-clerk"})
    with tempfile.TemporaryDirectory(prefix="ledger-shots-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'ledger.db'}"
        demo_ledger(url, work, env)
        # a signed checkpoint, so that the chain page shows one
        for args in (
            ["audit", "keygen", "--out", str(work / "auditor.pem")],
            ["audit", "checkpoint", "--key", str(work / "auditor.pem")],
        ):
            subprocess.run(
                [LEDGER, "--db", url, *args], env=env, cwd=work, check=True, capture_output=True
            )
        with serving(url, {"LEDGER_TODAY": TODAY}) as base, chromium(WIDTH, 900) as driver:
            for name, page in PAGES:
                driver.set_window_size(WIDTH, 900)
                driver.get(base + page)
                full_page(driver, HERE / name)
                print(f"wrote {HERE / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
