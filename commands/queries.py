"""The top-level queries: `ledger debarred`, `blacklist`, `eligibility`,
`history` and the `compliance` group."""

from __future__ import annotations

import click

from aggregates.errors import InvalidInput
from aggregates.values import SCOPES
from commands._common import (
    Ctx,
    as_of_date,
    choice,
    common,
    emit,
    opt_date,
    reading,
    valid_platform_code,
    valid_unit_code,
)
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


@click.command()
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
    choice(scope, SCOPES, "debarment scope")
    day = as_of_date(as_of)
    with reading(ctx) as rm:
        rows = rm.debarred(day, scope=scope, name=name)
    emit(ctx, rows, DEBARMENT_COLUMNS)


@click.command("blacklist")
@click.option("--as-of", default=None, metavar="DATE")
@common()
def blacklist_cmd(ctx: Ctx, as_of: str | None) -> None:
    """Units on the integrity blacklist on a date.

    \b
    Example:
      ledger blacklist --as-of 2026-06-30
    """
    day = as_of_date(as_of)
    with reading(ctx) as rm:
        rows = rm.blacklist(day)
    emit(ctx, rows, ["unit", "unit_name", "id", "start", "status", "basis", "doc_no"])


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
@click.option("--known-at", default=None, metavar="TS", help="only what was recorded by then")
@click.option("--check", is_flag=True, help="exit 1 when not eligible")
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
      ledger eligibility 91540100MA6T0A0C21 --known-at 2026-07-01T00:00:00Z
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
        where = f" (under {pol.id})" if pol else " (under every programme)"
        click.echo(f"{code}: {verdict} for {output.labelled(purpose)} on {day}{where}")
        if reasons:
            click.echo(
                output.to_table(data["reasons"], ["rule", "basis", "programme", "until", "detail"])
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
@common()
def compliance_overdue(ctx: Ctx, as_of: str | None) -> None:
    """Rectifications past due, annual reports missing, platforms due for
    termination, late filings — on a date.

    \b
    Example:
      ledger compliance overdue --as-of 2026-12-01
    """

    day = as_of_date(as_of)
    with reading(ctx) as rm:
        rows = rm.compliance_overdue(day)
    emit(ctx, rows, ["platform", "name", "status", "issue", "due", "basis", "detail"])


@click.command()
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
    start, end = opt_date(since, "--since"), opt_date(until, "--until")
    with reading(ctx) as rm:
        if platform_code:
            code = valid_platform_code(platform_code)
            if not rm.platform_exists(code):
                raise PlatformNotFound(code)
            rows = rm.history(aggregate="platform", code=code, since=start, until=end)
        elif unit_code:
            code = valid_unit_code(unit_code)
            if not rm.unit_exists(code):
                raise UnitNotFound(code)
            rows = rm.history(aggregate="unit", code=code, since=start, until=end)
        else:
            rows = rm.history(since=start, until=end)
    emit(
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
