"""`ledger projections …`: the read models' status, rebuild and verification."""

from __future__ import annotations

import sys

import click

from commands._common import Ctx, common, emit
from ledger import output


@click.group()
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
    from ledger.reads import status
    from ledger.store import db

    cfg = db.parse_db_url(ctx.db)
    db.ensure_ready(cfg)
    emit(ctx, status(cfg), ["model", "position", "head", "lag"])


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
    from ledger.reads import rebuild
    from ledger.store import db

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
    from ledger.reads import catch_up, lag_warning, verify
    from ledger.store import db

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


@projections.command("follow")
@click.option(
    "--poll",
    type=click.FloatRange(min=0.1, max=3600),
    default=5.0,
    show_default=True,
    help="catch up at least this often (seconds), notification or not",
)
@click.option(
    "--idle-exit",
    type=click.FloatRange(min=0.1, max=86400),
    default=None,
    help="stop after this many seconds without a new event (default: run until SIGTERM)",
)
@common(prints=False)
def projections_follow(ctx: Ctx, poll: float, idle_exit: float | None) -> None:
    """Keep the read models at the ledger's head: the catch-up worker.
    Clerks and auditors may only read the read models, so the owner (or a
    member of ledger_projectors) runs this beside them; on PostgreSQL it wakes
    on each recording (LISTEN ledger_chain), on SQLite it polls. Stops on
    SIGTERM / Ctrl-C, or with exit 4 on a broken chain.

    \b
    Example:
      ledger --db postgresql://owner@db/ledger projections follow
    """
    from ledger.store import db
    from projections.follow import follow
    from projections.runner import CatchUpResult

    cfg = db.parse_db_url(ctx.db)
    db.ensure_ready(cfg)
    said: list[bool] = []

    def ready(result: CatchUpResult) -> None:
        from ledger.audit import merkle_store

        merkle_store.ensure(cfg)  # the Merkle tree follows the chain too
        if not said:  # once, when it is caught up and listening
            said.append(True)
            click.echo(f"following: read models at {result.position}/{result.head}", err=True)

    applied = follow(cfg, poll=poll, idle_exit=idle_exit, on_catch_up=ready)
    click.echo(f"stopped: {applied} event(s) applied")
