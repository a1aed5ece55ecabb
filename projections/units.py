"""The unit-standing read model: units, their names (registered, renamed,
aliases), violations, debarments (with lifting), blacklist entries (with
removal) and the consortia they lead; and the queries over it: ``unit show``,
``unit search``, ``debarred``, ``blacklist``, ``eligibility``.

Every row keeps its business dates and its ``recorded_at`` (and those of its
lifting or removal), so "as of D" and "known at T" are both plain,
index-backed filters. Eligibility is not re-implemented: the facts read here
are handed to ``aggregates.eligibility.reasons_against``, the same function
the rules use when a proposal is made.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aggregates.eligibility import (
    BlacklistFact,
    DebarmentFact,
    LeadRule,
    LookBack,
    Reason,
    ViolationFact,
    reasons_against,
)
from aggregates.errors import UnitNotFound
from ledger.store.db import DbConnection, fetchall, fetchone
from projections.base import iso_ts, loads, to_date
from projections.name_match import (
    ALIAS,
    CURRENT,
    FORMER,
    SEARCH_THRESHOLD,
    explain,
    match_unit,
)

# --- facts, as known at a moment ----------------------------------------------------------


def _known(row: dict[str, Any], col: str, known_at: str | None) -> bool:
    """Whether the fact in `row` stamped by `col` was recorded by `known_at`."""
    return known_at is None or (row[col] is not None and str(row[col]) <= known_at)


# A unit's own names, oldest first: the name it was registered with (whatever
# the date of the registration: a rename may be dated before it), then its
# renames by (effective date, version). The domain records renames in date
# order; the read side does not depend on it.
_OWN_NAME_ORDER = "CASE WHEN source = 'renamed' THEN 1 ELSE 0 END, since, version"
_OWN_NAME_ORDER_DESC = (
    "CASE WHEN source = 'renamed' THEN 1 ELSE 0 END DESC, since DESC, version DESC"
)


def _own_name_order(n: dict[str, Any]) -> tuple[bool, str, int]:
    renamed = n["source"] == "renamed"
    return (renamed, str(n["since"]) if renamed else "", int(n["version"]))


@dataclass(frozen=True)
class Standing:
    """A unit's integrity record, known at a moment (every date kept)."""

    unit: dict[str, Any]
    names: list[dict[str, Any]]
    violations: list[dict[str, Any]]
    debarments: list[dict[str, Any]]
    blacklist: list[dict[str, Any]]
    consortia: list[dict[str, Any]]

    def debarment_facts(self) -> list[DebarmentFact]:
        return [
            DebarmentFact(
                d["id"],
                tuple(d["scopes"]),
                _d(d["start"]),
                _d(d["end"]),
                to_date(d["lifted_on"]),
                d["basis"],
                d["doc_no"],
                d.get("policy"),
            )
            for d in self.debarments
        ]

    def blacklist_facts(self) -> list[BlacklistFact]:
        return [
            BlacklistFact(
                b["id"], _d(b["added_on"]), to_date(b["removed_on"]), b["basis"], b["doc_no"]
            )
            for b in self.blacklist
        ]

    def violation_facts(self) -> list[ViolationFact]:
        return [
            ViolationFact(v["id"], v["kind"], _d(v["occurred_on"]), _d(v["found_on"]))
            for v in self.violations
        ]

    def consortia_on(self, on: date) -> list[str]:
        return [code for code, _ in self.consortia_led_on(on)]

    def consortia_led_on(self, on: date) -> list[tuple[str, date | None]]:
        """The consortia led on a date, each with the date its lead ends (None
        while it runs, as known)."""
        day = on.isoformat()
        return [
            (str(c["platform"]), to_date(c["until_on"]))
            for c in self.consortia
            if c["since"] <= day and (c["until_on"] is None or day < c["until_on"])
        ]

    def _own_names_on(self, on: date) -> list[dict[str, Any]]:
        """The unit's own names borne by `on`, oldest first: the name it was
        registered with (borne before the ledger knew it, so from any date),
        then each rename effective by then, by (date, version)."""
        day = on.isoformat()
        return sorted(
            (
                n
                for n in self.names
                if n["source"] == "registered" or (n["source"] == "renamed" and n["since"] <= day)
            ),
            key=_own_name_order,
        )

    def name_on(self, on: date) -> str:
        own = self._own_names_on(on)
        return str(own[-1]["name"]) if own else str(self.unit["name"])

    def former_names(self, on: date) -> list[dict[str, Any]]:
        """Names the unit bore before its name on `on`, each with the day it
        ended (`since` null where the ledger does not know when it began)."""
        own = self._own_names_on(on)
        return [
            {
                "name": a["name"],
                "since": a["since"]
                if a["source"] == "renamed" or a["since"] <= b["since"]
                else None,
                "until": b["since"],
            }
            for a, b in itertools.pairwise(own)
        ]

    def aliases(self) -> list[str]:
        return [str(n["name"]) for n in self.names if n["source"] == "alias"]


