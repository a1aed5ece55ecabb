"""Ed25519 signing keys and the signed checkpoint document.

A checkpoint is a small JSON document (format ``ledger-checkpoint``, version 1)
naming a ledger, a sequence number and the chain hash there, signed with an
Ed25519 key. This module makes keys, defines the signed bytes and checks a
document's form, key and signature; no database. Taking a checkpoint of the
database's verified head is :mod:`ledger.audit.checkpoints`; checking that the
chain extends one is :mod:`ledger.audit.verify`.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from aggregates.errors import AlreadyExists, InvalidInput
from ledger.log import get_logger

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )
# cryptography is imported where a key is used: recording (which extends the
# Merkle tree, ledger.audit.merkle_store) loads this package, never a key

log = get_logger()

CHECKPOINT_FORMAT = "ledger-checkpoint"


# --- the checkpoint document: what is signed, and checking it ------------------------------


def key_id_of(public_key: Ed25519PublicKey) -> str:
    """First 16 hex digits of SHA-256 over the raw 32-byte public key."""
    from cryptography.hazmat.primitives import serialization

    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


CHECKPOINT_VERSION = 2
CHECKPOINT_VERSIONS = (1, 2)
_SIGNED_FIELDS = {
    1: ("chain_hash", "format", "ledger_id", "seq", "taken_at", "version"),
    2: (
        "chain_hash",
        "format",
        "ledger_id",
        "root_hash",
        "seq",
        "taken_at",
        "tree_size",
        "version",
    ),
}
_HEX = frozenset("0123456789abcdef")


def checkpoint_message(doc: dict[str, Any]) -> bytes:
    """The signed bytes: canonical JSON (sorted keys, no spaces, ASCII) of
    format, version, ledger_id, seq, chain_hash, taken_at — and, from version 2
    (a signed tree head), tree_size and root_hash. A witness's co-signature
    signs the same bytes."""
    version = doc.get("version")
    names = _SIGNED_FIELDS[version] if version in _SIGNED_FIELDS else _SIGNED_FIELDS[1]
    payload = {k: doc.get(k) for k in names}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode(
        "ascii"
    )


def _is_hash(value: Any) -> bool:
    return isinstance(value, str) and len(value) == 64 and set(value) <= _HEX


def _signature_problem(entry: Any, message: bytes, whose: str) -> str | None:
    """The problem with one ``{key_id, public_key, signature}``, or None.
    ``whose``: "the checkpoint's" or "witness X's co-signature:"."""
    if not isinstance(entry, dict):
        return f"{whose} entry is malformed"
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        raw = base64.b64decode(str(entry.get("public_key", "")), validate=True)
        public_key = Ed25519PublicKey.from_public_bytes(raw)
        signature = base64.b64decode(str(entry.get("signature", "")), validate=True)
    except ValueError:
        return f"{whose} public key or signature is malformed"
    if key_id_of(public_key) != entry.get("key_id"):
        return f"{whose} key id does not match its public key"
    try:
        public_key.verify(signature, message)
    except InvalidSignature:
        return "bad signature"
    return None


def check_checkpoint_document(
    doc: dict[str, Any],
    ledger_id: str | None,
    trusted_key_id: str | None = None,
    witness_key_ids: tuple[str, ...] | list[str] = (),
) -> str | None:
    """The problem with a checkpoint's form, key, signature or ledger, or None.
    ``trusted_key_id``: the signer's key id as published (``--key-id``); the
    key embedded in the file proves only that *some* key signed it.
    ``witness_key_ids``: keys that must each have co-signed the same head
    (``--witness-key-id``)."""
    if doc.get("format") != CHECKPOINT_FORMAT or doc.get("version") not in CHECKPOINT_VERSIONS:
        return "not a ledger checkpoint file (format ledger-checkpoint, version 1 or 2)"
    seq = doc.get("seq")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
        return "the checkpoint has no valid seq"
    chain_hash = doc.get("chain_hash")
    if not isinstance(chain_hash, str) or len(chain_hash) != 64:
        return "the checkpoint has no valid chain_hash"
    if doc.get("version") == 2:
        size = doc.get("tree_size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            return "the checkpoint has no valid tree_size"
        if not _is_hash(doc.get("root_hash")):
            return "the checkpoint has no valid root_hash"
    message = checkpoint_message(doc)
    problem = _signature_problem(doc, b"", "the checkpoint's")
    if problem is not None and problem != "bad signature":
        return problem
    if trusted_key_id is not None and doc.get("key_id") != trusted_key_id.strip().lower():
        return (
            f"the checkpoint was signed by key {doc.get('key_id')}, "
            f"not by the trusted key {trusted_key_id}"
        )
    if _signature_problem(doc, message, "the checkpoint's") is not None:
        return "bad signature: the checkpoint was not signed by its key, or was altered"
    if doc.get("version") == 2 and doc.get("tree_size") != seq:
        return "the checkpoint's tree_size is not its seq (one leaf per event)"
    for witness in witness_key_ids:
        wid = witness.strip().lower()
        cosigs = doc.get("cosignatures") or []
        mine = [c for c in cosigs if isinstance(c, dict) and c.get("key_id") == wid]
        if not isinstance(cosigs, list) or not mine:
            return f"the checkpoint is not co-signed by the witness key {wid}"
        problem = _signature_problem(mine[0], message, f"witness {wid}'s co-signature:")
        if problem == "bad signature":
            return f"bad co-signature of witness {wid}: not made by its key, or altered"
        if problem is not None:
            return problem
    if ledger_id is not None and doc.get("ledger_id") is None:
        return f"the checkpoint names no ledger (this ledger is {ledger_id})"
    if ledger_id is not None and doc.get("ledger_id") != ledger_id:
        return (
            f"the checkpoint is from another ledger (ledger id {doc.get('ledger_id')}, "
            f"this ledger is {ledger_id})"
        )
    return None


def signature_entry(key: Ed25519PrivateKey, message: bytes) -> dict[str, str]:
    """``{"key_id", "public_key", "signature"}`` of ``key`` over ``message``."""
    from cryptography.hazmat.primitives import serialization

    raw = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {
        "key_id": key_id_of(key.public_key()),
        "public_key": base64.b64encode(raw).decode("ascii"),
        "signature": base64.b64encode(key.sign(message)).decode("ascii"),
    }


def cosign(doc: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """A witness's co-signature: the same signed bytes, signed with another key,
    added to ``cosignatures`` (one per key; the signer's own key is refused).
    The document must carry a valid signature first."""
    problem = check_checkpoint_document(doc, None)
    if problem is not None:
        raise InvalidInput(f"cannot co-sign: {problem}")
    entry = signature_entry(key, checkpoint_message(doc))
    if entry["key_id"] == doc.get("key_id"):
        raise InvalidInput("a witness co-signs with its own key, not with the signer's")
    others = [
        c
        for c in (doc.get("cosignatures") or [])
        if isinstance(c, dict) and c.get("key_id") != entry["key_id"]
    ]
    return {**doc, "cosignatures": [*others, entry]}


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidInput(f"cannot read checkpoint {path}: {e}") from None
    if not isinstance(doc, dict):
        raise InvalidInput(f"cannot read checkpoint {path}: not a JSON object")
    return doc


# --- keys -------------------------------------------------------------------------------


def keygen(out_path: str | Path) -> dict[str, str]:
    """Make an Ed25519 key pair: the private key as PKCS#8 PEM at ``out_path``
    (mode 0600, never overwritten) and the public key as PEM at ``out_path.pub``."""
    out = Path(out_path)
    pub = out.with_name(out.name + ".pub")
    for existing in (out, pub):
        if existing.exists():
            raise AlreadyExists(f"{existing} already exists; not overwriting a key")
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(private_pem)
        os.chmod(out, 0o600)
        pub.write_bytes(public_pem)
    except OSError as e:
        raise InvalidInput(f"cannot write key {out}: {e}") from None
    key_id = key_id_of(key.public_key())
    log.info("audit keygen", key_id=key_id, out=str(out))
    return {"key_id": key_id, "private_key": str(out), "public_key": str(pub)}


def load_private_key(key_path: str | Path) -> Ed25519PrivateKey:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    try:
        key = serialization.load_pem_private_key(Path(key_path).read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as e:
        raise InvalidInput(f"cannot read signing key {key_path}: {e}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise InvalidInput(f"{key_path} is not an Ed25519 private key")
    return key
