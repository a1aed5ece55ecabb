"""Hash-chained application recorders and the request log.

Every stored event gets a row in ``event_chain`` written in the *same
transaction* as the event itself::

    chain_hash[seq] = SHA-256( raw32(chain_hash[seq - 1]) || encode(event) )

with ``chain_hash[0]`` = 64 zeros (the genesis) and ``encode`` the canonical
encoding of :func:`chain_record_bytes` (documented exactly in docs/AUDIT.md). ``seq``
is dense from 1 in the ledger's global (notification) order. On PostgreSQL the
chain row is computed by the database itself (a trigger, migration 0120:
encoding v2, which also hashes the login and the server's clock); on SQLite —
a single-user file with no login boundary — by the recorder (encoding v1).

The recorders are subclasses of the library's own SQLite and PostgreSQL
application recorders and pass the library's recorder test cases unchanged.
``insert_events(stored_events, request=RequestRecord(...))`` also writes the
``request_log`` row in that transaction (``requests=[...]``: several rows, for a
batch of imported lines); ``Application.save(*aggs, request=...)`` passes the
keyword through. A duplicate request id raises the library's ``IntegrityError``,
like a version conflict.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import resolve_topic

from ledger.store.db import LEDGER_EVENTS_TABLE, DbConfig, connect, fetchall, fetchone
from ledger.store.encoding import CHAIN_ENCODING as CHAIN_ENCODING
from ledger.store.encoding import CHAIN_ENCODING_V2 as CHAIN_ENCODING_V2
from ledger.store.encoding import GENESIS_HASH as GENESIS_HASH
from ledger.store.encoding import canonical_originator_id as canonical_originator_id
from ledger.store.encoding import chain_record_bytes as chain_record_bytes
from ledger.store.encoding import encode_event as encode_event
from ledger.store.encoding import next_chain_hash as next_chain_hash

# --- the request log -----------------------------------------------------------------


@dataclass(frozen=True)
class RequestRecord:
    """A ``--request-id``: the id, a fingerprint of the command's arguments, and
    the JSON result the command printed (returned again on a repeat)."""

    request_id: str
    fingerprint: str
    result: str


def _requests_from(kwargs: dict[str, Any]) -> list[RequestRecord]:
    """The request rows to write: ``request=`` (one) and ``requests=`` (several)."""
    request = kwargs.get("request")
    found = [] if request is None else [request]
    found.extend(kwargs.get("requests") or ())
    for r in found:
        if not isinstance(r, RequestRecord):
            msg = f"request must be a RequestRecord, not {type(r).__name__}"
            raise TypeError(msg)
    return found


def lookup_request(cfg: DbConfig, request_id: str) -> tuple[str, str] | None:
    """``(fingerprint, result)`` of a recorded request id, or None. On
    PostgreSQL a request id recorded by another database login is never
    replayed: it reads as a different command (fingerprint ``""``), so the
    caller refuses it as already used — one login cannot plant a result for
    another's request id."""
    with connect(cfg) as conn:
        if cfg.backend == "sqlite":
            row = fetchone(
                conn,
                "SELECT fingerprint, result, 1 AS mine FROM request_log WHERE request_id = ?",
                (request_id,),
            )
        else:
            row = fetchone(
                conn,
                "SELECT fingerprint, result, (recorded_by = session_user) AS mine "
                "FROM request_log WHERE request_id = ?",
                (request_id,),
            )
    if row is None:
        return None
    if not row["mine"]:
        return "", ""
    return str(row["fingerprint"]), str(row["result"])


def lookup_fingerprints(cfg: DbConfig, request_ids: Sequence[str]) -> dict[str, str]:
    """``{request id: fingerprint}`` of those of ``request_ids`` already recorded
    (one query per 500 ids: a batch of imported lines asks at once)."""
    found: dict[str, str] = {}
    ids = list(dict.fromkeys(request_ids))
    with connect(cfg) as conn:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            for row in fetchall(
                conn,
                f"SELECT request_id, fingerprint FROM request_log WHERE request_id IN ({marks})",
                chunk,
            ):
                found[str(row["request_id"])] = str(row["fingerprint"])
    return found


def existing_originators(cfg: DbConfig, ids: Sequence[UUID]) -> set[UUID]:
    """Those of ``ids`` that have events (one query per 500 ids): an import asks
    once per batch whether the units, platforms and vouchers it creates exist."""
    found: set[UUID] = set()
    wanted = list(dict.fromkeys(ids))
    with connect(cfg) as conn:
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            # SQLite keeps the id as text (32 hex digits); PostgreSQL as uuid
            params: list[Any] = (
                [u.hex for u in chunk] + [str(u) for u in chunk]
                if cfg.backend == "sqlite"
                else list(chunk)
            )
            marks = ", ".join("?" for _ in params)
            for row in fetchall(
                conn,
                f"SELECT DISTINCT originator_id FROM {LEDGER_EVENTS_TABLE} "
                f"WHERE originator_id IN ({marks})",
                params,
            ):
                found.add(UUID(str(row["originator_id"])))
    return found


