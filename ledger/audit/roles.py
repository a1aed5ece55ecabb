"""The database roles on PostgreSQL (docs/AUDIT.md §13 "Trust boundaries"):
the groups ``ledger_auditors`` (read-only), ``ledger_clerks`` (append events
only) and ``ledger_projectors`` (write the read models), with one LOGIN role
per person as a member; on SQLite, the append-only triggers."""

from __future__ import annotations

import re
import sqlite3
from typing import TYPE_CHECKING, Any

from aggregates.errors import InvalidInput, NotInitialised
from ledger.store.db import AUDITOR_GROUP, DbConfig, connect, fetchall

if TYPE_CHECKING:
    import psycopg

APPEND_ONLY_TABLES = (
    "ledger_events",
    "event_chain",
    "request_log",
    "ledger_settings",
    "audit_checkpoints",
    "merkle_nodes",
    "audit_tree_heads",
)


# The group roles (NOLOGIN) that hold the privileges, and the LOGIN roles
# ``ledger init --roles`` keeps as their first members.
CLERKS, AUDITORS, PROJECTORS = "ledger_clerks", AUDITOR_GROUP, "ledger_projectors"
GROUPS = {"clerk": CLERKS, "auditor": AUDITORS, "projector": PROJECTORS}
LOGINS = {"ledger_clerk": CLERKS, "ledger_auditor": AUDITORS}
# What a clerk may write, column by column: never notification_id (the
# database numbers events) nor request_log.recorded_by (the database names
# the login); the chain rows are the trigger's (migration 0120).
CLERK_INSERT_COLUMNS = {
    "ledger_events": ("originator_id", "originator_version", "topic", "state"),
    "request_log": ("request_id", "fingerprint", "result"),
}
_ROLE_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def create_roles(cfg: DbConfig) -> list[str]:
    """PostgreSQL: create (or bring up to date) the group roles
    ``ledger_clerks`` (SELECT; INSERT of events and of its own request rows
    only), ``ledger_auditors`` (SELECT) and ``ledger_projectors`` (SELECT;
    writes the read models: the catch-up worker), and the LOGIN roles
    ``ledger_clerk`` / ``ledger_auditor`` as members. Idempotent. SQLite has
    no roles: says so, after checking the append-only triggers are in place.
    Returns lines to print."""
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
            "SQLite has no roles: access is whoever can open the file (no login boundary: "
            "every event is the file's user's).",
            "The append-only triggers are in place: "
            + ", ".join(APPEND_ONLY_TABLES)
            + " refuse UPDATE and DELETE.",
        ]
    with connect(cfg) as conn:
        if isinstance(conn, sqlite3.Connection):  # pragma: no cover - narrowed above
            raise TypeError("expected PostgreSQL")
        _create_pg_roles(conn, cfg.dbname)
    return [
        f"ledger_auditor: read-only (member of {AUDITORS}: SELECT on every table)",
        f"ledger_clerk: records (member of {CLERKS}: SELECT; INSERT of events and of its "
        "own request-log rows; the event_chain rows are computed by the database)",
        f"{PROJECTORS} (group): SELECT; writes the read models (run "
        "`ledger projections follow` as a member, or as the owner)",
        "one login per person: `ledger roles add-user NAME --clerk` (or --auditor); "
        "LOGIN roles have no password: set one (ALTER ROLE … PASSWORD) "
        "unless the server trusts local connections",
    ]


def add_user(cfg: DbConfig, name: str, role: str) -> list[str]:
    """PostgreSQL: create the LOGIN role ``name`` (if missing) as a member of
    the group for ``role`` (clerk, auditor, projector). Refused on SQLite."""
    if cfg.backend == "sqlite":
        raise InvalidInput("SQLite has no logins: whoever can open the file is the user")
    if role not in GROUPS:
        raise InvalidInput(f"unknown role {role!r}: clerk, auditor or projector")
    if not _ROLE_NAME.match(name):
        raise InvalidInput(
            f"login name {name!r}: lowercase letters, digits and _, starting with a letter or _"
        )
    if name in GROUPS.values() or name.startswith("pg_"):
        raise InvalidInput(f"{name} is a reserved role name")
    from psycopg import sql

    with connect(cfg) as conn:
        if isinstance(conn, sqlite3.Connection):  # pragma: no cover - narrowed above
            raise TypeError("expected PostgreSQL")
        group = GROUPS[role]
        found = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,)).fetchone()
        if found is None:
            raise NotInitialised("the group roles do not exist yet; run `ledger init --roles`")
        row = conn.execute(
            "SELECT rolcanlogin, rolsuper FROM pg_roles WHERE rolname = %s", (name,)
        ).fetchone()
        if row is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(name)))
        elif row["rolsuper"]:
            raise InvalidInput(f"{name} is a superuser: it needs no group")
        conn.execute(sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(name)))
    return [f"{name}: LOGIN, member of {group}" + ("" if row is None else " (existing role)")]


