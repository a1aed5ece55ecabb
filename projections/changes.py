"""The change-request read model (SPEC §5): one row per request with its
status and decision, for ``change list``."""

from __future__ import annotations

from datetime import date
from typing import Any

from ledger.store.db import DbConnection, fetchall
from projections.base import loads


def change_list(
    conn: DbConnection,
    *,
    pending: bool = False,
    platform: str | None = None,
    as_of: date | None = None,
) -> list[dict[str, Any]]:
    """``change list``: requests by platform and number; with `as_of`, those
    requested by that date, a decision dated after it not yet taken (pending)."""
    sql, params = "SELECT * FROM rm_change_request WHERE 1 = 1", []
    if platform is not None:
        sql += " AND platform = ?"
        params.append(platform)
    rows = _change_rows(conn, sql + " ORDER BY platform, number", params)
    if as_of is not None:
        day = as_of.isoformat()
        rows = [r for r in rows if str(r["requested_on"]) <= day]
        for r in rows:
            if r["decided_on"] is not None and str(r["decided_on"]) > day:
                r.update(status="pending", decided_on=None, decision_doc_no=None)
                r.update(decision_reason=None, applied=None)
    return [r for r in rows if not pending or r["status"] == "pending"]


def _change_rows(conn: DbConnection, sql: str, params: list[Any]) -> list[dict[str, Any]]:
    return [
        {
            "id": r["id"],
            "platform": r["platform"],
            "type": r["change_type"],
            "details": loads(r["details"]),
            "status": r["status"],
            "requested_on": r["requested_on"],
            "reason": r["reason"],
            "actor": r["actor"],
            "decided_on": r["decided_on"],
            "decision_doc_no": r["decision_doc_no"],
            "decision_reason": r["decision_reason"],
            "applied": loads(r["applied"]),
        }
        for r in fetchall(conn, sql, params)
    ]
