"""Issue 16: the Merkle tree kept as events are recorded, signed tree heads,
inclusion and consistency proofs checked without the database, and the audit
pack's stand-alone verifier — on both backends."""

from __future__ import annotations

import base64
import copy
import json
import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import psycopg
import pytest

from aggregates.errors import InvalidInput, TamperDetected
from ledger import audit
from ledger.audit import merkle_store, proofs, verify_pack
from ledger.audit.checkpoints import cosign_checkpoint
from ledger.audit.keys import checkpoint_message, load_private_key, signature_entry
from ledger.audit.merkle import leaf_hash, root
from ledger.audit.pack import build_pack, write_pack
from ledger.demo import load_demo
from ledger.service import LedgerService
from ledger.store.chain import GENESIS_HASH, next_chain_hash
from ledger.store.db import DbConfig, connect, fetchall, parse_db_url
from tests.scenario import credit_code, init_ledger


@pytest.fixture
def demo(db_url: str) -> DbConfig:
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    return parse_db_url(db_url)


@pytest.fixture
def keys(tmp_path: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in ("owner", "witness", "other"):
        made = audit.keygen(tmp_path / f"{name}.pem")
        out[name] = {"path": tmp_path / f"{name}.pem", "id": made["key_id"]}
    return out


def events_count(cfg: DbConfig) -> int:
    with connect(cfg) as conn:
        return int(fetchall(conn, "SELECT COUNT(*) AS n FROM event_chain")[0]["n"])


def register(url: str, n: int, start: int = 0) -> None:
    svc = LedgerService(url)
    try:
        for i in range(start, start + n):
            svc.register_unit(
                credit_code(f"91540100MA6T9{i:04d}"),
                name=f"测试单位{i}",
                unit_type="enterprise",
                high_tech=False,
                aliases=[],
                actor="test",
                on=date(2025, 1, 2),
            )
    finally:
        svc.close()


@contextmanager
def superuser(cfg: DbConfig) -> Iterator[Any]:
    """Raw access with the append-only triggers out of the way, as in
    tests/reliability/test_tamper.py."""
    if cfg.backend == "sqlite":
        conn = sqlite3.connect(str(cfg.sqlite_abspath), isolation_level=None)
        conn.row_factory = sqlite3.Row
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'"):
            conn.execute(f"DROP TRIGGER {name}")
        try:
            yield conn
        finally:
            conn.close()
    else:
        pconn = psycopg.connect(
            dbname=cfg.dbname,
            host=cfg.host,
            port=cfg.port,
            user=cfg.user,
            autocommit=True,
            row_factory=psycopg.rows.dict_row,
        )
        for table in audit.APPEND_ONLY_TABLES:
            pconn.execute(f"ALTER TABLE {table} DISABLE TRIGGER USER")
        try:
            yield pconn
        finally:
            pconn.close()


def q(cfg: DbConfig, sql: str) -> str:
    return sql if cfg.backend == "sqlite" else sql.replace("?", "%s")


def rewrite_event(cfg: DbConfig, seq: int, *, rechain: bool, retree: bool) -> None:
    """What an attacker with the database would do: change the stored bytes of
    the event at ``seq``, then (optionally) recompute every later chain hash
    and rebuild merkle_nodes, so that the chain verifies again."""
    nid = "rowid" if cfg.backend == "sqlite" else "notification_id"
    with superuser(cfg) as conn:
        row = conn.execute(
            q(
                cfg,
                f"SELECT e.{nid} AS nid, e.state FROM ledger_events e "
                f"JOIN event_chain c ON c.notification_id = e.{nid} WHERE c.seq = ?",
            ),
            (seq,),
        ).fetchone()
        state = bytes(row["state"]).replace(b'"actor":"', b'"actor":"x', 1)
        conn.execute(
            q(cfg, f"UPDATE ledger_events SET state = ? WHERE {nid} = ?"), (state, row["nid"])
        )
        if rechain:
            rows = conn.execute(
                f"SELECT c.seq, c.notification_id, e.originator_id, e.originator_version, "
                f"e.topic, e.state FROM event_chain c JOIN ledger_events e "
                f"ON e.{nid} = c.notification_id ORDER BY c.seq"
            ).fetchall()
            prev = GENESIS_HASH
            for r in rows:
                prev = next_chain_hash(
                    prev,
                    r["seq"],
                    r["notification_id"],
                    r["originator_id"],
                    r["originator_version"],
                    r["topic"],
                    bytes(r["state"]),
                )
                conn.execute(
                    q(cfg, "UPDATE event_chain SET chain_hash = ? WHERE seq = ?"), (prev, r["seq"])
                )
        if retree:
            conn.execute("DELETE FROM merkle_nodes")
    if retree:
        merkle_store.ensure(cfg)


# --- the tree, as recorded -------------------------------------------------------------------


def test_the_stored_tree_is_the_tree_of_the_chain(demo: DbConfig) -> None:
    n = events_count(demo)
    with connect(demo) as conn:
        leaves = [leaf_hash(x) for x in merkle_store.chain_leaves(conn, n)]
        view = merkle_store.TreeView(conn, n)
        assert view.stored == n  # maintained as recorded: nothing left to compute
        nodes = fetchall(conn, "SELECT COUNT(*) AS k FROM merkle_nodes")[0]["k"]
        assert view.root() == root(leaves)
    # every perfect subtree, once: 2n - popcount(n) nodes
    assert nodes == 2 * n - n.bit_count()
    # the tree follows further recordings, one small append each
    register(str(demo.url), 3)
    with connect(demo) as conn:
        view = merkle_store.TreeView(conn, n + 3)
        assert view.stored == n + 3
        again = [leaf_hash(x) for x in merkle_store.chain_leaves(conn, n + 3)]
        assert view.root() == root(again)
    assert merkle_store.ensure(demo) is True  # idempotent: nothing to add
    with connect(demo) as conn:
        assert (
            fetchall(conn, "SELECT COUNT(*) AS k FROM merkle_nodes")[0]["k"]
            == 2 * (n + 3) - (n + 3).bit_count()
        )


def test_an_old_ledger_is_caught_up_without_rewriting(demo: DbConfig, keys: dict[str, Any]) -> None:
    """A ledger whose tree is behind (recorded before migration 0160, or a
    PostgreSQL append skipped while another process held the lock): the next
    checkpoint appends what is missing, from the stored compact range on."""
    n = events_count(demo)
    one = "1" if demo.backend == "sqlite" else "1::bigint"
    with superuser(demo) as conn:
        # every node whose subtree reaches past leaf n - 20
        conn.execute(
            q(demo, f"DELETE FROM merkle_nodes WHERE (idx + 1) * ({one} << level) > ?"), (n - 20,)
        )
    with connect(demo) as conn:
        assert merkle_store.TreeView(conn, n).stored == n - 20
    doc = audit.checkpoint(demo, keys["owner"]["path"])
    with connect(demo) as conn:
        assert merkle_store.TreeView(conn, n).stored == n
        leaves = [leaf_hash(x) for x in merkle_store.chain_leaves(conn, n)]
        nodes = fetchall(conn, "SELECT COUNT(*) AS k FROM merkle_nodes")[0]["k"]
    assert doc["root_hash"] == root(leaves).hex()
    assert nodes == 2 * n - n.bit_count()


# --- signed tree heads --------------------------------------------------------------------


def test_signed_tree_head_and_witness(demo: DbConfig, keys: dict[str, Any], tmp_path: Path) -> None:
    n = events_count(demo)
    head = audit.checkpoint(
        demo, keys["owner"]["path"], tmp_path / "cp.json", cosign_key_path=keys["witness"]["path"]
    )
    assert (head["version"], head["seq"], head["tree_size"]) == (2, n, n)
    assert [c["key_id"] for c in head["cosignatures"]] == [keys["witness"]["id"]]
    cp = audit.load_checkpoint(tmp_path / "cp.json")
    ok = audit.verify(
        demo,
        checkpoint=cp,
        trusted_key_id=keys["owner"]["id"],
        witness_key_ids=(keys["witness"]["id"],),
    )
    assert ok["ok"] is True
    # a witness that did not co-sign, or a co-signature on altered bytes, fails
    bad = audit.verify(demo, checkpoint=cp, witness_key_ids=(keys["other"]["id"],))
    assert bad["ok"] is False and "not co-signed" in bad["problem"]
    forged = copy.deepcopy(cp)
    forged["cosignatures"][0]["signature"] = cp["signature"]
    bad = audit.verify(demo, checkpoint=forged, witness_key_ids=(keys["witness"]["id"],))
    assert bad["ok"] is False and "co-signature" in bad["problem"]
    # a witness co-signs a published file later, offline
    plain = audit.checkpoint(demo, keys["owner"]["path"], tmp_path / "plain.json")
    assert "cosignatures" not in plain
    signed = cosign_checkpoint(
        tmp_path / "plain.json", keys["other"]["path"], tmp_path / "wit.json", keys["owner"]["id"]
    )
    assert (
        audit.verify(demo, checkpoint=signed, witness_key_ids=(keys["other"]["id"],))["ok"] is True
    )
    # ...but never an altered one
    altered = json.loads((tmp_path / "plain.json").read_text())
    altered["root_hash"] = "0" * 64
    (tmp_path / "altered.json").write_text(json.dumps(altered))
    with pytest.raises(TamperDetected):
        cosign_checkpoint(tmp_path / "altered.json", keys["other"]["path"], tmp_path / "x.json")


def test_a_version_1_checkpoint_is_still_read(demo: DbConfig, keys: dict[str, Any]) -> None:
    v2 = audit.checkpoint(demo, keys["owner"]["path"])
    v1 = {k: v2[k] for k in ("format", "ledger_id", "seq", "chain_hash", "taken_at")}
    v1["version"] = 1
    v1.update(signature_entry(load_private_key(keys["owner"]["path"]), checkpoint_message(v1)))
    assert audit.verify(demo, checkpoint=v1, trusted_key_id=keys["owner"]["id"])["ok"] is True
    with pytest.raises(InvalidInput, match="version-1"):
        proofs.prove(demo, 1, v1)


def test_a_stored_node_that_was_altered_is_caught(demo: DbConfig, keys: dict[str, Any]) -> None:
    cp = audit.checkpoint(demo, keys["owner"]["path"])
    with superuser(demo) as conn:
        conn.execute(
            q(demo, "UPDATE merkle_nodes SET hash = ? WHERE level = 3 AND idx = 1"), (b"\x07" * 32,)
        )
    # (3, 1) is no part of the root of 99 leaves: every stored node is checked
    result = audit.verify(demo, checkpoint=cp)
    assert result["ok"] is False and "node (3, 1)" in result["problem"]
    with pytest.raises(TamperDetected, match=r"at seq 9, merkle_nodes node \(3, 1\)"):
        audit.checkpoint(demo, keys["owner"]["path"])
    # a proof through the altered node does not verify
    proof = proofs.prove(demo, 1, cp)
    assert proofs.verify_proof(proof)["ok"] is False
    # a node in the root: the root no longer matches the signed one
    with superuser(demo) as conn:
        conn.execute(
            q(demo, "UPDATE merkle_nodes SET hash = ? WHERE level = 0 AND idx = 98"),
            (b"\x07" * 32,),
        )
    result = audit.verify(demo, checkpoint=cp)
    assert result["ok"] is False and "root hash" in result["problem"]


# --- inclusion proofs ----------------------------------------------------------------------


def _mutations(proof: dict[str, Any], other_key: Path) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    leaf = bytearray(bytes.fromhex(proof["leaf"]))
    leaf[-2] ^= 0x01
    changed = copy.deepcopy(proof)
    changed["leaf"] = bytes(leaf).hex()
    out["changed leaf"] = changed
    rehashed = copy.deepcopy(changed)  # the leaf hash recomputed to match: the path fails
    rehashed["leaf_hash"] = leaf_hash(bytes(leaf)).hex()
    rehashed.pop("event")
    out["changed leaf, rehashed"] = rehashed
    if proof["audit_path"]:
        node = copy.deepcopy(proof)
        first = bytearray(bytes.fromhex(node["audit_path"][0]))
        first[0] ^= 0x80
        node["audit_path"][0] = bytes(first).hex()
        out["changed path node"] = node
    other_root = copy.deepcopy(proof)
    other_root["root_hash"] = hashlib_hex(b"another root")
    out["different root"] = other_root
    resigned = copy.deepcopy(proof)  # another root, in a head re-signed by another key
    head = resigned["checkpoint"]
    head["root_hash"] = resigned["root_hash"] = hashlib_hex(b"another root")
    head.pop("cosignatures", None)
    head.update(signature_entry(load_private_key(other_key), checkpoint_message(head)))
    out["head signed by another key"] = resigned
    return out


def hashlib_hex(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def test_every_demo_event_proves_offline_and_every_mutation_fails(
    demo: DbConfig, keys: dict[str, Any]
) -> None:
    n = events_count(demo)
    audit.checkpoint(demo, keys["owner"]["path"])
    owner = keys["owner"]["id"]
    for seq in range(1, n + 1):
        proof = json.loads(json.dumps(proofs.prove(demo, seq)))  # as carried away
        assert (proof["leaf_index"], proof["tree_size"]) == (seq - 1, n)
        assert proofs.verify_proof(proof, key_id=owner)["ok"] is True, seq
        for what, bad in _mutations(proof, keys["other"]["path"]).items():
            result = proofs.verify_proof(bad, key_id=owner)
            assert result["ok"] is False, (seq, what)
            assert result["problem"], (seq, what)


def test_a_proof_against_a_given_head_and_a_rewritten_event(
    demo: DbConfig, keys: dict[str, Any], tmp_path: Path
) -> None:
    cp = audit.checkpoint(demo, keys["owner"]["path"], tmp_path / "cp.json")
    register(str(demo.url), 2)  # recorded after the head: not in it
    n = events_count(demo)
    with pytest.raises(InvalidInput, match="not in the signed tree head"):
        proofs.prove(demo, n, audit.load_checkpoint(tmp_path / "cp.json"))
    proof = proofs.prove(demo, 5, audit.load_checkpoint(tmp_path / "cp.json"))
    assert proof["tree_size"] == cp["tree_size"]
    # the proof is checked against the head the auditor holds, not the one inside it
    later = audit.checkpoint(demo, keys["owner"]["path"])
    result = proofs.verify_proof(proof, checkpoint=later, key_id=keys["owner"]["id"])
    assert result["ok"] is False and "not against this signed tree head" in result["problem"]
    # an event rewritten (and re-chained) after it was recorded cannot be proven
    rewrite_event(demo, 5, rechain=True, retree=False)
    with pytest.raises(TamperDetected):
        proofs.prove(demo, 5)
    with pytest.raises(TamperDetected):
        audit.checkpoint(demo, keys["owner"]["path"])


def test_malformed_proofs_are_bad_input(demo: DbConfig, keys: dict[str, Any]) -> None:
    audit.checkpoint(demo, keys["owner"]["path"])
    proof = proofs.prove(demo, 3)
    for bad in (
        {"format": "nope"},
        {**proof, "audit_path": "x"},
        {**proof, "root_hash": "zz"},
        {**proof, "tree_size": -1},
        {**proof, "leaf": "0"},
        [1, 2],
    ):
        with pytest.raises(InvalidInput):
            proofs.verify_proof(bad)


# --- consistency proofs ----------------------------------------------------------------------


def test_consistency_between_heads_and_after_a_rewrite(
    demo: DbConfig, keys: dict[str, Any]
) -> None:
    owner = keys["owner"]["path"]
    old = audit.checkpoint(demo, owner)
    register(str(demo.url), 5)
    new = audit.checkpoint(demo, owner)
    assert new["tree_size"] == old["tree_size"] + 5
    proof = json.loads(json.dumps(proofs.consistency(demo, old, new)))
    assert proofs.verify_proof(proof, key_id=keys["owner"]["id"])["ok"] is True
    same = proofs.consistency(demo, new, new)
    assert proofs.verify_proof(same)["ok"] is True and same["consistency_path"] == []
    # a changed path node or another older root fails
    bad = copy.deepcopy(proof)
    bad["consistency_path"][-1] = hashlib_hex(b"x")
    assert proofs.verify_proof(bad)["ok"] is False
    with pytest.raises(InvalidInput):
        proofs.consistency(demo, new, old)

    # Rewrite an event before the older head, re-chain, rebuild the tree: the
    # chain verifies and a new head can be signed, but it does not extend the old.
    rewrite_event(demo, 7, rechain=True, retree=True)
    assert audit.verify(demo)["ok"] is True
    rewritten = audit.checkpoint(demo, owner)
    with pytest.raises(TamperDetected, match="does not extend"):
        proofs.consistency(demo, old, rewritten)
    forged = copy.deepcopy(proof)  # the old proof, moved onto the rewritten head
    forged["new_checkpoint"] = proofs.published(rewritten)
    forged["new_root"] = rewritten["root_hash"]
    assert proofs.verify_proof(forged)["ok"] is False
    assert audit.verify(demo, checkpoint=old)["ok"] is False


# --- the pack ---------------------------------------------------------------------------------


def test_a_platform_pack_verifies_and_names_the_first_change(
    demo: DbConfig, keys: dict[str, Any], tmp_path: Path
) -> None:
    head = audit.checkpoint(demo, keys["owner"]["path"], cosign_key_path=keys["witness"]["path"])
    pack = build_pack(demo, platform="LS-KL-001", checkpoint=head)
    assert pack["scope"] == "platform LS-KL-001" and len(pack["events"]) > 5
    funds = pack["read_models"]["funds"]["state"]["LS-KL-001"]
    assert funds["operation:2026"]["reversed"] == "80000.00"
    owner = keys["owner"]["id"]
    assert "ok:" in verify_pack.verify(pack, owner, [keys["witness"]["id"]])
    with pytest.raises(verify_pack.Failed, match="not by the published"):
        verify_pack.verify(pack, keys["other"]["id"], [])
    write_pack(pack, tmp_path / "p.zip")
    write_pack(pack, tmp_path / "dir")
    assert verify_pack.main([str(tmp_path / "p.zip"), "--key-id", owner]) == 0
    assert verify_pack.main([str(tmp_path / "dir"), "--key-id", owner]) == 0
    with pytest.raises(InvalidInput):
        write_pack(pack, tmp_path / "dir")  # never into a directory with files

    # One byte changed anywhere: either the JSON means the same, or it fails.
    raw = (tmp_path / "dir" / "pack.json").read_bytes()
    meaning = json.loads(raw)
    rng = random.Random(16)
    failed = 0
    for pos in rng.sample(range(len(raw)), 400):
        changed = bytearray(raw)
        changed[pos] = (changed[pos] + rng.randrange(1, 94)) % 94 + 33
        try:
            same = json.loads(bytes(changed)) == meaning
        except ValueError:
            same = False
        try:
            verify_pack.verify(json.loads(bytes(changed)), owner, [])
            caught = False
        except (verify_pack.Failed, ValueError):
            caught = True
        assert caught or same, (pos, raw[max(0, pos - 30) : pos + 30])
        failed += caught
    assert failed > 300

    # and the first thing wrong is named
    def fail_with(change: Any) -> str:
        p = copy.deepcopy(pack)
        change(p)
        with pytest.raises(verify_pack.Failed) as e:
            verify_pack.verify(p, owner, [])
        return str(e.value)

    def state_changed(p: dict[str, Any]) -> None:
        p["events"][3]["state"] = p["events"][3]["state"].replace("2024", "2025", 1)

    assert "does not hash to its leaf hash" in fail_with(state_changed)
    assert "missing from the pack" in fail_with(lambda p: p["events"].pop(2))
    assert "bad signature" in fail_with(lambda p: p["head"].update(taken_at="2030-01-01T00:00:00Z"))
    assert "digest" in fail_with(lambda p: p["read_models"]["funds"].update(digest="0" * 64))


def test_a_unit_pack_states_debarments_as_of_the_head(demo: DbConfig, keys: dict[str, Any]) -> None:
    audit.checkpoint(demo, keys["owner"]["path"])
    pack = build_pack(demo, unit="91540100MA6T0A0C21")
    debarred = pack["read_models"]["debarred"]["state"]["91540100MA6T0A0C21"]
    assert debarred["91540100MA6T0A0C21:D1"]["end"] == "2029-06-10"
    assert "ok:" in verify_pack.verify(pack, keys["owner"]["id"], [])
    whole = build_pack(demo)
    assert len(whole["events"]) == events_count(demo)
    assert "ok:" in verify_pack.verify(whole, None, [])


def test_pack_and_prove_refuse_without_a_signed_head(demo: DbConfig) -> None:
    with pytest.raises(InvalidInput, match="no signed tree head"):
        proofs.prove(demo, 1)
    with pytest.raises(InvalidInput, match="no signed tree head"):
        build_pack(demo, platform="LS-KL-001")


def test_signature_entries_are_canonical_base64(keys: dict[str, Any]) -> None:
    entry = signature_entry(load_private_key(keys["owner"]["path"]), b"m")
    assert base64.b64encode(base64.b64decode(entry["signature"])).decode() == entry["signature"]


# --- roles (PostgreSQL) -------------------------------------------------------------------------


def test_clerk_appends_the_tree_and_the_auditor_proves_without_writing(
    pg_url: str, keys: dict[str, Any]
) -> None:
    init_ledger(pg_url)
    cfg = parse_db_url(pg_url)
    audit.create_roles(cfg)
    clerk = parse_db_url(pg_url.replace("postgres@", "ledger_clerk@", 1))
    auditor = parse_db_url(pg_url.replace("postgres@", "ledger_auditor@", 1))
    register(str(clerk.url), 4)  # the clerk's recordings append to the tree
    with connect(cfg) as conn:
        assert merkle_store.TreeView(conn, 4).stored == 4
    with pytest.raises(psycopg.errors.InsufficientPrivilege), connect(clerk) as conn:
        conn.execute("UPDATE merkle_nodes SET hash = hash")
    # the tree falls behind (as if a post-commit append had been skipped)
    with superuser(cfg) as conn:
        conn.execute("DELETE FROM merkle_nodes WHERE (idx + 1) * (1::bigint << level) > 2")
    # the read-only auditor signs and proves: the missing nodes computed in memory
    head = audit.checkpoint(auditor, keys["owner"]["path"])
    assert head["recorded"] is False and head["tree_size"] == 4
    proof = proofs.prove(auditor, 4, head)
    assert proofs.verify_proof(proof, key_id=keys["owner"]["id"])["ok"] is True
    with connect(cfg) as conn:
        assert merkle_store.TreeView(conn, 4).stored == 2  # nothing was written
    assert merkle_store.ensure(clerk) is True
    with connect(cfg) as conn:
        view = merkle_store.TreeView(conn, 4)
        assert view.stored == 4 and view.root().hex() == head["root_hash"]
