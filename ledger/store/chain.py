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
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import psycopg
from eventsourcing.persistence import (
    ApplicationRecorder,
    InterfaceError,
    OperationalError,
    StoredEvent,
)
from eventsourcing.postgres import (
    PostgresApplicationRecorder,
    PostgresDatastore,
    PostgresFactory,
)
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteFactory,
)
from eventsourcing.utils import resolve_topic, retry
from psycopg.sql import SQL, Composed, Identifier

from ledger.store.db import LEDGER_EVENTS_TABLE, DbConfig, connect, fetchall, fetchone

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


# --- PostgreSQL ----------------------------------------------------------------------


def _chain_trigger_sql() -> str:
    """Migration 0120's text: the chain trigger and the encoding v2 function."""
    from importlib.resources import files

    return (
        files("migrations.postgresql")
        .joinpath("0120_chain_in_database.sql")
        .read_text(encoding="utf-8")
    )


def _binary_params(statement: Composed) -> Composed:
    """The statement with its ``%s`` placeholders sent in binary (``%b``)."""
    return Composed(
        [
            SQL(part.as_string().replace("%s", "%b")) if isinstance(part, SQL) else part
            for part in statement
        ]
    )


class ChainedPostgresApplicationRecorder(PostgresApplicationRecorder):
    """PostgreSQL application recorder on the chained ``ledger_events``.

    The chain rows are computed by the database (migration 0120: an AFTER
    INSERT trigger running with the owner's rights hashes the stored bytes
    with the login and the server's clock), never sent from here.
    ``insert_events`` is overridden wholesale (no pipeline): in one
    transaction it takes the library's EXCLUSIVE lock on the events table
    (through the ``ledger_events_lock()`` function, see migration 0002, so
    the trigger's own lock is a no-op and concurrent writers queue instead of
    deadlocking), NOTIFYs, inserts the events and the request row.
    """

    def __init__(
        self,
        datastore: PostgresDatastore,
        *,
        events_table_name: str = LEDGER_EVENTS_TABLE,
    ):
        super().__init__(datastore, events_table_name=events_table_name)
        schema = Identifier(self.datastore.schema)
        self.insert_events_statement += SQL(", originator_id, originator_version")
        # The events and the request rows are sent in binary (%b): in text, each
        # element of the arrays is quoted and escaped in Python (a regular
        # expression per field of every event) — most of a large batch's cost.
        self.insert_events_statement = _binary_params(self.insert_events_statement)
        # The EXCLUSIVE lock is taken through an owner-run (SECURITY DEFINER)
        # function, so the append-only clerk role needs no UPDATE privilege.
        lock_function = Identifier(f"{self.events_table_name}_lock")
        # create_table() (the library's tests; the ledger itself is built by
        # its migrations, CREATE_TABLE=n) makes the chain table and the
        # trigger exactly as migrations 0001, 0002 and 0120 do.
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.event_chain ("
                "seq bigint PRIMARY KEY, "
                "notification_id bigint NOT NULL UNIQUE, "
                "chain_hash text NOT NULL)"
            ).format(schema=schema)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.request_log ("
                "request_id text PRIMARY KEY, "
                "fingerprint text NOT NULL, "
                "result text NOT NULL, "
                "recorded_at timestamptz NOT NULL DEFAULT now())"
            ).format(schema=schema)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE TABLE IF NOT EXISTS {schema}.merkle_nodes ("
                "level smallint NOT NULL, idx bigint NOT NULL, hash bytea NOT NULL, "
                "PRIMARY KEY (level, idx))"
            ).format(schema=schema)
        )
        self.sql_create_statements.append(
            SQL(
                "CREATE OR REPLACE FUNCTION {schema}.{function}() RETURNS void "
                "LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog "
                "AS $$BEGIN LOCK TABLE {schema}.{table} IN EXCLUSIVE MODE; END;$$"
            ).format(
                schema=schema,
                function=lock_function,
                table=Identifier(self.events_table_name),
            )
        )
        if self.events_table_name == LEDGER_EVENTS_TABLE and self.datastore.schema == "public":
            self.sql_create_statements.append(SQL(_chain_trigger_sql()))  # type: ignore[arg-type]
        self.lock_table_statements = [
            SQL("SET LOCAL lock_timeout = '{0}s'").format(self.datastore.lock_timeout),
            SQL("SELECT {schema}.{function}()").format(schema=schema, function=lock_function),
        ]
        self.insert_request_statement = SQL(
            "INSERT INTO {schema}.request_log (request_id, fingerprint, result) "
            "SELECT * FROM unnest(%b::text[], %b::text[], %b::text[])"
        ).format(schema=schema)

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        requests = _requests_from(kwargs)
        if not stored_events and not requests:
            return None
        pg_events = [
            self.construct_pg_stored_event(s.originator_id, s.originator_version, s.topic, s.state)
            for s in stored_events
        ]
        ids_by_key: dict[tuple[str, int], int] = {}
        exc: Exception | None = None
        with self.datastore.get_connection() as conn:
            # Pipelined like the library's own insert: lock, notify, insert the
            # events (the trigger appends their chain rows) and the request row
            # go in one round trip, then COMMIT.
            with conn.pipeline() as pipeline, conn.transaction():
                with conn.cursor() as curs:
                    # Hook kept for subclasses (the library's process recorder uses it).
                    self._insert_events(curs, stored_events, **kwargs)
                    if stored_events:
                        self._lock_table(curs)
                        self._notify_channel(curs)
                try:
                    with conn.cursor() as ins:
                        if stored_events:
                            ins.execute(self.insert_events_statement, (pg_events,), prepare=True)
                        if requests:
                            conn.execute(
                                self.insert_request_statement,
                                (
                                    [r.request_id for r in requests],
                                    [r.fingerprint for r in requests],
                                    [r.result for r in requests],
                                ),
                                prepare=True,
                            )
                        # Sync now, so a uniqueness violation (a version conflict or
                        # a reused request id) raises IntegrityError here.
                        pipeline.sync()
                        if stored_events:
                            for row in ins.fetchall():
                                key = (
                                    canonical_originator_id(row["originator_id"]),
                                    row["originator_version"],
                                )
                                ids_by_key[key] = int(row["notification_id"])
                except Exception as e:
                    # Re-raised after the pipeline has exited (as the library does),
                    # and never committed.
                    exc = e
                    raise psycopg.Rollback() from None
            if exc:
                raise exc
        ids = [
            ids_by_key[(canonical_originator_id(s.originator_id), s.originator_version)]
            for s in stored_events
        ]
        if stored_events:
            self._extend_merkle_tree(
                [
                    (nid, s.originator_id, s.originator_version, s.topic, bytes(s.state))
                    for nid, s in zip(ids, stored_events, strict=True)
                ]
            )
        return ids

    def _extend_merkle_tree(self, written: list[tuple[int, Any, int, str, bytes]]) -> None:
        """After the commit: append the new chain rows to the Merkle tree in a
        short transaction of their own (docs/AUDIT.md §8: why not in this one);
        ``written``: the events just recorded, whose leaves need not be read back."""
        from ledger.audit.merkle_store import extend_after_commit

        with self.datastore.get_connection() as conn:
            extend_after_commit(conn, written)


class LedgerPostgresFactory(PostgresFactory):
    """The library's PostgreSQL factory, building the chained recorder on
    ``ledger_events`` whatever the application is called (the library would
    otherwise name the table after the application)."""

    application_recorder_class = ChainedPostgresApplicationRecorder

    def application_recorder(self) -> ApplicationRecorder:
        topic = self.env.get(self.APPLICATION_RECORDER_TOPIC)
        cls = resolve_topic(topic) if topic else self.application_recorder_class
        if not (isinstance(cls, type) and issubclass(cls, ChainedPostgresApplicationRecorder)):
            msg = f"{topic} is not a ChainedPostgresApplicationRecorder"
            raise TypeError(msg)
        recorder = cls(datastore=self.datastore, events_table_name=LEDGER_EVENTS_TABLE)
        if self.env_create_table():
            recorder.create_table()
        return recorder
