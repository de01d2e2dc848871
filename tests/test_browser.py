"""Every built page, opened in a real headless Chromium with the network cut off.

Asserts that the page loads, that MathJax (served from the site itself) typesets every
formula, that the console shows no error and that no request leaves the local server.
Saves a full-page screenshot of each page under ``_build/screenshots/``.

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
        } else { setTimeout(count, 3000); }
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


def test_every_page_offline(site: Build, server: str, browser: WebDriver) -> None:
    failures: list[str] = []
    pages = _pages(site)
    assert len(pages) >= 5
    for rel in pages:
        browser.get_log("performance")
        browser.get_log("browser")
        browser.get(f"{server}/{rel}")
        math = _wait_for_math(browser)
        if math["formulas"] and not math["mathjax"]:
            failures.append(f"{rel}: MathJax did not load")
        if math["typeset"] != math["formulas"]:
            failures.append(f"{rel}: {math['typeset']} of {math['formulas']} formulas typeset")
        if math["errors"]:
            failures.append(f"{rel}: {math['errors']} TeX errors")
        facts = _page_facts(browser)
        failures += [f"{rel}: image without alt text: {u}" for u in facts["imagesWithoutAlt"]]
        failures += [f"{rel}: image failed to load: {u}" for u in facts["brokenImages"]]
        for theme in ("light", "dark"):
            _set_theme(browser, theme)
            _screenshot(browser, _shot_name(rel, theme))
        for url in _requested_urls(browser):
            host = urlsplit(url).hostname
            if urlsplit(url).scheme in {"http", "https", "ws", "wss"} and host != LOCAL_HOST:
                failures.append(f"{rel}: request to another host: {url}")
        for entry in browser.get_log("browser"):
            if entry["level"] == "SEVERE":
                failures.append(f"{rel}: console error: {entry['message']}")
    assert not failures, "\n".join(failures)
    # The Persian answer sheet is among the pages, shot in both modes.
    assert "book/answers_fa.html" in pages
    for theme in ("light", "dark"):
        assert _shot_name("book/answers_fa.html", theme).is_file()


def test_math_is_typeset_on_the_chapters(site: Build, server: str, browser: WebDriver) -> None:
    """The chapters do contain math, so the check above is not vacuous."""
    browser.get(f"{server}/book/q3_cnn1d_gradients.html")
    math = _wait_for_math(browser)
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
    site: Build,
    server: str,
    browser: WebDriver,
    chapter: str,
) -> None:
    browser.get(f"{server}/book/{chapter}.html")
    persian = _page_facts(browser)["persian"]
    assert persian, f"{chapter} has no Persian block"
    for block in persian:
        assert block == {"lang": "fa", "dir": "rtl", "direction": "rtl", "hasPersianText": True}
    fonts = _used_fonts(browser, "div.persian p")
    assert fonts, "the browser reports no font for the Persian text"
    # The bundled file names its family "Vazirmatn NL" (its Arabic-script-only build).
    assert max(fonts, key=fonts.get).startswith("Vazirmatn"), f"Persian text drawn with {fonts}"


AXE = Path(__file__).resolve().parent / "_vendor" / "axe-core" / "axe.min.js"
#: What the book writes: the article of each page. The theme's frame (navigation bars,
#: sidebars, search) is checked too, but reported only: it is not the book's to fix.
CONTENT = "article.bd-article"


def _axe(driver: WebDriver, context: object) -> list[dict]:
    """axe-core's violations on the current page within ``context``."""
    if not driver.execute_script("return typeof window.axe === 'object';"):
        driver.execute_script(AXE.read_text(encoding="utf-8"))  # once per page load
    return driver.execute_async_script(
        """
        const [context, done] = [arguments[0], arguments[arguments.length - 1]];
        axe.run(context, {resultTypes: ['violations']}).then(
          r => done(r.violations.map(v => ({
            id: v.id, impact: v.impact,
            targets: v.nodes.map(n => n.target.join(' ')),
          }))),
          e => done([{id: 'axe-error', impact: 'critical', targets: [String(e)]}]));
        """,
        context,
    )


def test_no_serious_accessibility_violation_in_the_content(
    site: Build, server: str, browser: WebDriver
) -> None:
    """axe-core on every page, light and dark: nothing serious or critical in the book's text.

    The theme's own violations outside the article are written to
    ``_build/screenshots/axe-theme.json`` for the record.
    """
    failures, theme_report = [], {}
    for rel in _pages(site):
        browser.get(f"{server}/{rel}")
        _wait_for_math(browser)
        has_content = browser.execute_script(f"return !!document.querySelector('{CONTENT}');")
        for theme in ("light", "dark"):
            _set_theme(browser, theme)
            for v in _axe(browser, {"include": [CONTENT]}) if has_content else []:
                if v["impact"] in ("serious", "critical"):
                    failures.append(f"{rel} ({theme}): {v['id']} ({v['impact']}) at {v['targets']}")
            if theme == "light":  # the theme's frame, for the record
                theme_report[rel] = [
                    {"id": v["id"], "impact": v["impact"], "nodes": len(v["targets"])}
                    for v in _axe(browser, {"exclude": [CONTENT]})
                ]
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "axe-theme.json").write_text(json.dumps(theme_report, indent=1))
    assert not failures, "\n".join(failures)
