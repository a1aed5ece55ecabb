"""The web view's ledgers: the demo (plus one renamed unit) built once per
module and backend through the command line, and the URL the view reads it
with (on PostgreSQL, the auditor's login)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.browser import demo_ledger
from tests.conftest import TODAY, _pg_admin


@dataclass(frozen=True)
class WebLedger:
    backend: str
    owner_url: str  # who built it (may write)
    view_url: str  # what `ledger serve` is given
    workdir: Path


def as_login(url: str, login: str) -> str:
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    netloc = f"{login}@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def cli_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "LEDGER_DB"}
    return {**env, "LEDGER_TODAY": TODAY, "LEDGER_ACTOR": "demo-clerk"}


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def web_ledger(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WebLedger]:
    """The demo ledger on each backend, built once for the module."""
    work = tmp_path_factory.mktemp(f"web-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{work / 'ledger.db'}"
        demo_ledger(url, work, cli_env())
        yield WebLedger("sqlite", url, url, work)
        return
    server: str = request.getfixturevalue("pg_server")
    name = f"ledger_t_{uuid.uuid4().hex[:12]}"
    with _pg_admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        url = f"{server}/{name}"
        demo_ledger(url, work, cli_env())
        yield WebLedger("postgres", url, as_login(url, "ledger_auditor"), work)
    finally:
        with _pg_admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
