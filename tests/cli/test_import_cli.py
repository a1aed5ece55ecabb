"""`ledger import` through the command line on both backends: JSON Lines and a
CSV register, re-runs, --dry-run, bad lines with their numbers and CLI.md's
exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from click.testing import CliRunner, Result

from cli import main
from tests.scenario import BIO, TIBET_U


@pytest.fixture(autouse=True)
def _fresh_logging() -> Iterator[None]:
    yield
    structlog.reset_defaults()


def ledger(url: str, *args: str) -> Result:
    return CliRunner().invoke(main, ["--db", url, *args])


FLOW: list[dict[str, Any]] = [
    {"command": "unit register", "args": {"code": BIO, "name": "拉萨高原生物科技有限公司",
                                          "type": "enterprise", "high-tech": True}},
    {"command": "unit register", "args": {"code": TIBET_U, "name": "西藏大学",
                                          "type": "university"}},
    {"command": "platform propose", "args": {"code": "LS-KL-001", "name": "拉萨高原生物重点实验室",
                                             "kind": "key-laboratory", "level": "city",
                                             "host": BIO, "co-builder": [TIBET_U],
                                             "on": "2023-01-10"}},
    {"command": "platform approve", "args": {"code": "LS-KL-001", "doc-no": "拉科发〔2023〕5号",
                                             "on": "2023-03-01"}},
    {"command": "funds allocate", "args": {"code": "LS-KL-001", "category": "operation",
                                           "amount": "500000", "fiscal-year": 2026,
                                           "doc-no": "拉财教〔2026〕1号", "on": "2026-01-15"}},
    {"command": "funds disburse", "args": {"code": "LS-KL-001", "category": "operation",
                                           "amount": "200000.00", "fiscal-year": 2026,
                                           "voucher": "PZ2026-0001", "on": "2026-02-01"},
     "request_id": "PZ2026-0001"},
]  # fmt: skip


def write(path: Path, lines: list[Any]) -> Path:
    path.write_text(
        "\n".join(x if isinstance(x, str) else json.dumps(x, ensure_ascii=False) for x in lines)
        + "\n",
        encoding="utf-8",
    )
    return path


def event_count(url: str) -> int:
    r = ledger(url, "audit", "verify", "--format", "json")
    assert r.exit_code == 0, r.stderr
    events: int = json.loads(r.stdout)["events"]
    return events


def test_a_json_lines_import_records_once_and_the_queries_see_it(
    db_url: str, tmp_path: Path
) -> None:
    assert ledger(db_url, "init").exit_code == 0
    path = write(tmp_path / "decisions.jsonl", FLOW)

    dry = ledger(db_url, "import", str(path), "--dry-run", "--format", "json")
    assert dry.exit_code == 0, dry.stderr
    assert json.loads(dry.stdout)["recorded"] == len(FLOW)
    assert event_count(db_url) == 0  # nothing was recorded

    r = ledger(db_url, "import", str(path), "--batch", "4")
    assert r.exit_code == 0, r.stderr
    assert r.stdout.startswith(f"imported decisions.jsonl: {len(FLOW)} lines recorded")
    assert "in 2 batch(es)" in r.stdout

    show = json.loads(ledger(db_url, "platform", "show", "LS-KL-001", "--format", "json").stdout)
    assert show["status"] == "operating" and show["co_builders"] == [TIBET_U]
    summary = json.loads(ledger(db_url, "funds", "summary", "LS-KL-001", "--format", "json").stdout)
    assert [(s["allocated"], s["disbursed"]) for s in summary] == [("500000.00", "200000.00")]
    events = event_count(db_url)

    again = ledger(db_url, "import", str(path), "--format", "json")
    assert again.exit_code == 0, again.stderr
    data = json.loads(again.stdout)
    assert (data["recorded"], data["already_recorded"], data["events"]) == (0, len(FLOW), 0)
    assert event_count(db_url) == events

    # the payment's request id is the CLI's too: the same payment by hand replays
    r = ledger(
        db_url, "funds", "disburse", "LS-KL-001", "--category", "operation",
        "--amount", "200000.00", "--fiscal-year", "2026", "--voucher", "PZ2026-0001",
        "--on", "2026-02-01", "--request-id", "PZ2026-0001",
    )  # fmt: skip
    assert r.exit_code == 0 and "already recorded (same request id)" in r.stdout
    assert ledger(db_url, "audit", "verify").exit_code == 0


def test_bad_lines_are_reported_by_number_with_the_exit_code_of_their_kind(
    db_url: str, tmp_path: Path
) -> None:
    assert ledger(db_url, "init").exit_code == 0
    malformed = write(
        tmp_path / "a.jsonl", [FLOW[0], '{"command": "unit register", "args": {', FLOW[1]]
    )
    r = ledger(db_url, "import", str(malformed))
    assert r.exit_code == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[0].startswith("error: line 2: not valid JSON")
    assert lines[-1].startswith("error: batch 1 (line 1 to line 3) refused: nothing of it")
    assert event_count(db_url) == 0

    refused = write(tmp_path / "b.jsonl", [*FLOW[:3], dict(FLOW[4])])  # allocating before approval
    r = ledger(db_url, "import", str(refused), "--batch", "3")
    assert r.exit_code == 1
    assert r.stderr.startswith("error: line 4: cannot allocate funds to platform LS-KL-001")
    assert "batch 2 (line 4 to line 4) refused" in r.stderr
    assert event_count(db_url) == 3  # batch 1 (the units and the proposal) stands

    r = ledger(db_url, "import", str(refused), "--dry-run")
    assert r.exit_code == 1 and "line 4" in r.stderr and "nothing was recorded" in r.stdout


def test_a_csv_register_and_usage_errors(db_url: str, tmp_path: Path) -> None:
    assert ledger(db_url, "init").exit_code == 0
    units = tmp_path / "register.csv"
    units.write_text(
        "统一社会信用代码,单位名称,单位类型,高新技术企业\n"
        f"{BIO},拉萨高原生物科技有限公司,企业,是\n{TIBET_U},西藏大学,高校,否\n",
        encoding="utf-8",
    )
    r = ledger(db_url, "import", str(units))
    assert r.exit_code == 2 and "--kind" in r.stderr
    r = ledger(db_url, "import", str(units), "--kind", "units", "--format", "json")
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["recorded"] == 2
    shown = json.loads(ledger(db_url, "unit", "show", BIO, "--format", "json").stdout)
    assert shown["type"] == "enterprise" and shown["high_tech"] is True

    for args, words in (
        (["--kind", "grants"], "invalid --kind"),
        (["--batch", "0"], "invalid --batch 0"),
    ):
        r = ledger(db_url, "import", str(units), *args)
        assert r.exit_code == 2 and words in r.stderr, r.stderr
    (tmp_path / "x.txt").write_text("", encoding="utf-8")
    assert ledger(db_url, "import", str(tmp_path / "x.txt")).exit_code == 2
    assert ledger(db_url, "import", str(tmp_path / "none.jsonl")).exit_code == 2


def test_import_help_and_an_uninitialised_ledger(tmp_path: Path) -> None:
    r = CliRunner().invoke(main, ["import", "--help"])
    assert r.exit_code == 0 and "ledger import decisions.jsonl --dry-run" in r.stdout
    path = write(tmp_path / "a.jsonl", FLOW[:1])
    r = ledger(f"sqlite:///{tmp_path / 'none.db'}", "import", str(path))
    assert r.exit_code == 3
