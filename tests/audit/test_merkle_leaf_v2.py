"""The Merkle leaf of a PostgreSQL chain row (encoding 2) is the encoding 2
record the chain hashed — the login and the server time included — in the
tree, the proofs, the audit pack and the stand-alone verifier; and a ledger
whose tree was built with the v1 bytes of encoding 2 rows (before migration
0161) is re-derived by `ledger init`, said out loud (docs/AUDIT.md §8)."""

from __future__ import annotations

import copy
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from click.testing import CliRunner

from aggregates.errors import InvalidInput, NotInitialised, TamperDetected
from cli import main
from ledger import audit
from ledger.audit import merkle_store, proofs, verify_pack
from ledger.audit.merkle import leaf_hash, root
from ledger.audit.pack import build_pack, write_pack
from ledger.demo import load_demo
from ledger.service import LedgerService
from ledger.store.chain import GENESIS_HASH, chain_record_bytes
from ledger.store.db import DbConfig, connect, fetchall, migrate, parse_db_url
from tests.scenario import init_ledger

OID = "6f1c0a52-8d0e-5b8e-9c43-2a9e0f6c1b7d"
V2 = {"recorded_by": "ledger_clerk", "recorded_at": "2026-12-04T16:30:00.123456Z"}
V2_LEAF = (
    "0000000000000001" "31" "0000000000000001" "31"
    "0000000000000024"
    "36663163306135322d386430652d356238652d396334332d326139653066366331623764"
    "0000000000000001" "31"
    "000000000000001f" "616767726567617465732e756e69743a556e69742e52656769737465726564"
    "0000000000000011" "7b226e616d65223a22e68b89e890a8227d"
    "000000000000000c" "6c65646765725f636c65726b"
    "000000000000001b" "323032362d31322d30345431363a33303a30302e3132333435365a"
)  # fmt: skip


def test_the_documented_v2_leaf_vector() -> None:
    event = (1, 1, OID, 1, "aggregates.unit:Unit.Registered", '{"name":"拉萨"}'.encode())
    leaf = merkle_store.leaf_of(*event, encoding=2, **V2)
    assert leaf == chain_record_bytes(*event, **V2) and len(leaf) == 190
    assert leaf.hex() == V2_LEAF
    assert leaf_hash(leaf).hex() == (
        "70762b959a3f656a385181d1e06bb779dc668d93f79c253c584cb761354cc5b8"
    )
    second = merkle_store.leaf_of(
        2,
        2,
        OID,
        2,
        "aggregates.unit:Unit.Renamed",
        '{"name":"日喀则"}'.encode(),
        encoding=2,
        recorded_by="ledger_clerk",
        recorded_at="2026-12-04T16:30:01.000042Z",
    )
    assert leaf_hash(second).hex() == (
        "374ee14e2a89cea174856d8394597fdd2d2be0bc0ffa7eb6debf4e45d55ada66"
    )
    assert root([leaf_hash(leaf), leaf_hash(second)]).hex() == (
        "9008ae810f3bb8f2068d53c9ee01b61641a3dd128fec58709097f8c6534ae87a"
    )
    # the stand-alone verifier rebuilds the same bytes from a pack entry
    entry = {
        "seq": 1,
        "notification_id": 1,
        "originator_id": OID,
        "version": 1,
        "topic": "aggregates.unit:Unit.Registered",
        "state": '{"name":"拉萨"}',
        "state_encoding": "utf-8",
        "encoding": 2,
        **V2,
    }
    assert verify_pack.leaf_bytes(entry) == leaf
    for bad in ({"encoding": 3}, {"recorded_by": None}, {"encoding": 1}):
        with pytest.raises(verify_pack.Failed):
            verify_pack.leaf_bytes({**entry, **bad})
    with pytest.raises(ValueError, match="unknown encoding"):
        merkle_store.leaf_of(*event, encoding=3, **V2)


def test_the_sql_encoding_hashes_to_the_same_leaf(pg_url: str) -> None:
    init_ledger(pg_url)
    with connect(parse_db_url(pg_url)) as conn:
        row = fetchall(
            conn,
            "SELECT encode(sha256('\\x00'::bytea || ledger_chain_record_v2(1, 1, ?, 1, "
            "'aggregates.unit:Unit.Registered', convert_to(?, 'UTF8'), ?, ?)), 'hex') AS h",
            (OID, '{"name":"拉萨"}', V2["recorded_by"], V2["recorded_at"]),
        )[0]
    assert row["h"] == "70762b959a3f656a385181d1e06bb779dc668d93f79c253c584cb761354cc5b8"


