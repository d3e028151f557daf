"""The dashboard in a real browser (headless chromium): what a person sees on the overview,
trends, run and compare pages, the charts plotly draws, clicks that navigate, phone and laptop
layouts, a screenshot's pixels, and that the pages talk to nothing but the dashboard.

One dashboard (over the SQLite history of conftest.py) and one browser serve the module.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from selenium.common.exceptions import NoAlertPresentException
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait

from slokit.store import open_store
from tests._browser import (
    LAPTOP,
    PHONE,
    Box,
    Png,
    box_of,
    charts_drawn,
    chrome,
    console_errors,
    decode_png,
    fresh,
    requests_made,
    require_chromium,
    wait_for,
    wait_for_charts,
)
from tests.dashboard.conftest import (
    BASELINE_RUNS,
    EVIL_SCENARIO,
    EVIL_SERVICE,
    GATE,
    REQUEST,
    SERVICE,
    SLO,
    History,
    fill,
    running_dashboard,
)

FAIL_BG = (0xFE, 0xE2, 0xE2)  # --fail-bg of dashboard.css
SPARK = (0xD9, 0x77, 0x06)  # the sparkline's stroke and dot
WHITE = (0xFF, 0xFF, 0xFF)


@dataclass(frozen=True)
class Site:
    history: History
    url: str

    @property
    def last_baseline(self) -> int:
        return self.history.baseline[-1]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    require_chromium()
    project = tmp_path_factory.mktemp("dashboard-browser")
    url = f"sqlite:///{project / 'runs.db'}"
    with open_store(url, project_dir=project) as store:
        history = fill(store, project, url)
    with running_dashboard("--store", url, "--project", str(project)) as dashboard:
        yield Site(history, dashboard.url)


@pytest.fixture(scope="module")
def chromium() -> Iterator[WebDriver]:
    with chrome(LAPTOP) as driver:
        yield driver


@pytest.fixture
def browser(chromium: WebDriver) -> WebDriver:
    return fresh(chromium)


def visit(browser: WebDriver, url: str) -> int:
    """Loads ``url`` and waits until it is drawn; returns its number of charts."""
    browser.get(url)
    wait_for(browser, "footer")
    return wait_for_charts(browser)


def wait_for_path(browser: WebDriver, path: str) -> None:
    WebDriverWait(browser, 10).until(lambda d: urlsplit(d.current_url).path == path)
    wait_for(browser, "footer")


def js(browser: WebDriver, script: str, *args: Any) -> Any:
    return browser.execute_script(script, *args)


def islands(browser: WebDriver) -> dict[str, dict[str, Any]]:
    """The figures of the page's JSON islands, by id (the plotly config left out)."""
    found: dict[str, str] = js(
        browser,
        "const out = {};"
        "for (const s of document.querySelectorAll('script[type=\"application/json\"]'))"
        "  if (s.id !== 'plotly-config') out[s.id] = s.textContent;"
        "return out;",
    )
    return {key: json.loads(text) for key, text in found.items()}


def assert_no_injection(browser: WebDriver) -> None:
    """No alert is open and every script is the dashboard's own: a file from /static/ or a
    JSON island (a name that became markup would add one of neither kind)."""
    with pytest.raises(NoAlertPresentException):
        browser.switch_to.alert  # noqa: B018 - reading it is the check
    scripts = js(
        browser,
        "return Array.from(document.scripts, s => [s.getAttribute('src'), s.type]);",
    )
    for src, kind in scripts:
        assert (src or "").startswith("/static/") or kind == "application/json", (src, kind)


def cards(browser: WebDriver) -> dict[tuple[str, str], WebElement]:
    """Every overview card by (service, scenario), read back from the DOM's attributes."""
    found = {}
    for section in browser.find_elements(By.CSS_SELECTOR, "section.service"):
        service = section.get_attribute("data-service") or ""
        for card in section.find_elements(By.CSS_SELECTOR, "article.card"):
            found[(service, card.get_attribute("data-scenario") or "")] = card
    return found


