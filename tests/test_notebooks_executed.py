"""Every committed notebook was run top to bottom in one kernel and carries its outputs.

nbval compares nothing for a cell that was never executed, so an unexecuted notebook
would pass CI silently; these tests close that hole.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

BOOK = Path(__file__).resolve().parents[1] / "book"
NOTEBOOKS = sorted(BOOK.glob("*.ipynb"))
CHAPTERS = (
    "q1_translation_equivariance.ipynb",
    "q2_deconvnet_guided_backprop.ipynb",
    "q3_cnn1d_gradients.ipynb",
    "q4_dilated_convolution.ipynb",
)


def _code_cells(path: Path) -> list[nbformat.NotebookNode]:
    nb = nbformat.read(path, as_version=4)
    return [c for c in nb.cells if c.cell_type == "code"]


def test_every_chapter_is_present() -> None:
    assert sorted(p.name for p in NOTEBOOKS) == sorted(CHAPTERS)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_cells_executed_in_one_top_to_bottom_run(path: Path) -> None:
    counts = [c.execution_count for c in _code_cells(path)]
    assert counts, f"{path.name} has no code cells"
    assert None not in counts, f"{path.name}: unexecuted cells at {counts}"
    assert counts == list(range(1, len(counts) + 1)), (
        f"{path.name}: execution counts {counts} are not 1..n in order "
        "(run it with tools/execute_notebooks.py)"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_has_outputs_and_no_errors(path: Path) -> None:
    cells = _code_cells(path)
    outputs = [o for c in cells for o in c.outputs]
    assert outputs, f"{path.name}: no outputs at all"
    errors = [o for o in outputs if o.output_type == "error"]
    assert not errors, f"{path.name}: committed error outputs {[e.ename for e in errors]}"
    stderr = [o.text for o in outputs if o.output_type == "stream" and o.name == "stderr"]
    assert not stderr, f"{path.name}: output on stderr: {stderr}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_calls_into_cnnbook(path: Path) -> None:
    sources = "\n".join(c.source for c in _code_cells(path))
    assert "from cnnbook" in sources or "import cnnbook" in sources


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_memory_addresses_in_outputs(path: Path) -> None:
    for cell in _code_cells(path):
        for out in cell.outputs:
            text = out.get("text", "") + str(out.get("data", {}).get("text/plain", ""))
            assert " at 0x" not in text, f"{path.name}: a repr with a memory address: {text!r}"
