"""Policies as data: the rules of one programme, each citing its article.

A policy file (``ledger/policies/<id>.toml``) is validated into :class:`Policy`.
Code reads the rule and its ``basis``; it never hard-codes a number of years
or an amount.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from aggregates.values import DEBARMENT_YEARS, DEBARMENT_YEARS_TEXT

Scope = Literal["platform-application", "consortium-lead", "project-application"]
Grade = Literal["excellent", "good", "qualified", "poor"]
DelistReason = Literal[
    "failed-rectification",
    "no-show",
    "withdrawal",
    "fraud",
    "misconduct",
    "accident",
    "terminated",
    "other",
]


# The programme of each policy document, for debarments stored before they carried
# their programme (issue 11: "their programme is the one whose article their basis
# cites; ledger-wide when none"). Fixed: it reads what the previous releases
# recorded; tests/policies/test_policies.py checks it against the policy files.
RECORDED_DOCUMENT_PROGRAMMES: dict[str, str] = {
    "000": "xinjiang-high-energy",
    "001": "xinjiang-tic",
    "002": "xinjiang-consortium",
    "003": "lhasa-city",
    "004": "keqiao-co-built",
}


def recorded_programme(basis: str | None) -> str | None:
    """The programme a recorded basis cites (``"003 art. 24"`` → ``lhasa-city``);
    None (ledger-wide) for no basis or another source (``SPEC §7``)."""
    if not basis or not basis.strip():
        return None
    return RECORDED_DOCUMENT_PROGRAMMES.get(basis.strip().split(" ", 1)[0])


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    basis: str = Field(description="the article, e.g. '003 art. 25'")


class YearRange(Rule):
    min: int = Field(ge=1)
    max: int = Field(ge=1)
    # the approval must name the period (000 art. 22: construction; 002 §3.2: term)
    required: bool = False
    # the floor is a rule, not only "as a rule" (002 §3.2 组建期为3-5年)
    enforce_min: bool = False
    # its end is watched: `compliance overdue` lists it, payments after it are
    # flagged, a consortium's lead is free after it (004 §3.1, 002 §3.2)
    watch: bool = False


class AcceptanceRule(Rule):
    """Acceptance falls due when construction ends (000 art. 22)."""


RectificationTrigger = Literal["failed-acceptance", "poor"]


class RectificationRule(Rule):
    months: int = Field(ge=1, le=24, description="longest rectification period")
    # what opens a rectification under this programme (000: a failed
    # acceptance only; 001, 003, 004: a poor grade only)
    on: tuple[RectificationTrigger, ...] = ("failed-acceptance", "poor")


class EvaluationRule(Rule):
    cycle_years: int = Field(ge=1)
    grades: tuple[Grade, ...]
    # false: a yearly review with no graded consequence (000 art. 25, 002 §5.2);
    # a `poor` result opens no rectification
    graded: bool = True
    # the first evaluation only after this many months of operation (004 §4.3 满一年)
    first_after_months: int | None = None
    # evaluations fall due each cycle from the approval; `compliance overdue` lists them
    watch: bool = False
    # keqiao-co-built: this many `poor` grades in a row make a platform due for termination
    consecutive_poor_limit: int | None = None
    consecutive_poor_basis: str | None = None


class AnnualReportRule(Rule):
    due_month: int = Field(ge=1, le=12)
    due_day: int = Field(ge=1, le=31)
    # only years in which the platform was in this status on the due date
    # (000 art. 23 进入运行期的平台); None: every year from the filing
    from_status: str | None = None


class FilingRule(Rule):
    """keqiao-co-built: the filing report is due within N months of the agreement."""

    months_after_agreement: int = Field(ge=1)


class LookBackRule(Rule):
    years: int = Field(ge=1)
    purposes: tuple[Scope, ...] = ("platform-application",)
    # the findings that count (003 annex 失信和学术不端); empty: every kind
    violation_kinds: tuple[str, ...] = ()
    # the platform kinds whose conditions carry it; empty: every kind
    platform_kinds: tuple[str, ...] = ()


class Validity(BaseModel):
    """The period the programme's document is in force, where it states one."""

    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)
    valid_from: date | None = Field(default=None, alias="from")
    until: date | None = None
    basis: str
    note: str | None = None


