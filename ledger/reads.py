"""The read side's front door: open the read models caught up (or, under a
read-only role, as they are), install their catch-up on a service that
records, say when they lag, and the query functions other modules call.

    with open_read(cfg) as rm:
        rm.platform_status_on("LS-KL-001", date(2026, 6, 30))

The CLI calls ``open_read`` before every query and ``install`` on every
service that records, so it always reads its own writes; ``projections
status|rebuild|verify`` call ``status``, ``rebuild``, ``catch_up`` and
``verify`` from here. A query never builds the write side: catch-up decodes
events with ``ledger.store.codec.event_mapper``. The read models themselves
live in ``projections``, which never imports ``ledger.service``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from aggregates.eligibility import Reason, lead_rules, look_backs
from ledger.store import db
from ledger.store.db import DbConfig, DbConnection
from projections import changes, funds, history, platforms, units
from projections.base import MODEL_TABLES, CatchUpResult, ledger_head, positions, reading
from projections.trusted import refuse_if_untrusted

if TYPE_CHECKING:
    from aggregates.policy import Policy
    from projections.verify import VerifyReport

# What a query loads is only what it reads with (the read models' queries, the
# trust check); the catch-up machinery (the library, the aggregates, pydantic),
# the policies and the worker are imported when needed: a query of read models
# at the ledger's head never decodes an event.

Warn = Callable[[str], None]
# How long a query by a login that may not catch up waits for the worker.
READ_ONLY_WAIT_S = 2.0


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


def lag_warning(result: CatchUpResult) -> str | None:
    if result.read_only and result.lag:
        return (
            f"warning: the read models lag the ledger by {result.lag} event(s) and this "
            "connection may not update them (read-only); answers are as of their position "
            "(the owner keeps them current: `ledger projections follow`)"
        )
    if result.busy and result.lag:
        return (
            f"warning: the read models lag the ledger by {result.lag} event(s) and another "
            "process kept them locked; answers are as of their position"
        )
    return None


def inconsistency_warning(result: CatchUpResult) -> str | None:
    """One line naming the models a catch-up found inconsistent, or None."""
    if not result.inconsistent:
        return None
    models = ", ".join(sorted(result.inconsistent))
    first = next(iter(result.inconsistent.values()))
    return (
        f"warning: read model(s) {models} could not be caught up: {first}; answers from "
        "them may be stale — run `ledger projections rebuild`"
    )


def install(service: Any, warn: Warn = _stderr) -> None:
    """Catch the read models up after every write of a LedgerService. A
    failure here never undoes the write: it is reported, and the next
    command catches up. It never waits for another process's catch-up or a
    rebuild's swap: that process applies the write (or the next command does),
    so "busy" is silent."""

    def hook() -> None:
        from projections.runner import catch_up

        try:
            result = catch_up(service, wait=False)
        except Exception as e:  # the write is committed; the models catch up later
            warn(f"warning: read models not caught up after the write: {e}")
            return
        message = inconsistency_warning(result)
        if message:
            warn(message)

    service.after_write.append(hook)


class ReadModels:
    """Query functions over one consistent snapshot of the read models."""

    def __init__(self, conn: DbConnection, cfg: DbConfig) -> None:
        self.conn = conn
        self.cfg = cfg

    # --- platforms ------------------------------------------------------------------
    def platform_show(
        self, code: str, as_of: date, known_at: datetime | None = None
    ) -> dict[str, Any]:
        return platforms.platform_state(self.conn, code, as_of, known_at).as_json()

    def platform_list(
        self,
        as_of: date,
        *,
        status: str | None = None,
        kind: str | None = None,
        level: str | None = None,
    ) -> list[dict[str, Any]]:
        return platforms.platform_list(self.conn, as_of, status=status, kind=kind, level=level)

    def platform_status_on(
        self, code: str, on: date, known_at: datetime | None = None
    ) -> str | None:
        return platforms.platform_status_on(self.conn, code, on, known_at)

    def platform_search(self, text: str, on: date) -> list[dict[str, Any]]:
        return platforms.search_platforms(self.conn, text, on)

    def platform_host_on(self, code: str, on: date) -> str | None:
        snap = platforms.snapshot_on(self.conn, code, on)
        return None if snap is None else str(snap["host_unit"])

    # --- units ------------------------------------------------------------------------
    def unit_show(self, code: str, as_of: date, known_at: datetime | None = None) -> dict[str, Any]:
        return units.unit_show(self.conn, code, as_of, known_at)

    def screen(
        self,
        names: list[str],
        on: date,
        *,
        threshold: int,
        limit: int = 3,
        among: set[str] | None = None,
        start: int = 1,
    ) -> list[dict[str, Any]]:
        from projections.screening import screen

        return screen(
            self.conn, names, on, threshold=threshold, limit=limit, among=among, start=start
        )

    def unit_search(
        self, text: str, on: date, threshold: int | None = None
    ) -> list[dict[str, Any]]:
        if threshold is None:
            return units.search_units(self.conn, text, on)
        return units.search_units(self.conn, text, on, threshold=threshold)

    def debarred(
        self, on: date, *, scope: str | None = None, name: str | None = None
    ) -> list[dict[str, Any]]:
        return units.debarred_on(self.conn, on, scope=scope, name=name)

    def blacklist(self, on: date) -> list[dict[str, Any]]:
        return units.blacklisted_on(self.conn, on)

    def debarment_on(self, unit: str, on: date) -> str | None:
        return units.debarment_on(self.conn, unit, on)

    def blacklisting_on(self, unit: str, on: date) -> str | None:
        return units.blacklisting_on(self.conn, unit, on)

    def unit_names(self) -> dict[str, str]:
        return units.unit_names(self.conn)

    def unit_codes_by_name(self, name: str) -> list[str]:
        return units.unit_codes_by_name(self.conn, name)

    def eligibility(
        self,
        code: str,
        purpose: str,
        on: date,
        under: Policy | None,
        known_at: datetime | None = None,
    ) -> tuple[bool, list[Reason]]:
        """Eligibility under programme `under` (its bans, ledger-wide bans, the
        blacklist, its look-back), or under any (every ban, every look-back,
        each reason naming its programme) — SPEC §2.1, §7."""
        from ledger.policies import all_policies

        policies = [under] if under is not None else list(all_policies().values())
        return units.eligibility(
            self.conn,
            code,
            purpose,
            on,
            look_backs(policies),
            known_at,
            under=under.id if under is not None else None,
            lead_rule=lead_rules(policies),
        )

    # --- funds ------------------------------------------------------------------------
    def funds_summary(
        self,
        as_of: date,
        *,
        platform: str | None = None,
        fiscal_year: int | None = None,
    ) -> list[dict[str, Any]]:
        return funds.summary(self.conn, as_of, platform=platform, fiscal_year=fiscal_year)

    def payments(
        self, *, fiscal_year: int | None = None, platform: str | None = None
    ) -> list[funds.PaymentRow]:
        return funds.payments(self.conn, fiscal_year=fiscal_year, platform=platform)

    def allocated(self, platform: str, category: str, fiscal_year: int) -> Decimal:
        return funds.allocated(self.conn, platform, category, fiscal_year)

    # --- the rest ------------------------------------------------------------------------
    def change_list(
        self, *, pending: bool = False, platform: str | None = None, as_of: date | None = None
    ) -> list[dict[str, Any]]:
        return changes.change_list(self.conn, pending=pending, platform=platform, as_of=as_of)

    def history(
        self,
        *,
        aggregate: str | None = None,
        code: str | None = None,
        since: date | None = None,
        until: date | None = None,
        where: history.HistoryFilter | None = None,
    ) -> list[dict[str, Any]]:
        return history.history(
            self.conn, aggregate=aggregate, code=code, since=since, until=until, where=where
        )

    def compliance_overdue(self, as_of: date) -> list[dict[str, Any]]:
        from projections import compliance

        return compliance.overdue(self.conn, as_of)

    def known_at(self, moment: datetime) -> ReadModels:
        """These read models as the ledger knew them at `moment`: every event
        recorded by then (``recorded_at`` ≤ moment, in the order chained)
        replayed into scratch tables in memory, to answer any query with
        ``--known-at``. The cost is a replay of those events."""
        from projections.base import iso_ts
        from projections.runner import (
            BATCH_SIZE,
            MODEL_NAMES,
            apply_batch,
            mapper_of,
            model_projections,
        )
        from projections.verify import scratch_models
        from projections.view import ReadModelView

        row = db.fetchone(
            self.conn,
            "SELECT MAX(notification_id) AS n FROM rm_history WHERE recorded_at <= ?",
            (iso_ts(moment),),
        )
        cutoff = int(row["n"]) if row and row["n"] is not None else 0
        scratch = scratch_models()
        cfg, mapper = mapper_of(self.cfg)
        view = ReadModelView()
        projections = model_projections(view)
        pos = dict.fromkeys(MODEL_NAMES, 0)
        upto = dict.fromkeys(MODEL_NAMES, cutoff)
        while cutoff:
            scratch.execute("BEGIN")
            n = apply_batch(
                scratch, cfg, mapper, view, projections, pos,
                batch_size=BATCH_SIZE, upto=upto, events_conn=self.conn,
            )  # fmt: skip
            scratch.execute("COMMIT")
            if not n or all(pos[m] >= cutoff for m in MODEL_NAMES):
                break
        return ReadModels(scratch, self.cfg)

    def platform_exists(self, code: str) -> bool:
        return platforms.platform_exists(self.conn, code)

    def unit_exists(self, code: str) -> bool:
        return units.unit_exists(self.conn, code)


def _where(cfg: DbConfig) -> CatchUpResult:
    """Where the read models stand against the ledger's head (two reads, after
    the trust check a catch-up starts with): at the head, a query needs no
    catch-up and so never loads it."""
    with db.connect(cfg) as conn:
        refuse_if_untrusted(conn)
        return CatchUpResult(
            position=min(positions(conn, tuple(MODEL_TABLES)).values()), head=ledger_head(conn)
        )


@contextmanager
def open_read(
    target: str | DbConfig, *, warn: Warn = _stderr, catch: bool = True
) -> Iterator[ReadModels]:
    """The read models of a ledger (a URL or DbConfig), caught up first unless
    the connection is read-only (then one warning line if they lag)."""
    cfg = db.parse_db_url(target) if isinstance(target, str) else target
    db.ensure_ready(cfg)
    if catch:
        result = _where(cfg)
        if result.lag:
            from projections.runner import catch_up

            result = catch_up(cfg)
        if result.read_only and result.lag:
            from projections.follow import wait_for_head

            # a clerk or auditor: `ledger projections follow` (run by the owner)
            # keeps the models current; give it a moment to reach the head
            result = wait_for_head(cfg, result, READ_ONLY_WAIT_S)
        for message in (lag_warning(result), inconsistency_warning(result)):
            if message:
                warn(message)
    with reading(cfg) as conn:
        # a chain break found by a catch-up or rebuild: no answer (exit 4)
        refuse_if_untrusted(conn)
        yield ReadModels(conn, cfg)


# --- the read models' upkeep, for `projections status|rebuild|verify` and the
# catch-up after a write: loaded when called


def catch_up(target: Any, **options: Any) -> CatchUpResult:
    """projections.runner.catch_up (imported when called)."""
    from projections.runner import catch_up as run

    return run(target, **options)


def status(cfg: DbConfig) -> list[dict[str, Any]]:
    """projections.runner.status (imported when called)."""
    from projections.runner import status as run

    return run(cfg)


def rebuild(target: Any, **options: Any) -> CatchUpResult:
    """projections.rebuild.rebuild (imported when called)."""
    from projections.rebuild import rebuild as run

    return run(target, **options)


def verify(target: Any, **options: Any) -> VerifyReport:
    """projections.verify.verify (imported when called)."""
    from projections.verify import verify as run

    return run(target, **options)


__all__ = [
    "CatchUpResult",
    "ReadModels",
    "catch_up",
    "inconsistency_warning",
    "install",
    "lag_warning",
    "open_read",
    "reading",
    "rebuild",
    "status",
    "verify",
]