# --- SQLite --------------------------------------------------------------------------

SQLITE_CHAIN_TABLES = [
    # as migrations 0001 and 0120 leave it (the encoding columns: SQLite rows
    # are encoding 1, the leaf query reads the column on both backends)
    "CREATE TABLE IF NOT EXISTS event_chain ("
    "seq INTEGER PRIMARY KEY, "
    "notification_id INTEGER NOT NULL UNIQUE, "
    "chain_hash TEXT NOT NULL, "
    "encoding INTEGER NOT NULL DEFAULT 1, recorded_by TEXT, recorded_at TEXT)",
    "CREATE TABLE IF NOT EXISTS request_log ("
    "request_id TEXT PRIMARY KEY, "
    "fingerprint TEXT NOT NULL, "
    "result TEXT NOT NULL, "
    "recorded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))",
    # the Merkle tree (migration 0160 is the schema the ledger uses)
    "CREATE TABLE IF NOT EXISTS merkle_nodes ("
    "level INTEGER NOT NULL, idx INTEGER NOT NULL, hash BLOB NOT NULL, "
    "PRIMARY KEY (level, idx)) WITHOUT ROWID",
]


class ChainedSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    """SQLite application recorder that chains every event it inserts.

    The library opens a deferred ``BEGIN``; the event INSERT runs first, which
    takes SQLite's write lock (waiting out the busy timeout) before we read the
    chain head, so two processes can never both extend the same head.
    """

    def __init__(
        self,
        datastore: SQLiteDatastore,
        events_table_name: str = LEDGER_EVENTS_TABLE,
    ):
        super().__init__(datastore, events_table_name)

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *SQLITE_CHAIN_TABLES]

    def _insert_events(
        self,
        c: SQLiteCursor,
        stored_events: Sequence[StoredEvent],
        **kwargs: Any,
    ) -> Sequence[int] | None:
        requests = _requests_from(kwargs)
        # Write first: this is what takes the write lock.
        notification_ids = super()._insert_events(c, stored_events, **kwargs)
        if requests:
            c.executemany(
                "INSERT INTO request_log (request_id, fingerprint, result) VALUES (?, ?, ?)",
                [(r.request_id, r.fingerprint, r.result) for r in requests],
            )
        if stored_events and notification_ids:
            c.execute("SELECT seq, chain_hash FROM event_chain ORDER BY seq DESC LIMIT 1")
            head = c.fetchone()
            seq, prev = (int(head[0]), str(head[1])) if head else (0, GENESIS_HASH)
            rows: list[tuple[int, int, str]] = []
            # each event's chain record bytes, hashed into the chain and the
            # Merkle tree's leaf (the same bytes: computed once, for both)
            leaves: list[bytes] = []
            first = seq + 1
            for s, nid in zip(stored_events, notification_ids, strict=True):
                seq += 1
                record = chain_record_bytes(
                    seq, nid, s.originator_id, s.originator_version, s.topic, bytes(s.state)
                )
                h = hashlib.sha256(bytes.fromhex(prev))
                h.update(record)
                prev = h.hexdigest()
                rows.append((seq, nid, prev))
                leaves.append(record)
            c.executemany(
                "INSERT INTO event_chain (seq, notification_id, chain_hash) VALUES (?, ?, ?)",
                rows,
            )
            # The Merkle tree grows in the same transaction, from the chain rows
            # just written (docs/AUDIT.md §8). Imported here: ledger.audit
            # imports this module.
            from ledger.audit.merkle_store import extend_sqlite

            extend_sqlite(c, (first, leaves))
        return notification_ids


class LedgerSQLiteFactory(SQLiteFactory):
    """The library's SQLite factory, building the chained recorder on
    ``ledger_events`` whatever the application is called."""

    application_recorder_class = ChainedSQLiteApplicationRecorder

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls = resolve_topic(topic) if topic else self.application_recorder_class
        if not (isinstance(cls, type) and issubclass(cls, ChainedSQLiteApplicationRecorder)):
            msg = f"{topic} is not a ChainedSQLiteApplicationRecorder"
            raise TypeError(msg)
        recorder = cls(datastore=self.datastore, events_table_name=LEDGER_EVENTS_TABLE)
        if self.env_create_table():
            recorder.create_table()
        return recorder


# The PostgreSQL recorder and factory live in ledger.store.chain_pg (psycopg is
# imported only for a PostgreSQL ledger); asked for here, they are loaded then.
_PG_NAMES = frozenset({"ChainedPostgresApplicationRecorder", "LedgerPostgresFactory"})


def __getattr__(name: str) -> Any:
    if name in _PG_NAMES:
        from ledger.store import chain_pg

        return getattr(chain_pg, name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
