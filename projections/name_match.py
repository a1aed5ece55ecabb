"""Name screening: how a query (a name, in part or with typos, Chinese
included, traditional or simplified, full-width or half-width, or in pinyin;
or a credit code, whole or in part) matches a unit's credit code and the
names it bore on a date; the scoring behind ``unit search`` and the name
filter of ``debarred`` (``projections.units``), one name or a batch.

Every name and query is normalised before it is scored (``normalise``):
NFKC (full-width letters, digits and brackets as half-width), traditional
characters as simplified (OpenCC ``t2s``), lower case, punctuation as spaces;
its *core* is that text without the company-type suffix (股份有限公司,
有限责任公司, 有限公司, 集团, 公司 …). A score compares the whole texts and
the cores and keeps the lower, so two companies sharing only 股份有限公司
score as the cores do (not at all), and the same core under another company
form is a match. Pinyin is the fallback when the characters find nothing.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

SEARCH_THRESHOLD = 60  # a fuzzy score (0-100) below this is not a hit
MATCH_SCORE = 90  # at or above: the verdict is "match"; between: "possible"
SAME_CORE = 95  # the same name under another company form (有限公司 / 股份有限公司)
PINYIN_WEIGHT = 0.9  # a match by sound alone ranks below one by characters

# Ranks breaking equal scores: the credit code, the name on the date, an
# alias, a former name.
CODE, CURRENT, ALIAS, FORMER = 4, 3, 2, 1
CREDIT_CODE_LENGTH = 18
_CODE_LIKE = re.compile(r"[0-9A-Z]{4,18}")
_CJK = re.compile(r"[\u3400-\u9fff]")

# company-type suffixes, longest first (a name may end in more than one:
# 集团股份有限公司, 科技（集团）有限公司)
SUFFIXES = tuple(
    sorted(
        (
            "股份有限公司",
            "有限责任公司",
            "股份公司",
            "股份",
            "有限公司",
            "集团公司",
            "集团",
            "公司",
            "有限合伙",
            "合伙企业",
            "co ltd",
            "company limited",
            "limited",
            "ltd",
            "inc",
            "corp",
            "group",
        ),
        key=len,
        reverse=True,
    )
)


@dataclass(frozen=True)
class Normal:
    """A name or query as compared: `text` the whole, `core` without its
    company-type suffix, `steps` what normalising changed (for the why)."""

    text: str
    core: str
    steps: tuple[str, ...]


@lru_cache(maxsize=1)
def _t2s() -> Any:
    from opencc_purepy import OpenCC

    return OpenCC("t2s")


@lru_cache(maxsize=100_000)
def normalise(name: str) -> Normal:
    steps: list[str] = []
    text = unicodedata.normalize("NFKC", name)
    if text != name:
        steps.append("full-width→half-width")
    if _CJK.search(text):
        simple = str(_t2s().convert(text))
        if simple != text:
            steps.append("traditional→simplified")
            text = simple
    from rapidfuzz import utils  # loaded when a name is matched, not at start-up

    processed = str(utils.default_process(text))
    if re.sub(r"\s+", "", processed) != re.sub(r"\s+", "", text.lower()):
        steps.append("punctuation ignored")
    core, removed = processed, []
    changed = True
    while changed and core not in SUFFIXES:
        changed = False
        for suffix in SUFFIXES:
            if core.endswith(suffix) and len(core) > len(suffix):
                core = core[: -len(suffix)].rstrip()
                removed.append(suffix)
                changed = True
                break
    if removed:
        steps.append("company form " + "".join(reversed(removed)) + " set aside")
    return Normal(processed, core or processed, tuple(steps))


@lru_cache(maxsize=100_000)
def pinyin(text: str) -> str:
    """A text's sound: the pinyin of its Chinese characters (no tones), its
    letters and digits as they are, no spaces."""
    if _CJK.search(text):
        from pypinyin import lazy_pinyin

        text = "".join(lazy_pinyin(text))
    return re.sub(r"[^0-9a-z]", "", text.lower())


@dataclass(frozen=True)
class Match:
    """The best match of a query against one unit: score, the name (or code)
    that matched, its rank (CODE … FORMER) and why (normalisations applied)."""

    score: int
    matched: str
    rank: int
    why: tuple[str, ...]

    @property
    def verdict(self) -> str:
        return verdict(self.score)


def verdict(score: int | None, threshold: int = SEARCH_THRESHOLD) -> str:
    if score is None or score < threshold:
        return "no"
    return "match" if score >= MATCH_SCORE else "possible"


def match_unit(query: str, code: str, names: list[tuple[str, int]]) -> tuple[int, str] | None:
    """The best match of a query against a unit's credit code and names (as
    of a date), as (score, what matched), or None below SEARCH_THRESHOLD.
    Equal scores prefer the code, then the name of the date, an alias, a
    former name (see ``_score`` and docs/DESIGN.md "Read models")."""
    found = explain(query, code, names)
    return None if found is None else (found.score, found.matched)


def explain(
    query: str,
    code: str,
    names: list[tuple[str, int]],
    threshold: int = SEARCH_THRESHOLD,
    *,
    sound: bool = True,
) -> Match | None:
    """``match_unit`` with its why, or None below `threshold`. When the
    characters find nothing, the sound (pinyin) is tried, unless `sound` is
    False (a batch tries it only for names that found no unit at all)."""
    best: tuple[float, int, str] | None = None
    by_sound = False
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query)).upper()
    if _CODE_LIKE.fullmatch(compact) and compact in code:
        score = 100.0 if compact == code else min(99.0, 60 + 40 * len(compact) / len(code))
        best = (score, CODE, code)
    q = normalise(query)
    for name, rank in names:
        score = _pair_score(q, normalise(name), best[0] if best else 0.0)
        if best is None or (score, rank) > best[:2]:
            best = (score, rank, name)
    if sound and (best is None or best[0] < threshold):
        # the characters found nothing: try the sound (pinyin)
        for name, rank in names:
            score = _score(pinyin(q.core), pinyin(normalise(name).core)) * PINYIN_WEIGHT
            if score >= threshold and (best is None or (score, rank) > best[:2]):
                best, by_sound = (score, rank, name), True
    if best is None or best[0] < threshold:
        return None
    score, rank, matched = best
    if rank == CODE:
        why: tuple[str, ...] = ("credit code",)
    else:
        why = _why(q, normalise(matched), matched, rank) + (("by pinyin",) if by_sound else ())
    return Match(round(score), matched, rank, why)


def _why(q: Normal, n: Normal, name: str, rank: int) -> tuple[str, ...]:
    what = {CURRENT: "name", ALIAS: "alias", FORMER: "former name"}.get(rank, "name")
    steps = [f"query: {s}" for s in q.steps] + [f"{what}: {s}" for s in n.steps]
    return (f"{what} {name}", *steps)


def _pair_score(q: Normal, n: Normal, floor: float = 0.0) -> float:
    """The whole texts equal: 100; the cores equal (another company form):
    SAME_CORE; else the lower of the whole texts' and the cores' scores (the
    whole not scored when the cores score under `floor`: it cannot win)."""
    if q.text == n.text:
        return 100.0
    if q.core == n.core and len(q.core) >= 2:
        return float(SAME_CORE)
    core = _score(q.core, n.core)
    if core < floor:
        return core
    return core if q.core == q.text and n.core == n.text else min(core, _score(q.text, n.text))


def _score(query: str, name: str) -> float:
    """0-100, both texts already normalised.

    - the same text: 100;
    - the query inside the name (2 characters or more): 50 + 50·len(q)/len(name),
      at most 99, so a short query scores low against a long name and falls
      under the threshold (60) when it is less than a fifth of it;
    - otherwise the better of the similarity of the whole texts
      (``fuzz.ratio``: typos, a word more or less) and the best-aligned part
      scaled by how much of the longer text the shorter covers
      (``partial_ratio × (0.5 + 0.5·shorter/longer)``), at most 99.
    Character-based, so Chinese needs no word splitting."""
    if not query or not name:
        return 0.0
    if query == name:
        return 100.0
    cover = min(1.0, len(query) / len(name))
    if len(query) >= 2 and query in name:
        return min(99.0, 50.0 + 50.0 * cover)
    from rapidfuzz import fuzz

    whole = float(fuzz.ratio(query, name))
    # the share of the longer text the aligned part covers: a long query
    # holding a short name is no closer than a short query inside a long one
    share = min(len(query), len(name)) / max(len(query), len(name))
    part = float(fuzz.partial_ratio(query, name)) * (0.5 + 0.5 * share) if len(query) >= 2 else 0
    return min(99.0, max(whole, part))


__all__ = [
    "ALIAS",
    "CODE",
    "CURRENT",
    "FORMER",
    "MATCH_SCORE",
    "SEARCH_THRESHOLD",
    "Match",
    "explain",
    "match_unit",
    "normalise",
    "pinyin",
    "verdict",
]
