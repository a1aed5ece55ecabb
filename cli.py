"""`ledger`: the command line of the audit ledger for public science funding.

The contract is ../shared/CLI.md. This module stays thin: it parses strings into
domain types, calls the application, formats output and maps errors to exit
codes (0 ok, 1 refused by a rule, 2 bad input, 3 database, 4 tampering).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, NoReturn, TypeVar

import click
import structlog

from aggregates.errors import InvalidInput, LedgerError
from aggregates.values import (
    CATEGORIES,
    CHANGE_TYPES,
    DELIST_REASONS,
    GRADES,
    KINDS,
    LEVELS,
    SCOPES,
    UNIT_TYPES,
    VIOLATION_KINDS,
    parse_date,
    parse_money,
)
from ledger import output

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_DB = "sqlite:///ledger.db"
FORMATS = ("table", "json", "csv")

log = structlog.get_logger()


# --- logging (configured once, here) -------------------------------------------------


def configure_logging(verbose: bool) -> None:
    level = logging.INFO if verbose else logging.WARNING
    renderer: Any = (
        structlog.dev.ConsoleRenderer(colors=False)
        if sys.stderr.isatty()
        else structlog.processors.JSONRenderer(ensure_ascii=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=sys.stderr),
        cache_logger_on_first_use=False,
    )


# --- errors → exit codes -----------------------------------------------------------------


def fail(message: str, code: int) -> NoReturn:
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class LedgerGroup(click.Group):
    """Maps every error to one line on stderr and CLI.md's exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Usage errors (a missing option, an unknown command) are one line too, exit 2."""
        kwargs["standalone_mode"] = False
        try:
            rv = super().main(*args, **kwargs)
        except click.exceptions.Exit as e:
            sys.exit(e.exit_code)
        except click.Abort:
            fail("aborted", 1)
        except click.exceptions.NoArgsIsHelpError as e:
            # a group without its command: one line naming the commands, not the help page
            group = e.ctx.command if e.ctx else self
            names = (
                ", ".join(group.list_commands(e.ctx))
                if isinstance(group, click.Group) and e.ctx
                else ""
            )
            sub = (e.ctx.command_path or "").split(" ", 1)[1:] if e.ctx else []
            path = " ".join(["ledger", *sub])
            fail(f"missing command: {path} COMMAND, one of: {names} (see {path} --help)", 2)
        except click.UsageError as e:
            where = (
                f" (ledger {e.ctx.command_path.split(' ', 1)[1]})"
                if e.ctx and " " in (e.ctx.command_path or "")
                else ""
            )
            fail(f"{e.format_message()}{where}", 2)
        except click.ClickException as e:
            fail(e.format_message(), e.exit_code)
        if isinstance(rv, int):
            sys.exit(rv)
        sys.exit(0)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except LedgerError as e:
            fail(e.message, e.exit_code)
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            fail("interrupted; nothing half-written is kept", 130)
        except BrokenPipeError:
            # the reader left (`ledger … | head`): what was to be done is done
            # (a recording is committed before it prints); say nothing more
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            sys.exit(0)
        except Exception as e:
            if os.environ.get("LEDGER_DEBUG"):
                raise
            from eventsourcing.persistence import OperationalError, PersistenceError

            denied = permission_denied(e)
            if denied is not None:
                fail(denied, 1)
            from eventsourcing.utils import TopicError

            if isinstance(e, TopicError):
                # the application only stores topics it can resolve
                fail(
                    f"a stored event cannot be read ({first_line(e)}); the ledger may have "
                    "been altered: run `ledger audit verify`",
                    4,
                )
            if isinstance(e, (OperationalError, PersistenceError)):
                fail(f"database error: {first_line(e)}", 3)
            fail(
                f"unexpected {type(e).__name__}: {first_line(e)} (set LEDGER_DEBUG=1 for details)",
                1,
            )


def permission_denied(e: BaseException) -> str | None:
    """One line for a database that refuses this connection's role (the
    read-only auditor recording, the clerk changing the schema), or None."""
    import psycopg

    seen: BaseException | None = e
    while seen is not None:
        if isinstance(seen, psycopg.errors.InsufficientPrivilege):
            if "create role" in str(seen):
                return (
                    f"permission denied: this database role may not create roles "
                    f"({first_line(seen)}); run `ledger init --roles` as a superuser or a "
                    "role with CREATEROLE"
                )
            return (
                f"permission denied: this database role may not do that ({first_line(seen)}); "
                "record as the clerk role; run `ledger init`, `ledger demo` and "
                "`ledger projections rebuild` as the database owner"
            )
        if isinstance(seen, sqlite3.OperationalError) and "readonly" in str(seen):
            return f"permission denied: the SQLite file is read-only ({first_line(seen)})"
        seen = seen.__cause__ or seen.__context__
    return None


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


# --- option parsing ----------------------------------------------------------------------


def _date(value: str | None, what: str) -> date | None:
    return None if value is None else parse_date(value, what=what)


def _money(value: str) -> Decimal:
    return parse_money(value)


def _timestamp(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        ts = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        raise InvalidInput(
            f"invalid --known-at {value!r}: expected an ISO 8601 timestamp"
        ) from None
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=UTC)
    return ts


def _choice(value: str | None, choices: Sequence[str], what: str) -> str | None:
    if value is not None and value not in choices:
        raise InvalidInput(f"invalid {what} {value!r}; expected one of: {', '.join(choices)}")
    return value


class Ctx:
    """Per-invocation settings: database, actor, output format."""

    def __init__(self) -> None:
        self.db: str = DEFAULT_DB
        self.actor: str | None = None
        self.format: str = "table"


def common(*, records: bool = False, prints: bool = True) -> Callable[[F], F]:
    """Options every leaf command accepts (also accepted before the command)."""

    def deco(f: F) -> F:
        @click.option(
            "--db",
            "db_opt",
            default=None,
            metavar="URL",
            help="sqlite:///ledger.db (default), sqlite:////abs.db or postgresql://…",
        )
        @functools.wraps(f)
        def wrapper(*args: Any, db_opt: str | None = None, **kwargs: Any) -> Any:
            ctx = click.get_current_context().find_object(Ctx)
            if ctx is None:  # pragma: no cover - always under the root group
                ctx = Ctx()
            if db_opt:
                ctx.db = db_opt
            fmt = kwargs.pop("fmt", None)
            if fmt:
                ctx.format = fmt
            actor = kwargs.pop("actor_opt", None)
            if actor:
                ctx.actor = actor
            structlog.contextvars.bind_contextvars(
                command=click.get_current_context().command_path, actor=ctx.actor
            )
            return f(ctx, *args, **kwargs)

        w: Any = wrapper
        if prints:
            w = click.option(
                "--format",
                "fmt",
                type=click.Choice(FORMATS),
                default=None,
                help="table (default), json or csv",
            )(w)
        if records:
            w = click.option(
                "--actor",
                "actor_opt",
                default=None,
                metavar="NAME",
                help="who records (or LEDGER_ACTOR)",
            )(w)
        return w  # type: ignore[no-any-return]

    return deco


def recording(f: F) -> F:
    """Options of every recording command: --on, --request-id, --actor."""
    f = click.option(
        "--request-id",
        default=None,
        metavar="ID",
        help="idempotency key: the same id with the same arguments records nothing",
    )(f)
    f = click.option(
        "--on", "on", default=None, metavar="DATE", help="effective date YYYY-MM-DD (default today)"
    )(f)
    return common(records=True)(f)


