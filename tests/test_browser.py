"""Every built page, opened in a real headless Chromium with the network cut off.

Each page is opened once (the ``visits`` fixture); the tests then assert on what that
visit found: MathJax (served from the site itself) typesets every formula, images have
alt text and load, the Persian blocks run right to left in the bundled typeface, the
console shows no error, no request leaves the local server, and axe-core finds nothing
serious or critical on the whole page (the theme's frame included) in light and dark
mode. Saves a full-page screenshot of each page in both modes under
``_build/screenshots/``.

Without Chromium the tests skip with the reason, except when ``CI`` is set: there a
missing browser is a failure, since ``.ci/run`` installs it.
"""

from __future__ import annotations

import base64
import functools
import http.server
import json
import os
import shutil
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import pytest
from conftest import BUILD, ROOT, Build

sys.path.insert(0, str(ROOT / "tools"))
from build_pdf import LOCAL_HOST, OFFLINE_CHROMIUM_FLAGS  # one offline set-up for both

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

pytestmark = [pytest.mark.site, pytest.mark.browser]

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = BUILD / "screenshots"


def _require_browser() -> None:
    missing = [n for n, p in (("chromium", CHROMIUM), ("chromedriver", CHROMEDRIVER)) if not p]
    if not missing:
        return
    reason = (
        f"headless browser tests need {' and '.join(missing)} "
        "(Debian packages: chromium chromium-driver)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason} is missing")
    pytest.skip(reason)


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:
        """Keep the test output clean."""


@pytest.fixture(scope="module")
def server(site: Build) -> Iterator[str]:
    assert site.returncode == 0, "the book did not build; see test_site"
    handler = functools.partial(_QuietHandler, directory=str(site.html))
    httpd = http.server.ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://{LOCAL_HOST}:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def browser(server: str) -> Iterator[WebDriver]:
    _require_browser()
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    opts = webdriver.ChromeOptions()
    opts.binary_location = CHROMIUM
    for flag in (*OFFLINE_CHROMIUM_FLAGS, "--window-size=1280,900"):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=CHROMEDRIVER))
    driver.set_page_load_timeout(60)
    driver.set_script_timeout(60)
    yield driver
    driver.quit()


def _pages(site: Build) -> list[str]:
    """Every page of the site, except ``index.html``: a redirect to the intro (test_site)."""
    pages = [p for p in site.html.rglob("*.html") if not {"_static", "_sources"} & set(p.parts)]
    return sorted(str(p.relative_to(site.html)) for p in pages if p != site.html / "index.html")


def _wait_for_math(driver: WebDriver) -> dict[str, int]:
    """Wait for MathJax to finish; count formulas, typeset formulas and TeX errors."""
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        const count = () => {
          const math = [...document.querySelectorAll('.math')];
          done({
            formulas: math.length,
            typeset: math.filter(m => m.querySelector('mjx-container')).length,
            errors: document.querySelectorAll('mjx-merror').length,
            mathjax: typeof window.MathJax === 'object' && !!window.MathJax.startup,
          });
        };
        if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
          MathJax.startup.promise.then(count, count);
        } else if (!document.querySelector('.math')) { count(); }
        else { setTimeout(count, 3000); }
        """
    )


def _screenshot(driver: WebDriver, path: Path) -> None:
    metrics = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})
    size = metrics["cssContentSize"]
    shot = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {
            "format": "png",
            "captureBeyondViewport": True,
            "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1},
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(base64.b64decode(shot["data"]))


def _requested_urls(driver: WebDriver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def _page_facts(driver: WebDriver) -> dict:
    """Images without alt text and Persian blocks of the page, once fonts have loaded."""
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        document.fonts.ready.then(() => done({
          imagesWithoutAlt: [...document.querySelectorAll('img')]
            .filter(i => !(i.getAttribute('alt') || '').trim()).map(i => i.src),
          brokenImages: [...document.querySelectorAll('img')]
            .filter(i => i.complete && i.naturalWidth === 0).map(i => i.src),
          persian: [...document.querySelectorAll('.persian')].map(p => ({
            lang: p.getAttribute('lang'), dir: p.getAttribute('dir'),
            direction: getComputedStyle(p).direction,
            hasPersianText: /[\u0600-\u06ff]/.test(p.textContent),
          })),
        }));
        """
    )


def _used_fonts(driver: WebDriver, selector: str) -> dict[str, int]:
    """Glyph count per font actually used to draw the text of the first match of selector."""
    driver.execute_cdp_cmd("DOM.enable", {})
    driver.execute_cdp_cmd("CSS.enable", {})
    root = driver.execute_cdp_cmd("DOM.getDocument", {"depth": -1})["root"]["nodeId"]
    node = driver.execute_cdp_cmd("DOM.querySelector", {"nodeId": root, "selector": selector})
    # The text is drawn by the paragraph inside the block.
    fonts = driver.execute_cdp_cmd("CSS.getPlatformFontsForNode", {"nodeId": node["nodeId"]})
    return {f["familyName"]: f["glyphCount"] for f in fonts["fonts"]}


def _set_theme(driver: WebDriver, theme: str) -> None:
    driver.execute_script("document.documentElement.dataset.theme = arguments[0];", theme)


def _shot_name(rel: str, theme: str) -> Path:
    stem = rel.replace("/", "__").removesuffix(".html")
    return SCREENSHOTS / f"{stem}{'' if theme == 'light' else '-' + theme}.png"


AXE = Path(__file__).resolve().parent / "_vendor" / "axe-core" / "axe.min.js"
THEMES = ("light", "dark")


