"""The platform read model: the current row of each platform (``platform
list``), one snapshot per event that changes what ``platform show`` prints
(``--as-of`` / ``--known-at``), and the status history by effective date.

As of D is the newest snapshot with ``effective_on <= D``; known at T adds
``recorded_at <= T``. The domain makes every state-changing event of a
platform non-decreasing in ``effective_on`` (SPEC §3, docs/DESIGN.md), so the
newest such snapshot is exact. Events that change none of those fields
(reports, change requests, funds, entitlements) write no snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from aggregates.errors import PlatformNotFound
from aggregates.values import ACTIVE_STATUSES
from ledger.store.db import DbConnection, fetchall, fetchone
from projections.base import iso_ts, loads, to_date

SNAPSHOT_FIELDS = (
    "code",
    "version",
    "effective_on",
    "recorded_at",
    "event",
    "name",
    "kind",
    "level",
    "policy",
    "status",
    "status_since",
    "host_unit",
    "co_builders",
    "proposed_on",
    "approved_on",
    "construction_ends",
    "term_ends",
    "rectification_due",
    "delist_reason",
    "funding_suspended",
    "consecutive_poor",
    "due_for_termination",
    "agreement_on",
    "filing_due",
    "filing_late",
)


# --- queries ---------------------------------------------------------------------------


@dataclass(frozen=True)
class PlatformState:
    """What ``platform show`` prints, as of a date and known at a moment."""

    row: dict[str, Any]
    version: int
    as_of: date
    known_at: datetime | None

    def as_json(self) -> dict[str, Any]:
        r = self.row
        return {
            "code": r["code"],
            "name": r["name"],
            "kind": r["kind"],
            "level": r["level"],
            "policy": r["policy"],
            "status": r["status"],
            "status_since": r["status_since"],
            "host_unit": r["host_unit"],
            "co_builders": loads(r["co_builders"]),
            "construction_ends": r["construction_ends"],
            "rectification_due": r["rectification_due"],
            "funding_suspended": bool(r["funding_suspended"]),
            "version": self.version,
            "as_of": self.as_of.isoformat(),
            "known_at": iso_ts(self.known_at) if self.known_at else None,
            # beyond CLI.md's shape
            "proposed_on": r["proposed_on"],
            "approved_on": r["approved_on"],
            "term_ends": r["term_ends"],
            "delist_reason": r["delist_reason"],
            "consecutive_poor": int(r["consecutive_poor"]),
            "due_for_termination": bool(r["due_for_termination"]),
            "agreement_on": r["agreement_on"],
            "filing_due": r["filing_due"],
            "filing_late": bool(r["filing_late"]),
        }


def snapshot_on(
    conn: DbConnection, code: str, as_of: date, known_at: datetime | None = None
) -> dict[str, Any] | None:
    """The newest snapshot of a platform effective on or before `as_of`
    (and recorded by `known_at`), or None."""
    sql = "SELECT * FROM rm_platform_snapshot WHERE code = ? AND effective_on <= ?"
    params: list[Any] = [code, as_of.isoformat()]
    if known_at is not None:
        sql += " AND recorded_at <= ?"
        params.append(iso_ts(known_at))
    sql += " ORDER BY effective_on DESC, version DESC LIMIT 1"
    return fetchone(conn, sql, params)


def platform_exists(conn: DbConnection, code: str) -> bool:
    return fetchone(conn, "SELECT 1 AS x FROM rm_platform WHERE code = ?", (code,)) is not None


def platform_state(
    conn: DbConnection, code: str, as_of: date, known_at: datetime | None = None
) -> PlatformState:
    """``platform show``. PlatformNotFound if the platform is unknown, or did
    not exist on that date (or was not yet recorded at that moment)."""
    current = fetchone(conn, "SELECT * FROM rm_platform WHERE code = ?", (code,))
    if current is None:
        raise PlatformNotFound(code)
    row = snapshot_on(conn, code, as_of, known_at)
    if row is None:
        when = f"on {as_of}" if known_at is None else f"on {as_of} as known at {iso_ts(known_at)}"
        raise PlatformNotFound(f"{code} (it was not yet proposed {when})")
    sql = (
        "SELECT MAX(version) AS v FROM rm_history WHERE aggregate = 'platform' AND code = ? "
        "AND effective_on <= ?"
    )
    params: list[Any] = [code, as_of.isoformat()]
    if known_at is not None:
        sql += " AND recorded_at <= ?"
        params.append(iso_ts(known_at))
    found = fetchone(conn, sql, params)
    version = int(found["v"]) if found and found["v"] is not None else int(row["version"])
    return PlatformState(row, max(version, int(row["version"])), as_of, known_at)


def platform_status_on(
    conn: DbConnection, code: str, on: date, known_at: datetime | None = None
) -> str | None:
    """The platform's status slug on a date (None before it was proposed)."""
    sql = "SELECT status FROM rm_platform_status WHERE code = ? AND effective_on <= ?"
    params: list[Any] = [code, on.isoformat()]
    if known_at is not None:
        sql += " AND recorded_at <= ?"
        params.append(iso_ts(known_at))
    sql += " ORDER BY effective_on DESC, version DESC LIMIT 1"
    row = fetchone(conn, sql, params)
    return None if row is None else str(row["status"])


