"""Policies as data: the rules of one programme, each citing its article.

A policy file (``ledger/policies/<id>.toml``) is validated into :class:`Policy`.
Code reads the rule and its ``basis``; it never hard-codes a number of years
or an amount.
"""

from __future__ import annotations

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


class Rule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    basis: str = Field(description="the article, e.g. '003 art. 25'")


class YearRange(Rule):
    min: int = Field(ge=1)
    max: int = Field(ge=1)


class RectificationRule(Rule):
    months: int = Field(ge=1, le=24, description="longest rectification period")


class EvaluationRule(Rule):
    cycle_years: int = Field(ge=1)
    grades: tuple[Grade, ...]
    # keqiao-co-built: this many `poor` grades in a row make a platform due for termination
    consecutive_poor_limit: int | None = None
    consecutive_poor_basis: str | None = None


class AnnualReportRule(Rule):
    due_month: int = Field(ge=1, le=12)
    due_day: int = Field(ge=1, le=31)


class FilingRule(Rule):
    """keqiao-co-built: the filing report is due within N months of the agreement."""

    months_after_agreement: int = Field(ge=1)


class LookBackRule(Rule):
    years: int = Field(ge=1)
    purposes: tuple[Scope, ...] = ("platform-application",)


class Consequence(BaseModel):
    """One consequence of a violation or a delisting, recorded as its own event."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    action: Literal["debar", "blacklist", "delist"]
    basis: str
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


class CentreComposition(Rule):
    """A centre led by a university or institute."""

    led_by: tuple[str, ...] = ("university", "institute")
    min_enterprise_co_builders: int
    max_core_co_builders: int


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
    grade: Grade | None = None  # for grade rewards


class Policy(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: str
    document: str  # "003"
    title: str
    title_zh: str
    kinds: tuple[str, ...] = ()  # kinds the programme covers (informational)
    construction_years: YearRange | None = None
    term_years: YearRange | None = None
    rectification: RectificationRule
    evaluation: EvaluationRule
    annual_report: AnnualReportRule | None = None
    filing: FilingRule | None = None
    look_back: LookBackRule | None = None
    consortium: ConsortiumComposition | None = None
    centre: CentreComposition | None = None
    violations: dict[str, tuple[Consequence, ...]] = Field(default_factory=dict)
    delistings: dict[str, tuple[Consequence, ...]] = Field(default_factory=dict)
    entitlements: tuple[Entitlement, ...] = ()
    no_double_benefit_basis: str | None = None  # 003 art. 28

    def entitlement_for(
        self, trigger: str, kind: str, *, level: str | None = None, grade: str | None = None
    ) -> Entitlement | None:
        for e in self.entitlements:
            if e.trigger != trigger or (e.kinds and kind not in e.kinds):
                continue
            if trigger == "upgrade" and e.level != level:
                continue
            if trigger == "evaluation" and e.grade != grade:
                continue
            return e
        return None
