"""The Unit aggregate: an organisation that hosts, co-builds or leads platforms.

Its integrity record lives here: violations, debarments and their lifting,
blacklist entries and their removal, and the consortia it leads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

from aggregates.errors import AlreadyExists, DateOrder, IllegalTransition, InvalidInput, NotFound
from aggregates.meta import Meta
from aggregates.policy import recorded_programme
from aggregates.values import DEBARMENT_YEARS, DEBARMENT_YEARS_TEXT, add_years


def debarment_programme(event: Any) -> str | None:
    """The programme of a Debarred event. A ban recorded since issue 11 carries
    it (None: ledger-wide); one stored before has no ``policy`` at all, and
    reads as the programme whose article its basis cites, ledger-wide when none
    (the stored event is never rewritten, so its history reads as recorded)."""
    if "policy" in vars(event):
        return vars(event)["policy"]  # type: ignore[no-any-return]
    return recorded_programme(getattr(event, "basis", None))


# pure: cached, an import asks for the same ones line after line
@lru_cache(maxsize=65536)
def unit_id(code: str) -> UUID:
    return uuid5(NAMESPACE_URL, f"/units/{code}")


@dataclass
class Violation:
    id: str
    kind: str
    occurred_on: date
    found_on: date
    platform: str | None
    doc_no: str | None
    reason: str | None
    policy: str | None
    recorded_at: str


@dataclass
class Debarment:
    id: str
    years: int
    start: date
    end: date
    scopes: list[str]
    basis: str | None
    doc_no: str | None
    reason: str | None
    violation: str | None
    recorded_at: str
    lifted_on: date | None = None
    lift_doc_no: str | None = None
    lift_reason: str | None = None
    # the programme (policy id) whose document imposed it; None: ledger-wide (SPEC §2.1)
    policy: str | None = None

    def counts_under(self, policy: str | None) -> bool:
        """Does this ban count for an application under programme `policy`
        (None: under any programme, every ban counts)?"""
        return policy is None or self.policy is None or self.policy == policy

    def active_on(self, d: date) -> bool:
        if self.lifted_on is not None and self.lifted_on <= d:
            return False
        return self.start <= d < self.end

    def status_on(self, d: date) -> str:
        if self.lifted_on is not None and self.lifted_on <= d:
            return "lifted"
        if d >= self.end:
            return "expired"
        if d < self.start:
            return "not-yet-in-force"  # decided, its start still to come
        return "active"

    def until(self) -> date:
        """The first day it no longer applies, counting a recorded lifting."""
        if self.lifted_on is not None and self.lifted_on < self.end:
            return self.lifted_on
        return self.end


@dataclass
class BlacklistEntry:
    id: str
    added_on: date
    basis: str | None
    doc_no: str | None
    reason: str | None
    violation: str | None
    recorded_at: str
    removed_on: date | None = None
    removal_doc_no: str | None = None
    removal_reason: str | None = None

    def active_on(self, d: date) -> bool:
        return self.added_on <= d and (self.removed_on is None or d < self.removed_on)


@dataclass
class ConsortiumLead:
    platform: str
    since: date
    until: date | None = None  # released (by an event), or the term's end
    released: bool = False  # released by an event (a delisting, a lead change)


class Unit(Aggregate):
    """A unit, identified by its unified social credit code."""

    class Event(Aggregate.Event):
        actor: str
        effective_on: date
        doc_no: str | None
        reason: str | None
        basis: str | None

    @staticmethod
    def create_id(code: str) -> UUID:
        return unit_id(code)

    @event("Registered")
    def __init__(
        self,
        *,
        code: str,
        name: str,
        unit_type: str,
        high_tech: bool,
        aliases: list[str],
        actor: str,
        effective_on: date,
        doc_no: str | None,
        reason: str | None,
        basis: str | None,
    ) -> None:
        self.code = code
        self.name = name
        self.unit_type = unit_type
        self.high_tech = high_tech
        self.aliases = list(aliases)
        self.registered_on = effective_on
        # the date of the last rename: renames are dated in order. The name it
        # was registered with was borne before the ledger knew the unit, so a
        # rename may be dated before the registration.
        self.name_since = date.min
        self.former_names: list[dict[str, Any]] = []
        self.violations: dict[str, Violation] = {}
        self.debarments: dict[str, Debarment] = {}
        self.blacklist: dict[str, BlacklistEntry] = {}
        self.consortia: dict[str, ConsortiumLead] = {}
        self.counter = 0

    # --- commands ------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        """The id the next violation / debarment / blacklist entry will get."""
        return f"{self.code}:{prefix}{self.counter + 1}"

    def resolve_id(self, ident: str) -> str:
        """Accept the full id (`CODE:D2`) or the short form (`D2`)."""
        return ident if ":" in ident else f"{self.code}:{ident}"

    def rename(self, name: str, meta: Meta) -> None:
        if not name.strip():
            raise InvalidInput("the new name is empty")
        if name == self.name:
            raise IllegalTransition(f"unit {self.code} is already named {name}")
        if meta.effective_on < self.name_since:
            raise DateOrder(
                f"cannot rename unit {self.code} effective {meta.effective_on}: it was renamed "
                f"{self.name} effective {self.name_since}, and renames are recorded in date "
                "order (a name's history cannot be rewritten)",
                rule="date-order",
                basis="SPEC §3",
            )
        self.trigger_event(self.Renamed, name=name, former_name=self.name, **meta.fields())

    class Renamed(Event):
        name: str
        former_name: str

        def apply(self, aggregate: Any) -> None:
            aggregate.former_names.append(
                {"name": self.former_name, "until": self.effective_on.isoformat()}
            )
            aggregate.name = self.name
            aggregate.name_since = self.effective_on

    def record_violation(
        self,
        *,
        kind: str,
        occurred_on: date,
        platform: str | None,
        policy: str | None,
        meta: Meta,
    ) -> str:
        if occurred_on > meta.effective_on:
            raise InvalidInput(
                f"the violation occurred on {occurred_on} after it was found on {meta.effective_on}"
            )
        violation_id = self.next_id("V")
        self.trigger_event(
            self.ViolationRecorded,
            violation_id=violation_id,
            kind=kind,
            occurred_on=occurred_on,
            platform=platform,
            policy=policy,
            **meta.fields(),
        )
        return violation_id

    class ViolationRecorded(Event):
        violation_id: str
        kind: str
        occurred_on: date
        platform: str | None
        policy: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.counter += 1
            aggregate.violations[self.violation_id] = Violation(
                id=self.violation_id,
                kind=self.kind,
                occurred_on=self.occurred_on,
                found_on=self.effective_on,
                platform=self.platform,
                doc_no=self.doc_no,
                reason=self.reason,
                policy=self.policy,
                recorded_at=self.timestamp.isoformat(),
            )

    def debar(
        self,
        *,
        years: int,
        start: date,
        scopes: list[str],
        violation: str | None,
        meta: Meta,
        policy: str | None = None,
    ) -> str:
        """``policy``: the programme that imposes it; None: ledger-wide."""
        if years not in DEBARMENT_YEARS:
            raise InvalidInput(f"a debarment is for {DEBARMENT_YEARS_TEXT} years, not {years}")
        if not scopes:
            raise InvalidInput("a debarment needs at least one scope")
        if violation is not None:
            violation = self.resolve_id(violation)
            if violation not in self.violations:
                raise NotFound(f"unit {self.code} has no violation {violation}")
        debarment_id = self.next_id("D")
        self.trigger_event(
            self.Debarred,
            debarment_id=debarment_id,
            years=years,
            start=start,
            end=add_years(start, years),
            scopes=list(dict.fromkeys(scopes)),
            violation=violation,
            policy=policy,
            **meta.fields(),
        )
        return debarment_id

    class Debarred(Event):
        debarment_id: str
        years: int
        start: date
        end: date
        scopes: list[str]
        violation: str | None
        # the programme that imposed it (SPEC §2.1); None: ledger-wide. Absent
        # from bans stored before issue 11: see :func:`debarment_programme`
        policy: str | None = None

        def apply(self, aggregate: Any) -> None:
            aggregate.counter += 1
            aggregate.debarments[self.debarment_id] = Debarment(
                id=self.debarment_id,
                years=self.years,
                start=self.start,
                end=self.end,
                scopes=list(self.scopes),
                basis=self.basis,
                doc_no=self.doc_no,
                reason=self.reason,
                violation=self.violation,
                recorded_at=self.timestamp.isoformat(),
                policy=debarment_programme(self),
            )

    def lift(self, debarment_id: str, meta: Meta) -> str:
        debarment_id = self.resolve_id(debarment_id)
        d = self.debarments.get(debarment_id)
        if d is None:
            raise NotFound(f"unit {self.code} has no debarment {debarment_id}")
        if d.lifted_on is not None:
            raise IllegalTransition(f"debarment {debarment_id} was already lifted on {d.lifted_on}")
        if meta.effective_on >= d.end:
            raise IllegalTransition(
                f"debarment {debarment_id} already ended on {d.end}; there is nothing to lift"
            )
        if meta.effective_on < d.start:
            raise IllegalTransition(
                f"debarment {debarment_id} starts on {d.start}; "
                "it cannot be lifted before it starts"
            )
        self.trigger_event(self.DebarmentLifted, debarment_id=debarment_id, **meta.fields())
        return debarment_id

    class DebarmentLifted(Event):
        debarment_id: str

        def apply(self, aggregate: Any) -> None:
            d = aggregate.debarments[self.debarment_id]
            d.lifted_on = self.effective_on
            d.lift_doc_no = self.doc_no
            d.lift_reason = self.reason

    def active_blacklist_entry(self) -> BlacklistEntry | None:
        for entry in self.blacklist.values():
            if entry.removed_on is None:
                return entry
        return None

    def add_to_blacklist(self, *, violation: str | None, meta: Meta) -> str:
        current = self.active_blacklist_entry()
        if current is not None:
            raise AlreadyExists(
                f"unit {self.code} is already on the integrity blacklist since {current.added_on}"
            )
        # an entry runs until removed: it may not reach back into an earlier one
        later = [
            e
            for e in self.blacklist.values()
            if e.removed_on is not None and meta.effective_on < e.removed_on
        ]
        if later:
            e = max(later, key=lambda e: e.removed_on or e.added_on)
            raise DateOrder(
                f"cannot blacklist unit {self.code} effective {meta.effective_on}: it was on the "
                f"blacklist from {e.added_on} until {e.removed_on} (entry {e.id}), and entries "
                "may not overlap; date the new entry on or after that removal",
                rule="date-order",
                basis="SPEC §7",
            )
        entry_id = self.next_id("B")
        self.trigger_event(
            self.Blacklisted, entry_id=entry_id, violation=violation, **meta.fields()
        )
        return entry_id

    class Blacklisted(Event):
        entry_id: str
        violation: str | None

        def apply(self, aggregate: Any) -> None:
            aggregate.counter += 1
            aggregate.blacklist[self.entry_id] = BlacklistEntry(
                id=self.entry_id,
                added_on=self.effective_on,
                basis=self.basis,
                doc_no=self.doc_no,
                reason=self.reason,
                violation=self.violation,
                recorded_at=self.timestamp.isoformat(),
            )

    def remove_from_blacklist(self, meta: Meta) -> str:
        current = self.active_blacklist_entry()
        if current is None:
            raise IllegalTransition(f"unit {self.code} is not on the integrity blacklist")
        if meta.effective_on < current.added_on:
            raise IllegalTransition(
                f"unit {self.code} was blacklisted on {current.added_on}; "
                "it cannot be removed before that"
            )
        self.trigger_event(self.Unblacklisted, entry_id=current.id, **meta.fields())
        return current.id

    class Unblacklisted(Event):
        entry_id: str

        def apply(self, aggregate: Any) -> None:
            e = aggregate.blacklist[self.entry_id]
            e.removed_on = self.effective_on
            e.removal_doc_no = self.doc_no
            e.removal_reason = self.reason

    def active_consortia(self, on: date | None = None) -> list[str]:
        out = []
        for lead in self.consortia.values():
            if on is None:
                if not lead.released:
                    out.append(lead.platform)
            elif lead.since <= on and (lead.until is None or on < lead.until):
                out.append(lead.platform)
        return out

    def consortia_led_on(self, on: date) -> list[tuple[str, date | None]]:
        """The consortia led on a date, each with the date the lead ends (None:
        not yet released)."""
        return [
            (lead.platform, lead.until)
            for lead in self.consortia.values()
            if lead.since <= on and (lead.until is None or on < lead.until)
        ]

    def consortia_led_from(self, on: date) -> list[str]:
        """Consortia whose lead runs on or after a date (still led, or released
        after it): a new consortium led from that date would overlap them."""
        return [
            lead.platform
            for lead in self.consortia.values()
            if lead.until is None or on < lead.until
        ]

    def assume_consortium_lead(self, platform: str, meta: Meta, until: date | None = None) -> None:
        """``until``: the end of the consortium's term (002 §3.2 组建期), when the
        one-consortium lock is released without a further event."""
        self.trigger_event(
            self.ConsortiumLeadAssumed, platform=platform, until=until, **meta.fields()
        )

    class ConsortiumLeadAssumed(Event):
        platform: str
        until: date | None = None  # absent on events recorded before terms were watched

        def apply(self, aggregate: Any) -> None:
            aggregate.consortia[self.platform] = ConsortiumLead(
                self.platform, self.effective_on, self.until
            )

    def release_consortium_lead(self, platform: str, meta: Meta) -> None:
        lead = self.consortia.get(platform)
        if lead is None or (lead.until is not None and lead.until <= meta.effective_on):
            return
        self.trigger_event(self.ConsortiumLeadReleased, platform=platform, **meta.fields())

    class ConsortiumLeadReleased(Event):
        platform: str

        def apply(self, aggregate: Any) -> None:
            lead = aggregate.consortia[self.platform]
            lead.until, lead.released = self.effective_on, True
