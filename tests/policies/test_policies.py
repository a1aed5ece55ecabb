"""The five policy files: they load, every rule cites its article, and the numbers
are the documents' numbers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from pydantic import BaseModel

from aggregates.errors import InvalidInput
from aggregates.policy import Consequence, Policy
from cli import exit_code
from ledger.policies import (
    all_policies,
    composition_rules,
    load_policy,
    policy_for_violation,
    policy_ids,
)

IDS = (
    "xinjiang-high-energy",
    "xinjiang-tic",
    "xinjiang-consortium",
    "lhasa-city",
    "keqiao-co-built",
)
DOCUMENTS = {
    "xinjiang-high-energy": "000",
    "xinjiang-tic": "001",
    "xinjiang-consortium": "002",
    "lhasa-city": "003",
    "keqiao-co-built": "004",
}
KINDS = {
    "high-energy-platform",
    "tech-innovation-center",
    "innovation-consortium",
    "engineering-research-center",
    "key-laboratory",
    "clinical-research-center",
    "field-station",
    "new-rd-institution",
    "co-built-platform",
}
VIOLATION_KINDS = {
    "false-materials",
    "academic-misconduct",
    "ip-violation",
    "safety-accident",
    "environmental-accident",
    "biosafety-accident",
    "task-default",
    "consortium-breach",
    "illegal-conduct",
}
BASIS = re.compile(r"^\d{3} (art\. \d+|§[\d.]+|annex)")


def _bases(model: BaseModel) -> list[str]:
    """Every ``basis`` / ``*_basis`` string anywhere in a model."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if name == "basis" or name.endswith("_basis"):
            if value is not None:
                found.append(value)
        elif isinstance(value, BaseModel):
            found.extend(_bases(value))
        elif isinstance(value, tuple):
            found.extend(b for v in value if isinstance(v, BaseModel) for b in _bases(v))
        elif isinstance(value, dict):
            for consequences in value.values():
                found.extend(b for c in consequences for b in _bases(c))
    return found


def _amount(policy: Policy, trigger: str, kind: str, **kw: str) -> Decimal | None:
    e = policy.entitlement_for(trigger, kind, **kw)
    return None if e is None else e.amount


# --- every file ----------------------------------------------------------------


def test_the_five_policies_ship_in_document_order() -> None:
    assert policy_ids() == IDS
    assert tuple(all_policies()) == IDS


@pytest.mark.parametrize("policy_id", IDS)
def test_each_file_loads_validates_and_names_its_document(policy_id: str) -> None:
    policy = load_policy(policy_id)
    assert isinstance(policy, Policy)
    assert policy.id == policy_id
    assert policy.document == DOCUMENTS[policy_id]
    assert policy.title and policy.title_zh
    assert policy.kinds and set(policy.kinds) <= KINDS
    assert load_policy(policy_id) is policy  # cached


@pytest.mark.parametrize("policy_id", IDS)
def test_every_rule_cites_an_article_of_its_own_document(policy_id: str) -> None:
    policy = load_policy(policy_id)
    bases = _bases(policy)
    assert bases, "a policy with no rules"
    for basis in bases:
        assert BASIS.match(basis), basis
        assert basis.startswith(policy.document + " "), basis


@pytest.mark.parametrize("policy_id", IDS)
def test_violation_rules_are_well_formed(policy_id: str) -> None:
    policy = load_policy(policy_id)
    assert set(policy.violations) <= VIOLATION_KINDS
    for consequences in (*policy.violations.values(), *policy.delistings.values()):
        assert consequences
        for c in consequences:
            if c.action == "debar":
                assert c.years in (3, 5) and c.scopes
            if c.action == "delist":
                assert c.reason_code is not None


@pytest.mark.parametrize("policy_id", IDS)
def test_entitlements_are_positive_money_for_covered_kinds(policy_id: str) -> None:
    policy = load_policy(policy_id)
    for e in policy.entitlements:
        assert e.amount > 0 and e.amount == e.amount.quantize(Decimal("0.01"))
        assert set(e.kinds) <= set(policy.kinds)
        if e.trigger == "evaluation":
            assert e.grade in policy.evaluation.grades


def test_an_unknown_policy_is_invalid_input_naming_the_known_ones() -> None:
    with pytest.raises(InvalidInput) as caught:
        load_policy("nowhere")
    assert exit_code(caught.value) == 2
    assert "unknown policy nowhere" in str(caught.value)
    assert "lhasa-city" in str(caught.value)


# --- xinjiang-high-energy (000) --------------------------------------------------


