"""The import's fast path writes what the slow path would: the Merkle tree
grown from the chain record bytes the recorder computed (not read back) is
the tree recomputed from the stored events, and the snapshots taken once at
the end of an import load as the events replay."""

from __future__ import annotations

from pathlib import Path

import pytest

from aggregates.platform import Platform, platform_id
from ledger.audit import merkle_store
from ledger.audit import verify as audit_verify
from ledger.importer.jsonl import read_jsonl
from ledger.importer.run import import_lines
from ledger.service import LedgerService
from ledger.store import db, snapshots
from tests.import_sample import sample_lines, write_sample
from tests.scenario import init_ledger


def _chain_length(cfg: db.DbConfig) -> int:
    with db.connect(cfg) as conn:
        row = db.fetchone(conn, "SELECT COUNT(*) AS n FROM event_chain")
    assert row is not None
    return int(row["n"])


def test_an_import_grows_the_tree_and_snapshots_as_the_events_say(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEDGER_TODAY", "2026-11-23")
    monkeypatch.setattr(snapshots, "SNAPSHOT_INTERVAL", 20)
    init_ledger(db_url, "lhasa-city")
    sample = tmp_path / "sample.jsonl"
    write_sample(sample, 400)
    report = import_lines(
        db_url, read_jsonl(sample), source="s", actor="导入", batch_size=37, catch_up=False
    )
    assert report.ok and report.batches > 3
    cfg = db.parse_db_url(db_url)
    n = _chain_length(cfg)
    with db.connect(cfg) as conn:
        assert merkle_store.stored_size(merkle_store._query_of(conn)) == n
        assert merkle_store.first_bad_node(conn, n) is None
    assert audit_verify(cfg)["ok"]
    codes = {
        str(line["args"].get("code") or line["args"].get("platform"))
        for line in sample_lines(400)
        if line["command"].startswith("funds")
    }
    svc = LedgerService(db_url)
    try:
        loaded = 0
        for code in sorted(codes):
            ident = platform_id(code)
            snap = snapshots.load_snapshot(svc._snapshot_conn, ident, Platform)
            if snap is None:
                continue
            loaded += 1
            replayed = svc.app.repository.get(ident)
            assert snap.version == replayed.version
            assert {
                k: v for k, v in vars(svc.platform(code)).items() if k != "_pending_events"
            } == {k: v for k, v in vars(replayed).items() if k != "_pending_events"}
        assert loaded
    finally:
        svc.close()
