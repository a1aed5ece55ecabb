"""`ledger`: the command line of the audit ledger for public science funding.

The contract is ../shared/CLI.md. This module is the entry point: the root
group and its global options, and the mapping of errors to exit codes (0 ok,
1 refused by a rule, 2 bad input, 3 database, 4 tampering). The commands live in
the `commands` package, one module per group, loaded only when invoked.
"""

from __future__ import annotations

import importlib
import os
import sqlite3
import sys
from typing import Any, NoReturn

import click

from aggregates.errors import (
    DatabaseUnavailable,
    InvalidInput,
    LedgerError,
    TamperDetected,
)
from commands._common import DEFAULT_DB, FORMATS, Ctx

# Every command, by name: "module:attribute" under the commands package, imported
# only when the command is invoked (or listed with its help).
COMMANDS: dict[str, str] = {
    "audit": "commands.audit:audit",
    "blacklist": "commands.queries:blacklist_cmd",
    "change": "commands.change:change",
    "compliance": "commands.queries:compliance",
    "config": "commands.config:config",
    "debarred": "commands.queries:debarred",
    "demo": "commands.setup:demo",
    "eligibility": "commands.queries:eligibility",
    "funds": "commands.funds:funds",
    "history": "commands.queries:history",
    "import": "commands.importing:import_cmd",
    "init": "commands.setup:init",
    "platform": "commands.platform:platform",
    "projections": "commands.projections:projections",
    "roles": "commands.roles:roles",
    "serve": "commands.serve:serve",
    "unit": "commands.unit:unit",
}


# The first paragraph of each command's help, so that `ledger --help` lists the
# commands without importing them (a test keeps it equal to the commands' own
# help). A command missing here is imported to list it.
SUMMARIES: dict[str, str] = {
    "audit": "Prove the history: verify the hash chain, sign checkpoints (signed tree heads), "
    "export, prove events and consistency, make audit packs.",
    "blacklist": "Units on the integrity blacklist on a date.",
    "change": "Major change requests: request, approve, reject, withdraw, list.",
    "compliance": "Compliance: overdue rectifications and reports, platforms due for termination.",
    "config": "Profiles and settings (a TOML file in the user's config directory).",
    "debarred": "Units debarred on a date (start ≤ date < end, not lifted); with --file, "
    "every name of a list screened against them (best matches, score, verdict, why).",
    "demo": "Load a realistic demo ledger into the configured, empty database (initialising "
    "it if needed) and print what to try next.",
    "eligibility": "Is a unit eligible on a date, for a purpose — and every reason it is not.",
    "funds": "Funds: allocate, disburse, reverse, recover, suspend, resume; summary, reconcile.",
    "history": "The events of a platform, a unit, or the ledger, oldest first.",
    "import": "Bulk-record decisions: a JSON Lines file of recording commands, or register "
    "sheets (XLSX: one sheet per kind; CSV: one kind), Chinese or English headers. Every "
    "line passes the same rules as its command; re-running a file records nothing new "
    "(request ids); a bad line is reported with its number and nothing of its batch is "
    "recorded, and the import stops there (the batches before it stay recorded).",
    "init": "Create or upgrade the schema; idempotent; set the default policy.",
    "platform": "Platforms: lifecycle decisions; show and list.",
    "projections": "Read models: status, rebuild, verify.",
    "roles": "Database logins: one per person, members of the ledger's group roles.",
    "serve": "A read-only web view of the ledger for auditors and compliance officers: "
    "search, platform timelines, funds charts, the debarred and blacklisted on a date, "
    "the chain's state.",
    "unit": "Units: register, rename, violations, debarments, blacklist; show and search.",
}


# --- logging (configured once, here) -------------------------------------------------


def configure_logging(verbose: bool) -> None:
    """INFO with -v, else WARNING, on stderr; structlog itself is loaded only
    when a line is first logged (ledger/log.py)."""
    from ledger.log import configure

    configure(verbose)


# --- errors → exit codes -----------------------------------------------------------------


# CLI.md's exit code of each error; an error takes the code of the first class
# of its MRO (itself, then its bases) found here.
EXIT_CODES: dict[type[LedgerError], int] = {
    TamperDetected: 4,
    DatabaseUnavailable: 3,  # NotInitialised too
    InvalidInput: 2,
    LedgerError: 1,  # RuleViolation, NotFound, AlreadyExists, Conflict, Discrepancy, …
}


def exit_code(error: LedgerError) -> int:
    """The exit code of a domain error (the most specific class mapped)."""
    for cls in type(error).__mro__:
        if cls in EXIT_CODES:
            return EXIT_CODES[cls]
    return 1


def fail(message: str, code: int) -> NoReturn:
    """One line on stderr, whatever the message holds (a newline, an escape
    sequence or a bidi override from an argument is shown escaped), and exit."""
    from ledger.text import terminal_safe

    click.echo(f"error: {terminal_safe(message)}", err=True)
    sys.exit(code)


