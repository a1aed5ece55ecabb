"""The read side's front door (``ledger.reads``) never builds the write side:
catching the models up, rebuilding and verifying them decode events with the
ledger's event mapper, not with a ``LedgerApp``."""

from __future__ import annotations

from typing import Any

import pytest

import ledger.service
from ledger.reads import open_read, rebuild, status, verify
from ledger.service import LedgerService
from ledger.store import db
from tests.scenario import UNITS, init_ledger, register_all


def test_a_query_on_lagging_models_builds_no_application(
    db_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    init_ledger(db_url)
    svc = LedgerService(db_url)  # no catch-up installed: the models lag
    try:
        register_all(svc)
    finally:
        svc.close()
    cfg = db.parse_db_url(db_url)
    assert all(s["lag"] > 0 for s in status(cfg))

    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the read side built a LedgerApp")

    monkeypatch.setattr(ledger.service.LedgerApp, "__init__", refuse)
    warnings: list[str] = []
    with open_read(db_url, warn=warnings.append) as rm:
        assert all(rm.unit_exists(c) for c, *_ in UNITS.values())
    assert warnings == []
    assert all(s["lag"] == 0 for s in status(cfg))
    assert rebuild(cfg, progress=False).applied == len(UNITS)
    assert verify(cfg).ok
