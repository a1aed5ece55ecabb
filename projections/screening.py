"""Screening in batches: many names (an applicant list) against every unit's
names on a date, each answered with its best matches, a score, a verdict
(match / possible / no) and why (``projections.name_match``); the batch
form of ``unit search`` and ``debarred --name``."""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable
from datetime import date
from typing import Any

from rapidfuzz import fuzz, process

from ledger.store.db import DbConnection, fetchall
from projections.name_match import (
    _CODE_LIKE,
    PINYIN_WEIGHT,
    SEARCH_THRESHOLD,
    Match,
    explain,
    normalise,
    pinyin,
    verdict,
)
from projections.units import (
    _OWN_NAME_ORDER,
    _ranked,
    blacklist_active,
    debarment_status,
    standing,
)

SCREEN_COLUMNS = (
    "line",
    "query",
    "verdict",
    "score",
    "code",
    "name",
    "matched",
    "debarred",
    "blacklisted",
    "why",
)


def screen(
    conn: DbConnection,
    queries: Iterable[str],
    on: date,
    *,
    threshold: int = SEARCH_THRESHOLD,
    limit: int = 3,
    among: set[str] | None = None,
    start: int = 1,
    bounded: bool = True,
) -> list[dict[str, Any]]:
    """Each query (numbered from `start` as given; blank ones skipped) against the
    names units bore on `on` (only the units in `among` when given): its best
    `limit` matches at or above `threshold`, best first, or one row with the
    verdict "no". The names are read once for the whole batch. `bounded`
    False explains every candidate (the tests' reference: the bound must
    never change an answer)."""
    rows = fetchall(
        conn,
        "SELECT code, name, source, since, version FROM rm_unit_name "
        f"WHERE source <> 'renamed' OR since <= ? ORDER BY code, {_OWN_NAME_ORDER}",
        (on.isoformat(),),
    )
    units = [
        (code, _ranked(list(group)))
        for code, group in itertools.groupby(rows, key=lambda r: str(r["code"]))
        if among is None or code in among
    ]
    flags: dict[str, tuple[str, bool, bool]] = {}

    def flags_of(code: str) -> tuple[str, bool, bool]:
        if code not in flags:
            s = standing(conn, code)
            flags[code] = (
                s.name_on(on),
                any(debarment_status(d, on) == "active" for d in s.debarments),
                any(blacklist_active(b, on) for b in s.blacklist),
            )
        return flags[code]

    # every name's core (and, when needed, its pinyin), to find each query's
    # candidates in one pass of rapidfuzz's C loop: a unit none of whose
    # cores scores `threshold` by ratio or partial_ratio cannot match
    owner = [i for i, (_, names) in enumerate(units) for _ in names]
    cores = [normalise(n).core for _, names in units for n, _ in names]
    sounds: list[str] | None = None

    def candidates(text: str, choices: list[str], cutoff: float) -> dict[int, float]:
        """The units with a name whose core scores `cutoff` against `text`
        (``name_match._score``, its two parts found by rapidfuzz in C), each
        with the best such score: an upper bound of the unit's final score,
        which ``_pair_score`` can only lower (the whole texts' score) or
        round (99 for a text that is not the same)."""
        found: dict[int, float] = {}
        n = len(text)

        def keep(u: int, score: float) -> None:
            if score > found.get(u, -1.0):
                found[u] = score

        for _, whole, k in process.extract(
            text, choices, scorer=fuzz.ratio, score_cutoff=cutoff, limit=None
        ):
            keep(owner[k], whole)
        for _, part, k in process.extract(
            text, choices, scorer=fuzz.partial_ratio, score_cutoff=cutoff, limit=None
        ):
            m = len(choices[k])
            if n >= 2 and text in choices[k]:
                score = 50.0 + 50.0 * min(1.0, n / m)
            else:
                score = part * (0.5 + 0.5 * min(n, m) / max(n, m, 1)) if n >= 2 else 0.0
            if score >= cutoff:
                keep(owner[k], score)
        return found

    out: list[dict[str, Any]] = []
    for line, query in enumerate(queries, start=start):
        query = query.strip()
        if not query:
            continue
        compact = re.sub(r"\s+", "", unicodedata.normalize("NFKC", query)).upper()
        # a credit code, whole or in part: the units whose code holds it
        # (always explained: the bound below is of names, not codes)
        by_code = (
            {u for u, (code, _) in enumerate(units) if compact in code}
            if _CODE_LIKE.fullmatch(compact)
            else set()
        )
        core = normalise(query).core
        bound = candidates(core, cores, threshold)
        by_sound = not (by_code or bound)
        if by_sound:
            if sounds is None:
                sounds = [pinyin(c) for c in cores]
            # a unit's sound score is weighted by PINYIN_WEIGHT (explain)
            bound = {
                u: b * PINYIN_WEIGHT
                for u, b in candidates(pinyin(core), sounds, threshold / PINYIN_WEIGHT).items()
            }
        hits: list[tuple[Match, str]] = []
        for u in sorted(by_code):
            code, names = units[u]
            m = explain(query, code, names, threshold, sound=by_sound)
            if m is not None:
                hits.append((m, code))
        # the other candidates best bound first; once `limit` hits score
        # above the next bound (rounded, as scores are), no later unit can
        # enter the answer, nor tie with it: the rest are not explained
        for u in sorted(set(bound) - by_code, key=lambda u: (-bound[u], u)):
            if bounded and len(hits) >= limit:
                hits.sort(key=lambda h: (-h[0].score, -h[0].rank, h[1]))
                if hits[limit - 1][0].score > round(bound[u]):
                    break
            code, names = units[u]
            m = explain(query, code, names, threshold, sound=by_sound)
            if m is not None:
                hits.append((m, code))
        hits.sort(key=lambda h: (-h[0].score, -h[0].rank, h[1]))
        if not hits:
            out.append(
                {
                    "line": line,
                    "query": query,
                    "verdict": "no",
                    **dict.fromkeys(("score", "code", "name", "matched")),
                    "debarred": None,
                    "blacklisted": None,
                    "why": [],
                }
            )
        for m, code in hits[:limit]:
            name, debarred, blacklisted = flags_of(code)
            out.append(
                {
                    "line": line,
                    "query": query,
                    "verdict": verdict(m.score, threshold),
                    "score": m.score,
                    "code": code,
                    "name": name,
                    "matched": m.matched,
                    "debarred": debarred,
                    "blacklisted": blacklisted,
                    "why": list(m.why),
                }
            )
    return out


__all__ = ["SCREEN_COLUMNS", "screen"]
