"""Composition rules checked at approval (SPEC §4), at their boundaries:
an innovation consortium (002 §2.2.1, §3.2), a technology innovation centre
led by a university or institute (001 §3.3), a co-built platform's term
(004 §3.1)."""

from __future__ import annotations

from datetime import date

import pytest

from aggregates.composition import check_composition, check_consortium
from aggregates.errors import CompositionRuleBroken, InvalidInput
from aggregates.meta import Meta
from aggregates.platform import Platform
from aggregates.values import MemberInfo
from cli import exit_code
from ledger.policies import load_policy

LEAD = "LEAD"
CONSORTIUM = load_policy("xinjiang-consortium").consortium
CENTRE = load_policy("xinjiang-tic").composition
assert CONSORTIUM is not None and CENTRE


def check_centre(lead: str, ms: list[MemberInfo], rules: object = None) -> None:
    check_composition("tech-innovation-center", lead, ms, CENTRE)


def members(*, enterprises: int, high_tech: int = 0, others: int = 0) -> list[MemberInfo]:
    """An enterprise lead first (it counts as a member, 002 附件1), then the rest;
    the first `high_tech` enterprises carry the high-tech flag."""
    kinds = ["enterprise"] * enterprises + ["institute"] * others
    return [
        MemberInfo(LEAD if i == 0 else f"M{i}", kind, kind == "enterprise" and i < high_tech)
        for i, kind in enumerate(kinds)
    ]


# --- innovation consortium ----------------------------------------------------------------


def test_consortium_at_every_minimum_is_approved() -> None:
    # 5 members, 3 enterprises (≥ 50 %), 1 high-tech enterprise (≥ 20 %)
    check_consortium(LEAD, members(enterprises=3, high_tech=1, others=2), CONSORTIUM, [])


def test_consortium_with_four_members_is_refused() -> None:
    with pytest.raises(CompositionRuleBroken) as err:
        check_consortium(LEAD, members(enterprises=4, high_tech=4), CONSORTIUM, [])
    assert "at least 5 members" in str(err.value)
    assert "has 4" in str(err.value)
    assert "002 §2.2.1" in str(err.value)
    assert exit_code(err.value) == 1


@pytest.mark.parametrize(
    ("enterprises", "others", "ok"),
    [
        (3, 3, True),  # exactly 50 %
        (2, 3, False),  # 40 %
        (2, 4, False),  # 33 %
        (3, 2, True),  # 60 %
        (4, 4, True),
        (3, 4, False),  # 3 of 7 = 42.9 %
    ],
)
def test_consortium_enterprise_share_boundary(enterprises: int, others: int, ok: bool) -> None:
    ms = members(enterprises=enterprises, high_tech=enterprises, others=others)
    if ok:
        check_consortium(LEAD, ms, CONSORTIUM, [])
    else:
        with pytest.raises(CompositionRuleBroken, match="enterprises must be at least 50%"):
            check_consortium(LEAD, ms, CONSORTIUM, [])


@pytest.mark.parametrize(
    ("n", "high_tech", "ok"),
    [
        (5, 1, True),  # exactly 20 %
        (5, 0, False),
        (10, 2, True),  # exactly 20 %
        (10, 1, False),  # 10 %
        (6, 2, True),
        (6, 1, False),  # 16.7 %
    ],
)
def test_consortium_high_tech_share_boundary(n: int, high_tech: int, ok: bool) -> None:
    ms = members(enterprises=n, high_tech=high_tech)
    if ok:
        check_consortium(LEAD, ms, CONSORTIUM, [])
    else:
        with pytest.raises(CompositionRuleBroken, match="high-tech enterprises") as err:
            check_consortium(LEAD, ms, CONSORTIUM, [])
        assert "002 §2.2.1" in str(err.value)


def test_a_high_tech_university_is_not_a_high_tech_enterprise() -> None:
    ms = [
        MemberInfo(LEAD, "enterprise", False),
        MemberInfo("E1", "enterprise", False),
        MemberInfo("E2", "enterprise", False),
        MemberInfo("U1", "university", True),
        MemberInfo("I1", "institute", True),
    ]
    with pytest.raises(CompositionRuleBroken, match="high-tech"):
        check_consortium(LEAD, ms, CONSORTIUM, [])


def test_a_lead_of_another_active_consortium_is_refused() -> None:
    ms = members(enterprises=5, high_tech=2)
    with pytest.raises(CompositionRuleBroken) as err:
        check_consortium(LEAD, ms, CONSORTIUM, ["XJ-UC-001"])
    assert "XJ-UC-001" in str(err.value)
    assert "002 §3.2" in str(err.value)


# --- technology innovation centre (001 §3.3) ---------------------------------------------


def centre(lead_type: str, enterprise_co: int, other_co: int = 0) -> list[MemberInfo]:
    lead = MemberInfo(LEAD, lead_type, False)
    # registered in Xinjiang (division 650100…): 区内 (001 §3.3)
    co = [MemberInfo(f"91650100E{i}", "enterprise", False) for i in range(enterprise_co)]
    co += [MemberInfo(f"12650100I{i}", "institute", False) for i in range(other_co)]
    return [lead, *co]


