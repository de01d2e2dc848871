"""The book's own Sphinx extensions (book/_ext): the pieces that can be tested alone."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))

from freshness import tree_digest
from offline import drop_remote_scripts
from persian import wrap_persian_page
from sources import TOP_FOLDER, git_files, project_files, walked_files, write_archive


def test_tree_digest_follows_content_and_names(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    first = tree_digest([tmp_path], "*.py")
    assert tree_digest([tmp_path], "*.py") == first
    (tmp_path / "notes.txt").write_text("ignored by the pattern")
    assert tree_digest([tmp_path], "*.py") == first
    (tmp_path / "a.py").write_text("x = 2\n")
    changed = tree_digest([tmp_path], "*.py")
    assert changed != first
    (tmp_path / "a.py").rename(tmp_path / "b.py")
    assert tree_digest([tmp_path], "*.py") != changed


def _script(filename: str | None, body: str = "") -> SimpleNamespace:
    return SimpleNamespace(filename=filename, attributes={"body": body} if body else {})


@pytest.mark.parametrize(
    "thebe",
    [
        _script(None, 'const THEBE_JS_URL = "x"'),
        _script("sphinx-thebe.js"),
        _script("https://unpkg.example/thebe@0.8.2/lib/index.js"),
    ],
)
def test_thebe_scripts_are_dropped_and_duplicates_written_once(thebe: SimpleNamespace) -> None:
    keep = _script("doctools.js")
    inline = _script(None, "var togglebuttonSelector = '.toggle';")
    context = {"script_files": [keep, thebe, inline, inline, keep]}
    drop_remote_scripts(None, "page", "page.html", context, None)  # type: ignore[arg-type]
    assert context["script_files"] == [keep, inline]


def test_a11y_repairs_the_two_patterns() -> None:
    from a11y import repair

    toggle = '<summary aria-label="Toggle hidden content">\n<p>Show code cell source</p>'
    assert repair(toggle) == "<summary>\n<p>Show code cell source</p>"
    entry = '<div class="citation" id="id7" role="doc-biblioentry">'
    assert repair(entry) == '<div class="citation" id="id7" role="listitem">'
    other = '<summary aria-label="Other">'
    assert repair(other) == other


def _page_app(metadata: dict[str, dict[str, str]]) -> SimpleNamespace:
    return SimpleNamespace(env=SimpleNamespace(metadata=metadata))


def test_a_page_whose_front_matter_says_fa_is_wrapped_right_to_left() -> None:
    app = _page_app({"book/answers_fa": {"lang": "fa"}, "book/intro": {}})
    fa = {"body": "<section><h1>عنوان</h1></section>"}
    wrap_persian_page(app, "book/answers_fa", "page.html", fa, None)  # type: ignore[arg-type]
    assert fa["body"].startswith('<div class="persian persian-page" lang="fa" dir="rtl">')
    assert fa["body"].rstrip().endswith("</section></div>")
    en = {"body": "<section><h1>Title</h1></section>"}
    wrap_persian_page(app, "book/intro", "page.html", dict(en), None)  # type: ignore[arg-type]
    assert en == {"body": "<section><h1>Title</h1></section>"}


def _tree(root: Path) -> None:
    for name in (
        "README.md",
        "src/pkg/__init__.py",
        "src/pkg/__pycache__/m.pyc",
        "_build/html/index.html",
        "a.egg-info/PKG-INFO",
        "notes.ipynb",
        ".ipynb_checkpoints/notes-checkpoint.ipynb",
        ".git/HEAD",
    ):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(name)
    (root / ".gitignore").write_text(
        "_build/\n__pycache__/\n*.egg-info/\n# a comment\n.ipynb_checkpoints/\n"
    )


def test_without_git_the_archive_walks_the_tree_minus_gitignore(tmp_path: Path) -> None:
    _tree(tmp_path)
    expected = [".gitignore", "README.md", "notes.ipynb", "src/pkg/__init__.py"]
    assert walked_files(tmp_path) == expected
    # tmp_path is no git work tree: project_files falls back to the walk.
    assert git_files(tmp_path) in (None, [])
    assert project_files(tmp_path) == expected


def test_archive_is_the_same_bytes_for_the_same_files(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    _tree(tree)
    first = write_archive(tree, tmp_path / "a.zip").read_bytes()
    second = write_archive(tree, tmp_path / "b.zip").read_bytes()
    assert first == second
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.namelist() == [f"{TOP_FOLDER}/{n}" for n in walked_files(tree)]
        assert zf.read(f"{TOP_FOLDER}/README.md") == b"README.md"


@pytest.mark.parametrize(
    ("authors", "label"),
    [
        ("{Amirkabir University of Technology}", "Amirkabir University of Technology, 2024"),
        ("Zeiler, Matthew D. and Fergus, Rob", "Zeiler and Fergus, 2024"),
        ("Springenberg, J. and Dosovitskiy, A. and Brox, T.", "Springenberg et al., 2024"),
    ],
)
def test_author_year_labels_have_no_braces(authors: str, label: str) -> None:
    """A corporate author, protected by braces in the bibliography, is labelled by its
    name, as pybtex prints it in the entry itself."""
    from authoryear import author_year_label
    from pybtex.database import parse_string

    bib = f"@misc{{key, author = {{{authors}}}, title = {{T}}, year = {{2024}}}}"
    entry = parse_string(bib, "bibtex").entries["key"]
    assert author_year_label(entry) == label
