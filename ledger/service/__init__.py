"""The application: `LedgerApp` (the event store) and `LedgerService`, one method
per command of CLI.md. Library errors are translated into the domain's error
hierarchy here; optimistic-concurrency conflicts are retried a bounded number
of times; `--request-id` makes a command idempotent."""

from __future__ import annotations

import hashlib
import json
import os
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    IntegrityError,
    JSONTranscoder,
    OperationalError,
    PersistenceError,
)

from aggregates.eligibility import LookBack, Reason, reasons_against, unit_facts
from aggregates.errors import (
    AlreadyExists,
    CompositionRuleBroken,
    Conflict,
    DatabaseUnavailable,
    DateOrder,
    Ineligible,
    InvalidInput,
    LedgerError,
    NotFound,
    PlatformNotFound,
    UnitNotFound,
)
from aggregates.platform import (
    Platform,
    check_centre,
    check_consortium,
    cycle_years,
    normalise_cycle,
    platform_id,
)
from aggregates.policy import Consequence, Policy
from aggregates.unit import Unit, unit_id
from aggregates.values import (
    ACTIVE_STATUSES,
    CATEGORIES,
    CHANGE_TYPES,
    DELIST_REASONS,
    FINAL_STATUSES,
    GRADES,
    KINDS,
    LEVELS,
    SCOPES,
    UNIT_TYPES,
    VIOLATION_KINDS,
    MemberInfo,
    Meta,
    add_months,
    check_choice,
    money_str,
    validate_credit_code,
    validate_platform_code,
)
from aggregates.voucher import Voucher, voucher_id
from ledger.policies import all_policies, load_policy, policy_for_violation
from ledger.store import db
from ledger.store.chain import RequestRecord, lookup_request
from ledger.store.codec import DateAsISO

log = structlog.get_logger()

MAX_ATTEMPTS = 10
# the first retry waits up to this long (random), each next one up to twice as
# long, at most half a second
RETRY_BACKOFF_S = 0.02
DEFAULT_POLICY = "lhasa-city"


def today() -> date:
    """Today, or `LEDGER_TODAY` for reproducible runs."""
    raw = os.environ.get("LEDGER_TODAY")
    if raw:
        try:
            return date.fromisoformat(raw)
        except ValueError:
            raise InvalidInput(f"invalid LEDGER_TODAY {raw!r}: expected YYYY-MM-DD") from None
    return date.today()


class LedgerApp(Application[UUID]):
    """The event-sourced application; its recorder is the hash-chained one."""

    name = "Ledger"

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())


@dataclass
class Result:
    """What a recording command recorded, for printing."""

    event: str
    code: str
    version: int
    id: str | None = None
    events: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    replayed: bool = False

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"event": self.event, "code": self.code, "version": self.version}
        if self.id is not None:
            out["id"] = self.id
        out["recorded"] = self.events
        if self.warnings:
            out["warnings"] = self.warnings
        if self.replayed:
            out["replayed"] = True
        return out

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Result:
        return cls(
            event=data["event"],
            code=data["code"],
            version=data["version"],
            id=data.get("id"),
            events=list(data.get("recorded", [])),
            warnings=list(data.get("warnings", [])),
            replayed=True,
        )


