"""The audit pack (``ledger audit pack``): the events asked for with their
stored bytes, each one's inclusion proof against one signed tree head, the
head, its key ids, the read models' state at the head recomputed from those
events with a digest of each, and ``verify_pack.py`` — a stand-alone verifier
that needs only Python and ``cryptography`` (docs/AUDIT.md §11)."""

from __future__ import annotations

import io
import json
import sqlite3
import time
import zipfile
from pathlib import Path
from typing import Any
from uuid import UUID

from aggregates.errors import InvalidInput, PlatformNotFound, UnitNotFound
from aggregates.platform import platform_id
from aggregates.unit import unit_id
from ledger.audit import verify_pack
from ledger.audit.merkle import root_addresses
from ledger.audit.merkle_store import TreeView
from ledger.audit.proofs import (
    check_root,
    events_of,
    inclusion_in,
    proof_addresses,
    published,
    recorded_head,
    require_tree_head,
)
from ledger.audit.verify import begin_snapshot, ledger_id_of, require_schema
from ledger.log import get_logger
from ledger.store.db import DbConfig, DbConnection, connect, fetchall

log = get_logger()

README = """A ledger audit pack.

pack.json       the events (seq, ids, topic, stored bytes), each with its Merkle
                inclusion proof against the signed tree head `head`, the head,
                its key ids, and the read models' state at the head with digests
verify_pack.py  checks all of it with Python 3.10+ and the `cryptography` package:

    pip install cryptography
    python verify_pack.py . --key-id <the signer's published key id>

Use your own copy of verify_pack.py (docs/AUDIT.md §11 of the ledger defines
every byte it checks), and get the key id from the signer, not from this pack.
"""


def _aggregate(conn: DbConnection, platform: str | None, unit: str | None) -> tuple[str, UUID]:
    if platform is not None and unit is not None:
        raise InvalidInput("give --platform or --unit, not both")
    if platform is not None:
        scope, agg = f"platform {platform}", platform_id(platform)
    elif unit is not None:
        scope, agg = f"unit {unit}", unit_id(unit)
    else:
        raise InvalidInput("internal: no aggregate")
    param: Any = agg.hex if isinstance(conn, sqlite3.Connection) else agg
    found = fetchall(conn, "SELECT 1 AS x FROM ledger_events WHERE originator_id = ?", (param,))
    if not found:
        raise PlatformNotFound(platform) if platform is not None else UnitNotFound(str(unit))
    return scope, agg


def build_pack(
    cfg: DbConfig,
    *,
    platform: str | None = None,
    unit: str | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The pack document (pack.json): every event of the platform or unit (all
    events when neither is given) up to the signed tree head, with proofs."""
    started = time.perf_counter()
    # read-only, like `prove`: nodes not yet stored are computed in memory
    with connect(cfg) as conn:
        begin_snapshot(conn)
        require_schema(cfg, conn)
        ledger_id = ledger_id_of(conn)
        scope, agg = "the whole ledger", None
        if platform is not None or unit is not None:
            scope, agg = _aggregate(conn, platform, unit)
        # the given head, else the newest recorded one: events after it are left out
        head = checkpoint if checkpoint is not None else recorded_head(conn, 0)
        if head is None:
            raise InvalidInput(
                "no signed tree head to prove against: take one with "
                "`ledger audit checkpoint`, or give --checkpoint FILE"
            )
        head = published(head)
        require_tree_head(head, ledger_id, "the checkpoint")
        size = int(head["tree_size"])
        rows = events_of(conn, agg, size)
        view = TreeView(conn, size)
        # every node the proofs need, with the root's, in one read (PostgreSQL)
        view.prefetch(
            [*root_addresses(size), *(a for r in rows for a in proof_addresses(r["seq"], size))]
        )
        check_root(view, head, "the checkpoint")
        events: list[dict[str, Any]] = []
        for row in rows:
            proof = inclusion_in(conn, view, int(row["seq"]), head, row)
            events.append(
                {
                    **proof["event"],
                    "leaf_index": proof["leaf_index"],
                    "leaf_hash": proof["leaf_hash"],
                    "audit_path": proof["audit_path"],
                }
            )
    as_of = str(head["taken_at"])[:10]
    state = verify_pack.read_model_state(events, as_of)
    digests = verify_pack.digests(state)
    pack = {
        "format": verify_pack.PACK_FORMAT,
        "version": 1,
        "ledger_id": ledger_id,
        "scope": scope,
        "aggregate_id": None if agg is None else str(agg),
        "head": head,
        "key_ids": {
            "signer": head.get("key_id"),
            "witnesses": [c.get("key_id") for c in head.get("cosignatures") or []],
        },
        "events": events,
        "read_models": {
            name: {"as_of": as_of, "state": state[name], "digest": digests[name]}
            for name in ("funds", "debarred", "blacklist")
        },
        "encoding": verify_pack.ENCODING,
    }
    log.info(
        "audit pack",
        scope=scope,
        events=len(events),
        tree_size=size,
        seconds=round(time.perf_counter() - started, 3),
    )
    return pack


def write_pack(pack: dict[str, Any], out: str | Path) -> Path:
    """Write the pack as a directory (pack.json, verify_pack.py, README.txt),
    or as a zip of the same three files when ``out`` ends in .zip."""
    target = Path(out)
    files = {
        "pack.json": (json.dumps(pack, indent=1, ensure_ascii=False) + "\n").encode("utf-8"),
        "verify_pack.py": Path(verify_pack.__file__).read_bytes(),
        "README.txt": README.encode("utf-8"),
    }
    try:
        if target.suffix.lower() == ".zip":
            if target.exists():
                raise InvalidInput(f"{target} already exists; not overwriting it")
            buf = io.BytesIO()
            with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
                for name, data in files.items():
                    z.writestr(name, data)
            target.write_bytes(buf.getvalue())
        else:
            if target.exists() and (not target.is_dir() or any(target.iterdir())):
                raise InvalidInput(f"{target} exists and is not an empty directory")
            target.mkdir(parents=True, exist_ok=True)
            for name, data in files.items():
                (target / name).write_bytes(data)
    except OSError as e:
        raise InvalidInput(f"cannot write the pack to {target}: {e}") from None
    return target


def pack(
    cfg: DbConfig,
    out: str | Path,
    *,
    platform: str | None = None,
    unit: str | None = None,
    checkpoint: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Build and write a pack; a summary for the command to print."""
    doc = build_pack(cfg, platform=platform, unit=unit, checkpoint=checkpoint)
    where = write_pack(doc, out)
    return {
        "out": str(where),
        "scope": doc["scope"],
        "events": len(doc["events"]),
        "tree_size": doc["head"]["tree_size"],
        "root_hash": doc["head"]["root_hash"],
        "key_id": doc["head"]["key_id"],
        "digests": {k: v["digest"] for k, v in doc["read_models"].items()},
    }