def section_of(browser: WebDriver, service: str) -> WebElement:
    sections = browser.find_elements(By.CSS_SELECTOR, "section.service")
    return next(s for s in sections if s.get_attribute("data-service") == service)


def table_rows(browser: WebDriver, css: str) -> list[list[str]]:
    rows = browser.find_elements(By.CSS_SELECTOR, f"{css} tbody tr")
    return [[td.text for td in row.find_elements(By.TAG_NAME, "td")] for row in rows]


def test_overview_shows_every_card_with_its_numbers(site: Site, browser: WebDriver) -> None:
    assert visit(browser, site.url + "/") == 0
    found = cards(browser)
    expected = {
        (SERVICE, "baseline"): ("1.7ms", "FAIL"),
        (SERVICE, "smoke"): ("1.5ms", "PASS"),
        (SERVICE, "stress"): ("1.5ms", "PASS"),
        (EVIL_SERVICE, EVIL_SCENARIO): ("1ms", "ABORTED"),
    }
    assert set(found) == set(expected)
    for key, (p95, word) in expected.items():
        card = found[key]
        assert card.find_element(By.CSS_SELECTOR, "dd.p95").text == p95, key
        assert card.find_element(By.CSS_SELECTOR, ".title .badge").text == word, key
        assert card.find_element(By.CSS_SELECTOR, "h3 a").text == key[1]
    baseline = found[(SERVICE, "baseline")]
    assert baseline.get_attribute("data-run") == str(site.last_baseline)
    pills = {
        p.text: p.get_attribute("class") for p in baseline.find_elements(By.CSS_SELECTOR, ".pill")
    }
    assert pills == {GATE: "pill fail", SLO: "pill pass"}
    assert console_errors(browser) == []


def test_overview_sparkline_climbs_with_the_p95(site: Site, browser: WebDriver) -> None:
    visit(browser, site.url + "/")
    spark = cards(browser)[(SERVICE, "baseline")].find_element(By.CSS_SELECTOR, "svg.spark")
    # The browser's own parse of the points, not the attribute's text.
    points = js(
        browser,
        "const p = arguments[0].querySelector('polyline').points;"
        "return Array.from({length: p.numberOfItems}, (_, i) => [p.getItem(i).x, p.getItem(i).y]);",
        spark,
    )
    assert len(points) == BASELINE_RUNS
    xs, ys = [x for x, _ in points], [y for _, y in points]
    assert xs == sorted(xs)
    # SVG's y grows downwards: a p95 that rises run after run draws a line that climbs.
    assert ys == sorted(set(ys), reverse=True), ys
    dot = spark.find_element(By.TAG_NAME, "circle")
    last = (float(dot.get_attribute("cx") or "nan"), float(dot.get_attribute("cy") or "nan"))
    assert last == pytest.approx(points[-1])
    assert (spark.size["width"], spark.size["height"]) == (120, 32)  # dashboard.css applied


def test_hostile_names_stay_text(site: Site, browser: WebDriver) -> None:
    visit(browser, site.url + "/")
    section = section_of(browser, EVIL_SERVICE)
    heading = section.find_element(By.TAG_NAME, "h2")
    assert heading.text == EVIL_SERVICE
    assert heading.find_elements(By.CSS_SELECTOR, "*") == []
    assert section.find_elements(By.CSS_SELECTOR, "b, i, script") == []
    assert section.find_element(By.CSS_SELECTOR, "code").text == "who=<i>me</i>"
    assert_no_injection(browser)
    assert console_errors(browser) == []


def test_hostile_card_link_opens_its_trends(site: Site, browser: WebDriver) -> None:
    visit(browser, site.url + "/")
    card = cards(browser)[(EVIL_SERVICE, EVIL_SCENARIO)]
    link = card.find_element(By.CSS_SELECTOR, "h3 a")
    href = urlsplit(link.get_attribute("href") or "").path
    link.click()
    # The "/" of the scenario stays encoded in the path, so the route still sees two parts.
    wait_for_path(browser, href)
    assert href.count("/") == 3
    assert wait_for_charts(browser) == 3
    title = browser.find_element(By.TAG_NAME, "h1")
    assert title.text == f"{EVIL_SERVICE} · scenario {EVIL_SCENARIO}"
    assert title.find_elements(By.CSS_SELECTOR, "*") == []
    assert browser.title.startswith(f"{EVIL_SCENARIO} of {EVIL_SERVICE}")
    assert_no_injection(browser)
    assert console_errors(browser) == []


