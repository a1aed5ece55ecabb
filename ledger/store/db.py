"""Persistence wiring: database URL, eventsourcing environment, raw connections,
the migration runner, readiness checks and the insert-only settings table.

Backend-neutral SQL
-------------------
Our own SQL (audit, projections, queries) is written once, with ``?``
placeholders, and run through :func:`execute`, :func:`fetchall` or
:func:`fetchone`, which convert ``?`` to ``%s`` (and a literal ``%`` to ``%%``)
when the connection is a psycopg one. Rows come back as ``dict[str, Any]`` on
both backends. Code that needs the raw cursor can call :func:`sql_for` itself.

Nothing here touches the database at import time, and nothing here creates a
SQLite file except :func:`migrate` (that is, ``ledger init``).
"""

from __future__ import annotations

import os
import re
import sqlite3
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias
from urllib.parse import quote, unquote, urlsplit

from aggregates.errors import DatabaseUnavailable, InvalidInput, NotInitialised
from ledger.log import get_logger

if TYPE_CHECKING:
    import psycopg
    from psycopg.rows import DictRow

# psycopg is imported only when a PostgreSQL ledger is opened: a SQLite ledger
# never loads the driver (start-up time).

log = get_logger()

Backend = Literal["sqlite", "postgresql"]
DbConnection: TypeAlias = "sqlite3.Connection | psycopg.Connection[DictRow]"

DEFAULT_DB_URL = "sqlite:///ledger.db"
LEDGER_EVENTS_TABLE = "ledger_events"
SQLITE_LOCK_TIMEOUT_S = 10
PG_CONNECT_TIMEOUT_S = 5
# pg_advisory_xact_lock key serialising `ledger init` (and settings writes):
# the bytes of "ledger" as an integer.
PG_MIGRATION_LOCK_KEY = int.from_bytes(b"ledger", "big")
PG_SETTINGS_LOCK_KEY = PG_MIGRATION_LOCK_KEY + 1
# The read-only group role (ledger/audit/roles.py AUDITORS, created by `ledger
# init --roles`): a read-only DbConfig reads PostgreSQL as it.
AUDITOR_GROUP = "ledger_auditors"

_MIGRATION_FILE = re.compile(r"^(\d{4})_([A-Za-z0-9_]+)\.sql$")


# --- URL ------------------------------------------------------------------------


@dataclass(frozen=True)
class DbConfig:
    """Where the ledger lives. Build it with :func:`parse_db_url`."""

    url: str
    backend: Backend
    sqlite_path: Path | None = None
    dbname: str = ""
    host: str = ""
    port: int = 5432
    user: str = ""
    password: str = ""
    # Every connection read-only (``ledger serve``): SQLite opened ``mode=ro``
    # with ``PRAGMA query_only``; PostgreSQL as the auditors' group role
    # (``SET ROLE ledger_auditors``: SELECT only) in read-only transactions.
    read_only: bool = False

    def reading_only(self) -> DbConfig:
        """This ledger, every connection to it read-only (see ``read_only``)."""
        return replace(self, read_only=True)

    @property
    def display_url(self) -> str:
        """The URL with any password masked, for messages and logs."""
        if self.backend == "sqlite":
            return self.url
        auth = self.user + (":***" if self.password else "")
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"

    @property
    def sqlite_abspath(self) -> Path:
        if self.sqlite_path is None:  # pragma: no cover - guarded by parse_db_url
            raise InvalidInput(f"{self.url} is not a SQLite URL")
        return Path(os.path.abspath(self.sqlite_path))

    def sqlite_uri(self, mode: Literal["ro", "rw", "rwc"] = "rw") -> str:
        """A ``file:`` URI for sqlite3; ``mode=rw`` never creates the file."""
        return f"file:{quote(str(self.sqlite_abspath))}?mode={mode}"


