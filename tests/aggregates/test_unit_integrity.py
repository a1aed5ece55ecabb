"""The Unit aggregate's integrity record (SPEC §7): debarment arithmetic,
lifting, the blacklist, and eligibility with every reason it gives."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from aggregates.eligibility import LeadRule, LookBack, Reason, reasons_against, unit_facts
from aggregates.errors import AlreadyExists, IllegalTransition, InvalidInput, NotFound
from aggregates.meta import Meta
from aggregates.unit import Unit
from aggregates.values import add_years

CODE = "91540100MA6T0A0B1W"
LHASA_LOOK_BACK = LookBack(2, "003 annex", ("platform-application",))


def meta(on: date, **kw: Any) -> Meta:
    return Meta(actor="compliance", effective_on=on, **kw)


def registered() -> Unit:
    return Unit(
        code=CODE,
        name="拉萨高原生物科技有限公司",
        unit_type="enterprise",
        high_tech=True,
        aliases=["高原生物"],
        **meta(date(2018, 1, 1)).fields(),
    )


def debar(u: Unit, start: date, years: int = 3, scopes: tuple[str, ...] = ()) -> str:
    return u.debar(
        years=years,
        start=start,
        scopes=list(scopes or ("platform-application",)),
        violation=None,
        meta=meta(start, doc_no="拉科发〔2025〕9号", reason="r", basis="003 art. 24"),
    )


def why_not(u: Unit, purpose: str, on: date, look_back: LookBack | None = None) -> list[Reason]:
    debarments, blacklist, violations = unit_facts(u)
    return reasons_against(
        purpose=purpose,
        on=on,
        debarments=debarments,
        blacklist=blacklist,
        violations=violations,
        look_back=look_back,
        led_consortia=u.active_consortia(on),
        lead_rule=LeadRule("002 §3.2", "xinjiang-consortium"),
    )


# --- debarment arithmetic -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("start", "years", "end"),
    [
        (date(2025, 7, 1), 3, date(2028, 7, 1)),
        (date(2025, 7, 1), 5, date(2030, 7, 1)),
        (date(2024, 2, 29), 3, date(2027, 3, 1)),
        (date(2024, 2, 29), 5, date(2029, 3, 1)),
        (date(2020, 2, 29), 3, date(2023, 3, 1)),
    ],
)
def test_a_debarment_ends_on_the_same_calendar_day_n_years_later(
    start: date, years: int, end: date
) -> None:
    u = registered()
    did = debar(u, start, years)
    d = u.debarments[did]
    assert d.end == end
    # it covers its first day and the day before its end, not the end itself
    assert d.active_on(start)
    assert d.active_on(end - timedelta(days=1))
    assert not d.active_on(end)
    assert not d.active_on(start - timedelta(days=1))
    assert [d.status_on(x) for x in (start - timedelta(days=1), start, end)] == [
        "not-yet-in-force",
        "active",
        "expired",
    ]


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2060, 12, 31)), st.sampled_from([3, 5]))
def test_a_debarment_lasts_exactly_its_years(start: date, years: int) -> None:
    u = registered()
    d = u.debarments[debar(u, start, years)]
    assert d.end == add_years(start, years)
    assert 365 * years <= (d.end - d.start).days <= 366 * years


@pytest.mark.parametrize("years", [0, 1, 2, 4, 6, 10])
def test_a_debarment_is_for_three_or_five_years(years: int) -> None:
    u = registered()
    with pytest.raises(InvalidInput, match="3 or 5 years"):
        debar(u, date(2025, 1, 1), years)
    assert u.debarments == {}


def test_a_debarment_needs_a_scope_and_a_known_violation() -> None:
    u = registered()
    with pytest.raises(InvalidInput, match="scope"):
        u.debar(
            years=3, start=date(2025, 1, 1), scopes=[], violation=None, meta=meta(date(2025, 1, 1))
        )
    with pytest.raises(NotFound, match="V7"):
        u.debar(
            years=3,
            start=date(2025, 1, 1),
            scopes=["platform-application"],
            violation="V7",
            meta=meta(date(2025, 1, 1)),
        )


def test_debarments_and_violations_get_readable_ids() -> None:
    u = registered()
    vid = u.record_violation(
        kind="false-materials",
        occurred_on=date(2024, 3, 1),
        platform=None,
        policy="lhasa-city",
        meta=meta(date(2024, 6, 1), doc_no="d"),
    )
    did = u.debar(
        years=3,
        start=date(2024, 6, 1),
        scopes=["platform-application"],
        violation="V1",  # the short form
        meta=meta(date(2024, 6, 1)),
    )
    assert (vid, did) == (f"{CODE}:V1", f"{CODE}:D2")
    assert u.debarments[did].violation == vid


def test_a_violation_cannot_be_found_before_it_occurred() -> None:
    u = registered()
    with pytest.raises(InvalidInput, match="after it was found"):
        u.record_violation(
            kind="task-default",
            occurred_on=date(2024, 6, 2),
            platform=None,
            policy=None,
            meta=meta(date(2024, 6, 1), doc_no="d"),
        )


# --- lifting -----------------------------------------------------------------------------


def test_a_debarment_lifted_early_stops_applying_on_the_lifting_day() -> None:
    u = registered()
    did = debar(u, date(2024, 2, 29), 3)
    u.lift("D1", meta(date(2025, 5, 10), doc_no="信用修复", reason="信用修复"))
    d = u.debarments[did]
    assert d.lifted_on == date(2025, 5, 10)
    assert d.active_on(date(2025, 5, 9))
    assert not d.active_on(date(2025, 5, 10))
    assert d.status_on(date(2025, 5, 10)) == "lifted"
    assert d.until() == date(2025, 5, 10)
    assert d.end == date(2027, 3, 1)  # the history stays


def test_a_debarment_can_be_lifted_on_its_first_and_last_day() -> None:
    u1, u2 = registered(), registered()
    debar(u1, date(2025, 1, 1))
    debar(u2, date(2025, 1, 1))
    u1.lift("D1", meta(date(2025, 1, 1), doc_no="d", reason="r"))
    u2.lift("D1", meta(date(2027, 12, 31), doc_no="d", reason="r"))


@pytest.mark.parametrize(
    ("on", "complaint"),
    [
        (date(2024, 12, 31), "cannot be lifted before it starts"),
        (date(2028, 1, 1), "already ended on 2028-01-01"),
        (date(2029, 6, 1), "already ended"),
    ],
)
def test_a_debarment_is_not_lifted_before_it_starts_or_after_it_ends(
    on: date, complaint: str
) -> None:
    u = registered()
    debar(u, date(2025, 1, 1))
    version = u.version
    with pytest.raises(IllegalTransition, match=complaint):
        u.lift("D1", meta(on, doc_no="d", reason="r"))
    assert u.version == version


def test_a_debarment_is_lifted_once() -> None:
    u = registered()
    debar(u, date(2025, 1, 1))
    u.lift(f"{CODE}:D1", meta(date(2025, 6, 1), doc_no="d", reason="r"))
    with pytest.raises(IllegalTransition, match="already lifted on 2025-06-01"):
        u.lift("D1", meta(date(2025, 7, 1), doc_no="d", reason="r"))


def test_an_unknown_debarment_is_not_found() -> None:
    with pytest.raises(NotFound, match="D9"):
        registered().lift("D9", meta(date(2025, 1, 1), doc_no="d", reason="r"))


# --- blacklist ---------------------------------------------------------------------------


def test_blacklist_add_and_remove() -> None:
    u = registered()
    eid = u.add_to_blacklist(violation=None, meta=meta(date(2025, 3, 1), doc_no="d", reason="r"))
    with pytest.raises(AlreadyExists, match="since 2025-03-01"):
        u.add_to_blacklist(violation=None, meta=meta(date(2025, 4, 1), doc_no="d", reason="r"))
    with pytest.raises(IllegalTransition, match="cannot be removed before"):
        u.remove_from_blacklist(meta(date(2025, 2, 28), doc_no="d", reason="r"))
    assert u.remove_from_blacklist(meta(date(2026, 3, 1), doc_no="d", reason="r")) == eid
    entry = u.blacklist[eid]
    assert entry.active_on(date(2025, 3, 1))
    assert entry.active_on(date(2026, 2, 28))
    assert not entry.active_on(date(2026, 3, 1))
    assert not entry.active_on(date(2025, 2, 28))
    with pytest.raises(IllegalTransition, match="not on the integrity blacklist"):
        u.remove_from_blacklist(meta(date(2026, 4, 1), doc_no="d", reason="r"))
    # a unit can be blacklisted again later: a new entry, the old one kept
    again = u.add_to_blacklist(violation=None, meta=meta(date(2026, 5, 1), doc_no="d", reason="r"))
    assert again != eid and len(u.blacklist) == 2


def test_a_rename_keeps_the_former_name() -> None:
    u = registered()
    u.rename("高原生物科技集团有限公司", meta(date(2025, 1, 1), doc_no="d"))
    assert u.name == "高原生物科技集团有限公司"
    assert u.former_names == [{"name": "拉萨高原生物科技有限公司", "until": "2025-01-01"}]
    with pytest.raises(IllegalTransition):
        u.rename("高原生物科技集团有限公司", meta(date(2025, 1, 2), doc_no="d"))


# --- eligibility -------------------------------------------------------------------------


def test_a_unit_with_a_clean_record_is_eligible_for_everything() -> None:
    u = registered()
    for purpose in ("platform-application", "consortium-lead", "project-application"):
        assert why_not(u, purpose, date(2026, 1, 1), LHASA_LOOK_BACK) == []


def test_a_debarment_is_a_reason_until_its_end_for_its_scopes_only() -> None:
    u = registered()
    debar(u, date(2024, 2, 29), 5, ("platform-application", "project-application"))
    [reason] = why_not(u, "platform-application", date(2024, 2, 29))
    assert (reason.rule, reason.basis, reason.until) == (
        "debarment",
        "003 art. 24",
        date(2029, 3, 1),
    )
    assert "拉科发〔2025〕9号" in reason.detail
    assert reason.as_json()["until"] == "2029-03-01"
    assert why_not(u, "project-application", date(2029, 2, 28)) != []
    assert why_not(u, "platform-application", date(2029, 3, 1)) == []
    assert why_not(u, "platform-application", date(2024, 2, 28)) == []
    assert why_not(u, "consortium-lead", date(2025, 1, 1)) == []


def test_a_debarment_imposed_without_a_basis_has_none_in_eligibility() -> None:
    """`basis` is the rule applied (SPEC §3); the decision's document is in
    the detail, not passed off as a basis."""
    u = registered()
    u.debar(
        years=3,
        start=date(2025, 1, 1),
        scopes=["platform-application"],
        violation=None,
        meta=meta(date(2025, 1, 1), doc_no="藏科监〔2025〕2号", reason="r"),
    )
    [reason] = why_not(u, "platform-application", date(2025, 6, 1))
    assert reason.basis is None and "藏科监〔2025〕2号" in reason.detail


def test_a_lifted_debarment_applies_until_the_lifting() -> None:
    u = registered()
    debar(u, date(2024, 1, 1))
    u.lift("D1", meta(date(2025, 1, 1), doc_no="d", reason="r"))
    [reason] = why_not(u, "platform-application", date(2024, 12, 31))
    assert reason.until == date(2025, 1, 1)
    assert why_not(u, "platform-application", date(2025, 1, 1)) == []


def test_the_blacklist_is_a_reason_for_every_purpose_with_no_end_date() -> None:
    u = registered()
    u.add_to_blacklist(
        violation=None, meta=meta(date(2025, 3, 1), doc_no="d", reason="r", basis="003 art. 25")
    )
    for purpose in ("platform-application", "consortium-lead", "project-application"):
        [reason] = why_not(u, purpose, date(2030, 1, 1))
        assert (reason.rule, reason.basis, reason.until) == ("blacklist", "003 art. 25", None)
    assert why_not(u, "platform-application", date(2025, 2, 28)) == []
    u.remove_from_blacklist(meta(date(2026, 3, 1), doc_no="d", reason="r"))
    # known removal: the reason says when it stops
    [reason] = why_not(u, "platform-application", date(2026, 2, 1))
    assert reason.until == date(2026, 3, 1)
    assert why_not(u, "platform-application", date(2026, 3, 1)) == []


def violation(u: Unit, occurred: date, found: date, kind: str = "academic-misconduct") -> str:
    return u.record_violation(
        kind=kind,
        occurred_on=occurred,
        platform=None,
        policy="lhasa-city",
        meta=meta(found, doc_no="d"),
    )


def test_lhasa_look_back_two_years_from_the_violation() -> None:
    # given a violation that occurred on 1 Feb 2025 and was found on 1 June 2025
    u = registered()
    vid = violation(u, date(2025, 2, 1), date(2025, 6, 1))
    # not a reason before it was known
    assert why_not(u, "platform-application", date(2025, 5, 31), LHASA_LOOK_BACK) == []
    # a reason from the day it is known, until two years after it occurred
    [reason] = why_not(u, "platform-application", date(2025, 6, 1), LHASA_LOOK_BACK)
    assert (reason.rule, reason.basis, reason.until) == ("look-back", "003 annex", date(2027, 2, 1))
    assert vid in reason.detail
    assert why_not(u, "platform-application", date(2027, 1, 31), LHASA_LOOK_BACK) != []
    assert why_not(u, "platform-application", date(2027, 2, 1), LHASA_LOOK_BACK) == []
    # only for platform applications, and only where the policy has a look-back
    assert why_not(u, "consortium-lead", date(2025, 6, 1), LHASA_LOOK_BACK) == []
    assert why_not(u, "platform-application", date(2025, 6, 1), None) == []


def test_look_back_from_29_february_ends_on_1_march() -> None:
    u = registered()
    violation(u, date(2024, 2, 29), date(2024, 3, 5))
    [reason] = why_not(u, "platform-application", date(2026, 2, 28), LHASA_LOOK_BACK)
    assert reason.until == date(2026, 3, 1)


def test_a_violation_found_after_the_window_gives_no_look_back_reason() -> None:
    u = registered()
    violation(u, date(2020, 1, 1), date(2023, 1, 1))
    assert why_not(u, "platform-application", date(2023, 1, 1), LHASA_LOOK_BACK) == []


def test_leading_an_active_consortium_is_a_reason_against_leading_another() -> None:
    u = registered()
    u.assume_consortium_lead("XJ-UC-001", meta(date(2024, 5, 1)))
    [reason] = why_not(u, "consortium-lead", date(2024, 5, 1))
    assert (reason.rule, reason.basis, reason.until) == ("leads-consortium", "002 §3.2", None)
    assert "XJ-UC-001" in reason.detail
    assert why_not(u, "platform-application", date(2024, 5, 1)) == []
    assert why_not(u, "consortium-lead", date(2024, 4, 30)) == []
    u.release_consortium_lead("XJ-UC-001", meta(date(2025, 5, 1)))
    assert why_not(u, "consortium-lead", date(2025, 5, 1)) == []
    assert why_not(u, "consortium-lead", date(2025, 4, 30)) != []


def test_every_reason_is_listed() -> None:
    u = registered()
    debar(u, date(2025, 1, 1), 5)
    u.add_to_blacklist(violation=None, meta=meta(date(2025, 2, 1), doc_no="d", reason="r"))
    violation(u, date(2024, 12, 1), date(2025, 1, 1))
    rules = [r.rule for r in why_not(u, "platform-application", date(2025, 6, 1), LHASA_LOOK_BACK)]
    assert rules == ["debarment", "blacklist", "look-back"]
