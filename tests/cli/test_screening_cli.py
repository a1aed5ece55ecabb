"""Screening in batches through the CLI (issue 15): `unit search --file` and
`debarred --file` read a list (a text file, stdin, a CSV or XLSX column),
answer each name with its best matches, score, verdict and why, and exit 1
under --check when a name matches a debarred or blacklisted unit."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from openpyxl import Workbook

from cli import main
from ledger.demo import load_demo
from ledger.service import LedgerService
from tests.scenario import init_ledger

DEBARRED = "91540100MA6T0A0C21"  # 西藏净土农业科技有限公司, debarred in the demo
BLACKLISTED = "91540100MA6T0A0D35"  # 拉萨智造装备有限公司, on the blacklist


@pytest.fixture
def demo(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("LEDGER_TODAY", "2026-11-24")
    init_ledger(db_url)
    svc = LedgerService(db_url)
    try:
        load_demo(svc)
    finally:
        svc.close()
    yield db_url


def run(url: str, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["--db", url, *args], input=stdin)
    return result.exit_code, result.stdout, result.stderr


def test_a_list_from_stdin_each_name_answered_and_explained(demo: str) -> None:
    names = "西藏淨土農業科技有限公司\n\n某某股份有限公司\n"
    names += "拉萨智造装备股份有限公司\nxizang jingtu nongye\n"
    code, out, err = run(demo, "unit", "search", "--file", "-", "--format", "json", stdin=names)
    assert code == 0, err
    rows = json.loads(out)
    by_line: dict[int, list[dict[str, Any]]] = {}
    for r in rows:
        by_line.setdefault(r["line"], []).append(r)
    assert sorted(by_line) == [1, 3, 4, 5]  # the blank line 2 is skipped, numbers kept
    first = by_line[1][0]
    assert (first["verdict"], first["code"], first["score"]) == ("match", DEBARRED, 100)
    assert "query: traditional→simplified" in first["why"] and first["debarred"] is True
    assert [r["verdict"] for r in by_line[3]] == ["no"]
    form = by_line[4][0]
    assert form["code"] == BLACKLISTED and form["verdict"] == "match" and form["blacklisted"]
    assert any("股份有限公司" in w for w in form["why"])
    sound = by_line[5][0]
    assert sound["code"] == DEBARRED and "by pinyin" in sound["why"]
    # --check: exit 1, naming the matches
    code, _, err = run(demo, "unit", "search", "--file", "-", "--check", stdin=names)
    assert code == 1 and DEBARRED in err and BLACKLISTED in err
    code, _, _ = run(demo, "unit", "search", "--file", "-", "--check", stdin="某某股份有限公司\n")
    assert code == 0


def test_a_column_of_a_csv_or_xlsx_and_debarred_only(demo: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "applicants.csv"
    csv_file.write_text(
        "序号,单位名称\n1,西藏净土农业科技有限公司\n2,拉萨雪域检测技术有限公司\n", encoding="utf-8"
    )
    code, out, err = run(
        demo, "debarred", "--file", str(csv_file), "--column", "单位名称", "--format", "json"
    )
    assert code == 0, err
    rows = json.loads(out)
    assert [(r["line"], r["verdict"]) for r in rows] == [(2, "match"), (3, "no")]
    code, _, err = run(demo, "debarred", "--file", str(csv_file), "--column", "单位名称", "--check")
    assert code == 1 and DEBARRED in err
    # only the debarred are screened: the blacklisted unit is not among them
    code, out, _ = run(
        demo, "debarred", "--file", "-", "--format", "json", stdin="拉萨智造装备有限公司\n"
    )
    assert code == 0 and [r["verdict"] for r in json.loads(out)] == ["no"]
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["单位名称"])
    ws.append(["拉萨智造装备有限公司"])
    xlsx = tmp_path / "applicants.xlsx"
    wb.save(xlsx)
    code, out, err = run(demo, "unit", "search", "--file", str(xlsx), "--format", "csv")
    assert code == 0, err
    assert out.splitlines()[0].startswith("line,query,verdict,score,code")
    assert f"2,拉萨智造装备有限公司,match,100,{BLACKLISTED}" in out
    # bad input: exit 2, one line
    code, _, err = run(demo, "unit", "search", "--file", str(csv_file), "--column", "名称")
    assert code == 2 and "no column '名称'" in err
    code, _, err = run(demo, "unit", "search", "--file", str(tmp_path / "none.txt"))
    assert code == 2 and "no such file" in err
    code, _, err = run(demo, "unit", "search")
    assert code == 2
    code, _, err = run(demo, "unit", "search", "x", "--threshold", "0")
    assert code == 2 and "--threshold" in err


def test_one_name_keeps_its_shape_with_threshold_and_check(demo: str) -> None:
    code, out, _ = run(demo, "unit", "search", "西藏淨土農業科技有限公司", "--format", "json")
    hits = json.loads(out)
    assert list(hits[0]) == ["code", "name", "matched", "score", "debarred", "blacklisted"]
    assert hits[0]["code"] == DEBARRED and hits[0]["score"] == 100
    code, _, err = run(demo, "unit", "search", "西藏净土农业科技有限公司", "--check")
    assert code == 1 and DEBARRED in err
    code, out, _ = run(demo, "unit", "search", "高原", "--threshold", "95", "--format", "json")
    assert code == 0 and json.loads(out) == []
    code, _, err = run(demo, "debarred", "--name", "西藏净土农业", "--check")
    assert code == 1 and "debarment" in err
