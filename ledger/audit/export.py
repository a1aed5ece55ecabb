"""The audit export: every event of the chain as JSON Lines (``audit export``),
and verifying such a file offline, with no database (``audit verify --export``).
The format is docs/AUDIT.md's "chain encoding v1"."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aggregates.errors import InvalidInput
from ledger.audit.keys import check_checkpoint_document
from ledger.audit.merkle import CompactRange, leaf_hash
from ledger.audit.verify import (
    BATCH,
    ChainRow,
    ChainVerifier,
    Progress,
    begin_snapshot,
    chain_rows,
    ledger_id_of,
    require_schema,
    result_of,
)
from ledger.log import get_logger
from ledger.store.db import DbConfig, connect, fetchone
from ledger.store.encoding import GENESIS_HASH, canonical_originator_id, chain_record_bytes

log = get_logger()

EXPORT_FORMAT = "ledger-audit-export"


def _state_fields(state: bytes) -> dict[str, Any]:
    try:
        text = state.decode("utf-8")
    except UnicodeDecodeError:
        return {"state": base64.b64encode(state).decode("ascii"), "state_encoding": "base64"}
    return {"state": text, "state_encoding": "utf-8"}


def _timestamp_of(state: bytes) -> str | None:
    """The event's recorded timestamp, if the state is the library's JSON."""
    try:
        obj = json.loads(state)
    except (ValueError, UnicodeDecodeError):
        return None
    ts = obj.get("timestamp") if isinstance(obj, dict) else None
    if isinstance(ts, dict):
        ts = ts.get("_data_")
    return ts if isinstance(ts, str) else None


def export(cfg: DbConfig, out_path: str | Path, since: int | None = None) -> dict[str, Any]:
    """Write every event with seq > ``since`` (all when None) as JSON Lines:
    a header line, then one line per event in seq order (see docs/AUDIT.md).
    Returns the header plus ``{"events": N, "out": path}``."""
    since = since or 0
    if since < 0:
        raise InvalidInput("--since must be a sequence number, 0 or more")
    out = Path(out_path)
    n = 0
    with connect(cfg) as conn:
        begin_snapshot(conn)
        require_schema(cfg, conn)
        prev = GENESIS_HASH
        if since:
            row = fetchone(conn, "SELECT chain_hash FROM event_chain WHERE seq = ?", (since,))
            if row is None:
                raise InvalidInput(f"--since {since}: there is no event with that seq")
            prev = str(row["chain_hash"])
        header = {
            "format": EXPORT_FORMAT,
            "version": 1,
            "ledger_id": ledger_id_of(conn),
            "exported_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
            "since_seq": since,
            "prev_hash": prev,
            "genesis_hash": GENESIS_HASH,
            "encoding": "see docs/AUDIT.md: chain encoding v1 and v2 (a line's 'encoding')",
        }
        tmp = out.with_name(out.name + ".part")
        try:
            with tmp.open("w", encoding="utf-8") as f:
                f.write(json.dumps(header, ensure_ascii=False) + "\n")
                for r in chain_rows(conn, since or None):
                    line: dict[str, Any] = {
                        "seq": r.seq,
                        "notification_id": r.notification_id,
                        "originator_id": (
                            None
                            if r.originator_id is None
                            else canonical_originator_id(r.originator_id)
                        ),
                        "version": r.originator_version,
                        "topic": r.topic,
                    }
                    if r.state is None:
                        line.update({"state": None, "state_encoding": None})
                    else:
                        line.update(_state_fields(r.state))
                    line["timestamp"] = None if r.state is None else _timestamp_of(r.state)
                    if r.encoding != 1:
                        line["encoding"] = r.encoding
                        line["recorded_by"] = r.recorded_by
                        line["recorded_at"] = r.recorded_at
                    line["prev_hash"] = prev
                    line["chain_hash"] = r.chain_hash
                    f.write(json.dumps(line, ensure_ascii=False) + "\n")
                    prev = r.chain_hash
                    n += 1
            tmp.replace(out)
        except OSError as e:
            tmp.unlink(missing_ok=True)
            raise InvalidInput(f"cannot write {out}: {e}") from None
    log.info("audit export", out=str(out), events=n, since=since)
    return {**header, "events": n, "out": str(out)}


def _text_or_none(value: Any) -> str | None:
    if value is not None and not isinstance(value, str):
        raise ValueError(f"{value!r} is not text")
    return value


def _export_rows(lines: Iterable[str], path: Path) -> Iterator[ChainRow]:
    for lineno, text in enumerate(lines, start=2):
        if not text.strip():
            continue
        try:
            obj = json.loads(text)
            state_text = obj.get("state")
            enc = obj.get("state_encoding")
            if state_text is None:
                state = None
            elif enc == "base64":
                state = base64.b64decode(state_text, validate=True)
            elif enc == "utf-8":
                state = str(state_text).encode("utf-8")
            else:
                raise ValueError(f"unknown state_encoding {enc!r}")
            oid = obj.get("originator_id")
            problem = None
            if oid is not None and (
                not isinstance(oid, str) or canonical_originator_id(oid) != oid
            ):
                # the export writes the canonical form, which is what is hashed
                problem = f"its originator id {oid!r} is not in the exported (canonical) form"
                oid = f"altered:{oid}"
            for name in ("seq", "notification_id", "version"):
                value = obj.get(name)
                if value is not None and (isinstance(value, bool) or not isinstance(value, int)):
                    raise ValueError(f"{name} is {value!r}, not an integer")
            yield ChainRow(
                seq=int(obj["seq"]),
                notification_id=int(obj["notification_id"]),
                chain_hash=str(obj["chain_hash"]),
                originator_id=oid,
                originator_version=obj.get("version"),
                topic=obj.get("topic"),
                state=state,
                has_event=obj.get("originator_id") is not None,
                problem=problem,
                encoding=int(obj.get("encoding", 1)),
                recorded_by=_text_or_none(obj.get("recorded_by")),
                recorded_at=_text_or_none(obj.get("recorded_at")),
            )
        except (ValueError, KeyError, TypeError) as e:
            raise InvalidInput(f"{path} line {lineno}: not an export line ({e})") from None


def verify_export(
    path: str | Path,
    checkpoint: dict[str, Any] | None = None,
    *,
    progress: Progress | None = None,
    trusted_key_id: str | None = None,
    witness_key_ids: tuple[str, ...] = (),
) -> dict[str, Any]:
    """Verify an export file offline (no database): same checks, same shape.
    A signed tree head (checkpoint version 2) is also checked against the
    Merkle tree recomputed from the export, when the export starts at seq 0."""
    p = Path(path)
    try:
        f = p.open(encoding="utf-8")
    except OSError as e:
        raise InvalidInput(f"cannot read export {p}: {e}") from None
    with f:
        try:
            header = json.loads(f.readline() or "null")
        except ValueError:
            header = None
        if not isinstance(header, dict) or header.get("format") != EXPORT_FORMAT:
            raise InvalidInput(f"{p} is not a ledger audit export (no header line)")
        since = int(header.get("since_seq") or 0)
        v = ChainVerifier(prev_hash=str(header.get("prev_hash")), expected_seq=since + 1)
        v.head_hash = v.prev_hash
        cp_problem: str | None = None
        if checkpoint is not None:
            cp_problem = check_checkpoint_document(
                checkpoint, header.get("ledger_id"), trusted_key_id, witness_key_ids
            )
            seq = checkpoint.get("seq")
            v.checkpoint_seq = seq if isinstance(seq, int) else -1
            v.checkpoint_hash = str(checkpoint.get("chain_hash"))
            if v.checkpoint_seq == since:
                # The export starts right after the checkpoint: its link must match.
                v.checkpoint_seen = True
                if v.prev_hash != v.checkpoint_hash:
                    v.checkpoint_problem = (
                        f"the export's starting hash (after seq {since}) is not the "
                        "checkpoint's: the ledger does not extend the checkpoint"
                    )
            elif 0 <= v.checkpoint_seq < since:
                cp_problem = cp_problem or (
                    f"the export starts after seq {since}, so it cannot show the "
                    f"checkpoint at seq {v.checkpoint_seq}; export --since {v.checkpoint_seq}"
                )
        last_seq = since
        tree_size = _tree_size_to_check(checkpoint, since)
        frontier = CompactRange()
        for row in _export_rows(f, p):
            v.feed(row)
            last_seq = row.seq
            if frontier.size < tree_size and row.seq == frontier.size + 1 and v.problem is None:
                frontier.append(leaf_hash(_leaf(row)))
            if progress is not None and v.checked % BATCH == 0:
                progress(v.checked, 0)
        if progress is not None:
            progress(v.checked, v.checked)
    cp = v.finish_checkpoint(last_seq)
    if cp is not None and cp_problem is not None:
        v.checkpoint_problem = cp_problem
        v.checkpoint_seen = False
        cp = {"seq": checkpoint.get("seq") if checkpoint else None, "ok": False}
    elif (
        cp is not None
        and cp["ok"]
        and checkpoint is not None
        and tree_size > 0
        and frontier.size == tree_size
        and frontier.root().hex() != checkpoint.get("root_hash")
    ):
        v.checkpoint_problem = (
            f"the Merkle tree of the export's first {tree_size} events does not have "
            "the checkpoint's root hash"
        )
        cp = {**cp, "ok": False}
    return result_of(v, v.checked, cp, last_seq)


def _tree_size_to_check(checkpoint: dict[str, Any] | None, since: int) -> int:
    """The tree size of a signed tree head to recompute from an export (0: none)."""
    if checkpoint is None or checkpoint.get("version") != 2 or since != 0:
        return 0
    size = checkpoint.get("tree_size")
    return size if isinstance(size, int) and not isinstance(size, bool) and size > 0 else 0


def _leaf(row: ChainRow) -> bytes:
    return chain_record_bytes(
        row.seq,
        row.notification_id,
        row.originator_id,
        int(row.originator_version or 0),
        str(row.topic),
        row.state or b"",
        # the bytes the chain hashed for this row (encoding 2: login and time)
        recorded_by=row.recorded_by if row.encoding == 2 else None,
        recorded_at=row.recorded_at if row.encoding == 2 else None,
    )
