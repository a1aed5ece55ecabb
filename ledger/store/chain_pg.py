"""The PostgreSQL half of the chained recorders (``ledger.store.chain``): its
own module, so that a SQLite ledger never imports psycopg or the library's
PostgreSQL persistence. ``ledger.store.chain`` still answers for these names
(importing this module when one is asked for)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
from eventsourcing.utils import resolve_topic, retry
from psycopg.sql import SQL, Composed, Identifier

from ledger.store.chain import _requests_from
from ledger.store.db import LEDGER_EVENTS_TABLE
from ledger.store.encoding import canonical_originator_id

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


__all__ = ["ChainedPostgresApplicationRecorder", "LedgerPostgresFactory"]
