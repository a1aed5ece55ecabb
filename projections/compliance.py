"""Compliance inputs and the ``compliance overdue`` query: annual reports and
evaluations by platform; rectification due dates, consecutive poor years and
late filings come from the platform rows (projections.platforms)."""

from __future__ import annotations

from datetime import date
from functools import singledispatchmethod
from typing import Any

from eventsourcing.persistence import Tracking
from eventsourcing.projection import Projection

from aggregates.platform import Platform
from aggregates.values import ACTIVE_STATUSES, FINAL_STATUSES
from ledger.policies import load_policy
from ledger.store.db import DbConnection, fetchall
from projections.base import ReadModelView, iso_date, iso_ts
from projections.platforms import states_on


class ComplianceProjection(Projection[ReadModelView]):
    name = "compliance"

    @singledispatchmethod
    def process_event(self, domain_event: Any, tracking: Tracking) -> None:
        """Other events are not compliance inputs."""

    @process_event.register
    def _report(self, domain_event: Platform.ReportFiled, tracking: Tracking) -> None:
        e: Any = domain_event
        self.view.insert(
            "rm_report",
            {
                "platform": self.view.code_of(e),
                "year": int(e.year),
                "filed_on": iso_date(e.effective_on),
                "due_on": iso_date(e.due_on),
                "late": int(bool(e.late)),
                "recorded_at": iso_ts(e.timestamp),
            },
        )

    @process_event.register
    def _evaluated(self, domain_event: Platform.Evaluated, tracking: Tracking) -> None:
        e: Any = domain_event
        self.view.insert(
            "rm_evaluation",
            {
                "platform": self.view.code_of(e),
                "cycle": e.cycle,
                "version": e.originator_version,
                "grade": e.grade,
                "evaluated_on": iso_date(e.effective_on),
                "recorded_at": iso_ts(e.timestamp),
            },
        )


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
            out.append(
                _item(
                    p,
                    "rectification-overdue",
                    due,
                    f"in rectification since {p['status_since']}, due by {due}",
                    pol.rectification.basis,
                )
            )
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
    order = {"rectification-overdue": 0, "annual-report-missing": 1, "due-for-termination": 2}
    out.sort(key=lambda r: (order.get(r["issue"], 3), r["platform"], r["due"] or ""))
    return out
