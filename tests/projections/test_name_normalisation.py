"""Name screening normalises before it scores (issue 15): traditional
characters, full-width forms, punctuation and company-type suffixes do not
lower a score; an unrelated company sharing only 股份有限公司 does not match;
pinyin is the fallback; every match says why."""

from __future__ import annotations

import pytest

from projections.name_match import (
    ALIAS,
    CURRENT,
    FORMER,
    MATCH_SCORE,
    SEARCH_THRESHOLD,
    explain,
    normalise,
    verdict,
)

CODE = "91540100MA6T0A0B1W"
NAMES = [("拉萨高原生物科技股份有限公司", CURRENT), ("高原生物", ALIAS), ("拉萨高原生物所", FORMER)]


@pytest.mark.parametrize(
    ("query", "step"),
    [
        ("拉薩高原生物科技股份有限公司", "traditional→simplified"),
        ("拉萨高原生物科技股份有限公司", None),
        ("拉萨高原生物科技（股份）有限公司", "punctuation ignored"),
        ("拉萨高原生物科技有限公司", "company form 有限公司 set aside"),
        ("拉萨高原生物科技集团", "company form 集团 set aside"),
        ("拉萨高原生物科技有限责任公司", "company form 有限责任公司 set aside"),
        ("ＬＡＳＡ高原生物科技股份有限公司", "full-width→half-width"),
    ],
)
def test_the_same_company_written_otherwise_matches(query: str, step: str | None) -> None:
    m = explain(query, CODE, NAMES)
    if "ＬＡＳＡ" in query:
        # the letters are not the characters: a possible match, explained
        assert m is not None and m.verdict == "possible" and f"query: {step}" in m.why
        return
    assert m is not None and m.matched == "拉萨高原生物科技股份有限公司", m
    assert m.score >= MATCH_SCORE and m.verdict == "match"
    if step is not None:
        assert any(step in w for w in m.why), m.why
    assert m.why[0] == "name 拉萨高原生物科技股份有限公司"


def test_an_unrelated_company_sharing_only_the_suffix_does_not_match() -> None:
    for query in ("西藏甲乙股份有限公司", "某某股份有限公司", "西藏净土农业股份有限公司"):
        assert explain(query, CODE, NAMES) is None, query
    # the suffix alone is not a core: it is compared whole
    assert normalise("股份有限公司").core == "股份有限公司"


def test_pinyin_is_the_fallback_and_says_so() -> None:
    m = explain("lasa gaoyuan shengwu keji", CODE, NAMES)
    assert m is not None and m.why[-1] == "by pinyin"
    assert m.score >= SEARCH_THRESHOLD and m.score < 100
    # homophones written with other characters
    m = explain("拉撒高原生物科技股份有限公司", CODE, NAMES)
    assert m is not None and m.score >= SEARCH_THRESHOLD


def test_normalise_and_verdicts() -> None:
    n = normalise("西藏ＡＢＣ科技（集团）有限公司")
    assert n.text == "西藏abc科技 集团 有限公司" and n.core == "西藏abc科技"
    assert "company form 集团有限公司 set aside" in n.steps
    assert normalise("拉薩").text == "拉萨"
    assert [verdict(s) for s in (None, 59, 60, 89, 90, 100)] == [
        "no", "no", "possible", "possible", "match", "match",
    ]  # fmt: skip
    assert verdict(70, threshold=75) == "no"
    # the credit code, whole or in part, still matches first
    m = explain(CODE, CODE, NAMES)
    assert m is not None and m.score == 100 and m.why == ("credit code",)
