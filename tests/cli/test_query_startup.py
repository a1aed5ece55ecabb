"""Issue 14, start-up: a query of a SQLite ledger whose read models are at its
head imports what it reads with, and nothing of PostgreSQL, the workbooks,
the event-sourcing library, the aggregates, pydantic or structlog (each
query runs in a fresh interpreter, which lists the modules it loaded)."""

from __future__ import annotations

import subprocess
import sys
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from ledger.service import LedgerService
from projections.base import MODEL_TABLES
from projections.runner import MODEL_NAMES

ROOT = Path(__file__).resolve().parents[2]

_LOADED = """
import sys
from click.testing import CliRunner
from cli import main
result = CliRunner().invoke(main, sys.argv[1:])
assert result.exit_code == 0, result.output
sys.stderr.write(result.stderr)
print(" ".join(sorted(sys.modules)))
"""

# never on a query's path, whatever it asks
NEVER = {"psycopg", "psycopg_pool", "eventsourcing.postgres", "openpyxl", "xlrd"}
# not on the path of a query whose read models are at the head
NOT_AT_HEAD = {
    "eventsourcing",
    "aggregates.platform",
    "aggregates.unit",
    "projections.runner",
    "projections.handlers",
    "structlog",
    "rich.console",
    "asyncio",
}


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('startup') / 'ledger.db'}"
    env = {"LEDGER_TODAY": "2026-11-24", "LEDGER_ACTOR": "test"}
    for args in (["init"], ["demo"], ["debarred", "--as-of", "2026-06-30"]):
        r = CliRunner().invoke(main, ["--db", url, *args], env=env)
        assert r.exit_code == 0, r.output
    return url


def _modules(url: str, *args: str) -> tuple[set[str], str]:
    result = subprocess.run(
        [sys.executable, "-c", _LOADED, "--db", url, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "LEDGER_TODAY": "2026-11-24", "LEDGER_ACTOR": "test"},
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.split()), result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["debarred", "--as-of", "2026-06-30"],
        ["platform", "show", "LS-KL-001", "--as-of", "2025-06-30"],
        ["history", "--platform", "LS-KL-001"],
        ["funds", "summary", "LS-KL-001"],
        ["unit", "search", "西藏高原"],
        ["eligibility", "91540100MA6T0A0D35", "--as-of", "2026-06-30"],
    ],
)
def test_a_sqlite_query_at_the_head_loads_no_driver_nor_library(
    sqlite_demo: str, args: list[str]
) -> None:
    modules, stderr = _modules(sqlite_demo, *args)
    assert "warning" not in stderr  # the read models were at the head
    assert {"cli", "ledger.reads", "projections.trusted"} <= modules
    assert not (NEVER & modules), NEVER & modules
    assert not (NOT_AT_HEAD & modules), NOT_AT_HEAD & modules
    if args[0] != "eligibility":  # the policies (pydantic) decide eligibility
        assert "pydantic" not in modules


def test_a_sqlite_query_behind_the_head_catches_up_without_the_driver(sqlite_demo: str) -> None:
    """Events recorded without a catch-up (the service alone) leave the models
    behind: the next query loads the catch-up and applies them, still loading
    nothing of PostgreSQL or the workbooks."""
    svc = LedgerService(sqlite_demo)
    try:
        svc.register_unit(
            "91540100MA6T0A0F9R", name="测试单位", unit_type="enterprise", high_tech=False,
            aliases=[], actor="test", on=date(2026, 1, 5),
        )  # fmt: skip
    finally:
        svc.close()
    modules, _ = _modules(sqlite_demo, "unit", "show", "91540100MA6T0A0F9R")
    assert {"projections.runner", "projections.handlers.units"} <= modules
    assert not (NEVER & modules), NEVER & modules


def test_the_light_model_list_is_the_projections() -> None:
    """A query reads the models' positions by the names in MODEL_TABLES, without
    loading the projections: the same names, in the same order."""
    assert tuple(MODEL_TABLES) == MODEL_NAMES
