"""Real headless chromium for the browser tests: Debian's chromium and chromedriver, driven by
selenium, with nothing ever downloaded.

``chrome()`` opens a browser (always quit) whose console and network activity can be read
back: ``console_errors``, ``requests_made``. Where chromium is missing the tests skip, except
in CI (``$CI`` set), where they must run and so fail.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import struct
import tempfile
import zlib
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.chrome.webdriver import WebDriver
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import WebDriverWait

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")

# The background-networking flags keep chromium from calling home (updates, sync, field
# trials): on a closed network those calls only fail, slowly and noisily.
ARGS = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--force-device-scale-factor=1",
)
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND"
"""Extra argument: every host name fails to resolve, so any network access would fail."""

LAPTOP = (1280, 900)
PHONE = (390, 844)


def skip_or_fail(reason: str) -> None:
    """Skip outside CI; in CI (``$CI`` set) the browser tests must run, so fail instead."""
    if os.environ.get("CI"):
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require_chromium() -> None:
    # Only the system packages may be missing: selenium is a dev dependency, so its absence
    # is a broken environment and fails at import.
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not os.access(p, os.X_OK)]
    if missing:
        skip_or_fail(f"not installed: {', '.join(missing)} (apt-get install chromium-driver)")


@contextmanager
def chrome(size: tuple[int, int] = LAPTOP, args: Sequence[str] = ()) -> Iterator[WebDriver]:
    """A headless ``webdriver.Chrome`` of window ``size`` (plus ``args``) with a fresh
    profile, its console and performance logs on; it starts on ``about:blank`` with both logs
    empty, and is always quit."""
    require_chromium()
    # Selenium Manager would otherwise look for a newer driver on the internet.
    os.environ["SE_OFFLINE"] = "true"
    profile = tempfile.mkdtemp(prefix="slokit-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for arg in (*ARGS, *args, f"--user-data-dir={profile}", f"--window-size={size[0]},{size[1]}"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    try:
        driver = webdriver.Chrome(
            options=options, service=Service(executable_path=str(CHROMEDRIVER))
        )
    except Exception:
        shutil.rmtree(profile, ignore_errors=True)
        raise
    try:
        # Chromium opens its new-tab page first, whose own chrome:// requests would otherwise
        # show up in the first requests_made().
        driver.get("about:blank")
        driver.get_log("browser")
        driver.get_log("performance")
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def fresh(driver: WebDriver) -> WebDriver:
    """A module's shared browser made ready for the next test: laptop size, logs emptied, so
    that what a test reads from them is its own."""
    driver.set_window_size(*LAPTOP)
    console_errors(driver)
    requests_made(driver)
    return driver


def console_errors(driver: WebDriver) -> list[str]:
    """The SEVERE console entries since the last call (reading the log empties it). Nothing
    is ignored: a 404 favicon, a CSP refusal or a script error is a bug of the page."""
    return [e["message"] for e in driver.get_log("browser") if e["level"] == "SEVERE"]


def requests_made(driver: WebDriver) -> list[str]:
    """The URL of every request the browser sent since the last call (reading empties the
    performance log), in order."""
    urls = []
    for entry in driver.get_log("performance"):
        message = json.loads(entry["message"])["message"]
        if message["method"] == "Network.requestWillBeSent":
            urls.append(message["params"]["request"]["url"])
    return urls


def wait_for(driver: WebDriver, css: str, timeout: float = 10.0) -> WebElement:
    """The first element matching ``css``, once there is one."""
    return WebDriverWait(driver, timeout).until(
        ec.presence_of_element_located((By.CSS_SELECTOR, css))
    )


CHARTS = "document.querySelectorAll('[data-figure]').length"
DRAWN = "document.querySelectorAll('[data-figure]:has(svg.main-svg)').length"
_ALL_DRAWN = f"return document.readyState === 'complete' && {DRAWN} === {CHARTS};"


def charts_drawn(driver: WebDriver) -> int:
    """How many ``[data-figure]`` elements hold a plotly drawing (``svg.main-svg``)."""
    drawn: int = driver.execute_script(f"return {DRAWN};")
    return drawn


def wait_for_charts(driver: WebDriver, timeout: float = 10.0) -> int:
    """Waits until every ``[data-figure]`` element is drawn; returns how many there are."""
    WebDriverWait(driver, timeout).until(lambda d: d.execute_script(_ALL_DRAWN))
    total: int = driver.execute_script(f"return {CHARTS};")
    return total


Box = tuple[int, int, int, int]
"""left, top, right, bottom."""


@dataclass(frozen=True)
class Png:
    """A decoded 8-bit RGB(A) PNG: ``rows`` of ``width * channels`` bytes each."""

    width: int
    height: int
    channels: int
    rows: list[bytes]

    def pixel(self, x: int, y: int) -> tuple[int, int, int]:
        at = x * self.channels
        r, g, b = self.rows[y][at : at + 3]
        return r, g, b

    def colours(self, box: Box | None = None) -> Counter[tuple[int, int, int]]:
        """How often each RGB colour occurs in ``box`` (CSS pixels at ratio 1), or in all."""
        left, top, right, bottom = box or (0, 0, self.width, self.height)
        return Counter(
            self.pixel(x, y)
            for y in range(max(top, 0), min(bottom, self.height))
            for x in range(max(left, 0), min(right, self.width))
        )


def box_of(driver: WebDriver, element: WebElement) -> Box:
    """The viewport pixels ``element`` covers, rounded inwards (to skip antialiased edges)."""
    left, top, right, bottom = driver.execute_script(
        "const r = arguments[0].getBoundingClientRect(); "
        "return [r.left, r.top, r.right, r.bottom];",
        element,
    )
    return math.ceil(left), math.ceil(top), math.floor(right), math.floor(bottom)


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def _unfilter(kind: int, line: bytearray, prev: bytes, bpp: int) -> bytes:
    # The five PNG row filters (RFC 2083, 6.3); Sub and Up are by far the most common in
    # chromium's screenshots, and Up is done in one go.
    if kind == 0:
        return bytes(line)
    if kind == 2:
        return bytes((a + b) & 0xFF for a, b in zip(line, prev, strict=True))
    for i in range(len(line)):
        left = line[i - bpp] if i >= bpp else 0
        if kind == 1:
            line[i] = (line[i] + left) & 0xFF
        elif kind == 3:
            line[i] = (line[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:
            up_left = prev[i - bpp] if i >= bpp else 0
            line[i] = (line[i] + _paeth(left, prev[i], up_left)) & 0xFF
        else:
            raise ValueError(f"unknown PNG filter {kind}")
    return bytes(line)


def decode_png(data: bytes) -> Png:
    """Parses the chunks of a PNG (checking every CRC) and undoes its row filters. Only the
    8-bit, non-interlaced RGB and RGBA that chromium writes are understood."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG signature"
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(kind + body) == crc, f"bad CRC in {kind!r}"
        chunks.append((kind, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR", "IHDR is not the first chunk"
    assert chunks[-1][0] == b"IEND", "IEND is not the last chunk"
    width, height, depth, color, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8, depth
    assert color in (2, 6), f"colour type {color}"
    assert interlace == 0
    channels = 3 if color == 2 else 4
    raw = zlib.decompress(b"".join(body for kind, body in chunks if kind == b"IDAT"))
    stride = width * channels
    assert len(raw) == height * (stride + 1), "IDAT does not hold width x height pixels"
    rows, prev = [], bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        prev = _unfilter(raw[start], bytearray(raw[start + 1 : start + 1 + stride]), prev, channels)
        rows.append(prev)
    return Png(width, height, channels, rows)
