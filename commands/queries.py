"""The top-level queries: `ledger debarred`, `blacklist`, `eligibility`,
`history` and the `compliance` group."""

from __future__ import annotations

import click

from aggregates.errors import Ineligible, InvalidInput
from aggregates.values import SCOPES
from commands._common import (
    Ctx,
    as_of_date,
    choice,
    common,
    emit,
    known_at_option,
    opt_date,
    reading,
    reading_known,
    show,
    timestamp,
    valid_platform_code,
    valid_unit_code,
)
from commands.screening import print_screening, screen_batch, screening_options, valid_threshold
from ledger import output

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
# the columns read first (the rest under --wide or --columns)
DEBARMENT_DEFAULT = ["unit", "unit_name", "end", "basis", "doc_no"]
HISTORY_COLUMNS = [
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
]
HISTORY_DEFAULT = ["seq", "code", "event", "effective_on", "actor", "doc_no"]


@click.command()
@click.option("--as-of", default=None, metavar="DATE")
@click.option("--scope", default=None, help=f"one of {', '.join(SCOPES)}")
@click.option("--name", default=None, metavar="TEXT", help="only units whose name matches")
@known_at_option
@screening_options
@common()
def debarred(
    ctx: Ctx,
    as_of: str | None,
    scope: str | None,
    name: str | None,
    known_at: str | None,
    names_file: str | None,
    column: str | None,
    threshold: int | None,
    limit: int,
    check: bool,
) -> None:
    """Units debarred on a date (start ≤ date < end, not lifted); with --file,
    every name of a list screened against them (best matches, score, verdict, why).

    \b
    Example:
      ledger debarred --as-of 2027-01-01 --scope platform-application
      ledger debarred --as-of 2026-07-01 --known-at 2026-07-01T00:00:00Z
      ledger debarred --file applicants.csv --column 单位名称 --threshold 70 --check
    """
    choice(scope, SCOPES, "debarment scope")
    valid_threshold(threshold)
    if name is not None and names_file is not None:
        raise InvalidInput("give --name or --file, not both")
    day = as_of_date(as_of)
    with reading_known(ctx, timestamp(known_at)) as rm:
        rows = rm.debarred(day, scope=scope, name=name)
        if names_file is not None:
            among = {str(r["unit"]) for r in rows}
            screened = screen_batch(
                ctx, rm, names_file, column, day, threshold=threshold, limit=limit, among=among
            )
    if names_file is not None:
        print_screening(ctx, screened, check)
        return
    emit(ctx, rows, DEBARMENT_COLUMNS, default=DEBARMENT_DEFAULT)
    if check and name is not None and rows:
        raise Ineligible(f"{name} matches {len(rows)} debarment(s) in force on {day}")


@click.command("blacklist")
@click.option("--as-of", default=None, metavar="DATE")
@known_at_option
@common()
def blacklist_cmd(ctx: Ctx, as_of: str | None, known_at: str | None) -> None:
    """Units on the integrity blacklist on a date.

    \b
    Example:
      ledger blacklist --as-of 2026-06-30
      ledger blacklist --as-of 2026-06-30 --known-at 2026-06-30T23:59:59Z
    """
    day = as_of_date(as_of)
    with reading_known(ctx, timestamp(known_at)) as rm:
        rows = rm.blacklist(day)
    emit(
        ctx,
        rows,
        ["unit", "unit_name", "id", "start", "status", "basis", "doc_no"],
        default=["unit", "unit_name", "start", "status", "doc_no"],
    )


@click.command()
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
    "--under",
    "--policy",
    "under",
    default=None,
    metavar="POLICY",
    help="the programme applied to: only its bans, ledger-wide bans and the blacklist "
    "count (default: every programme; each reason names its own)",
)
@click.option("--check", is_flag=True, help="exit 1 when not eligible")
@known_at_option
@common()
def eligibility(
    ctx: Ctx,
    unit_code: str,
    purpose: str,
    as_of: str | None,
    under: str | None,
    known_at: str | None,
    check: bool,
) -> None:
    """Is a unit eligible on a date, for a purpose — and every reason it is not.

    \b
    Examples:
      ledger eligibility 91540100MA6T0A0C21 --for consortium-lead --as-of 2027-01-01 --check
      ledger eligibility 91540100MA6T0A0C21 --under xinjiang-high-energy --as-of 2026-07-01
      ledger eligibility 91540100MA6T0A0C21 --as-of 2026-07-01 --known-at 2026-07-01T09:00:00Z
    """
    from aggregates.errors import Ineligible
    from commands._common import timestamp
    from ledger.policies import load_policy

    choice(purpose, SCOPES, "purpose")
    code, day = valid_unit_code(unit_code), as_of_date(as_of)
    pol = load_policy(under) if under else None
    ts = timestamp(known_at)
    with reading(ctx) as rm:
        eligible, reasons = rm.eligibility(code, purpose, day, pol, ts)
    data = {
        "unit": code,
        "purpose": purpose,
        "as_of": day.isoformat(),
        "eligible": eligible,
        "reasons": [r.as_json() for r in reasons],
        "policy": pol.id if pol else None,
        "known_at": ts.isoformat() if ts else None,
    }
    if ctx.format == "table":
        verdict = "eligible" if eligible else "NOT eligible"
        click.echo(f"{code}: {verdict} for {output.labelled(purpose)} on {day}")
        click.echo(
            f"under: {pol.id}" if pol else "under: every programme (each reason names its own)"
        )
        if reasons:
            show(
                output.to_table(
                    data["reasons"],
                    ["rule", "basis", "programme", "until", "detail"],
                    view=ctx.table_view(),
                )
            )
    elif ctx.format == "json":
        emit(ctx, data)
    else:
        # the verdict on every row; an eligible unit is one row with empty reason columns
        head = {"unit": code, "purpose": purpose, "as_of": day.isoformat()}
        verdict_text = "true" if eligible else "false"
        rows = [{**head, "eligible": verdict_text, **r} for r in data["reasons"]]
        rows = rows or [{**head, "eligible": verdict_text}]
        click.echo(
            output.to_csv(
                rows,
                [
                    "unit",
                    "purpose",
                    "as_of",
                    "eligible",
                    "rule",
                    "basis",
                    "until",
                    "detail",
                    "programme",
                ],
            )
        )
    if check and not eligible:
        raise Ineligible(f"unit {code} is not eligible for {purpose} on {day}")


