"""The PDFs (``tools/build_pdf.py``) and the source archive the build writes.

The PDFs are printed once per session from the site the ``site`` fixture built, by
headless Chromium with the network cut off; then the site is built again, now linking
them, as ``python tools/build_pdf.py`` does. Their text is read back with poppler's
``pdftotext`` and their fonts with ``pdffonts``. Without Chromium or poppler the PDF tests
skip with the reason, except when ``CI`` is set: ``.ci/run`` installs both.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import time
import zipfile
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from conftest import BOOK, BUILD, ROOT, Build
from site_links import broken_links

sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "book" / "_ext"))

import build_pdf
from sources import ARCHIVE, TOP_FOLDER

pytestmark = pytest.mark.site

#: Page counts the PDFs must fall in. The book (cover, contents, intro, four chapters,
#: the answer sheet, references) prints to about 120 pages, chapter 4 to about 16 of them;
#: the answer sheet to about 14 (its contents, two to four pages per answer, Q3's
#: derivation the longest, and the glossary).
PAGES = {build_pdf.BOOK_PDF: range(80, 161), build_pdf.ANSWERS_PDF: range(9, 19)}
#: What must never reach the printed text: TeX that MathJax did not typeset, and glue
#: roles that myst-nb did not replace.
RAW = ("\\frac", "$$", "{glue")
EXECUTED = BUILD / "jupyter_execute" / "book"
GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`(?:([\w.-]+\.ipynb)::)?([\w]+)(?::([^`]*))?`")


def _require(*tools: str) -> None:
    missing = [t for t in tools if not shutil.which(t)]
    if not missing:
        return
    reason = (
        f"the PDF tests need {', '.join(missing)} (Debian: chromium chromium-driver poppler-utils)"
    )
    if os.environ.get("CI"):
        pytest.fail(f"CI is set but {reason}")
    pytest.skip(reason)


@dataclass(frozen=True)
class Printed:
    report: build_pdf.Report
    seconds: float

    def path(self, name: str) -> Path:
        return self.report.pdfs[name].path


@pytest.fixture(scope="module")
def pdfs(site: Build) -> Printed:
    """Both PDFs, printed from the session's build, as ``python tools/build_pdf.py`` does."""
    assert site.returncode == 0, "the book did not build; see test_site"
    _require("chromium", "chromedriver", "pdfinfo", "pdffonts", "pdftotext")
    start = time.perf_counter()
    report = build_pdf.build(site.html, BUILD / "pdf")
    seconds = time.perf_counter() - start
    build_pdf.link_from_site()  # the site now links the PDFs, as after build_pdf.py
    return Printed(report, seconds)


def _text(pdf: Path) -> str:
    proc = subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    return proc.stdout


def _squeeze(text: str) -> str:
    """Text without white space and bidi controls (pdftotext marks right-to-left runs
    with them), so that a value broken across lines is still found."""
    return re.sub(r"[\s\u200e\u200f\u202a-\u202e\u2066-\u2069]+", "", text)


def _anagram_in(value: str, text: str) -> bool:
    """Whether ``text`` holds the characters of ``value`` side by side, in some order.

    pdftotext writes a right-to-left line in visual order and reorders the neutral
    characters of a number inside it (``94.8%`` comes out ``%94.8``, ``10⁻¹⁵`` as
    ``¹⁵⁻10``); the glyphs are the number's, in one place.
    """
    want = Counter(value)
    n = len(value)
    return any(Counter(text[i : i + n]) == want for i in range(len(text) - n + 1))


def _fonts(pdf: Path) -> list[dict[str, str]]:
    out = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()[2:]
    fonts = []
    for line in lines:
        # name, type (may contain spaces), encoding, emb, sub, uni, object, generation
        m = re.match(r"(\S+)\s+(.+?)\s+(\S+)\s+(yes|no)\s+(yes|no)\s+(yes|no)\s+\d+\s+\d+$", line)
        assert m, f"pdffonts line not understood: {line!r}"
        fonts.append({"name": m[1], "type": m[2], "emb": m[4]})
    return fonts