def parse_db_url(url: str) -> DbConfig:
    """Parse ``--db`` / ``LEDGER_DB``.

    ``sqlite:///ledger.db`` (relative to the working directory),
    ``sqlite:////abs/path.db``, ``postgresql://user[:pass]@host[:port]/dbname``
    (``postgres://`` accepted). Anything else raises InvalidInput (exit 2).
    """
    raw = (url or "").strip()
    if raw.startswith("sqlite:"):
        if not raw.startswith("sqlite:///"):
            raise InvalidInput(
                f"malformed database URL {raw!r}: expected sqlite:///relative.db "
                "or sqlite:////absolute/path.db"
            )
        path = raw[len("sqlite:///") :]
        if not path or path.endswith("/") or "?" in path or path == ":memory:":
            raise InvalidInput(f"malformed database URL {raw!r}: no SQLite file path")
        return DbConfig(url=raw, backend="sqlite", sqlite_path=Path(unquote(path)))
    if raw.startswith(("postgresql://", "postgres://")):
        try:
            parts = urlsplit(raw)
            port = parts.port or 5432
        except ValueError as e:
            raise InvalidInput(f"malformed database URL {raw!r}: {e}") from None
        dbname = unquote(parts.path.lstrip("/"))
        if not parts.hostname or not dbname or "/" in dbname or parts.query:
            raise InvalidInput(
                f"malformed database URL {raw!r}: expected "
                "postgresql://user[:pass]@host[:port]/dbname"
            )
        return DbConfig(
            url=raw,
            backend="postgresql",
            dbname=dbname,
            host=parts.hostname,
            port=port,
            user=unquote(parts.username or "postgres"),
            password=unquote(parts.password or ""),
        )
    raise InvalidInput(
        f"malformed database URL {raw!r}: use sqlite:///FILE.db or "
        "postgresql://user[:pass]@host[:port]/dbname"
    )


# --- eventsourcing environment -------------------------------------------------------


def app_environment(cfg: DbConfig) -> dict[str, str]:
    """The eventsourcing environment for ``LedgerApp``.

    PERSISTENCE_MODULE names our factory subclasses (``ledger.store.chain``;
    PostgreSQL's in ``ledger.store.chain_pg``, so SQLite never loads psycopg), which
    build the hash-chained application recorder on the ``ledger_events`` table
    whatever the application's name; everything else is the library's own.
    The schema comes only from migrations (CREATE_TABLE=n), and the SQLite file
    is opened with ``mode=rw`` so the library can never create a database.
    """
    if cfg.backend == "sqlite":
        return {
            "PERSISTENCE_MODULE": "ledger.store.chain:LedgerSQLiteFactory",
            "APPLICATION_RECORDER_TOPIC": "ledger.store.chain:ChainedSQLiteApplicationRecorder",
            "SQLITE_DBNAME": cfg.sqlite_uri("rw"),
            "SQLITE_LOCK_TIMEOUT": str(SQLITE_LOCK_TIMEOUT_S),
            "CREATE_TABLE": "n",
        }
    return {
        "PERSISTENCE_MODULE": "ledger.store.chain_pg:LedgerPostgresFactory",
        "APPLICATION_RECORDER_TOPIC": "ledger.store.chain_pg:ChainedPostgresApplicationRecorder",
        "POSTGRES_DBNAME": cfg.dbname,
        "POSTGRES_HOST": cfg.host,
        "POSTGRES_PORT": str(cfg.port),
        "POSTGRES_USER": cfg.user,
        "POSTGRES_PASSWORD": cfg.password,
        "POSTGRES_CONNECT_TIMEOUT": str(PG_CONNECT_TIMEOUT_S),
        "POSTGRES_POOL_SIZE": "1",
        "POSTGRES_MAX_OVERFLOW": "2",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "CREATE_TABLE": "n",
    }


# --- raw connections -----------------------------------------------------------------


def _pg_reason(e: BaseException) -> str:
    """One short line out of a psycopg connection error."""
    text = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    # 'connection failed: connection to server at "127.0.0.1", port 1 failed: Connection refused'
    if "failed: " in text:
        text = text.rsplit("failed: ", 1)[1]
    text = text.replace("FATAL:", "").strip()
    return text[:1].lower() + text[1:] if text else type(e).__name__


def unavailable(cfg: DbConfig, e: BaseException | str) -> DatabaseUnavailable:
    reason = e if isinstance(e, str) else _pg_reason(e)
    return DatabaseUnavailable(f"cannot reach the database at {cfg.display_url}: {reason}")


def not_initialised(cfg: DbConfig, detail: str = "") -> NotInitialised:
    extra = f" ({detail})" if detail else ""
    return NotInitialised(
        f"the database at {cfg.display_url} is not initialised{extra}; run `ledger init`"
    )


class _NeverRaised(Exception):
    """Stands for a psycopg error while psycopg is not loaded (a SQLite ledger
    never imports the driver), so that no exception matches it."""


def pg_error(name: str) -> type[Exception]:
    """psycopg's error class ``name`` (``psycopg.errors.<name>``), or a class
    never raised when psycopg was not imported: then no psycopg error can occur."""
    errors = sys.modules.get("psycopg.errors")
    if errors is None:
        return _NeverRaised
    cls: type[Exception] = getattr(errors, name)
    return cls


