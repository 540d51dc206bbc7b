"""The dashboard in a real browser: Debian's headless Chromium driven by Selenium through its chromedriver.

The store holds real runs (tests/integration/ui/conftest.py): three of ``orders`` from two hosts, a
failing ``broken``, ``xss`` with a stream named ``<script>alert(1)</script>``, and ``live`` still
running. The tests check what a person sees, and save a screenshot of each page under the test's
temporary directory (the paths are printed and attached to the test report as properties).
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import service_unavailable
from tests.integration.ui.conftest import ERROR_TEXT, ORDERS, XSS, Dashboard

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"


@pytest.fixture(scope="module")
def browser(ui_extra: None) -> Iterator[Any]:
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        service_unavailable("selenium is not installed: pip install -e '.[dev]'")
    for program in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(program):
            service_unavailable(f"{program} is not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1400,1000", "--no-first-run", "--disable-extensions"):
        options.add_argument(arg)
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def shoot(browser: Any, tmp_path: Path, record_property: Callable[[str, object], None]) -> Callable[[str], Path]:
    def save(name: str) -> Path:
        path = tmp_path / f"{name}.png"
        assert browser.save_screenshot(str(path)), f"no screenshot {path}"
        print(f"screenshot: {path}")
        record_property(f"screenshot-{name}", str(path))
        return path

    return save


def _wait(what: str, condition: Callable[[], Any], timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = condition()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _no_alert(browser: Any) -> None:
    from selenium.common.exceptions import NoAlertPresentException

    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 (the property raises when no dialog is open)


def _row(browser: Any, pipeline: str) -> Any:
    from selenium.webdriver.common.by import By

    return browser.find_element(By.CSS_SELECTOR, f'#pipelines tr[data-pipeline="{pipeline}"]')


def test_pipelines_page(browser: Any, dashboard: Dashboard, ui_url: str, shoot: Callable[[str], Path]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(ui_url + "/")
    assert browser.title == "Pipelines · sluice"
    orders = _row(browser, "orders").text
    assert "succeeded" in orders and "#3" in orders and "*/15 * * * *" in orders
    assert f"orders {ORDERS['orders'][2]:,}" in orders and f"customers {ORDERS['customers'][2]:,}" in orders
    assert "failed" in _row(browser, "broken").text
    # tenants: a column of their own; a tenant's pipeline that never ran says so
    assert "Tenant" in [th.text for th in browser.find_elements(By.CSS_SELECTOR, "#pipelines thead th")]
    assert "acme" in _row(browser, "shop@acme").text and "succeeded" in _row(browser, "shop@acme").text
    assert "never ran" in _row(browser, "shop@globex").text
    live = _row(browser, "live").find_element(By.CLASS_NAME, "running-cell").text
    assert "running on host-b" in live
    assert _row(browser, "orders").find_element(By.CLASS_NAME, "running-cell").text == ""
    # the stream named like a script is text on the page, and ran nothing
    streams = [e.text for e in _row(browser, "xss").find_elements(By.CSS_SELECTOR, ".stream")]
    assert XSS in streams
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1  # /static/app.js only
    _no_alert(browser)
    shoot("pipelines")


def test_history_page(browser: Any, dashboard: Dashboard, ui_url: str, shoot: Callable[[str], Path]) -> None:
    from selenium.webdriver.common.by import By

    for pipeline, runs, failed in (("orders", 3, 0), ("broken", 2, 1)):
        browser.get(f"{ui_url}/pipelines/{quote(pipeline)}")
        for chart in ("chart-rows", "chart-duration"):
            figure = browser.find_element(By.ID, chart)
            assert figure.find_element(By.TAG_NAME, "svg").is_displayed()
            assert len(figure.find_elements(By.CSS_SELECTOR, "rect.bar")) == runs
            assert len(figure.find_elements(By.CSS_SELECTOR, "rect.bar.failed")) == failed
            assert len(figure.find_elements(By.CSS_SELECTOR, "circle.mark")) == failed  # failures marked
        table = browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
        assert len(table) == runs
        assert len(browser.find_elements(By.CSS_SELECTOR, "#runs .status-failed")) == failed
        shoot(f"history-{pipeline}")
    browser.get(f"{ui_url}/pipelines/orders")
    rows = browser.find_elements(By.CSS_SELECTOR, "#runs tbody tr")
    assert [r.find_element(By.CSS_SELECTOR, "td:nth-child(3)").text for r in rows] == ["host-a", "host-b", "host-a"]
    committed = [r.find_element(By.CSS_SELECTOR, "td:nth-child(7)").text for r in rows]
    assert committed == [f"{ORDERS['orders'][i] + ORDERS['customers'][i]:,}" for i in (2, 1, 0)]
    # the tallest bar is the run that moved the most rows
    heights = [float(b.get_attribute("height")) for b in
               browser.find_elements(By.CSS_SELECTOR, "#chart-rows rect.bar")]  # oldest first
    assert heights.index(max(heights)) == 2


def test_failed_run_page(browser: Any, dashboard: Dashboard, ui_url: str, shoot: Callable[[str], Path]) -> None:
    from selenium.webdriver.common.by import By

    browser.get(f"{ui_url}/pipelines/broken")
    browser.find_element(By.CSS_SELECTOR, "#runs tbody tr a").click()  # the newest run: the failed one
    _wait("the run page", lambda: "Run #2" in browser.title)
    assert "failed" in browser.find_element(By.ID, "run-status").text
    assert ERROR_TEXT in browser.find_element(By.ID, "error-line").text
    assert "payments" in browser.find_element(By.ID, "streams").text
    assert "ui_tap.py" in browser.find_element(By.CSS_SELECTOR, "pre.command").text
    tail = browser.find_element(By.ID, "log-tail").text
    assert ERROR_TEXT in tail and "connecting with api key" in tail
    assert all(secret not in browser.page_source for secret in dashboard.secrets)
    shoot("run-failed")


def test_script_stream_is_text(browser: Any, dashboard: Dashboard, ui_url: str, shoot: Callable[[str], Path]) -> None:
    from selenium.webdriver.common.by import By

    run = next(r for r in dashboard.runs if r["pipeline"] == "xss")
    browser.get(f"{ui_url}/runs/{run['id']}")
    cells = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#streams td.stream")]
    assert sorted(cells) == sorted([XSS, "plain"])
    assert len(browser.find_elements(By.TAG_NAME, "script")) == 1
    _no_alert(browser)
    shoot("run-script-stream")


def test_live_progress(browser: Any, dashboard: Dashboard, ui_url: str, shoot: Callable[[str], Path]) -> None:
    from selenium.webdriver.common.by import By

    live = dashboard.live_run()
    browser.get(f"{ui_url}/runs/{live['id']}")
    assert "running" in browser.find_element(By.ID, "run-status").text
    browser.execute_script("window.sluiceTestMarker = 'same page';")

    def shown() -> dict[str, str]:  # read at once: the page replaces the rows every second
        rows = browser.execute_script(
            "return Array.from(document.querySelectorAll('#live tbody tr'), "
            "r => [r.cells[0].innerText, r.cells[1].innerText]);")
        return dict(rows)

    for stream, more in (("events", 1234), ("clicks", 77), ("events", 4321)):
        dashboard.push(stream, more)
        expected = {s: f"{n:,}" for s, n in dashboard.fed.items()}
        _wait(f"the live table to show {expected}", lambda e=expected: shown() == e)  # type: ignore[misc]
    assert browser.execute_script("return window.sluiceTestMarker;") == "same page"  # updated without reloading
    shoot("run-live")
    # the pipelines page shows it running too
    browser.get(ui_url + "/state")
    assert "live" in browser.find_element(By.ID, "locks").text and "host-b" in browser.find_element(By.ID, "locks").text
    states = browser.find_elements(By.CSS_SELECTOR, "section.state pre.json")
    assert any('"last_id"' in s.text for s in states)
    shoot("state-and-locks")