def glued_values() -> dict[tuple[str, str], str]:
    """(notebook stem, name) -> glued text, as the build's execution of the notebooks glued it.

    myst-nb moves the glue outputs of each notebook it executes out of the notebook into
    ``_build/jupyter_execute/book/<notebook>.glue.json``.
    """
    values = {}
    for store in sorted(EXECUTED.glob("*.glue.json")):
        stem = store.name.removesuffix(".glue.json")
        for name, output in json.loads(store.read_text("utf-8")).items():
            text = output.get("data", {}).get("text/plain")
            if text is not None:
                values[(stem, name)] = text
    return values


def cited_values(page: Path, values: dict[tuple[str, str], str]) -> list[str]:
    """The text each ``{glue:text}`` role of a page's source shows, from ``values``."""
    source = page.read_text("utf-8")
    shown = []
    for notebook, name, spec in GLUE_ROLE.findall(source.replace('\\"', '"')):
        stem = Path(notebook).stem if notebook else page.stem
        raw = values[(stem, name)]
        try:
            value = ast.literal_eval(raw)
        except (ValueError, SyntaxError):
            value = raw
        spec = spec or ""
        shown.append(str(value) if spec in {"", "s"} else format(value, spec))
    return shown


def test_both_pdfs_build_offline(pdfs: Printed, site: Build) -> None:
    report = pdfs.report
    assert set(report.pdfs) == {build_pdf.BOOK_PDF, build_pdf.ANSWERS_PDF}
    for name, printed in report.pdfs.items():
        assert printed.path.read_bytes()[:5] == b"%PDF-", name
        # The site offers the same files.
        served = site.html / build_pdf.DOWNLOADS / name
        assert served.read_bytes() == printed.path.read_bytes()
    # Everything came from the local server (the check below is not vacuous) ...
    assert any("/_static/mathjax/" in u for u in report.requests)
    assert any("Vazirmatn" in u for u in report.requests)
    # ... and nothing from anywhere else.
    assert report.foreign_requests == []


def test_page_counts_are_in_range(pdfs: Printed) -> None:
    for name, allowed in PAGES.items():
        pages = pdfs.report.pdfs[name].pages
        assert pages in allowed, (
            f"{name}: {pages} pages, expected {allowed.start}..{allowed.stop - 1}"
        )


@pytest.mark.parametrize("name", [build_pdf.BOOK_PDF, build_pdf.ANSWERS_PDF])
def test_fonts_are_embedded_vazirmatn_among_them(pdfs: Printed, name: str) -> None:
    fonts = _fonts(pdfs.path(name))
    assert fonts, f"{name} has no fonts"
    assert [f for f in fonts if f["emb"] != "yes"] == []
    assert any("Vazirmatn" in f["name"] for f in fonts), [f["name"] for f in fonts]


def test_book_text_has_every_glued_value_and_no_raw_source(pdfs: Printed) -> None:
    values = glued_values()
    assert values, f"no glued values in {EXECUTED}"
    text = _text(pdfs.path(build_pdf.BOOK_PDF))
    squeezed = _squeeze(text)
    pages = [BOOK / "intro.md", BOOK / "answers_fa.md", *sorted(BOOK.glob("q*.ipynb"))]
    expected = [v for page in pages for v in cited_values(page, values)]
    assert len(expected) > 50
    missing = sorted({v for v in expected if _squeeze(v) not in squeezed})
    assert not missing, f"glued values not in book.pdf: {missing}"
    for raw in RAW:
        assert raw not in text, f"book.pdf shows {raw!r}"


