"""`ledger platform …`: the lifecycle decisions of a platform; show, list."""

from __future__ import annotations

import click

from aggregates.values import DELIST_REASONS, GRADES, KINDS, LEVELS
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
    record,
    recording,
    timestamp,
    valid_platform_code,
)


@click.group()
def platform() -> None:
    """Platforms: lifecycle decisions; show and list."""


@platform.command("propose")
@click.argument("code")
@click.option("--name", required=True)
@click.option("--kind", required=True, help=f"one of {', '.join(KINDS)}")
@click.option("--level", required=True, help=f"one of {', '.join(LEVELS)}")
@click.option("--host", required=True, metavar="UNIT")
@click.option("--co-builder", "co_builders", multiple=True, metavar="UNIT")
@click.option("--policy", default=None, metavar="ID")
@click.option("--agreement-on", default=None, metavar="DATE")
@click.option("--doc-no", default=None)
@click.option("--reason", default=None)
@recording
def platform_propose(
    ctx: Ctx,
    code: str,
    name: str,
    kind: str,
    level: str,
    host: str,
    co_builders: tuple[str, ...],
    policy: str | None,
    agreement_on: str | None,
    doc_no: str | None,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Submit a proposal (申报).

    \b
    Example:
      ledger platform propose LS-KL-001 --name "拉萨高原生物重点实验室" --kind key-laboratory \\
        --level city --host 91540100MA6T0A0B1W --co-builder 12540000MB00000000
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.propose,
        code.strip(),
        name=name,
        kind=kind,
        level=level,
        host=host.strip().upper(),
        co_builders=[c.strip().upper() for c in co_builders],
        policy=policy,
        agreement_on=opt_date(agreement_on, "--agreement-on"),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("approve")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--construction-years", type=int, default=None)
@click.option("--term-years", type=int, default=None)
@click.option("--reason", default=None)
@recording
def platform_approve(
    ctx: Ctx,
    code: str,
    doc_no: str,
    construction_years: int | None,
    term_years: int | None,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Approve: into construction with a construction period, else operating.

    \b
    Example:
      ledger platform approve XJ-HE-001 --doc-no "新科发〔2024〕3号" --construction-years 3
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.approve,
        code.strip(),
        doc_no=doc_no,
        construction_years=construction_years,
        term_years=term_years,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("reject")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def platform_reject(
    ctx: Ctx, code: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Reject a proposal.

    \b
    Example:
      ledger platform reject LS-KL-009 --doc-no "…" --reason "不符合备案条件"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.reject,
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("withdraw")
@click.argument("code")
@click.option("--reason", required=True)
@click.option("--doc-no", default=None)
@recording
def platform_withdraw(
    ctx: Ctx, code: str, reason: str, doc_no: str | None, on: str | None, request_id: str | None
) -> None:
    """Withdraw a proposal.

    \b
    Example:
      ledger platform withdraw LS-KL-009 --reason "申报单位撤回"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.withdraw,
        code.strip(),
        reason=reason,
        doc_no=doc_no,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("accept")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def platform_accept(
    ctx: Ctx, code: str, doc_no: str, reason: str | None, on: str | None, request_id: str | None
) -> None:
    """Record a passed acceptance (验收): construction → operating.

    \b
    Example:
      ledger platform accept XJ-HE-001 --doc-no "新科发〔2027〕1号"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.accept,
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("fail-acceptance")
@click.argument("code")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def platform_fail_acceptance(
    ctx: Ctx, code: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Record a failed acceptance: construction → rectification (at most one year).

    \b
    Example:
      ledger platform fail-acceptance XJ-HE-001 --doc-no "…" --reason "未达到建设目标"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.fail_acceptance,
        code.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("evaluate")
@click.argument("code")
@click.option("--cycle", required=True, help="e.g. 2023-2025")
@click.option("--grade", required=True, help=f"one of {', '.join(GRADES)}")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def platform_evaluate(
    ctx: Ctx,
    code: str,
    cycle: str,
    grade: str,
    doc_no: str,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record an evaluation grade; `poor` opens a rectification.

    \b
    Example:
      ledger platform evaluate LS-KL-001 --cycle 2023-2025 --grade good --doc-no "…"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.evaluate,
        code.strip(),
        cycle=cycle,
        grade=grade,
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("rectify")
@click.argument("code")
@click.option("--passed", "passed", is_flag=True, help="the rectification passed")
@click.option("--failed", "failed", is_flag=True, help="it failed: the platform is delisted")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@click.option("--no-policy", is_flag=True, help="do not apply the delisting's consequences")
@recording
def platform_rectify(
    ctx: Ctx,
    code: str,
    passed: bool,
    failed: bool,
    doc_no: str,
    reason: str | None,
    no_policy: bool,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record a rectification result; a failed one delists (and may debar the host).

    \b
    Example:
      ledger platform rectify LS-KL-001 --failed --doc-no "…"
    """
    if passed == failed:
        raise click.UsageError("give exactly one of --passed or --failed")
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.rectify,
        code.strip(),
        passed=passed,
        doc_no=doc_no,
        reason=reason,
        no_policy=no_policy,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("delist")
@click.argument("code")
@click.option("--reason-code", required=True, help=f"one of {', '.join(DELIST_REASONS)}")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@click.option("--no-policy", is_flag=True, help="do not apply the delisting's consequences")
@recording
def platform_delist(
    ctx: Ctx,
    code: str,
    reason_code: str,
    doc_no: str,
    reason: str,
    no_policy: bool,
    on: str | None,
    request_id: str | None,
) -> None:
    """Delist (摘牌) with a reason code; no-show, withdrawal and failed
    rectification bar the host 3 years under lhasa-city (003 art. 24).

    \b
    Example:
      ledger platform delist LS-KL-001 --reason-code no-show --doc-no "…" --reason "无故不参加评估"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.delist,
        code.strip(),
        reason_code=reason_code,
        doc_no=doc_no,
        reason=reason,
        no_policy=no_policy,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("upgrade")
@click.argument("code")
@click.option("--level", required=True, help=f"one of {', '.join(LEVELS)}")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def platform_upgrade(
    ctx: Ctx,
    code: str,
    level: str,
    doc_no: str,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Record an upgrade (提档升级) to a higher level.

    \b
    Example:
      ledger platform upgrade LS-KL-001 --level regional --doc-no "…"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.upgrade,
        code.strip(),
        level=level,
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("report")
@click.argument("code")
@click.option("--year", required=True, type=int)
@click.option("--doc-no", default=None)
@recording
def platform_report(
    ctx: Ctx, code: str, year: int, doc_no: str | None, on: str | None, request_id: str | None
) -> None:
    """Record an annual report; a late one is recorded and flagged.

    \b
    Example:
      ledger platform report LS-KL-001 --year 2025 --on 2025-11-20
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.report,
        code.strip(),
        year=year,
        doc_no=doc_no,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@platform.command("show")
@click.argument("code")
@click.option("--as-of", default=None, metavar="DATE", help="state on this date (default today)")
@click.option("--known-at", default=None, metavar="TS", help="only what was recorded by then")
@common()
def platform_show(ctx: Ctx, code: str, as_of: str | None, known_at: str | None) -> None:
    """Show a platform as of a date, as the ledger knew it at a moment.

    \b
    Example:
      ledger platform show LS-KL-001 --as-of 2026-06-30 --known-at 2026-07-01T00:00:00Z
    """
    code, day, ts = valid_platform_code(code), as_of_date(as_of), timestamp(known_at)
    with reading(ctx) as rm:
        data = rm.platform_show(code, day, ts)
    emit(ctx, data, record=True)


@platform.command("list")
@click.option("--status", default=None)
@click.option("--kind", default=None)
@click.option("--level", default=None)
@click.option("--as-of", default=None, metavar="DATE")
@known_at_option
@common()
def platform_list(
    ctx: Ctx,
    status: str | None,
    kind: str | None,
    level: str | None,
    as_of: str | None,
    known_at: str | None,
) -> None:
    """List platforms with their status on a date.

    \b
    Example:
      ledger platform list --status rectification --as-of 2026-06-30
      ledger platform list --as-of 2026-06-30 --known-at 2026-07-01T00:00:00Z
    """
    from aggregates.values import STATUSES

    choice(status, STATUSES, "status")
    choice(kind, KINDS, "platform kind")
    choice(level, LEVELS, "level")
    day = as_of_date(as_of)
    with reading_known(ctx, timestamp(known_at)) as rm:
        rows = rm.platform_list(day, status=status, kind=kind, level=level)
    emit(
        ctx,
        rows,
        ["code", "name", "kind", "level", "status", "status_since", "host_unit", "policy"],
        default=["code", "name", "status", "status_since"],
    )
