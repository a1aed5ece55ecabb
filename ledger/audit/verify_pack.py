#!/usr/bin/env python3
"""Verify a ledger audit pack offline: Python 3.10+ and the `cryptography` package.

    python verify_pack.py [PACK_DIR | PACK.zip] [--key-id KEYID] [--witness-key-id ID ...]

With no path it checks the pack.json beside this script. It checks, in order,
and stops at the first thing wrong (``FAILED: …``, exit 1; bad usage exit 2):

1. the signed tree head: its key id is its key's, the Ed25519 signature over
   the head's canonical JSON, the signer is the published key (``--key-id``),
   every witness named with ``--witness-key-id`` co-signed the same bytes;
2. every event: its leaf (the chain record bytes rebuilt from the event's
   fields and stored bytes; for an ``"encoding": 2`` entry, a PostgreSQL chain
   row, also its ``recorded_by`` login and ``recorded_at`` server time), the
   leaf hash, and the audit path up to the signed root (RFC 9162 §2.1.3.2);
   the events of each aggregate are its versions 1, 2, 3 … with none missing;
3. the read-model digests: the state recomputed from the events (funds lines,
   debarments and blacklist entries as of the head's date) and its SHA-256.

This file is written into every pack by `ledger audit pack`; it imports
nothing from the ledger (docs/AUDIT.md §11 defines every byte it checks).
Use your own copy, not one handed to you with the pack.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import sys
import uuid
import zipfile
from decimal import Decimal
from pathlib import Path
from typing import Any

PACK_FORMAT = "ledger-audit-pack"
ENCODING = "docs/AUDIT.md: chain encoding v1 and v2 (the leaf), RFC 9162 §2.1 (the tree)"
# packs written before encoding 2 leaves (their events are all encoding 1 entries)
ENCODING_V1_ONLY = "docs/AUDIT.md: chain encoding v1 (the leaf), RFC 9162 §2.1 (the tree)"
_SIGNED = {
    1: ["chain_hash", "format", "ledger_id", "seq", "taken_at", "version"],
    2: [
        "chain_hash",
        "format",
        "ledger_id",
        "root_hash",
        "seq",
        "taken_at",
        "tree_size",
        "version",
    ],
}


class Failed(Exception):
    """The first thing wrong with the pack."""


def need(ok: bool, why: str) -> None:
    """Not `assert`: python -O would skip the checks."""
    if not ok:
        raise Failed(why)


# --- the leaf and the tree (docs/AUDIT.md §1, §8) --------------------------------------------


def field(b: bytes) -> bytes:
    return len(b).to_bytes(8, "big") + b


_UUID = re.compile(
    r"^(?:[0-9a-f]{32}|[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$"
)


def canonical_uuid(text: str) -> str:
    """A UUID as lowercase 8-4-4-4-12 text; any other id is itself."""
    if _UUID.match(text):
        h = text.replace("-", "")
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
    return text


def state_bytes(e: dict[str, Any]) -> bytes:
    if e.get("state_encoding") == "base64":
        return base64.b64decode(str(e["state"]), validate=True)
    need(e.get("state_encoding") == "utf-8", f"seq {e.get('seq')}: unknown state_encoding")
    return str(e["state"]).encode("utf-8")


def leaf_bytes(e: dict[str, Any]) -> bytes:
    """The chain record bytes of one event: encoding 1, the six fields; encoding 2
    (an entry with ``"encoding": 2``), the six then the login (UTF-8) and the
    server time (ASCII) — the bytes the chain hashed, docs/AUDIT.md §1."""
    fields = [
        str(int(e["seq"])).encode("ascii"),
        str(int(e["notification_id"])).encode("ascii"),
        canonical_uuid(str(e["originator_id"])).encode("utf-8"),
        str(int(e["version"])).encode("ascii"),
        str(e["topic"]).encode("utf-8"),
        state_bytes(e),
    ]
    encoding = e.get("encoding", 1)
    shown = {"recorded_by", "recorded_at"} & set(e)
    need(
        not isinstance(encoding, bool) and (encoding, len(shown)) in ((1, 0), (2, 2)),
        f"seq {e.get('seq')}: encoding {encoding!r} with {sorted(shown) or 'no'} login/time: "
        "an encoding 2 entry has recorded_by and recorded_at, an encoding 1 entry neither",
    )
    if encoding == 2:
        need(
            isinstance(e["recorded_by"], str) and isinstance(e["recorded_at"], str),
            f"seq {e.get('seq')}: recorded_by and recorded_at are not text",
        )
        fields += [e["recorded_by"].encode("utf-8"), e["recorded_at"].encode("ascii")]
    return b"".join(field(x) for x in fields)


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def root_from_path(leaf: bytes, index: int, size: int, path: list[bytes]) -> bytes | None:
    """RFC 9162 §2.1.3.2: the root an audit path leads to, or None."""
    if not 0 <= index < size:
        return None
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return None
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def unhex32(value: Any, what: str) -> bytes:
    """64 lowercase hex digits (no other spelling of the same bytes)."""
    need(isinstance(value, str) and len(value) == 64, f"{what} is not a 64-digit hex hash")
    try:
        raw = bytes.fromhex(str(value))
    except ValueError:
        raise Failed(f"{what} is not a 64-digit hex hash") from None
    need(raw.hex() == value, f"{what} is not in lowercase hex")
    return raw


def exact_keys(
    obj: Any, what: str, required: set[str], optional: frozenset[str] | set[str] = frozenset()
) -> None:
    """The pack's objects have exactly their documented members."""
    need(isinstance(obj, dict), f"{what} is not a JSON object")
    keys = set(obj)
    need(not required - keys, f"{what} lacks {', '.join(sorted(required - keys))}")
    extra = keys - required - optional
    need(not extra, f"{what} has unexpected {', '.join(sorted(extra))}")