def _create_pg_roles(conn: psycopg.Connection[Any], dbname: str) -> None:
    from psycopg import sql

    conn.execute("SELECT pg_advisory_xact_lock(%s)", (int.from_bytes(b"roles", "big"),))
    for group in (CLERKS, AUDITORS, PROJECTORS):
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (group,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE ROLE {} NOLOGIN").format(sql.Identifier(group)))
    for login, group in LOGINS.items():
        exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (login,)).fetchone()
        if exists is None:
            conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(login)))
        member = conn.execute(
            "SELECT pg_has_role(%s, %s, 'MEMBER') AS m", (login, group)
        ).fetchone()
        if not (member and member["m"]):
            # (roles are cluster-wide: a database owner without CREATEROLE only grants)
            conn.execute(
                sql.SQL("GRANT {} TO {}").format(sql.Identifier(group), sql.Identifier(login))
            )
    everyone = [*LOGINS, CLERKS, AUDITORS, PROJECTORS]
    all_roles = sql.SQL(", ").join(sql.Identifier(r) for r in everyone)
    groups = sql.SQL(", ").join(sql.Identifier(r) for r in (CLERKS, AUDITORS, PROJECTORS))
    # Start from nothing (an older `init --roles` gave the LOGIN roles their own
    # grants, the clerk DML on the read models): privileges live on the groups.
    conn.execute(sql.SQL("REVOKE ALL ON ALL TABLES IN SCHEMA public FROM {}").format(all_roles))
    conn.execute(sql.SQL("REVOKE ALL ON ALL SEQUENCES IN SCHEMA public FROM {}").format(all_roles))
    conn.execute(sql.SQL("REVOKE ALL ON ALL FUNCTIONS IN SCHEMA public FROM {}").format(all_roles))
    conn.execute(
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON TABLES FROM {}").format(
            all_roles
        )
    )
    conn.execute(
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public REVOKE ALL ON SEQUENCES FROM {}").format(
            all_roles
        )
    )
    conn.execute(
        sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(sql.Identifier(dbname), groups)
    )
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA public TO {}").format(groups))
    # Everyone reads everything, now and later (tables created later: SELECT only).
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA public TO {}").format(groups))
    conn.execute(sql.SQL("GRANT SELECT ON ALL SEQUENCES IN SCHEMA public TO {}").format(groups))
    conn.execute(
        sql.SQL("ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT ON TABLES TO {}").format(
            groups
        )
    )
    # Clerks: append events and their own request rows, column by column.
    for table, columns in CLERK_INSERT_COLUMNS.items():
        conn.execute(
            sql.SQL("GRANT INSERT ({}) ON {} TO {}").format(
                sql.SQL(", ").join(sql.Identifier(c) for c in columns),
                sql.Identifier("public", table),
                sql.Identifier(CLERKS),
            )
        )
    seq = conn.execute(
        "SELECT pg_get_serial_sequence('public.ledger_events', 'notification_id') AS s"
    ).fetchone()
    if seq is not None and seq["s"] is not None:
        conn.execute(
            sql.SQL("GRANT USAGE ON SEQUENCE {} TO {}").format(
                sql.SQL(seq["s"]), sql.Identifier(CLERKS)
            )
        )
    lock_fn = conn.execute("SELECT to_regprocedure('public.ledger_events_lock()') AS f").fetchone()
    if lock_fn is not None and lock_fn["f"] is not None:
        # the ordering lock on ledger_events (a table lock, not the catch-up lock)
        conn.execute(
            sql.SQL("GRANT EXECUTE ON FUNCTION public.ledger_events_lock() TO {}").format(
                sql.Identifier(CLERKS)
            )
        )
    # Projectors: the read models and the catch-up lock, nothing of the history.
    tables = [
        str(r["tablename"])
        for r in conn.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
        ).fetchall()
    ]
    for table in tables:
        if table.startswith("rm_") or table in ("ledger_catchup_lock", "ledger_verified_head"):
            conn.execute(
                sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON {} TO {}").format(
                    sql.Identifier("public", table), sql.Identifier(PROJECTORS)
                )
            )
        elif table == "merkle_nodes":
            # the worker appends the Merkle tree as it catches up (append-only:
            # its triggers refuse UPDATE and DELETE; checkpoints check every
            # stored node against the chain before signing)
            conn.execute(
                sql.SQL("GRANT INSERT ON {} TO {}").format(
                    sql.Identifier("public", table), sql.Identifier(PROJECTORS)
                )
            )
