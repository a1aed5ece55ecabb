"""`ledger change …`: major change requests and their decisions; list."""

from __future__ import annotations

import click

from aggregates.errors import InvalidInput
from aggregates.values import CHANGE_TYPES
from commands._common import (
    Ctx,
    common,
    emit,
    known_at_option,
    opt_date,
    reading_known,
    record,
    recording,
    timestamp,
    valid_platform_code,
)


@click.group()
def change() -> None:
    """Major change requests: request, approve, reject, withdraw, list."""


LIST_DETAILS = ("add", "remove", "consents")  # lists of units: repeats add up


def _details(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for p in pairs:
        if "=" not in p:
            raise InvalidInput(f"invalid --detail {p!r}: expected KEY=VALUE")
        k, v = p.split("=", 1)
        k, v = k.strip(), v.strip()
        if not k:
            raise InvalidInput(f"invalid --detail {p!r}: empty key")
        if k in out and k in LIST_DETAILS:
            out[k] = f"{out[k]},{v}"
        elif k in out:
            raise InvalidInput(f"--detail {k} is given twice ({out[k]!r} and {v!r})")
        else:
            out[k] = v
    return out


@change.command("request")
@click.argument("code")
@click.argument("more_details", nargs=-1, metavar="")
@click.option("--type", "change_type", required=True, help=f"one of {', '.join(CHANGE_TYPES)}")
@click.option(
    "--detail",
    "details",
    multiple=True,
    metavar="KEY=VALUE",
    help="repeat it, or list several after one --detail (add=U1 consents=U1,U2)",
)
@click.option("--reason", required=True)
@click.option("--doc-no", default=None)
@recording
def change_request(
    ctx: Ctx,
    code: str,
    more_details: tuple[str, ...],
    change_type: str,
    details: tuple[str, ...],
    reason: str,
    doc_no: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Open a major change request; prints its id.

    \b
    Keys: rename name=…; host-change host=UNIT; lead-change lead=UNIT;
    co-builder-change add=U1,U2 remove=U3; member-change add=… remove=… consents=U1,U2,…
    (a consortium: consents=… of every member also when the new lead is no member)
    Example:
      ledger change request LS-KL-001 --type rename --detail name="新名称" --reason "依托单位更名"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.request_change,
        code.strip(),
        change_type=change_type,
        details=_details(details + more_details),
        reason=reason,
        doc_no=doc_no,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@change.command("approve")
@click.argument("change_id")
@click.option("--doc-no", required=True)
@click.option("--reason", default=None)
@recording
def change_approve(
    ctx: Ctx,
    change_id: str,
    doc_no: str,
    reason: str | None,
    on: str | None,
    request_id: str | None,
) -> None:
    """Approve a change request; only approval changes the platform.

    \b
    Example:
      ledger change approve LS-KL-001:CR1 --doc-no "…"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.approve_change,
        change_id.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@change.command("reject")
@click.argument("change_id")
@click.option("--doc-no", required=True)
@click.option("--reason", required=True)
@recording
def change_reject(
    ctx: Ctx, change_id: str, doc_no: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Reject a change request.

    \b
    Example:
      ledger change reject LS-KL-001:CR1 --doc-no "…" --reason "理由不充分"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.reject_change,
        change_id.strip(),
        doc_no=doc_no,
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@change.command("withdraw")
@click.argument("change_id")
@click.option("--reason", required=True)
@recording
def change_withdraw(
    ctx: Ctx, change_id: str, reason: str, on: str | None, request_id: str | None
) -> None:
    """Withdraw a pending change request.

    \b
    Example:
      ledger change withdraw LS-KL-001:CR1 --reason "申请单位撤回"
    """
    from ledger.service import LedgerService

    record(
        ctx,
        LedgerService.withdraw_change,
        change_id.strip(),
        reason=reason,
        on=opt_date(on, "--on"),
        request_id=request_id,
        actor=ctx.actor,
    )


@change.command("list")
@click.option("--pending", is_flag=True, help="only requests not yet decided")
@click.option("--platform", "platform_code", default=None, metavar="CODE")
@click.option("--as-of", default=None, metavar="DATE", help="requests and decisions dated by then")
@known_at_option
@common()
def change_list(
    ctx: Ctx, pending: bool, platform_code: str | None, as_of: str | None, known_at: str | None
) -> None:
    """Major change requests, by platform.

    \b
    Example:
      ledger change list --pending
      ledger change list --as-of 2026-09-30 --known-at 2026-10-01T00:00:00Z
    """
    from aggregates.errors import PlatformNotFound

    code = valid_platform_code(platform_code) if platform_code else None
    day = opt_date(as_of, "--as-of")
    with reading_known(ctx, timestamp(known_at)) as rm:
        if code is not None and not rm.platform_exists(code):
            raise PlatformNotFound(code)
        rows = rm.change_list(pending=pending, platform=code, as_of=day)
    emit(
        ctx,
        rows,
        ["id", "platform", "type", "status", "requested_on", "decided_on", "details", "reason"],
        default=["id", "platform", "type", "status", "requested_on", "decided_on"],
    )
