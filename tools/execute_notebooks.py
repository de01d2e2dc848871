"""Execute the book's notebooks in place, top to bottom in one kernel, and save their outputs.

Run after every change that a notebook depends on, then commit the notebooks:

    python tools/execute_notebooks.py              # every notebook under book/
    python tools/execute_notebooks.py book/q3_cnn1d_gradients.ipynb

Each notebook runs in a fresh kernel of the current environment, with the working
directory set to the notebook's folder (as the book build and nbval do), single-threaded,
and with execution-timing metadata dropped so that a re-run changes only what changed.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

from cnnbook.kernel import use_encrypted_kernels

ROOT = Path(__file__).resolve().parents[1]


def execute(path: Path, timeout: int = 600) -> float:
    """Execute one notebook in place; return the wall time in seconds."""
    nb = nbformat.read(path, as_version=4)
    use_encrypted_kernels()  # CurveZMQ keys for the kernel, as in the build
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    os.environ.setdefault("MKL_NUM_THREADS", "1")
    os.environ.setdefault("PYTHONHASHSEED", "0")
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
        record_timing=False,
    )
    start = time.perf_counter()
    client.execute()
    elapsed = time.perf_counter() - start
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
    nbformat.validate(nb)
    nbformat.write(nb, path)
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", type=Path)
    args = parser.parse_args(argv)
    paths = args.notebooks or sorted((ROOT / "book").glob("*.ipynb"))
    for path in paths:
        elapsed = execute(path.resolve())
        print(f"{path.name}: executed in {elapsed:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
