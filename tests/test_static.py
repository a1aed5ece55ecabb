"""The house rules that keep the code honest: ruff and mypy --strict are clean,
and CI runs exactly the test command README.md gives."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def _tool(name: str) -> str:
    found = BIN / name
    if found.exists():
        return str(found)
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed; install the project with '.[test]'")
    return path


def test_ruff_is_clean() -> None:
    result = subprocess.run(
        [_tool("ruff"), "check", "--quiet", "."], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_mypy_strict_is_clean() -> None:
    result = subprocess.run([_tool("mypy")], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def _readme_block(title: str) -> str:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    m = re.search(rf"\*\*{re.escape(title)}\*\*.*?```sh\n(.*?)\n```", text, re.S)
    assert m, f"README.md has no '{title}' command block"
    return m.group(1).strip()


def test_ci_runs_exactly_the_readme_test_command() -> None:
    command = _readme_block("Test it")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert command in ci.splitlines(), f"{command!r} is not a line of .ci/run"


def test_readme_run_command_installs_and_runs_the_demo() -> None:
    command = _readme_block("Run it")
    assert "pip install" in command and command.endswith("ledger demo")


def test_help_examples_use_valid_credit_codes() -> None:
    """Every unified social credit code in the commands' help examples passes
    GB 32100-2015's check (a user copying an example gets no exit 2)."""
    from aggregates.values import validate_credit_code

    sources = [ROOT / "cli.py", *sorted((ROOT / "commands").glob("*.py"))]
    text = "\n".join(f.read_text(encoding="utf-8") for f in sources)
    codes = set(re.findall(r"\b[0-9][0-9A-Z]{7}M[0-9A-Z]{9}\b", text))
    assert codes, "no credit code found in the help examples"
    for code in sorted(codes):
        validate_credit_code(code)
