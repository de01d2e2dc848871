"""Print the built book to PDF, offline, with Debian's Chromium.

Run it after the HTML build::

    jupyter-book build .        # the site, in _build/html
    python tools/build_pdf.py   # the PDFs, in _build/pdf

It writes

- ``_build/pdf/book.pdf``: the whole book, A4: a cover, the contents (linked, with page
  numbers), then every page of the table of contents in its order, with the chapter,
  figure and equation numbers of the site;
- ``_build/pdf/answers-fa.pdf``: the Persian answer sheet alone, A4, as a hand-in: the
  contents (the answers in order, with their pages) after the title, the student's name
  and number in the left part of the header of every page (the sheet's rules for a
  report), its pages numbered in Persian digits;

and copies both to ``_build/html/_downloads/``; then it builds the site again, which now
links them (a site without the PDFs does not: ``book/_ext/downloads.py``). It takes
about half a minute on two cores (most of it is MathJax typesetting the book).

How. The built pages are served from a local HTTP server; for each PDF one HTML document
is assembled from the article of each page (ids prefixed by the page, links between pages
turned into links inside the document, links to files of the site that a PDF cannot
carry turned into plain text). Headless Chromium (``/usr/bin/chromium``, driven by
selenium through ``chromedriver``) opens it with the network cut off, as the browser tests
do; MathJax (from the site's own ``_static``) typesets the formulas; then Chrome's
``Page.printToPDF`` prints it with the print stylesheet ``book/_static/print.css``.
Formulas and tables wider than the page are scaled to fit. The book is printed twice:
the first print tells on which page every chapter and section starts (``pdfinfo
-dests``), the second writes those numbers into the contents; so is the answer sheet. The
student's name and number come from the front matter of ``book/answers_fa.md`` (its
``myst.substitutions``, which the page itself shows). Any request to another host makes
the command fail.

Needs: ``chromium`` and ``chromium-driver`` (Debian), ``poppler-utils`` (``pdfinfo``),
and the Python packages of ``requirements.txt``.
"""

from __future__ import annotations

import argparse
import base64
import functools
import html as html_lib
import http.server
import json
import os
import posixpath
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlsplit

import yaml
from bs4 import BeautifulSoup, Tag

if TYPE_CHECKING:
    from selenium.webdriver.remote.webdriver import WebDriver

ROOT = Path(__file__).resolve().parents[1]
HTML = ROOT / "_build" / "html"
OUT = ROOT / "_build" / "pdf"
#: Where the site links to the PDFs (relative to the built site).
DOWNLOADS = Path("_downloads")
BOOK_PDF = "book.pdf"
ANSWERS_PDF = "answers-fa.pdf"
#: The page printed alone as the Persian answer sheet.
ANSWERS_PAGE = "book/answers_fa"
#: Its source, whose front matter names the student.
ANSWERS_SOURCE = ROOT / "book" / "answers_fa.md"
#: The title of the answer sheet's contents ("contents", as the sheet's rules call it).
ANSWERS_CONTENTS_TITLE = "فهرست"
#: Persian digits, for the page numbers of the answer sheet's contents.
PERSIAN_DIGITS = str.maketrans("0123456789", "۰۱۲۳۴۵۶۷۸۹")
LOCAL_HOST = "127.0.0.1"
#: Headless Chromium with the network cut off: every host but the local server fails to
#: resolve, anything else goes to a proxy that does not exist, and Chromium's own
#: background traffic is switched off. Shared with the browser tests.
OFFLINE_CHROMIUM_FLAGS: tuple[str, ...] = (
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--hide-scrollbars",
    f"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE {LOCAL_HOST}",
    f"--proxy-server=http://{LOCAL_HOST}:9",
    f"--proxy-bypass-list={LOCAL_HOST}",
)
#: Width of the printed text on A4 with the margins of print.css (210 mm - 2 x 17 mm),
#: in CSS pixels (96 per inch): formulas and tables wider than this are scaled down.
TEXT_WIDTH_PX = round((210 - 2 * 17) / 25.4 * 96)


@dataclass
class Printed:
    """One PDF written: where, how many pages, how long it took."""

    path: Path
    pages: int
    seconds: float

    @property
    def size(self) -> int:
        return self.path.stat().st_size


