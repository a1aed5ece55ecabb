"""A platform's lifecycle: propose, approve (or reject, withdraw), accept (or
fail acceptance), evaluate, rectify, delist, upgrade, annual reports; and the
screening shared with change requests: a unit's eligibility on a date, and the
composition rules by platform kind."""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import Aggregate

from aggregates.eligibility import Reason, lead_rules, look_backs, reasons_against, unit_facts
from aggregates.errors import AlreadyExists, Ineligible, InvalidInput
from aggregates.meta import Meta
from aggregates.platform import Platform, cycle_years, normalise_cycle, platform_id
from aggregates.policy import Policy
from aggregates.unit import Unit
from aggregates.values import (
    DELIST_REASONS,
    GRADES,
    KINDS,
    LEVELS,
    MemberInfo,
    check_choice,
    period_end_months,
    validate_credit_code,
    validate_platform_code,
)
from ledger.policies import load_policy
from ledger.service.core import Result, _only
from ledger.service.units import UnitCommands


class PlatformCommands(UnitCommands):
    """The platform lifecycle commands (`ledger platform ...`); a delisting
    applies the unit consequences of :class:`UnitCommands`."""

    # --- eligibility (shared by rules and the query fallback) ----------------------------

    def eligibility_reasons(
        self, unit: Unit, purpose: str, on: date, policy: Policy, kind: str | None = None
    ) -> list[Reason]:
        """Why `unit` may not apply for `purpose` on `on` under programme
        `policy` (SPEC §2.1, §7): that programme's bans and the ledger-wide
        ones, the blacklist, and its look-back where it covers the platform
        `kind` (None: whatever the kind)."""
        debarments, blacklist, violations = unit_facts(unit)
        return reasons_against(
            purpose=purpose,
            on=on,
            debarments=debarments,
            blacklist=blacklist,
            violations=violations,
            look_back=look_backs([policy], kind),
            led_consortia=unit.consortia_led_on(on),
            under=policy.id,
            lead_rule=lead_rules([policy]),
        )

    def _require_eligible(
        self,
        unit: Unit,
        purpose: str,
        on: date,
        policy: Policy,
        exclude: str | None = None,
        *,
        role: str = "unit",
        rules: tuple[str, ...] = ("debarment", "blacklist", "look-back", "leads-consortium"),
        kind: str | None = None,
    ) -> None:
        reasons = [
            r
            for r in self.eligibility_reasons(unit, purpose, on, policy, kind)
            if r.rule in rules
            and not (r.rule == "leads-consortium" and exclude and exclude in r.detail)
        ]
        if reasons:
            r = reasons[0]
            until = f" (until {r.until})" if r.until and str(r.until) not in r.detail else ""
            raise Ineligible(
                f"{role} {unit.code} is not eligible for {purpose} on {on}: {r.detail}{until}",
                rule=r.rule,
                # a ban decided without naming its article still refuses under
                # SPEC §7 (debarments and the blacklist bar applications)
                basis=r.basis or "SPEC §7",
            )

    def _screen_joining(
        self,
        unit: Unit,
        on: date,
        policy: Policy,
        role: str,
        *,
        lead_role: str | None = None,
        member_role: str | None = None,
        kind: str | None = None,
    ) -> None:
        """A unit taking its place on a platform (at approval, or by an approved
        change): its debarments under the programme and its blacklisting on
        the date bar it from `platform-application` (003 annex: 依托单位、联合共建单位);
        a consortium's lead (``lead_role``) also from `consortium-lead`; a
        consortium member (``member_role``) may not be debarred from consortia
        ("core member", 002 §5.2). With the platform's ``kind``, the
        programme's look-back is checked again (SPEC §7: at approval)."""
        standing = ("debarment", "blacklist") + (("look-back",) if kind else ())
        self._require_eligible(
            unit, "platform-application", on, policy, role=role, rules=standing, kind=kind
        )
        if lead_role is not None:
            self._require_eligible(
                unit, "consortium-lead", on, policy, role=lead_role, rules=standing
            )
        if member_role is not None:
            self._require_eligible(
                unit, "consortium-lead", on, policy, role=member_role, rules=("debarment",)
            )

    # --- the lifecycle -------------------------------------------------------------------

    def propose(
        self,
        code: str,
        *,
        name: str,
        kind: str,
        level: str,
        host: str,
        co_builders: list[str],
        actor: str | None,
        policy: str | None = None,
        agreement_on: date | None = None,
        on: date | None = None,
        doc_no: str | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        validate_platform_code(code)
        check_choice(kind, KINDS, "platform kind")
        check_choice(level, LEVELS, "level")
        validate_credit_code(host)
        for c in co_builders:
            validate_credit_code(c)
        if host in co_builders or len(set(co_builders)) != len(co_builders):
            raise InvalidInput("a unit is named twice among the host and the co-builders")
        if not name.strip():
            raise InvalidInput("a platform needs a name (--name)")
        pol = load_policy(policy) if policy else self.default_policy
        if not pol.covers(kind) and pol.kinds_basis:
            raise Ineligible(
                f"policy {pol.id} does not govern a {kind}: it covers {', '.join(pol.kinds)}",
                rule="programme-kind",
                basis=pol.kinds_basis,
            )
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason)
        if agreement_on is not None and agreement_on > meta.effective_on:
            raise InvalidInput(
                f"the co-building agreement date {agreement_on} "
                f"is after the filing {meta.effective_on}"
            )
        args = {
            "code": code,
            "name": name,
            "kind": kind,
            "level": level,
            "host": host,
            "co_builders": co_builders,
            "policy": pol.id,
            "agreement_on": agreement_on,
            "meta": meta.fingerprint(),
        }

        def work() -> tuple[list[Aggregate], Result]:
            if self.exists(platform_id(code)):
                raise AlreadyExists(f"platform {code} already exists")
            host_unit = self.unit(host)
            members = [self.unit(c) for c in co_builders]
            self._require_eligible(
                host_unit, "platform-application", meta.effective_on, pol, role="host", kind=kind
            )
            # 003 annex: 依托单位、联合共建单位申报前2年无失信和学术不端行为 — the
            # co-builders apply with the host, and are screened the same way
            for m in members:
                self._require_eligible(
                    m, "platform-application", meta.effective_on, pol, role="co-builder", kind=kind
                )
            if kind == "innovation-consortium":
                self._require_eligible(host_unit, "consortium-lead", meta.effective_on, pol)
                for m in members:
                    reasons = [
                        r
                        for r in self.eligibility_reasons(
                            m, "consortium-lead", meta.effective_on, pol
                        )
                        if r.rule == "debarment"
                    ]
                    if reasons:
                        raise Ineligible(
                            f"unit {m.code} may not be a core member of a consortium on "
                            f"{meta.effective_on}: {reasons[0].detail}",
                            rule="debarment",
                            basis=reasons[0].basis,
                        )
            filing_due = filing_late = None
            if pol.filing is not None and agreement_on is not None:
                filing_due = period_end_months(agreement_on, pol.filing.months_after_agreement)
                filing_late = meta.effective_on > filing_due
            plat = Platform(
                code=code,
                name=name.strip(),
                kind=kind,
                level=level,
                policy=pol.id,
                host=host,
                co_builders=co_builders,
                agreement_on=agreement_on,
                filing_due=filing_due,
                filing_late=bool(filing_late),
                **meta.derived(
                    basis=pol.filing.basis if filing_late and pol.filing else None, reason=reason
                ).fields(),
            )
            warnings = validity_warnings(pol, meta.effective_on)
            if filing_late and pol.filing is not None:
                warnings.append(
                    f"late filing: due by {filing_due}, within {pol.filing.months_after_agreement} "
                    f"month(s) of the agreement signed {agreement_on} ({pol.filing.basis})"
                )
            return [plat], Result("Proposed", code, plat.version, warnings=warnings)

        return self._record("platform propose", args, request_id, work)

    def approve(
        self,
        code: str,
        *,
        doc_no: str | None,
        actor: str | None,
        construction_years: int | None = None,
        term_years: int | None = None,
        on: date | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)
        args = {
            "code": code,
            "construction_years": construction_years,
            "term_years": term_years,
            "meta": meta.fingerprint(),
        }

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            pol = load_policy(plat.policy)
            host = self.unit(plat.host)
            members = [host] + [self.unit(c) for c in plat.co_builders]
            infos = [MemberInfo(m.code, m.unit_type, m.high_tech) for m in members]
            # every unit's standing on the approval date: a ban or a blacklisting
            # that came after the proposal, or a co-builder brought in by a
            # change, still stops the approval; the look-back is checked again
            consortium = plat.kind == "innovation-consortium"
            self._screen_joining(
                host,
                meta.effective_on,
                pol,
                "host",
                lead_role="lead" if consortium else None,
                kind=plat.kind,
            )
            for m in members[1:]:
                self._screen_joining(
                    m,
                    meta.effective_on,
                    pol,
                    "co-builder",
                    member_role="member" if consortium else None,
                    kind=plat.kind,
                )
            # one consortium per lead at a time (002 §3.2): any other consortium
            # the lead leads on or after the approval date
            others = [p for p in host.consortia_led_from(meta.effective_on) if p != code]
            warnings = plat.approve(
                meta,
                policy=pol,
                construction_years=construction_years,
                term_years=term_years,
                members=infos,
                lead_other_consortia=others,
            )
            touched: list[Aggregate] = [plat]
            if plat.kind == "innovation-consortium":
                term = pol.term_years
                watched = term is not None and term.watch
                host.assume_consortium_lead(code, meta, plat.term_ends if watched else None)
                touched.append(host)
            ent = pol.entitlement_for("approval", plat.kind, level=plat.level)
            if ent is not None:
                plat.earn_entitlement(ent.key, ent.category, ent.amount, ent.basis, meta)
            return touched, Result("Approved", code, plat.version, warnings=warnings)

        return self._record("platform approve", args, request_id, work)

    def reject(
        self,
        code: str,
        *,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True, need_reason=True)
        return self._simple(
            "platform reject",
            code,
            "Rejected",
            meta,
            request_id,
            {},
            _only(lambda p: p.reject(meta)),
        )

    def withdraw(
        self,
        code: str,
        *,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        doc_no: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_reason=True)
        return self._simple(
            "platform withdraw",
            code,
            "Withdrawn",
            meta,
            request_id,
            {},
            _only(lambda p: p.withdraw(meta)),
        )

    def accept(
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
            "platform accept",
            code,
            "Accepted",
            meta,
            request_id,
            {},
            _only(lambda p: p.accept(meta)),
        )

    def fail_acceptance(
        self,
        code: str,
        *,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True, need_reason=True)
        return self._simple(
            "platform fail-acceptance",
            code,
            "AcceptanceFailed",
            meta,
            request_id,
            {},
            _only(lambda p: p.fail_acceptance(meta, load_policy(p.policy))),
        )

    def evaluate(
        self,
        code: str,
        *,
        cycle: str,
        grade: str,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        check_choice(grade, GRADES, "grade")
        if not cycle.strip():
            raise InvalidInput("an evaluation needs its cycle (--cycle, e.g. 2023-2025)")
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)

        warnings: list[str] = []

        def action(p: Platform) -> list[Aggregate]:
            warnings.clear()
            pol = load_policy(p.policy)
            p.evaluate(cycle, grade, meta, pol)
            ent = pol.entitlement_for("evaluation", p.kind, grade=grade)
            if ent is not None:
                years = cycle_years(cycle, meta.effective_on, pol.evaluation.cycle_years)
                earlier = p.grade_reward_overlapping(years, pol.evaluation.cycle_years)
                if earlier is None:
                    p.earn_entitlement(
                        f"{ent.key}:{normalise_cycle(cycle)}",
                        ent.category,
                        ent.amount,
                        ent.basis,
                        meta,
                    )
                else:
                    bases = (ent.basis, pol.no_double_benefit_basis)
                    warnings.append(
                        f"no {ent.key}: cycle {normalise_cycle(cycle)} overlaps "
                        f"{earlier}, which already earned one; one reward per evaluation "
                        f"cycle ({', '.join(filter(None, bases))})"
                    )
            return []

        return self._simple(
            "platform evaluate",
            code,
            "Evaluated",
            meta,
            request_id,
            {"cycle": normalise_cycle(cycle), "grade": grade},
            action,
            warnings,
        )

    def rectify(
        self,
        code: str,
        *,
        passed: bool,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        reason: str | None = None,
        no_policy: bool = False,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)

        def action(p: Platform) -> list[Aggregate]:
            pol = load_policy(p.policy)
            failed_rule = next(iter(pol.delistings.get("failed-rectification", ())), None)
            # the rule that opened it: the programme's rectification rule, or, for
            # one opened under the previous release's reading, its evaluation rule
            rect = pol.rectification.basis if pol.rectification else pol.evaluation.basis
            p.rectify(
                passed,
                meta,
                basis=rect if passed or failed_rule is None else failed_rule.basis,
            )
            if passed:
                return []
            return self._delisting_consequences(p, "failed-rectification", meta, no_policy)

        return self._simple(
            "platform rectify",
            code,
            "RectificationPassed" if passed else "RectificationFailed",
            meta,
            request_id,
            {"passed": passed, "no_policy": no_policy},
            action,
        )

    def _delisting_consequences(
        self, plat: Platform, reason_code: str, meta: Meta, no_policy: bool
    ) -> list[Aggregate]:
        touched = self._release_lead(plat, meta)
        if no_policy:
            return touched
        pol = load_policy(plat.policy)
        consequences = pol.consequences(pol.delistings, reason_code)
        if not consequences:
            return touched
        host = next((a for a in touched if isinstance(a, Unit)), None) or self.unit(plat.host)
        self._apply_consequences(
            host, None, consequences, meta, None, why=f"delisting of {plat.code} ({reason_code})"
        )
        return touched if host in touched else [*touched, host]

    def delist(
        self,
        code: str,
        *,
        reason_code: str,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        no_policy: bool = False,
        request_id: str | None = None,
    ) -> Result:
        check_choice(reason_code, DELIST_REASONS, "delisting reason code")
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True, need_reason=True)

        def action(p: Platform) -> list[Aggregate]:
            p.delist(reason_code, meta)
            return self._delisting_consequences(p, reason_code, meta, no_policy)

        return self._simple(
            "platform delist",
            code,
            "Delisted",
            meta,
            request_id,
            {"reason_code": reason_code, "no_policy": no_policy},
            action,
        )

    def upgrade(
        self,
        code: str,
        *,
        level: str,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        check_choice(level, LEVELS, "level")
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)

        def action(p: Platform) -> list[Aggregate]:
            pol = load_policy(p.policy)
            p.upgrade(level, meta, pol.upgrade_basis)
            ent = pol.entitlement_for("upgrade", p.kind, level=level)
            if ent is not None:
                p.earn_entitlement(f"{ent.key}:{level}", ent.category, ent.amount, ent.basis, meta)
            return []

        return self._simple(
            "platform upgrade", code, "Upgraded", meta, request_id, {"level": level}, action
        )

    def report(
        self,
        code: str,
        *,
        year: int,
        actor: str | None,
        on: date | None = None,
        doc_no: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no)
        args = {"code": code, "year": year, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            pol = load_policy(plat.policy)
            late = plat.file_report(year, meta, pol)
            warnings = []
            if late and pol.annual_report:
                r = pol.annual_report
                warnings.append(
                    f"late: the {year} report was due by {year}-{r.due_month:02d}-"
                    f"{r.due_day:02d} ({r.basis})"
                )
            return [plat], Result("ReportFiled", code, plat.version, warnings=warnings)

        return self._record("platform report", args, request_id, work)


def validity_warnings(pol: Policy, on: date) -> list[str]:
    """A proposal under a programme outside its document's period of validity
    is recorded, with a warning (issue 11; e.g. 001 §6.2: 2023-01-27 – 2025-01-26)."""
    v = pol.validity
    if v is None:
        return []
    if v.valid_from is not None and on < v.valid_from:
        return [
            f"policy {pol.id} ({pol.document}) is in force from {v.valid_from}; this proposal "
            f"is dated {on}, before it ({v.basis})"
        ]
    if v.until is not None and on > v.until:
        return [
            f"policy {pol.id} ({pol.document}) was valid until {v.until}; this proposal is "
            f"dated {on}, after it ({v.basis})"
        ]
    return []
