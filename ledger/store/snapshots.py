"""Snapshots of aggregates with long histories: a cache for commands, kept
outside the hash chain.

A command loads its platform (or unit) by replaying the aggregate's events;
with thousands of payments that replay is most of its cost. Every
``SNAPSHOT_INTERVAL`` versions the state the command just saved is written to
``aggregate_snapshots`` (its own table, migration 0140: no ``event_chain`` row,
no ``request_log`` row; the chained recorders never see it), and a load starts
from the newest snapshot and replays only the events after it — a command's
cost is flat in the length of the history.

What a snapshot is trusted for (docs/SCALE.md):

- ``ledger audit verify``, ``audit export``, ``projections rebuild/verify``
  and every query never read snapshots: the events are the record.
- A command uses a snapshot only if it decodes (a closed set of types: no
  class outside ``aggregates`` is ever built from a snapshot), names the
  aggregate and is at a version that was recorded, and its ``chain_hash``
  is the chain hash of that very event. Otherwise it is ignored (logged) and
  the command replays the events in full: a damaged, foreign or stale
  snapshot costs time, not correctness.
- A snapshot altered in place with a forged, well-formed state would be
  believed by commands on that aggregate until the next snapshot of it (it
  is the same trust as the read models: derived data, writable only by the
  writer's role on PostgreSQL). Deleting the table's rows is always safe:
  commands replay the events, and new snapshots are written as they go.

The encoding (format 2, recorded in every snapshot) is JSON with tags for
what JSON lacks: tuples, sets, dicts with non-text keys, dates, datetimes,
decimals, UUIDs, the state dataclasses of ``aggregates`` (``module:qualname``,
resolved only under ``aggregates.``), and compact collections of them (a
platform's payments: one JSON text per payment, under its voucher, decoded
only when that payment is looked up — so loading a platform's snapshot costs
about the same with 20 payments or 20,000).
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import json
import sqlite3
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate

from ledger.log import get_logger
from ledger.store.db import DbConnection, execute, fetchone

log = get_logger()

# A snapshot every this many versions of an aggregate (platforms and units).
SNAPSHOT_INTERVAL = 100
SNAPSHOT_TABLE = "aggregate_snapshots"
# The encoding's version, in every snapshot. A snapshot of another format
# (format 1, before it was recorded, kept each payment as tagged values and a
# funds line's every entry) is ignored like a damaged one: the command replays
# the events, and the next snapshot of the aggregate is of this format.
SNAPSHOT_FORMAT = 2
_STATE_MODULES = ("aggregates.",)

# Opens a connection for one statement or two (committed on exit, or autocommit).
Opener = Callable[[], AbstractContextManager[DbConnection]]


class SnapshotError(ValueError):
    """A snapshot that cannot be used (it is ignored; the events are replayed)."""


# --- the encoding ---------------------------------------------------------------------


def _enc(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, float, str)):
        if isinstance(value, float):
            raise SnapshotError("a float in an aggregate's state")
        return value
    if isinstance(value, Decimal):
        return {"__t": "dec", "v": str(value)}
    if isinstance(value, datetime):
        return {"__t": "dt", "v": value.isoformat()}
    if isinstance(value, date):
        return {"__t": "d", "v": value.isoformat()}
    if isinstance(value, UUID):
        return {"__t": "uuid", "v": str(value)}
    if isinstance(value, list):
        return [_enc(v) for v in value]
    if isinstance(value, tuple):
        return {"__t": "tuple", "v": [_enc(v) for v in value]}
    if isinstance(value, (set, frozenset)):
        return {"__t": "set", "v": [_enc(v) for v in value]}
    if isinstance(value, dict):
        return {"__t": "dict", "v": [[_enc(k), _enc(v)] for k, v in value.items()]}
    if hasattr(value, "snapshot_rows") and type(value).__module__.startswith(_STATE_MODULES):
        # a compact collection of the state (a platform's payments): rows of
        # plain values, decoded without a tag per value
        cls = type(value)
        keys, rows = value.snapshot_rows()
        return {"__t": "rows", "c": f"{cls.__module__}:{cls.__qualname__}", "k": keys, "v": rows}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        cls = type(value)
        if not cls.__module__.startswith(_STATE_MODULES):
            raise SnapshotError(f"{cls.__module__}.{cls.__qualname__} in an aggregate's state")
        return {
            "__t": "dc",
            "c": f"{cls.__module__}:{cls.__qualname__}",
            "v": [[k, _enc(v)] for k, v in vars(value).items()],
        }
    raise SnapshotError(f"{type(value).__name__} in an aggregate's state")


def _resolve(name: str) -> Any:
    """The object a snapshot names (``module:qualname``), only from the
    aggregates' own modules."""
    module, _, qualname = name.partition(":")
    if not module.startswith(_STATE_MODULES) or not qualname:
        raise SnapshotError(f"class {name} is not an aggregate's state")
    obj: Any = importlib.import_module(module)
    for part in qualname.split("."):
        obj = getattr(obj, part)
    return obj