class UnnamedConsequence(BaseModel):
    """A finding the programme's document names no consequence for (001 §5.5
    按有关规定处理; 000 and 004 have no integrity clause): recorded with a warning."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    basis: str | None = None
    text: str


CompositionKind = Literal["lead-type", "lead-region", "min-co-builders", "max-co-builders"]


class CompositionRule(Rule):
    """One composition condition of the programme, checked at approval and at an
    approved member change. Only the governing programme's rules apply (SPEC §2.1)."""

    rule: CompositionKind
    kinds: tuple[str, ...] = ()  # platform kinds it applies to; empty: every kind
    when_lead_types: tuple[str, ...] = ()  # only when the lead is of these types
    types: tuple[str, ...] = ()  # lead types (lead-type), or co-builder types counted
    # the credit code's registering-authority division (characters 3 on): "65" = Xinjiang
    division_prefix: str | None = None
    min: int | None = None
    max: int | None = None
    text: str  # what it requires, in words, for the refusal
    # recorded with a warning instead of refused (what the ledger can only
    # presume, e.g. registration in Lhasa from the credit code, 003 annex)
    warn: bool = False


class Consequence(BaseModel):
    """One consequence of a violation or a delisting, recorded as its own event."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    action: Literal["debar", "blacklist", "delist"]
    basis: str
    # the programme that imposes it (SPEC §2.1); default: the file's own id
    programme: str | None = None
    years: int | None = None
    scopes: tuple[Scope, ...] = ()
    reason_code: DelistReason | None = None  # for action = delist
    # for action = delist: the platform kinds it applies to (empty: every kind);
    # host_only: when the finding names a platform, only its host (lead) brings
    # the consequence on
    kinds: tuple[str, ...] = ()
    host_only: bool = False

    @field_validator("years")
    @classmethod
    def _years(cls, v: int | None) -> int | None:
        if v is not None and v not in DEBARMENT_YEARS:
            raise ValueError(f"a debarment is for {DEBARMENT_YEARS_TEXT} years")
        return v


class ConsortiumComposition(Rule):
    min_members: int
    min_enterprise_share: Decimal
    min_high_tech_share: Decimal
    one_consortium_per_lead: bool = True
    one_consortium_basis: str | None = None  # 002 §3.2


class Entitlement(BaseModel):
    """A fixed amount a policy grants: filing support, an upgrade reward, a grade reward."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    key: Literal["filing-support", "upgrade-reward", "grade-reward"]
    trigger: Literal["approval", "upgrade", "evaluation"]
    category: Literal["subsidy", "reward"]
    amount: Decimal
    basis: str
    kinds: tuple[str, ...] = ()  # empty: every kind
    level: str | None = None  # for upgrade rewards: the level reached
    levels: tuple[str, ...] = ()  # for filing support: the filing levels (003 art. 15 市级)
    grade: Grade | None = None  # for grade rewards


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    document: str  # "003"
    title: str
    title_zh: str
    kinds: tuple[str, ...] = ()  # kinds the programme covers
    kinds_basis: str | None = None  # the article that says so: the kinds are binding
    validity: Validity | None = None
    construction_years: YearRange | None = None
    acceptance: AcceptanceRule | None = None
    term_years: YearRange | None = None
    rectification: RectificationRule | None = None
    evaluation: EvaluationRule
    annual_report: AnnualReportRule | None = None
    filing: FilingRule | None = None
    look_back: LookBackRule | None = None
    consortium: ConsortiumComposition | None = None
    composition: tuple[CompositionRule, ...] = ()
    violations: dict[str, tuple[Consequence, ...]] = Field(default_factory=dict)
    violations_unnamed: UnnamedConsequence | None = None
    delistings: dict[str, tuple[Consequence, ...]] = Field(default_factory=dict)
    entitlements: tuple[Entitlement, ...] = ()
    no_double_benefit_basis: str | None = None  # 003 art. 28
    upgrade_basis: str | None = None  # 003 art. 16
    # a member change needs every member's consent (002 §5.1 经创新联合体全体成员同意)
    member_consent_basis: str | None = None
    funding_suspension_basis: str | None = None  # 004 §4.3

    def consequences(
        self, table: dict[str, tuple[Consequence, ...]], key: str
    ) -> tuple[Consequence, ...]:
        """The consequences of `key`, each carrying this programme's id."""
        return tuple(
            c if c.programme else c.model_copy(update={"programme": self.id})
            for c in table.get(key, ())
        )

    def rectifies_on(self, trigger: str) -> RectificationRule | None:
        r = self.rectification
        return r if r is not None and trigger in r.on else None

    def covers(self, kind: str) -> bool:
        return not self.kinds or kind in self.kinds

    def entitlement_for(
        self, trigger: str, kind: str, *, level: str | None = None, grade: str | None = None
    ) -> Entitlement | None:
        for e in self.entitlements:
            if e.trigger != trigger or (e.kinds and kind not in e.kinds):
                continue
            if trigger == "upgrade" and e.level != level:
                continue
            if trigger == "approval" and e.levels and level not in e.levels:
                continue
            if trigger == "evaluation" and e.grade != grade:
                continue
            return e
        return None
