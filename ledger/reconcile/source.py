"""What reconciliation reads from the ledger: :class:`ReconcileSource`, a
narrow, read-only interface (an in-memory fake in unit tests), and
:class:`AppSource`, the adapter over the real application's aggregates."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Mapping, Sequence
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from aggregates.errors import InvalidInput
from aggregates.values import CENT

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from aggregates.platform import Platform
    from aggregates.unit import Unit


# --- the interface to the ledger --------------------------------------------------


@dataclass(frozen=True)
class LedgerPayment:
    """One disbursement as the ledger recorded it."""

    voucher: str
    platform: str
    category: str
    fiscal_year: int
    amount: Decimal
    paid_on: date
    reversed: bool = False
    host_unit: str | None = None  # credit code of the platform's host unit on ``paid_on``
    # the platform's programme (its policy id): a ban counts under it, or under
    # every programme when None (SPEC §2.1)
    programme: str | None = None


class ReconcileSource(Protocol):
    """What reconciliation reads from the ledger. Read-only; nothing else."""

    def payments(self) -> Sequence[LedgerPayment]:
        """Every disbursement recorded, reversed ones included, of every fiscal year."""
        ...

    def allocated(self, platform: str, category: str, fiscal_year: int) -> Decimal:
        """The amount approved for that line (0 when none)."""
        ...

    def platform_status_on(self, platform: str, on: date) -> str | None:
        """The platform's status slug on that date (None if it did not exist yet)."""
        ...

    def debarment_on(self, unit: str, on: date, programme: str | None = None) -> str | None:
        """Why the unit is debarred on that date (any scope), counting only the
        bans that apply under `programme` when it is given (a ban recorded
        under another programme does not, SPEC §2.1), or None if it is not."""
        ...

    def term_ended_on(self, platform: str, on: date) -> str | None:
        """Why the platform's term had ended by that date, when its programme
        watches the term (policy ``[term_years] watch``), or None."""
        ...

    def blacklisting_on(self, unit: str, on: date) -> str | None:
        """Why the unit is on the integrity blacklist on that date, or None."""
        ...

    def unit_names(self) -> Mapping[str, str | AbstractSet[str]]:
        """Every name a unit is known by (current, former, aliases) → the credit
        code(s) of every unit known by it (a name two units share maps to both)."""
        ...


class AggregateReader(Protocol):
    """What :class:`AppSource` needs of the application service: its event
    store (``app``) and the aggregates by code. ``LedgerService`` is one."""

    @property
    def app(self) -> Application[UUID]: ...

    def platform(self, code: str) -> Platform: ...

    def unit(self, code: str) -> Unit: ...


# --- the adapter to the real application ---------------------------------------------


