"""Change requests: a platform's change of name, host (lead), co-builders
(members) and the like is requested, then approved, rejected or withdrawn; an
approval screens the units it brings in and re-checks the composition rules."""

from __future__ import annotations

from datetime import date
from typing import Any

from eventsourcing.domain import Aggregate

from aggregates.errors import (
    CompositionRuleBroken,
    Ineligible,
    InvalidInput,
    NotFound,
    PlatformNotFound,
)
from aggregates.platform import Platform, check_composition, check_consortium
from aggregates.values import (
    ACTIVE_STATUSES,
    CHANGE_TYPES,
    FINAL_STATUSES,
    MemberInfo,
    check_choice,
    validate_credit_code,
)
from ledger.policies import load_policy
from ledger.service.core import Result
from ledger.service.platforms import PlatformCommands


class ChangeCommands(PlatformCommands):
    """The change-request commands (`ledger change ...`); an approval screens
    joining units as :class:`PlatformCommands` does at approval."""

    def request_change(
        self,
        code: str,
        *,
        change_type: str,
        details: dict[str, str],
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        doc_no: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        check_choice(change_type, CHANGE_TYPES, "change type")
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_reason=True)
        for key in ("host", "lead"):
            if key in details:
                validate_credit_code(details[key])
        args = {"code": code, "type": change_type, "details": details, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            for key in ("host", "lead"):
                if key in details:
                    self.unit(details[key])
            for key in ("add", "remove", "consents"):
                for c in details.get(key, "").split(","):
                    if c.strip():
                        self.unit(validate_credit_code(c.strip()))
            rid = plat.request_change(change_type, details, meta)
            return [plat], Result("ChangeRequested", code, plat.version, id=rid)

        return self._record("change request", args, request_id, work)

    def _change_platform(self, request_id: str) -> Platform:
        if ":" not in request_id:
            raise InvalidInput(
                f"malformed change request id {request_id!r}: "
                "expected PLATFORM:CRn (e.g. LS-KL-001:CR1)"
            )
        code = request_id.rsplit(":", 1)[0]
        try:
            return self.platform(code)
        except PlatformNotFound:
            raise NotFound(f"unknown change request {request_id}") from None

    def approve_change(
        self,
        change_id: str,
        *,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)
        args = {"id": change_id, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self._change_platform(change_id)
            cr = plat.pending_change(change_id)
            applied = plat.planned_change(cr)
            touched: list[Aggregate] = [plat]
            # a consortium's members change only with every member's consent
            # (002 §5.1), whichever type the request was filed under — also a
            # lead (host) change to a unit that is not a member yet: it joins
            pol = load_policy(plat.policy)
            members = {plat.host, *plat.co_builders}
            consent_basis = pol.member_consent_basis
            if consent_basis and (
                cr.change_type == "member-change"
                or (cr.change_type == "co-builder-change" and plat.kind == "innovation-consortium")
                or (
                    plat.kind == "innovation-consortium"
                    and "host" in applied
                    and applied["host"] not in members
                )
            ):
                consents = set(c.strip() for c in cr.details.get("consents", "").split(","))
                missing = sorted(members - consents)
                if missing:
                    raise Ineligible(
                        f"change {change_id} changes the members of {plat.code} but lacks the "
                        f"consent of member {missing[0]}; "
                        "every member's consent must be recorded",
                        rule="member-consent",
                        basis=consent_basis,
                    )
            on = meta.effective_on
            active = plat.status in ACTIVE_STATUSES
            # units a change brings in are screened whether the platform is
            # active or still a proposal (not once it is final: the approval is
            # refused then anyway)
            screened = plat.status not in FINAL_STATUSES
            consortium = plat.kind == "innovation-consortium"
            if "host" in applied:
                new_host = self.unit(applied["host"])
                if new_host.code == plat.host:
                    raise InvalidInput(f"{new_host.code} is already the host of {plat.code}")
                if screened:
                    # a new host (lead) takes the platform on: screened as at approval
                    self._screen_joining(
                        new_host, on, pol, "new host", lead_role="new lead" if consortium else None
                    )
                if consortium and screened:
                    others = [c for c in new_host.consortia_led_from(on) if c != plat.code]
                    if others:
                        raise CompositionRuleBroken(
                            f"new lead {new_host.code} leads the innovation consortium "
                            f"{others[0]} on or after {on}; a lead leads one consortium at a time",
                            rule="one-consortium-per-lead",
                            basis=pol.consortium.one_consortium_basis if pol.consortium else None,
                        )
                if consortium and active:
                    # the lead tracking moves (a proposal has none yet)
                    old = self.unit(plat.host)
                    old.release_consortium_lead(plat.code, meta)
                    watched = pol.term_years is not None and pol.term_years.watch
                    new_host.assume_consortium_lead(
                        plat.code, meta, plat.term_ends if watched else None
                    )
                    touched += [old, new_host]
                rest = [c for c in plat.co_builders if c != new_host.code]
                if consortium:
                    # a consortium's lead change hands the lead to another unit;
                    # the old lead stays a member (members leave only by a
                    # member change with everyone's consent, 002 §5.1)
                    applied["co_builders"] = [plat.host, *rest]
                else:
                    # a new host (依托单位) replaces the old one
                    applied["co_builders"] = rest
            if cr.change_type in ("co-builder-change", "member-change"):
                for c in applied["co_builders"]:
                    if c in plat.co_builders or not screened:
                        continue
                    self._screen_joining(
                        self.unit(c),
                        on,
                        pol,
                        "new co-builder",
                        member_role="new member" if consortium else None,
                    )
            if active and ("host" in applied or "co_builders" in applied):
                # the composition rules checked at approval hold after it too
                self._check_composition_after(plat, applied)
            plat.approve_change(change_id, meta, applied)
            return touched, Result("ChangeApproved", plat.code, plat.version, id=change_id)

        return self._record("change approve", args, request_id, work)

    def _check_composition_after(self, plat: Platform, applied: dict[str, Any]) -> None:
        """The composition rules checked at approval (SPEC §4) hold after the
        change too: a change may not take a consortium below its floors, or a
        centre beyond its co-builder limits."""
        host = str(applied.get("host", plat.host))
        co_builders = list(applied.get("co_builders", plat.co_builders))
        units = [self.unit(host)] + [self.unit(c) for c in co_builders]
        infos = [MemberInfo(u.code, u.unit_type, u.high_tech) for u in units]
        pol = load_policy(plat.policy)  # the governing programme's rules only (SPEC §2.1)
        if plat.kind == "innovation-consortium" and pol.consortium is not None:
            check_consortium(host, infos, pol.consortium, [])
        check_composition(plat.kind, host, infos, pol.composition)  # warnings: at approval

    def reject_change(
        self,
        change_id: str,
        *,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True, need_reason=True)
        args = {"id": change_id, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self._change_platform(change_id)
            plat.reject_change(change_id, meta)
            return [plat], Result("ChangeRejected", plat.code, plat.version, id=change_id)

        return self._record("change reject", args, request_id, work)

    def withdraw_change(
        self,
        change_id: str,
        *,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, reason=reason, need_reason=True)
        args = {"id": change_id, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self._change_platform(change_id)
            plat.withdraw_change(change_id, meta)
            return [plat], Result("ChangeWithdrawn", plat.code, plat.version, id=change_id)

        return self._record("change withdraw", args, request_id, work)
