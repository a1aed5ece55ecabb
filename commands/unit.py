"""`ledger unit …`: register, rename, violations, debarments, blacklist; show, search."""

from __future__ import annotations

import click

from aggregates.errors import InvalidInput
from aggregates.values import SCOPES, UNIT_TYPES, VIOLATION_KINDS, parse_date
from commands._common import (
    Ctx,
    as_of_date,
    common,
    emit,
    known_at_option,
    opt_date,
    reading,
    reading_known,
    record,
    recording,
    show,
    timestamp,
    valid_unit_code,
)
from commands.screening import print_screening, screen_batch, screening_options, valid_threshold
from ledger import output


@click.group()
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.register_unit,
        code.strip().upper(),
        name=name,
        unit_type=unit_type,
        high_tech=high_tech,
        aliases=list(aliases),
        doc_no=doc_no,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.rename_unit,
        code.strip().upper(),
        name=name,
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.record_violation,
        code.strip().upper(),
        kind=kind,
        occurred_on=parse_date(occurred_on, what="--occurred-on"),
        doc_no=doc_no,
        platform=platform,
        reason=reason,
        no_policy=no_policy,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@unit.command("debar")
@click.argument("code")
@click.option("--years", required=True, type=int, help="3 or 5")
@click.option("--from", "start", required=True, metavar="DATE")
@click.option("--scope", required=True, metavar="S[,S...]", help=f"of {', '.join(SCOPES)}")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@click.option("--basis", default=None, help="the rule applied, e.g. '003 art. 25'")
@click.option(
    "--policy",
    default=None,
    metavar="P",
    help="the programme imposing it (e.g. lhasa-city); default: ledger-wide",
)
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
    policy: str | None,
    violation: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Impose a debarment of 3 or 5 years, under programme P or ledger-wide; prints its id.

    \b
    Example:
      ledger unit debar 91540100MA6T0A0B1W --years 3 --from 2025-07-01 \\
        --scope platform-application,project-application --doc-no "拉科发〔2025〕9号" \\
        --reason "…" --policy lhasa-city
    """
    scopes = [s.strip() for s in scope.split(",") if s.strip()]
    if years not in (3, 5):
        raise InvalidInput(f"invalid --years {years}: a debarment is for 3 or 5 years")
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.debar,
        code.strip().upper(),
        years=years,
        start=parse_date(start, what="--from"),
        scopes=scopes,
        doc_no=doc_no,
        reason=reason,
        basis=basis,
        policy=policy,
        violation=violation,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.lift,
        code.strip().upper(),
        debarment_id.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.blacklist,
        code.strip().upper(),
        doc_no=doc_no,
        reason=reason,
        basis=basis,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.unblacklist,
        code.strip().upper(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
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
    code, day, ts = valid_unit_code(code), as_of_date(as_of), timestamp(known_at)
    with reading(ctx) as rm:
        data = rm.unit_show(code, day, ts)
    if ctx.format != "table":
        emit(ctx, data, record=True)
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
        show(output.to_table(data[key], cols, view=ctx.table_view()))


@unit.command("search")
@click.argument("text", required=False)
@click.option("--as-of", default=None, metavar="DATE")
@known_at_option
@screening_options
@common()
def unit_search(
    ctx: Ctx,
    text: str | None,
    as_of: str | None,
    known_at: str | None,
    names_file: str | None,
    column: str | None,
    threshold: int | None,
    limit: int,
    check: bool,
) -> None:
    """Screen by name (current, former, aliases; fuzzy, Chinese included) or
    code — one name, or every name of a file (an applicant list), each with
    its best matches, score, verdict (match / possible / no) and why.

    \b
    Example:
      ledger unit search 医学研究 --as-of 2026-06-30
      ledger unit search --file applicants.xlsx --column 单位名称 --check
      printf '拉薩高原生物科技有限公司\n' | ledger unit search --file -
    """
    day = as_of_date(as_of)
    valid_threshold(threshold)
    if (text is None) == (names_file is None):
        raise InvalidInput("give a name to search, or --file FILE (- for stdin), not both")
    with reading_known(ctx, timestamp(known_at)) as rm:
        if names_file is not None:
            rows = screen_batch(ctx, rm, names_file, column, day, threshold=threshold, limit=limit)
        else:
            hits = rm.unit_search(text, day, threshold)
    if names_file is not None:
        print_screening(ctx, rows, check)
        return
    emit(ctx, hits, ["code", "name", "matched", "score", "debarred", "blacklisted"])
    flagged = [h for h in hits if h["score"] >= 90 and (h["debarred"] or h["blacklisted"])]
    if check and flagged:
        from aggregates.errors import Ineligible

        raise Ineligible(
            f"{text} matches a debarred or blacklisted unit: "
            + ", ".join(h["code"] for h in flagged)
        )
