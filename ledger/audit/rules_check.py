"""``audit verify --rules``: replay every aggregate through the domain, in the
same pass as the chain check, and report the first event no command could
have recorded (docs/AUDIT.md §13).

A login that may insert events (a clerk) can insert one the commands would
refuse: the chain then holds (the event is attributable to that login), but
the rules do not. Each event is checked against its aggregate's state
*before* it is applied, with the domain's own checks where they exist
(``aggregates.rules``): money beyond an allocation, a payment on an inactive
or suspended platform, a reversal of an unknown or reversed payment, a
voucher used twice, a payment without its voucher record, a status event
from a status that command does not accept, a missing actor or allocation
document number. Then the event is applied (``event.mutate``), as the
application does when it reads an aggregate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from aggregates.errors import LedgerError
from aggregates.values import normalise_voucher
from ledger.store.codec import event_mapper

# Platform status events: the statuses their command accepts (aggregates/platform.py;
# tests/audit/test_rules_check_table.py reads the commands and checks this table).
ACTIVE = ("construction", "operating", "rectification")
STATUS_FROM: dict[str, tuple[str, ...]] = {
    "Approved": ("proposed",),
    "Rejected": ("proposed",),
    "Withdrawn": ("proposed",),
    "Accepted": ("construction",),
    "AcceptanceFailed": ("construction",),
    "Evaluated": ("operating",),
    "RectificationPassed": ("rectification",),
    "RectificationFailed": ("rectification",),
    "Delisted": ACTIVE,
    "Upgraded": ("construction", "operating"),
}


@dataclass
class Breach:
    seq: int
    rule: str
    problem: str
    recorded_by: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "rule": self.rule,
            "problem": self.problem,
            "recorded_by": self.recorded_by,
        }


@dataclass
class RuleReplay:
    """Feed events in seq order; keeps the first breach."""

    aggregates: dict[Any, Any] = field(default_factory=dict)
    first: Breach | None = None
    checked: int = 0
    # vouchers of payments whose Voucher record is not seen yet: voucher -> seq
    _pending_vouchers: dict[str, tuple[int, str | None]] = field(default_factory=dict)
    _voucher_records: set[str] = field(default_factory=set)
    _mapper: Any = field(default_factory=event_mapper)

    def _breach(self, seq: int, rule: str, problem: str, login: str | None) -> None:
        if self.first is None or seq < self.first.seq:
            self.first = Breach(seq, rule, problem, login)

    def feed(
        self,
        seq: int,
        originator_id: Any,
        version: int,
        topic: str,
        state: bytes,
        login: str | None = None,
    ) -> None:
        if self.first is not None and seq > self.first.seq:
            return
        from eventsourcing.persistence import StoredEvent

        self.checked += 1
        try:
            oid = originator_id if isinstance(originator_id, UUID) else UUID(str(originator_id))
            event = self._mapper.to_domain_event(StoredEvent(oid, version, topic, state))
        except Exception as e:
            self._breach(seq, "readable", f"the event cannot be read ({type(e).__name__})", login)
            return
        agg = self.aggregates.get(oid)
        problem = self._check(agg, event, topic)
        if problem is not None:
            self._breach(seq, problem[0], problem[1], login)
            return
        self._after(seq, event, topic, login)
        try:
            self.aggregates[oid] = event.mutate(agg)
        except Exception as e:
            self._breach(seq, "applicable", f"the event cannot be applied ({e})", login)

    def finish(self) -> Breach | None:
        for voucher, (seq, login) in sorted(self._pending_vouchers.items(), key=lambda kv: kv[1]):
            self._breach(
                seq,
                "voucher-record",
                f"the payment with voucher {voucher} has no voucher record "
                "(a command records both together)",
                login,
            )
            break
        return self.first

    # --- the validators ----------------------------------------------------------------

    def _check(self, agg: Any, event: Any, topic: str) -> tuple[str, str] | None:
        name = topic.rsplit(".", 1)[-1]
        actor = getattr(event, "actor", "present")
        if actor is None or (isinstance(actor, str) and not actor.strip()):
            return "actor-required", f"{name} names no actor (every command records one)"
        if not topic.startswith("aggregates.platform:Platform."):
            return None
        if agg is None:
            if name != "Proposed":
                return "exists", f"{name} on a platform that was never proposed"
            return None
        status = getattr(agg, "status", None)
        if name in STATUS_FROM and status not in STATUS_FROM[name]:
            return (
                "status-transition",
                f"{name} of platform {agg.code} while it was {status} "
                f"(only from {', '.join(STATUS_FROM[name])})",
            )
        return self._check_funds(agg, event, name)

    def _check_funds(self, agg: Any, event: Any, name: str) -> tuple[str, str] | None:
        from aggregates import rules

        try:
            if name == "FundsAllocated":
                if not getattr(event, "doc_no", None):
                    return "doc-no-required", "an allocation without its document number"
                if agg.status not in ACTIVE:
                    return (
                        "inactive-platform",
                        f"an allocation to platform {agg.code} while it was {agg.status}",
                    )
            elif name == "FundsDisbursed":
                if normalise_voucher(event.voucher) in agg.payments:
                    return "voucher-reused", f"voucher {event.voucher} paid twice"
                rules.check_payment(
                    agg, event.category, event.fiscal_year, event.amount, event.effective_on
                )
            elif name == "DisbursementReversed":
                payment = agg.payments.get(normalise_voucher(event.voucher))
                if payment is None:
                    return "unknown-payment", f"a reversal of voucher {event.voucher}, never paid"
                line = agg.lines[f"{payment.category}:{payment.fiscal_year}"]
                rules.check_reversal(agg, event.voucher, payment, line, event.effective_on)
            elif name == "FundsRecovered":
                rules.check_recovery(
                    agg, event.category, event.fiscal_year, event.amount, event.effective_on
                )
        except LedgerError as e:
            return str(getattr(e, "rule", None) or type(e).__name__), e.message
        except (KeyError, AttributeError, TypeError) as e:
            return "consistent", f"{name} does not fit its platform's state ({e!r})"
        return None

    def _after(self, seq: int, event: Any, topic: str, login: str | None) -> None:
        name = topic.rsplit(".", 1)[-1]
        if topic.startswith("aggregates.voucher:Voucher."):
            voucher = normalise_voucher(str(getattr(event, "voucher", "")))
            if self._pending_vouchers.pop(voucher, None) is None:
                self._voucher_records.add(voucher)
        elif name == "FundsDisbursed" and topic.startswith("aggregates.platform:"):
            voucher = normalise_voucher(event.voucher)
            if voucher in self._voucher_records:
                self._voucher_records.discard(voucher)
            else:
                self._pending_vouchers[voucher] = (seq, login)


__all__ = ["Breach", "RuleReplay"]