@pytest.fixture
def pg_demo(pg_url: str) -> DbConfig:
    init_ledger(pg_url)
    svc = LedgerService(pg_url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    return parse_db_url(pg_url)


@pytest.fixture
def owner_key(tmp_path: Path) -> dict[str, Any]:
    made = audit.keygen(tmp_path / "owner.pem")
    return {"path": tmp_path / "owner.pem", "id": made["key_id"]}


def chain(cfg: DbConfig) -> list[dict[str, Any]]:
    with connect(cfg) as conn:
        return fetchall(
            conn,
            "SELECT c.seq, c.notification_id, c.chain_hash, c.encoding, c.recorded_by, "
            "c.recorded_at, e.originator_id, e.originator_version, e.topic, e.state "
            "FROM event_chain c JOIN ledger_events e ON e.notification_id = c.notification_id "
            "ORDER BY c.seq",
        )


def test_every_pg_demo_event_proves_offline_with_its_login_and_time(
    pg_demo: DbConfig, owner_key: dict[str, Any]
) -> None:
    rows = chain(pg_demo)
    assert rows and all(r["encoding"] == 2 for r in rows)  # the database wrote them all
    audit.checkpoint(pg_demo, owner_key["path"])
    prev = GENESIS_HASH
    for r in rows:
        seq = r["seq"]
        record = chain_record_bytes(
            seq,
            r["notification_id"],
            r["originator_id"],
            r["originator_version"],
            r["topic"],
            bytes(r["state"]),
            recorded_by=r["recorded_by"],
            recorded_at=r["recorded_at"],
        )
        # the chain hashed exactly these bytes ...
        assert hashlib.sha256(bytes.fromhex(prev) + record).hexdigest() == r["chain_hash"]
        prev = r["chain_hash"]
        proof = json.loads(json.dumps(proofs.prove(pg_demo, seq)))  # as carried away
        # ... and they are the proof's leaf, login and server time included
        assert proof["leaf"] == record.hex(), seq
        assert proof["event"]["encoding"] == 2
        assert proof["event"]["recorded_by"] == r["recorded_by"] == "postgres"
        assert proof["event"]["recorded_at"] == r["recorded_at"]
        assert proofs.verify_proof(proof, key_id=owner_key["id"])["ok"] is True, seq
        # another login (or time) shown for the event: not the leaf's event
        for name, value in (("recorded_by", "ledger_clerk"), ("recorded_at", "2020-01-01")):
            bad = copy.deepcopy(proof)
            bad["event"][name] = value
            result = proofs.verify_proof(bad, key_id=owner_key["id"])
            assert result["ok"] is False and "not the one the leaf encodes" in result["problem"]
        hidden = copy.deepcopy(proof)  # the login left out of the event
        del hidden["event"]["recorded_by"], hidden["event"]["encoding"]
        assert proofs.verify_proof(hidden, key_id=owner_key["id"])["ok"] is False
        # the v1 bytes as the leaf, rehashed: the path does not lead to the root
        v1 = copy.deepcopy(proof)
        v1.pop("event")
        v1_leaf = chain_record_bytes(
            seq,
            r["notification_id"],
            r["originator_id"],
            r["originator_version"],
            r["topic"],
            bytes(r["state"]),
        )
        v1.update(leaf=v1_leaf.hex(), leaf_hash=leaf_hash(v1_leaf).hex())
        assert proofs.verify_proof(v1, key_id=owner_key["id"])["ok"] is False
    # the stored tree's leaves are these records (appended after each commit)
    with connect(pg_demo) as conn:
        stored = fetchall(conn, "SELECT idx, hash FROM merkle_nodes WHERE level = 0 ORDER BY idx")
    assert [bytes(s["hash"]) for s in stored] == [
        leaf_hash(bytes.fromhex(proofs.prove(pg_demo, r["seq"])["leaf"])) for r in rows
    ]


def test_the_projector_role_appends_the_same_leaves(pg_url: str, owner_key: dict[str, Any]) -> None:
    """A clerk's login records (it may not write the tree); `projections
    follow`'s append (the projector role) and the owner's give the v2 leaves."""
    init_ledger(pg_url)
    cfg = parse_db_url(pg_url)
    audit.create_roles(cfg)
    clerk_url = pg_url.replace("postgres@", "ledger_clerk@", 1)
    svc = LedgerService(clerk_url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    with connect(cfg) as conn:
        assert merkle_store.TreeView(conn, 1).stored == 0  # the clerk wrote no node
    with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
        admin.execute("CREATE ROLE ledger_bench_projector LOGIN")
    try:
        with psycopg.connect(pg_url, autocommit=True) as owner:
            owner.execute("GRANT ledger_projectors TO ledger_bench_projector")
        projector = parse_db_url(pg_url.replace("postgres@", "ledger_bench_projector@", 1))
        assert merkle_store.ensure(projector) is True
    finally:
        with psycopg.connect(pg_url.rsplit("/", 1)[0] + "/postgres", autocommit=True) as admin:
            admin.execute("DROP OWNED BY ledger_bench_projector CASCADE")
            admin.execute("DROP ROLE ledger_bench_projector")
    rows = chain(cfg)
    assert {r["recorded_by"] for r in rows} == {"ledger_clerk"}
    expected = [
        leaf_hash(
            chain_record_bytes(
                r["seq"],
                r["notification_id"],
                r["originator_id"],
                r["originator_version"],
                r["topic"],
                bytes(r["state"]),
                recorded_by=r["recorded_by"],
                recorded_at=r["recorded_at"],
            )
        )
        for r in rows
    ]
    with connect(cfg) as conn:
        stored = fetchall(conn, "SELECT hash FROM merkle_nodes WHERE level = 0 ORDER BY idx")
        assert merkle_store.first_bad_node(conn, len(rows)) is None
    assert [bytes(s["hash"]) for s in stored] == expected
    head = audit.checkpoint(cfg, owner_key["path"])
    assert head["root_hash"] == root(expected).hex()


def test_a_pg_export_recomputes_the_signed_root_from_v2_leaves(
    pg_demo: DbConfig, owner_key: dict[str, Any], tmp_path: Path
) -> None:
    head = audit.checkpoint(pg_demo, owner_key["path"])
    audit.export(pg_demo, tmp_path / "all.jsonl")
    checked = audit.verify_export(tmp_path / "all.jsonl", head)
    assert checked["ok"] is True and checked["checkpoint"]["ok"] is True
    lines = (tmp_path / "all.jsonl").read_text(encoding="utf-8").splitlines()
    # another login in one line: the chain (and the tree) no longer match
    doc = json.loads(lines[5])
    assert doc["encoding"] == 2
    doc["recorded_by"] = "ledger_clerk"
    lines[5] = json.dumps(doc, ensure_ascii=False)
    (tmp_path / "bad.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    assert audit.verify_export(tmp_path / "bad.jsonl", head)["ok"] is False


def test_a_pg_pack_verifies_with_the_stand_alone_script(
    pg_demo: DbConfig, owner_key: dict[str, Any], tmp_path: Path
) -> None:
    audit.checkpoint(pg_demo, owner_key["path"])
    for scope in ({"platform": "LS-KL-001"}, {}):
        pack = build_pack(pg_demo, **scope)
        assert pack["encoding"] == verify_pack.ENCODING
        assert all(e["encoding"] == 2 and e["recorded_by"] == "postgres" for e in pack["events"])
        assert verify_pack.verify(pack, owner_key["id"], []).startswith("ok:")
    where = write_pack(build_pack(pg_demo, platform="LS-KL-001"), tmp_path / "pack")
    # the script alone, in an isolated interpreter (stdlib and cryptography only)
    done = subprocess.run(
        [sys.executable, "-I", "verify_pack.py", ".", "--key-id", owner_key["id"]],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("ok:"), done.stdout + done.stderr
    doc = json.loads((where / "pack.json").read_text(encoding="utf-8"))
    doc["events"][2]["recorded_by"] = "ledger_clerk"  # another login claimed for an event
    (where / "pack.json").write_text(json.dumps(doc), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-I", "verify_pack.py", ".", "--key-id", owner_key["id"]],
        cwd=where,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 1
    assert "does not hash to its leaf hash" in done.stdout
    # a pack written before v2 leaves names the v1 encoding: it cannot carry v2 entries
    old = build_pack(pg_demo, platform="LS-KL-001")
    old["encoding"] = verify_pack.ENCODING_V1_ONLY
    with pytest.raises(verify_pack.Failed, match="encoding 2 entries"):
        verify_pack.verify(old, owner_key["id"], [])


def test_a_tree_built_with_v1_leaves_is_reported_and_re_derived_by_init(
    pg_demo: DbConfig, owner_key: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """What the ledger before migration 0161 left on PostgreSQL: merkle_nodes
    (and a signed tree head) over the v1 bytes of the encoding 2 rows."""
    cfg = pg_demo
    audit.create_roles(cfg)
    n = len(chain(cfg))
    with psycopg.connect(str(cfg.url), autocommit=True) as conn:
        conn.execute("ALTER TABLE merkle_nodes DISABLE TRIGGER USER")
        conn.execute("DELETE FROM merkle_nodes")
        conn.execute("ALTER TABLE merkle_nodes ENABLE TRIGGER USER")
        conn.execute("DELETE FROM schema_migrations WHERE version = 161")
    with monkeypatch.context() as m:  # the old code: every leaf the six fields
        m.setattr(merkle_store.LeafRow, "leaf", merkle_store.LeafRow.v1_leaf)
        old_head = audit.checkpoint(cfg, owner_key["path"])
    # the old tree is named for what it is, never taken for the chain's
    with connect(cfg) as conn:
        bad = merkle_store.first_bad_node(conn, n)
    assert bad is not None and bad[0] == 1 and "before migration 0161" in bad[1]
    with pytest.raises(TamperDetected, match="before migration 0161"):
        audit.checkpoint(cfg, owner_key["path"])
    with pytest.raises(TamperDetected, match="before migration 0161"):
        proofs.prove(cfg, 3, old_head)
    # the code is newer than the schema (0161 not applied): one clear line
    with psycopg.connect(str(cfg.url), autocommit=True) as conn:
        conn.execute("DROP TABLE merkle_rederived")
    with pytest.raises(NotInitialised, match="migration 0161 is not applied"):
        proofs.prove(cfg, 3)

    result = CliRunner().invoke(main, ["--db", str(cfg.url), "init"])
    assert result.exit_code == 0, result.output
    assert "0161_merkle_leaf_v2" in result.output
    assert "moved aside to merkle_nodes_before_0161 and re-derived" in result.output
    with connect(cfg) as conn:
        assert merkle_store.first_bad_node(conn, n) is None
        assert merkle_store.TreeView(conn, n).stored == n
        kept = fetchall(conn, "SELECT COUNT(*) AS k FROM merkle_nodes_before_0161")[0]["k"]
        moved = merkle_store.rederived(conn)
    assert kept == 2 * n - n.bit_count()  # the old tree is kept, not deleted
    with connect(cfg) as conn:  # the new table has the old one's grants; the old is read-only
        grants = fetchall(
            conn,
            "SELECT has_table_privilege('ledger_projectors', 'merkle_nodes', 'INSERT') AS new, "
            "has_table_privilege('ledger_projectors', 'merkle_nodes_before_0161', 'INSERT') "
            "AS old, has_table_privilege('ledger_auditors', 'merkle_nodes', 'SELECT') AS reads",
        )[0]
    assert (grants["new"], grants["old"], grants["reads"]) == (True, False, True)
    assert moved is not None and moved["first_v2_seq"] == 1 and moved["tree_size_before"] == n
    # the old head: its chain hash still verifies, its tree is said to be the old one
    checked = audit.verify(cfg, checkpoint=old_head)
    assert checked["ok"] is True and checked["checkpoint"]["ok"] is True
    assert "before migration 0161" in checked["checkpoint"]["note"]
    with pytest.raises(InvalidInput, match="before migration 0161"):
        proofs.prove(cfg, 3, old_head)
    with pytest.raises(InvalidInput, match="no signed tree head covers"):
        proofs.prove(cfg, 3)  # the recorded old head is not used for proofs
    head = audit.checkpoint(cfg, owner_key["path"])
    proof = proofs.prove(cfg, 3)
    assert proof["checkpoint"]["root_hash"] == head["root_hash"] != old_head["root_hash"]
    assert proofs.verify_proof(proof, key_id=owner_key["id"])["ok"] is True
    # a second init finds nothing to do
    again = CliRunner().invoke(main, ["--db", str(cfg.url), "init"])
    assert again.exit_code == 0 and "re-derived" not in again.output
    assert migrate(cfg) == []
