"""`ledger init` (schema, default policy, roles) and `ledger demo`."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from commands._common import Ctx, common

if TYPE_CHECKING:
    from ledger.store.db import DbConfig


@click.command()
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
    if any(label.startswith("0161_") for label in applied):
        _say_rederived(cfg)
    else:
        click.echo("schema is up to date")
    click.echo(f"default policy: {db.get_setting(cfg, 'default_policy')}")


def _say_rederived(cfg: DbConfig) -> None:
    """Migration 0161 moved aside a Merkle tree built with v1 leaves for
    encoding 2 rows: say so (docs/AUDIT.md §8), and re-derive it now."""
    from ledger.audit import merkle_store
    from ledger.store import db

    with db.connect(cfg) as conn:
        moved = merkle_store.rederived(conn)
    if moved is None:
        return
    merkle_store.ensure(cfg)
    click.echo(
        f"the Merkle tree held v1 leaves for the encoding 2 chain rows from seq "
        f"{moved['first_v2_seq']}: moved aside to {moved['moved_to']} and re-derived from "
        "the chain; signed tree heads taken before now sign the old tree (their chain "
        "hashes still verify): take a new checkpoint (docs/AUDIT.md §8)"
    )


@click.command()
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
        from ledger.reads import catch_up

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