def _d(value: Any) -> date:
    d = to_date(value)
    if d is None:  # pragma: no cover - NOT NULL columns
        raise ValueError("missing date")
    return d


def standing(conn: DbConnection, code: str, known_at: datetime | None = None) -> Standing:
    """Everything the read model holds about a unit, as recorded by `known_at`."""
    unit = fetchone(conn, "SELECT * FROM rm_unit WHERE code = ?", (code,))
    at = iso_ts(known_at) if known_at is not None else None
    if unit is None or not _known(unit, "recorded_at", at):
        raise UnitNotFound(code)
    names = [
        n
        for n in fetchall(
            conn,
            "SELECT * FROM rm_unit_name WHERE code = ? ORDER BY version, source, name",
            (code,),
        )
        if _known(n, "recorded_at", at)
    ]
    violations = [
        v
        for v in fetchall(
            conn, "SELECT * FROM rm_violation WHERE unit = ? ORDER BY version", (code,)
        )
        if _known(v, "recorded_at", at)
    ]
    debarments = []
    for d in fetchall(conn, "SELECT * FROM rm_debarment WHERE unit = ? ORDER BY version", (code,)):
        if not _known(d, "recorded_at", at):
            continue
        lifted = _known(d, "lift_recorded_at", at) and d["lifted_on"] is not None
        debarments.append(
            {
                **d,
                "start": d["start_on"],
                "end": d["end_on"],
                "scopes": loads(d["scopes"]),
                "lifted_on": d["lifted_on"] if lifted else None,
                "lift_doc_no": d["lift_doc_no"] if lifted else None,
            }
        )
    blacklist = []
    for b in fetchall(conn, "SELECT * FROM rm_blacklist WHERE unit = ? ORDER BY version", (code,)):
        if not _known(b, "recorded_at", at):
            continue
        removed = _known(b, "removal_recorded_at", at) and b["removed_on"] is not None
        blacklist.append({**b, "removed_on": b["removed_on"] if removed else None})
    consortia = []
    for c in fetchall(
        conn, "SELECT * FROM rm_consortium_lead WHERE unit = ? ORDER BY platform", (code,)
    ):
        if not _known(c, "recorded_at", at):
            continue
        released = _known(c, "until_recorded_at", at) and c["until_on"] is not None
        consortia.append({**c, "until_on": c["until_on"] if released else None})
    return Standing(unit, names, violations, debarments, blacklist, consortia)


# --- shapes ------------------------------------------------------------------------------------


# A debarment decided but not yet started on the date (未生效), a blacklist
# entry not yet added: neither is in force.
NOT_YET = "not-yet-in-force"


def debarment_status(d: dict[str, Any], on: date) -> str:
    """`active`, `lifted`, `expired` on the date (CLI.md), or `not-yet-in-force`
    before its start. A lifting dated after the date does not count."""
    day = on.isoformat()
    if d["lifted_on"] is not None and d["lifted_on"] <= day:
        return "lifted"
    if day >= d["end"]:
        return "expired"
    if day < d["start"]:
        return NOT_YET
    return "active"