def open_baseline_trends(site: Site, browser: WebDriver) -> None:
    """From the overview, by clicking the baseline card's title, as a person would."""
    visit(browser, site.url + "/")
    cards(browser)[(SERVICE, "baseline")].find_element(By.CSS_SELECTOR, "h3 a").click()
    wait_for_path(browser, f"/services/{SERVICE}/baseline")


def test_trends_page_draws_every_chart_with_the_gate_line(site: Site, browser: WebDriver) -> None:
    open_baseline_trends(site, browser)
    total = wait_for_charts(browser)
    assert total == 3
    assert charts_drawn(browser) == total
    assert set(islands(browser)) == {"trend-latency", "trend-errors", "trend-throughput"}
    assert browser.find_element(By.ID, "last-status").text == "FAIL"
    chart = "document.getElementById('trend-latency-chart')"
    legend = js(
        browser, f"return Array.from({chart}.querySelectorAll('.legendtext'), e => e.textContent);"
    )
    assert GATE in legend  # the escaped "&lt;" of the trace name reads "<" on screen
    assert "p95" in legend
    drawn = js(browser, f"return {chart}.data.map(t => [t.name, t.y, t.customdata]);")
    lines = {name: (y, ids) for name, y, ids in drawn}
    gate_y, gate_ids = lines[GATE.replace("<", "&lt;")]
    assert gate_y == [1.55] * BASELINE_RUNS
    assert gate_ids == list(site.history.baseline)
    p95_y, _ = lines["p95"]
    assert p95_y == pytest.approx([1.2 + 0.1 * i for i in range(BASELINE_RUNS)])
    runs = browser.find_elements(By.CSS_SELECTOR, "table.runs tbody tr")
    assert [r.get_attribute("data-run") for r in runs] == [
        str(i) for i in reversed(site.history.baseline)
    ]
    assert console_errors(browser) == []


def test_clicking_a_trend_point_opens_its_run(site: Site, browser: WebDriver) -> None:
    open_baseline_trends(site, browser)
    wait_for_charts(browser)
    # The p95 trace (the second) of the latency chart; its third marker is the third run.
    points = browser.find_elements(
        By.CSS_SELECTOR, "#trend-latency-chart .scatterlayer .trace:nth-child(2) path.point"
    )
    assert len(points) == BASELINE_RUNS
    ActionChains(browser).move_to_element(points[2]).click().perform()
    wait_for_path(browser, f"/runs/{site.history.baseline[2]}")
    assert wait_for_charts(browser) == 4
    assert console_errors(browser) == []


def test_run_page_draws_its_charts_and_shows_the_failing_gate(
    site: Site, browser: WebDriver
) -> None:
    total = visit(browser, f"{site.url}/runs/{site.last_baseline}")
    assert total == 4
    assert set(islands(browser)) == {
        f"figure-0-{k}" for k in ("latency", "throughput", "errors", "distribution")
    }
    assert browser.find_element(By.ID, "run-status").text == "FAIL"
    assert browser.find_element(By.ID, "total-latency").text == "1ms / 1.7ms / 1.7ms"
    rows = browser.find_elements(By.CSS_SELECTOR, "table.verdicts tbody tr")
    verdicts = {
        cells[2]: (row.get_attribute("class"), cells[0], cells[1])
        for row in rows
        for cells in [[td.text for td in row.find_elements(By.TAG_NAME, "td")]]
    }
    assert verdicts == {
        GATE: ("verdict-fail", "FAIL", "baseline"),
        SLO: ("verdict-pass", "PASS", "baseline"),
    }
    fail_cell = browser.find_element(By.CSS_SELECTOR, "table.verdicts tr.verdict-fail td.fail")
    assert fail_cell.value_of_css_property("background-color") == "rgba(254, 226, 226, 1)"
    requests = table_rows(browser, "table.requests")
    assert [r[0] for r in requests] == [REQUEST, "all requests"]
    assert console_errors(browser) == []


