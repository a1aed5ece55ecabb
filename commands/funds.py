"""`ledger funds …`: allocations, payments, reversals, recoveries, suspension;
summary and reconciliation against a bank statement."""

from __future__ import annotations

import sys

import click

from aggregates.errors import InvalidInput
from aggregates.values import CATEGORIES
from commands._common import (
    Ctx,
    as_of_date,
    common,
    emit,
    known_at_option,
    money,
    open_service,
    opt_date,
    reading,
    reading_known,
    record,
    recording,
    timestamp,
    valid_platform_code,
)
from ledger import output


@click.group()
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.allocate,
        code.strip(),
        category=category,
        amount=money(amount),
        fiscal_year=fiscal_year,
        doc_no=doc_no,
        entitlement=entitlement,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.disburse,
        code.strip(),
        category=category,
        amount=money(amount),
        fiscal_year=fiscal_year,
        voucher=voucher,
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.reverse,
        code.strip(),
        voucher=voucher,
        reason=reason,
        doc_no=doc_no,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.recover,
        code.strip(),
        category=category,
        fiscal_year=fiscal_year,
        amount=money(amount),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.suspend,
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.resume,
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


# --- reconcile (issue 5) ---


@funds.command("reconcile")
@click.option(
    "--statement",
    required=True,
    metavar="FILE",
    help="bank / treasury statement as the bank exports it: CSV (UTF-8, GBK), XLS or XLSX",
)
@click.option(
    "--layout",
    "layout_opt",
    default=None,
    metavar="NAME|FILE.toml",
    help="read the statement by this layout (a name from `ledger funds layouts`, or your own "
    "TOML file) instead of detecting it from the header",
)
@click.option(
    "--from",
    "date_from",
    default=None,
    metavar="DATE",
    help="the statement's first day (default: from its preamble or file name)",
)
@click.option(
    "--to",
    "date_to",
    default=None,
    metavar="DATE",
    help="the statement's last day; ledger payments outside the period are not expected on it",
)
@click.option("--fiscal-year", type=int, default=None, help="only payments of this fiscal year")
@click.option(
    "--tolerance-days",
    type=int,
    default=3,
    show_default=True,
    help="days a statement date may differ from the ledger's payment date",
)
@click.option("--out", default=None, metavar="FILE.csv|FILE.xlsx", help="also write the findings")
@click.option("--force", is_flag=True, help="replace --out FILE if it exists (never the ledger)")
@click.option(
    "--fail-on-discrepancy",
    is_flag=True,
    help="exit 1 when anything is unmatched or flagged, or the statement's own totals, "
    "balance or period do not hold",
)
@common()
def funds_reconcile(
    ctx: Ctx,
    statement: str,
    layout_opt: str | None,
    date_from: str | None,
    date_to: str | None,
    fiscal_year: int | None,
    tolerance_days: int,
    out: str | None,
    force: bool,
    fail_on_discrepancy: bool,
) -> None:
    """Reconcile the ledger's payments against a bank or treasury statement (对账).

    The statement's layout is detected from its header row (`ledger funds
    layouts` lists the known ones) or given with --layout. Lines are matched
    by voucher (in any free-text column), then (lines without one) by payee,
    amount and date within --tolerance-days; money coming in is never a
    payment. The statement's own totals (合计), running balance (余额) and
    period are checked (statement_checks). Unreadable lines go to stderr as
    "line N: reason" and do not stop the run. See docs/RECONCILE.md.

    \b
    Examples:
      ledger funds reconcile --statement demo-bank-statement-2026.csv --fiscal-year 2026 \\
        --out reconcile-2026.xlsx --fail-on-discrepancy
      ledger funds reconcile --statement 交易明细_1546_20260301_20260331.xls --format json
      ledger funds reconcile --statement march.csv --layout my-bank.toml \\
        --from 2026-03-01 --to 2026-03-31
    """
    import getpass
    from datetime import UTC, date, datetime

    from aggregates.errors import Discrepancy
    from ledger import reconcile as rc
    from ledger.reconcile.checks import Period
    from ledger.reconcile.layout import get_layout, load_layout_file
    from ledger.reconcile.source import chain_head
    from ledger.reconcile.statement import parse_statement
    from ledger.service import check_fiscal_year

    if fiscal_year is not None:
        check_fiscal_year(fiscal_year)
    if not 0 <= tolerance_days <= 3660:
        raise InvalidInput(f"invalid --tolerance-days {tolerance_days}: must be 0 to 3660")

    def day(value: str | None, what: str) -> date | None:
        if value is None:
            return None
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise InvalidInput(f"invalid {what} {value!r}: expected YYYY-MM-DD") from None

    start, end = day(date_from, "--from"), day(date_to, "--to")
    if start is not None and end is not None and start > end:
        raise InvalidInput(f"invalid period: --from {start} is after --to {end}")
    layout = None
    if layout_opt is not None:
        is_file = layout_opt.lower().endswith(".toml") or "/" in layout_opt
        layout = load_layout_file(layout_opt) if is_file else get_layout(layout_opt)
    if out is not None:
        from ledger.outfile import check_out

        check_out(out, db_url=ctx.db, force=force)
        out_kind = out.lower().rsplit(".", 1)[-1] if "." in out else ""
        if out_kind not in ("csv", "xlsx"):
            raise InvalidInput(f"invalid --out {out!r}: expected a .csv or .xlsx file name")
        rc.check_out_path(out)  # before the work: a bad target is exit 2, nothing written
    progress = sys.stderr.isatty()
    if progress:
        click.echo(f"reading {statement}…", err=True)
    parsed = parse_statement(statement, layout=layout)
    for bad in parsed.errors:
        click.echo(output.terminal_safe(f"line {bad.line}: {bad.reason}"), err=True)
    period = None
    if start is not None or end is not None:
        own = parsed.period
        period = Period(
            start or (own.start if own is not None else date.min),
            end or (own.end if own is not None else date.max),
            "options",
        )
        if period.start > period.end:
            raise InvalidInput(f"invalid period: {period.start} is after {period.end}")
    svc = open_service(ctx)
    try:
        if progress:
            click.echo(
                f"matching {len(parsed.lines)} statement lines ({parsed.layout}) to the ledger…",
                err=True,
            )
        report = rc.reconcile(
            rc.AppSource(svc),
            parsed,
            fiscal_year=fiscal_year,
            tolerance_days=tolerance_days,
            period=period,
        )
    finally:
        svc.close()
    report.statement = statement
    if out is not None:
        try:
            report.actor = ctx.actor or f"{getpass.getuser()} (system user; no --actor given)"
        except (OSError, KeyError):  # no user name in this environment
            report.actor = ctx.actor or "(no --actor given)"
        report.generated_at = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        report.chain_seq, report.chain_hash = chain_head(ctx.db)
        if out.lower().endswith(".xlsx"):
            # the workbook also carries the budget view, from `funds summary`
            from ledger.clock import today

            report.budget_as_of = today()
            with reading(ctx) as rm:
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
        failed = [c.check for c in report.statement_checks if not c.ok]
        raise Discrepancy(
            "discrepancies found: "
            + ", ".join(
                [f"{n} {kind}" for kind, _, n, _, _ in rc.summary(report)[1:] if n]
                + [f"statement check {c} failed" for c in failed]
            )
        )


