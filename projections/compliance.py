"""Compliance inputs and the ``compliance overdue`` query: annual reports and
evaluations by platform; rectification due dates, consecutive poor years and
late filings come from the platform rows (projections.platforms)."""

from __future__ import annotations

from datetime import date
from typing import Any

from aggregates.policy import Policy
from aggregates.values import ACTIVE_STATUSES, FINAL_STATUSES, period_end_months
from ledger.policies import load_policy
from ledger.store.db import DbConnection, fetchall
from projections.platforms import states_on


def _item(
    p: dict[str, Any], issue: str, due: str | None, detail: str, basis: str | None
) -> dict[str, Any]:
    return {
        "platform": p["code"],
        "name": p["name"],
        "policy": p["policy"],
        "status": p["status"],
        "issue": issue,
        "due": due,
        "detail": detail,
        "basis": basis,
    }


def overdue(conn: DbConnection, as_of: date) -> list[dict[str, Any]]:
    """``compliance overdue``: rectifications past their due date and still
    open; annual reports missing after the policy's deadline (active
    platforms, each year from the approval year); platforms due for
    termination (keqiao: two poor years in a row); late filings (keqiao).
    Each platform's state on `as_of` is ``platforms.states_on``."""
    day = as_of.isoformat()
    states = states_on(conn, as_of)
    active = [p for p in states if p["status"] in ACTIVE_STATUSES]
    out: list[dict[str, Any]] = []
    for p in active:
        pol = load_policy(str(p["policy"]))
        due = p["rectification_due"]
        if p["status"] == "rectification" and due is not None and due < day:
            rect = pol.rectification.basis if pol.rectification else pol.evaluation.basis
            out.append(
                _item(
                    p,
                    "rectification-overdue",
                    due,
                    f"in rectification since {p['status_since']}, due by {due}",
                    rect,
                )
            )
        out += _deadlines(conn, p, pol, as_of)
        if p["due_for_termination"]:
            out.append(
                _item(
                    p,
                    "due-for-termination",
                    None,
                    f"{p['consecutive_poor']} poor evaluations in a row",
                    pol.evaluation.consecutive_poor_basis,
                )
            )
        rule = pol.annual_report
        if rule is not None and p["approved_on"] is not None:
            approved = date.fromisoformat(str(p["approved_on"]))
            filed = {
                int(r["year"])
                for r in fetchall(
                    conn,
                    "SELECT year FROM rm_report WHERE platform = ? AND filed_on <= ?",
                    (p["code"], day),
                )
            }
            for year in range(approved.year, as_of.year + 1):
                report_due = date(year, rule.due_month, rule.due_day)
                if report_due < approved or report_due >= as_of or year in filed:
                    continue
                if rule.from_status and _status_on(conn, p["code"], report_due) != rule.from_status:
                    continue  # 000 art. 23: only years it was in operation
                out.append(
                    _item(
                        p,
                        "annual-report-missing",
                        report_due.isoformat(),
                        f"the {year} annual report was due by {report_due}",
                        rule.basis,
                    )
                )
    for p2 in states:
        if not p2["filing_late"] or p2["status"] in FINAL_STATUSES:
            continue
        pol = load_policy(str(p2["policy"]))
        out.append(
            _item(
                p2,
                "late-filing",
                p2["filing_due"],
                f"filed on {p2['proposed_on']}, due by {p2['filing_due']} "
                f"(agreement signed {p2['agreement_on']})",
                pol.filing.basis if pol.filing else None,
            )
        )
    order = {
        "rectification-overdue": 0,
        "acceptance-due": 1,
        "evaluation-due": 2,
        "annual-report-missing": 3,
        "term-ended": 4,
        "due-for-termination": 5,
    }
    out.sort(key=lambda r: (order.get(r["issue"], 6), r["platform"], r["due"] or ""))
    return out


def _status_on(conn: DbConnection, code: str, on: date) -> str | None:
    row = fetchall(
        conn,
        "SELECT status FROM rm_platform_status WHERE code = ? AND effective_on <= ? "
        "ORDER BY effective_on DESC, version DESC LIMIT 1",
        (code, on.isoformat()),
    )
    return str(row[0]["status"]) if row else None


def _deadlines(
    conn: DbConnection, p: dict[str, Any], pol: Policy, as_of: date
) -> list[dict[str, Any]]:
    """The due dates the governing programme watches (SPEC §4): acceptance at
    the end of construction (000 art. 22), the term's end (004 §3.1, 002 §3.2),
    an evaluation each cycle from the filing (003 art. 22, 001 §5.3, 004 §4.3)."""
    out: list[dict[str, Any]] = []
    day = as_of.isoformat()
    ends = p["construction_ends"]
    if pol.acceptance is not None and p["status"] == "construction" and ends and ends < day:
        out.append(
            _item(
                p,
                "acceptance-due",
                ends,
                f"construction ended on {ends}; acceptance is due",
                pol.acceptance.basis,
            )
        )
    term = pol.term_years
    if term is not None and term.watch and p["term_ends"] and p["term_ends"] <= day:
        out.append(
            _item(
                p, "term-ended", p["term_ends"], f"its term ended on {p['term_ends']}", term.basis
            )
        )
    ev = pol.evaluation
    if ev.watch and p["status"] == "operating" and p["approved_on"]:
        approved = date.fromisoformat(str(p["approved_on"]))
        done = len(
            fetchall(
                conn,
                "SELECT cycle FROM rm_evaluation WHERE platform = ? AND evaluated_on <= ?",
                (p["code"], day),
            )
        )
        first = ev.first_after_months or 12 * ev.cycle_years
        due = period_end_months(approved, first)
        k = 0
        while due < as_of and k < done:
            k += 1
            due = period_end_months(approved, first + 12 * ev.cycle_years * k)
        if due < as_of and k >= done:
            out.append(
                _item(
                    p,
                    "evaluation-due",
                    due.isoformat(),
                    f"an evaluation was due by {due} ({done} recorded)",
                    ev.basis,
                )
            )
    return out
