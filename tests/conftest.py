"""Shared fixtures: the built site (built once per test session) and nbval settings."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hypothesis import settings
from site_links import broken_links

from cnnbook.kernel import use_encrypted_kernels

# The kernels nbval starts get CurveZMQ keys, as the build's do (cnnbook/kernel.py).
use_encrypted_kernels()

# Property tests: no per-example deadline (timings on a shared 2-core machine are noisy);
# in CI the examples are derived from the test names, so a run is reproducible.
settings.register_profile("book", deadline=None)
settings.register_profile("ci", parent=settings.get_profile("book"), derandomize=True)
settings.load_profile("ci" if os.environ.get("CI") else "book")

ROOT = Path(__file__).resolve().parents[1]
BUILD = ROOT / "_build"
HTML = BUILD / "html"
BOOK = ROOT / "book"

#: nbval compares every output key it does not skip. A glued figure is stored under
#: this key as PNG bytes, which differ between matplotlib/libpng versions; the figure
#: itself is not a claim of the text (its numbers are glued and compared as text).
GLUED_PNG_KEYS = ("application/papermill.record/image/png",)


def pytest_collectstart(collector: pytest.Collector) -> None:
    """Teach nbval to skip the byte-for-byte comparison of glued PNG figures."""
    if getattr(collector, "skip_compare", None) is not None:
        collector.skip_compare = (*collector.skip_compare, *GLUED_PNG_KEYS)


@dataclass(frozen=True)
class Build:
    """Outcome of ``jupyter-book build . -W -n --keep-going``."""

    returncode: int
    log: str
    html: Path
    #: Local links, anchors and resources of the site that it lacks, right after the
    #: build (before the PDF tests add the PDFs and build it again).
    broken_links: tuple[str, ...]


def _jupyter_book() -> list[str]:
    """``jupyter-book build`` of this Python's environment."""
    beside = Path(sys.executable).with_name("jupyter-book")
    exe = str(beside) if beside.is_file() else shutil.which("jupyter-book")
    if exe is None:
        pytest.fail("jupyter-book is not installed: pip install -r requirements.txt")
    return [exe, "build"]


@pytest.fixture(scope="session")
def site() -> Build:
    """Build the book once per session, strictly, as CI and the README do."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONHASHSEED": "0"}
    proc = subprocess.run(
        [*_jupyter_book(), ".", "-W", "-n", "--keep-going"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    links = tuple(broken_links(HTML)) if proc.returncode == 0 else ()
    return Build(proc.returncode, proc.stdout + proc.stderr, HTML, links)


def html_pages(html: Path) -> list[Path]:
    """The book's own pages (not the generated index and search pages)."""
    return sorted((html / "book").glob("*.html"))
