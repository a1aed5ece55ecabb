"""A real browser for the web view's tests and screenshots: the distribution's
headless Chromium driven by its chromedriver (Debian: `apt-get install
chromium chromium-driver`), never a browser Selenium Manager would download,
and `ledger serve` as a real subprocess on a free port.

Used by tests/web/test_browser.py and docs/screenshots/take.py.
"""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LEDGER = str(ROOT / ".venv/bin/ledger")
CHROMIUM = os.environ.get("LEDGER_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMEDRIVER = os.environ.get("LEDGER_TEST_CHROMEDRIVER", "/usr/bin/chromedriver")
# no network beyond the view itself: nothing fetched, updated or synced
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--lang=en-US",
)


def browser_missing() -> str | None:
    """Why the browser tests cannot run here, or None."""
    missing = [p for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        return (
            f"{' and '.join(missing)} not found: install the distribution's browser "
            "(Debian: apt-get install chromium chromium-driver)"
        )
    try:
        import selenium  # noqa: F401
    except ImportError:  # pragma: no cover - a test extra
        return "selenium is not installed (pip install -e '.[test]')"
    return None


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serving(db_url: str, env: dict[str, str] | None = None) -> Iterator[str]:
    """`ledger serve` on a free loopback port; yields its base URL."""
    port = free_port()
    # stderr to a file, not a pipe nobody reads (a full pipe would stall the server)
    with tempfile.TemporaryFile(mode="w+", encoding="utf-8") as log:
        proc = subprocess.Popen(
            [LEDGER, "--db", db_url, "serve", "--port", str(port)],
            env={**os.environ, **(env or {})},
            stdout=subprocess.DEVNULL,
            stderr=log,
            text=True,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            _wait_until_up(proc, base, log)
            yield base
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


def _wait_until_up(proc: subprocess.Popen[str], base: str, log: Any) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            with urllib.request.urlopen(base + "/chain", timeout=2):
                return
        except (urllib.error.URLError, ConnectionError, TimeoutError) as e:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"ledger serve exited {proc.returncode}: {log.read()}") from e
            if time.monotonic() > deadline:
                raise RuntimeError("ledger serve did not answer within 30 s") from e
            time.sleep(0.1)


@contextmanager
def chromium(width: int = 1280, height: int = 900) -> Iterator[Any]:
    """A headless Chromium (the distribution's) under Selenium, fresh profile."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="ledger-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in CHROMIUM_FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(30)
        yield driver
    finally:
        driver.quit()
        import shutil

        shutil.rmtree(profile, ignore_errors=True)


def demo_ledger(db_url: str, cwd: Path, env: dict[str, str] | None = None) -> None:
    """The demo ledger through the command line (`ledger init`, `ledger demo`),
    with one unit renamed and the demo's pending platform rename approved (so
    that former names can be searched for), and the
    read models caught up by the owner (the view never catches up). The demo's
    bank statement is written in `cwd`."""
    full = {**os.environ, **(env or {})}

    def run(*args: str) -> None:
        done = subprocess.run(
            [LEDGER, "--db", db_url, *args],
            env=full,
            cwd=cwd,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"ledger {' '.join(args)} failed: {done.stderr}")

    run("init", *(["--roles"] if db_url.startswith("postgres") else []))
    run("demo")
    run(*RENAME)  # a recording command catches the read models up after its write
    run(*APPROVE_PLATFORM_RENAME)


# The demo unit renamed by demo_ledger: its former name is the demo's name.
RENAMED_UNIT = "12540000MB00000114"
FORMER_NAME = "西藏高原医学研究所"
NEW_NAME = "西藏高原医学科学研究院"
RENAME = (
    "unit",
    "rename",
    RENAMED_UNIT,
    "--name",
    NEW_NAME,
    "--doc-no",
    "藏民政〔2026〕31号",
    "--on",
    "2026-09-01",
    "--actor",
    "clerk-wang",
)

# The demo's pending rename of LS-KL-001, approved by demo_ledger.
PLATFORM_FORMER_NAME = "拉萨高原生物重点实验室"
PLATFORM_NEW_NAME = "拉萨高原生物与健康重点实验室"
APPROVE_PLATFORM_RENAME = (
    "change",
    "approve",
    "LS-KL-001:CR1",
    "--doc-no",
    "拉科发〔2026〕52号",
    "--on",
    "2026-10-15",
    "--actor",
    "clerk-wang",
)
