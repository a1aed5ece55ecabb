"""Signed checkpoints of the database: verify the chain, sign its head, record
the signature in ``audit_checkpoints`` (``audit checkpoint``), and list them."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregates.errors import InvalidInput, TamperDetected
from ledger.audit import merkle_store
from ledger.audit.keys import (
    CHECKPOINT_FORMAT,
    CHECKPOINT_VERSION,
    check_checkpoint_document,
    checkpoint_message,
    cosign,
    key_id_of,
    load_checkpoint,
    load_private_key,
)
from ledger.audit.verify import (
    Progress,
    begin_snapshot,
    ledger_id_of,
    require_schema,
    verify_in,
)
from ledger.log import get_logger
from ledger.store.db import DbConfig, connect, execute, fetchall, pg_error

log = get_logger()


def checkpoint(
    cfg: DbConfig,
    key_path: str | Path,
    out_path: str | Path | None = None,
    *,
    progress: Progress | None = None,
    cosign_key_path: str | Path | None = None,
) -> dict[str, Any]:
    """Verify the chain and the Merkle tree, then sign the head — ledger id,
    seq, chain hash, tree size, root hash, time (a signed tree head, checkpoint
    version 2) — record it in ``audit_checkpoints`` and write it as JSON to
    ``out_path``. ``cosign_key_path``: a witness key that co-signs at once.
    Refuses (TamperDetected, exit 4) to sign a chain that does not verify or a
    tree that does not match it."""
    key = load_private_key(key_path)
    witness = load_private_key(cosign_key_path) if cosign_key_path is not None else None
    require_ready_tree(cfg)
    # Verify and take the head in one snapshot: what is signed is exactly the
    # head that was verified, whatever is recorded meanwhile.
    with connect(cfg) as conn:
        begin_snapshot(conn)
        require_schema(cfg, conn)
        result, verified = verify_in(conn, None, progress)
        ledger_id = ledger_id_of(conn)
        seq, chain_hash = verified.expected_seq - 1, verified.head_hash
        root_hash = verified_root(conn, seq) if result["ok"] else b""
    if not result["ok"]:
        raise TamperDetected(
            "refusing to sign a checkpoint: the chain does not verify "
            f"(first bad seq {result['first_bad_seq']}: {result['problem']})"
        )
    from cryptography.hazmat.primitives import serialization

    public_raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    doc: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "ledger_id": ledger_id,
        "seq": seq,
        "chain_hash": chain_hash,
        "tree_size": seq,
        "root_hash": root_hash.hex(),
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    doc["key_id"] = key_id_of(key.public_key())
    doc["public_key"] = base64.b64encode(public_raw).decode("ascii")
    doc["signature"] = base64.b64encode(key.sign(checkpoint_message(doc))).decode("ascii")
    if witness is not None:
        doc = cosign(doc, witness)
    try:
        _record_checkpoint(cfg, doc)
    except pg_error("InsufficientPrivilege"):
        # a read-only role (the auditor) may still sign what it verified
        doc["recorded"] = False
        log.info("checkpoint signed but not recorded in audit_checkpoints: read-only role")
    if out_path is not None:
        write_checkpoint(doc, out_path)
    log.info("audit checkpoint", seq=seq, key_id=doc["key_id"])
    return doc


def write_checkpoint(doc: dict[str, Any], out_path: str | Path) -> None:
    text = json.dumps(
        {k: v for k, v in doc.items() if k != "recorded"}, indent=2, ensure_ascii=False
    )
    try:
        Path(out_path).write_text(text + "\n", encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot write checkpoint {out_path}: {e}") from None


def require_ready_tree(cfg: DbConfig) -> None:
    """Append what the chain holds beyond the stored tree (a read-only role
    cannot: its proofs compute the missing nodes in memory)."""
    if not merkle_store.ensure(cfg):
        log.info("merkle tree not extended: read-only role (nodes computed in memory)")


def verified_root(conn: Any, seq: int) -> bytes:
    """The root of the tree of ``seq`` leaves, from the stored nodes, after
    checking it against the tree recomputed from the chain in this snapshot:
    a stored node that no longer matches its events is refused (exit 4)."""
    stored = merkle_store.TreeView(conn, seq).root()
    bad = merkle_store.first_bad_node(conn, seq)
    if bad is not None:
        raise TamperDetected(f"refusing to sign a checkpoint: at seq {bad[0]}, {bad[1]}")
    _, recomputed = merkle_store.full_root(merkle_store.chain_leaves(conn, seq))
    if stored != recomputed:
        raise TamperDetected(
            "refusing to sign a checkpoint: the stored Merkle tree's root is not the root "
            "of the chain's events (merkle_nodes was altered)"
        )
    return stored


def cosign_checkpoint(
    checkpoint_path: str | Path,
    key_path: str | Path,
    out_path: str | Path,
    trusted_key_id: str | None = None,
) -> dict[str, Any]:
    """A witness co-signs a published checkpoint file (no database): checks
    its signature (and signer, with ``trusted_key_id``), adds the witness's
    signature over the same bytes and writes the result to ``out_path``."""
    doc = load_checkpoint(checkpoint_path)
    key = load_private_key(key_path)
    problem = check_checkpoint_document(doc, None, trusted_key_id)
    if problem is not None:
        raise TamperDetected(f"not co-signing {checkpoint_path}: {problem}")
    signed = cosign(doc, key)
    write_checkpoint(signed, out_path)
    log.info("audit cosign", seq=signed.get("seq"), witness=signed["cosignatures"][-1]["key_id"])
    return signed


def _record_checkpoint(cfg: DbConfig, doc: dict[str, Any]) -> None:
    with connect(cfg, write=True) as conn:
        row = execute(
            conn,
            "INSERT INTO audit_checkpoints "
            "(seq, chain_hash, taken_at, key_id, signature, public_key, ledger_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
            (
                doc["seq"],
                doc["chain_hash"],
                doc["taken_at"],
                doc["key_id"],
                doc["signature"],
                doc["public_key"],
                doc["ledger_id"],
            ),
        ).fetchone()
        if doc.get("version") == 2:
            execute(
                conn,
                "INSERT INTO audit_tree_heads (checkpoint_id, version, tree_size, root_hash) "
                "VALUES (?, ?, ?, ?)",
                (
                    row[0] if not isinstance(row, dict) else row["id"],
                    2,
                    doc["tree_size"],
                    doc["root_hash"],
                ),
            )


def list_checkpoints(cfg: DbConfig) -> list[dict[str, Any]]:
    with connect(cfg) as conn:
        return fetchall(
            conn,
            "SELECT seq, chain_hash, taken_at, key_id, ledger_id "
            "FROM audit_checkpoints ORDER BY id",
        )