def unstorable(value: str) -> str | None:
    """Why the database could not store this text (a NUL; a lone surrogate, which
    is how Python hands over bytes of an argument that are not UTF-8), or None."""
    if "\x00" in value:
        return "it holds a NUL character, which the ledger cannot store"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "it is not valid UTF-8 text"
    return None


def check_arguments(args: list[str]) -> None:
    """Refuse, exit 2 and nothing done, an argument or LEDGER_* setting that the
    ledger could not store or show."""
    from ledger.text import terminal_safe

    named = [(f"argument {i + 1}", a) for i, a in enumerate(args)]
    named += [(k, os.environ[k]) for k in ("LEDGER_DB", "LEDGER_ACTOR") if k in os.environ]
    for where, value in named:
        problem = unstorable(value)
        if problem is not None:
            try:  # the bytes as given, as \xNN
                text = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:
                text = value.encode("utf-8", "backslashreplace").decode("utf-8")
            fail(f"invalid {where} '{terminal_safe(text)}': {problem}", 2)


class LazyGroup(click.Group):
    """A group whose commands are imported when first needed (click's lazy
    loading pattern): `lazy` maps a command name to "module:attribute"."""

    def __init__(self, *args: Any, lazy: dict[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.lazy:
            return self._load(cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The commands with their summaries (SUMMARIES), importing none that has one."""
        names = self.list_commands(ctx)
        if not names:
            return
        limit = formatter.width - 6 - max(len(n) for n in names)
        rows = []
        for name in names:
            if name in self.lazy and name in SUMMARIES:
                stand_in = click.Command(name, help=SUMMARIES[name])
                rows.append((name, stand_in.get_short_help_str(limit)))
                continue
            cmd = self.get_command(ctx, name)
            if cmd is not None and not cmd.hidden:
                rows.append((name, cmd.get_short_help_str(limit)))
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def _load(self, cmd_name: str) -> click.Command:
        module_name, attr = self.lazy[cmd_name].split(":", 1)
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):  # pragma: no cover - a wrong map entry
            raise TypeError(f"{self.lazy[cmd_name]} is not a click command")
        return command


class LedgerGroup(LazyGroup):
    """Maps every error to one line on stderr and CLI.md's exit code."""

    def main(self, *args: Any, **kwargs: Any) -> Any:
        """Usage errors (a missing option, an unknown command) are one line too, exit 2."""
        kwargs["standalone_mode"] = False
        given = kwargs.get("args") if "args" in kwargs else (args[0] if args else None)
        check_arguments(list(sys.argv[1:] if given is None else given))
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
            fail(e.message, exit_code(e))
        except click.exceptions.Exit:
            raise
        except (click.ClickException, click.Abort):
            raise
        except KeyboardInterrupt:
            fail("interrupted; nothing half-written is kept", 130)
        except (OverflowError, RecursionError) as e:
            # a number or a date beyond what the ledger (or SQLite's 64-bit
            # integers) can hold: bad input, not a rule
            fail(f"a value is out of range ({first_line(e)})", 2)
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


# --- the root group ----------------------------------------------------------------------


@click.group(
    cls=LedgerGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
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
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default=None,
    help="output format of records (default table)",
)
@click.option(
    "--profile",
    default=None,
    metavar="NAME",
    help="settings of this profile of the config file (or LEDGER_PROFILE); see `config show`",
)
@click.option("-v", "--verbose", is_flag=True, help="log what happens on stderr")
@click.version_option("0.1.0", prog_name="ledger")
@click.pass_context
def main(
    ctx: click.Context,
    db: str | None,
    actor: str | None,
    fmt: str | None,
    profile: str | None,
    verbose: bool,
) -> None:
    """The audit ledger for public science funding: every approval, payment,
    change, violation and debarment of a sci-tech innovation platform as an
    immutable, hash-chained event.

    \b
    Example:
      ledger init && ledger demo
      ledger platform show LS-KL-001 --format json
    """
    configure_logging(verbose)
    from click.core import ParameterSource

    from ledger.profiles import resolve

    # click reads LEDGER_DB / LEDGER_ACTOR into the options: tell them apart
    def given(name: str, value: str | None) -> str | None:
        return None if ctx.get_parameter_source(name) == ParameterSource.ENVIRONMENT else value

    try:
        settings = resolve(
            profile,
            {"db": given("db", db), "actor": given("actor", actor), "format": fmt},
            {"db": os.environ.get("LEDGER_DB"), "actor": os.environ.get("LEDGER_ACTOR")},
            {"db": DEFAULT_DB, "format": "table"},
        )
    except InvalidInput as e:
        fail(e.message, exit_code(e))
    obj = Ctx()
    obj.db = settings.values["db"] or DEFAULT_DB
    obj.actor = settings.values["actor"]
    obj.format = settings.values["format"] or "table"
    obj.settings = settings
    ctx.obj = obj


if __name__ == "__main__":  # pragma: no cover
    main()
