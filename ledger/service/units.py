"""Units and integrity: registering and renaming a unit, recording a
violation and applying its policy consequences (a debarment, the blacklist, a
delisting), debarring and lifting, the integrity blacklist."""

from __future__ import annotations

from datetime import date

from eventsourcing.domain import Aggregate

from aggregates.errors import AlreadyExists, DateOrder, Ineligible, InvalidInput
from aggregates.meta import Meta
from aggregates.platform import Platform
from aggregates.policy import Consequence
from aggregates.unit import Unit, unit_id
from aggregates.values import (
    ACTIVE_STATUSES,
    DEBARMENT_YEARS,
    DEBARMENT_YEARS_TEXT,
    SCOPES,
    UNIT_TYPES,
    VIOLATION_KINDS,
    check_choice,
    validate_credit_code,
)
from ledger.policies import load_policy
from ledger.service.core import Result, ServiceCore


class UnitCommands(ServiceCore):
    """The unit and integrity commands (`ledger unit ...`)."""

    def register_unit(
        self,
        code: str,
        *,
        name: str,
        unit_type: str,
        high_tech: bool,
        aliases: list[str],
        actor: str | None,
        on: date | None = None,
        doc_no: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        validate_credit_code(code)
        check_choice(unit_type, UNIT_TYPES, "unit type")
        if not name.strip():
            raise InvalidInput("a unit needs a name (--name)")
        meta = self.meta(actor, on, doc_no=doc_no)
        args = {
            "code": code,
            "name": name,
            "type": unit_type,
            "high_tech": high_tech,
            "aliases": aliases,
            "meta": meta.fingerprint(),
        }

        def work() -> tuple[list[Aggregate], Result]:
            if self.exists(unit_id(code)):
                raise AlreadyExists(f"unit {code} is already registered")
            unit = Unit(
                code=code,
                name=name.strip(),
                unit_type=unit_type,
                high_tech=high_tech,
                aliases=[a.strip() for a in aliases if a.strip()],
                **meta.fields(),
            )
            return [unit], Result("Registered", code, unit.version)

        return self._record("unit register", args, request_id, work)

    def rename_unit(
        self,
        code: str,
        *,
        name: str,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        reason: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)
        args = {"code": code, "name": name, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            unit = self.unit(code)
            unit.rename(name.strip(), meta)
            return [unit], Result("Renamed", code, unit.version)

        return self._record("unit rename", args, request_id, work)

    def record_violation(
        self,
        code: str,
        *,
        kind: str,
        occurred_on: date,
        doc_no: str | None,
        actor: str | None,
        on: date | None = None,
        platform: str | None = None,
        reason: str | None = None,
        no_policy: bool = False,
        request_id: str | None = None,
    ) -> Result:
        check_choice(kind, VIOLATION_KINDS, "violation kind")
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True)
        if occurred_on > meta.effective_on:
            raise InvalidInput(
                f"the violation occurred on {occurred_on}, "
                f"after it was found on {meta.effective_on}"
            )
        args = {
            "code": code,
            "kind": kind,
            "occurred_on": occurred_on,
            "platform": platform,
            "no_policy": no_policy,
            "meta": meta.fingerprint(),
        }

        def work() -> tuple[list[Aggregate], Result]:
            unit = self.unit(code)
            plat = self.platform(platform) if platform else None
            if plat is not None and unit.code not in plat.units_ever:
                raise Ineligible(
                    f"unit {unit.code} has never been the host or a co-builder of platform "
                    f"{plat.code}; name the platform concerned, or leave --platform out",
                    rule="platform-concerned",
                    basis="SPEC §7",
                )
            # the governing programme only (SPEC §2.1): the platform's, or the
            # ledger's default for a finding that names none; nothing is borrowed
            pol = load_policy(plat.policy) if plat else self.default_policy
            vid = unit.record_violation(
                kind=kind, occurred_on=occurred_on, platform=platform, policy=pol.id, meta=meta
            )
            touched: list[Aggregate] = [unit]
            warnings: list[str] = []
            consequences = pol.consequences(pol.violations, kind)
            if not no_policy and consequences:
                extra, warnings = self._apply_consequences(
                    unit, plat, consequences, meta, vid, why=f"{kind} violation {vid}"
                )
                touched += [a for a in extra if a not in touched]
            elif not no_policy:
                unnamed = pol.violations_unnamed
                text = unnamed.text if unnamed else "record any consequence by hand"
                cite = f" ({unnamed.basis})" if unnamed and unnamed.basis else ""
                warnings.append(
                    f"policy {pol.id} ({pol.document}) names no consequence for a {kind} "
                    f"finding: {text}{cite}"
                )
            result = Result("ViolationRecorded", code, unit.version, id=vid, warnings=warnings)
            return touched, result

        return self._record("unit violation", args, request_id, work)

    def _apply_consequences(
        self,
        unit: Unit,
        plat: Platform | None,
        consequences: tuple[Consequence, ...],
        meta: Meta,
        violation: str | None,
        *,
        why: str,
    ) -> tuple[list[Aggregate], list[str]]:
        touched: list[Aggregate] = []
        warnings: list[str] = []
        for c in consequences:
            cmeta = meta.derived(basis=c.basis, reason=f"{why}: consequence under {c.basis}")
            if c.host_only and plat is not None and plat.host != unit.code:
                warnings.append(
                    f"unit {unit.code} is not the lead (host) of {plat.code}: no {c.action} "
                    f"under {c.basis}, which concerns the lead"
                )
                continue
            if c.action == "debar" and c.years:
                unit.debar(
                    years=c.years,
                    start=meta.effective_on,
                    scopes=list(c.scopes),
                    violation=violation,
                    meta=cmeta,
                    policy=c.programme,
                )
            elif c.action == "blacklist":
                try:
                    unit.add_to_blacklist(violation=violation, meta=cmeta)
                except (AlreadyExists, DateOrder) as e:
                    # on the blacklist already (now, or over the finding's date):
                    # the finding is recorded; the entry that stands covers it
                    warnings.append(f"not blacklisted again: {e.message}")
            elif c.action == "delist":
                if plat is None:
                    continue
                if c.kinds and plat.kind not in c.kinds:
                    warnings.append(
                        f"platform {plat.code} is a {plat.kind}, not a {' or '.join(c.kinds)}; "
                        f"it was not delisted ({c.basis})"
                    )
                elif plat.status not in ACTIVE_STATUSES:
                    warnings.append(
                        f"platform {plat.code} is {plat.status}; it was not delisted ({c.basis})"
                    )
                elif meta.effective_on < plat.last_state_on:
                    warnings.append(
                        f"platform {plat.code} was not delisted: its last change of state was "
                        f"effective {plat.last_state_on}, after this finding; record the "
                        f"delisting with `ledger platform delist` dated on or after that "
                        f"({c.basis})"
                    )
                else:
                    plat.delist(c.reason_code or "other", cmeta, violation=violation)
                    touched.append(plat)
                    touched += self._release_lead(plat, cmeta, unit)
        return touched, warnings

    def _release_lead(
        self, plat: Platform, meta: Meta, loaded: Unit | None = None
    ) -> list[Aggregate]:
        if plat.kind != "innovation-consortium":
            return []
        # the lead may be the unit already being changed (a consortium breach):
        # one instance, or the save collides with itself
        lead = loaded if loaded is not None and loaded.code == plat.host else self.unit(plat.host)
        lead.release_consortium_lead(plat.code, meta)
        return [lead] if lead.pending_events else []

    def debar(
        self,
        code: str,
        *,
        years: int,
        start: date,
        scopes: list[str],
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        basis: str | None = None,
        violation: str | None = None,
        on: date | None = None,
        request_id: str | None = None,
        policy: str | None = None,
    ) -> Result:
        """``policy``: the programme imposing it (SPEC §2.1); None: ledger-wide."""
        for s in scopes:
            check_choice(s, SCOPES, "debarment scope")
        programme = load_policy(policy).id if policy else None
        if years not in DEBARMENT_YEARS:
            raise InvalidInput(f"a debarment is for {DEBARMENT_YEARS_TEXT} years, not {years}")
        meta = self.meta(
            actor,
            on,
            doc_no=doc_no,
            reason=reason,
            basis=basis,
            need_doc=True,
            need_reason=True,
        )
        args = {
            "code": code,
            "years": years,
            "start": start,
            "scopes": scopes,
            "violation": violation,
            "meta": meta.fingerprint(),
        }
        if programme is not None:  # (absent: the same request as before programmes)
            args["policy"] = programme

        def work() -> tuple[list[Aggregate], Result]:
            unit = self.unit(code)
            did = unit.debar(
                years=years,
                start=start,
                scopes=scopes,
                violation=violation,
                meta=meta,
                policy=programme,
            )
            return [unit], Result("Debarred", code, unit.version, id=did)

        return self._record("unit debar", args, request_id, work)

    def lift(
        self,
        code: str,
        debarment_id: str,
        *,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True, need_reason=True)
        args = {"code": code, "debarment": debarment_id, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            unit = self.unit(code)
            did = unit.lift(debarment_id, meta)
            return [unit], Result("DebarmentLifted", code, unit.version, id=did)

        return self._record("unit lift", args, request_id, work)

    def blacklist(
        self,
        code: str,
        *,
        doc_no: str | None,
        reason: str | None,
        actor: str | None,
        on: date | None = None,
        basis: str | None = None,
        request_id: str | None = None,
    ) -> Result:
        meta = self.meta(
            actor, on, doc_no=doc_no, reason=reason, basis=basis, need_doc=True, need_reason=True
        )
        args = {"code": code, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            unit = self.unit(code)
            eid = unit.add_to_blacklist(violation=None, meta=meta)
            return [unit], Result("Blacklisted", code, unit.version, id=eid)

        return self._record("unit blacklist", args, request_id, work)

    def unblacklist(
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
        args = {"code": code, "meta": meta.fingerprint()}

        def work() -> tuple[list[Aggregate], Result]:
            unit = self.unit(code)
            eid = unit.remove_from_blacklist(meta)
            return [unit], Result("Unblacklisted", code, unit.version, id=eid)

        return self._record("unit unblacklist", args, request_id, work)