class AppSource:
    """:class:`ReconcileSource` over the real application.

    It reads the aggregates themselves (replayed from the event store), not the
    read models: reconciliation is an audit and answers from the source of
    truth, never from a projection that may lag. Dates are business dates
    ("as of" each payment date) with everything recorded up to now.
    """

    def __init__(self, service: AggregateReader) -> None:
        self._svc = service
        self._platforms: dict[str, Platform] | None = None
        self._original_host: dict[str, str] = {}
        self._unit_codes: list[str] = []
        self._units: dict[str, Unit | None] = {}

    def _created(self, topic: str) -> Iterator[Any]:
        recorder = self._svc.app.recorder
        start = 1
        while True:
            batch = recorder.select_notifications(start, 500, topics=[topic])
            if not batch:
                return
            for n in batch:
                yield self._svc.app.mapper.to_domain_event(n)
            start = batch[-1].id + 1

    def _load(self) -> dict[str, Platform]:
        if self._platforms is None:
            from aggregates.platform import Platform
            from aggregates.unit import Unit

            platforms: dict[str, Platform] = {}
            for ev in self._created(f"{Platform.__module__}:{Platform.__qualname__}.Proposed"):
                platforms[ev.code] = self._svc.platform(ev.code)
                self._original_host[ev.code] = ev.host
            self._unit_codes = [
                ev.code for ev in self._created(f"{Unit.__module__}:{Unit.__qualname__}.Registered")
            ]
            self._platforms = platforms
        return self._platforms

    def _unit(self, code: str) -> Unit | None:
        if code not in self._units:
            from aggregates.errors import UnitNotFound

            try:
                self._units[code] = self._svc.unit(code)
            except (UnitNotFound, InvalidInput):
                self._units[code] = None
        return self._units[code]

    def host_on(self, platform: str, on: date) -> str | None:
        """The platform's host unit on a date: the proposed host, then approved changes."""
        plat = self._load().get(platform)
        if plat is None:
            return None
        host = self._original_host.get(platform, plat.host)
        changes = [
            cr
            for cr in plat.changes.values()
            if cr.status == "approved" and "host" in cr.applied and cr.decided_on is not None
        ]
        for cr in sorted(changes, key=lambda c: c.decided_on or on):
            if cr.decided_on is not None and cr.decided_on <= on:
                host = str(cr.applied["host"])
        return host

    def payments(self) -> Sequence[LedgerPayment]:
        out: list[LedgerPayment] = []
        for code, plat in sorted(self._load().items()):
            for p in plat.payments.values():
                out.append(
                    LedgerPayment(
                        voucher=p.voucher,
                        platform=code,
                        category=p.category,
                        fiscal_year=p.fiscal_year,
                        amount=Decimal(p.amount).quantize(CENT),
                        paid_on=p.paid_on,
                        reversed=p.reversed_on is not None,
                        host_unit=self.host_on(code, p.paid_on),
                        programme=plat.policy,
                    )
                )
        return out

    def allocated(self, platform: str, category: str, fiscal_year: int) -> Decimal:
        plat = self._load().get(platform)
        line = plat.line(category, fiscal_year) if plat is not None else None
        return Decimal(line.allocated) if line is not None else Decimal(0)

    def platform_status_on(self, platform: str, on: date) -> str | None:
        plat = self._load().get(platform)
        return plat.status_on(on) if plat is not None else None

    def debarment_on(self, unit: str, on: date, programme: str | None = None) -> str | None:
        u = self._unit(unit)
        if u is None:
            return None
        active = [d for d in u.debarments.values() if d.active_on(on) and d.counts_under(programme)]
        if not active:
            return None
        return "; ".join(
            f"{d.id} ({', '.join(d.scopes)}) from {d.start.isoformat()} until "
            f"{d.until().isoformat()}"
            + (f" ({d.basis or d.doc_no})" if d.basis or d.doc_no else "")
            for d in active
        )

    def term_ended_on(self, platform: str, on: date) -> str | None:
        from ledger.policies import load_policy

        plat = self._load().get(platform)
        if plat is None or plat.term_ends is None or on < plat.term_ends:
            return None
        term = load_policy(plat.policy).term_years
        if term is None or not term.watch:
            return None
        ended = plat.term_ends.isoformat()
        return f"the term of platform {platform} ended on {ended} ({term.basis})"

    def blacklisting_on(self, unit: str, on: date) -> str | None:
        u = self._unit(unit)
        if u is None:
            return None
        entry = next((b for b in u.blacklist.values() if b.active_on(on)), None)
        if entry is None:
            return None
        cite = entry.basis or entry.doc_no
        return f"{entry.id} since {entry.added_on.isoformat()}" + (f" ({cite})" if cite else "")

    def unit_names(self) -> Mapping[str, frozenset[str]]:
        """Every name (current, former, alias) → every unit known by it: a name
        two units share maps to both, and the engine picks neither."""
        self._load()
        names: dict[str, set[str]] = defaultdict(set)
        for code in self._unit_codes:
            u = self._unit(code)
            if u is None:
                continue
            for former in u.former_names:
                names[str(former["name"])].add(code)
            for alias in u.aliases:
                names[alias].add(code)
            names[u.name].add(code)
        return {name: frozenset(codes) for name, codes in names.items()}

    def current_names(self) -> dict[str, str]:
        """Credit code → current name (the payee a bank shows)."""
        self._load()
        return {c: u.name for c in self._unit_codes if (u := self._unit(c)) is not None}


def chain_head(db_url: str) -> tuple[int, str]:
    """(seq, chain hash) of the ledger's last event — where its tamper-evident
    chain stood when a report was made, to tie it to a checkpoint
    (``ledger audit checkpoint``); (0, the genesis hash) for an empty ledger."""
    from ledger.store.db import connect, fetchone, parse_db_url
    from ledger.store.encoding import GENESIS_HASH

    with connect(parse_db_url(db_url)) as conn:
        row = fetchone(conn, "SELECT seq, chain_hash FROM event_chain ORDER BY seq DESC LIMIT 1")
    if row is None:
        return 0, GENESIS_HASH
    return int(row["seq"]), str(row["chain_hash"])