def test_high_energy_construction_2_to_3_years_then_one_year_rectification() -> None:
    p = load_policy("xinjiang-high-energy")
    assert p.construction_years is not None
    assert (p.construction_years.min, p.construction_years.max) == (2, 3)
    assert p.construction_years.basis == "000 art. 22"
    assert (p.rectification.months, p.rectification.basis) == (12, "000 art. 22")
    assert p.annual_report is None  # "每年年末" sets no date
    assert p.violations == {} and p.entitlements == ()


# --- xinjiang-tic (001) ------------------------------------------------------------


def test_tic_three_year_cycle_has_no_qualified_grade() -> None:
    p = load_policy("xinjiang-tic")
    assert p.evaluation.cycle_years == 3
    assert p.evaluation.grades == ("excellent", "good", "poor")
    assert "qualified" not in p.evaluation.grades
    assert p.evaluation.basis == "001 §5.3"
    assert (p.rectification.months, p.rectification.basis) == (12, "001 §5.4")


def test_tic_grade_rewards() -> None:
    p = load_policy("xinjiang-tic")
    kind = "tech-innovation-center"
    assert _amount(p, "evaluation", kind, grade="excellent") == Decimal("2000000.00")
    assert _amount(p, "evaluation", kind, grade="good") == Decimal("1000000.00")
    assert _amount(p, "evaluation", kind, grade="poor") is None
    e = p.entitlement_for("evaluation", kind, grade="excellent")
    assert e is not None and e.category == "reward" and e.basis == "001 §5.3"


def test_tic_centre_composition() -> None:
    centre = load_policy("xinjiang-tic").centre
    assert centre is not None
    assert centre.min_enterprise_co_builders == 2
    assert centre.max_core_co_builders == 5
    assert set(centre.led_by) == {"university", "institute"}
    assert centre.basis == "001 §3.3"


# --- xinjiang-consortium (002) -----------------------------------------------------


def test_consortium_composition() -> None:
    rule = load_policy("xinjiang-consortium").consortium
    assert rule is not None
    assert rule.min_members == 5
    assert rule.min_enterprise_share == Decimal("0.5")
    assert rule.min_high_tech_share == Decimal("0.2")
    assert rule.one_consortium_per_lead
    assert rule.basis == "002 §2.2.1"


def test_consortium_breach_terminates_and_bars_leading_for_3_years() -> None:
    p = load_policy("xinjiang-consortium")
    assert p.violations["consortium-breach"] == (
        Consequence(
            action="delist",
            basis="002 §5.2",
            reason_code="terminated",
            kinds=("innovation-consortium",),
            host_only=True,
        ),
        Consequence(
            action="debar",
            basis="002 §5.2",
            years=3,
            scopes=("consortium-lead",),
            host_only=True,
        ),
    )
    assert p.violations["illegal-conduct"] == (Consequence(action="blacklist", basis="002 §5.2"),)
    assert p.term_years is not None
    assert (p.term_years.min, p.term_years.max, p.term_years.basis) == (3, 5, "002 §3.2")


# --- lhasa-city (003) --------------------------------------------------------------


def test_lhasa_look_back_annual_report_and_cycle() -> None:
    p = load_policy("lhasa-city")
    assert p.look_back is not None
    assert p.look_back.years == 2
    assert p.look_back.purposes == ("platform-application",)
    assert p.look_back.basis == "003 annex"
    assert p.annual_report is not None
    assert (p.annual_report.due_month, p.annual_report.due_day) == (11, 30)
    assert p.annual_report.basis == "003 art. 20"
    assert p.evaluation.cycle_years == 3
    assert p.evaluation.grades == ("excellent", "good", "qualified", "poor")
    assert (p.rectification.months, p.rectification.basis) == (12, "003 art. 24")
    assert p.no_double_benefit_basis == "003 art. 28"


@pytest.mark.parametrize(
    ("kind", "reason", "years"),
    [
        ("false-materials", "fraud", 3),
        ("academic-misconduct", "misconduct", 5),
        ("ip-violation", "misconduct", 5),
        ("safety-accident", "accident", 5),
        ("environmental-accident", "accident", 5),
        ("biosafety-accident", "accident", 5),
    ],
)
def test_lhasa_violations_delist_and_debar(kind: str, reason: str, years: int) -> None:
    assert load_policy("lhasa-city").violations[kind] == (
        Consequence(action="delist", basis="003 art. 25", reason_code=reason),
        Consequence(
            action="debar", basis="003 art. 25", years=years, scopes=("platform-application",)
        ),
    )


