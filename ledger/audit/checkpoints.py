"""Signed checkpoints of the database: verify the chain, sign its head, record
the signature in ``audit_checkpoints`` (``audit checkpoint``), and list them."""

from __future__ import annotations

import base64
import json
import os
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg
import structlog
from cryptography.hazmat.primitives import serialization

from aggregates.errors import InvalidInput, TamperDetected
from ledger.audit.keys import (
    CHECKPOINT_FORMAT,
    checkpoint_message,
    key_id_of,
    load_private_key,
)
from ledger.audit.verify import (
    Progress,
    begin_snapshot,
    ledger_id_of,
    require_schema,
    verify_in,
)
from ledger.store.db import DbConfig, connect, execute, fetchall

log = structlog.get_logger()


def checkpoint(
    cfg: DbConfig,
    key_path: str | Path,
    out_path: str | Path | None = None,
    *,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Verify the chain, then sign (ledger id, seq, chain hash, time) of its head,
    record it in ``audit_checkpoints`` and write it as JSON to ``out_path``.
    Refuses (TamperDetected, exit 4) to sign a chain that does not verify."""
    key = load_private_key(key_path)
    if out_path is not None:
        # refused before anything is recorded: a checkpoint row whose file
        # could not be written would be signed and kept, but never handed over
        _check_writable(Path(out_path))
    # Verify and take the head in one snapshot: what is signed is exactly the
    # head that was verified, whatever is recorded meanwhile.
    with connect(cfg) as conn:
        begin_snapshot(conn)
        require_schema(cfg, conn)
        result, verified = verify_in(conn, None, progress)
        ledger_id = ledger_id_of(conn)
    if not result["ok"]:
        raise TamperDetected(
            "refusing to sign a checkpoint: the chain does not verify "
            f"(first bad seq {result['first_bad_seq']}: {result['problem']})"
        )
    seq, chain_hash = verified.expected_seq - 1, verified.head_hash
    public_raw = key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    doc: dict[str, Any] = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "ledger_id": ledger_id,
        "seq": seq,
        "chain_hash": chain_hash,
        "taken_at": datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
    }
    doc["key_id"] = key_id_of(key.public_key())
    doc["public_key"] = base64.b64encode(public_raw).decode("ascii")
    doc["signature"] = base64.b64encode(key.sign(checkpoint_message(doc))).decode("ascii")
    try:
        _record_checkpoint(cfg, doc)
    except psycopg.errors.InsufficientPrivilege:
        # a read-only role (the auditor) may still sign what it verified
        doc["recorded"] = False
        log.info("checkpoint signed but not recorded in audit_checkpoints: read-only role")
    if out_path is not None:
        text = json.dumps(
            {k: v for k, v in doc.items() if k != "recorded"}, indent=2, ensure_ascii=False
        )
        try:
            Path(out_path).write_text(text + "\n", encoding="utf-8")
        except OSError as e:
            raise InvalidInput(f"cannot write checkpoint {out_path}: {e}") from None
    log.info("audit checkpoint", seq=seq, key_id=doc["key_id"])
    return doc


def _check_writable(out: Path) -> None:
    if out.is_dir():
        raise InvalidInput(f"cannot write checkpoint {out}: it is a directory")
    parent = out.parent if str(out.parent) else Path(".")
    if not parent.is_dir():
        raise InvalidInput(f"cannot write checkpoint {out}: {parent} is not a directory")
    if (out.exists() and not os.access(out, os.W_OK)) or not os.access(parent, os.W_OK):
        raise InvalidInput(f"cannot write checkpoint {out}: permission denied")


def _record_checkpoint(cfg: DbConfig, doc: dict[str, Any]) -> None:
    with connect(cfg, write=True) as conn:
        execute(
            conn,
            "INSERT INTO audit_checkpoints "
            "(seq, chain_hash, taken_at, key_id, signature, public_key, ledger_id) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                doc["seq"],
                doc["chain_hash"],
                doc["taken_at"],
                doc["key_id"],
                doc["signature"],
                doc["public_key"],
                doc["ledger_id"],
            ),
        )


def list_checkpoints(cfg: DbConfig) -> list[dict[str, Any]]:
    with connect(cfg) as conn:
        return fetchall(
            conn,
            "SELECT seq, chain_hash, taken_at, key_id, ledger_id "
            "FROM audit_checkpoints ORDER BY id",
        )
