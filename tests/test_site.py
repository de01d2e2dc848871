"""The book builds strictly, and its pages need nothing from another host."""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import BOOK, Build, html_pages
from site_links import Refs, broken_links, parse, site_pages

pytestmark = pytest.mark.site


def _parse(page: Path) -> Refs:
    return parse(page)


def test_build_is_warning_free(site: Build) -> None:
    assert site.returncode == 0, site.log[-4000:]
    warnings = [ln for ln in site.log.splitlines() if re.search(r"\bWARNING\b", ln)]
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


def test_internal_links_and_anchors_resolve(site: Build) -> None:
    """Every local link, anchor and resource of every page of the plain build exists.

    The site after the PDFs are printed is checked by tests/test_pdf.py.
    """
    assert site.returncode == 0, "the book did not build"
    pages = site_pages(site.html)
    assert len(pages) >= 8
    links = sum(len(parse(p).links) for p in pages)
    assert links > 500, "too few links: the check would be nearly vacuous"
    assert list(site.broken_links) == [], "\n".join(site.broken_links)


def test_the_link_check_finds_a_dead_link_and_anchor(tmp_path: Path) -> None:
    (tmp_path / "a.html").write_text(
        '<p id="x"><a href="a.html#x">ok</a> <a href="b.html">file</a> '
        '<a href="#y">anchor</a> <img src="_static/i.png" alt=""></p>',
        encoding="utf-8",
    )
    assert broken_links(tmp_path) == [
        "a.html: b.html (no such file)",
        "a.html: #y (no such anchor)",
        "a.html: _static/i.png (no such file)",
    ]


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
