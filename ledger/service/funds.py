"""Funds: allocations (and the entitlements they grant), disbursements (one
voucher, one payment), reversals, recoveries, and suspending and resuming a
platform's funding."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from eventsourcing.domain import Aggregate

from aggregates.errors import InvalidInput
from aggregates.meta import Meta
from aggregates.values import CATEGORIES, check_choice, money_str
from aggregates.voucher import Voucher
from ledger.policies import load_policy
from ledger.service.core import Result, ServiceCore, _only


class FundCommands(ServiceCore):
    """The funds commands (`ledger funds ...`)."""

    def allocate(
        self,
        code: str,
        *,
        category: str,
        amount: Decimal,
        fiscal_year: int,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        entitlement: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        check_choice(category, CATEGORIES, "fund category")
        check_fiscal_year(fiscal_year)
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)
        args = {
            "code": code,
            "category": category,
            "amount": amount,
            "fy": fiscal_year,
            "entitlement": entitlement,
            "meta": meta.fingerprint(),
        }

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            pol = load_policy(plat.policy)
            ent_categories = tuple(
                sorted(
                    {e.category for e in pol.entitlements if not e.kinds or plat.kind in e.kinds}
                )
            )
            bases = sorted(
                {
                    e.basis
                    for e in pol.entitlements
                    if e.category == category and (not e.kinds or plat.kind in e.kinds)
                }
            )
            ent = plat.allocate(
                category,
                fiscal_year,
                amount,
                meta,
                entitlement_key=entitlement,
                entitlement_categories=ent_categories,
                double_benefit_basis=pol.no_double_benefit_basis,
                entitlement_basis=", ".join(bases) or None,
            )
            warnings = []
            if ent is not None:
                warnings.append(
                    f"grants the {ent.key} entitlement of {money_str(ent.amount)} ({ent.basis})"
                )
            return [plat], Result("FundsAllocated", code, plat.version, warnings=warnings)

        return self._record("funds allocate", args, request_id, work)

    def disburse(
        self,
        code: str,
        *,
        category: str,
        amount: Decimal,
        fiscal_year: int,
        voucher: str,
        actor: str | None,
        on: date | None = None,
        doc_no: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        check_choice(category, CATEGORIES, "fund category")
        check_fiscal_year(fiscal_year)
        if not voucher.strip():
            raise InvalidInput("a payment needs a voucher number (--voucher)")
        voucher = voucher.strip()
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason)
        args = {
            "code": code,
            "category": category,
            "amount": amount,
            "fy": fiscal_year,
            "voucher": voucher,
            "meta": meta.fingerprint(),
        }

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            self._raise_if_voucher_taken("funds disburse", args)
            # flags judge the host on the payment date (a late entry of a payment
            # made before a host change concerns the host of the time)
            host = self.unit(plat.host_on(meta.effective_on))
            flags, warnings = [], []
            pol = load_policy(plat.policy)
            # the platform's programme's bans and the ledger-wide ones (SPEC §2.1)
            active_debarments = [
                d
                for d in host.debarments.values()
                if d.active_on(meta.effective_on) and d.counts_under(plat.policy)
            ]
            if active_debarments:
                d = active_debarments[0]
                flags.append("debarred-host")
                warnings.append(
                    f"flag debarred-host: host {host.code} is debarred ({d.id}, "
                    f"{', '.join(d.scopes)}) until {d.until()} ({d.basis or d.doc_no})"
                )
            entry = next(
                (b for b in host.blacklist.values() if b.active_on(meta.effective_on)), None
            )
            if entry is not None:
                flags.append("blacklisted-host")
                warnings.append(
                    f"flag blacklisted-host: host {host.code} is on the integrity "
                    f"blacklist since {entry.added_on} ({entry.basis or entry.doc_no})"
                )
            term = pol.term_years
            if (
                term is not None
                and term.watch
                and plat.term_ends is not None
                and meta.effective_on >= plat.term_ends
            ):
                flags.append("past-term")
                warnings.append(
                    f"flag past-term: the term of platform {code} ended on {plat.term_ends} "
                    f"({term.basis})"
                )
            plat.disburse(
                category,
                fiscal_year,
                amount,
                voucher,
                meta,
                flags,
                suspension_basis=pol.funding_suspension_basis,
            )
            v = Voucher(voucher=voucher, platform=code, **meta.fields())
            return [plat, v], Result("FundsDisbursed", code, plat.version, warnings=warnings)

        return self._record("funds disburse", args, request_id, work)

    def reverse(
        self,
        code: str,
        *,
        voucher: str,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        doc_no: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_reason=True)
        args = {"code": code, "voucher": voucher, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            plat.reverse(voucher.strip(), meta)
            return [plat], Result("DisbursementReversed", code, plat.version)

        return self._record("funds reverse", args, request_id, work)

    def recover(
        self,
        code: str,
        *,
        category: str,
        fiscal_year: int,
        amount: Decimal,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        request_id: str | None = None,
    ) -> Result:
        check_choice(category, CATEGORIES, "fund category")
        check_fiscal_year(fiscal_year)
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True, need_reason=True)
        args = {
            "code": code,
            "category": category,
            "fy": fiscal_year,
            "amount": amount,
            "meta": meta.fingerprint(),
        }

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            plat.recover(category, fiscal_year, amount, meta)
            return [plat], Result("FundsRecovered", code, plat.version)

        return self._record("funds recover", args, request_id, work)

    def suspend(
        self,
        code: str,
        *,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(
            actor,
            on,
            doc_no=doc_no,
            reason=reason,
            need_doc=True,
            need_reason=True,
        )
        return self._simple(
            "funds suspend",
            code,
            "FundingSuspended",
            meta,
            request_id,
            {},
            _only(lambda p: p.suspend_funding(_suspension_meta(meta, p.policy))),
        )

    def resume(
        self,
        code: str,
        *,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)
        return self._simple(
            "funds resume",
            code,
            "FundingResumed",
            meta,
            request_id,
            {},
            _only(lambda p: p.resume_funding(_suspension_meta(meta, p.policy))),
        )


def _suspension_meta(meta: Meta, policy: str) -> Meta:
    """A suspension cites the governing programme's article (004 §4.3), or
    none where its document names no suspension (SPEC §2.1)."""
    return meta.derived(basis=load_policy(policy).funding_suspension_basis)


def check_fiscal_year(year: int) -> int:
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"invalid fiscal year {year}: expected a year such as 2026")
    return year