def test_lhasa_task_default_blacklists() -> None:
    assert load_policy("lhasa-city").violations["task-default"] == (
        Consequence(action="blacklist", basis="003 art. 25"),
    )


@pytest.mark.parametrize("reason", ["failed-rectification", "no-show", "withdrawal"])
def test_lhasa_delisting_bars_the_host_3_years(reason: str) -> None:
    assert load_policy("lhasa-city").delistings[reason] == (
        Consequence(action="debar", basis="003 art. 24", years=3, scopes=("platform-application",)),
    )


@pytest.mark.parametrize(
    ("kind", "amount"),
    [
        ("engineering-research-center", "200000"),
        ("field-station", "200000"),
        ("key-laboratory", "500000"),
        ("tech-innovation-center", "500000"),
        ("clinical-research-center", "500000"),
        ("new-rd-institution", "500000"),
    ],
)
def test_lhasa_filing_support(kind: str, amount: str) -> None:
    p = load_policy("lhasa-city")
    e = p.entitlement_for("approval", kind)
    assert e is not None
    assert (e.key, e.category, e.amount, e.basis) == (
        "filing-support",
        "subsidy",
        Decimal(amount),
        "003 art. 15",
    )


def test_lhasa_upgrade_rewards() -> None:
    p = load_policy("lhasa-city")
    assert _amount(p, "upgrade", "key-laboratory", level="national") == Decimal("2000000")
    assert _amount(p, "upgrade", "field-station", level="regional") == Decimal("500000")
    assert _amount(p, "upgrade", "key-laboratory", level="district") is None
    e = p.entitlement_for("upgrade", "new-rd-institution", level="regional")
    assert e is not None and e.category == "reward" and e.basis == "003 art. 17"


@pytest.mark.parametrize(
    ("kind", "good", "excellent"),
    [
        ("engineering-research-center", "150000", "200000"),
        ("field-station", "150000", "200000"),
        ("key-laboratory", "600000", "700000"),
        ("tech-innovation-center", "1200000", "1500000"),
        ("clinical-research-center", "1200000", "1500000"),
        ("new-rd-institution", "1200000", "1500000"),
    ],
)
def test_lhasa_grade_rewards(kind: str, good: str, excellent: str) -> None:
    p = load_policy("lhasa-city")
    assert _amount(p, "evaluation", kind, grade="good") == Decimal(good)
    assert _amount(p, "evaluation", kind, grade="excellent") == Decimal(excellent)
    assert _amount(p, "evaluation", kind, grade="qualified") is None
    assert _amount(p, "evaluation", kind, grade="poor") is None
    e = p.entitlement_for("evaluation", kind, grade="good")
    assert e is not None and e.category == "reward" and e.basis == "003 art. 23"


# --- keqiao-co-built (004) ---------------------------------------------------------


def test_keqiao_yearly_evaluation_two_poor_years_and_filing() -> None:
    p = load_policy("keqiao-co-built")
    assert p.evaluation.cycle_years == 1
    assert p.evaluation.consecutive_poor_limit == 2
    assert p.evaluation.consecutive_poor_basis == "004 §4.4"
    assert p.filing is not None
    assert (p.filing.months_after_agreement, p.filing.basis) == (1, "004 §1.4")
    assert p.term_years is not None
    assert (p.term_years.min, p.term_years.max, p.term_years.basis) == (1, 10, "004 §3.1")
    assert p.construction_years is None


# --- cross-policy look-ups ---------------------------------------------------------


def test_policy_for_violation_prefers_the_governing_policy() -> None:
    lhasa = load_policy("lhasa-city")
    consortium = load_policy("xinjiang-consortium")
    keqiao = load_policy("keqiao-co-built")
    assert policy_for_violation("false-materials", lhasa) is lhasa
    assert policy_for_violation("consortium-breach", consortium) is consortium
    # keqiao defines no violations: the first policy that defines the kind decides
    assert policy_for_violation("false-materials", keqiao) is lhasa
    assert policy_for_violation("consortium-breach", lhasa) is consortium
    assert policy_for_violation("illegal-conduct", keqiao) is consortium
    assert policy_for_violation("no-such-kind", lhasa) is None


def test_every_violation_kind_is_defined_somewhere() -> None:
    keqiao = load_policy("keqiao-co-built")
    for kind in VIOLATION_KINDS:
        assert policy_for_violation(kind, keqiao) is not None, kind


def test_composition_rules_are_found_across_policies() -> None:
    consortium, centre = composition_rules()
    assert consortium is not None and consortium.min_members == 5
    assert centre is not None and centre.max_core_co_builders == 5