def debarment_item(d: dict[str, Any], unit_name: str, on: date) -> dict[str, Any]:
    """The shape ``debarred`` lists (CLI.md), plus the lifting, as of `on`:
    a lifting dated after it is not shown (as of that date it had not happened)."""
    day = on.isoformat()
    lifted_on = d["lifted_on"] if d["lifted_on"] is not None and d["lifted_on"] <= day else None
    until = d["end"]
    if lifted_on is not None and lifted_on < d["end"]:
        until = lifted_on
    return {
        "unit": d["unit"],
        "unit_name": unit_name,
        "id": d["id"],
        "scopes": list(d["scopes"]),
        "years": int(d["years"]),
        "start": d["start"],
        "end": d["end"],
        "basis": d["basis"],
        "doc_no": d["doc_no"],
        "status": debarment_status(d, on),
        "lifted_on": lifted_on,
        "until": until,
        "violation": d["violation"],
        # the programme that imposed it; null: ledger-wide (SPEC §2.1)
        "policy": d.get("policy"),
    }


def blacklist_active(b: dict[str, Any], on: date) -> bool:
    day = on.isoformat()
    return bool(b["added_on"] <= day and (b["removed_on"] is None or day < b["removed_on"]))


def blacklist_item(b: dict[str, Any], unit_name: str, on: date) -> dict[str, Any]:
    """A blacklist entry as of `on`: a removal dated after it is not shown."""
    day = on.isoformat()
    removed_on = b["removed_on"] if b["removed_on"] is not None and b["removed_on"] <= day else None
    if blacklist_active(b, on):
        status = "active"
    elif removed_on is not None:
        status = "removed"
    else:
        status = NOT_YET
    return {
        "unit": b["unit"],
        "unit_name": unit_name,
        "id": b["id"],
        "scopes": [],
        "years": None,
        "start": b["added_on"],
        "end": None,
        "basis": b["basis"],
        "doc_no": b["doc_no"],
        "status": status,
        "removed_on": removed_on,
        "reason": b["reason"],
        "violation": b["violation"],
    }


def violation_item(v: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": v["id"],
        "kind": v["kind"],
        "occurred_on": v["occurred_on"],
        "found_on": v["found_on"],
        "platform": v["platform"],
        "doc_no": v["doc_no"],
        "reason": v["reason"],
    }


# --- queries -------------------------------------------------------------------------------------


def unit_exists(conn: DbConnection, code: str) -> bool:
    return fetchone(conn, "SELECT 1 AS x FROM rm_unit WHERE code = ?", (code,)) is not None


def unit_show(
    conn: DbConnection, code: str, as_of: date, known_at: datetime | None = None
) -> dict[str, Any]:
    """``unit show``: the unit as of a date (as known at a moment): its name
    then, violations found by then, its debarments with their status then
    (those decided by then, and those a later decision dates back to the date
    or before: the recorded decisions give them for that day, as ``debarred``
    and ``eligibility`` do), the blacklist entries added by then, whether it
    is blacklisted then. Before its registration it is unknown (as
    ``platform show`` before the proposal)."""
    s = standing(conn, code, known_at)
    day = as_of.isoformat()
    name = s.name_on(as_of)
    return {
        "code": code,
        "name": name,
        "type": s.unit["unit_type"],
        "high_tech": bool(s.unit["high_tech"]),
        "aliases": s.aliases(),
        "former_names": s.former_names(as_of),
        "violations": [violation_item(v) for v in s.violations if v["found_on"] <= day],
        "debarments": [
            debarment_item(d, name, as_of)
            for d in s.debarments
            if d.get("imposed_on") is None or d["imposed_on"] <= day or d["start"] <= day
        ],
        "blacklisted": any(blacklist_active(b, as_of) for b in s.blacklist),
        "as_of": day,
        # beyond CLI.md's shape
        "known_at": iso_ts(known_at) if known_at else None,
        "registered_on": s.unit["registered_on"],
        "blacklist": [blacklist_item(b, name, as_of) for b in s.blacklist if b["added_on"] <= day],
        "consortia_led": s.consortia_on(as_of),
    }


