"""report.html of a real run in a real browser (headless chromium) with every host name
unresolvable: plotly, inlined, draws every chart from the file alone, the warm-up is shaded,
the verdict tables read as results.json says, names stay text, and the page fits a phone.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By

from tests._browser import (
    LAPTOP,
    OFFLINE,
    PHONE,
    charts_drawn,
    chrome,
    console_errors,
    fresh,
    requests_made,
    wait_for,
    wait_for_charts,
)
from tests.report.conftest import EVIL, SERVICE, RunOut

KINDS = ("throughput", "latency", "errors", "distribution", "generator")


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    with chrome(LAPTOP, args=[OFFLINE]) as driver:
        yield driver


@pytest.fixture
def browser(chromium: WebDriver) -> WebDriver:
    return fresh(chromium)


def open_report(browser: WebDriver, report_run: RunOut) -> str:
    """Opens report.html from its file and waits until every chart is drawn; its URL."""
    url = (report_run.out / "report.html").resolve().as_uri()
    browser.get(url)
    wait_for(browser, "footer")
    wait_for_charts(browser, timeout=20)
    return url


def js(browser: WebDriver, script: str) -> Any:
    return browser.execute_script(script)


def test_report_draws_every_chart_from_the_file_alone(
    browser: WebDriver, report_run: RunOut
) -> None:
    url = open_report(browser, report_run)
    charts = js(
        browser, "return Array.from(document.querySelectorAll('[data-figure]'), e => e.id);"
    )
    assert sorted(charts) == sorted(f"figure-{i}-{k}-chart" for i in (0, 1) for k in KINDS)
    assert charts_drawn(browser) == len(charts)
    assert console_errors(browser) == []
    # The file itself is the only request; plotly, the styles and the figures are inline.
    assert requests_made(browser) == [url]
    assert js(browser, "return performance.getEntriesByType('resource').map(e => e.name);") == []


def test_report_shades_the_warmup_of_the_scenario_that_had_one(
    browser: WebDriver, report_run: RunOut
) -> None:
    open_report(browser, report_run)
    shaded = js(
        browser,
        "const out = {};"
        "for (const e of document.querySelectorAll('[data-figure]'))"
        "  out[e.id] = e.querySelectorAll('.shapelayer path').length;"
        "return out;",
    )
    # "steady" (figure-0) has a 1 s warm-up, "short" (figure-1) none; the distribution
    # has no time axis to shade.
    assert shaded == {
        **{f"figure-0-{k}-chart": 1 for k in ("throughput", "latency", "errors", "generator")},
        "figure-0-distribution-chart": 0,
        **{f"figure-1-{k}-chart": 0 for k in KINDS},
    }


def verdict_rows(browser: WebDriver, scenario: str) -> list[tuple[str, ...]]:
    section = next(
        s
        for s in browser.find_elements(By.CSS_SELECTOR, "section.scenario")
        if s.get_attribute("data-scenario") == scenario
    )
    rows = []
    for tr in section.find_elements(By.CSS_SELECTOR, "table.verdicts tbody tr"):
        cells = [td.text for td in tr.find_elements(By.TAG_NAME, "td")]
        rows.append((tr.get_attribute("class") or "", *cells))
    return rows


def expected_rows(report_run: RunOut, scenario: str) -> list[tuple[str, ...]]:
    rows = []
    for v in report_run.results["scenarios"][scenario]["verdicts"]:
        if not v["judged"]:
            text, cls = "NOT JUDGED", "none"
        elif v["passed"]:
            text, cls = "PASS", "pass"
        elif v["gated"]:
            text, cls = "FAIL", "fail"
        else:
            text, cls = "FAIL (not gated)", "soft"
        rows.append((f"verdict-{cls}", text, v["name"], v["kind"], v["detail"]))
    return rows


def test_report_verdict_tables_show_every_verdict(browser: WebDriver, report_run: RunOut) -> None:
    open_report(browser, report_run)
    for scenario in ("steady", "short"):
        rows = verdict_rows(browser, scenario)
        assert rows == expected_rows(report_run, scenario), scenario
    assert ("verdict-fail", "FAIL") in [r[:2] for r in verdict_rows(browser, "steady")]
    failed = browser.find_element(By.CSS_SELECTOR, "table.verdicts tr.verdict-fail td.fail")
    assert failed.value_of_css_property("background-color") == "rgba(254, 226, 226, 1)"
    assert browser.find_element(By.ID, "run-status").text == "FAIL"
    assert console_errors(browser) == []


def test_report_names_stay_text(browser: WebDriver, report_run: RunOut) -> None:
    open_report(browser, report_run)
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 - reading it is the check
    heading = browser.find_element(By.TAG_NAME, "h1")
    assert heading.text == f"slokit report: {SERVICE}"
    assert heading.find_elements(By.CSS_SELECTOR, "*") == []
    names = [td.text for td in browser.find_elements(By.CSS_SELECTOR, "table.requests td.name")]
    assert EVIL in names
    legend = js(
        browser,
        "return Array.from(document.querySelectorAll('#figure-0-distribution-chart .legendtext'),"
        " e => e.textContent);",
    )
    assert EVIL in legend
    # The name is in the page as text many times, but in no script that runs.
    ran = js(
        browser,
        "return Array.from(document.scripts).filter("
        " s => s.type !== 'application/json' && s.textContent.includes('alert(1)')).length;",
    )
    assert ran == 0
    assert console_errors(browser) == []


# plotly.js 3 (plotly 7) added a mode bar button, "Share chart...", that opens
# https://cloud.plotly.com/newchart and posts the whole figure to it: for a file that says it
# "works offline", one click and a confirmation away from uploading the run.
def test_report_charts_offer_no_upload_to_plotly_cloud(
    browser: WebDriver, report_run: RunOut
) -> None:
    open_report(browser, report_run)
    titles = [
        b.get_attribute("data-title")
        for b in browser.find_elements(By.CSS_SELECTOR, "[data-figure] .modebar-btn")
    ]
    assert "Download plot as a PNG" in titles  # the mode bar is there to be read
    assert "Share chart..." not in titles


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_report_fits_the_window(
    browser: WebDriver, report_run: RunOut, size: tuple[int, int]
) -> None:
    browser.set_window_size(*size)
    open_report(browser, report_run)
    width, overflow, inner = js(
        browser,
        "const e = document.documentElement; return [e.clientWidth, e.scrollWidth, innerWidth];",
    )
    assert inner == size[0]
    assert overflow <= width, f"report.html is {overflow}px wide in a {width}px window"
    rights = js(
        browser,
        "return Array.from(document.querySelectorAll('[data-figure] svg.main-svg'),"
        " s => s.getBoundingClientRect().right);",
    )
    assert rights
    assert all(r <= width for r in rights), rights
    modebars = len(browser.find_elements(By.CSS_SELECTOR, "[data-figure] .modebar"))
    assert modebars == (0 if size == PHONE else 2 * len(KINDS))
    assert console_errors(browser) == []