@functools.lru_cache(maxsize=64)
def _state_class(name: str) -> type:
    obj = _resolve(name)
    if not (isinstance(obj, type) and dataclasses.is_dataclass(obj)):
        raise SnapshotError(f"class {name} is not an aggregate's state")
    return obj


@functools.lru_cache(maxsize=16)
def _rows_class(name: str) -> Any:
    obj = _resolve(name)
    if not (isinstance(obj, type) and hasattr(obj, "from_snapshot_rows")):
        raise SnapshotError(f"class {name} is not an aggregate's state")
    return obj


def _dec_object(obj: dict[str, Any]) -> Any:
    """One JSON object of the encoding, its contents already decoded (every
    object the encoder writes is a tagged one: json.loads's object_hook)."""
    tag = obj.get("__t")
    v: Any = obj.get("v")
    if tag == "dec":
        return Decimal(v)
    if tag == "dt":
        return datetime.fromisoformat(v)
    if tag == "d":
        return date.fromisoformat(v)
    if tag == "uuid":
        return UUID(v)
    if tag == "tuple":
        return tuple(v)
    if tag == "set":
        return set(v)
    if tag == "dict":
        return {k: x for k, x in v}
    if tag == "dc":
        cls = _state_class(str(obj.get("c")))
        inst: Any = object.__new__(cls)
        inst.__dict__.update({str(k): x for k, x in v})
        return inst
    if tag == "rows":
        keys = obj.get("k")
        if not isinstance(v, str) or not isinstance(keys, str):
            raise SnapshotError("compact rows that are not texts")
        return _rows_class(str(obj.get("c"))).from_snapshot_rows(keys, v)
    if tag is None and set(obj) == {"topic", "format", "state"}:
        return obj  # the envelope
    if tag is None and set(obj) == {"topic", "state"}:
        raise SnapshotError("a snapshot of format 1 (before the format was recorded)")
    raise SnapshotError(f"unknown tag {tag!r}")


def encode_state(agg: Aggregate) -> str:
    """The aggregate's state (its attributes but the pending events) as text."""
    state = {k: v for k, v in vars(agg).items() if k != "_pending_events"}
    return json.dumps(
        {
            "topic": f"{type(agg).__module__}:{type(agg).__qualname__}",
            "format": SNAPSHOT_FORMAT,
            "state": _enc(state),
        },
        ensure_ascii=False,
        separators=(",", ":"),
    )


def decode_state(text: str, expected: type[Aggregate]) -> Aggregate:
    """An aggregate of class ``expected`` from :func:`encode_state`'s text."""
    try:
        data = json.loads(text, object_hook=_dec_object)
        topic = f"{expected.__module__}:{expected.__qualname__}"
        if not isinstance(data, dict) or data.get("topic") != topic:
            raise SnapshotError("a snapshot of another kind of aggregate")
        if data.get("format") != SNAPSHOT_FORMAT:
            raise SnapshotError(f"a snapshot of format {data.get('format')!r}")
        state = data["state"]
        if not isinstance(state, dict) or not all(isinstance(k, str) for k in state):
            raise SnapshotError("a snapshot without a state")
    except SnapshotError:
        raise
    except Exception as e:  # whatever a damaged text raises
        raise SnapshotError(f"{type(e).__name__}: {e}") from None
    agg = object.__new__(expected)
    agg.__dict__.update(state)
    agg.__dict__["_pending_events"] = []
    return agg


