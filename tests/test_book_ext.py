"""The book's own Sphinx extensions (book/_ext): the pieces that can be tested alone."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "book" / "_ext"))

from freshness import tree_digest
from offline import drop_remote_scripts


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