def pg_connect(
    cfg: DbConfig, *, autocommit: bool = False, application_name: str | None = None
) -> psycopg.Connection[DictRow]:
    """A psycopg connection with dict rows; DatabaseUnavailable if it cannot connect.
    ``application_name`` names the session in ``pg_stat_activity``."""
    import psycopg
    from psycopg.rows import dict_row

    try:
        conn = psycopg.connect(
            dbname=cfg.dbname,
            host=cfg.host,
            port=cfg.port,
            user=cfg.user,
            password=cfg.password or None,
            application_name=application_name,  # None: not sent (psycopg drops it)
            connect_timeout=PG_CONNECT_TIMEOUT_S,
            autocommit=autocommit or cfg.read_only,
            row_factory=dict_row,
        )
    except psycopg.OperationalError as e:
        raise unavailable(cfg, e) from None
    if cfg.read_only:
        _as_auditor(cfg, conn)
        conn.autocommit = autocommit
    return conn


def _as_auditor(cfg: DbConfig, conn: psycopg.Connection[DictRow]) -> None:
    """Make a session read-only by construction: the auditors' group role
    (SELECT on every table, nothing else; docs/AUDIT.md §13) and read-only
    transactions. A login that may not take the role is refused."""
    import psycopg

    try:
        conn.execute(f"SET ROLE {AUDITOR_GROUP}")
        conn.execute("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY")
    except psycopg.Error as e:
        conn.close()
        raise DatabaseUnavailable(
            f"cannot read {cfg.display_url} as the auditor: {_pg_reason(e)}; connect as "
            f"ledger_auditor (or a member of {AUDITOR_GROUP}), after `ledger init --roles`"
        ) from None


def sqlite_connect(cfg: DbConfig, *, create: bool = False) -> sqlite3.Connection:
    """A sqlite3 connection in autocommit mode (we issue BEGIN ourselves).

    Without ``create`` a missing file is NotInitialised, and is not created.
    """
    path = cfg.sqlite_abspath
    if not create and not path.exists():
        raise not_initialised(cfg, "no such file")
    try:
        conn = sqlite3.connect(
            cfg.sqlite_uri("ro" if cfg.read_only else "rwc" if create else "rw"),
            uri=True,
            isolation_level=None,
            timeout=SQLITE_LOCK_TIMEOUT_S,
            check_same_thread=False,
        )
    except sqlite3.Error as e:
        raise unavailable(cfg, f"{e}") from None
    conn.row_factory = sqlite3.Row
    if cfg.read_only:
        conn.execute("PRAGMA query_only = ON")
    return conn


@contextmanager
def connect(cfg: DbConfig, *, write: bool = False) -> Iterator[DbConnection]:
    """A raw connection inside one transaction: committed on a normal exit,
    rolled back on an exception, closed either way.

    SQLite: ``sqlite3.Connection`` (rows are ``sqlite3.Row``, access by name),
    the transaction begun with ``BEGIN`` (``BEGIN IMMEDIATE`` when ``write``,
    so the write lock is taken up front). PostgreSQL: ``psycopg.Connection``
    with dict rows. Use :func:`execute` / :func:`fetchall` / :func:`fetchone`
    with ``?`` placeholders to stay backend-neutral.
    """
    if cfg.backend == "sqlite":
        sconn = sqlite_connect(cfg)
        try:
            try:
                sconn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
            except sqlite3.Error as e:
                raise unavailable(cfg, f"{e}") from None
            try:
                yield sconn
            except BaseException:
                sconn.rollback()
                raise
            sconn.commit()
        finally:
            sconn.close()
    else:
        pconn = pg_connect(cfg)
        try:
            try:
                yield pconn
            except BaseException:
                pconn.rollback()
                raise
            pconn.commit()
        finally:
            pconn.close()


def sql_for(conn: DbConnection, sql: str) -> str:
    """Convert ``?`` placeholders to ``%s`` for psycopg (quoted text untouched)."""
    if isinstance(conn, sqlite3.Connection):
        return sql
    return sql_for_pg(sql)


def sql_for_pg(sql: str) -> str:
    """``?`` → ``%s`` and ``%`` → ``%%`` outside quotes, for psycopg."""
    out: list[str] = []
    in_quote = False
    for ch in sql:
        if ch == "'":
            in_quote = not in_quote
            out.append(ch)
        elif ch == "%":
            out.append("%%")
        elif ch == "?" and not in_quote:
            out.append("%s")
        else:
            out.append(ch)
    return "".join(out)


