"""Every code line a reader sees fits a code cell at a 1280-pixel window: 80 characters.

That is each notebook code cell, each ```python block in the prose, and the library
source a chapter shows with ``{literalinclude}`` and ``:pyobject:``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
CHAPTERS = sorted((ROOT / "book").glob("*.ipynb"))
WIDTH = 80


def _included_objects(markdown: str) -> list[tuple[str, str, int]]:
    """(file, object, dedent) of every ``{literalinclude}`` with ``:pyobject:``."""
    found = []
    pattern = r"```\{literalinclude\} (\S+)\n((?::\w+:.*\n)*)```"
    for path, options in re.findall(pattern, markdown):
        opts = dict(re.findall(r":(\w+):\s*(.*)", options))
        if "pyobject" in opts:
            found.append((path, opts["pyobject"].strip(), int(opts.get("dedent", 0) or 0)))
    return found


def _object_lines(path: Path, dotted: str) -> list[str]:
    source = path.read_text()
    node: ast.AST = ast.parse(source)
    for part in dotted.split("."):
        node = next(
            n
            for n in ast.iter_child_nodes(node)
            if isinstance(n, ast.FunctionDef | ast.ClassDef) and n.name == part
        )
    return source.splitlines()[node.lineno - 1 : node.end_lineno]


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[c.stem for c in CHAPTERS])
def test_chapter_code_is_at_most_80_characters_wide(chapter: Path) -> None:
    nb = nbformat.read(chapter, as_version=4)
    too_wide = []
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            lines = cell.source.splitlines()
        else:
            blocks = re.findall(r"```python\n(.*?)```", cell.source, flags=re.S)
            lines = [line for block in blocks for line in block.splitlines()]
            for path, obj, dedent in _included_objects(cell.source):
                shown = _object_lines((chapter.parent / path).resolve(), obj)
                lines += [line[dedent:] for line in shown]
        too_wide += [(i, line) for line in lines if len(line) > WIDTH]
    assert too_wide == []


def test_width_check_sees_included_source() -> None:
    cell = "```{literalinclude} ../src/cnnbook/equivariance/shifts.py\n:pyobject: shift\n```\n"
    assert _included_objects(cell) == [("../src/cnnbook/equivariance/shifts.py", "shift", 0)]
    lines = _object_lines(ROOT / "src/cnnbook/layers.py", "BlurPool1d.forward")
    assert lines[0].strip().startswith("def forward")
