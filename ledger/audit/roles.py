"""The database roles: ``ledger_auditor`` (read-only) and ``ledger_clerk``
(append-only history) on PostgreSQL; on SQLite, the append-only triggers."""

from __future__ import annotations

import sqlite3
from typing import Any

import psycopg

from aggregates.errors import NotInitialised
from ledger.store.db import DbConfig, connect, fetchall

APPEND_ONLY_TABLES = (
    "ledger_events",
    "event_chain",
    "request_log",
    "ledger_settings",
    "audit_checkpoints",
    "merkle_nodes",
    "audit_tree_heads",
)


def create_roles(cfg: DbConfig) -> list[str]:
    """PostgreSQL: create (or bring up to date) ``ledger_auditor`` (read-only)
    and ``ledger_clerk`` (append-only on the history tables, full DML on the
    read models). Idempotent. SQLite has no roles: says so, after checking the
    append-only triggers are in place. Returns lines to print."""
    if cfg.backend == "sqlite":
        with connect(cfg) as conn:
            names = {
                str(r["name"])
                for r in fetchall(conn, "SELECT name FROM sqlite_master WHERE type = 'trigger'")
            }
        missing = [
            t
            for t in APPEND_ONLY_TABLES
            if f"{t}_no_update" not in names or f"{t}_no_delete" not in names
        ]
        if missing:
            raise NotInitialised(
                f"the append-only triggers are missing on {', '.join(missing)}; run `ledger init`"
            )
        return [
            "SQLite has no roles: access is whoever can open the file.",
            "The append-only triggers are in place: "
            + ", ".join(APPEND_ONLY_TABLES)
            + " refuse UPDATE and DELETE.",
        ]
    with connect(cfg) as conn:
        if isinstance(conn, sqlite3.Connection):  # pragma: no cover - narrowed above
            raise TypeError("expected PostgreSQL")
        _create_pg_roles(conn, cfg.dbname)
    return [
        "ledger_auditor: read-only (SELECT on every table, including tables created later)",
        "ledger_clerk: SELECT, INSERT on "
        + ", ".join(APPEND_ONLY_TABLES)
        + "; full DML on the read models",
        "both are LOGIN roles without a password; set one (ALTER ROLE … PASSWORD) "
        "unless the server trusts local connections",
    ]


def _create_pg_roles(conn: psycopg.Connection[Any], dbname: str) -> None:
    from psycopg import sql

    conn.execute("SELECT pg_advisory_xact_lock(%s)", (int.from_bytes(b"roles", "big"),))
    for role in ("ledger_auditor", "ledger_clerk"):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
    both = sql.SQL("ledger_auditor, ledger_clerk")
    conn.execute(sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), both))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(both))
    # Auditor: read everything, now and later.
    conn.execute("GRANT SELECT ON ALL TABLES IN SCHEMA public TO ledger_auditor")
    conn.execute("GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO ledger_auditor")
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO ledger_auditor"
    )
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON SEQUENCES TO ledger_auditor"
    )
    # Clerk: append-only history, full DML on the read models.
    tables = [
        str(r["tablename"])
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    ]
    for table in tables:
        ident = sql.Identifier("public", table)
        if table in APPEND_ONLY_TABLES:
            conn.execute(
                sql.SQL("REVOKE UPDATE, DELETE, TRUNCATE ON {} FROM ledger_clerk").format(ident)
            )
            conn.execute(sql.SQL("GRANT SELECT, INSERT ON {} TO ledger_clerk").format(ident))
        elif table == "schema_migrations":
            conn.execute(sql.SQL("GRANT SELECT ON {} TO ledger_clerk").format(ident))
        else:
            conn.execute(
                sql.SQL(
                    "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON {} TO ledger_clerk"
                ).format(ident)
            )
    conn.execute("GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO ledger_clerk")
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public "
        "GRANT SELECT, INSERT, UPDATE, DELETE, TRUNCATE ON TABLES TO ledger_clerk"
    )
    conn.execute(
        "ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO ledger_clerk"
    )
    lock_fn = conn.execute("SELECT to_regprocedure('public.ledger_events_lock()') AS f").fetchone()
    if lock_fn is not None and lock_fn["f"] is not None:
        conn.execute("GRANT EXECUTE ON FUNCTION public.ledger_events_lock() TO ledger_clerk")
