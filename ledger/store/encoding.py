"""The chain's canonical encoding and hash (docs/AUDIT.md §1): the standard
library only, so that what verifies the chain (a query's trust check, a
catch-up, ``audit verify``) loads neither the event store nor a database
driver. ``ledger.store.chain`` re-exports every name."""

from __future__ import annotations

import hashlib
import re
from uuid import UUID

GENESIS_HASH = "0" * 64
_HEX32 = re.compile(r"[0-9a-f]{32}")
_UUID_TEXT = re.compile(
    r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


# --- the canonical encoding ----------------------------------------------------------


def canonical_originator_id(value: UUID | str) -> str:
    """UUIDs (a ``uuid.UUID``, or 32 / 36 lowercase hex text as SQLite stores
    them) become the lowercase hyphenated form; any other text is itself."""
    if isinstance(value, UUID):
        return str(value)
    if len(value) == 32 and _HEX32.fullmatch(value):
        # the SQLite recorder's form, spelt as str(UUID(value)) would (fast path)
        return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"
    if _UUID_TEXT.match(value):
        return str(UUID(value))
    return value


def _field(data: bytes) -> bytes:
    return len(data).to_bytes(8, "big") + data


CHAIN_ENCODING = "chain encoding v1"
CHAIN_ENCODING_V2 = "chain encoding v2"


def chain_record_bytes(
    seq: int,
    notification_id: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
    *,
    recorded_by: str | None = None,
    recorded_at: str | None = None,
) -> bytes:
    """The chain record bytes of one stored event: fields, each an 8-byte
    big-endian length followed by that many bytes — seq, notification id and
    version as ASCII decimal, originator id as :func:`canonical_originator_id`
    in UTF-8, topic in UTF-8, state as the raw stored bytes (``CHAIN_ENCODING``,
    v1: these six fields); v2 (``recorded_by`` and ``recorded_at`` given, as
    PostgreSQL's trigger writes them) appends the database login in UTF-8 and
    the server time ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` in ASCII.

    This is what the chain hashes after the previous hash, and the Merkle
    tree's leaf: the one definition both use (docs/AUDIT.md §1). The SQL
    function ``ledger_chain_record_v2`` (migration 0120) is the same bytes."""
    fields = [
        str(seq).encode("ascii"),
        str(notification_id).encode("ascii"),
        canonical_originator_id(originator_id).encode("utf-8"),
        str(originator_version).encode("ascii"),
        topic.encode("utf-8"),
        bytes(state),
    ]
    if recorded_by is not None or recorded_at is not None:
        if recorded_by is None or recorded_at is None:
            msg = "chain encoding v2 needs both recorded_by and recorded_at"
            raise ValueError(msg)
        fields += [recorded_by.encode("utf-8"), recorded_at.encode("ascii")]
    # (what _field does to each, inlined: this runs once per event verified)
    return b"".join([len(f).to_bytes(8, "big") + f for f in fields])


# The name the chain's first version used; the same function.
encode_event = chain_record_bytes


def next_chain_hash(
    prev_hash: str,
    seq: int,
    notification_id: int,
    originator_id: UUID | str,
    originator_version: int,
    topic: str,
    state: bytes,
    *,
    recorded_by: str | None = None,
    recorded_at: str | None = None,
) -> str:
    """``SHA-256(bytes.fromhex(prev_hash) || chain_record_bytes(...))`` as lowercase hex."""
    h = hashlib.sha256(bytes.fromhex(prev_hash))
    h.update(
        chain_record_bytes(
            seq,
            notification_id,
            originator_id,
            originator_version,
            topic,
            state,
            recorded_by=recorded_by,
            recorded_at=recorded_at,
        )
    )
    return h.hexdigest()


__all__ = [
    "CHAIN_ENCODING",
    "CHAIN_ENCODING_V2",
    "GENESIS_HASH",
    "canonical_originator_id",
    "chain_record_bytes",
    "encode_event",
    "next_chain_hash",
]
