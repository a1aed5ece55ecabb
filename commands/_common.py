"""What several command modules share: the per-invocation context, the options
every command accepts, parsing of option strings into domain types, calling the
service and printing a recording or a query's rows.

Heavy modules (the service, the read models) are imported inside the functions
that need them, so that loading a command group stays cheap.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Concatenate, ParamSpec, Protocol, TypeVar

import click

from aggregates.errors import InvalidInput

if TYPE_CHECKING:
    from ledger import output
    from ledger.profiles import Settings
    from ledger.service import LedgerService

F = TypeVar("F", bound=Callable[..., Any])
P = ParamSpec("P")
DEFAULT_DB = "sqlite:///ledger.db"
FORMATS = ("table", "json", "csv")


# --- option parsing ----------------------------------------------------------------------


def opt_date(value: str | None, what: str) -> date | None:
    from aggregates.values import parse_date

    return None if value is None else parse_date(value, what=what)


def money(value: str) -> Decimal:
    from aggregates.values import parse_money

    return parse_money(value)


def timestamp(value: str | None, what: str = "--known-at") -> datetime | None:
    from ledger.clock import parse_timestamp

    return parse_timestamp(value, what)


def choice(value: str | None, choices: Sequence[str], what: str) -> str | None:
    if value is not None and value not in choices:
        raise InvalidInput(f"invalid {what} {value!r}; expected one of: {', '.join(choices)}")
    return value


class Ctx:
    """Per-invocation settings: database, actor, output format."""

    def __init__(self) -> None:
        from ledger import output

        self.db: str = DEFAULT_DB
        self.actor: str | None = None
        self.format: str = "table"
        self.view = output.View()
        self.settings: Settings | None = None  # where each setting came from (`config show`)

    def table_view(self) -> output.View:
        """The table view of this invocation, fitted to the terminal (or COLUMNS)."""
        from ledger import output

        v = self.view
        return output.View(v.columns, v.wide, v.no_headers, output.terminal_width(stdout_is_tty()))


def stdout_is_tty() -> bool:
    import sys

    return sys.stdout.isatty()


def show(text: str) -> None:
    """Print a table: through a pager on a terminal when longer than the
    screen (LEDGER_PAGER=0 turns it off), straight out when piped."""
    import os
    import shutil

    if (
        stdout_is_tty()
        and os.environ.get("LEDGER_PAGER", "1") != "0"
        and text.count("\n") + 1 > shutil.get_terminal_size().lines - 1
    ):
        click.echo_via_pager(text + "\n")
    else:
        click.echo(text)


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
            given = []
            if db_opt:
                ctx.db = db_opt
                given.append("db")
            fmt = kwargs.pop("fmt", None)
            if fmt:
                ctx.format = fmt
                given.append("format")
            wide, cols, no_headers = (
                kwargs.pop("wide", False),
                kwargs.pop("columns_opt", None),
                kwargs.pop("no_headers", False),
            )
            if wide or cols or no_headers:
                from ledger import output

                picked = tuple(c.strip() for c in (cols or "").split(",") if c.strip())
                ctx.view = output.View(picked, bool(wide), bool(no_headers))
            actor = kwargs.pop("actor_opt", None)
            if actor:
                ctx.actor = actor
                given.append("actor")
            if ctx.settings is not None:
                ctx.settings.sources.update(dict.fromkeys(given, "option"))
            from ledger.log import bind

            bind(command=click.get_current_context().command_path, actor=ctx.actor)
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
            w = click.option(
                "--no-headers", is_flag=True, help="tables without their header lines"
            )(w)
            w = click.option(
                "--columns",
                "columns_opt",
                default=None,
                metavar="A,B,C",
                help="tables show these columns, in this order (e.g. --columns code,name)",
            )(w)
            w = click.option(
                "--wide", is_flag=True, help="tables show every column, not only the first-read"
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


class Recorded(Protocol):
    """What a recording returns (ledger.service's Result)."""

    replayed: bool

    def as_json(self) -> dict[str, Any]: ...


def open_service(ctx: Ctx) -> LedgerService:
    from ledger.reads import install
    from ledger.service import LedgerService

    svc = LedgerService(ctx.db)
    install(svc, warn=lambda m: click.echo(m, err=True))
    return svc


def print_result(ctx: Ctx, result: Recorded) -> None:
    from ledger import output

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
        click.echo(f"  ! {output.terminal_safe(str(w))}")


def record(
    ctx: Ctx,
    method: Callable[Concatenate[LedgerService, P], Recorded],
    *args: P.args,
    **kwargs: P.kwargs,
) -> None:
    """Call one of the service's recording methods (`LedgerService.disburse`, …)
    on a service opened for this invocation, and print what it recorded."""
    svc = open_service(ctx)
    try:
        result = method(svc, *args, **kwargs)
    finally:
        svc.close()
    print_result(ctx, result)


# --- queries -------------------------------------------------------------------------------


def as_of_date(value: str | None) -> date:
    """--as-of: any date, future included; default today."""
    from ledger.clock import today

    return opt_date(value, "--as-of") or today()


KNOWN_AT_HELP = (
    "as the ledger knew it at this moment (ISO 8601, e.g. 2026-07-01T00:00:00Z): "
    "only what was recorded by then"
)


def known_at_option(f: F) -> F:
    """--known-at: the second clock (when recorded), beside --as-of (the business date)."""
    return click.option("--known-at", "known_at", default=None, metavar="TS", help=KNOWN_AT_HELP)(f)


@contextmanager
def reading_known(ctx: Ctx, known_at: datetime | None) -> Iterator[Any]:
    """The read models, as they are, or as known at a moment (--known-at)."""
    with reading(ctx) as rm:
        yield rm if known_at is None else rm.known_at(known_at)


def reading(ctx: Ctx) -> Any:
    """The read models, caught up first (read-only: as they are, with a warning)."""
    from ledger.reads import open_read

    return open_read(ctx.db, warn=lambda m: click.echo(m, err=True))


def emit(
    ctx: Ctx,
    data: Any,
    columns: Sequence[str] | None = None,
    *,
    record: bool = False,
    default: Sequence[str] | None = None,
) -> None:
    """Print a record (dict) or records (list) as table, JSON or CSV; a
    table shows the `default` columns (those read first) unless --wide or
    --columns ask otherwise."""
    from ledger import output

    if ctx.format == "json":
        click.echo(output.to_json(data))
    elif ctx.format == "csv":
        rows = [data] if record else data
        flat = [
            {k: (output.plain(v) if isinstance(v, (list, dict)) else v) for k, v in r.items()}
            for r in rows
        ]
        click.echo(output.to_csv(flat, columns, terminal=sys.stdout.isatty()))
    elif record:
        show(output.to_record(data))
    else:
        show(output.to_table(data, columns, default=default, view=ctx.table_view()))


def valid_platform_code(code: str) -> str:
    from aggregates.values import validate_platform_code

    return validate_platform_code(code.strip())


def valid_unit_code(code: str) -> str:
    from aggregates.values import validate_credit_code

    return validate_credit_code(code.strip().upper())