def _canon(value: Any) -> Any:
    if isinstance(value, (date, Decimal)):
        return str(value)
    if isinstance(value, dict):
        return {k: _canon(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_canon(v) for v in value]
    return value


def fingerprint(command: str, args: dict[str, Any]) -> str:
    blob = json.dumps(
        {"command": command, "args": _canon(args)}, sort_keys=True, ensure_ascii=False
    )
    return hashlib.sha256(blob.encode()).hexdigest()


def event_summary(agg: Aggregate, ev: Any) -> dict[str, Any]:
    kind = (
        "platform" if isinstance(agg, Platform) else "unit" if isinstance(agg, Unit) else "voucher"
    )
    code = getattr(agg, "code", None) or getattr(agg, "voucher", "")
    return {
        "aggregate": kind,
        "code": code,
        "version": ev.originator_version,
        "event": type(ev).__name__,
        "effective_on": ev.effective_on.isoformat() if hasattr(ev, "effective_on") else None,
        "basis": getattr(ev, "basis", None),
    }


class LedgerService:
    """One method per command. Every recording method validates, then records
    all the events it implies in one atomic save."""

    def __init__(self, db_url: str, *, check_ready: bool = True) -> None:
        self.cfg = db.parse_db_url(db_url)
        if check_ready:
            db.ensure_ready(self.cfg)
        try:
            self.app = LedgerApp(env=db.app_environment(self.cfg))
        except PersistenceError as e:
            raise DatabaseUnavailable(f"cannot open the database at {db_url}: {e}") from None
        self.after_write: list[Callable[[], None]] = []

    def close(self) -> None:
        self.app.close()

    # --- settings ------------------------------------------------------------

    @property
    def default_policy(self) -> Policy:
        return load_policy(db.get_setting(self.cfg, "default_policy") or DEFAULT_POLICY)

    # --- loading --------------------------------------------------------------

    def platform(self, code: str) -> Platform:
        validate_platform_code(code)
        try:
            agg: Aggregate = self.app.repository.get(platform_id(code))
        except AggregateNotFoundError:
            raise PlatformNotFound(code) from None
        if not isinstance(agg, Platform):  # pragma: no cover - ids are namespaced
            raise PlatformNotFound(code)
        return agg

    def unit(self, code: str) -> Unit:
        validate_credit_code(code)
        try:
            agg: Aggregate = self.app.repository.get(unit_id(code))
        except AggregateNotFoundError:
            raise UnitNotFound(code) from None
        if not isinstance(agg, Unit):  # pragma: no cover
            raise UnitNotFound(code)
        return agg

    def exists(self, ident: UUID) -> bool:
        return bool(self.app.recorder.select_events(ident, limit=1))

    # --- the recording machinery ---------------------------------------------------

    def meta(
        self,
        actor: str | None,
        on: date | None,
        *,
        doc_no: str | None = None,
        reason: str | None = None,
        basis: str | None = None,
        need_doc: bool = False,
        need_reason: bool = False,
    ) -> Meta:
        if not actor or not actor.strip():
            raise InvalidInput(
                "an actor is required to record: give --actor NAME or set LEDGER_ACTOR"
            )
        now = today()
        effective = on or now
        if effective > now:
            raise InvalidInput(f"the effective date {effective} is after today ({now})")
        if need_doc and not (doc_no and doc_no.strip()):
            raise InvalidInput("a document number is required (--doc-no)")
        if need_reason and not (reason and reason.strip()):
            raise InvalidInput("a reason is required (--reason)")
        return Meta(
            actor=actor.strip(),
            effective_on=effective,
            doc_no=doc_no,
            reason=reason,
            basis=basis,
            defaulted=on is None,
        )

    def _record(
        self,
        command: str,
        args: dict[str, Any],
        request_id: str | None,
        work: Callable[[], tuple[list[Aggregate], Result]],
    ) -> Result:
        fp = fingerprint(command, args)
        if request_id is not None:
            if not request_id.strip():
                raise InvalidInput("--request-id is empty")
            replay = self._replay(request_id, fp)
            if replay is not None:
                return replay
        for attempt in range(1, MAX_ATTEMPTS + 1):
            aggregates, result = work()
            pending = [(agg, ev) for agg in aggregates for ev in agg.pending_events]
            result.events = [event_summary(agg, ev) for agg, ev in pending]
            request = (
                RequestRecord(request_id, fp, json.dumps(result.as_json(), ensure_ascii=False))
                if request_id is not None
                else None
            )
            try:
                self.app.save(*aggregates, request=request)
            except IntegrityError as e:
                if request_id is not None:
                    replay = self._replay(request_id, fp)
                    if replay is not None:
                        return replay
                self._raise_if_voucher_taken(command, args)
                # routine under concurrent writers: said with -v, not on every
                # run's stderr (a refusal is one line; a success says nothing)
                log.info(
                    "concurrent write; retrying", command=command, attempt=attempt, error=str(e)
                )
                # back off with jitter, so writers racing on one aggregate spread out
                time.sleep(random.uniform(0, min(0.5, RETRY_BACKOFF_S * 2 ** (attempt - 1))))
                continue
            except OperationalError as e:
                raise DatabaseUnavailable(f"the database failed while recording: {e}") from None
            log.info("recorded", command=command, recorded=result.event, code=result.code)
            for hook in self.after_write:
                hook()
            return result
        raise Conflict(
            f"{command}: other writers kept changing the same records; gave up after "
            f"{MAX_ATTEMPTS} attempts, nothing was recorded — try again"
        )

    def _replay(self, request_id: str, fp: str) -> Result | None:
        prior = lookup_request(self.cfg, request_id)
        if prior is None:
            return None
        prior_fp, prior_result = prior
        if prior_fp != fp:
            raise Conflict(
                f"request id {request_id} was already used for a different command or arguments; "
                "nothing was recorded"
            )
        return Result.from_json(json.loads(prior_result))

    def _raise_if_voucher_taken(self, command: str, args: dict[str, Any]) -> None:
        if command == "funds disburse" and self.exists(voucher_id(str(args["voucher"]))):
            raise AlreadyExists(
                f"voucher {args['voucher']} is already used (one voucher, one payment, ledger-wide)"
            )

    # --- units ---------------------------------------------------------------------

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
            governing = load_policy(plat.policy) if plat else self.default_policy
            pol = policy_for_violation(kind, governing)
            vid = unit.record_violation(
                kind=kind,
                occurred_on=occurred_on,
                platform=platform,
                policy=pol.id if pol else governing.id,
                meta=meta,
            )
            touched: list[Aggregate] = [unit]
            warnings: list[str] = []
            if not no_policy and pol is not None:
                extra, warnings = self._apply_consequences(
                    unit,
                    plat,
                    pol.violations.get(kind, ()),
                    meta,
                    vid,
                    why=f"{kind} violation {vid}",
                )
                touched += [a for a in extra if a not in touched]
            elif not no_policy:
                warnings.append(f"no policy defines consequences for {kind}")
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
    ) -> Result:
        for s in scopes:
            check_choice(s, SCOPES, "debarment scope")
        if years not in (3, 5):
            raise InvalidInput(f"a debarment is for 3 or 5 years, not {years}")
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

        def work() -> tuple[list[Aggregate], Result]:
            unit = self.unit(code)
            did = unit.debar(
                years=years, start=start, scopes=scopes, violation=violation, meta=meta
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

    # --- eligibility (shared by rules and the query fallback) ----------------------------

    def eligibility_reasons(
        self, unit: Unit, purpose: str, on: date, policy: Policy | None = None
    ) -> list[Reason]:
        pol = policy or self.default_policy
        lb = pol.look_back
        debarments, blacklist, violations = unit_facts(unit)
        return reasons_against(
            purpose=purpose,
            on=on,
            debarments=debarments,
            blacklist=blacklist,
            violations=violations,
            look_back=LookBack(lb.years, lb.basis, tuple(lb.purposes)) if lb else None,
            led_consortia=unit.consortia_led_on(on),
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
    ) -> None:
        reasons = [
            r
            for r in self.eligibility_reasons(unit, purpose, on, policy)
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
    ) -> None:
        """A unit taking its place on a platform (at approval, or by an approved
        change): its debarments and blacklist on the date bar it from
        `platform-application` (003 annex: 依托单位、联合共建单位); a consortium's
        lead (``lead_role``) also from `consortium-lead`; a consortium member
        (``member_role``) may not be debarred from consortia ("core member",
        002 §5.2). The look-back is about filing, so it is not applied here."""
        standing = ("debarment", "blacklist")
        self._require_eligible(unit, "platform-application", on, policy, role=role, rules=standing)
        if lead_role is not None:
            self._require_eligible(
                unit, "consortium-lead", on, policy, role=lead_role, rules=standing
            )
        if member_role is not None:
            self._require_eligible(
                unit, "consortium-lead", on, policy, role=member_role, rules=("debarment",)
            )

    # --- platforms -----------------------------------------------------------------------

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
                host_unit, "platform-application", meta.effective_on, pol, role="host"
            )
            # 003 annex: 依托单位、联合共建单位申报前2年无失信和学术不端行为 — the
            # co-builders apply with the host, and are screened the same way
            for m in members:
                self._require_eligible(
                    m, "platform-application", meta.effective_on, pol, role="co-builder"
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
                filing_due = add_months(agreement_on, pol.filing.months_after_agreement)
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
            warnings = []
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
            consortium_rule, centre_rule, term_rule = composition_rules(pol)
            # every unit's standing on the approval date: a ban or a blacklisting
            # that came after the proposal, or a co-builder brought in by a
            # change, still stops the approval
            consortium = plat.kind == "innovation-consortium"
            self._screen_joining(
                host, meta.effective_on, pol, "host", lead_role="lead" if consortium else None
            )
            for m in members[1:]:
                self._screen_joining(
                    m,
                    meta.effective_on,
                    pol,
                    "co-builder",
                    member_role="member" if consortium else None,
                )
            # one consortium per lead at a time (002 §3.2): any other consortium
            # the lead leads on or after the approval date
            others = [p for p in host.consortia_led_from(meta.effective_on) if p != code]
            plat.approve(
                meta,
                policy=pol,
                construction_years=construction_years,
                term_years=term_years,
                term_rule=term_rule if plat.kind == "co-built-platform" else pol.term_years,
                members=infos,
                consortium_rule=consortium_rule,
                centre_rule=centre_rule,
                lead_other_consortia=others,
            )
            touched: list[Aggregate] = [plat]
            if plat.kind == "innovation-consortium":
                host.assume_consortium_lead(code, meta)
                touched.append(host)
            ent = pol.entitlement_for("approval", plat.kind)
            if ent is not None:
                plat.earn_entitlement(ent.key, ent.category, ent.amount, ent.basis, meta)
            return touched, Result("Approved", code, plat.version)

        return self._record("platform approve", args, request_id, work)

    def _simple(
        self,
        command: str,
        code: str,
        event: str,
        meta: Meta,
        request_id: str | None,
        extra: dict[str, Any],
        action: Callable[[Platform], list[Aggregate]],
        warnings: list[str] | None = None,
    ) -> Result:
        """``warnings``: filled by ``action`` on each attempt, printed with the result."""
        args = {"code": code, "meta": meta.fingerprint(), **extra}

        def work() -> tuple[list[Aggregate], Result]:
            plat = self.platform(code)
            touched = [plat, *action(plat)]
            return touched, Result(event, code, plat.version, warnings=list(warnings or []))

        return self._record(command, args, request_id, work)

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
                    warnings.append(
                        f"no {ent.key}: cycle {normalise_cycle(cycle)} overlaps "
                        f"{earlier}, which already earned one; one reward per evaluation "
                        f"cycle ({ent.basis}; {pol.no_double_benefit_basis or 'SPEC §6'})"
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
            p.rectify(
                passed,
                meta,
                basis=pol.rectification.basis
                if passed or failed_rule is None
                else failed_rule.basis,
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
        consequences = pol.delistings.get(reason_code, ())
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
            p.upgrade(level, meta)
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

    # --- change requests ----------------------------------------------------------------

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
            members = {plat.host, *plat.co_builders}
            if (
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
                        basis="002 §5.1",
                    )
            pol = load_policy(plat.policy)
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
                            basis="002 §3.2",
                        )
                if consortium and active:
                    # the lead tracking moves (a proposal has none yet)
                    old = self.unit(plat.host)
                    old.release_consortium_lead(plat.code, meta)
                    new_host.assume_consortium_lead(plat.code, meta)
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
        consortium_rule, centre_rule, _ = composition_rules(load_policy(plat.policy))
        if plat.kind == "innovation-consortium" and consortium_rule is not None:
            check_consortium(host, infos, consortium_rule, [])
        if plat.kind == "tech-innovation-center" and centre_rule is not None:
            check_centre(host, infos, centre_rule)

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

    # --- funds ----------------------------------------------------------------------------

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
            active_debarments = [
                d for d in host.debarments.values() if d.active_on(meta.effective_on)
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
            plat.disburse(category, fiscal_year, amount, voucher, meta, flags)
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
            basis="004 §4.3",
        )
        return self._simple(
            "funds suspend",
            code,
            "FundingSuspended",
            meta,
            request_id,
            {},
            _only(lambda p: p.suspend_funding(meta)),
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
        meta = self.meta(actor, on, doc_no=doc_no, reason=reason, need_doc=True, basis="004 §4.3")
        return self._simple(
            "funds resume",
            code,
            "FundingResumed",
            meta,
            request_id,
            {},
            _only(lambda p: p.resume_funding(meta)),
        )

    # --- reading every event (for replays, exports and read-model rebuilds) -----------------

    def all_codes(self) -> Iterator[tuple[str, Any]]:
        """Every notification in order, decoded: (topic, domain event)."""
        start = 1
        while True:
            batch = self.app.recorder.select_notifications(start, 500)
            if not batch:
                return
            for n in batch:
                yield n.topic, self.app.mapper.to_domain_event(n)
            start = batch[-1].id + 1


def _only(action: Callable[[Platform], None]) -> Callable[[Platform], list[Aggregate]]:
    """An action on the platform alone (no other aggregate touched)."""

    def run(p: Platform) -> list[Aggregate]:
        action(p)
        return []

    return run


def check_fiscal_year(year: int) -> int:
    if not 1990 <= year <= 2100:
        raise InvalidInput(f"invalid fiscal year {year}: expected a year such as 2026")
    return year


def composition_rules(pol: Policy) -> tuple[Any, Any, Any]:
    """Composition rules apply by platform kind, wherever the platform's policy is:
    the platform's own policy's rule first, else the policy that defines one."""
    policies = [pol, *[p for p in all_policies().values() if p.id != pol.id]]
    consortium = next((p.consortium for p in policies if p.consortium), None)
    centre = next((p.centre for p in policies if p.centre), None)
    # the co-built term (004 §3.1), not a consortium's formation period (002 §3.2)
    term = next(
        (p.term_years for p in policies if p.term_years and "co-built-platform" in p.kinds), None
    )
    return consortium, centre, term


@contextmanager
def service(db_url: str) -> Iterator[LedgerService]:
    svc = LedgerService(db_url)
    try:
        yield svc
    finally:
        svc.close()


__all__ = ["LedgerError", "LedgerService", "Result", "service", "today"]