def b64(value: Any, what: str) -> bytes:
    """Canonical base64 only: one spelling per byte string."""
    try:
        raw = base64.b64decode(str(value), validate=True)
    except ValueError:
        raise Failed(f"{what} is malformed") from None
    need(base64.b64encode(raw).decode("ascii") == value, f"{what} is not canonical base64")
    return raw


# --- the signed tree head ---------------------------------------------------------------


def key_id_of(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()[:16]


def check_signature(entry: Any, message: bytes, who: str) -> None:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    need(isinstance(entry, dict), f"{who}: no signature")
    raw = b64(entry.get("public_key"), f"{who}: the public key")
    signature = b64(entry.get("signature"), f"{who}: the signature")
    try:
        key = Ed25519PublicKey.from_public_bytes(raw)
    except ValueError:
        raise Failed(f"{who}: the public key is malformed") from None
    need(key_id_of(raw) == entry.get("key_id"), f"{who}: the key id is not its key's")
    try:
        key.verify(signature, message)
    except InvalidSignature:
        raise Failed(
            f"{who}: bad signature (the head was altered, or not signed by its key)"
        ) from None


def check_head(head: Any, key_id: str | None, witnesses: list[str]) -> None:
    need(isinstance(head, dict), "the pack has no signed tree head")
    need(
        head.get("format") == "ledger-checkpoint" and head.get("version") == 2,
        "the head is not a signed tree head (ledger-checkpoint version 2)",
    )
    message = json.dumps(
        {k: head.get(k) for k in _SIGNED[2]}, sort_keys=True, separators=(",", ":")
    ).encode("ascii")
    if key_id is not None:
        need(
            head.get("key_id") == key_id.lower(),
            f"the head was signed by key {head.get('key_id')}, not by the published {key_id}",
        )
    check_signature(head, message, "the head")
    need(head.get("tree_size") == head.get("seq"), "the head's tree_size is not its seq")
    exact_keys(
        head, "the head", {*_SIGNED[2], "key_id", "public_key", "signature"}, {"cosignatures"}
    )
    cosignatures = head.get("cosignatures", [])
    need(isinstance(cosignatures, list), "the head's cosignatures are not a list")
    for c in cosignatures:
        exact_keys(c, "a co-signature", {"key_id", "public_key", "signature"})
        check_signature(c, message, f"witness {c.get('key_id')}")
    for wid in witnesses:
        cosigs = [
            c
            for c in head.get("cosignatures") or []
            if isinstance(c, dict) and c.get("key_id") == wid.lower()
        ]
        need(bool(cosigs), f"the head is not co-signed by witness {wid}")
        check_signature(cosigs[0], message, f"witness {wid}")


# --- the read models, recomputed from the events (docs/AUDIT.md §11) ----------------------


def _data(value: Any) -> Any:
    return value.get("_data_") if isinstance(value, dict) and "_data_" in value else value


def read_model_state(events: list[dict[str, Any]], as_of: str) -> dict[str, Any]:
    """What the events give at the head: each platform's funds lines (sums by
    kind, in recording order), each unit's debarments and blacklist entries,
    and which of them are in force on ``as_of`` (the head's date)."""
    codes: dict[str, str] = {}
    funds: dict[str, dict[str, dict[str, Decimal]]] = {}
    debarments: dict[str, dict[str, dict[str, Any]]] = {}
    blacklist: dict[str, dict[str, dict[str, Any]]] = {}
    kinds = {
        "FundsAllocated": "allocated",
        "FundsDisbursed": "disbursed",
        "DisbursementReversed": "reversed",
        "FundsRecovered": "recovered",
    }
    for e in events:
        state = json.loads(state_bytes(e))
        agg = canonical_uuid(str(e["originator_id"]))
        name = str(e["topic"]).rsplit(".", 1)[-1]
        if "code" in state and int(e["version"]) == 1:
            codes[agg] = str(state["code"])
        owner = codes.get(agg, agg)
        on = _data(state.get("effective_on"))
        if name in kinds and str(e["topic"]).startswith("aggregates.platform:"):
            line = f"{state['category']}:{state['fiscal_year']}"
            sums = funds.setdefault(owner, {}).setdefault(
                line, {k: Decimal("0.00") for k in kinds.values()}
            )
            sums[kinds[name]] += Decimal(str(_data(state["amount"])))
        elif name == "Debarred":
            debarments.setdefault(owner, {})[str(state["debarment_id"])] = {
                "start": _data(state["start"]),
                "end": _data(state["end"]),
                "scopes": sorted(state.get("scopes") or []),
                "lifted_on": None,
            }
        elif name == "DebarmentLifted":
            debarments.setdefault(owner, {}).setdefault(str(state["debarment_id"]), {})[
                "lifted_on"
            ] = on
        elif name == "Blacklisted":
            blacklist.setdefault(owner, {})[str(state["entry_id"])] = {
                "added_on": on,
                "removed_on": None,
            }
        elif name == "Unblacklisted":
            blacklist.setdefault(owner, {}).setdefault(str(state["entry_id"]), {})["removed_on"] = (
                on
            )

    def in_force_d(d: dict[str, Any]) -> bool:
        lifted = d.get("lifted_on")
        return str(d.get("start")) <= as_of < str(d.get("end")) and not (
            lifted is not None and lifted <= as_of
        )

    def in_force_b(b: dict[str, Any]) -> bool:
        removed = b.get("removed_on")
        return str(b.get("added_on")) <= as_of and not (removed is not None and removed <= as_of)

    return {
        "as_of": as_of,
        "funds": {
            p: {line: {k: str(v) for k, v in sums.items()} for line, sums in lines.items()}
            for p, lines in funds.items()
        },
        "debarred": {
            u: {i: {**d, "in_force": in_force_d(d)} for i, d in ds.items()}
            for u, ds in debarments.items()
        },
        "blacklist": {
            u: {i: {**b, "in_force": in_force_b(b)} for i, b in bs.items()}
            for u, bs in blacklist.items()
        },
    }


def canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode(
        "utf-8"
    )


def digests(state: dict[str, Any]) -> dict[str, str]:
    """SHA-256 of the canonical JSON of each model (and of the as_of date)."""
    return {
        name: hashlib.sha256(canonical({"as_of": state["as_of"], name: state[name]})).hexdigest()
        for name in ("funds", "debarred", "blacklist")
    }


# --- the pack -------------------------------------------------------------------------------


def load_pack(where: str | None) -> dict[str, Any]:
    path = Path(where) if where else Path(__file__).resolve().parent
    try:
        if path.is_dir():
            raw = (path / "pack.json").read_bytes()
        else:
            with zipfile.ZipFile(io.BytesIO(path.read_bytes())) as z:
                raw = z.read("pack.json")
        pack: Any = json.loads(raw.decode("utf-8"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile) as e:
        raise Failed(f"cannot read the pack at {path}: {e}") from None
    if not isinstance(pack, dict):
        raise Failed("pack.json is not a JSON object")
    need(
        pack.get("format") == PACK_FORMAT and pack.get("version") == 1,
        "not a ledger audit pack (format ledger-audit-pack, version 1)",
    )
    return pack


def check_scope(scope: Any, aggregate_id: Any) -> str | None:
    """The aggregate a pack is about (None: the whole ledger), from its scope."""
    if scope == "the whole ledger":
        need(aggregate_id is None, "a pack of the whole ledger names an aggregate")
        return None
    kind, _, code = str(scope).partition(" ")
    need(kind in ("platform", "unit") and bool(code), f"unknown scope {scope!r}")
    expected = str(uuid.uuid5(uuid.NAMESPACE_URL, f"/{kind}s/{code}"))
    need(aggregate_id == expected, f"aggregate_id is not the id of {scope}")
    return expected


EVENT_KEYS = {
    "seq",
    "notification_id",
    "originator_id",
    "version",
    "topic",
    "state",
    "state_encoding",
    "leaf_index",
    "leaf_hash",
    "audit_path",
}


# a PostgreSQL chain row (encoding 2) shows what its leaf also holds
EVENT_KEYS_V2 = {"encoding", "recorded_by", "recorded_at"}


def check_event(e: Any, head: dict[str, Any], root: bytes) -> None:
    exact_keys(e, "an event entry", EVENT_KEYS, EVENT_KEYS_V2)
    seq = e.get("seq")
    need(isinstance(seq, int) and not isinstance(seq, bool), "an event has no seq")
    try:
        leaf = leaf_bytes(e)
    except (KeyError, TypeError, ValueError) as err:
        raise Failed(f"seq {seq}: the event's fields are malformed ({err})") from None
    h = leaf_hash(leaf)
    need(
        h == unhex32(e.get("leaf_hash"), f"seq {seq}: leaf_hash"),
        f"seq {seq}: the event "
        "does not hash to its leaf hash (the event or its stored bytes were changed)",
    )
    need(e.get("leaf_index") == seq - 1, f"seq {seq}: leaf_index is not seq - 1")
    path = e.get("audit_path")
    need(isinstance(path, list), f"seq {seq}: no audit path")
    nodes = [unhex32(p, f"seq {seq}: audit path") for p in path]
    need(
        root_from_path(h, seq - 1, int(head["tree_size"]), nodes) == root,
        f"seq {seq}: the audit path does not lead to the signed root",
    )


def verify(pack: dict[str, Any], key_id: str | None, witnesses: list[str]) -> str:
    head = pack.get("head")
    exact_keys(
        pack,
        "pack.json",
        {
            "format",
            "version",
            "ledger_id",
            "scope",
            "aggregate_id",
            "head",
            "key_ids",
            "events",
            "read_models",
            "encoding",
        },
    )
    need(
        pack["format"] == PACK_FORMAT and pack["version"] == 1,
        "not a ledger audit pack (format ledger-audit-pack, version 1)",
    )
    head = pack["head"]
    if not isinstance(head, dict):
        raise Failed("the pack has no signed tree head")
    check_head(head, key_id, witnesses)
    need(pack["encoding"] in (ENCODING, ENCODING_V1_ONLY), "the pack names another encoding")
    need(
        pack["key_ids"]
        == {
            "signer": head.get("key_id"),
            "witnesses": [c.get("key_id") for c in head.get("cosignatures", [])],
        },
        "key_ids are not the head's signer and witnesses",
    )
    agg = check_scope(pack["scope"], pack["aggregate_id"])
    need(pack.get("ledger_id") == head.get("ledger_id"), "the pack and its head name other ledgers")
    root = unhex32(head.get("root_hash"), "the head's root_hash")
    events = pack.get("events")
    if not isinstance(events, list):
        raise Failed("the pack has no list of events")
    need(
        pack["encoding"] == ENCODING
        or not any(isinstance(e, dict) and "encoding" in e for e in events),
        "the pack names chain encoding v1 only but has encoding 2 entries",
    )
    last_seq = 0
    versions: dict[str, int] = {}
    for e in events:
        check_event(e, head, root)
        need(e["seq"] > last_seq, f"seq {e['seq']}: events are not in seq order")
        last_seq = e["seq"]
        agg_of_event = canonical_uuid(str(e["originator_id"]))
        need(
            agg is None or agg_of_event == agg,
            f"seq {e['seq']}: the event is not of {pack['scope']}",
        )
        need(
            int(e["version"]) == versions.get(agg_of_event, 0) + 1,
            f"seq {e['seq']}: {agg_of_event} version {e['version']} follows version "
            f"{versions.get(agg_of_event, 0)}: an event of this aggregate is missing from the pack",
        )
        versions[agg_of_event] = int(e["version"])
    as_of = str(head.get("taken_at", ""))[:10]
    state = read_model_state(events, as_of)
    claimed = pack.get("read_models")
    if not isinstance(claimed, dict):
        raise Failed("the pack has no read_models")
    for name, digest in digests(state).items():
        entry = claimed.get(name)
        if not isinstance(entry, dict):
            raise Failed(f"the pack has no {name} digest")
        exact_keys(entry, f"read model {name}", {"as_of", "state", "digest"})
        need(entry["as_of"] == as_of, f"read model {name}: not as of the head's date")
        need(
            entry.get("state") == state[name],
            f"read model {name}: the stated state is not what the events give",
        )
        need(entry.get("digest") == digest, f"read model {name}: the digest is not its state's")
    return (
        f"ok: {len(events)} event(s) of {pack.get('scope')} proven in the signed tree head of "
        f"{head['tree_size']} events (root {head['root_hash']}, key {head['key_id']}"
        f"{', witnesses ' + ', '.join(witnesses) if witnesses else ''}); read models as of "
        f"{as_of}: " + ", ".join(f"{k} {v[:16]}" for k, v in digests(state).items())
    )


def main(argv: list[str]) -> int:
    where: str | None = None
    key_id: str | None = None
    witnesses: list[str] = []
    args = list(argv)
    while args:
        a = args.pop(0)
        if a in ("--key-id", "--witness-key-id") and args:
            value = args.pop(0)
            if a == "--key-id":
                key_id = value
            else:
                witnesses.append(value)
        elif a.startswith("-") or where is not None:
            print(__doc__.splitlines()[2].strip(), file=sys.stderr)
            return 2
        else:
            where = a
    try:
        print(verify(load_pack(where), key_id, witnesses))
    except Failed as e:
        print(f"FAILED: {e}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