@dataclass
class Report:
    """What :func:`build` did: the PDFs, and every URL the browser requested."""

    pdfs: dict[str, Printed] = field(default_factory=dict)
    requests: list[str] = field(default_factory=list)

    @property
    def foreign_requests(self) -> list[str]:
        """Requests to any host but the local server (there must be none)."""
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme in {"http", "https", "ws", "wss", "ftp"}
            and urlsplit(u).hostname != LOCAL_HOST
        ]


# --------------------------------------------------------------------------------------
# The pages, in the order of the table of contents
# --------------------------------------------------------------------------------------


def _soup(path: Path) -> BeautifulSoup:
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def reading_order(html: Path) -> list[str]:
    """The built pages in the order of the table of contents (``book/intro``, ...).

    Starts where ``index.html`` redirects and follows each page's ``rel="next"`` link,
    which Sphinx writes in the order of the table of contents.
    """
    index = (html / "index.html").read_text(encoding="utf-8")
    match = re.search(r'http-equiv="Refresh" content="0; url=([^"]+)\.html"', index, re.I)
    if not match:
        raise SystemExit(f"{html / 'index.html'} does not redirect to the first page")
    order = [match.group(1)]
    while True:
        nxt = _soup(html / f"{order[-1]}.html").find("link", rel="next")
        if nxt is None or not nxt.get("href"):
            return order
        target = posixpath.normpath(
            posixpath.join(posixpath.dirname(order[-1]), str(nxt["href"]))
        ).removesuffix(".html")
        if target in order or target in {"genindex", "search", "py-modindex"}:
            return order
        order.append(target)


# --------------------------------------------------------------------------------------
# One HTML document from the articles of several pages
# --------------------------------------------------------------------------------------

#: Attributes that name an element by id, rewritten together with the ids.
_ID_REFS = ("for", "aria-labelledby", "aria-describedby", "aria-controls", "aria-owns")


def _slug(docname: str) -> str:
    return docname.rsplit("/", 1)[-1]


def _article(
    html: Path, docname: str, included: set[str], folder: str
) -> tuple[Tag, BeautifulSoup]:
    """The article of page ``docname``, made to live inside the assembled document.

    Ids get the page's prefix; links to a page in ``included`` point inside the
    document; links to other files of the site (downloads, sources, images) become text,
    since a PDF has no site around it; images point at the site from ``folder``.
    """
    soup = _soup(html / f"{docname}.html")
    article = soup.select_one("article.bd-article")
    if article is None:
        raise SystemExit(f"{docname}.html has no article")
    prefix = f"{_slug(docname)}--"
    for tag in article.find_all(id=True):
        tag["id"] = prefix + str(tag["id"])
    for tag in article.find_all(attrs={a: True for a in _ID_REFS}):
        for attr in _ID_REFS:
            if tag.get(attr):
                tag[attr] = " ".join(prefix + v for v in str(tag[attr]).split())
    here = posixpath.dirname(docname)
    for a in article.find_all("a", href=True):
        href = str(a["href"])
        parts = urlsplit(href)
        if parts.scheme or parts.netloc:
            if parts.scheme not in {"http", "https", "mailto"}:
                a.unwrap()
            continue
        if not parts.path:
            a["href"] = f"#{prefix}{unquote(parts.fragment)}" if parts.fragment else "#"
            continue
        target = posixpath.normpath(posixpath.join(here, unquote(parts.path)))
        if target.endswith(".html") and target.removesuffix(".html") in included:
            slug = _slug(target.removesuffix(".html"))
            frag = unquote(parts.fragment)
            a["href"] = f"#{slug}--{frag}" if frag else f"#{slug}"
        else:
            a.unwrap()
    for tag in article.find_all(["img", "source"], src=True):
        src = str(tag["src"])
        if not urlsplit(src).scheme and not src.startswith("/"):
            tag["src"] = posixpath.relpath(posixpath.normpath(posixpath.join(here, src)), folder)
        if tag.get("loading"):
            del tag["loading"]
    return article, soup


