"""The public site in a real browser (issue 14): headless Chromium (Debian's
``chromium`` and ``chromium-driver``) opens the site `mailintake publish`
built after tests/month.py's replayed month, from ``file://`` and from a static web server on
a loopback port, and takes screenshots of the home page, a month's statistics
and a citizen manual in Thai. Each must have rendered: every image loaded
(``naturalWidth`` > 0), no console error and no failed load, Thai text in the
page, and the shipped Sarabun font loaded and used.

Set ``MAILINTAKE_SCREENSHOTS=DIR`` to keep a copy of the screenshots there.
"""

from __future__ import annotations

import functools
import http.server
import os
import shutil
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import Env
from PIL import Image
from test_publish import publish_after_a_month

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
MISSING = [p for p in (CHROMIUM, CHROMEDRIVER) if not Path(p).is_file()]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        bool(MISSING),
        reason=f"headless Chromium is not installed ({', '.join(MISSING)} missing): apt-get install chromium chromium-driver",
    ),
]

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
    "--window-size=1280,1600",
)
# The three pages the issue names: the home page, a month's statistics, a manual.
PAGES = {
    "home": "index.html",
    "statistics": "stats/2026-01/index.html",
    "manual": "services/event-permit.html",
}
# What each must say in Thai.
THAI = {
    "home": "คู่มือสำหรับประชาชน",
    "statistics": "มกราคม 2569",
    "manual": "การขออนุญาตจัดงานหรือกิจกรรมในที่สาธารณะ",
}

RENDERED = """
const done = arguments[arguments.length - 1];
document.fonts.ready.then(() => {
  const faces = Array.from(document.fonts).filter(f => f.family.replace(/["']/g, "") === "Sarabun");
  done({
    ready: document.readyState,
    images: Array.from(document.images).map(i => ({src: i.src, complete: i.complete, width: i.naturalWidth})),
    text: document.body.innerText,
    sarabun: faces.map(f => f.status),
    check: document.fonts.check('16px "Sarabun"', "ภาษาไทย"),
    family: getComputedStyle(document.querySelector("h1") || document.body).fontFamily,
    sheets: document.styleSheets.length,
    failed: performance.getEntriesByType("resource")
      .filter(r => r.responseStatus !== undefined && r.responseStatus >= 400).map(r => r.name),
  });
});
"""


@pytest.fixture
def site(deploy: Env, tmp_path: Path) -> Path:
    """The site after the replayed month of tests/month.py."""
    out = tmp_path / "site"
    publish_after_a_month(deploy, out)
    return out


@pytest.fixture
def server(site: Path) -> Iterator[str]:
    """A plain static web server (python3 -m http.server) on a free loopback port."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def browser(tmp_path: Path) -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(flag)
    profile = tmp_path / "chromium-profile"
    profile.mkdir()
    options.add_argument(f"--user-data-dir={profile}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()


def look(driver: Any, url: str, shot: Path) -> dict[str, Any]:
    """Open ``url``, wait for its fonts, and take a screenshot of the whole page."""
    driver.get_log("browser")  # what earlier pages logged is theirs
    driver.get(url)
    state: dict[str, Any] = driver.execute_async_script(RENDERED)
    height = int(driver.execute_script("return document.documentElement.scrollHeight"))
    driver.set_window_size(1280, min(max(height, 800), 6000))
    chrome = height - int(driver.execute_script("return window.innerHeight"))  # the window's own bars, if any
    if chrome > 0:
        driver.set_window_size(1280, min(height + chrome, 6000))
    driver.save_screenshot(str(shot))
    driver.set_window_size(1280, 1600)
    state["log"] = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "WARNING")]
    return state


def keep(shots: list[Path]) -> None:
    wanted = os.environ.get("MAILINTAKE_SCREENSHOTS")
    if wanted:
        Path(wanted).mkdir(parents=True, exist_ok=True)
        for shot in shots:
            shutil.copy(shot, Path(wanted) / shot.name)


@pytest.mark.parametrize("where", ["file", "http"])
def test_the_site_renders_in_chromium(where: str, site: Path, server: str, browser: Any, tmp_path: Path) -> None:
    base = site.as_uri() + "/" if where == "file" else server
    shots = []
    for name, page in PAGES.items():
        shot = tmp_path / f"{where}-{name}.png"
        state = look(browser, base + page, shot)
        shots.append(shot)
        what = f"{where}: {page}"
        assert state["ready"] == "complete", what
        assert state["log"] == [], f"{what}: console errors or failed loads: {state['log']}"
        assert state["failed"] == [], f"{what}: failed loads: {state['failed']}"
        assert state["sheets"] >= 1, what
        for img in state["images"]:
            assert img["complete"] and img["width"] > 0, f"{what}: image not shown: {img['src']}"
        # Thai text in the DOM, in the shipped font (loaded, and the first choice of the headings).
        assert THAI[name] in state["text"], what
        assert "loaded" in state["sarabun"], f"{what}: Sarabun not loaded ({state['sarabun']})"
        assert state["check"] is True, what
        assert state["family"].replace('"', "").startswith("Sarabun"), f"{what}: {state['family']}"
        # The screenshot shows a page, not a blank.
        with Image.open(shot) as img:
            assert img.size[0] >= 1000 and len(img.convert("L").getcolors(1 << 16) or []) > 16, what
    statistics = look(browser, base + PAGES["statistics"], tmp_path / "again.png")
    assert len(statistics["images"]) >= 3, "the month's charts"  # the three charts of the report
    # On a phone (400 px wide) the statistics page fits: its tables scroll in their own box, not the page.
    browser.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride", {"width": 400, "height": 800, "deviceScaleFactor": 1, "mobile": True}
    )
    try:
        for name in ("statistics", "manual", "home"):
            browser.get(base + PAGES[name])
            browser.execute_async_script(
                "const done = arguments[arguments.length - 1]; document.fonts.ready.then(() => done(1));"
            )
            width = browser.execute_script("return [document.documentElement.scrollWidth, document.documentElement.clientWidth]")
            assert width[1] == 400 and width[0] <= width[1], f"{where}: {PAGES[name]} scrolls sideways at 400 px: {width}"
            if name == "home":  # the service table stacks: the name gets the row's width, not a word a line
                cell = browser.execute_script(
                    "const td = document.querySelector('table.stack td[data-label=\"บริการ\"]');"
                    "return [getComputedStyle(td).display, td.querySelector('a').getBoundingClientRect().width]"
                )
                assert cell[0] != "table-cell" and cell[1] >= 150, f"{where}: the home page's service name at 400 px: {cell}"
            if name == "statistics":
                browser.save_screenshot(str(tmp_path / f"{where}-statistics-400.png"))
                shots.append(tmp_path / f"{where}-statistics-400.png")
                nav = browser.execute_script(
                    "return !!document.querySelector('header.site') && !!document.querySelector('nav.main')"
                )
                assert nav, f"{where}: the statistics page has the site's header and menu"
    finally:
        browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
    keep(shots)
