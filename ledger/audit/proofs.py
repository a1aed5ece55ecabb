"""Inclusion and consistency proofs against signed tree heads (issue 16).

* :func:`prove` — the inclusion proof of one event (RFC 9162 §2.1.3) in a
  signed tree head (a version-2 checkpoint);
* :func:`consistency` — the proof that a newer signed head extends an older
  one (RFC 9162 §2.1.4);
* :func:`verify_proof` — checks either **without the database**: the signed
  head(s), the leaf's bytes, the path. The document shapes are docs/AUDIT.md §10.

Building a proof reads O(log n) stored nodes (one query), see
:mod:`ledger.audit.merkle_store`.
"""

from __future__ import annotations

import base64
import sqlite3
from typing import Any

from aggregates.errors import InvalidInput, TamperDetected
from ledger.audit.checkpoints import require_ready_tree
from ledger.audit.keys import check_checkpoint_document
from ledger.audit.merkle import (
    NodeAddr,
    consistency_addresses,
    consistency_proof_at,
    inclusion_addresses,
    inclusion_proof_at,
    leaf_hash,
    needed_addresses,
    verify_consistency,
    verify_inclusion,
)
from ledger.audit.merkle_store import TreeView, leaf_of
from ledger.audit.verify import begin_snapshot, ledger_id_of, require_schema
from ledger.log import get_logger
from ledger.store.db import DbConfig, DbConnection, connect, fetchall, fetchone
from ledger.store.encoding import canonical_originator_id

log = get_logger()

INCLUSION_FORMAT = "ledger-inclusion-proof"
CONSISTENCY_FORMAT = "ledger-consistency-proof"
_HEAD_FIELDS = (
    "format",
    "version",
    "ledger_id",
    "seq",
    "chain_hash",
    "tree_size",
    "root_hash",
    "taken_at",
    "key_id",
    "public_key",
    "signature",
    "cosignatures",
)


# --- the signed head a proof is made against ------------------------------------------


def published(doc: dict[str, Any]) -> dict[str, Any]:
    """A checkpoint as published (no bookkeeping keys)."""
    return {k: doc[k] for k in _HEAD_FIELDS if k in doc}


def require_tree_head(doc: dict[str, Any], ledger_id: str | None, what: str) -> None:
    problem = check_checkpoint_document(doc, ledger_id)
    if problem is not None:
        raise TamperDetected(f"{what}: {problem}")
    if doc.get("version") != 2:
        raise InvalidInput(
            f"{what} is a version-1 checkpoint: it signs no Merkle tree; "
            "take a new one with `ledger audit checkpoint`"
        )


def recorded_head(conn: DbConnection, seq: int) -> dict[str, Any] | None:
    """The newest signed tree head recorded in audit_checkpoints that covers ``seq``."""
    rows = fetchall(
        conn,
        "SELECT c.seq, c.chain_hash, c.taken_at, c.key_id, c.signature, c.public_key, "
        "c.ledger_id, h.tree_size, h.root_hash FROM audit_checkpoints c "
        "JOIN audit_tree_heads h ON h.checkpoint_id = c.id "
        "WHERE h.version = 2 AND h.tree_size >= ? ORDER BY c.id DESC LIMIT 1",
        (seq,),
    )
    if not rows:
        return None
    r = rows[0]
    return {
        "format": "ledger-checkpoint",
        "version": 2,
        "ledger_id": r["ledger_id"],
        "seq": int(r["seq"]),
        "chain_hash": r["chain_hash"],
        "tree_size": int(r["tree_size"]),
        "root_hash": r["root_hash"],
        "taken_at": r["taken_at"],
        "key_id": r["key_id"],
        "public_key": r["public_key"],
        "signature": r["signature"],
    }


def check_root(view: TreeView, head: dict[str, Any], what: str) -> None:
    size = int(head["tree_size"])
    if view.root(size).hex() != head["root_hash"]:
        raise TamperDetected(
            f"the ledger's Merkle tree of {size} events does not have {what}'s root hash: "
            "the ledger does not extend it (run `ledger audit verify --checkpoint`)"
        )


# --- inclusion ----------------------------------------------------------------------------


