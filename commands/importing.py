"""`ledger import FILE`: bulk recording from JSON Lines or register sheets
(docs/IMPORT.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING

import click

from aggregates.errors import InvalidInput
from commands._common import Ctx, common
from ledger import output

if TYPE_CHECKING:
    from ledger.importer.run import ImportReport

SHOWN_BAD_LINES = 20


@click.command("import")
@click.argument("file", metavar="FILE.jsonl|FILE.xlsx|FILE.csv")
@click.option("--dry-run", is_flag=True, help="check every line against the ledger; record nothing")
@click.option(
    "--batch",
    "batch_size",
    type=int,
    default=500,
    show_default=True,
    metavar="N",
    help="lines per transaction: each batch is recorded whole or not at all",
)
@click.option(
    "--kind",
    default=None,
    metavar="KIND",
    help="the register a CSV file holds: units, platforms, allocations, payments or "
    "debarments (default: from the file name, e.g. 拨付.csv)",
)
@common(records=True)
def import_cmd(ctx: Ctx, file: str, dry_run: bool, batch_size: int, kind: str | None) -> None:
    """Bulk-record decisions: a JSON Lines file of recording commands, or
    register sheets (XLSX: one sheet per kind; CSV: one kind), Chinese or
    English headers. Every line passes the same rules as its command;
    re-running a file records nothing new (request ids); a bad line is
    reported with its number and nothing of its batch is recorded, and the
    import stops there (the batches before it stay recorded).

    \b
    A JSON line:
      {"command": "funds disburse", "args": {"code": "LS-KL-001", "category": "operation",
       "amount": "200000", "fiscal-year": 2026, "voucher": "PZ-2026-0001",
       "on": "2026-03-15"}, "request_id": "PZ-2026-0001"}
    Examples:
      ledger import decisions.jsonl --dry-run
      ledger import 平台名录.xlsx --batch 1000
      ledger import 2024年拨付台账.csv
      ledger import register.csv --kind payments
    """
    from ledger.importer.sheets import SHEET_KINDS

    if kind is not None and kind not in SHEET_KINDS:
        raise InvalidInput(f"invalid --kind {kind!r}; expected one of: {', '.join(SHEET_KINDS)}")
    path = Path(file)
    if not path.is_file():
        raise InvalidInput(f"no such file: {file}")
    suffix = path.suffix.lower()
    if suffix not in (".jsonl", ".ndjson", ".xlsx", ".csv"):
        raise InvalidInput(f"cannot import {path.name}: expected a .jsonl, .xlsx or .csv file")
    if kind is not None and suffix in (".jsonl", ".ndjson"):
        raise InvalidInput("--kind is for register sheets (CSV, XLSX), not JSON Lines")

    from ledger.importer.jsonl import read_jsonl
    from ledger.importer.run import import_lines
    from ledger.importer.sheets import read_csv, read_xlsx
    from ledger.store import db

    db.ensure_ready(db.parse_db_url(ctx.db))
    if suffix in (".jsonl", ".ndjson"):
        lines = read_jsonl(path)
    elif suffix == ".xlsx":
        lines = read_xlsx(path, kind)
    else:
        lines = read_csv(path, kind)

    terminal = sys.stderr.isatty()

    def progress(report: ImportReport) -> None:
        click.echo(
            f"\rimport {path.name}: {report.lines} lines, {report.recorded} recorded, "
            f"{report.events} events",
            err=True,
            nl=False,
        )

    report = import_lines(
        ctx.db,
        lines,
        source=path.name,
        actor=ctx.actor,
        dry_run=dry_run,
        batch_size=batch_size,
        progress=progress if terminal else None,
        show_progress=terminal,
    )
    if terminal:
        click.echo("", err=True)
    _print(ctx, report)
    if report.bad:
        from cli import exit_code

        sys.exit(max(exit_code(b.error) for b in report.bad))


def _print(ctx: Ctx, report: ImportReport) -> None:
    for b in report.bad[:SHOWN_BAD_LINES]:
        click.echo(f"error: {b.where}: {b.message}", err=True)
    if len(report.bad) > SHOWN_BAD_LINES:
        click.echo(f"error: … and {len(report.bad) - SHOWN_BAD_LINES} more bad lines", err=True)
    if report.refused is not None and not report.dry_run:
        n, first, last = report.refused
        click.echo(
            f"error: batch {n} ({first} to {last}) refused: nothing of it was recorded, "
            f"nor anything after it; {report.recorded} line(s) before it were recorded — fix "
            "the line(s) and import the same file again",
            err=True,
        )
    for warning in report.warnings:
        click.echo(warning, err=True)
    if ctx.format == "json":
        click.echo(output.to_json(report.as_json()))
        return
    if ctx.format == "csv":
        click.echo(output.to_csv([{k: v for k, v in report.as_json().items() if k != "bad"}]))
        return
    if report.dry_run:
        click.echo(
            f"dry run of {report.source}: {report.lines} lines checked; {report.recorded} "
            f"would be recorded ({report.events} events), {report.replayed} already recorded, "
            f"{len(report.bad)} bad; nothing was recorded"
        )
    else:
        head = (
            f"import of {report.source} stopped at batch {report.refused[0]}"
            if report.refused is not None
            else f"imported {report.source}"
        )
        click.echo(
            f"{head}: {report.recorded} lines recorded ({report.events} "
            f"events) in {report.batches} batch(es) of up to {report.batch_size}; "
            f"{report.replayed} already recorded"
        )
