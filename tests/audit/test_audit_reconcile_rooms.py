"""The audit and reconciliation packages keep to their rooms: no module over
800 lines, none reaching for click or the application service (reconciliation
takes the service as a protocol), and the names callers use still importable
from the package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent.parent
MODULES = sorted((ROOT / "ledger" / "audit").glob("*.py")) + sorted(
    (ROOT / "ledger" / "reconcile").glob("*.py")
)


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            found.add(node.module)
    return found


@pytest.mark.parametrize("path", MODULES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_module_stays_in_its_room(path: Path) -> None:
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= 800, f"{path.name} has {lines} lines"
    banned = {
        m
        for m in _imports(path)
        if m == "click" or m.startswith("click.") or m.split(".")[:2] == ["ledger", "service"]
    }
    assert not banned, f"{path.name} imports {sorted(banned)}"


def test_the_names_callers_use_are_importable_from_the_packages() -> None:
    from ledger import audit, reconcile

    for name in (
        "verify",
        "verify_export",
        "export",
        "keygen",
        "checkpoint",
        "checkpoint_message",
        "load_checkpoint",
        "list_checkpoints",
        "terminal_progress",
        "create_roles",
        "APPEND_ONLY_TABLES",
    ):
        assert callable(getattr(audit, name)) or name.isupper(), name
    for name in (
        "AppSource",
        "reconcile",
        "reconcile_file",
        "check_out_path",
        "summary",
        "to_dict",
        "to_csv",
        "to_json",
        "to_table",
        "to_xlsx",
        "write_report",
        "write_demo_statement",
        "write_demo_statement_from_ledger",
        "demo_statement_lines",
        "voucher_like_tokens",
    ):
        assert callable(getattr(reconcile, name)), name