@click.group()
def compliance() -> None:
    """Compliance: overdue rectifications and reports, platforms due for termination."""


@compliance.command("overdue")
@click.option("--as-of", default=None, metavar="DATE")
@known_at_option
@common()
def compliance_overdue(ctx: Ctx, as_of: str | None, known_at: str | None) -> None:
    """Rectifications past due, annual reports missing, platforms due for
    termination, late filings — on a date.

    \b
    Example:
      ledger compliance overdue --as-of 2026-12-01
      ledger compliance overdue --as-of 2026-12-01 --known-at 2026-12-01T00:00:00Z
    """

    day = as_of_date(as_of)
    with reading_known(ctx, timestamp(known_at)) as rm:
        rows = rm.compliance_overdue(day)
    emit(
        ctx,
        rows,
        ["platform", "name", "status", "issue", "due", "basis", "detail"],
        default=["platform", "name", "issue", "due", "basis"],
    )


ORDERS = ("seq", "effective", "recorded")


@click.command()
@click.option("--platform", "platform_code", default=None, metavar="CODE")
@click.option("--unit", "unit_code", default=None, metavar="CODE")
@click.option(
    "--from", "--since", "since", default=None, metavar="DATE", help="effective on or after"
)
@click.option(
    "--to", "--until", "until", default=None, metavar="DATE", help="effective on or before"
)
@click.option("--as-of", default=None, metavar="DATE", help="effective on or before (as --to)")
@click.option("--actor", "who", default=None, metavar="NAME", help="recorded by this actor")
@click.option("--event", default=None, metavar="EVENT", help="this event only, e.g. Approved")
@click.option("--doc-no", default=None, metavar="DOC", help="under this document number")
@click.option("--recorded-from", default=None, metavar="TS", help="recorded at or after")
@click.option("--recorded-to", default=None, metavar="TS", help="recorded at or before")
@known_at_option
@click.option(
    "--order",
    default="seq",
    show_default=True,
    help="seq (as chained), effective (by effective date) or recorded",
)
@common()
def history(
    ctx: Ctx,
    platform_code: str | None,
    unit_code: str | None,
    since: str | None,
    until: str | None,
    as_of: str | None,
    who: str | None,
    event: str | None,
    doc_no: str | None,
    recorded_from: str | None,
    recorded_to: str | None,
    known_at: str | None,
    order: str,
) -> None:
    """The events of a platform, a unit, or the ledger, oldest first.

    \b
    Example:
      ledger history --platform LS-KL-001 --since 2026-01-01 --format json
      ledger history --event Disbursed --actor clerk-li --order effective
      ledger history --doc-no "拉科发〔2026〕19号" --known-at 2026-07-01T00:00:00Z
    """
    from aggregates.errors import PlatformNotFound, UnitNotFound
    from projections.base import iso_ts
    from projections.history import HistoryFilter

    if platform_code and unit_code:
        raise InvalidInput("give --platform or --unit, not both")
    choice(order, ORDERS, "--order")
    start, end = opt_date(since, "--from"), opt_date(until, "--to")
    day = opt_date(as_of, "--as-of")
    if day is not None:
        end = min(end, day) if end is not None else day
    stamps = {
        "--recorded-from": recorded_from,
        "--recorded-to": recorded_to,
        "--known-at": known_at,
    }
    moments = {k: timestamp(v, k) for k, v in stamps.items()}
    upper = [m for m in (moments["--recorded-to"], moments["--known-at"]) if m is not None]
    low = moments["--recorded-from"]
    where = HistoryFilter(
        actor=who,
        event=event,
        doc_no=doc_no,
        recorded_from=iso_ts(low) if low is not None else None,
        recorded_to=iso_ts(min(upper)) if upper else None,
        order=order,
    )
    with reading(ctx) as rm:
        if platform_code:
            code = valid_platform_code(platform_code)
            if not rm.platform_exists(code):
                raise PlatformNotFound(code)
            rows = rm.history(aggregate="platform", code=code, since=start, until=end, where=where)
        elif unit_code:
            code = valid_unit_code(unit_code)
            if not rm.unit_exists(code):
                raise UnitNotFound(code)
            rows = rm.history(aggregate="unit", code=code, since=start, until=end, where=where)
        else:
            rows = rm.history(since=start, until=end, where=where)
    emit(ctx, rows, HISTORY_COLUMNS, default=HISTORY_DEFAULT)
