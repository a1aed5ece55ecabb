"""The import graph keeps its direction: the domain knows nothing of storage or
reading, storage nothing of the service or the read side, and the read models
never reach into the write side (a query never builds the application)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _imports(path: Path) -> set[str]:
    """Every module a file imports, at any depth in it (function-level too)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return found


def _offences(
    package: str,
    forbidden: tuple[str, ...],
    skip: frozenset[str] = frozenset(),
    root: Path = ROOT,
) -> list[str]:
    out = []
    for path in sorted((root / package).rglob("*.py")):
        rel = path.relative_to(root).as_posix()
        if rel in skip:
            continue
        for name in sorted(_imports(path)):
            if any(name == f or name.startswith(f + ".") for f in forbidden):
                out.append(f"{rel} imports {name}")
    return out


@pytest.mark.parametrize(
    ("package", "forbidden", "skip"),
    [
        ("aggregates", ("ledger", "projections", "cli"), frozenset()),
        ("ledger/store", ("ledger.service", "ledger.reads", "projections", "cli"), frozenset()),
        ("projections", ("ledger.service", "ledger.reads", "cli"), frozenset()),
    ],
)
def test_imports_go_one_way(package: str, forbidden: tuple[str, ...], skip: frozenset[str]) -> None:
    assert _offences(package, forbidden, skip) == []


def test_the_layer_check_sees_an_offence(tmp_path: Path) -> None:
    """The check itself finds a forbidden import, also one inside a function."""
    (tmp_path / "projections").mkdir()
    (tmp_path / "projections" / "x.py").write_text(
        "import ledger.store.db\n\ndef f():\n    from ledger.service import LedgerApp\n",
        encoding="utf-8",
    )
    assert _offences("projections", ("ledger.service",), root=tmp_path) == [
        "projections/x.py imports ledger.service",
        "projections/x.py imports ledger.service.LedgerApp",
    ]