def _heading_text(tag: Tag) -> tuple[str, str]:
    """(section number, title) of a heading, without its ``#`` link."""
    number = tag.find("span", class_="section-number")
    num = number.get_text(strip=True) if number else ""
    parts = [
        s
        for s in tag.find_all(string=True)
        if not (number and s.find_parent("span", class_="section-number") is number)
        and not s.find_parent("a", class_="headerlink")
    ]
    return num, " ".join("".join(parts).split())


def _contents(chapters: list[tuple[str, Tag]]) -> str:
    """The table of contents: every page and its sections, linked, with page slots."""
    items = []
    for slug, article in chapters:
        h1 = article.find("h1")
        if h1 is None:
            continue
        num, title = _heading_text(h1)
        subs = []
        top = h1.find_parent("section")
        for h2 in article.find_all("h2"):
            section = h2.find_parent("section")
            if section is None or section.find_parent("section") is not top:
                continue
            snum, stitle = _heading_text(h2)
            subs.append(_toc_entry(str(section.get("id", "")), snum, stitle, "pdf-toc-section"))
        items.append(
            _toc_entry(slug, num, title, "pdf-toc-chapter")
            + (f'<ol class="pdf-toc-sections">{"".join(subs)}</ol>' if subs else "")
            + "</li>"
        )
    return (
        '<nav class="pdf-toc" id="pdf-contents">'
        '<h1 class="pdf-toc-title">Contents</h1>'
        f'<ol class="pdf-toc-chapters">{"".join(items)}</ol></nav>'
    )


def _toc_entry(target: str, number: str, title: str, cls: str) -> str:
    closing = "" if cls == "pdf-toc-chapter" else "</li>"
    esc = html_lib.escape
    return (
        f'<li class="{cls}"><a class="pdf-toc-link" href="#{esc(target)}">'
        f'<span class="pdf-toc-number">{esc(number)}</span>'
        f'<bdi class="pdf-toc-text">{esc(title)}</bdi>'
        f'<span class="pdf-toc-page" data-target="{esc(target)}"></span></a>{closing}'
    )


def _page_contents(article: Tag, title: str) -> str:
    """The contents of one page: its sections (``h2``), in order, linked, with page slots."""
    h1 = article.find("h1")
    top = h1.find_parent("section") if h1 else None
    items = []
    for h2 in article.find_all("h2"):
        section = h2.find_parent("section")
        if section is None or section.find_parent("section") is not top:
            continue
        num, text = _heading_text(h2)
        items.append(_toc_entry(str(section.get("id", "")), num, text, "pdf-toc-section"))
    return (
        '<nav class="pdf-toc pdf-toc-page-contents" id="pdf-contents">'
        f'<h2 class="pdf-toc-title">{html_lib.escape(title)}</h2>'
        f'<ol class="pdf-toc-sections">{"".join(items)}</ol></nav>'
    )


def _insert_contents(article: Tag, contents: str) -> None:
    """Put ``contents`` in the page's first section, before its first subsection."""
    h1 = article.find("h1")
    top = h1.find_parent("section") if h1 else None
    if top is None:
        raise SystemExit("the page has no titled section to hold its contents")
    nav = BeautifulSoup(contents, "html.parser")
    first = top.find("section", recursive=False)
    if first is None:
        top.append(nav)
    else:
        first.insert_before(nav)


@dataclass(frozen=True)
class Student:
    """Whose hand-in the answer sheet is, as its page's front matter says."""

    name: str
    number: str

    @property
    def header(self) -> str:
        """The running header's text: name, then number."""
        return f"{self.name}، {self.number}"


def student(source: Path = ANSWERS_SOURCE) -> Student:
    """The student named in the front matter of the answer sheet's source
    (``myst.substitutions.student`` and ``student_number``)."""
    text = source.read_text(encoding="utf-8")
    match = re.match(r"---\n(.*?)\n---\n", text, re.S)
    meta = (yaml.safe_load(match.group(1)) if match else None) or {}
    subs = (meta.get("myst") or {}).get("substitutions") or {}
    try:
        return Student(str(subs["student"]), str(subs["student_number"]))
    except KeyError as missing:
        raise SystemExit(f"{source}: its front matter names no {missing}") from None


