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

from aggregates.errors import InvalidInput, NotInitialised, TamperDetected
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
    root_addresses,
    verify_consistency,
    verify_inclusion,
)
from ledger.audit.merkle_store import TreeView, leaf_of, signed_over_old_leaves
from ledger.audit.verify import begin_snapshot, ledger_id_of, require_schema
from ledger.log import get_logger
from ledger.store.db import DbConfig, DbConnection, connect, fetchall, fetchone, pg_error
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


_RECORDED_HEAD = (
    "SELECT c.seq, c.chain_hash, c.taken_at, c.key_id, c.signature, c.public_key, "
    "c.ledger_id, h.tree_size, h.root_hash FROM audit_checkpoints c "
    "JOIN audit_tree_heads h ON h.checkpoint_id = c.id "
    "WHERE h.version = 2 AND h.tree_size >= ? "
    # not a head signed over the leaves before migration 0161 (re-derived tree)
    "AND NOT EXISTS (SELECT 1 FROM merkle_rederived r WHERE c.id <= r.last_checkpoint_id "
    "AND h.tree_size >= r.first_v2_seq) ORDER BY c.id DESC LIMIT 1"
)


def recorded_head(conn: DbConnection, seq: int) -> dict[str, Any] | None:
    """The newest signed tree head recorded in audit_checkpoints that covers ``seq``."""
    try:
        rows = fetchall(conn, _RECORDED_HEAD, (seq,))
    except (sqlite3.OperationalError, pg_error("UndefinedTable")) as e:
        if "merkle_rederived" in str(e):
            raise _behind() from None
        raise
    return _head_of(rows[0]) if rows else None


def _behind() -> NotInitialised:
    return NotInitialised(
        "the ledger's schema is behind this version (migration 0161 is not applied); "
        "run `ledger init`"
    )


def _head_of(r: dict[str, Any]) -> dict[str, Any]:
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
        if signed_over_old_leaves(view.conn, size, head["root_hash"]):
            raise InvalidInput(
                f"{what} was signed over the Merkle leaves used before migration 0161 "
                "(the v1 bytes of encoding 2 rows); the chain still matches it, but its "
                "tree is not the ledger's any more: take a new one with "
                "`ledger audit checkpoint` (docs/AUDIT.md §8)"
            )
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


_EVENT_COLUMNS = (
    "SELECT c.seq, c.notification_id, e.originator_id, e.originator_version, e.topic, "
    "e.state, c.encoding, c.recorded_by, c.recorded_at FROM event_chain c "
)


def _event_at(conn: DbConnection, seq: int) -> dict[str, Any]:
    nid = "rowid" if isinstance(conn, sqlite3.Connection) else "notification_id"
    row = fetchone(
        conn,
        _EVENT_COLUMNS + f"LEFT JOIN ledger_events e ON e.{nid} = c.notification_id "
        "WHERE c.seq = ?",
        (seq,),
    )
    if row is None or row["originator_id"] is None:
        raise TamperDetected(f"the event at seq {seq} is missing: run `ledger audit verify`")
    return row


def events_of(conn: DbConnection, originator: Any, size: int) -> list[dict[str, Any]]:
    """Every event of one aggregate (every event when ``originator`` is None)
    up to seq ``size``, with its chain row's encoding columns, in seq order:
    one query, for a pack."""
    sqlite = isinstance(conn, sqlite3.Connection)
    nid = "rowid" if sqlite else "notification_id"
    sql = _EVENT_COLUMNS + f"JOIN ledger_events e ON e.{nid} = c.notification_id WHERE c.seq <= ?"
    params: list[Any] = [size]
    if originator is not None:
        sql += " AND e.originator_id = ?"
        params.append(originator.hex if sqlite else originator)
    return fetchall(conn, sql + " ORDER BY c.seq", params)


def _tail_bytes(recorded: dict[str, Any]) -> bytes:
    """The login and time fields' bytes (without their 8-byte lengths)."""
    return str(recorded["recorded_by"]).encode("utf-8") + str(recorded["recorded_at"]).encode(
        "ascii"
    )


def proof_addresses(seq: int, size: int) -> list[NodeAddr]:
    """The stored nodes an inclusion proof of ``seq`` reads (its path, its leaf)."""
    index = seq - 1
    return needed_addresses([*inclusion_addresses(index, size), [NodeAddr(0, index)]])


