"""Shared fixtures: every application test runs on a real SQLite file and on the
real PostgreSQL server (a fresh database per test, dropped afterwards).

PostgreSQL is found at ``LEDGER_TEST_PG`` (default ``postgresql://postgres@127.0.0.1:5432``).
Outside CI a test that cannot reach it is skipped; in CI (``CI`` set) it fails.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

PG_BASE = os.environ.get("LEDGER_TEST_PG", "postgresql://postgres@127.0.0.1:5432")
TODAY = "2026-11-23"


def _pg_admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(f"{PG_BASE}/postgres", autocommit=True, connect_timeout=5)


def _pg_available() -> str | None:
    try:
        with _pg_admin() as conn:
            conn.execute("SELECT 1")
        return None
    except psycopg.Error as e:  # pragma: no cover - depends on the machine
        return str(e).strip().splitlines()[0] if str(e).strip() else repr(e)


@pytest.fixture(scope="session")
def pg_server() -> str:
    problem = _pg_available()
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is not reachable at {PG_BASE}: {problem}")
        pytest.skip(f"PostgreSQL is not reachable at {PG_BASE}: {problem}")
    return PG_BASE


@pytest.fixture
def pg_url(pg_server: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    name = f"ledger_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{pg_server}/{name}"
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite file for one test."""
    return f"sqlite:///{tmp_path / 'ledger.db'}"


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database on each backend (not yet initialised)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture(autouse=True)
def _fixed_today(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests run on a fixed 'today' unless they set LEDGER_TODAY themselves."""
    monkeypatch.setenv("LEDGER_TODAY", TODAY)
    monkeypatch.delenv("LEDGER_DB", raising=False)
    monkeypatch.setenv("LEDGER_ACTOR", "test-clerk")