def debarred_on(
    conn: DbConnection,
    on: date,
    *,
    scope: str | None = None,
    name: str | None = None,
    unit: str | None = None,
) -> list[dict[str, Any]]:
    """``debarred``: every debarment in force on a date (start <= D < end, not
    lifted by D), optionally of one scope, of units whose name matches."""
    day = on.isoformat()
    sql = (
        "SELECT d.*, u.name AS unit_name FROM rm_debarment d JOIN rm_unit u ON u.code = d.unit "
        "WHERE d.end_on > ? AND d.start_on <= ? AND (d.lifted_on IS NULL OR d.lifted_on > ?)"
    )
    params: list[Any] = [day, day, day]
    if unit is not None:
        sql += " AND d.unit = ?"
        params.append(unit)
    out = []
    for d in fetchall(conn, sql + " ORDER BY d.start_on, d.id", params):
        row = {**d, "start": d["start_on"], "end": d["end_on"], "scopes": loads(d["scopes"])}
        if scope is not None and scope not in row["scopes"]:
            continue
        out.append(row)
    names = _names_on(conn, {str(r["unit"]) for r in out}, on)
    if name is not None:
        # the matching and threshold of `unit search`, over the names as of the date
        hits = {
            u: match_unit(name, u, unit_names_on(conn, u, on))
            for u in {str(r["unit"]) for r in out}
        }
        out = [r for r in out if hits[str(r["unit"])] is not None]
    return [debarment_item(r, names.get(str(r["unit"]), r["unit_name"]), on) for r in out]


def blacklisted_on(
    conn: DbConnection, on: date, *, unit: str | None = None
) -> list[dict[str, Any]]:
    """``blacklist``: every entry in force on a date."""
    day = on.isoformat()
    sql = (
        "SELECT b.*, u.name AS unit_name FROM rm_blacklist b JOIN rm_unit u ON u.code = b.unit "
        "WHERE b.added_on <= ? AND (b.removed_on IS NULL OR b.removed_on > ?)"
    )
    params: list[Any] = [day, day]
    if unit is not None:
        sql += " AND b.unit = ?"
        params.append(unit)
    rows = fetchall(conn, sql + " ORDER BY b.added_on, b.id", params)
    names = _names_on(conn, {str(r["unit"]) for r in rows}, on)
    return [blacklist_item(r, names.get(str(r["unit"]), r["unit_name"]), on) for r in rows]


def _names_on(conn: DbConnection, codes: set[str], on: date) -> dict[str, str]:
    """Each unit's own name on a date (its registered name, or its latest
    rename by then), read 500 units a statement: the newest in
    _OWN_NAME_ORDER (no two of a unit's own names tie on it: one registered,
    one rename a version)."""
    out: dict[str, str] = {}
    best: dict[str, tuple[bool, str, int]] = {}
    wanted = sorted(codes)
    for start in range(0, len(wanted), 500):
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        for row in fetchall(
            conn,
            "SELECT code, name, source, since, version FROM rm_unit_name "
            f"WHERE code IN ({marks}) "
            "AND (source = 'registered' OR (source = 'renamed' AND since <= ?))",
            (*chunk, on.isoformat()),
        ):
            code = str(row["code"])
            key = _own_name_order(row)
            if code not in best or key > best[code]:
                best[code], out[code] = key, str(row["name"])
    return out


def debarment_on(conn: DbConnection, unit: str, on: date) -> str | None:
    """Why the unit is debarred on a date (any scope), or None (for reconciliation)."""
    rows = debarred_on(conn, on, unit=unit)
    if not rows:
        return None
    d = rows[0]
    return (
        f"debarment {d['id']} ({', '.join(d['scopes'])}) from {d['start']} until {d['until']}"
        f" ({d['basis'] or d['doc_no']})"
    )


def blacklisting_on(conn: DbConnection, unit: str, on: date) -> str | None:
    """Why the unit is on the integrity blacklist on a date, or None (for reconciliation)."""
    rows = blacklisted_on(conn, on, unit=unit)
    if not rows:
        return None
    b = rows[0]
    return f"on the integrity blacklist since {b['start']} ({b['basis'] or b['doc_no']})"