def inclusion_in(
    conn: DbConnection,
    view: TreeView,
    seq: int,
    head: dict[str, Any],
    row: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The inclusion proof of ``seq`` in ``head`` (already checked), in the
    caller's snapshot (``row``: the event, already read by :func:`events_of`)."""
    size = int(head["tree_size"])
    if row is None:
        row = _event_at(conn, seq)
    state = bytes(row["state"])
    encoding = 1 if row["encoding"] is None else int(row["encoding"])
    # the chain row's encoding: a v2 row's login and server time are in its
    # leaf, and shown in the event so that a verifier can rebuild the leaf
    recorded = (
        {"encoding": encoding, "recorded_by": row["recorded_by"], "recorded_at": row["recorded_at"]}
        if encoding != 1
        else {}
    )
    try:
        leaf = leaf_of(
            seq,
            int(row["notification_id"]),
            row["originator_id"],
            int(row["originator_version"]),
            str(row["topic"]),
            state,
            **recorded,
        )
    except ValueError as e:
        raise TamperDetected(f"{e}: run `ledger audit verify`") from None
    index = seq - 1
    store = view.nodes(proof_addresses(seq, size))
    stored_leaf = store.get(0, index)
    if stored_leaf != leaf_hash(leaf):
        if recorded and stored_leaf == leaf_hash(leaf[: -16 - len(_tail_bytes(recorded))]):
            raise TamperDetected(
                f"the tree's leaf for seq {seq} is the hash of the event's v1 bytes, not of "
                "the encoding 2 record the chain hashed: merkle_nodes was built by a ledger "
                "before migration 0161; run `ledger init` (docs/AUDIT.md §8)"
            )
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
            **recorded,
        },
        "checkpoint": published(head),
    }


def prove(cfg: DbConfig, seq: int, checkpoint: dict[str, Any] | None = None) -> dict[str, Any]:
    """The inclusion proof of the event at ``seq`` in a signed tree head: the
    given checkpoint, else the newest recorded one that covers ``seq``."""
    if seq < 1:
        raise InvalidInput(f"seq {seq}: sequence numbers start at 1")
    # Read-only, one connection: the head's tree is stored already (the
    # checkpoint appended it); nodes not yet stored are computed in memory
    # (TreeView), so a proof never waits for the append lock (docs/MERKLE.md §5).
    with connect(cfg) as conn:
        begin_snapshot(conn)
        stored: int | None = None
        row: dict[str, Any] | None = None
        if isinstance(conn, sqlite3.Connection):
            require_schema(cfg, conn)
            ledger_id = ledger_id_of(conn)
            head = checkpoint if checkpoint is not None else recorded_head(conn, seq)
        else:
            ledger_id, found, stored, row = _pg_reads(cfg, conn, seq, checkpoint is None)
            head = checkpoint if checkpoint is not None else found
        if head is None:
            raise InvalidInput(
                f"no signed tree head covers seq {seq}: take one with "
                "`ledger audit checkpoint`, or give --checkpoint FILE"
            )
        require_tree_head(head, ledger_id, "the checkpoint")
        size = int(head["tree_size"])
        if seq > size:
            raise InvalidInput(f"seq {seq} is not in the signed tree head of {size} events")
        view = TreeView(conn, size, stored=stored)
        # the root's nodes and the proof's in one read
        view.prefetch([*root_addresses(size), *proof_addresses(seq, size)])
        check_root(view, head, "the checkpoint")
        proof = inclusion_in(conn, view, seq, head, row)
    log.info("audit prove", seq=seq, tree_size=size)
    return proof


def _pg_reads(
    cfg: DbConfig, conn: Any, seq: int, want_head: bool
) -> tuple[str | None, dict[str, Any] | None, int, dict[str, Any] | None]:
    """PostgreSQL: what `prove` reads before the nodes — the ledger id, the
    recorded head, the stored tree size, the event — in one round trip (a
    pipeline; the snapshot's BEGIN with it). A database without the ledger's
    tables is not initialised (exit 3)."""
    try:
        with conn.pipeline():
            ids = conn.execute(
                "SELECT value FROM ledger_settings WHERE key = 'ledger_id' ORDER BY id LIMIT 1"
            )
            heads = conn.execute(_RECORDED_HEAD.replace("?", "%s"), (seq,)) if want_head else None
            top = conn.execute("SELECT MAX(idx) AS top FROM merkle_nodes WHERE level = 0")
            event = conn.execute(
                _EVENT_COLUMNS + "LEFT JOIN ledger_events e "
                "ON e.notification_id = c.notification_id WHERE c.seq = %s",
                (seq,),
            )
    except pg_error("UndefinedTable") as e:
        conn.rollback()
        require_schema(cfg, conn)  # names what is missing
        if "merkle_rederived" in str(e):
            raise _behind() from None
        raise
    id_row, top_row, event_row = ids.fetchone(), top.fetchone(), event.fetchone()
    head_row = heads.fetchone() if heads is not None else None
    ledger_id = None if id_row is None else str(id_row["value"])
    stored = 0 if top_row is None or top_row["top"] is None else int(top_row["top"]) + 1
    if event_row is not None and event_row["originator_id"] is None:
        event_row = None  # a chain row without its event: inclusion_in names it
    return ledger_id, None if head_row is None else _head_of(head_row), stored, event_row


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
        # v1: no login or time shown; v2: both (an event shown with a login
        # its leaf does not hold is not the leaf's event)
        encoding = event.get("encoding", 1)
        shown = {"recorded_by", "recorded_at"} & set(event)
        if isinstance(encoding, bool) or (encoding, len(shown)) not in ((1, 0), (2, 2)):
            return False
        again = leaf_of(
            int(event["seq"]),
            int(event["notification_id"]),
            str(event["originator_id"]),
            int(event["version"]),
            str(event["topic"]),
            state,
            encoding=encoding,
            recorded_by=None if encoding == 1 else str(event["recorded_by"]),
            recorded_at=None if encoding == 1 else str(event["recorded_at"]),
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
