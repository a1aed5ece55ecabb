"""`ledger roles …`: one database login per clerk / auditor (PostgreSQL)."""

from __future__ import annotations

import click

from commands._common import Ctx, common


@click.group()
def roles() -> None:
    """Database logins: one per person, members of the ledger's group roles."""


@roles.command("add-user")
@click.argument("name")
@click.option("--clerk", "role", flag_value="clerk", help="may record (ledger_clerks)")
@click.option("--auditor", "role", flag_value="auditor", help="may read (ledger_auditors)")
@click.option(
    "--projector",
    "role",
    flag_value="projector",
    help="may keep the read models current (ledger_projectors)",
)
@common(prints=False)
def add_user(ctx: Ctx, name: str, role: str | None) -> None:
    """Create the PostgreSQL login NAME (without a password: set one with
    ALTER ROLE … PASSWORD unless the server trusts local connections) as a
    member of a group role made by `ledger init --roles`. Every event it
    records names this login in its chain row. Run as a role with CREATEROLE.

    \b
    Example:
      ledger --db postgresql://owner@db/ledger roles add-user dawa --clerk
    """
    from aggregates.errors import InvalidInput
    from ledger.audit.roles import add_user as add
    from ledger.store import db

    if role is None:
        raise InvalidInput("say which: --clerk, --auditor or --projector")
    cfg = db.parse_db_url(ctx.db)
    db.ensure_ready(cfg)
    click.echo("\n".join(add(cfg, name, role)))