def status_history(conn: DbConnection, code: str) -> list[dict[str, Any]]:
    return fetchall(
        conn,
        "SELECT effective_on, status, version, recorded_at FROM rm_platform_status "
        "WHERE code = ? ORDER BY version",
        (code,),
    )


def states_on(
    conn: DbConnection,
    as_of: date,
    *,
    status: str | None = None,
    kind: str | None = None,
    level: str | None = None,
) -> list[dict[str, Any]]:
    """The state on `as_of` of every platform proposed by then (filtered), by
    code. A platform's current row is its state on any date on or after its
    newest state-changing event (``effective_on``: those events never go back
    in time within a platform, docs/DESIGN.md); a platform with an event dated
    after `as_of` (whatever "today" is) is read from its snapshot on that date,
    one index probe each. So the answer is the one ``platform show`` gives."""
    day = as_of.isoformat()
    filters = [(c, v) for c, v in (("status", status), ("kind", kind), ("level", level)) if v]
    sql = "SELECT * FROM rm_platform WHERE effective_on <= ?"
    params: list[Any] = [day]
    for col, value in filters:
        sql += f" AND {col} = ?"
        params.append(value)
    rows = fetchall(conn, sql, params)
    sql = "SELECT code FROM rm_platform WHERE effective_on > ? AND proposed_on <= ?"
    params = [day, day]
    if kind is not None:  # a platform's kind never changes
        sql += " AND kind = ?"
        params.append(kind)
    for c in fetchall(conn, sql, params):
        snap = snapshot_on(conn, str(c["code"]), as_of)
        if snap is not None and all(snap[col] == value for col, value in filters):
            rows.append(snap)
    rows.sort(key=lambda r: str(r["code"]))
    return rows


def platform_list(
    conn: DbConnection,
    as_of: date,
    *,
    status: str | None = None,
    kind: str | None = None,
    level: str | None = None,
) -> list[dict[str, Any]]:
    """``platform list``: every platform that existed on the date, with its
    state then, filtered; ordered by code (the state on a date does not
    depend on "today")."""
    return [
        list_item(r, as_of) for r in states_on(conn, as_of, status=status, kind=kind, level=level)
    ]


def list_item(r: dict[str, Any], as_of: date) -> dict[str, Any]:
    return {
        "code": r["code"],
        "name": r["name"],
        "kind": r["kind"],
        "level": r["level"],
        "policy": r["policy"],
        "status": r["status"],
        "status_since": r["status_since"],
        "host_unit": r["host_unit"],
        "rectification_due": r["rectification_due"],
        "funding_suspended": bool(r["funding_suspended"]),
        "as_of": as_of.isoformat(),
    }


def active_on(conn: DbConnection, as_of: date) -> list[dict[str, Any]]:
    """States of every platform in construction, operating or rectification on a date."""
    return [r for r in states_on(conn, as_of) if r["status"] in ACTIVE_STATUSES]


def platform_dates(row: dict[str, Any], *fields: str) -> list[date | None]:
    return [to_date(row[f]) for f in fields]


def _searchable(text: str) -> str:
    """A code or name as search compares it: full-width as half-width,
    traditional as simplified, lower case, punctuation and spaces left out."""
    from projections.name_match import normalise

    return "".join(normalise(text).text.split())


def search_platforms(conn: DbConnection, text: str, as_of: date) -> list[dict[str, Any]]:
    """Platforms whose code, or any name they bore (a rename approved through
    a change request leaves the former name in their snapshots), contains
    `text`, compared as ``_searchable``; each as ``platform list`` shows it on
    `as_of`, with ``matched``: the name (or code) that matched. Ordered by code."""
    needle = _searchable(text)
    if not needle:
        return []
    matched: dict[str, str] = {}
    rows = fetchall(
        conn,
        "SELECT code, name, MAX(version) AS v FROM rm_platform_snapshot "
        "GROUP BY code, name ORDER BY code, v DESC",
    )
    for r in rows:
        code, name = str(r["code"]), str(r["name"])
        if code in matched:
            continue
        if needle in _searchable(name):
            matched[code] = name
        elif needle in _searchable(code):
            matched[code] = code
    if not matched:
        return []
    return [
        {**item, "matched": matched[str(item["code"])]}
        for item in platform_list(conn, as_of)
        if str(item["code"]) in matched
    ]