def test_compare_page_shows_both_p95s(site: Site, browser: WebDriver) -> None:
    first, last = site.history.baseline[0], site.last_baseline
    assert visit(browser, f"{site.url}/compare?a={first}&b={last}") == 0
    row = next(
        r
        for r in browser.find_elements(By.CSS_SELECTOR, "table.comparison tbody tr")
        if r.get_attribute("data-request") == REQUEST and r.get_attribute("data-metric") == "p95"
    )
    cells = row.find_elements(By.CSS_SELECTOR, "td.num")
    assert [c.text for c in cells[:2]] == ["1.2ms", "1.7ms"]
    assert "worse" in (cells[2].get_attribute("class") or "")
    assert cells[2].text.startswith("+0.5ms")
    inputs = browser.find_elements(By.CSS_SELECTOR, "form.pick input")
    assert [i.get_attribute("value") for i in inputs] == [str(first), str(last)]
    assert console_errors(browser) == []


# plotly.js 3 (plotly 7) added a mode bar button, "Share chart...", that opens
# https://cloud.plotly.com/newchart and posts the whole figure to it: plotly_config() turns it
# off ("showSendToCloud": False).
SHARE = "Share chart..."


def test_charts_offer_no_upload_to_plotly_cloud(site: Site, browser: WebDriver) -> None:
    visit(browser, f"{site.url}/services/{SERVICE}/baseline")
    titles = [
        b.get_attribute("data-title")
        for b in browser.find_elements(By.CSS_SELECTOR, "[data-figure] .modebar-btn")
    ]
    assert "Download plot as a PNG" in titles  # the mode bar is there to be read
    assert SHARE not in titles


def keep(name: str, png: bytes) -> None:
    """Saves ``png`` into ``$SLOKIT_SCREENSHOTS``, when set, for a person to look at."""
    where = os.environ.get("SLOKIT_SCREENSHOTS")
    if where:
        Path(where).mkdir(parents=True, exist_ok=True)
        (Path(where) / name).write_bytes(png)


def screenshot(browser: WebDriver, name: str, tmp_path: Path) -> bytes:
    png = browser.get_screenshot_as_png()
    (tmp_path / name).write_bytes(png)
    keep(name, png)
    return png


PAGES: dict[str, Callable[[History], str]] = {
    "overview": lambda h: "/",
    "trends": lambda h: f"/services/{SERVICE}/baseline",
    "run": lambda h: f"/runs/{h.baseline[-1]}",
    "aborted-run": lambda h: f"/runs/{h.evil}",
    "compare": lambda h: f"/compare?a={h.baseline[0]}&b={h.baseline[-1]}",
}


@pytest.mark.parametrize("size", [PHONE, LAPTOP], ids=["phone", "laptop"])
@pytest.mark.parametrize("page", list(PAGES))
def test_pages_fit_the_window(
    site: Site, browser: WebDriver, page: str, size: tuple[int, int]
) -> None:
    browser.set_window_size(*size)
    total = visit(browser, site.url + PAGES[page](site.history))
    width, overflow, inner = js(
        browser,
        "const e = document.documentElement; return [e.clientWidth, e.scrollWidth, innerWidth];",
    )
    assert inner == size[0]
    # clientWidth leaves out the vertical scrollbar, which innerWidth counts.
    assert overflow <= width, f"{page} is {overflow}px wide in a {width}px window"
    assert total == len(islands(browser))
    assert charts_drawn(browser) == total
    rights = js(
        browser,
        "return Array.from(document.querySelectorAll('[data-figure] svg.main-svg'),"
        " s => s.getBoundingClientRect().right);",
    )
    assert all(r <= width for r in rights), rights
    # On a phone the mode bar would cover the chart titles, so dashboard.js leaves it out.
    modebars = len(browser.find_elements(By.CSS_SELECTOR, "[data-figure] .modebar"))
    assert modebars == (0 if size == PHONE else total)
    assert console_errors(browser) == []
    if os.environ.get("SLOKIT_SCREENSHOTS"):
        keep(f"{page}-{size[0]}x{size[1]}.png", browser.get_screenshot_as_png())