def test_answer_sheet_text_has_its_glued_values(pdfs: Printed) -> None:
    text = _text(pdfs.path(build_pdf.ANSWERS_PDF))
    squeezed = _squeeze(text)
    expected = cited_values(BOOK / "answers_fa.md", glued_values())
    assert expected, "the answer sheet glues no value"
    for value in expected:
        bare = _squeeze(value)
        assert bare in squeezed or _anagram_in(bare, squeezed), f"{value!r} not in answers-fa.pdf"
    for raw in RAW:
        assert raw not in text
    # Persian comes out as Persian text (shaped glyphs that map back to letters).
    assert "تمرین" in text


def test_pdfs_have_live_links(pdfs: Printed) -> None:
    """Internal links of the contents and cross-references, external links of the references."""
    data = pdfs.path(build_pdf.BOOK_PDF).read_bytes()
    assert data.count(b"/Subtype /Link") > 100
    assert b"/URI (https://doi.org/" in data
    # The contents' links land on the pages pdfinfo reports for their destinations.
    dests = build_pdf.destination_pages(pdfs.path(build_pdf.BOOK_PDF))
    assert dests.get("q3_cnn1d_gradients", 0) > dests.get("q1_translation_equivariance", 10**6)
    assert dests.get("q4_dilated_convolution", 0) > dests.get("q3_cnn1d_gradients", 10**6)


def test_the_site_links_to_the_pdfs(pdfs: Printed, site: Build) -> None:
    for page in ("intro", "answers_fa"):
        html = (site.html / "book" / f"{page}.html").read_text("utf-8")
        for name in (build_pdf.BOOK_PDF, build_pdf.ANSWERS_PDF):
            href = f"../_downloads/{name}"
            assert f'href="{href}"' in html, f"{page} does not link {name}"
            assert (site.html / "book" / href).resolve().is_file()


def test_no_dead_link_in_the_site_with_the_pdfs(pdfs: Printed, site: Build) -> None:
    assert all((site.html / build_pdf.DOWNLOADS / name).is_file() for name in pdfs.report.pdfs)
    assert broken_links(site.html) == []


def test_source_archive_holds_the_project(site: Build) -> None:
    archive = site.html / ARCHIVE
    assert archive.is_file(), "the build wrote no source archive"
    intro = (site.html / "book" / "intro.html").read_text("utf-8")
    assert f'href="../{ARCHIVE.as_posix()}"' in intro
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        assert zf.testzip() is None
    inside = {n.removeprefix(f"{TOP_FOLDER}/") for n in names}
    assert all(n.startswith(f"{TOP_FOLDER}/") for n in names)
    required = {"README.md", "requirements.txt", "pyproject.toml", "src/cnnbook/__init__.py"}
    notebooks = {f"book/{p.name}" for p in BOOK.glob("*.ipynb")}
    assert len(notebooks) >= 3
    assert required | notebooks <= inside, sorted(required | notebooks - inside)
    assert not [n for n in inside if n.startswith(("_build/", ".git/")) or "__pycache__" in n]


# --------------------------------------------------------------------------------------
# The answer sheet as a hand-in: contents, and the student in the header of every page
# --------------------------------------------------------------------------------------

#: The top margin of print.css, in points: the header is printed there.
TOP_MARGIN_PT = 18 / 25.4 * 72


def _page_text(pdf: Path, page: int, crop: tuple[float, float, float, float] | None = None) -> str:
    """The text of one page, or of the rectangle ``crop`` (x, y, width, height in points,
    from the top left) of it."""
    args = ["pdftotext", "-enc", "UTF-8", "-f", str(page), "-l", str(page)]
    if crop:
        for flag, value in zip(("-x", "-y", "-W", "-H"), crop, strict=True):
            args += [flag, str(round(value))]
    proc = subprocess.run([*args, str(pdf), "-"], capture_output=True, text=True, check=True)
    return proc.stdout