def _state_fields(state: bytes) -> dict[str, str]:
    try:
        return {"state": state.decode("utf-8"), "state_encoding": "utf-8"}
    except UnicodeDecodeError:
        return {"state": base64.b64encode(state).decode("ascii"), "state_encoding": "base64"}


def _event_at(conn: DbConnection, seq: int) -> dict[str, Any]:
    nid = "rowid" if isinstance(conn, sqlite3.Connection) else "notification_id"
    row = fetchone(
        conn,
        "SELECT c.seq, c.notification_id, e.originator_id, e.originator_version, e.topic, "
        f"e.state FROM event_chain c LEFT JOIN ledger_events e ON e.{nid} = c.notification_id "
        "WHERE c.seq = ?",
        (seq,),
    )
    if row is None or row["originator_id"] is None:
        raise TamperDetected(f"the event at seq {seq} is missing: run `ledger audit verify`")
    return row


def inclusion_in(
    conn: DbConnection, view: TreeView, seq: int, head: dict[str, Any]
) -> dict[str, Any]:
    """The inclusion proof of ``seq`` in ``head`` (already checked), in the
    caller's snapshot."""
    size = int(head["tree_size"])
    row = _event_at(conn, seq)
    state = bytes(row["state"])
    leaf = leaf_of(
        seq,
        int(row["notification_id"]),
        row["originator_id"],
        int(row["originator_version"]),
        str(row["topic"]),
        state,
    )
    index = seq - 1
    groups = inclusion_addresses(index, size)
    store = view.nodes(needed_addresses([*groups, [NodeAddr(0, index)]]))
    stored_leaf = store.get(0, index)
    if stored_leaf != leaf_hash(leaf):
        raise TamperDetected(
            f"the event at seq {seq} is not the one the tree holds: it was rewritten after "
            "it was recorded (run `ledger audit verify`)"
        )
    path = inclusion_proof_at(store, index, size)
    return {
        "format": INCLUSION_FORMAT,
        "version": 1,
        "ledger_id": head.get("ledger_id"),
        "seq": seq,
        "leaf_index": index,
        "tree_size": size,
        "leaf": leaf.hex(),
        "leaf_hash": leaf_hash(leaf).hex(),
        "audit_path": [h.hex() for h in path],
        "root_hash": head["root_hash"],
        "event": {
            "seq": seq,
            "notification_id": int(row["notification_id"]),
            "originator_id": canonical_originator_id(row["originator_id"]),
            "version": int(row["originator_version"]),
            "topic": str(row["topic"]),
            **_state_fields(state),
        },
        "checkpoint": published(head),
    }


def prove(cfg: DbConfig, seq: int, checkpoint: dict[str, Any] | None = None) -> dict[str, Any]:
    """The inclusion proof of the event at ``seq`` in a signed tree head: the
    given checkpoint, else the newest recorded one that covers ``seq``."""
    if seq < 1:
        raise InvalidInput(f"seq {seq}: sequence numbers start at 1")
    require_ready_tree(cfg)
    with connect(cfg) as conn:
        begin_snapshot(conn)
        require_schema(cfg, conn)
        ledger_id = ledger_id_of(conn)
        head = checkpoint if checkpoint is not None else recorded_head(conn, seq)
        if head is None:
            raise InvalidInput(
                f"no signed tree head covers seq {seq}: take one with "
                "`ledger audit checkpoint`, or give --checkpoint FILE"
            )
        require_tree_head(head, ledger_id, "the checkpoint")
        size = int(head["tree_size"])
        if seq > size:
            raise InvalidInput(f"seq {seq} is not in the signed tree head of {size} events")
        view = TreeView(conn, size)
        check_root(view, head, "the checkpoint")
        proof = inclusion_in(conn, view, seq, head)
    log.info("audit prove", seq=seq, tree_size=size)
    return proof


# --- consistency --------------------------------------------------------------------------


