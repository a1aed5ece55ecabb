"""Name screening: how a query (a name, in part or with typos, Chinese
included, or a credit code, whole or in part) matches a unit's credit code
and the names it bore on a date; the scoring behind ``unit search`` and the
name filter of ``debarred`` (``projections.units``)."""

from __future__ import annotations

import re
import unicodedata

from rapidfuzz import fuzz, utils

SEARCH_THRESHOLD = 60  # a fuzzy score (0-100) below this is not a hit

# Ranks breaking equal scores: the credit code, the name on the date, an
# alias, a former name.
CODE, CURRENT, ALIAS, FORMER = 4, 3, 2, 1
CREDIT_CODE_LENGTH = 18
_CODE_LIKE = re.compile(r"[0-9A-Z]{4,18}")


def _normal_text(text: str) -> str:
    """A name or query as compared: NFKC (full-width letters, digits and
    brackets as half-width: ＡＢＣ（集团） = ABC(集团)), then rapidfuzz's
    ``default_process`` (lower case, punctuation as spaces, trimmed)."""
    return str(utils.default_process(unicodedata.normalize("NFKC", text)))


def match_unit(query: str, code: str, names: list[tuple[str, int]]) -> tuple[int, str] | None:
    """The best match of a query against a unit's credit code and names (as
    of a date), as (score, what matched), or None below SEARCH_THRESHOLD.
    Equal scores prefer the code, then the name of the date, an alias, a
    former name (see ``_score`` and docs/DESIGN.md "Read models")."""
    q = _normal_text(query)
    best: tuple[float, int, str] | None = None
    compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query)).upper()
    if _CODE_LIKE.fullmatch(compact) and compact in code:
        score = 100.0 if compact == code else min(99.0, 60 + 40 * len(compact) / len(code))
        best = (score, CODE, code)
    for name, rank in names:
        score = _score(q, _normal_text(name))
        if score >= SEARCH_THRESHOLD and (best is None or (score, rank) > best[:2]):
            best = (score, rank, name)
    if best is None or best[0] < SEARCH_THRESHOLD:
        return None
    return round(best[0]), best[2]


def _score(query: str, name: str) -> float:
    """0-100, both texts already normalised (``rapidfuzz.utils.default_process``).

    - the same text: 100;
    - the query inside the name (2 characters or more): 50 + 50·len(q)/len(name),
      at most 99, so a short query scores low against a long name and falls
      under the threshold (60) when it is less than a fifth of it;
    - otherwise the better of the similarity of the whole texts
      (``fuzz.ratio``: typos, a word more or less) and the best-aligned part
      scaled by how much of the name the query covers
      (``partial_ratio × (0.5 + 0.5·len(q)/len(name))``), at most 99.
    Character-based, so Chinese needs no word splitting."""
    if not query or not name:
        return 0.0
    if query == name:
        return 100.0
    cover = min(1.0, len(query) / len(name))
    if len(query) >= 2 and query in name:
        return min(99.0, 50.0 + 50.0 * cover)
    whole = float(fuzz.ratio(query, name))
    part = float(fuzz.partial_ratio(query, name)) * (0.5 + 0.5 * cover) if len(query) >= 2 else 0
    return min(99.0, max(whole, part))


__all__ = ["ALIAS", "CODE", "CURRENT", "FORMER", "SEARCH_THRESHOLD", "match_unit"]