def _css_string(text: str) -> str:
    """``text`` as a quoted CSS string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def running_header_css(left: str, right: str) -> str:
    """The answer sheet's header on every page: ``left`` in its left part, as the sheet's
    rules ask for the student's name and number, ``right`` in its right part. Its look is
    in print.css (``@page persian``)."""
    return (
        "@media print { @page persian { "
        f"@top-left {{ content: {_css_string(left)}; }} "
        f"@top-right {{ content: {_css_string(right)}; }} "
        "} }"
    )


def _cover(config: dict) -> str:
    esc = html_lib.escape
    title = esc(str(config.get("title", "")))
    author = esc(str(config.get("author", "")))
    year = esc(str(config.get("copyright", "")))
    return (
        '<section class="pdf-cover">'
        f'<p class="pdf-cover-title">{title}</p>'
        f'<p class="pdf-cover-author">{author}</p>'
        f'<p class="pdf-cover-year">{year}</p>'
        "</section>"
    )


#: Styles of the assembled documents only (the site's own print rules are print.css).
_DOCUMENT_CSS = """
.pdf-page { break-before: page; }
.pdf-cover { display: flex; flex-direction: column; justify-content: center;
  height: 240mm; text-align: center; }
.pdf-cover-title { font-size: 2.4em; font-weight: 700; line-height: 1.25; margin: 0 0 1.2em; }
.pdf-cover-author { font-size: 1.3em; margin: 0 0 0.4em; }
.pdf-cover-year { color: #555; }
.pdf-toc { break-before: page; }
.pdf-toc ol { list-style: none; padding-inline-start: 0; margin: 0; }
.pdf-toc-chapter { margin-top: 0.7em; font-weight: 600; }
.pdf-toc-sections { padding-inline-start: 1.6em !important; font-weight: 400; }
.pdf-toc-link { display: flex; align-items: baseline; gap: 0.4em; color: inherit !important; }
.pdf-toc-number { min-width: 2.6em; }
.pdf-toc-sections .pdf-toc-number { min-width: 3.2em; }
.pdf-toc-text { flex: 0 1 auto; }
.pdf-toc-page { flex: 1 0 3em; text-align: end; border-bottom: 1px dotted #999;
  font-variant-numeric: tabular-nums; }
.pdf-toc-page:not(:empty) { border-bottom: none; }
.pdf-toc-page:not(:empty)::before { content: ""; }
/* The contents of a page printed alone: on its first page, after its introduction. */
.pdf-toc-page-contents { break-before: auto; margin-block: 1.2em 1.6em; }
.pdf-toc-page-contents .pdf-toc-sections { padding-inline-start: 0 !important; }
.pdf-toc-page-contents .pdf-toc-section { margin-top: 0.35em; }
.pdf-toc-page-contents .pdf-toc-number:empty { display: none; }
"""

#: In the whole book the Persian chapter keeps the book's page numbers.
_BOOK_ONLY_CSS = ".persian-page { page: auto; }"


def assemble(
    html: Path,
    docnames: list[str],
    *,
    title: str,
    lang: str = "en",
    config: dict | None = None,
    front_matter: bool = False,
    page_contents: str | None = None,
    extra_css: str = "",
) -> str:
    """One HTML document from the articles of ``docnames`` (cover and contents optional).

    ``page_contents``, for a page printed alone, titles the contents of its sections,
    which are put after its introduction; ``extra_css`` is added to the document's styles.
    The document is meant to be served from the folder of the first page, next to the
    site's own pages, so that the site's stylesheets, scripts, fonts and images load.
    """
    folder = posixpath.dirname(docnames[0])
    included = set(docnames)
    chapters: list[tuple[str, Tag]] = []
    head_soup: BeautifulSoup | None = None
    for docname in docnames:
        article, soup = _article(html, docname, included, folder)
        if not front_matter:
            # A page printed alone is not chapter 4 of anything: no section numbers
            # (its references to the chapters' figures keep the book's numbers).
            for number in article.select("h1 span.section-number, h2 span.section-number"):
                number.decompose()
        if page_contents and not front_matter and not chapters:
            _insert_contents(article, _page_contents(article, page_contents))
        head_soup = head_soup or soup
        chapters.append((_slug(docname), article))
    assert head_soup is not None
    head = head_soup.head
    # The colour mode follows the reader on the site; on paper it is always light.
    for script in head.find_all("script"):
        if "dataset.mode" in script.get_text() or "dataset.theme" in script.get_text():
            script.decompose()
    for link in head.find_all("link", rel=["next", "prev", "index", "search"]):
        link.decompose()
    head.title.string = title
    style = head_soup.new_tag("style")
    style.string = _DOCUMENT_CSS + (_BOOK_ONLY_CSS if front_matter else "") + extra_css
    head.append(style)

    body = []
    if front_matter:
        body.append(_cover(config or {}))
        body.append(_contents(chapters))
    for i, (slug, article) in enumerate(chapters):
        cls = "pdf-page" if front_matter or i else "pdf-first-page"
        body.append(f'<section class="{cls}" id="{slug}">{article.decode_contents()}</section>')
    direction = ' dir="rtl"' if lang == "fa" else ""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{lang}"{direction} data-theme="light" data-mode="light">\n'
        f"{head}\n"
        '<body class="pdf-document">'
        '<div class="bd-container"><div class="bd-container__inner bd-page-width">'
        '<main class="bd-main"><div class="bd-content"><div class="bd-article-container">'
        f'<article class="bd-article" role="main">{"".join(body)}</article>'
        "</div></div></main></div></div></body></html>\n"
    )


# --------------------------------------------------------------------------------------
# Serving the site and the assembled documents, printing them in Chromium
# --------------------------------------------------------------------------------------


class _Handler(http.server.SimpleHTTPRequestHandler):
    """Serves the built site, and the assembled documents from memory."""

    documents: dict[str, bytes]

    def do_GET(self) -> None:
        body = self.documents.get(urlsplit(self.path).path)
        if body is None:
            super().do_GET()
            return
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet."""


@contextmanager
def serve(html: Path, documents: dict[str, bytes]) -> Iterator[str]:
    """Serve ``html`` and ``documents`` (path -> bytes) on a free local port."""
    handler = functools.partial(
        type("Handler", (_Handler,), {"documents": documents}), directory=str(html)
    )
    httpd = http.server.ThreadingHTTPServer((LOCAL_HOST, 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{LOCAL_HOST}:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


def _executables() -> tuple[str, str]:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if not chromium or not driver:
        raise SystemExit(
            "build_pdf needs Chromium and its driver: apt-get install chromium chromium-driver"
        )
    return chromium, driver


def _pdf_bytes(driver: WebDriver) -> bytes:
    """The open page as PDF: backgrounds, the page size of the print CSS, an outline
    (bookmarks) from the headings, and tagged text."""
    pdf = driver.execute_cdp_cmd(
        "Page.printToPDF",
        {
            "printBackground": True,
            "preferCSSPageSize": True,
            "generateDocumentOutline": True,
            "generateTaggedPDF": True,
        },
    )
    return base64.b64decode(pdf["data"])


@contextmanager
def browser() -> Iterator[WebDriver]:
    """Headless Chromium with the network cut off: only the local server answers."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    os.environ.setdefault("SE_OFFLINE", "true")  # selenium itself fetches nothing
    chromium, driver_path = _executables()
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for flag in (
        *OFFLINE_CHROMIUM_FLAGS,
        "--font-render-hinting=none",
        f"--window-size={TEXT_WIDTH_PX},1100",
    ):
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"performance": "ALL"})
    driver = webdriver.Chrome(options=opts, service=Service(executable_path=driver_path))
    try:
        driver.set_page_load_timeout(120)
        driver.set_script_timeout(300)
        yield driver
    finally:
        driver.quit()


_READY_JS = """
const done = arguments[arguments.length - 1];
const images = () => Promise.all([...document.images].map(img => img.complete
  ? Promise.resolve()
  : new Promise(r => { img.addEventListener('load', r); img.addEventListener('error', r); })));
const math = () => (window.MathJax && MathJax.startup && MathJax.startup.promise)
  ? MathJax.startup.promise.then(() => MathJax.typesetPromise ? MathJax.typesetPromise() : null)
  : Promise.resolve();
math().then(() => document.fonts.ready).then(images).then(() => {
  const formulas = document.querySelectorAll('.math').length;
  const typeset = [...document.querySelectorAll('.math')]
    .filter(m => m.querySelector('mjx-container')).length;
  done({formulas, typeset, errors: document.querySelectorAll('mjx-merror').length});
}, err => done({error: String(err)}));
"""

#: Scale what is wider than the printed text (display formulas, tables, outputs) to fit.
_FIT_JS = """
const width = arguments[0];
let scaled = 0;
// Shrink what is wider than the room it has, by the ratio of the two, relative to the
// size it already has (MathJax sets its own font size on a formula's container).
const fit = (el, measured, avail) => {
  const w = measured.scrollWidth;
  if (w > avail + 1) {
    const k = Math.max(0.5, avail / w);
    const size = parseFloat(getComputedStyle(el).fontSize);
    el.style.fontSize = (size * k).toFixed(2) + 'px';
    scaled += 1;
  }
};
document.querySelectorAll('mjx-container[display="true"]').forEach(m => {
  const box = m.closest('div.math') || m.parentElement;
  // The container spans the text block; the formula is its first child.
  const formula = m.querySelector('mjx-math') || m;
  fit(m, formula, Math.min(width, box.clientWidth || width) - 50);
});
document.querySelectorAll('table').forEach(t => {
  fit(t, t, Math.min(width, (t.parentElement && t.parentElement.clientWidth) || width));
});
return scaled;
"""

#: Keep a code cell, code block, output or table whole when it is shorter than this share of
#: the printed page; a longer one continues on the next page where it falls (keeping it
#: whole would leave up to a page blank before it).
KEEP_WHOLE_BELOW = 0.45
#: Height of the printed text on A4 (297 mm - 18 mm - 20 mm), in CSS pixels.
TEXT_HEIGHT_PX = round((297 - 18 - 20) / 25.4 * 96)

_KEEP_JS = """
const limit = arguments[0];
let kept = 0;
document.querySelectorAll(
  'div.cell, div.cell_input, div.cell_output, div.highlight, div.literal-block-wrapper, ' +
  'table, div.pst-scrollable-table-container'
).forEach(el => {
  if (el.getBoundingClientRect().height < limit) {
    el.style.setProperty('break-inside', 'avoid', 'important');
    kept += 1;
  }
});
return kept;
"""


def _pages_of(pdf: Path) -> int:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    return int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))


def destination_pages(pdf: Path) -> dict[str, int]:
    """Named destination -> page number, read with ``pdfinfo -dests``."""
    proc = subprocess.run(
        ["pdfinfo", "-dests", str(pdf)], capture_output=True, text=True, check=True
    )
    pages: dict[str, int] = {}
    for line in proc.stdout.splitlines():
        m = re.match(r'\s*(\d+)\s+\[.*?\]\s+"(.*)"\s*$', line)
        if m:
            pages[m.group(2)] = int(m.group(1))
    return pages


def _print(driver: WebDriver, url: str, target: Path) -> dict:
    """Open ``url``, wait for the formulas, fonts and images, print it to ``target``."""
    driver.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    driver.get(url)
    state = driver.execute_async_script(_READY_JS)
    if "error" in state or state["typeset"] != state["formulas"] or state["errors"]:
        raise SystemExit(f"{url}: MathJax did not typeset every formula: {state}")
    state["scaled"] = driver.execute_script(_FIT_JS, TEXT_WIDTH_PX)
    state["kept_whole"] = driver.execute_script(_KEEP_JS, KEEP_WHOLE_BELOW * TEXT_HEIGHT_PX)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(_pdf_bytes(driver))
    return state


def _number_contents(driver: WebDriver, pages: dict[str, str]) -> int:
    """Write each entry's page into the contents; how many entries got one."""
    return driver.execute_script(
        """
        const pages = arguments[0];
        let n = 0;
        document.querySelectorAll('.pdf-toc-page').forEach(slot => {
          const p = pages[slot.dataset.target];
          if (p) { slot.textContent = p; n += 1; }
        });
        return n;
        """,
        pages,
    )


def _requests(driver: WebDriver) -> list[str]:
    urls = []
    for entry in driver.get_log("performance"):
        msg = json.loads(entry["message"])["message"]
        if msg.get("method") == "Network.requestWillBeSent":
            urls.append(msg["params"]["request"]["url"])
    return urls


def _print_with_contents(
    driver: WebDriver, url: str, target: Path, digits: dict[int, str] | None = None
) -> None:
    """Print ``url`` to ``target``, then again with the pages of its contents filled in
    (written with ``digits``, a ``str.translate`` table, if given)."""
    _print(driver, url, target)
    pages = {k: str(v).translate(digits or {}) for k, v in destination_pages(target).items()}
    first = _pages_of(target)
    if _number_contents(driver, pages):
        target.write_bytes(_pdf_bytes(driver))
        if _pages_of(target) != first:
            raise SystemExit(f"numbering the contents of {target.name} changed its page count")


def build(html: Path = HTML, out: Path = OUT, *, copy_to_site: bool = True) -> Report:
    """Write ``book.pdf`` and ``answers-fa.pdf`` from the built site ``html`` into ``out``."""
    if not (html / "index.html").is_file():
        raise SystemExit(f"no built site in {html}: run `jupyter-book build .` first")
    config = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8")) or {}
    order = reading_order(html)
    if ANSWERS_PAGE not in order:
        raise SystemExit(f"{ANSWERS_PAGE} is not in the table of contents")
    folder = posixpath.dirname(order[0])
    book_url = f"/{folder}/pdf-book.html"
    answers_url = f"/{folder}/pdf-answers-fa.html"
    answers_title = _heading_text(
        _soup(html / f"{ANSWERS_PAGE}.html").select_one("article.bd-article h1")
    )[1]
    documents = {
        book_url: assemble(
            html, order, title=str(config.get("title", "")), config=config, front_matter=True
        ).encode(),
        answers_url: assemble(
            html,
            [ANSWERS_PAGE],
            title=answers_title,
            lang="fa",
            page_contents=ANSWERS_CONTENTS_TITLE,
            extra_css=running_header_css(student().header, answers_title),
        ).encode(),
    }
    report = Report()
    out.mkdir(parents=True, exist_ok=True)
    with serve(html, documents) as base, browser() as driver:
        driver.get_log("performance")
        # Each twice: the first print finds the pages of the contents' entries.
        for name, url, digits in [
            (ANSWERS_PDF, answers_url, PERSIAN_DIGITS),
            (BOOK_PDF, book_url, None),
        ]:
            start = time.perf_counter()
            target = out / name
            _print_with_contents(driver, base + url, target, digits)
            report.pdfs[name] = Printed(target, _pages_of(target), time.perf_counter() - start)
            report.requests += _requests(driver)
    if report.foreign_requests:
        raise SystemExit("the print requested another host:\n" + "\n".join(report.foreign_requests))
    if copy_to_site:
        (html / DOWNLOADS).mkdir(parents=True, exist_ok=True)
        for name, printed in report.pdfs.items():
            shutil.copyfile(printed.path, html / DOWNLOADS / name)
    return report


def _jupyter_book() -> str:
    """The ``jupyter-book`` command of this Python's environment."""
    beside = Path(sys.executable).with_name("jupyter-book")
    found = str(beside) if beside.is_file() else shutil.which("jupyter-book")
    if found is None:
        raise SystemExit("jupyter-book is not installed: pip install -r requirements.txt")
    return found


def link_from_site(root: Path = ROOT) -> None:
    """Build the site again, so that its pages link the PDFs now in ``_downloads/``.

    Text that offers the PDFs is built only when the site has them
    (``book/_ext/downloads.py``): with them in place, this rebuild writes every page
    again, executing nothing.
    """
    subprocess.run([_jupyter_book(), "build", str(root), "-W", "-n", "--keep-going"], check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--html", type=Path, default=HTML, help="the built site (_build/html)")
    parser.add_argument("--out", type=Path, default=OUT, help="where to write the PDFs")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    report = build(args.html, args.out)
    for name, printed in report.pdfs.items():
        print(
            f"{name}: {printed.pages} pages, {printed.size / 1e6:.1f} MB, "
            f"{printed.seconds:.1f} s -> {printed.path}"
        )
    print(f"done in {time.perf_counter() - start:.1f} s; copied to {args.html / DOWNLOADS}")
    if args.html.resolve() == HTML.resolve():
        link_from_site()
        print(f"the site in {args.html} now links both PDFs")
    return 0


if __name__ == "__main__":
    sys.exit(main())
