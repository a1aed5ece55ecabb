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


def test_nothing_below_the_command_line_imports_click() -> None:
    """click is the CLI's: the domain, the service and the read models never import it."""
    offenders = []
    for package in ("aggregates", "ledger", "projections", "migrations"):
        for path in sorted((ROOT / package).rglob("*.py")):
            text = path.read_text(encoding="utf-8")
            if re.search(r"^\s*(import click|from click\b)", text, re.M):
                offenders.append(str(path.relative_to(ROOT)))
    assert not offenders, f"these import click: {offenders}"


def test_cli_modules_stay_small() -> None:
    sources = [ROOT / "cli.py", *sorted((ROOT / "commands").glob("*.py"))]
    sizes = {f.name: len(f.read_text(encoding="utf-8").splitlines()) for f in sources}
    assert all(n <= 800 for n in sizes.values()), sizes


_LOADED = """
import sys
from click.testing import CliRunner
from cli import main
result = CliRunner().invoke(main, sys.argv[1:])
assert result.exit_code == 0, result.output
print(" ".join(sorted(sys.modules)))
"""


@pytest.mark.parametrize(
    ("args", "loaded", "not_loaded"),
    [
        (
            ["--help"],
            {"cli"},
            {
                "commands.unit",
                "commands.audit",
                "ledger.service",
                "psycopg",
                "pydantic",
                "structlog",
            },
        ),
        (["unit", "--help"], {"commands.unit"}, {"commands.funds", "ledger.service"}),
        (["audit", "--help"], {"commands.audit"}, {"commands.unit", "cryptography"}),
    ],
)
def test_the_root_group_loads_command_modules_lazily(
    args: list[str], loaded: set[str], not_loaded: set[str]
) -> None:
    """`ledger --help` lists every command without importing any command
    module (their summaries are in cli.SUMMARIES), the service, pydantic,
    structlog or a database driver; a group's help imports only that group's
    module."""
    result = subprocess.run(
        [sys.executable, "-c", _LOADED, *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    modules = set(result.stdout.split())
    assert loaded <= modules, loaded - modules
    assert not (not_loaded & modules), not_loaded & modules


def test_the_root_help_summaries_are_the_commands_own() -> None:
    """cli.SUMMARIES (what `ledger --help` lists without importing the
    commands) is the first paragraph of each command's own help."""
    import click

    import cli

    ctx = click.Context(cli.main)
    assert set(cli.SUMMARIES) <= set(cli.COMMANDS)
    # every command has one, so `ledger --help` imports no command module
    assert set(cli.SUMMARIES) == set(cli.COMMANDS)
    for name in cli.SUMMARIES:
        command = cli.main.get_command(ctx, name)
        assert command is not None and command.help is not None
        first = " ".join(command.help.partition("\n\n")[0].split())
        assert cli.SUMMARIES.get(name) == first, name