@funds.command("layouts")
@common()
def funds_layouts(ctx: Ctx) -> None:
    """The statement layouts the ledger knows, with the banks they come from.

    Each is one TOML file (docs/LAYOUTS.md); `funds reconcile` detects the
    layout from a statement's header, or takes one with --layout NAME|FILE.toml.

    \b
    Example:
      ledger funds layouts
      ledger funds layouts --format json
    """
    from ledger.reconcile.layout import layout_rows

    emit(
        ctx,
        layout_rows(),
        ["name", "bank", "description", "amount_mode", "amount", "formats", "source"],
    )


@funds.command("summary")
@click.argument("code", required=False)
@click.option("--fiscal-year", type=int, default=None)
@click.option("--as-of", default=None, metavar="DATE")
@known_at_option
@common()
def funds_summary(
    ctx: Ctx, code: str | None, fiscal_year: int | None, as_of: str | None, known_at: str | None
) -> None:
    """Allocated, disbursed, reversed, recovered, net and remaining per line.

    \b
    Example:
      ledger funds summary LS-KL-001 --fiscal-year 2026 --as-of 2026-06-30
      ledger funds summary --as-of 2026-06-30 --known-at 2026-07-01T00:00:00Z
    """
    from aggregates.errors import PlatformNotFound

    plat = valid_platform_code(code) if code else None
    day = as_of_date(as_of)
    with reading_known(ctx, timestamp(known_at)) as rm:
        if plat is not None and not rm.platform_exists(plat):
            raise PlatformNotFound(plat)
        rows = rm.funds_summary(day, platform=plat, fiscal_year=fiscal_year)
    from projections.funds import SUMMARY_COLUMNS

    first = ["platform", "category", "fiscal_year", "allocated", "disbursed", "remaining"]
    emit(ctx, rows, list(SUMMARY_COLUMNS), default=first)