# --- the table --------------------------------------------------------------------------


def _event_chain_hash(conn: DbConnection, ident: UUID, version: int) -> str | None:
    """The chain hash of the aggregate's event at `version`, or None."""
    if isinstance(conn, sqlite3.Connection):
        sql = (
            "SELECT c.chain_hash FROM ledger_events e JOIN event_chain c "
            "ON c.notification_id = e.rowid WHERE e.originator_id = ? AND e.originator_version = ?"
        )
        key: Any = ident.hex
    else:
        sql = (
            "SELECT c.chain_hash FROM ledger_events e JOIN event_chain c "
            "ON c.notification_id = e.notification_id "
            "WHERE e.originator_id = ? AND e.originator_version = ?"
        )
        key = ident
    row = fetchone(conn, sql, (key, version))
    return None if row is None else str(row["chain_hash"])


def save_snapshot(opener: Opener, agg: Aggregate) -> bool:
    """Write a snapshot of `agg` at its version (its events are recorded).
    Returns False (logged) when it could not be written; never raises."""
    try:
        text = encode_state(agg)
        with opener() as conn:
            chain_hash = _event_chain_hash(conn, agg.id, agg.version)
            if chain_hash is None:
                raise SnapshotError("its event is not recorded")
            execute(
                conn,
                f"INSERT INTO {SNAPSHOT_TABLE} (originator_id, originator_version, chain_hash, "
                "state) VALUES (?, ?, ?, ?) ON CONFLICT (originator_id, originator_version) "
                "DO NOTHING",
                (str(agg.id), agg.version, chain_hash, text),
            )
    except Exception as e:  # a snapshot is an optimisation: never fail the command
        log.warning("snapshot not written", aggregate=str(agg.id), error=str(e))
        return False
    return True


def load_snapshot(opener: Opener, ident: UUID, expected: type[Aggregate]) -> Aggregate | None:
    """The aggregate as of its newest usable snapshot, or None (no snapshot,
    or one that cannot be used: logged, and the caller replays the events)."""
    try:
        with opener() as conn:
            row = fetchone(
                conn,
                f"SELECT originator_version, chain_hash, state FROM {SNAPSHOT_TABLE} "
                "WHERE originator_id = ? ORDER BY originator_version DESC LIMIT 1",
                (str(ident),),
            )
            if row is None:
                return None
            version = int(row["originator_version"])
            if _event_chain_hash(conn, ident, version) != str(row["chain_hash"]):
                raise SnapshotError(f"version {version} does not match the recorded event")
        agg = decode_state(str(row["state"]), expected)
        if agg.id != ident or agg.version != version:
            raise SnapshotError("the state names another aggregate or version")
    except Exception as e:
        log.warning("snapshot ignored; replaying the events", aggregate=str(ident), error=str(e))
        return None
    return agg


def load(
    opener: Opener,
    ident: UUID,
    expected: type[Aggregate],
    events_after: Callable[[UUID, int], Any],
) -> Aggregate | None:
    """The aggregate from its newest snapshot and the events after it
    (`events_after(ident, version)`), or None when there is no usable snapshot."""
    agg = load_snapshot(opener, ident, expected)
    if agg is None:
        return None
    for event in events_after(ident, agg.version):
        event.mutate(agg)
    return agg


def crossed_interval(agg: Aggregate, new_events: int) -> bool:
    """Whether saving `new_events` events took `agg` across a multiple of the interval."""
    before = agg.version - new_events
    return agg.version // SNAPSHOT_INTERVAL > before // SNAPSHOT_INTERVAL
