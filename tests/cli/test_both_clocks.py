"""Both clocks on every query (issue 15): --as-of is the business date,
--known-at the moment of knowledge (only what was recorded by then). A late
entry — recorded now, effective in the past — changes the as-of answer but
not the answer known before it was recorded."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from click.testing import CliRunner

from cli import main
from ledger.demo import load_demo
from ledger.service import LedgerService
from tests.scenario import init_ledger

LATE = "91540100MA6T0A0B1W"  # 拉萨高原生物科技有限公司: clean in the demo


@pytest.fixture
def late(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    monkeypatch.setenv("LEDGER_TODAY", "2026-11-24")
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    time.sleep(0.01)
    before = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    time.sleep(0.01)
    # a violation found in June, recorded only now: its debarment runs from 2026-06-01
    code, _, err = run(
        db_url, "--actor", "clerk-late", "unit", "violation", LATE, "--kind",
        "false-materials", "--occurred-on", "2026-05-01", "--doc-no", "拉科监〔2026〕99号",
        "--on", "2026-06-01",
    )  # fmt: skip
    assert code == 0, err
    yield {"url": db_url, "before": before}


def run(url: str, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", url, *args])
    return result.exit_code, result.stdout, result.stderr


def js(url: str, *args: str) -> Any:
    code, out, err = run(url, *args, "--format", "json")
    assert code == 0, err
    return json.loads(out)


def test_debarred_blacklist_and_eligibility_as_known(late: dict[str, Any]) -> None:
    url, before = late["url"], late["before"]
    units = {r["unit"] for r in js(url, "debarred", "--as-of", "2026-08-01")}
    assert LATE in units
    known = {r["unit"] for r in js(url, "debarred", "--as-of", "2026-08-01", "--known-at", before)}
    assert LATE not in known and known == units - {LATE}
    now = js(url, "eligibility", LATE, "--as-of", "2026-08-01")
    then = js(url, "eligibility", LATE, "--as-of", "2026-08-01", "--known-at", before)
    assert now["eligible"] is False and then["eligible"] is True
    # a moment before anything was recorded: nothing known
    assert js(url, "blacklist", "--known-at", "2000-01-01T00:00:00Z") == []
    assert js(url, "blacklist") != []


def test_history_filters_and_the_late_entry(late: dict[str, Any]) -> None:
    url, before = late["url"], late["before"]
    mine = js(url, "history", "--actor", "clerk-late")
    assert {e["event"] for e in mine} >= {"ViolationRecorded", "Debarred"}
    assert js(url, "history", "--actor", "clerk-late", "--known-at", before) == []
    assert js(url, "history", "--actor", "clerk-late", "--recorded-from", before) == mine
    by_doc = js(url, "history", "--doc-no", "拉科监〔2026〕99号")
    assert by_doc and all(e["doc_no"] == "拉科监〔2026〕99号" for e in by_doc)
    approved = js(url, "history", "--event", "Approved", "--order", "effective")
    days = [e["effective_on"] for e in approved]
    assert approved and days == sorted(days) and {e["event"] for e in approved} == {"Approved"}
    ranged = js(url, "history", "--from", "2026-01-01", "--to", "2026-06-30")
    assert ranged and all("2026-01-01" <= e["effective_on"] <= "2026-06-30" for e in ranged)
    as_of = js(url, "history", "--as-of", "2025-12-31")
    assert as_of and max(e["effective_on"] for e in as_of) <= "2025-12-31"
    recorded = js(url, "history", "--order", "recorded")
    assert [e["recorded_at"] for e in recorded] == sorted(e["recorded_at"] for e in recorded)
    code, _, err = run(url, "history", "--order", "sideways")
    assert code == 2 and "--order" in err
    code, _, err = run(url, "history", "--recorded-to", "yesterday")
    assert code == 2 and "--recorded-to" in err


def test_funds_compliance_and_changes_take_both_clocks(late: dict[str, Any]) -> None:
    url = late["url"]
    assert js(url, "funds", "summary", "--known-at", "2000-01-01T00:00:00Z") == []
    assert js(url, "funds", "summary", "--known-at", late["before"]) == js(url, "funds", "summary")
    assert js(url, "compliance", "overdue", "--known-at", "2000-01-01T00:00:00Z") == []
    pending = js(url, "change", "list", "--pending")
    assert pending
    first = min(r["requested_on"] for r in pending)
    assert js(url, "change", "list", "--pending", "--as-of", "2000-01-01") == []
    assert js(url, "change", "list", "--as-of", first)
    assert js(url, "change", "list", "--known-at", "2000-01-01T00:00:00Z") == []


def test_platform_list_and_unit_search_as_known(late: dict[str, Any]) -> None:
    url, before = late["url"], late["before"]
    assert js(url, "platform", "list", "--known-at", "2000-01-01T00:00:00Z") == []
    assert js(url, "platform", "list", "--known-at", before) == js(url, "platform", "list")
    [now] = [h for h in js(url, "unit", "search", "拉萨高原生物科技有限公司") if h["code"] == LATE]
    [then] = [
        h
        for h in js(url, "unit", "search", "拉萨高原生物科技有限公司", "--known-at", before)
        if h["code"] == LATE
    ]
    assert now["debarred"] is True and then["debarred"] is False