def execute(conn: DbConnection, sql: str, params: Sequence[Any] = ()) -> Any:
    """Run one statement with ``?`` placeholders; returns the DB-API cursor."""
    if isinstance(conn, sqlite3.Connection):
        return conn.execute(sql, tuple(params))
    return conn.execute(sql_for(conn, sql), tuple(params))


def _as_dict(row: Any) -> dict[str, Any]:
    if isinstance(row, sqlite3.Row):
        return {k: row[k] for k in row.keys()}  # noqa: SIM118 - sqlite3.Row is not a Mapping
    return dict(row)


def fetchall(conn: DbConnection, sql: str, params: Sequence[Any] = ()) -> list[dict[str, Any]]:
    return [_as_dict(r) for r in execute(conn, sql, params).fetchall()]


def fetchone(conn: DbConnection, sql: str, params: Sequence[Any] = ()) -> dict[str, Any] | None:
    row = execute(conn, sql, params).fetchone()
    return None if row is None else _as_dict(row)


# --- migrations ----------------------------------------------------------------------


@dataclass(frozen=True, order=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def shipped_migrations(backend: Backend) -> list[Migration]:
    """Every ``NNNN_name.sql`` in ``migrations/<backend>/``, in version order."""
    package = f"migrations.{backend}"
    found: dict[int, Migration] = {}
    for entry in resources.files(package).iterdir():
        m = _MIGRATION_FILE.match(entry.name)
        if not m or not entry.is_file():
            continue
        version = int(m.group(1))
        if version in found:
            raise RuntimeError(
                f"two migrations numbered {m.group(1)} in {package}: "
                f"{found[version].label}.sql and {entry.name}"
            )
        found[version] = Migration(version, m.group(2), entry.read_text(encoding="utf-8"))
    return [found[v] for v in sorted(found)]


def split_sqlite_script(script: str) -> list[str]:
    """Split a SQLite script into statements (trigger bodies kept whole)."""
    statements: list[str] = []
    buf = ""
    for ch in script:
        buf += ch
        if ch == ";" and sqlite3.complete_statement(buf):
            stmt = _strip_sql_comments(buf).strip()
            if stmt and stmt != ";":
                statements.append(buf.strip())
            buf = ""
    if _strip_sql_comments(buf).strip():
        statements.append(buf.strip())
    return statements


def _strip_sql_comments(sql: str) -> str:
    return "\n".join(line.split("--", 1)[0] for line in sql.splitlines())


_SQLITE_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
    "applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
)
_PG_SCHEMA_MIGRATIONS = (
    "CREATE TABLE IF NOT EXISTS schema_migrations ("
    "version integer PRIMARY KEY, name text NOT NULL, "
    "applied_at timestamptz NOT NULL DEFAULT now())"
)


def migrate(cfg: DbConfig) -> list[str]:
    """Apply every shipped migration not yet applied, in order, each in its own
    transaction together with its ``schema_migrations`` row. Idempotent, and
    safe when two processes run it at once (SQLite: ``BEGIN IMMEDIATE``;
    PostgreSQL: a transaction-level advisory lock). Creates the SQLite file.
    Also gives the ledger a random identity (setting ``ledger_id``) once.
    Returns the labels (``0001_events``) it applied.
    """
    migrations = shipped_migrations(cfg.backend)
    applied: list[str] = []
    if cfg.backend == "sqlite":
        cfg.sqlite_abspath.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite_connect(cfg, create=True)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute(_SQLITE_SCHEMA_MIGRATIONS)
            for mig in migrations:
                conn.execute("BEGIN IMMEDIATE")
                try:
                    done = conn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = ?", (mig.version,)
                    ).fetchone()
                    if done is None:
                        for stmt in split_sqlite_script(mig.sql):
                            conn.execute(stmt)
                        conn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                            (mig.version, mig.name),
                        )
                        applied.append(mig.label)
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            _ensure_ledger_id_sqlite(conn)
        except sqlite3.Error as e:
            raise unavailable(cfg, f"migration failed: {e}") from None
        finally:
            conn.close()
    else:
        import psycopg

        pconn = pg_connect(cfg, autocommit=True)
        try:
            with pconn.transaction():
                pconn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK_KEY,))
                pconn.execute(_PG_SCHEMA_MIGRATIONS)
            for mig in migrations:
                with pconn.transaction():
                    pconn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK_KEY,))
                    done = pconn.execute(
                        "SELECT 1 FROM schema_migrations WHERE version = %s", (mig.version,)
                    ).fetchone()
                    if done is None:
                        pconn.execute(mig.sql.encode())
                        pconn.execute(
                            "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                            (mig.version, mig.name),
                        )
                        applied.append(mig.label)
            with pconn.transaction():
                pconn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_MIGRATION_LOCK_KEY,))
                _ensure_ledger_id(pconn)
        except psycopg.OperationalError as e:
            raise unavailable(cfg, e) from None
        finally:
            pconn.close()
    if applied:
        log.info("migrations applied", db=cfg.display_url, applied=applied)
    return applied


