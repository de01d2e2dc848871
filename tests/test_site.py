"""The book builds strictly, and its pages need nothing from another host."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

import pytest
from conftest import BOOK, Build, html_pages

pytestmark = pytest.mark.site

#: Tags and attributes that make a browser fetch something on page load.
LOADING_ATTRS = {
    "script": "src",
    "link": "href",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
}


class _Refs(HTMLParser):
    """Collects loaded resources, links and element ids of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(a["id"])
        attr = LOADING_ATTRS.get(tag)
        if attr and a.get(attr):
            if not (tag == "link" and a.get("rel") in {"next", "prev", "index", "search"}):
                self.loaded.append(a[attr])
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts.append(data)


def _parse(page: Path) -> _Refs:
    refs = _Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    return refs


def test_build_is_warning_free(site: Build) -> None:
    assert site.returncode == 0, site.log[-4000:]
    warnings = [
        ln
        for ln in site.log.splitlines()
        if re.search(r"\bWARNING\b", ln) and "IPKernelApp" not in ln
    ]
    assert not warnings, "\n".join(warnings)


def test_every_chapter_is_built(site: Build) -> None:
    names = {p.stem for p in html_pages(site.html)}
    assert {
        "intro",
        "q1_translation_equivariance",
        "q2_deconvnet_guided_backprop",
        "q3_cnn1d_gradients",
        "q4_dilated_convolution",
        "answers_fa",
        "references",
    } <= names


def test_no_resource_from_another_host(site: Build) -> None:
    offenders = []
    for page in html_pages(site.html):
        refs = _parse(page)
        offenders += [f"{page.name}: {u}" for u in refs.loaded if urlsplit(u).netloc]
        offenders += [
            f"{page.name}: inline script loads {m}"
            for s in refs.inline_scripts
            for m in re.findall(r"""["'](?:https?:)?//[^"']+\.(?:js|css|woff2?)["']""", s)
        ]
    assert not offenders, "\n".join(offenders)


def test_mathjax_is_served_locally(site: Build) -> None:
    pages_with_math = [p for p in html_pages(site.html) if 'class="math' in p.read_text("utf-8")]
    assert pages_with_math, "no page has math: the check below would be vacuous"
    for page in pages_with_math:
        srcs = [u for u in _parse(page).loaded if "mathjax" in u.lower()]
        assert srcs, f"{page.name} has math but loads no MathJax"
        for src in srcs:
            target = (page.parent / urlsplit(src).path).resolve()
            assert target.is_file(), f"{page.name}: {src} is not in the built site"


#: Files the site links to that ``tools/build_pdf.py`` writes after the build: absent
#: until it runs (tests/test_pdf.py runs it and checks that these links then resolve).
PRINTED_AFTER_THE_BUILD = {"_downloads/book.pdf", "_downloads/answers-fa.pdf"}


def test_internal_links_and_anchors_resolve(site: Build) -> None:
    pages = list(site.html.rglob("*.html"))
    ids = {p.resolve(): _parse(p).ids for p in pages}
    later = {(site.html / p).resolve() for p in PRINTED_AFTER_THE_BUILD}
    broken = []
    for page in html_pages(site.html):
        for href in _parse(page).links:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("mailto:"):
                continue
            target = (page.parent / unquote(parts.path)).resolve() if parts.path else page.resolve()
            if target in later:
                continue
            if not target.exists():
                broken.append(f"{page.name}: {href} (no such file)")
            elif parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in ids.get(target, _parse(target).ids):
                    broken.append(f"{page.name}: {href} (no such anchor)")
    assert not broken, "\n".join(broken)


def test_index_redirects_to_the_intro(site: Build) -> None:
    index = (site.html / "index.html").read_text(encoding="utf-8")
    assert re.search(r'http-equiv="Refresh" content="0; url=book/intro.html"', index, re.I)
    assert (site.html / "book" / "intro.html").is_file()


@pytest.mark.parametrize(
    "chapter",
    [
        "q1_translation_equivariance",
        "q2_deconvnet_guided_backprop",
        "q3_cnn1d_gradients",
        "q4_dilated_convolution",
    ],
)
def test_download_button_gives_the_executed_notebook(site: Build, chapter: str) -> None:
    page = (site.html / "book" / f"{chapter}.html").read_text(encoding="utf-8")
    href = f"../_sources/book/{chapter}.ipynb"
    assert f'href="{href}"' in page, "no download link to the notebook"
    served = (site.html / "book" / href).resolve()
    # The reader downloads the committed notebook itself, outputs included.
    assert served.read_bytes() == (BOOK / f"{chapter}.ipynb").read_bytes()


def test_every_reference_is_cited_in_the_text() -> None:
    keys = re.findall(r"^@\w+\{([^,]+),", (BOOK / "references.bib").read_text("utf-8"), re.M)
    sources = "\n".join(p.read_text("utf-8") for p in (*BOOK.glob("*.ipynb"), *BOOK.glob("*.md")))
    cited = set(re.findall(r"\{cite:[pt]\}`([^`]+)`", sources.replace('\\"', '"')))
    cited = {k.strip() for group in cited for k in group.split(",")}
    assert keys, "references.bib has no entries"
    assert set(keys) <= cited, f"in references.bib but never cited: {sorted(set(keys) - cited)}"
    assert cited <= set(keys), f"cited but not in references.bib: {sorted(cited - set(keys))}"


def test_answer_sheet_is_one_persian_page_with_glued_numbers(site: Build) -> None:
    page = (site.html / "book" / "answers_fa.html").read_text(encoding="utf-8")
    assert '<div class="persian persian-page" lang="fa" dir="rtl">' in page
    article = page[page.index('<article class="bd-article"') :]
    assert article.index("persian-page") < article.index("<h1")
    # Its numbers are glued from the chapters' notebooks, not typed.
    assert len(re.findall(r'class="pasted-text"', page)) >= 5