def unit_names(conn: DbConnection) -> dict[str, str]:
    """Every name a unit is known by (current, former, aliases) → its credit code."""
    return {
        str(r["name"]): str(r["code"])
        for r in fetchall(conn, "SELECT code, name FROM rm_unit_name ORDER BY code, version")
    }


def unit_codes_by_name(conn: DbConnection, name: str) -> list[str]:
    """Units that bear or bore exactly this name, or have it as an alias."""
    return [
        str(r["code"])
        for r in fetchall(
            conn, "SELECT DISTINCT code FROM rm_unit_name WHERE name = ? ORDER BY code", (name,)
        )
    ]


def unit_names_on(conn: DbConnection, code: str, on: date) -> list[tuple[str, int]]:
    """A unit's names as of a date, each with its rank: the name it bore then,
    its aliases, its earlier names (the registered name and the aliases from any
    date: the unit bore them before the ledger knew it)."""
    rows = fetchall(
        conn,
        "SELECT name, source, since, version FROM rm_unit_name WHERE code = ? "
        f"AND (source <> 'renamed' OR since <= ?) ORDER BY {_OWN_NAME_ORDER}",
        (code, on.isoformat()),
    )
    return _ranked(rows)


def _ranked(rows: list[dict[str, Any]]) -> list[tuple[str, int]]:
    """Rows of one unit's names (in _OWN_NAME_ORDER) → (name, rank)."""
    own = [r for r in rows if r["source"] != "alias"]
    current = own[-1]["name"] if own else None
    out = [(str(r["name"]), ALIAS) for r in rows if r["source"] == "alias"]
    if current is not None:
        out.append((str(current), CURRENT))
        out += [(str(r["name"]), FORMER) for r in own[:-1] if r["name"] != current]
    return out


def search_units(
    conn: DbConnection, text: str, on: date, *, limit: int = 20, threshold: int = SEARCH_THRESHOLD
) -> list[dict[str, Any]]:
    """``unit search``: fuzzy over the names units bore on the date (the
    name then, earlier names, aliases; Chinese included), or by credit code,
    whole or in part (case-insensitive); best first. A unit is found for any
    date, also before the ledger registered it (it existed, under the name it
    was registered with); names it took by a rename after the date are not."""
    query = text.strip()
    if not query:
        return []
    rows = fetchall(
        conn,
        "SELECT code, name, source, since, version FROM rm_unit_name "
        f"WHERE source <> 'renamed' OR since <= ? ORDER BY code, {_OWN_NAME_ORDER}",
        (on.isoformat(),),
    )
    hits: list[tuple[int, str, str]] = []
    for code, group in itertools.groupby(rows, key=lambda r: str(r["code"])):
        found = explain(query, code, _ranked(list(group)), threshold)
        if found is not None:
            hits.append((found.score, code, found.matched))
    hits.sort(key=lambda h: (-h[0], h[1]))
    out: list[dict[str, Any]] = []
    for score, code, matched in hits[:limit]:
        s = standing(conn, code)
        out.append(
            {
                "code": code,
                "name": s.name_on(on),
                "matched": matched,
                "score": score,
                "debarred": any(debarment_status(d, on) == "active" for d in s.debarments),
                "blacklisted": any(blacklist_active(b, on) for b in s.blacklist),
            }
        )
    return out


# --- eligibility ----------------------------------------------------------------------------------


def eligibility(
    conn: DbConnection,
    code: str,
    purpose: str,
    on: date,
    look_back: list[LookBack],
    known_at: datetime | None = None,
    *,
    under: str | None = None,
    lead_rule: LeadRule | None = None,
) -> tuple[bool, list[Reason]]:
    """Whether the unit is eligible for `purpose` on `on` (under programme
    `under`, or any), and every reason it is not:
    ``aggregates.eligibility.reasons_against`` over the read model's facts."""
    s = standing(conn, code, known_at)
    reasons = reasons_against(
        purpose=purpose,
        on=on,
        debarments=s.debarment_facts(),
        blacklist=s.blacklist_facts(),
        violations=s.violation_facts(),
        look_back=look_back,
        led_consortia=s.consortia_led_on(on),
        under=under,
        lead_rule=lead_rule,
    )
    return not reasons, reasons
