"""Every shipped layout's fixture, read through the application against a
ledger of the same payments, gives the findings of a clean generic statement
of those payments (SQLite; the CLI on both backends is in
tests/cli/test_statement_layouts_cli.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from ledger.reconcile import AppSource, reconcile_file, to_dict
from ledger.reconcile.layout import get_layout, load_layouts
from ledger.service import LedgerService
from tests.statement_ledger import (
    FIXTURE_LAYOUT,
    FIXTURES,
    build_statement_ledger,
    clean_statement,
    findings,
)


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerService]:
    url = f"sqlite:///{tmp_path_factory.mktemp('layouts') / 'ledger.db'}"
    build_statement_ledger(url)
    svc = LedgerService(url)
    try:
        yield svc
    finally:
        svc.close()


@pytest.fixture(scope="module")
def clean(service: LedgerService, tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    path = tmp_path_factory.mktemp("clean") / "clean.csv"
    path.write_text(clean_statement(), encoding="utf-8")
    data = to_dict(reconcile_file(AppSource(service), path))
    assert data["matched"] == 3 and data["statement_only"] == [] and data["ledger_only"] == []
    return data


def test_every_layout_has_a_fixture() -> None:
    assert sorted(FIXTURE_LAYOUT.values()) == sorted(lay.name for lay in load_layouts())


@pytest.mark.parametrize(("fixture", "name"), sorted(FIXTURE_LAYOUT.items()), ids=lambda x: x)
def test_a_layout_gives_the_findings_of_a_clean_statement(
    service: LedgerService, clean: dict[str, object], fixture: str, name: str
) -> None:
    # when the bank's export is reconciled, detected from its header
    report = reconcile_file(AppSource(service), FIXTURES / fixture)
    data = to_dict(report)
    # then it is read by its layout, with the findings of the clean statement
    assert data["layout"] == name
    assert findings(data) == findings(clean)
    # and the interest (money in) is never taken for a payment
    assert data["statement_only"] == []
    # and the statement's own checks pass: totals, balance, period where it has them
    assert all(c["ok"] for c in data["statement_checks"]), data["statement_checks"]
    # and forcing the same layout by name reads it the same
    forced = reconcile_file(AppSource(service), FIXTURES / fixture, layout=get_layout(name))
    assert findings(to_dict(forced)) == findings(clean)


def test_the_clean_statement_and_the_periods_found(service: LedgerService) -> None:
    periods = {
        fixture: to_dict(reconcile_file(AppSource(service), FIXTURES / fixture))["period"]
        for fixture in (
            "cmb-yiwangtong.csv",
            "spdb-debit.xls",
            "交易明细_1546_20260301_20260331.xls",
            "treasury-zero-balance.csv",
            "generic-zh.csv",
        )
    }
    assert set(map(str, periods.values())) == {"{'from': '2026-03-01', 'to': '2026-03-31'}"}


def test_a_statement_whose_totals_and_balance_break_says_so(
    service: LedgerService, tmp_path: Path
) -> None:
    # given the CMB export with one payment's amount changed but its balance and totals kept
    text = (FIXTURES / "cmb-yiwangtong.csv").read_bytes().decode("gbk")
    path = tmp_path / "cmb.csv"
    path.write_bytes(text.replace("120000.00", "121000.00").encode("gbk"))
    report = reconcile_file(AppSource(service), path)
    checks = {c.check: c for c in report.statement_checks}
    # then the totals and the running balance fail, naming the line
    assert not checks["total"].ok and "655,000.50" in checks["total"].detail
    assert not checks["balance"].ok and "line 10" in checks["balance"].detail
    assert checks["period"].ok
    assert report.has_discrepancies