def _axe(driver: WebDriver) -> list[dict]:
    """axe-core's violations on the whole current page (the theme's frame included)."""
    if not driver.execute_script("return typeof window.axe === 'object';"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))  # once per page load
    return driver.execute_async_script(
        """
        const done = arguments[arguments.length - 1];
        axe.run(document, {resultTypes: ['violations']}).then(
          r => done(r.violations.map(v => ({
            id: v.id, impact: v.impact,
            targets: v.nodes.map(n => n.target.join(' ')),
          }))),
          e => done([{id: 'axe-error', impact: 'critical', targets: [String(e)]}]));
        """
    )


@dataclass
class PageVisit:
    """What one visit of a page found: its math, images, Persian blocks and the fonts
    drawing them, axe-core's violations in each colour mode, requests, console."""

    math: dict[str, int]
    facts: dict
    fonts: dict[str, int] = field(default_factory=dict)
    axe: dict[str, list[dict]] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)
    console: list[dict] = field(default_factory=list)


def _visit(driver: WebDriver, url: str, rel: str) -> PageVisit:
    driver.get_log("performance")
    driver.get_log("browser")
    driver.get(url)
    visit = PageVisit(math=_wait_for_math(driver), facts=_page_facts(driver))
    if driver.execute_script("return !!document.querySelector('div.persian p');"):
        visit.fonts = _used_fonts(driver, "div.persian p")
    for theme in THEMES:
        _set_theme(driver, theme)
        _screenshot(driver, _shot_name(rel, theme))
        visit.axe[theme] = _axe(driver)
    visit.requests = _requested_urls(driver)
    visit.console = driver.get_log("browser")
    return visit


@pytest.fixture(scope="module")
def visits(site: Build, server: str, browser: WebDriver) -> dict[str, PageVisit]:
    """Every page, opened once: the tests below check what these visits found."""
    return {rel: _visit(browser, f"{server}/{rel}", rel) for rel in _pages(site)}


def test_every_page_offline(site: Build, visits: dict[str, PageVisit]) -> None:
    failures: list[str] = []
    pages = _pages(site)
    assert len(pages) >= 5
    assert sorted(visits) == pages
    for rel, visit in visits.items():
        math, facts = visit.math, visit.facts
        if math["formulas"] and not math["mathjax"]:
            failures.append(f"{rel}: MathJax did not load")
        if math["typeset"] != math["formulas"]:
            failures.append(f"{rel}: {math['typeset']} of {math['formulas']} formulas typeset")
        if math["errors"]:
            failures.append(f"{rel}: {math['errors']} TeX errors")
        failures += [f"{rel}: image without alt text: {u}" for u in facts["imagesWithoutAlt"]]
        failures += [f"{rel}: image failed to load: {u}" for u in facts["brokenImages"]]
        for url in visit.requests:
            host = urlsplit(url).hostname
            if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and host != LOCAL_HOST:
                failures.append(f"{rel}: request to another host: {url}")
        for entry in visit.console:
            if entry["level"] == "SEVERE":
                failures.append(f"{rel}: console error: {entry['message']}")
    assert not failures, "\n".join(failures)
    # The requests were recorded (the check above is not vacuous).
    assert any(visit.requests for visit in visits.values())
    # Every page is shot in both modes, the Persian answer sheet among them.
    assert "book/answers_fa.html" in pages
    for rel in pages:
        for theme in THEMES:
            assert _shot_name(rel, theme).is_file()


def test_math_is_typeset_on_the_chapters(visits: dict[str, PageVisit]) -> None:
    """The chapters do contain math, so the check above is not vacuous."""
    math = visits["book/q3_cnn1d_gradients.html"].math
    assert math["formulas"] > 0
    assert math["typeset"] == math["formulas"]


@pytest.mark.parametrize(
    "chapter",
    [
        "q1_translation_equivariance",
        "q2_deconvnet_guided_backprop",
        "q3_cnn1d_gradients",
        "q4_dilated_convolution",
        "answers_fa",  # the whole page is one Persian block
    ],
)
def test_persian_question_is_rtl_in_the_bundled_typeface(
    visits: dict[str, PageVisit], chapter: str
) -> None:
    visit = visits[f"book/{chapter}.html"]
    persian = visit.facts["persian"]
    assert persian, f"{chapter} has no Persian block"
    for block in persian:
        assert block == {"lang": "fa", "dir": "rtl", "direction": "rtl", "hasPersianText": True}
    fonts = visit.fonts
    assert fonts, "the browser reports no font for the Persian text"
    # The bundled file names its family "Vazirmatn NL" (its Arabic-script-only build).
    assert max(fonts, key=fonts.get).startswith("Vazirmatn"), f"Persian text drawn with {fonts}"


def test_no_serious_accessibility_violation(visits: dict[str, PageVisit]) -> None:
    """axe-core on every whole page, the theme's frame included, light and dark: nothing
    serious or critical.

    Every violation found (of any impact) is written to ``_build/screenshots/axe.json``.
    """
    failures, report = [], {}
    for rel, visit in visits.items():
        for theme in THEMES:
            found = visit.axe[theme]
            report[f"{rel} ({theme})"] = [
                {"id": v["id"], "impact": v["impact"], "targets": v["targets"]} for v in found
            ]
            failures += [
                f"{rel} ({theme}): {v['id']} ({v['impact']}) at {v['targets']}"
                for v in found
                if v["impact"] in ("serious", "critical")
            ]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "axe.json").write_text(json.dumps(report, indent=1))
    assert len(report) == 2 * len(visits) >= 10
    assert not failures, "\n".join(failures)
