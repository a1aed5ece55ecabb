"""The eventsourcing library's own abstract recorder test cases, run unchanged
against our hash-chained recorders on SQLite and on PostgreSQL, plus the
library's infrastructure-factory test case against our factories.

After every test, every recorder the test made is checked: its ``event_chain``
is dense from 1, has exactly one row per stored event, and each hash is the
SHA-256 chain over the stored events (so the library's concurrency tests also
prove that concurrent writers never fork or break the chain).
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Literal
from uuid import UUID, uuid4

import psycopg
import pytest
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    InfrastructureFactory,
    ProcessRecorder,
    TrackingRecorder,
)
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresDatastore,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.sqlite import (
    SQLiteAggregateRecorder,
    SQLiteDatastore,
    SQLiteProcessRecorder,
    SQLiteTrackingRecorder,
)
from eventsourcing.tests.persistence import (
    ApplicationRecorderTestCase,
    InfrastructureFactoryTestCase,
    tmpfile_uris,
)
from eventsourcing.utils import Environment

from ledger.store.chain import (
    GENESIS_HASH,
    ChainedSQLiteApplicationRecorder,
    LedgerSQLiteFactory,
    next_chain_hash,
)
from ledger.store.chain_pg import ChainedPostgresApplicationRecorder, LedgerPostgresFactory
from tests.conftest import PG_BASE

# --- chain check -----------------------------------------------------------------------


def _v2(r: Any) -> bool:
    return "encoding" in r.keys() and r["encoding"] == 2  # noqa: SIM118 - sqlite3.Row


def check_chain(rows: list[Any], n_events: int) -> None:
    """rows: seq, notification_id, chain_hash, originator_id, originator_version,
    topic, state — the chain joined to its events, in seq order."""
    if len(rows) != n_events:
        raise AssertionError(f"{n_events} events but {len(rows)} chained")
    prev = GENESIS_HASH
    for i, r in enumerate(rows, start=1):
        if r["seq"] != i:
            raise AssertionError(f"chain seq {r['seq']} where {i} expected")
        expected = next_chain_hash(
            prev,
            r["seq"],
            r["notification_id"],
            r["originator_id"],
            r["originator_version"],
            r["topic"],
            bytes(r["state"]),
            # encoding 2 (PostgreSQL's trigger) also hashes the login and the time
            recorded_by=r["recorded_by"] if _v2(r) else None,
            recorded_at=r["recorded_at"] if _v2(r) else None,
        )
        if r["chain_hash"] != expected:
            raise AssertionError(f"chain hash mismatch at seq {i}")
        prev = expected


def check_sqlite_chain(recorder: ChainedSQLiteApplicationRecorder) -> None:
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT COUNT(*) FROM {table}")
        n = c.fetchone()[0]
        c.execute(
            "SELECT c.seq, c.notification_id, c.chain_hash, e.originator_id, "
            "e.originator_version, e.topic, e.state "
            f"FROM event_chain c JOIN {table} e ON e.rowid = c.notification_id ORDER BY c.seq"
        )
        check_chain(c.fetchall(), n)


def check_pg_chain(recorder: ChainedPostgresApplicationRecorder) -> None:
    table = recorder.events_table_name
    with recorder.datastore.transaction(commit=False) as c:
        c.execute(f"SELECT COUNT(*) AS n FROM {table}")
        row = c.fetchone()
        n = row["n"] if row else 0
        c.execute(
            "SELECT c.seq, c.notification_id, c.chain_hash, c.encoding, c.recorded_by, "
            "c.recorded_at, e.originator_id, e.originator_version, e.topic, e.state "
            f"FROM event_chain c JOIN {table} e ON e.notification_id = c.notification_id "
            "ORDER BY c.seq"
        )
        check_chain(c.fetchall(), n)


# --- SQLite ------------------------------------------------------------------------------


class TestChainedSQLiteApplicationRecorder(
    ApplicationRecorderTestCase[ChainedSQLiteApplicationRecorder]
):
    db_uri = ":memory:"
    originator_id_type: Literal["uuid", "text"] = "uuid"

    def setUp(self) -> None:
        super().setUp()
        self.recorders: list[ChainedSQLiteApplicationRecorder] = []

    def tearDown(self) -> None:
        for recorder in self.recorders:
            check_sqlite_chain(recorder)
            recorder.datastore.close()
        super().tearDown()

    def create_recorder(self) -> ChainedSQLiteApplicationRecorder:
        recorder = ChainedSQLiteApplicationRecorder(
            SQLiteDatastore(
                db_name=self.db_uri,
                pool_size=100,
                originator_id_type=self.originator_id_type,
            )
        )
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.uris = tmpfile_uris()
        self.db_uri = next(self.uris)
        super().test_concurrent_no_conflicts()

    def test_concurrent_no_conflicts_in_memory_db(self) -> None:
        self.db_uri = "file::memory:?cache=shared"
        super().test_concurrent_no_conflicts()

    def test_concurrent_throughput(self) -> None:
        self.uris = tmpfile_uris()
        self.db_uri = next(self.uris)
        super().test_concurrent_throughput()


class TestChainedSQLiteApplicationRecorderWithTextOriginatorID(
    TestChainedSQLiteApplicationRecorder
):
    originator_id_type: Literal["uuid", "text"] = "text"

    def new_originator_id(self) -> UUID | str:
        return "test-" + str(uuid4())


class TestLedgerSQLiteFactory(InfrastructureFactoryTestCase[LedgerSQLiteFactory]):
    def expected_factory_class(self) -> type[LedgerSQLiteFactory]:
        return LedgerSQLiteFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return SQLiteAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return ChainedSQLiteApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return SQLiteTrackingRecorder

    class SQLiteTrackingRecorderSubclass(SQLiteTrackingRecorder):
        pass

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.SQLiteTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return SQLiteProcessRecorder

    def setUp(self) -> None:
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = (
            "ledger.store.chain:LedgerSQLiteFactory"
        )
        self.env["SQLITE_DBNAME"] = ":memory:"
        super().setUp()


# --- PostgreSQL ----------------------------------------------------------------------------


def _pg_admin() -> psycopg.Connection[tuple[Any, ...]]:
    return psycopg.connect(f"{PG_BASE}/postgres", autocommit=True, connect_timeout=5)


def _pg_parts() -> tuple[str, str, str]:
    rest = PG_BASE.split("://", 1)[1]
    user, hostport = rest.split("@", 1) if "@" in rest else ("postgres", rest)
    host, port = hostport.split(":", 1) if ":" in hostport else (hostport, "5432")
    return user.split(":", 1)[0], host, port


class FreshPostgresDatabase:
    """Mixin: a fresh database per test, dropped afterwards (skipped, or failed
    in CI, when the server is unreachable — as tests/conftest.py does)."""

    dbname: str

    def make_database(self) -> None:
        try:
            admin = _pg_admin()
        except psycopg.Error as e:  # pragma: no cover - depends on the machine
            if os.environ.get("CI"):
                pytest.fail(f"PostgreSQL is not reachable at {PG_BASE}: {e}")
            pytest.skip(f"PostgreSQL is not reachable at {PG_BASE}: {e}")
        self.dbname = f"ledger_t_{uuid.uuid4().hex[:12]}"
        with admin:
            admin.execute(f'CREATE DATABASE "{self.dbname}"')

    def drop_database(self) -> None:
        with _pg_admin() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')


class TestChainedPostgresApplicationRecorder(
    FreshPostgresDatabase,
    ApplicationRecorderTestCase[ChainedPostgresApplicationRecorder],
):
    originator_id_type: Literal["uuid", "text"] = "uuid"

    def setUp(self) -> None:
        super().setUp()
        self.make_database()
        user, host, port = _pg_parts()
        self.datastore = PostgresDatastore(
            self.dbname,
            host,
            port,
            user,
            "",
            pool_size=1,
            max_overflow=0,
            max_waiting=0,
            originator_id_type=self.originator_id_type,
        )
        self.recorders: list[ChainedPostgresApplicationRecorder] = []

    def tearDown(self) -> None:
        try:
            for recorder in self.recorders:
                check_pg_chain(recorder)
        finally:
            self.datastore.close()
            self.drop_database()
            super().tearDown()

    def create_recorder(self) -> ChainedPostgresApplicationRecorder:
        recorder = ChainedPostgresApplicationRecorder(self.datastore)
        recorder.create_table()
        self.recorders.append(recorder)
        return recorder

    def test_insert_subscribe(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(2, 2)
        super().optional_test_insert_subscribe()

    def test_concurrent_no_conflicts(self, initial_position: int = 0) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(12, 12)
        super().test_concurrent_no_conflicts()

    def test_concurrent_throughput(self) -> None:
        self.datastore.pool.open()
        self.datastore.pool.resize(10, 10)
        super().test_concurrent_throughput()


class TestChainedPostgresApplicationRecorderWithTextOriginatorID(
    TestChainedPostgresApplicationRecorder
):
    originator_id_type: Literal["uuid", "text"] = "text"

    def new_originator_id(self) -> UUID | str:
        return "test-" + str(uuid4())


class TestLedgerPostgresFactory(
    FreshPostgresDatabase, InfrastructureFactoryTestCase[LedgerPostgresFactory]
):
    def expected_factory_class(self) -> type[LedgerPostgresFactory]:
        return LedgerPostgresFactory

    def expected_aggregate_recorder_class(self) -> type[AggregateRecorder]:
        return PostgresAggregateRecorder

    def expected_application_recorder_class(self) -> type[ApplicationRecorder]:
        return ChainedPostgresApplicationRecorder

    def expected_tracking_recorder_class(self) -> type[TrackingRecorder]:
        return PostgresTrackingRecorder

    class PostgresTrackingRecorderSubclass(PostgresTrackingRecorder):
        pass

    def tracking_recorder_subclass(self) -> type[TrackingRecorder]:
        return self.PostgresTrackingRecorderSubclass

    def expected_process_recorder_class(self) -> type[ProcessRecorder]:
        return PostgresProcessRecorder

    def setUp(self) -> None:
        self.make_database()
        user, host, port = _pg_parts()
        self.env = Environment("TestCase")
        self.env[InfrastructureFactory.PERSISTENCE_MODULE] = (
            "ledger.store.chain_pg:LedgerPostgresFactory"
        )
        self.env["POSTGRES_DBNAME"] = self.dbname
        self.env["POSTGRES_HOST"] = host
        self.env["POSTGRES_PORT"] = port
        self.env["POSTGRES_USER"] = user
        self.env["POSTGRES_PASSWORD"] = ""
        super().setUp()

    def tearDown(self) -> None:
        try:
            super().tearDown()
        finally:
            self.drop_database()


del ApplicationRecorderTestCase
del InfrastructureFactoryTestCase
