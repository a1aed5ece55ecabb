"""The web view in a real browser: the distribution's headless Chromium
(driven by its chromedriver) against `ledger serve` running as a subprocess
on the demo ledger. The tests type, click and read what a person sees.

Without chromium and chromedriver these tests are skipped, with the reason;
in CI (CI=true) they fail instead, so CI cannot pass without running them
(.ci/run installs Debian's chromium and chromium-driver).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import (
    FORMER_NAME,
    NEW_NAME,
    PLATFORM_FORMER_NAME,
    PLATFORM_NEW_NAME,
    RENAMED_UNIT,
    browser_missing,
    chromium,
    demo_ledger,
    serving,
)
from tests.web.conftest import cli_env

TODAY = "2026-11-23"


def _need_browser() -> None:
    why = browser_missing()
    if why is None:
        return
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"the browser tests must run in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`ledger serve` on the demo ledger (SQLite), its base URL."""
    _need_browser()
    work: Path = tmp_path_factory.mktemp("browser")
    url = f"sqlite:///{work / 'ledger.db'}"
    demo_ledger(url, work, cli_env())
    with serving(url, {"LEDGER_TODAY": TODAY}) as base:
        yield base


@pytest.fixture(scope="module")
def browser(site: str) -> Iterator[Any]:
    """One headless Chromium for the module."""
    with chromium() as driver:
        yield driver


def by_css(driver: Any, css: str) -> Any:
    from selenium.webdriver.common.by import By

    return driver.find_element(By.CSS_SELECTOR, css)


def all_css(driver: Any, css: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, css))


def click(driver: Any, element: Any) -> None:
    """Click, and wait for the page it opens (the old page gone, the new loaded)."""
    from selenium.webdriver.support import expected_conditions
    from selenium.webdriver.support.ui import WebDriverWait

    old = by_css(driver, "html")
    element.click()
    WebDriverWait(driver, 20).until(expected_conditions.staleness_of(old))
    WebDriverWait(driver, 20).until(
        lambda d: d.execute_script("return document.readyState") == "complete"
    )


def link(driver: Any, text: str) -> None:
    click(driver, driver.find_element("link text", text))


def search(driver: Any, text: str) -> None:
    box = by_css(driver, "header input[name=q]")
    box.clear()
    box.send_keys(text)
    click(driver, by_css(driver, "header form button"))


def apply(driver: Any) -> None:
    click(driver, by_css(driver, "#apply"))


def column(driver: Any, table: str, index: int) -> list[str]:
    return [
        str(tr.find_elements("css selector", "td")[index].text)
        for tr in all_css(driver, f"#{table} tbody tr")
    ]


def test_search_a_unit_by_its_chinese_name_then_open_it(browser: Any, site: str) -> None:
    browser.get(site + "/")
    assert "Platforms 科技创新平台" in by_css(browser, "h1").text
    search(browser, "智造装备")
    assert "智造装备" in by_css(browser, "#query").text
    names = column(browser, "unit-results", 1)
    assert names[0] == "拉萨智造装备有限公司"
    click(browser, by_css(browser, "#unit-results tbody tr a"))
    assert by_css(browser, "h1").text == "拉萨智造装备有限公司"
    assert "yes" in by_css(browser, "#unit-state").text  # blacklisted


def test_search_a_unit_by_its_former_name(browser: Any, site: str) -> None:
    browser.get(site + "/")
    search(browser, FORMER_NAME)
    first = all_css(browser, "#unit-results tbody tr")[0]
    cells = [c.text for c in first.find_elements("css selector", "td")]
    assert cells[:3] == [RENAMED_UNIT, NEW_NAME, FORMER_NAME]
    click(browser, first.find_element("link text", NEW_NAME))
    assert by_css(browser, "h1").text == NEW_NAME
    assert FORMER_NAME in by_css(browser, "#former-names").text
    assert "2031-03-10" in by_css(browser, "#unit-debarments").text


def test_click_through_to_a_platform_and_change_the_as_of_date(browser: Any, site: str) -> None:
    browser.get(site + "/")
    search(browser, "高原生物重点")  # its name before the rename was approved
    assert column(browser, "platform-results", 2) == [PLATFORM_FORMER_NAME]
    link(browser, "LS-KL-001")
    assert by_css(browser, "h1").text == f"LS-KL-001 · {PLATFORM_NEW_NAME}"
    assert by_css(browser, "#status").text.startswith("operating 运行期")
    events = column(browser, "timeline", 2)
    assert events[:2] == ["Proposed", "Approved"] and events[-1] == "ChangeApproved"
    assert "拉科发〔2024〕11号" in column(browser, "timeline", 5)

    # the as-of date: before the approval, a proposal and nothing else
    as_of = by_css(browser, "#as_of")
    as_of.clear()
    as_of.send_keys("2024-02-01")
    apply(browser)
    assert "as_of=2024-02-01" in browser.current_url
    assert by_css(browser, "#status").text.startswith("proposed 已申报")
    assert by_css(browser, "h1").text == f"LS-KL-001 · {PLATFORM_FORMER_NAME}"  # its name then
    assert column(browser, "timeline", 2) == ["Proposed"]

    # known-at: as the ledger knew it before anything was recorded
    known = by_css(browser, "#known_at")
    known.send_keys("2001-01-01T00:00:00Z")
    apply(browser)
    assert "not yet proposed" in by_css(browser, "#missing").text
    assert column(browser, "timeline", 0) == ["No event effective by then."]


def test_the_funds_chart_has_its_bars(browser: Any, site: str) -> None:
    browser.get(site + "/platform/LS-KL-001?as_of=" + TODAY)
    click(browser, by_css(browser, "#funds-link"))
    chart = by_css(browser, "svg#funds-chart")
    assert chart.is_displayed() and chart.size["width"] > 300
    bars = all_css(browser, "svg#funds-chart rect.bar")
    assert len(bars) == 8  # two year × category groups, four movements each
    tall = {b.get_attribute("data-movement") for b in bars if float(b.get_attribute("height")) > 0}
    assert tall == {"allocated", "disbursed", "reversed"}
    assert "paid 拨付" in by_css(browser, ".legend").text
    assert column(browser, "funds-table", 4) == ["0.00", "80,000.00"]  # reversed


def test_debarred_and_blacklisted_on_a_date(browser: Any, site: str) -> None:
    browser.get(site + "/")
    link(browser, "Debarred & blacklist")
    debarred = by_css(browser, "#debarred").text
    assert NEW_NAME in debarred and "2031-03-10" in debarred
    assert "拉萨智造装备有限公司" in by_css(browser, "#blacklist").text
    as_of = by_css(browser, "#as_of")
    as_of.clear()
    as_of.send_keys("2025-01-01")
    apply(browser)
    assert "Nobody is debarred on 2025-01-01." in by_css(browser, "#debarred").text


def test_chain_state_and_verify_on_request(browser: Any, site: str) -> None:
    browser.get(site + "/")
    link(browser, "Chain")
    assert by_css(browser, "#verified-head").text == "seq 103"
    assert "none recorded" in by_css(browser, "#last-checkpoint").text
    click(browser, by_css(browser, "#verify"))
    assert by_css(browser, "#verify-result").text == "Verified: all 103 events chain correctly."


def test_bad_input_is_one_readable_line(browser: Any, site: str) -> None:
    browser.get(site + "/barred?as_of=2026-02-30")
    assert by_css(browser, "h1").text == "400"
    assert "as-of date" in by_css(browser, "#error").text
