"""Tables as a person reads them (issue 15): the README walkthrough fits a
100-column terminal, the first-read columns by default and the rest under
--wide / --columns, amounts right-aligned with a 合计 row, --no-headers."""

from __future__ import annotations

import shlex
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from cli import main
from ledger.output import width
from tests.cli.test_readme_walkthrough import walkthrough_lines


def _ledger(args: list[str], env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, args, env=env)
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def demo(db_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LEDGER_DB", db_url)
    monkeypatch.setenv("LEDGER_TODAY", "2026-11-24")
    monkeypatch.delenv("COLUMNS", raising=False)
    assert _ledger(["init"])[0] == 0
    assert _ledger(["demo"])[0] == 0
    return db_url


# the lines whose table holds a free-text cell longer than a terminal line
# (eligibility's `detail`): at 100 columns rich wraps that cell inside its column
WRAPS_A_CELL = ("ledger eligibility ",)


def test_every_readme_query_fits_100_columns(demo: str) -> None:
    queries = [
        line
        for line in walkthrough_lines()
        if (
            "--format" not in line
            and "--check" not in line
            and shlex.split(line)[1:3][0] in ("history", "debarred", "blacklist", "eligibility")
        )
        or shlex.split(line)[1:3] in (["funds", "summary"], ["change", "list"])
        or shlex.split(line)[1:3] in (["compliance", "overdue"], ["unit", "search"])
    ]
    assert len(queries) >= 8
    now = datetime.now(UTC).isoformat()
    for line in queries:
        args = shlex.split(line.split("&&")[0])[1:]
        args = [now if a == "TS" else a for a in args]
        # at 100 columns (a terminal of that width): nothing is wider
        code, out, err = _ledger(args, env={"COLUMNS": "100"})
        assert code == 0, (line, err)
        assert max(width(x) for x in out.splitlines()) <= 100, (line, out)
        # and as wide as it needs (piped, no COLUMNS): still within 100, so
        # nothing was wrapped to fit
        if not line.startswith(WRAPS_A_CELL):
            code, natural, _ = _ledger(args)
            assert max(width(x) for x in natural.splitlines()) <= 100, (line, natural)
            assert natural == out, line


def test_wide_columns_and_no_headers(demo: str) -> None:
    _, first, _ = _ledger(["history", "--platform", "LS-KL-001"])
    assert "recorded_at" not in first and "data" not in first.split("\n")[0]
    _, wide, _ = _ledger(["history", "--platform", "LS-KL-001", "--wide"])
    assert "recorded_at" in wide and "data" in wide.split("\n")[0]
    _, picked, _ = _ledger(["debarred", "--columns", "unit,scopes", "--no-headers"])
    lines = picked.strip().splitlines()
    assert lines and all("platform-application 申请科技创新平台" in x for x in lines)
    assert "unit" not in picked and "---" not in picked
    code, _, err = _ledger(["debarred", "--columns", "unit,nope"])
    assert code == 2 and "unknown column(s) nope" in err


def test_money_right_aligned_with_thousands_and_a_total(demo: str) -> None:
    _, out, _ = _ledger(["funds", "summary", "--columns", "platform,allocated"])
    lines = out.rstrip("\n").splitlines()
    assert "3,000,000.00" in out
    total = lines[-1]
    assert total.startswith("合计") and total.endswith("8,850,000.00")
    amounts = [x for x in lines[2:-2]]
    ends = {width(x) for x in amounts}
    assert len(ends) == 1  # right-aligned: every amount ends in the same column
    # JSON and CSV are unchanged: no separators, no total
    _, csv_out, _ = _ledger(["funds", "summary", "--format", "csv"])
    assert "合计" not in csv_out and "3000000.00" in csv_out


def test_chinese_is_counted_two_columns_wide() -> None:
    from ledger.output import to_table

    text = to_table([{"name": "西藏高原医学研究所", "code": "A"}, {"name": "ab", "code": "B"}])
    rows = text.splitlines()[2:]
    assert rows[0].index("A") == len("西藏高原医学研究所") + 2
    assert width(rows[0][: rows[0].index("A")]) == width(rows[1][: rows[1].index("B")])


def test_rich_is_not_loaded_at_start_up() -> None:
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    code = "import sys, cli; print('rich' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "False"


def test_a_pager_on_a_terminal_only_when_longer_than_the_screen(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import os

    from commands import _common

    paged: list[str] = []
    printed: list[str] = []
    monkeypatch.setattr(_common.click, "echo_via_pager", lambda text: paged.append(text))
    monkeypatch.setattr(_common.click, "echo", lambda text: printed.append(text))
    monkeypatch.setattr("shutil.get_terminal_size", lambda *a, **k: os.terminal_size((100, 10)))
    long_text = "\n".join(str(i) for i in range(30))
    monkeypatch.setattr(_common, "stdout_is_tty", lambda: False)
    _common.show(long_text)  # piped: never paged
    monkeypatch.setattr(_common, "stdout_is_tty", lambda: True)
    _common.show("short")  # fits the screen
    _common.show(long_text)  # longer than the screen: paged
    monkeypatch.setenv("LEDGER_PAGER", "0")
    _common.show(long_text)  # turned off
    assert paged == [long_text + "\n"]
    assert printed == [long_text, "short", long_text]