def consistency(cfg: DbConfig, old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """The consistency proof from the older signed head to the newer, from the
    ledger's stored tree; refuses (exit 4) when the proof does not hold."""
    with connect(cfg) as conn:
        ledger_id = ledger_id_of(conn)
    require_tree_head(old, ledger_id, "the older checkpoint")
    require_tree_head(new, ledger_id, "the newer checkpoint")
    old_size, new_size = int(old["tree_size"]), int(new["tree_size"])
    if old_size > new_size:
        raise InvalidInput(
            f"the older checkpoint has {old_size} events, more than the newer's {new_size}: "
            "give them oldest first"
        )
    if old_size == 0:
        raise InvalidInput("every tree extends the empty one: the older checkpoint has 0 events")
    require_ready_tree(cfg)
    with connect(cfg) as conn:
        begin_snapshot(conn)
        view = TreeView(conn, new_size)
        check_root(view, new, "the newer checkpoint")
        groups = consistency_addresses(old_size, new_size)
        path = consistency_proof_at(view.nodes(needed_addresses(groups)), old_size, new_size)
    doc = {
        "format": CONSISTENCY_FORMAT,
        "version": 1,
        "ledger_id": ledger_id,
        "old_size": old_size,
        "old_root": old["root_hash"],
        "new_size": new_size,
        "new_root": new["root_hash"],
        "consistency_path": [h.hex() for h in path],
        "old_checkpoint": published(old),
        "new_checkpoint": published(new),
    }
    result = verify_proof(doc)
    if not result["ok"]:
        raise TamperDetected(
            f"the newer checkpoint does not extend the older: {result['problem']} "
            "(an event at or before the older checkpoint was rewritten)"
        )
    log.info("audit consistency", old_size=old_size, new_size=new_size)
    return doc


# --- verifying, without the database ---------------------------------------------------


def _hex32(doc: dict[str, Any], name: str) -> bytes:
    value = doc.get(name)
    try:
        raw = bytes.fromhex(value) if isinstance(value, str) else b""
    except ValueError:
        raw = b""
    if len(raw) != 32 or value != raw.hex():
        raise InvalidInput(f"not a proof: {name} is not 64 lowercase hex digits")
    return raw


def _count(doc: dict[str, Any], name: str) -> int:
    value = doc.get(name)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InvalidInput(f"not a proof: {name} is not a whole number")
    return value


def _path(doc: dict[str, Any], name: str) -> list[bytes]:
    value = doc.get(name)
    if not isinstance(value, list):
        raise InvalidInput(f"not a proof: {name} is not a list of hashes")
    return [_hex32({name: h}, name) for h in value]


def _fields(leaf: bytes) -> list[bytes]:
    """The length-prefixed fields of chain record bytes."""
    out: list[bytes] = []
    at = 0
    while at < len(leaf):
        if at + 8 > len(leaf):
            raise ValueError("truncated length")
        n = int.from_bytes(leaf[at : at + 8], "big")
        at += 8
        if at + n > len(leaf):
            raise ValueError("truncated field")
        out.append(leaf[at : at + n])
        at += n
    return out


def _head_problem(
    head: Any, ledger_id: Any, key_id: str | None, witnesses: tuple[str, ...], what: str
) -> str | None:
    if not isinstance(head, dict):
        return f"{what}: there is no signed tree head"
    problem = check_checkpoint_document(head, ledger_id, key_id, witnesses)
    if problem is not None:
        return problem if problem.startswith(what) else f"{what}: {problem}"
    if head.get("version") != 2:
        return f"{what}: a version-1 checkpoint signs no Merkle tree"
    return None


def _inclusion_problem(
    doc: dict[str, Any], head: Any, key_id: str | None, witnesses: tuple[str, ...]
) -> str | None:
    seq, index, size = _count(doc, "seq"), _count(doc, "leaf_index"), _count(doc, "tree_size")
    root, claimed_leaf_hash = _hex32(doc, "root_hash"), _hex32(doc, "leaf_hash")
    path = _path(doc, "audit_path")
    try:
        leaf = bytes.fromhex(str(doc.get("leaf")))
        fields = _fields(leaf)
    except ValueError:
        raise InvalidInput("not a proof: leaf is not chain record bytes in hex") from None
    problem = _head_problem(head, doc.get("ledger_id"), key_id, witnesses, "the checkpoint")
    if problem is not None:
        return problem
    if (head.get("tree_size"), head.get("root_hash")) != (size, root.hex()):
        return "the proof is not against this signed tree head (tree size or root differs)"
    if len(fields) < 6 or fields[0] != str(seq).encode("ascii") or index != seq - 1:
        return f"the leaf is not the event at seq {seq} (leaf index {index})"
    event = doc.get("event")
    if isinstance(event, dict) and not _event_matches(event, leaf):
        return "the event shown is not the one the leaf encodes"
    if leaf_hash(leaf) != claimed_leaf_hash:
        return "the leaf hash is not SHA-256(0x00 || leaf): the leaf was changed"
    if not verify_inclusion(claimed_leaf_hash, index, size, path, root):
        return "the audit path does not lead from the leaf to the signed root"
    return None


def _event_matches(event: dict[str, Any], leaf: bytes) -> bool:
    try:
        state_text = str(event["state"])
        state = (
            base64.b64decode(state_text, validate=True)
            if event.get("state_encoding") == "base64"
            else state_text.encode("utf-8")
        )
        again = leaf_of(
            int(event["seq"]),
            int(event["notification_id"]),
            str(event["originator_id"]),
            int(event["version"]),
            str(event["topic"]),
            state,
        )
    except (KeyError, TypeError, ValueError):
        return False
    return again == leaf


def _consistency_problem(
    doc: dict[str, Any], head: Any, key_id: str | None, witnesses: tuple[str, ...]
) -> str | None:
    old_size, new_size = _count(doc, "old_size"), _count(doc, "new_size")
    old_root, new_root = _hex32(doc, "old_root"), _hex32(doc, "new_root")
    path = _path(doc, "consistency_path")
    old, new = doc.get("old_checkpoint"), doc.get("new_checkpoint")
    ledger_id = doc.get("ledger_id")
    for cp, what in ((old, "the older checkpoint"), (new, "the newer checkpoint")):
        problem = _head_problem(cp, ledger_id, key_id, witnesses, what)
        if problem is not None:
            return problem
    if not isinstance(old, dict) or not isinstance(new, dict):  # pragma: no cover - checked above
        return "there is no signed tree head"
    if (old.get("tree_size"), old.get("root_hash")) != (old_size, old_root.hex()):
        return "the older size or root is not the older checkpoint's"
    if (new.get("tree_size"), new.get("root_hash")) != (new_size, new_root.hex()):
        return "the newer size or root is not the newer checkpoint's"
    if head is not None and (head.get("tree_size"), head.get("root_hash")) != (
        new_size,
        new_root.hex(),
    ):
        return "the newer checkpoint is not the one given with --checkpoint"
    if not verify_consistency(old_size, new_size, old_root, new_root, path):
        return "the consistency path does not join the older root to the newer"
    return None


def verify_proof(
    doc: Any,
    checkpoint: dict[str, Any] | None = None,
    key_id: str | None = None,
    witness_key_ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Check an inclusion or consistency proof without the database.
    ``checkpoint``: the signed head to check against (else the one in the
    proof); ``key_id``: the signer's published key id. Returns
    ``{"ok", "kind", "problem", ...}``; InvalidInput when it is not a proof."""
    if not isinstance(doc, dict):
        raise InvalidInput("not a proof: expected a JSON object")
    fmt = doc.get("format")
    if fmt == INCLUSION_FORMAT and doc.get("version") == 1:
        head = checkpoint if checkpoint is not None else doc.get("checkpoint")
        problem = _inclusion_problem(doc, head, key_id, witness_key_ids)
        return {
            "ok": problem is None,
            "kind": "inclusion",
            "seq": doc.get("seq"),
            "tree_size": doc.get("tree_size"),
            "root_hash": doc.get("root_hash"),
            "problem": problem,
        }
    if fmt == CONSISTENCY_FORMAT and doc.get("version") == 1:
        problem = _consistency_problem(doc, checkpoint, key_id, witness_key_ids)
        return {
            "ok": problem is None,
            "kind": "consistency",
            "old_size": doc.get("old_size"),
            "new_size": doc.get("new_size"),
            "problem": problem,
        }
    raise InvalidInput(
        f"not a proof: format {fmt!r} (expected {INCLUSION_FORMAT} or {CONSISTENCY_FORMAT})"
    )