def open_service(ctx: Ctx) -> Any:
    from ledger.service import LedgerService
    from projections.api import install

    svc = LedgerService(ctx.db)
    install(svc, warn=lambda m: click.echo(m, err=True))
    return svc


def print_result(ctx: Ctx, result: Any) -> None:
    data = result.as_json()
    if ctx.format == "json":
        click.echo(output.to_json(data))
        return
    if ctx.format == "csv":
        click.echo(
            output.to_csv(
                data["recorded"], ["aggregate", "code", "version", "event", "effective_on", "basis"]
            )
        )
        return
    head = f"recorded {data['event']} for {data['code']} (version {data['version']})"
    if result.replayed:
        head = (
            f"already recorded (same request id): {data['event']} for {data['code']} "
            f"(version {data['version']})"
        )
    if data.get("id"):
        head += f"\nid: {data['id']}"
    click.echo(head)
    extra = [e for e in data["recorded"][1:]]
    for e in extra:
        basis = f" ({e['basis']})" if e.get("basis") else ""
        click.echo(f"  + {e['aggregate']} {e['code']}: {e['event']}{basis}")
    for w in data.get("warnings", []):
        click.echo(f"  ! {w}")


def run(ctx: Ctx, method: str, *args: Any, **kwargs: Any) -> None:
    svc = open_service(ctx)
    try:
        result = getattr(svc, method)(*args, actor=ctx.actor, **kwargs)
    finally:
        svc.close()
    print_result(ctx, result)


# --- the root group ----------------------------------------------------------------------


@click.group(cls=LedgerGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--db",
    default=None,
    envvar="LEDGER_DB",
    metavar="URL",
    help="database URL (or LEDGER_DB); default sqlite:///ledger.db",
)
@click.option(
    "--actor",
    default=None,
    envvar="LEDGER_ACTOR",
    metavar="NAME",
    help="who records (or LEDGER_ACTOR); required to record",
)
@click.option(
    "--format", "fmt", type=click.Choice(FORMATS), default="table", help="output format of records"
)
@click.option("-v", "--verbose", is_flag=True, help="log what happens on stderr")
@click.version_option("0.1.0", prog_name="ledger")
@click.pass_context
def main(ctx: click.Context, db: str | None, actor: str | None, fmt: str, verbose: bool) -> None:
    """The audit ledger for public science funding: every approval, payment,
    change, violation and debarment of a sci-tech innovation platform as an
    immutable, hash-chained event.

    \b
    Example:
      ledger init && ledger demo
      ledger platform show LS-KL-001 --format json
    """
    configure_logging(verbose)
    obj = Ctx()
    obj.db = db or os.environ.get("LEDGER_DB") or DEFAULT_DB
    obj.actor = actor or os.environ.get("LEDGER_ACTOR")
    obj.format = fmt
    ctx.obj = obj


@main.command()
@click.option(
    "--policy",
    default=None,
    metavar="ID",
    help=(
        "default policy for new proposals (first init: lhasa-city unless given; "
        "a later init keeps it unless given)"
    ),
)
@click.option("--roles", is_flag=True, help="also create the auditor and clerk roles (PostgreSQL)")
@common(prints=False)
def init(ctx: Ctx, policy: str | None, roles: bool) -> None:
    """Create or upgrade the schema; idempotent; set the default policy.

    \b
    Example:
      ledger --db postgresql://postgres@127.0.0.1/ledger init --policy lhasa-city
    """
    from ledger.policies import load_policy
    from ledger.store import db

    cfg = db.parse_db_url(ctx.db)
    chosen = load_policy(policy).id if policy else None
    if db.create_database_if_missing(cfg):
        click.echo(f"created database {cfg.dbname}")
    applied = db.migrate(cfg)
    current = db.get_setting(cfg, "default_policy")
    if chosen or current is None:
        db.set_setting(cfg, "default_policy", chosen or "lhasa-city")
    if roles:
        from ledger.audit import create_roles

        click.echo("\n".join(create_roles(cfg)))
    if applied:
        click.echo(f"applied {len(applied)} migration(s): {', '.join(applied)}")
    else:
        click.echo("schema is up to date")
    click.echo(f"default policy: {db.get_setting(cfg, 'default_policy')}")


# --- units -------------------------------------------------------------------------------


@main.group()
def unit() -> None:
    """Units: register, rename, violations, debarments, blacklist; show and search."""