def _page_size(pdf: Path) -> tuple[float, float]:
    info = subprocess.run(["pdfinfo", str(pdf)], capture_output=True, text=True, check=True)
    m = re.search(r"^Page size:\s+([\d.]+) x ([\d.]+) pts", info.stdout, re.M)
    assert m, info.stdout
    return float(m[1]), float(m[2])


def _letters(text: str) -> Counter[str]:
    """The characters of ``text`` but white space, bidi controls, zero-width non-joiners
    and the hamza above: pdftotext writes a right-to-left line in visual order and moves
    those (``پاسخ‌نامهٔ`` comes out ``پاسخن‌امٔه``), but keeps every letter."""
    return Counter(re.sub("[\u200c\u0654]", "", _squeeze(text)))


def test_the_student_is_the_one_on_the_sheet() -> None:
    """The header's name and number, read from the answer sheet's front matter, are the
    student's, as his report gives them."""
    assert build_pdf.student() == build_pdf.Student("رضا آدینه پور", "۴۰۲۱۳۱۰۵۵")


def test_answer_sheet_has_the_student_on_the_left_of_every_page_header(pdfs: Printed) -> None:
    pdf = pdfs.path(build_pdf.ANSWERS_PDF)
    who = build_pdf.student()
    width, _ = _page_size(pdf)
    number = _squeeze(who.number)
    for page in range(1, pdfs.report.pdfs[build_pdf.ANSWERS_PDF].pages + 1):
        left = _squeeze(_page_text(pdf, page, (0, 0, width / 2, TOP_MARGIN_PT)))
        right = _squeeze(_page_text(pdf, page, (width / 2, 0, width / 2, TOP_MARGIN_PT)))
        where = f"page {page}: header left {left!r}, right {right!r}"
        assert all(word in left for word in who.name.split()), where
        assert number in left or _anagram_in(number, left), where
        assert not any(word in right for word in who.name.split()), where
        assert not _anagram_in(number, right), where


def test_answer_sheet_opens_with_the_contents_of_its_answers_in_order(
    pdfs: Printed, site: Build
) -> None:
    pdf = pdfs.path(build_pdf.ANSWERS_PDF)
    article = BeautifulSoup(
        (site.html / f"{build_pdf.ANSWERS_PAGE}.html").read_text("utf-8"), "html.parser"
    ).select_one("article.bd-article")
    top = article.find("h1").find_parent("section")
    sections = [
        (str(sec["id"]), build_pdf._heading_text(sec.find("h2"))[1])
        for sec in top.find_all("section", recursive=False)
    ]
    questions = [title for _, title in sections if title.startswith("پرسش")]
    assert len(questions) >= 3, sections
    numbers = [int(re.search(r"\d+", q)[0]) for q in questions]
    assert numbers == sorted(numbers) == list(range(1, len(numbers) + 1)), questions
    dests = build_pdf.destination_pages(pdf)
    first = [ln for ln in _page_text(pdf, 1).splitlines() if _squeeze(ln)]
    assert any(_letters(ln) == _letters(build_pdf.ANSWERS_CONTENTS_TITLE) for ln in first)
    lines = [_letters(ln) for ln in first]
    at = [lines.index(_letters(title)) for _, title in sections]  # its first line
    assert at == sorted(at), "the contents list the answers out of order"
    for (sid, title), i in zip(sections, at, strict=True):
        page = dests[f"{build_pdf._slug(build_pdf.ANSWERS_PAGE)}--{sid}"]
        shown = str(page).translate(build_pdf.PERSIAN_DIGITS)
        assert lines[i + 1] == Counter(shown), f"{title}: page {page} not shown in the contents"
        on_page = [_letters(ln) for ln in _page_text(pdf, page).splitlines() if _squeeze(ln)]
        # A long heading wraps: look for it on one line or on two or three in a row.
        runs = [sum(on_page[i : i + k], Counter()) for k in (1, 2, 3) for i in range(len(on_page))]
        assert _letters(title) in runs, f"{title} is not on page {page}"