@pytest.mark.parametrize("lead_type", ["university", "institute"])
@pytest.mark.parametrize(
    ("enterprise_co", "other_co", "problem"),
    [
        (2, 0, None),
        (1, 0, "at least 2 enterprise co-builders"),
        (1, 3, "at least 2 enterprise co-builders"),  # other co-builders do not count
        (0, 0, "at least 2 enterprise co-builders"),
        (5, 0, None),
        (2, 3, None),  # 5 core co-builders
        (6, 0, "at most 5 core co-builders"),
        (2, 4, "at most 5 core co-builders"),
    ],
)
def test_centre_led_by_a_university_or_institute(
    lead_type: str, enterprise_co: int, other_co: int, problem: str | None
) -> None:
    ms = centre(lead_type, enterprise_co, other_co)
    if problem is None:
        check_centre(LEAD, ms, CENTRE)
    else:
        with pytest.raises(CompositionRuleBroken, match=problem) as err:
            check_centre(LEAD, ms, CENTRE)
        # the floor is 001 §3.3; the cap is printed in the annex (核心共建单位不超过5家)
        assert ("001 §3.3" if "least" in problem else "001 annex") in str(err.value)


def test_centre_led_by_an_enterprise_needs_no_enterprise_co_builders() -> None:
    check_centre(LEAD, centre("enterprise", 0), CENTRE)


def test_any_centre_has_at_most_5_core_co_builders() -> None:
    # SPEC §4: any centre, whoever leads it (001 annex)
    with pytest.raises(CompositionRuleBroken, match="at most 5") as err:
        check_centre(LEAD, centre("enterprise", 6), CENTRE)
    assert "001 annex" in str(err.value)


def test_enterprises_outside_the_region_do_not_count() -> None:
    # 001 §3.3 区内: registered in Xinjiang (division 65…); Lhasa's 5401… do not count
    ms = [MemberInfo(LEAD, "university", False)]
    ms += [MemberInfo(f"91540100E{i}", "enterprise", False) for i in range(3)]
    with pytest.raises(CompositionRuleBroken, match="at least 2 enterprise"):
        check_centre(LEAD, ms, CENTRE)


def test_composition_rules_belong_to_their_programme() -> None:
    # SPEC §2.1: a technology innovation centre filed in Lhasa is never checked by
    # 001 §3.3; the consortium rule is 002's only
    lhasa = load_policy("lhasa-city")
    assert not any(r.basis.startswith("001") for r in lhasa.composition)
    assert lhasa.consortium is None
    ms = centre("university", 1)
    check_composition("tech-innovation-center", LEAD, ms, lhasa.composition)


# --- co-built platform term (004 §3.1) ---------------------------------------------------


def co_built() -> Platform:
    return Platform(
        code="KQ-CB-001",
        name="柯桥纺织共建平台",
        kind="co-built-platform",
        level="district",
        policy="keqiao-co-built",
        host="H",
        co_builders=["U"],
        agreement_on=date(2024, 1, 10),
        filing_due=date(2024, 2, 10),
        filing_late=False,
        actor="clerk",
        effective_on=date(2024, 1, 20),
        doc_no=None,
        reason=None,
        basis=None,
    )


def approve_term(p: Platform, term: int | None) -> None:
    pol = load_policy("keqiao-co-built")
    p.approve(
        Meta(actor="clerk", effective_on=date(2024, 2, 29), doc_no="柯科发"),
        policy=pol,
        construction_years=None,
        term_years=term,
        members=[],
        lead_other_consortia=[],
    )


@pytest.mark.parametrize("term", [None, 1, 5, 10])
def test_a_co_built_term_of_at_most_ten_years_is_approved(term: int | None) -> None:
    p = co_built()
    approve_term(p, term)
    assert p.status == "operating"
    assert p.term_years == term
    # the term runs from the approval on 29 Feb 2024: it ends on 28 February
    # (SPEC §2.1: the month's last day when it has no 29th; 1 March before issue 11)
    ends = {None: None, 1: date(2025, 2, 28), 5: date(2029, 2, 28), 10: date(2034, 2, 28)}
    assert p.term_ends == ends[term]


@pytest.mark.parametrize("term", [11, 15])
def test_a_co_built_term_over_ten_years_is_refused(term: int) -> None:
    p = co_built()
    with pytest.raises(CompositionRuleBroken) as err:
        approve_term(p, term)
    assert "004 §3.1" in str(err.value)
    assert f"{term} years exceeds the 10" in str(err.value)
    assert p.status == "proposed"


def test_a_term_must_be_positive() -> None:
    with pytest.raises(InvalidInput):
        approve_term(co_built(), 0)


@pytest.mark.parametrize("policy", ["lhasa-city", "xinjiang-consortium"])
def test_a_co_built_platform_belongs_to_004_only(policy: str) -> None:
    # SPEC §2.1: no rule is borrowed; a programme governs only its own kinds
    # (before issue 11 a co-built platform under another programme borrowed 004 §3.1)
    pol = load_policy(policy)
    assert not pol.covers("co-built-platform")
    assert pol.kinds_basis is not None