@unit.command("register")
@click.argument("code")
@click.option("--name", required=True)
@click.option(
    "--type", "unit_type", required=True, metavar="TYPE", help=f"one of {', '.join(UNIT_TYPES)}"
)
@click.option("--high-tech", is_flag=True, help="a high-tech enterprise")
@click.option("--alias", "aliases", multiple=True, help="another name it is known by (repeatable)")
@click.option("--doc-no", default=None)
@recording
def unit_register(
    ctx: Ctx,
    code: str,
    name: str,
    unit_type: str,
    high_tech: bool,
    aliases: tuple[str, ...],
    doc_no: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Register a unit by its unified social credit code.

    \b
    Example:
      ledger unit register 91540100MA6T0A0B1W --name "拉萨高原生物科技有限公司" \\
        --type enterprise --high-tech --alias "高原生物"
    """
    run(
        ctx,
        "register_unit",
        code.strip().upper(),
        name=name,
        unit_type=unit_type,
        high_tech=high_tech,
        aliases=list(aliases),
        doc_no=doc_no,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@unit.command("rename")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def unit_rename(
    ctx: Ctx,
    code: str,
    name: str,
    doc_no: str,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Rename a unit; the former name is kept.

    \b
    Example:
      ledger unit rename 91540100MA6T0A0B1W --name "新名称有限公司" --doc-no "拉市监〔2025〕12号"
    """
    run(
        ctx,
        "rename_unit",
        code.strip().upper(),
        name=name,
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@unit.command("violation")
@click.argument("code")
@click.option("--kind", required=True, help=f"one of {', '.join(VIOLATION_KINDS)}")
@click.option("--occurred-on", required=True, metavar="DATE")
@click.option("--doc-no", required=True)
@click.option("--platform", default=None, metavar="CODE")
@click.option("--reason", default=None)
@click.option("--no-policy", is_flag=True, help="record the finding without its consequences")
@recording
def unit_violation(
    ctx: Ctx,
    code: str,
    kind: str,
    occurred_on: str,
    doc_no: str,
    platform: str | None,
    reason: str | None,
    no_policy: bool,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record an integrity finding; applies the policy's consequences (SPEC §7).

    \b
    Example:
      ledger unit violation 91540100MA6T0A0B1W --kind academic-misconduct \\
        --occurred-on 2025-03-01 --on 2025-06-10 --doc-no "拉科发〔2025〕8号" --platform LS-KL-001
    """
    run(
        ctx,
        "record_violation",
        code.strip().upper(),
        kind=kind,
        occurred_on=parse_date(occurred_on, what="--occurred-on"),
        doc_no=doc_no,
        platform=platform,
        reason=reason,
        no_policy=no_policy,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@unit.command("debar")
@click.argument("code")
@click.option("--years", required=True, type=int, help="3 or 5")
@click.option("--from", "start", required=True, metavar="DATE")
@click.option("--scope", required=True, metavar="S[,S...]", help=f"of {', '.join(SCOPES)}")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@click.option("--basis", default=None, help="the rule applied, e.g. '003 art. 25'")
@click.option("--violation", default=None, metavar="ID")
@recording
def unit_debar(
    ctx: Ctx,
    code: str,
    years: int,
    start: str,
    scope: str,
    doc_no: str,
    reason: str,
    basis: str | None,
    violation: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Impose a debarment of 3 or 5 years; prints its id.

    \b
    Example:
      ledger unit debar 91540100MA6T0A0B1W --years 3 --from 2025-07-01 \\
        --scope platform-application,project-application --doc-no "拉科发〔2025〕9号" --reason "…"
    """
    scopes = [s.strip() for s in scope.split(",") if s.strip()]
    if years not in (3, 5):
        raise InvalidInput(f"invalid --years {years}: a debarment is for 3 or 5 years")
    run(
        ctx,
        "debar",
        code.strip().upper(),
        years=years,
        start=parse_date(start, what="--from"),
        scopes=scopes,
        doc_no=doc_no,
        reason=reason,
        basis=basis,
        violation=violation,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@unit.command("lift")
@click.argument("code")
@click.argument("debarment_id")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def unit_lift(
    ctx: Ctx,
    code: str,
    debarment_id: str,
    doc_no: str,
    reason: str,
    on: str | None,
    request_id: str | None,
) -> None:
    """Lift a debarment early (appeal, credit repair); the history stays.

    \b
    Example:
      ledger unit lift 91540100MA6T0A0B1W 91540100MA6T0A0B1W:D2 --doc-no "…" --reason "信用修复"
    """
    run(
        ctx,
        "lift",
        code.strip().upper(),
        debarment_id.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@unit.command("blacklist")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@click.option("--basis", default=None)
@recording
def unit_blacklist(
    ctx: Ctx,
    code: str,
    doc_no: str,
    reason: str,
    basis: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Put a unit on the integrity blacklist (诚信黑名单).

    \b
    Example:
      ledger unit blacklist 91540100MA6T0A0B1W --doc-no "…" --reason "无故不完成科研任务"
    """
    run(
        ctx,
        "blacklist",
        code.strip().upper(),
        doc_no=doc_no,
        reason=reason,
        basis=basis,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@unit.command("unblacklist")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def unit_unblacklist(
    ctx: Ctx, code: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Remove a unit from the integrity blacklist by document.

    \b
    Example:
      ledger unit unblacklist 91540100MA6T0A0B1W --doc-no "…" --reason "信用修复"
    """
    run(
        ctx,
        "unblacklist",
        code.strip().upper(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


# --- platforms ---------------------------------------------------------------------------


@main.group()
def platform() -> None:
    """Platforms: lifecycle decisions; show and list."""


@platform.command("propose")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", required=True, help=f"one of {', '.join(KINDS)}")
@click.option("--level", required=True, help=f"one of {', '.join(LEVELS)}")
@click.option("--host", required=True, metavar="UNIT")
@click.option("--co-builder", "co_builders", multiple=True, metavar="UNIT")
@click.option("--policy", default=None, metavar="ID")
@click.option("--agreement-on", default=None, metavar="DATE")
@click.option("--doc-no", default=None)
@click.option("--reason", default=None)
@recording
def platform_propose(
    ctx: Ctx,
    code: str,
    name: str,
    kind: str,
    level: str,
    host: str,
    co_builders: tuple[str, ...],
    policy: str | None,
    agreement_on: str | None,
    doc_no: str | None,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Submit a proposal (申报).

    \b
    Example:
      ledger platform propose LS-KL-001 --name "拉萨高原生物重点实验室" --kind key-laboratory \\
        --level city --host 91540100MA6T0A0B1W --co-builder 12540000MB00000000
    """
    run(
        ctx,
        "propose",
        code.strip(),
        name=name,
        kind=kind,
        level=level,
        host=host.strip().upper(),
        co_builders=[c.strip().upper() for c in co_builders],
        policy=policy,
        agreement_on=_date(agreement_on, "--agreement-on"),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("approve")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--construction-years", type=int, default=None)
@click.option("--term-years", type=int, default=None)
@click.option("--reason", default=None)
@recording
def platform_approve(
    ctx: Ctx,
    code: str,
    doc_no: str,
    construction_years: int | None,
    term_years: int | None,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Approve: into construction with a construction period, else operating.

    \b
    Example:
      ledger platform approve XJ-HE-001 --doc-no "新科发〔2024〕3号" --construction-years 3
    """
    run(
        ctx,
        "approve",
        code.strip(),
        doc_no=doc_no,
        construction_years=construction_years,
        term_years=term_years,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("reject")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def platform_reject(
    ctx: Ctx, code: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Reject a proposal.

    \b
    Example:
      ledger platform reject LS-KL-009 --doc-no "…" --reason "不符合备案条件"
    """
    run(
        ctx,
        "reject",
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("withdraw")
@click.argument("code")
@click.option("--reason", required=True)
@click.option("--doc-no", default=None)
@recording
def platform_withdraw(
    ctx: Ctx, code: str, reason: str, doc_no: str | None, on: str | None, request_id: str | None
) -> None:
    """Withdraw a proposal.

    \b
    Example:
      ledger platform withdraw LS-KL-009 --reason "申报单位撤回"
    """
    run(
        ctx,
        "withdraw",
        code.strip(),
        reason=reason,
        doc_no=doc_no,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("accept")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def platform_accept(
    ctx: Ctx, code: str, doc_no: str, reason: str | None, on: str | None, request_id: str | None
) -> None:
    """Record a passed acceptance (验收): construction → operating.

    \b
    Example:
      ledger platform accept XJ-HE-001 --doc-no "新科发〔2027〕1号"
    """
    run(
        ctx,
        "accept",
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("fail-acceptance")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def platform_fail_acceptance(
    ctx: Ctx, code: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Record a failed acceptance: construction → rectification (at most one year).

    \b
    Example:
      ledger platform fail-acceptance XJ-HE-001 --doc-no "…" --reason "未达到建设目标"
    """
    run(
        ctx,
        "fail_acceptance",
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("evaluate")
@click.argument("code")
@click.option("--cycle", required=True, help="e.g. 2023-2025")
@click.option("--grade", required=True, help=f"one of {', '.join(GRADES)}")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def platform_evaluate(
    ctx: Ctx,
    code: str,
    cycle: str,
    grade: str,
    doc_no: str,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record an evaluation grade; `poor` opens a rectification.

    \b
    Example:
      ledger platform evaluate LS-KL-001 --cycle 2023-2025 --grade good --doc-no "…"
    """
    run(
        ctx,
        "evaluate",
        code.strip(),
        cycle=cycle,
        grade=grade,
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("rectify")
@click.argument("code")
@click.option("--passed", "passed", is_flag=True, help="the rectification passed")
@click.option("--failed", "failed", is_flag=True, help="it failed: the platform is delisted")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@click.option("--no-policy", is_flag=True, help="do not apply the delisting's consequences")
@recording
def platform_rectify(
    ctx: Ctx,
    code: str,
    passed: bool,
    failed: bool,
    doc_no: str,
    reason: str | None,
    no_policy: bool,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record a rectification result; a failed one delists (and may debar the host).

    \b
    Example:
      ledger platform rectify LS-KL-001 --failed --doc-no "…"
    """
    if passed == failed:
        raise click.UsageError("give exactly one of --passed or --failed")
    run(
        ctx,
        "rectify",
        code.strip(),
        passed=passed,
        doc_no=doc_no,
        reason=reason,
        no_policy=no_policy,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("delist")
@click.argument("code")
@click.option("--reason-code", required=True, help=f"one of {', '.join(DELIST_REASONS)}")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@click.option("--no-policy", is_flag=True, help="do not apply the delisting's consequences")
@recording
def platform_delist(
    ctx: Ctx,
    code: str,
    reason_code: str,
    doc_no: str,
    reason: str,
    no_policy: bool,
    on: str | None,
    request_id: str | None,
) -> None:
    """Delist (摘牌) with a reason code; no-show, withdrawal and failed
    rectification bar the host 3 years under lhasa-city (003 art. 24).

    \b
    Example:
      ledger platform delist LS-KL-001 --reason-code no-show --doc-no "…" --reason "无故不参加评估"
    """
    run(
        ctx,
        "delist",
        code.strip(),
        reason_code=reason_code,
        doc_no=doc_no,
        reason=reason,
        no_policy=no_policy,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("upgrade")
@click.argument("code")
@click.option("--level", required=True, help=f"one of {', '.join(LEVELS)}")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def platform_upgrade(
    ctx: Ctx,
    code: str,
    level: str,
    doc_no: str,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record an upgrade (提档升级) to a higher level.

    \b
    Example:
      ledger platform upgrade LS-KL-001 --level regional --doc-no "…"
    """
    run(
        ctx,
        "upgrade",
        code.strip(),
        level=level,
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@platform.command("report")
@click.argument("code")
@click.option("--year", required=True, type=int)
@click.option("--doc-no", default=None)
@recording
def platform_report(
    ctx: Ctx, code: str, year: int, doc_no: str | None, on: str | None, request_id: str | None
) -> None:
    """Record an annual report; a late one is recorded and flagged.

    \b
    Example:
      ledger platform report LS-KL-001 --year 2025 --on 2025-11-20
    """
    run(
        ctx,
        "report",
        code.strip(),
        year=year,
        doc_no=doc_no,
        on=_date(on, "--on"),
        request_id=request_id,
    )


# --- change requests ---------------------------------------------------------------------


@main.group()
def change() -> None:
    """Major change requests: request, approve, reject, withdraw, list."""


LIST_DETAILS = ("add", "remove", "consents")  # lists of units: repeats add up


def _details(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        if "=" not in p:
            raise InvalidInput(f"invalid --detail {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        k, v = k.strip(), v.strip()
        if not k:
            raise InvalidInput(f"invalid --detail {p!r}: empty key")
        if k in out and k in LIST_DETAILS:
            out[k] = f"{out[k]},{v}"
        elif k in out:
            raise InvalidInput(f"--detail {k} is given twice ({out[k]!r} and {v!r})")
        else:
            out[k] = v
    return out


@change.command("request")
@click.argument("code")
@click.argument("more_details", nargs=-1, metavar="")
@click.option("--type", "change_type", required=True, help=f"one of {', '.join(CHANGE_TYPES)}")
@click.option(
    "--detail",
    "details",
    multiple=True,
    metavar="KEY=VALUE",
    help="repeat it, or list several after one --detail (add=U1 consents=U1,U2)",
)
@click.option("--reason", required=True)
@click.option("--doc-no", default=None)
@recording
def change_request(
    ctx: Ctx,
    code: str,
    more_details: tuple[str, ...],
    change_type: str,
    details: tuple[str, ...],
    reason: str,
    doc_no: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Open a major change request; prints its id.

    \b
    Keys: rename name=…; host-change host=UNIT; lead-change lead=UNIT;
    co-builder-change add=U1,U2 remove=U3; member-change add=… remove=… consents=U1,U2,…
    (a consortium: consents=… of every member also when the new lead is no member)
    Example:
      ledger change request LS-KL-001 --type rename --detail name="新名称" --reason "依托单位更名"
    """
    run(
        ctx,
        "request_change",
        code.strip(),
        change_type=change_type,
        details=_details(details + more_details),
        reason=reason,
        doc_no=doc_no,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@change.command("approve")
@click.argument("change_id")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def change_approve(
    ctx: Ctx,
    change_id: str,
    doc_no: str,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Approve a change request; only approval changes the platform.

    \b
    Example:
      ledger change approve LS-KL-001:CR1 --doc-no "…"
    """
    run(
        ctx,
        "approve_change",
        change_id.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@change.command("reject")
@click.argument("change_id")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def change_reject(
    ctx: Ctx, change_id: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Reject a change request.

    \b
    Example:
      ledger change reject LS-KL-001:CR1 --doc-no "…" --reason "理由不充分"
    """
    run(
        ctx,
        "reject_change",
        change_id.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@change.command("withdraw")
@click.argument("change_id")
@click.option("--reason", required=True)
@recording
def change_withdraw(
    ctx: Ctx, change_id: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Withdraw a pending change request.

    \b
    Example:
      ledger change withdraw LS-KL-001:CR1 --reason "申请单位撤回"
    """
    run(
        ctx,
        "withdraw_change",
        change_id.strip(),
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


# --- funds -------------------------------------------------------------------------------


@main.group()
def funds() -> None:
    """Funds: allocate, disburse, reverse, recover, suspend, resume; summary, reconcile."""


@funds.command("allocate")
@click.argument("code")
@click.option("--category", required=True, help=f"one of {', '.join(CATEGORIES)}")
@click.option("--amount", required=True, metavar="YUAN")
@click.option("--fiscal-year", required=True, type=int)
@click.option("--doc-no", required=True)
@click.option(
    "--entitlement",
    default=None,
    metavar="KEY",
    help="which entitlement a reward/subsidy grants, e.g. grade-reward:2023-2025",
)
@click.option("--reason", default=None)
@recording
def funds_allocate(
    ctx: Ctx,
    code: str,
    category: str,
    amount: str,
    fiscal_year: int,
    doc_no: str,
    entitlement: str | None,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Approve an allocation (下达) for platform × category × fiscal year.

    \b
    Example:
      ledger funds allocate LS-KL-001 --category operation --amount 500000 \\
        --fiscal-year 2026 --doc-no "…"
    """
    run(
        ctx,
        "allocate",
        code.strip(),
        category=category,
        amount=_money(amount),
        fiscal_year=fiscal_year,
        doc_no=doc_no,
        entitlement=entitlement,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@funds.command("disburse")
@click.argument("code")
@click.option("--category", required=True, help=f"one of {', '.join(CATEGORIES)}")
@click.option("--amount", required=True, metavar="YUAN")
@click.option("--fiscal-year", required=True, type=int)
@click.option("--voucher", required=True)
@click.option("--doc-no", default=None)
@click.option("--reason", default=None)
@recording
def funds_disburse(
    ctx: Ctx,
    code: str,
    category: str,
    amount: str,
    fiscal_year: int,
    voucher: str,
    doc_no: str | None,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record a payment (拨付); the voucher is unique in the whole ledger.

    \b
    Example:
      ledger funds disburse LS-KL-001 --category operation --amount 200000 \\
        --fiscal-year 2026 --voucher PZ-2026-0001 --on 2026-03-15
    """
    run(
        ctx,
        "disburse",
        code.strip(),
        category=category,
        amount=_money(amount),
        fiscal_year=fiscal_year,
        voucher=voucher,
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@funds.command("reverse")
@click.argument("code")
@click.option("--voucher", required=True)
@click.option("--reason", required=True)
@click.option("--doc-no", default=None)
@recording
def funds_reverse(
    ctx: Ctx,
    code: str,
    voucher: str,
    reason: str,
    doc_no: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Reverse (冲销) one payment by voucher.

    \b
    Example:
      ledger funds reverse LS-KL-001 --voucher PZ-2026-0001 --reason "重复拨付"
    """
    run(
        ctx,
        "reverse",
        code.strip(),
        voucher=voucher,
        reason=reason,
        doc_no=doc_no,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@funds.command("recover")
@click.argument("code")
@click.option("--category", required=True)
@click.option("--fiscal-year", required=True, type=int)
@click.option("--amount", required=True, metavar="YUAN")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def funds_recover(
    ctx: Ctx,
    code: str,
    category: str,
    fiscal_year: int,
    amount: str,
    doc_no: str,
    reason: str,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record money clawed back (追回), at most what was paid net.

    \b
    Example:
      ledger funds recover LS-KL-001 --category research --fiscal-year 2025 --amount 100000 \\
        --doc-no "…" --reason "违规使用"
    """
    run(
        ctx,
        "recover",
        code.strip(),
        category=category,
        fiscal_year=fiscal_year,
        amount=_money(amount),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@funds.command("suspend")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def funds_suspend(
    ctx: Ctx, code: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Suspend funding (暂停拨付, 004 §4.3).

    \b
    Example:
      ledger funds suspend KQ-CB-001 --doc-no "…" --reason "专项资金未单独核算"
    """
    run(
        ctx,
        "suspend",
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


@funds.command("resume")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def funds_resume(
    ctx: Ctx, code: str, doc_no: str, reason: str | None, on: str | None, request_id: str | None
) -> None:
    """Resume funding (恢复拨付).

    \b
    Example:
      ledger funds resume KQ-CB-001 --doc-no "…"
    """
    run(
        ctx,
        "resume",
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=_date(on, "--on"),
        request_id=request_id,
    )


# --- reconcile (issue 5) ---


@funds.command("reconcile")
@click.option("--statement", required=True, metavar="FILE", help="bank / treasury statement (CSV)")
@click.option("--fiscal-year", type=int, default=None, help="only payments of this fiscal year")
@click.option(
    "--tolerance-days",
    type=int,
    default=3,
    show_default=True,
    help="days a statement date may differ from the ledger's payment date",
)
@click.option("--out", default=None, metavar="FILE.csv|FILE.xlsx", help="also write the findings")
@click.option(
    "--fail-on-discrepancy", is_flag=True, help="exit 1 when anything is unmatched or flagged"
)
@common()
def funds_reconcile(
    ctx: Ctx,
    statement: str,
    fiscal_year: int | None,
    tolerance_days: int,
    out: str | None,
    fail_on_discrepancy: bool,
) -> None:
    """Reconcile the ledger's payments against a bank or treasury statement (对账).

    Lines are matched by voucher, then (lines without one) by payee, amount
    and date within --tolerance-days. Unreadable lines go to stderr as
    "line N: reason" and do not stop the run. See docs/RECONCILE.md.

    \b
    Example:
      ledger funds reconcile --statement demo-bank-statement-2026.csv --fiscal-year 2026 \\
        --out reconcile-2026.xlsx --fail-on-discrepancy
    """
    from aggregates.errors import Discrepancy
    from ledger import reconcile as rc
    from ledger.reconcile.statement import parse_statement
    from ledger.service import check_fiscal_year

    if fiscal_year is not None:
        check_fiscal_year(fiscal_year)
    if tolerance_days < 0:
        raise InvalidInput(f"invalid --tolerance-days {tolerance_days}: must be 0 or more")
    if out is not None:
        out_kind = out.lower().rsplit(".", 1)[-1] if "." in out else ""
        if out_kind not in ("csv", "xlsx"):
            raise InvalidInput(f"invalid --out {out!r}: expected a .csv or .xlsx file name")
        rc.check_out_path(out)  # before the work: a bad target is exit 2, nothing written
    progress = sys.stderr.isatty()
    if progress:
        click.echo(f"reading {statement}…", err=True)
    parsed = parse_statement(statement)
    for bad in parsed.errors:
        click.echo(f"line {bad.line}: {bad.reason}", err=True)
    svc = open_service(ctx)
    try:
        if progress:
            click.echo(f"matching {len(parsed.lines)} statement lines to the ledger…", err=True)
        report = rc.reconcile(
            rc.AppSource(svc), parsed, fiscal_year=fiscal_year, tolerance_days=tolerance_days
        )
    finally:
        svc.close()
    report.statement = statement
    if out is not None:
        if out.lower().endswith(".xlsx"):
            # the workbook also carries the budget view, from `funds summary`
            from ledger.service import today

            report.budget_as_of = today()
            with _reading(ctx) as rm:
                report.budget = rm.funds_summary(report.budget_as_of, fiscal_year=fiscal_year)
        rc.write_report(report, out)
        if progress:
            click.echo(f"wrote {out}", err=True)
    if ctx.format == "json":
        click.echo(rc.to_json(report))
    elif ctx.format == "csv":
        click.echo(rc.to_csv(report), nl=False)
    else:
        click.echo(rc.to_table(report))
    if fail_on_discrepancy and report.has_discrepancies:
        raise Discrepancy(
            "discrepancies found: "
            + ", ".join(f"{n} {kind}" for kind, _, n, _, _ in rc.summary(report)[1:] if n)
        )


# --- query commands (issue 3) ---


def _as_of(value: str | None) -> date:
    """--as-of: any date, future included; default today."""
    from ledger.service import today

    return _date(value, "--as-of") or today()


def _reading(ctx: Ctx) -> Any:
    """The read models, caught up first (read-only: as they are, with a warning)."""
    from projections.api import open_read

    return open_read(ctx.db, warn=lambda m: click.echo(m, err=True))


def _emit(
    ctx: Ctx,
    data: Any,
    columns: Sequence[str] | None = None,
    *,
    record: bool = False,
) -> None:
    """Print a record (dict) or records (list) as table, JSON or CSV."""
    if ctx.format == "json":
        click.echo(output.to_json(data))
    elif ctx.format == "csv":
        rows = [data] if record else data
        flat = [
            {k: (output.plain(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
            for r in rows
        ]
        click.echo(output.to_csv(flat, columns))
    elif record:
        click.echo(output.to_record(data))
    else:
        click.echo(output.to_table(data, columns))


def _platform_code(code: str) -> str:
    from aggregates.values import validate_platform_code

    return validate_platform_code(code.strip())


def _unit_code(code: str) -> str:
    from aggregates.values import validate_credit_code

    return validate_credit_code(code.strip().upper())


@platform.command("show")
@click.argument("code")
@click.option("--as-of", default=None, metavar="DATE", help="state on this date (default today)")
@click.option("--known-at", default=None, metavar="TS", help="only what was recorded by then")
@common()
def platform_show(ctx: Ctx, code: str, as_of: str | None, known_at: str | None) -> None:
    """Show a platform as of a date, as the ledger knew it at a moment.

    \b
    Example:
      ledger platform show LS-KL-001 --as-of 2026-06-30 --known-at 2026-07-01T00:00:00Z
    """
    code, day, ts = _platform_code(code), _as_of(as_of), _timestamp(known_at)
    with _reading(ctx) as rm:
        data = rm.platform_show(code, day, ts)
    _emit(ctx, data, record=True)


@platform.command("list")
@click.option("--status", default=None)
@click.option("--kind", default=None)
@click.option("--level", default=None)
@click.option("--as-of", default=None, metavar="DATE")
@common()
def platform_list(
    ctx: Ctx, status: str | None, kind: str | None, level: str | None, as_of: str | None
) -> None:
    """List platforms with their status on a date.

    \b
    Example:
      ledger platform list --status rectification --as-of 2026-06-30
    """
    from aggregates.values import STATUSES

    _choice(status, STATUSES, "status")
    _choice(kind, KINDS, "platform kind")
    _choice(level, LEVELS, "level")
    day = _as_of(as_of)
    with _reading(ctx) as rm:
        rows = rm.platform_list(day, status=status, kind=kind, level=level)
    _emit(
        ctx,
        rows,
        ["code", "name", "kind", "level", "status", "status_since", "host_unit", "policy"],
    )


@unit.command("show")
@click.argument("code")
@click.option("--as-of", default=None, metavar="DATE")
@click.option("--known-at", default=None, metavar="TS")
@common()
def unit_show(ctx: Ctx, code: str, as_of: str | None, known_at: str | None) -> None:
    """Show a unit: names, violations, debarments, blacklist, as of a date.

    \b
    Example:
      ledger unit show 91540100MA6T0A0C21 --as-of 2027-01-01
    """
    code, day, ts = _unit_code(code), _as_of(as_of), _timestamp(known_at)
    with _reading(ctx) as rm:
        data = rm.unit_show(code, day, ts)
    if ctx.format != "table":
        _emit(ctx, data, record=True)
        return
    head = {k: v for k, v in data.items() if k not in ("violations", "debarments", "blacklist")}
    click.echo(output.to_record(head))
    for title, key, cols in (
        (
            "violations",
            "violations",
            ["id", "kind", "occurred_on", "found_on", "platform", "doc_no"],
        ),
        (
            "debarments",
            "debarments",
            ["id", "scopes", "years", "start", "end", "status", "lifted_on", "basis", "doc_no"],
        ),
        ("blacklist", "blacklist", ["id", "start", "removed_on", "status", "basis", "doc_no"]),
    ):
        click.echo(f"\n{title}:")
        click.echo(output.to_table(data[key], cols))


@unit.command("search")
@click.argument("text")
@click.option("--as-of", default=None, metavar="DATE")
@common()
def unit_search(ctx: Ctx, text: str, as_of: str | None) -> None:
    """Screen by name (current, former, aliases; fuzzy, Chinese included) or code.

    \b
    Example:
      ledger unit search 医学研究 --as-of 2026-06-30
    """
    day = _as_of(as_of)
    with _reading(ctx) as rm:
        hits = rm.unit_search(text, day)
    _emit(ctx, hits, ["code", "name", "matched", "score", "debarred", "blacklisted"])


DEBARMENT_COLUMNS = [
    "unit",
    "unit_name",
    "id",
    "scopes",
    "years",
    "start",
    "end",
    "status",
    "basis",
    "doc_no",
]


@main.command()
@click.option("--as-of", default=None, metavar="DATE")
@click.option("--scope", default=None, help=f"one of {', '.join(SCOPES)}")
@click.option("--name", default=None, metavar="TEXT", help="only units whose name matches")
@common()
def debarred(ctx: Ctx, as_of: str | None, scope: str | None, name: str | None) -> None:
    """Units debarred on a date (start ≤ date < end, not lifted).

    \b
    Example:
      ledger debarred --as-of 2027-01-01 --scope platform-application
    """
    _choice(scope, SCOPES, "debarment scope")
    day = _as_of(as_of)
    with _reading(ctx) as rm:
        rows = rm.debarred(day, scope=scope, name=name)
    _emit(ctx, rows, DEBARMENT_COLUMNS)


@main.command("blacklist")
@click.option("--as-of", default=None, metavar="DATE")
@common()
def blacklist_cmd(ctx: Ctx, as_of: str | None) -> None:
    """Units on the integrity blacklist on a date.

    \b
    Example:
      ledger blacklist --as-of 2026-06-30
    """
    day = _as_of(as_of)
    with _reading(ctx) as rm:
        rows = rm.blacklist(day)
    _emit(ctx, rows, ["unit", "unit_name", "id", "start", "status", "basis", "doc_no"])


@main.command()
@click.argument("unit_code", metavar="UNIT")
@click.option(
    "--for",
    "purpose",
    default="platform-application",
    show_default=True,
    help=f"one of {', '.join(SCOPES)}",
)
@click.option("--as-of", default=None, metavar="DATE")
@click.option(
    "--policy", default=None, metavar="ID", help="look-back of this policy (default: the ledger's)"
)
@click.option("--check", is_flag=True, help="exit 1 when not eligible")
@common()
def eligibility(
    ctx: Ctx, unit_code: str, purpose: str, as_of: str | None, policy: str | None, check: bool
) -> None:
    """Is a unit eligible on a date, for a purpose — and every reason it is not.

    \b
    Example:
      ledger eligibility 91540100MA6T0A0C21 --for consortium-lead --as-of 2027-01-01 --check
    """
    from aggregates.errors import Ineligible
    from ledger.policies import load_policy
    from ledger.service import DEFAULT_POLICY
    from ledger.store import db

    _choice(purpose, SCOPES, "purpose")
    code, day = _unit_code(unit_code), _as_of(as_of)
    with _reading(ctx) as rm:
        pol = load_policy(policy or db.get_setting(rm.cfg, "default_policy") or DEFAULT_POLICY)
        eligible, reasons = rm.eligibility(code, purpose, day, pol)
    data = {
        "unit": code,
        "purpose": purpose,
        "as_of": day.isoformat(),
        "eligible": eligible,
        "reasons": [r.as_json() for r in reasons],
        "policy": pol.id,
    }
    if ctx.format == "table":
        verdict = "eligible" if eligible else "NOT eligible"
        click.echo(f"{code}: {verdict} for {output.labelled(purpose)} on {day} (policy {pol.id})")
        if reasons:
            click.echo(output.to_table(data["reasons"], ["rule", "basis", "until", "detail"]))
    elif ctx.format == "json":
        _emit(ctx, data)
    else:
        # the verdict on every row; an eligible unit is one row with empty reason columns
        head = {"unit": code, "purpose": purpose, "as_of": day.isoformat()}
        verdict_text = "true" if eligible else "false"
        rows = [{**head, "eligible": verdict_text, **r} for r in data["reasons"]]
        rows = rows or [{**head, "eligible": verdict_text}]
        click.echo(
            output.to_csv(
                rows,
                ["unit", "purpose", "as_of", "eligible", "rule", "basis", "until", "detail"],
            )
        )
    if check and not eligible:
        raise Ineligible(f"unit {code} is not eligible for {purpose} on {day}")


@funds.command("summary")
@click.argument("code", required=False)
@click.option("--fiscal-year", type=int, default=None)
@click.option("--as-of", default=None, metavar="DATE")
@common()
def funds_summary(ctx: Ctx, code: str | None, fiscal_year: int | None, as_of: str | None) -> None:
    """Allocated, disbursed, reversed, recovered, net and remaining per line.

    \b
    Example:
      ledger funds summary LS-KL-001 --fiscal-year 2026 --as-of 2026-06-30
    """
    from aggregates.errors import PlatformNotFound

    plat = _platform_code(code) if code else None
    day = _as_of(as_of)
    with _reading(ctx) as rm:
        if plat is not None and not rm.platform_exists(plat):
            raise PlatformNotFound(plat)
        rows = rm.funds_summary(day, platform=plat, fiscal_year=fiscal_year)
    from projections.funds import SUMMARY_COLUMNS

    _emit(ctx, rows, list(SUMMARY_COLUMNS))


@main.group()
def compliance() -> None:
    """Compliance: overdue rectifications and reports, platforms due for termination."""


@compliance.command("overdue")
@click.option("--as-of", default=None, metavar="DATE")
@common()
def compliance_overdue(ctx: Ctx, as_of: str | None) -> None:
    """Rectifications past due, annual reports missing, platforms due for
    termination, late filings — on a date.

    \b
    Example:
      ledger compliance overdue --as-of 2026-12-01
    """

    day = _as_of(as_of)
    with _reading(ctx) as rm:
        rows = rm.compliance_overdue(day)
    _emit(ctx, rows, ["platform", "name", "status", "issue", "due", "basis", "detail"])


@main.command()
@click.option("--platform", "platform_code", default=None, metavar="CODE")
@click.option("--unit", "unit_code", default=None, metavar="CODE")
@click.option("--since", default=None, metavar="DATE", help="effective on or after")
@click.option("--until", default=None, metavar="DATE", help="effective on or before")
@common()
def history(
    ctx: Ctx,
    platform_code: str | None,
    unit_code: str | None,
    since: str | None,
    until: str | None,
) -> None:
    """The events of a platform, a unit, or the ledger, oldest first.

    \b
    Example:
      ledger history --platform LS-KL-001 --since 2026-01-01 --format json
    """
    from aggregates.errors import PlatformNotFound, UnitNotFound

    if platform_code and unit_code:
        raise InvalidInput("give --platform or --unit, not both")
    start, end = _date(since, "--since"), _date(until, "--until")
    with _reading(ctx) as rm:
        if platform_code:
            code = _platform_code(platform_code)
            if not rm.platform_exists(code):
                raise PlatformNotFound(code)
            rows = rm.history(aggregate="platform", code=code, since=start, until=end)
        elif unit_code:
            code = _unit_code(unit_code)
            if not rm.unit_exists(code):
                raise UnitNotFound(code)
            rows = rm.history(aggregate="unit", code=code, since=start, until=end)
        else:
            rows = rm.history(since=start, until=end)
    _emit(
        ctx,
        rows,
        [
            "seq",
            "aggregate",
            "code",
            "version",
            "event",
            "effective_on",
            "recorded_at",
            "actor",
            "doc_no",
            "basis",
            "reason",
            "data",
        ],
    )


@change.command("list")
@click.option("--pending", is_flag=True, help="only requests not yet decided")
@click.option("--platform", "platform_code", default=None, metavar="CODE")
@common()
def change_list(ctx: Ctx, pending: bool, platform_code: str | None) -> None:
    """Major change requests, by platform.

    \b
    Example:
      ledger change list --pending
    """
    from aggregates.errors import PlatformNotFound

    code = _platform_code(platform_code) if platform_code else None
    with _reading(ctx) as rm:
        if code is not None and not rm.platform_exists(code):
            raise PlatformNotFound(code)
        rows = rm.change_list(pending=pending, platform=code)
    _emit(
        ctx,
        rows,
        ["id", "platform", "type", "status", "requested_on", "decided_on", "details", "reason"],
    )


@main.group()
def projections() -> None:
    """Read models: status, rebuild, verify."""


@projections.command("status")
@common()
def projections_status(ctx: Ctx) -> None:
    """Position, head and lag (in events) of each read model.

    \b
    Example:
      ledger projections status
    """
    from ledger.store import db
    from projections.catchup import status

    cfg = db.parse_db_url(ctx.db)
    db.ensure_ready(cfg)
    _emit(ctx, status(cfg), ["model", "position", "head", "lag"])


@projections.command("rebuild")
@common(prints=False)
def projections_rebuild(ctx: Ctx) -> None:
    """Replay every event into shadow tables, in short transactions (the live
    models keep answering, recording is never held up), then swap them in;
    progress on stderr when it is a terminal.

    \b
    Example:
      ledger projections rebuild
    """
    from ledger.store import db
    from projections.catchup import rebuild

    cfg = db.parse_db_url(ctx.db)
    db.ensure_ready(cfg)
    result = rebuild(cfg)
    click.echo(f"rebuilt the read models from {result.applied} events (head {result.head})")


@projections.command("verify")
@common()
def projections_verify(ctx: Ctx) -> None:
    """Rebuild the read models aside (a scratch file) and compare them with
    the live tables; exit 1 if anything differs (a model whose rows are ahead
    of its tracking position included), 0 if they are equal. Progress on
    stderr when it is a terminal.

    \b
    Example:
      ledger projections verify
    """
    from ledger.store import db
    from projections.api import lag_warning
    from projections.catchup import catch_up, verify

    cfg = db.parse_db_url(ctx.db)
    db.ensure_ready(cfg)
    show = sys.stderr.isatty()
    caught = catch_up(cfg, progress=show)
    message = lag_warning(caught)
    if message:
        click.echo(message, err=True)
    report = verify(cfg, progress=show, known=caught.inconsistent)
    if ctx.format == "json":
        click.echo(output.to_json(report.as_json()))
    else:
        for d in report.differences:
            click.echo(d)
        if report.total > len(report.differences):
            click.echo(f"… and {report.total - len(report.differences)} more")
        verdict = "equal to a rebuild" if report.ok else f"{report.total} difference(s)"
        click.echo(f"read models: {verdict} ({report.rows_compared} rows compared)")
    if not report.ok:
        sys.exit(1)


# --- audit commands (issue 4) ---


@main.group()
def audit() -> None:
    """Prove the history: verify the hash chain, sign checkpoints, export.

    \b
    Example:
      ledger audit verify
      ledger audit keygen --out auditor.pem
      ledger audit checkpoint --key auditor.pem --out checkpoint.json
      ledger audit export --out ledger.jsonl
      ledger audit verify --file ledger.jsonl --checkpoint checkpoint.json
    """


def _audit_format(ctx: Ctx, fmt: str | None) -> str:
    return fmt or ctx.format or "table"


@audit.command("verify")
@click.option(
    "--checkpoint",
    "checkpoint_path",
    default=None,
    metavar="FILE",
    help="a signed checkpoint the ledger must extend",
)
@click.option(
    "--file",
    "export_path",
    default=None,
    metavar="EXPORT.jsonl",
    help="verify an export file instead of the database (offline)",
)
@click.option(
    "--key-id",
    "key_id",
    default=None,
    metavar="ID",
    help="the signer's published key id: the checkpoint must be signed by that key",
)
@click.option(
    "--format",
    "audit_fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default), json or csv (one row)",
)
@common(prints=False)
def audit_verify(
    ctx: Ctx,
    checkpoint_path: str | None,
    export_path: str | None,
    key_id: str | None,
    audit_fmt: str | None,
) -> None:
    """Recompute the hash chain and name the first sequence number that no
    longer matches; exit 4 if anything was altered, deleted, inserted or
    reordered, or if the checkpoint does not hold.

    \b
    Example:
      ledger audit verify --format json
      ledger audit verify --checkpoint checkpoint.json --key-id 5734acc5723e623f
      ledger audit verify --file ledger.jsonl --checkpoint checkpoint.json
    """
    from aggregates.errors import TamperDetected
    from ledger import audit as audit_mod
    from ledger.store import db

    if key_id is not None and not checkpoint_path:
        raise InvalidInput("--key-id pins the signer of a checkpoint: give --checkpoint FILE too")
    if key_id is not None and not re.fullmatch(r"[0-9a-fA-F]{16}", key_id.strip()):
        raise InvalidInput(
            f"invalid --key-id {key_id!r}: a key id is the 16 hex digits `audit keygen` printed"
        )
    cp = audit_mod.load_checkpoint(checkpoint_path) if checkpoint_path else None
    progress = audit_mod.terminal_progress()
    if export_path:
        result = audit_mod.verify_export(export_path, cp, progress=progress, trusted_key_id=key_id)
    else:
        result = audit_mod.verify(
            db.parse_db_url(ctx.db), checkpoint=cp, progress=progress, trusted_key_id=key_id
        )
    fmt = _audit_format(ctx, audit_fmt)
    if fmt == "json":
        click.echo(output.to_json(result))
    elif fmt == "csv":
        cpr = result["checkpoint"]
        row = {k: v for k, v in result.items() if k != "checkpoint"}
        row["checkpoint_seq"] = None if cpr is None else cpr["seq"]
        row["checkpoint_ok"] = None if cpr is None else cpr["ok"]
        click.echo(output.to_csv([row]))
    else:
        shown = dict(result)
        shown["ok"] = "yes" if result["ok"] else "NO"
        cpr = result["checkpoint"]
        shown["checkpoint"] = (
            None if cpr is None else f"seq {cpr['seq']}: {'holds' if cpr['ok'] else 'FAILS'}"
        )
        click.echo(output.to_record(shown))
    if not result["ok"]:
        bad = result["first_bad_seq"]
        where = f" at seq {bad}" if bad is not None else ""
        raise TamperDetected(f"verification failed{where}: {result['problem']}")


@audit.command("keygen")
@click.option(
    "--out",
    "out_path",
    required=True,
    metavar="KEYFILE",
    help="private key (PEM, mode 0600); the public key goes to KEYFILE.pub",
)
@common(prints=False)
def audit_keygen(ctx: Ctx, out_path: str) -> None:
    """Make an Ed25519 signing key pair for checkpoints (never overwrites).

    \b
    Example:
      ledger audit keygen --out auditor.pem
    """
    from ledger import audit as audit_mod

    made = audit_mod.keygen(out_path)
    click.echo(f"private key: {made['private_key']} (keep it secret)")
    click.echo(f"public key:  {made['public_key']}")
    click.echo(f"key id:      {made['key_id']}")


@audit.command("checkpoint")
@click.option("--key", "key_path", required=True, metavar="KEYFILE", help="private key (PEM)")
@click.option(
    "--out",
    "out_path",
    default=None,
    metavar="FILE",
    help="write the signed checkpoint here (JSON) to publish or hand over",
)
@click.option(
    "--format",
    "audit_fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="table (default), json or csv (one row)",
)
@common(prints=False)
def audit_checkpoint(ctx: Ctx, key_path: str, out_path: str | None, audit_fmt: str | None) -> None:
    """Verify the chain, then sign and record a checkpoint of its head
    (sequence number, chain hash, time, key id).

    \b
    Example:
      ledger audit checkpoint --key auditor.pem --out checkpoint-2026-11.json
    """
    from ledger import audit as audit_mod
    from ledger.store import db

    doc = audit_mod.checkpoint(
        db.parse_db_url(ctx.db), key_path, out_path, progress=audit_mod.terminal_progress()
    )
    fmt = _audit_format(ctx, audit_fmt)
    if fmt == "json":
        click.echo(output.to_json(doc))
    elif fmt == "csv":
        click.echo(output.to_csv([{k: v for k, v in doc.items() if k != "recorded"}]))
    else:
        click.echo(
            output.to_record(
                {k: doc[k] for k in ("seq", "chain_hash", "taken_at", "key_id", "ledger_id")}
            )
        )
        if out_path:
            click.echo(f"written to {out_path}")
        else:
            click.echo(
                "note: the table leaves out the signature and public key; give --out FILE "
                "(or --format json) for the checkpoint to publish",
                err=True,
            )
    if doc.get("recorded") is False:
        click.echo(
            "warning: signed, but not recorded in the ledger's audit_checkpoints "
            "(this database role is read-only); publish the file",
            err=True,
        )


@audit.command("export")
@click.option("--out", "out_path", required=True, metavar="FILE.jsonl")
@click.option(
    "--since",
    type=int,
    default=None,
    metavar="SEQ",
    help="only events after this sequence number (e.g. a checkpoint's)",
)
@common(prints=False)
def audit_export(ctx: Ctx, out_path: str, since: int | None) -> None:
    """Write every event with its metadata and chain hash, in order, as JSON
    Lines; `ledger audit verify --file` checks it without the database.

    \b
    Example:
      ledger audit export --out ledger.jsonl
      ledger audit export --out since-checkpoint.jsonl --since 1200
    """
    from ledger import audit as audit_mod
    from ledger.store import db

    summary = audit_mod.export(db.parse_db_url(ctx.db), out_path, since)
    click.echo(
        f"exported {summary['events']} event(s) after seq {summary['since_seq']} "
        f"to {summary['out']}"
    )


# --- demo ---


@main.command()
@click.option(
    "--statement",
    "statement_path",
    default="demo-bank-statement-2026.csv",
    show_default=True,
    metavar="FILE",
    help="where to write the demo's bank statement (GBK, as a bank exports it)",
)
@common(prints=False)
def demo(ctx: Ctx, statement_path: str) -> None:
    """Load a realistic demo ledger into the configured, empty database
    (initialising it if needed) and print what to try next.

    \b
    Example:
      ledger demo
      ledger --db postgresql://postgres@127.0.0.1/demo demo
    """
    from ledger.demo import ensure_demo_can_load, load_demo
    from ledger.reconcile import write_demo_statement_from_ledger
    from ledger.service import LedgerService
    from ledger.store import db

    cfg = db.parse_db_url(ctx.db)
    db.create_database_if_missing(cfg)
    db.migrate(cfg)
    if db.get_setting(cfg, "default_policy") is None:
        db.set_setting(cfg, "default_policy", "lhasa-city")
    svc = LedgerService(ctx.db)
    try:
        ensure_demo_can_load(svc)
        loaded = load_demo(svc)
        events = svc.app.recorder.max_notification_id()
        # the demo records without the per-command hook; bring the read models
        # up to date now, so that the first query (under any role) sees it all
        from projections.catchup import catch_up

        catch_up(svc)
        written = write_demo_statement_from_ledger(svc, statement_path)
    finally:
        svc.close()
    u = loaded["units"]
    click.echo(
        f"Loaded the demo ledger into {cfg.display_url}: {events} events, "
        f"{len(u)} units, {len(loaded['platforms'])} platforms of every kind under all five "
        "policies."
    )
    click.echo(f"Wrote a bank statement with deliberate discrepancies to {written}.")
    click.echo(f"""
Try next:
  # the auditor: replay and prove
  ledger history --platform LS-ERC-001
  ledger platform show LS-KL-002 --as-of 2026-01-01
  ledger audit verify
  # the compliance officer: who is barred, and why
  ledger debarred
  ledger blacklist
  ledger eligibility {u["jingtu"]} --for platform-application
  ledger eligibility {u["xj_auto"]} --for project-application --as-of 2025-12-31
  ledger unit search 医学研究
  ledger compliance overdue --as-of 2026-12-01
  # the finance bureau: budgets and the bank
  ledger funds summary
  ledger funds reconcile --statement {written}
  # pending work
  ledger change list --pending""")


if __name__ == "__main__":  # pragma: no cover
    main()
