"""No computed number is typed into the book's prose: each comes from code through ``glue``.

The check reads the prose of every page (markdown files and the markdown cells of the
notebooks), drops what is not prose (code, math, roles such as ``{glue:text}`` and
``{cite:p}``, labels, directive options, link targets, HTML tags) and looks at the
numbers that remain. A number *looks computed* when it has a decimal part, a percent
sign, an exponent, or three or more digits. Those are allowed only when they are on the
short list below: the constants the question itself sets and the years of the sources.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"

#: Numbers the course's sheet itself sets: the input length 785; the sheet's dates, its
#: deadline as printed, 1402/02/21, which is a slip for 1403/02/21 (the PDF was made in
#: 2024), and the Persian and Gregorian years 1403 and 2024; and the student number,
#: 402131055, that the sheet's report rules ask for on every page of a hand-in. Then the
#: rotations of the square grid (180 and 270 degrees) and the Python version the project
#: runs on.
QUESTION_CONSTANTS = frozenset({"785", "1402", "1403", "2024", "402131055", "180", "270", "3.11"})

#: Persian (and Arabic-Indic) digits read as the digits they are, so that a number typed in
#: Persian prose is checked like one typed in English: ``۴۰۲۱۳۱۰۵۵`` is ``402131055``.
_PERSIAN_DIGITS = {
    **{0x06F0 + d: str(d) for d in range(10)},  # Persian digits
    **{0x0660 + d: str(d) for d in range(10)},  # Arabic-Indic digits
    0x066B: ".",  # Arabic decimal separator
    0x066C: ",",  # Arabic thousands separator
    0x066A: "%",  # Arabic percent sign
}


def _years_of_sources() -> frozenset[str]:
    """Every year in the bibliography: a cited year may be typed ("Zeiler & Fergus, 2014")."""
    bib = (BOOK / "references.bib").read_text(encoding="utf-8")
    return frozenset(re.findall(r"year\s*=\s*[{\"]?(\d{4})", bib))


ALLOWED = QUESTION_CONSTANTS | _years_of_sources()

_NOT_PROSE = [
    re.compile(r"^(```|~~~|:::).*?^\1\s*$", re.S | re.M),  # fenced blocks and directives
    re.compile(r"\$\$.*?\$\$", re.S),  # display math
    re.compile(r"\$[^$\n]+\$"),  # inline math
    re.compile(r"\{[\w:-]+\}`[^`]*`"),  # roles: {glue:text}`...`, {cite:p}`...`, {eq}`...`
    re.compile(r"``[^`]*``|`[^`\n]*`"),  # inline code
    re.compile(r"^\s*\(([\w-]+)\)=\s*$", re.M),  # labels (name)=
    re.compile(r"^\s*:[\w-]+:.*$", re.M),  # directive options
    re.compile(r"\]\([^)]*\)"),  # link targets
    re.compile(r"<[^>]+>"),  # HTML tags and their attributes
    re.compile(r"https?://\S+"),  # bare links
]

#: A number: digits with optional thousands separators, decimals, exponent or percent sign.
_NUMBER = re.compile(r"(?<![\w.])(\d[\d,]*(?:\.\d+)?(?:[eE][-+]?\d+)?\s?%?)(?![\w])")


def prose(markdown: str) -> str:
    """``markdown`` without code, math, roles, labels, options, link targets and tags."""
    for pattern in _NOT_PROSE:
        markdown = pattern.sub(" ", markdown)
    return markdown


def looks_computed(number: str) -> bool:
    """A decimal part, a percent sign, an exponent, or three digits or more."""
    digits = number.replace(",", "").replace("%", "").strip()
    return "%" in number or "." in digits or "e" in digits.lower() or len(digits.split(".")[0]) >= 3


def typed_numbers(markdown: str) -> list[str]:
    """The numbers in the prose of ``markdown`` that look computed and are not allowed."""
    text = prose(markdown).translate(_PERSIAN_DIGITS)
    found = (m.group(1).strip() for m in _NUMBER.finditer(text))
    return [n for n in found if looks_computed(n) and n.replace(",", "") not in ALLOWED]


def _pages() -> list[tuple[str, str]]:
    pages = [(p.name, p.read_text(encoding="utf-8")) for p in sorted(BOOK.glob("*.md"))]
    for path in sorted(BOOK.glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for i, cell in enumerate(nb.cells):
            if cell.cell_type == "markdown":
                pages.append((f"{path.name} cell {i}", cell.source))
    return pages


@pytest.mark.parametrize(("where", "markdown"), _pages(), ids=[w for w, _ in _pages()])
def test_no_computed_number_is_typed(where: str, markdown: str) -> None:
    assert typed_numbers(markdown) == [], f"{where}: glue these numbers instead of typing them"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("the network has 395 m + 4 parameters", ["395"]),
        ("a test accuracy of 98.0% on 800 images", ["98.0%", "800"]),
        ("an error of 3.1e-13", ["3.1e-13"]),
        ("about 1,024 weights, 12 % of them", ["1,024", "12 %"]),
        ("an input of 785 samples (Zeiler & Fergus, 2014), set in 1403", []),
        ("دقت ۹۸٫۰٪ روی ۸۰۰ تصویر، شمارهٔ ۴۰۲۱۳۱۰۵۵، (۱۲ امتیاز)", ["98.0%", "800"]),  # noqa: RUF001
        ("layers Conv1 and FC1, a 3 x 3 kernel, 2-D images, Theorem 2", []),
        ("accuracy {glue:text}`q2_accuracy` on $n = 800$ images", []),
        ("see `train_sgd(lr=0.001)` and [the 2nd link](https://x.org/a/123)", []),
        ("```python\nx = 123.4\n```\nthen 0.5 of it", ["0.5"]),
    ],
)
def test_the_check_itself(text: str, expected: list[str]) -> None:
    assert typed_numbers(text) == expected