def _ensure_ledger_id_sqlite(conn: sqlite3.Connection) -> None:
    conn.execute("BEGIN IMMEDIATE")
    try:
        _ensure_ledger_id(conn)
    except BaseException:
        conn.rollback()
        raise
    conn.commit()


def _ensure_ledger_id(conn: DbConnection) -> None:
    if _has_table(conn, "ledger_settings") and _newest_setting(conn, "ledger_id") is None:
        execute(
            conn,
            "INSERT INTO ledger_settings (key, value) VALUES (?, ?)",
            ("ledger_id", str(uuid.uuid4())),
        )


def _has_table(conn: DbConnection, table: str) -> bool:
    if isinstance(conn, sqlite3.Connection):
        row = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (table,)
        ).fetchone()
    else:
        row = conn.execute("SELECT to_regclass(%s) AS t", (f"public.{table}",)).fetchone()
        row = row if row and row["t"] is not None else None
    return row is not None


def applied_versions(conn: DbConnection) -> set[int] | None:
    """The applied migration versions, or None when there is no schema table."""
    if not _has_table(conn, "schema_migrations"):
        return None
    return {int(r["version"]) for r in fetchall(conn, "SELECT version FROM schema_migrations")}


def ensure_ready(cfg: DbConfig) -> None:
    """Raise DatabaseUnavailable (exit 3) if the database cannot be reached, or
    NotInitialised (exit 3) if it lacks the schema or is behind the shipped
    migrations. Never creates anything: a missing SQLite file is 'not
    initialised' and stays missing.
    """
    shipped = {m.version for m in shipped_migrations(cfg.backend)}
    try:
        with connect(cfg) as conn:
            have = applied_versions(conn)
    except sqlite3.DatabaseError as e:
        raise unavailable(cfg, f"{e}") from None
    except Exception as e:
        pg = sys.modules.get("psycopg")
        if pg is None or not isinstance(e, pg.Error):
            raise
        raise unavailable(cfg, e) from None
    if have is None:
        raise not_initialised(cfg)
    missing = sorted(shipped - have)
    if missing:
        raise not_initialised(
            cfg, f"schema is behind: migration {', '.join(f'{v:04d}' for v in missing)} pending"
        )


# --- settings (insert-only; newest wins) -----------------------------------------------


def _newest_setting(conn: DbConnection, key: str) -> str | None:
    row = fetchone(
        conn,
        "SELECT value FROM ledger_settings WHERE key = ? ORDER BY id DESC LIMIT 1",
        (key,),
    )
    return None if row is None else str(row["value"])


def get_setting(cfg: DbConfig, key: str) -> str | None:
    """The newest value of a setting, or None."""
    with connect(cfg) as conn:
        return _newest_setting(conn, key)


def set_setting(cfg: DbConfig, key: str, value: str) -> bool:
    """Record a setting unless its newest value is already ``value``.
    Returns whether a row was inserted (rows are never updated)."""
    with connect(cfg, write=True) as conn:
        if not isinstance(conn, sqlite3.Connection):
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (PG_SETTINGS_LOCK_KEY,))
        if _newest_setting(conn, key) == value:
            return False
        execute(conn, "INSERT INTO ledger_settings (key, value) VALUES (?, ?)", (key, value))
        return True


def create_database_if_missing(cfg: DbConfig) -> bool:
    """`ledger init` / `ledger demo` on PostgreSQL: create the database itself when
    the server is reachable but the database does not exist yet (the user asked
    to initialise it). Returns True when it created one. SQLite files are
    created by :func:`migrate`."""
    if cfg.backend != "postgresql":
        return False
    try:
        pg_connect(cfg).close()
        return False
    except DatabaseUnavailable as e:
        if "does not exist" not in e.message:
            raise
    import psycopg
    import psycopg.sql

    admin = replace(cfg, dbname="postgres")
    with pg_connect(admin, autocommit=True) as conn:
        try:
            conn.execute(
                psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(cfg.dbname))
            )
        except psycopg.errors.DuplicateDatabase:
            return False
        except psycopg.Error as e:
            raise unavailable(cfg, f"could not create the database: {_pg_reason(e)}") from None
    return True