def inside(shot: Png, box: Box) -> Box:
    left, top, right, bottom = box
    assert 0 <= left < right <= shot.width, box
    assert 0 <= top < bottom <= shot.height, box
    return box


def shoot_overview(site: Site, browser: WebDriver, name: str, tmp_path: Path) -> Png:
    """A screenshot of the overview with the baseline card in view, checked to be the
    window, not blank, and to hold what the DOM says is where."""
    visit(browser, site.url + "/")
    card = cards(browser)[(SERVICE, "baseline")]
    js(browser, "arguments[0].scrollIntoView({block: 'nearest'});", card)
    shot = decode_png(screenshot(browser, name, tmp_path))
    inner = js(browser, "return [innerWidth, innerHeight, devicePixelRatio];")
    assert [shot.width, shot.height, 1] == inner
    colours = shot.colours()
    assert colours.most_common(1)[0][0] == WHITE  # the page's background
    assert len(colours) > 50, "too few colours for a page of text"
    distinct_rows = len(set(shot.rows))
    assert distinct_rows > shot.height // 4, f"only {distinct_rows} distinct rows"
    badge = inside(shot, box_of(browser, card.find_element(By.CSS_SELECTOR, ".title .badge")))
    assert shot.colours(badge).most_common(1)[0][0] == FAIL_BG
    spark = inside(shot, box_of(browser, card.find_element(By.CSS_SELECTOR, "svg.spark")))
    assert shot.colours(spark)[SPARK] > 0, "no pixel of the sparkline's colour in its place"
    return shot


def test_overview_screenshot(site: Site, browser: WebDriver, tmp_path: Path) -> None:
    laptop = shoot_overview(site, browser, "overview.png", tmp_path)
    assert laptop.width == LAPTOP[0]
    browser.set_window_size(*PHONE)
    phone = shoot_overview(site, browser, "overview-phone.png", tmp_path)
    assert phone.width == PHONE[0]
    # The layout reflows rather than being cut off: the phone's pixels are not the laptop's
    # left edge.
    stride = len(phone.rows[0])
    assert phone.rows != [row[:stride] for row in laptop.rows[: phone.height]]
    assert console_errors(browser) == []


def test_pages_request_nothing_but_the_dashboard(site: Site, browser: WebDriver) -> None:
    history = site.history
    open_baseline_trends(site, browser)
    wait_for_charts(browser)
    for path in (
        f"/runs/{history.baseline[-1]}",
        f"/runs/{history.evil}",
        f"/compare?a={history.baseline[0]}&b={history.baseline[-1]}",
        "/compare",
    ):
        visit(browser, site.url + path)
    made = requests_made(browser)
    origin = urlsplit(site.url)
    elsewhere = [
        u
        for u in made
        if (urlsplit(u).scheme, urlsplit(u).netloc) != (origin.scheme, origin.netloc)
    ]
    assert elsewhere == []
    paths = {urlsplit(u).path for u in made}
    # The log saw the pages and their assets, so the empty list above means something.
    assert {"/", f"/services/{SERVICE}/baseline", "/compare"} <= paths
    assert any(p.startswith("/static/plotly-") for p in paths)
    assert any(p.startswith("/static/dashboard-") and p.endswith(".js") for p in paths)
    assert any(p.startswith("/static/dashboard-") and p.endswith(".css") for p in paths)
    entries = js(browser, "return performance.getEntriesByType('resource').map(e => e.name);")
    assert all(u.startswith(site.url + "/") for u in entries), entries
    assert console_errors(browser) == []
