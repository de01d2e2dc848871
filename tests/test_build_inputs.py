"""What the build reads and starts: the pages of the table of contents only, kernels
over encrypted sockets, and the PDF links only when the site has the PDFs."""

from __future__ import annotations

import os
import pickle
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import BUILD, ROOT, Build
from sphinx_external_toc.parsing import parse_toc_yaml

from cnnbook import kernel

sys.path.insert(0, str(ROOT / "book" / "_ext"))

import downloads
import tocfiles

ENVIRONMENT = BUILD / ".doctrees" / "environment.pickle"


def toc_docnames() -> set[str]:
    """The documents that ``_toc.yml`` lists, as its own parser reads them."""
    return set(parse_toc_yaml(ROOT / "_toc.yml"))


@pytest.mark.site
def test_the_build_read_only_the_pages_of_the_toc(site: Build) -> None:
    assert site.returncode == 0, "the book did not build; see test_site"
    with ENVIRONMENT.open("rb") as f:
        env = pickle.load(f)
    read = set(env.all_docs)
    assert len(toc_docnames()) >= 6
    assert read == toc_docnames(), f"read outside the toc: {sorted(read - toc_docnames())}"


def test_folders_without_a_page_of_the_toc_are_excluded(tmp_path: Path) -> None:
    for folder in ("book", ".venv", "venv-3.11", "src", "_build"):
        (tmp_path / folder).mkdir()
    (tmp_path / "README.md").write_text("a file, not a folder")
    docnames = ["book/intro", "book/q1", "index"]
    assert tocfiles.foreign_folders(tmp_path, docnames) == [".venv", "_build", "src", "venv-3.11"]


def _mini_build(tmp_path: Path, with_pdfs: bool, stray_link: bool) -> tuple[str, str]:
    """A one-page Sphinx site using the extension; its page and the build's warnings."""
    src = tmp_path / "src"
    out = tmp_path / "out"
    src.mkdir(parents=True)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / 'book' / '_ext')!r})\n"
        "extensions = ['downloads']\n"
    )
    page = [
        "Page",
        "====",
        "",
        ".. only:: pdfs",
        "",
        "   .. raw:: html",
        "",
        '      <a href="_downloads/book.pdf">book</a>',
        "",
    ]
    if stray_link:
        page += [".. raw:: html", "", '   <a href="_downloads/answers-fa.pdf">sheet</a>', ""]
    (src / "index.rst").write_text("\n".join(page))
    if with_pdfs:
        (out / downloads.DOWNLOADS).mkdir(parents=True)
        for name in downloads.PDFS:
            (out / downloads.DOWNLOADS / name).write_bytes(b"%PDF-")
    proc = subprocess.run(
        [sys.executable, "-m", "sphinx", "-b", "html", "-q", str(src), str(out)],
        capture_output=True,
        text=True,
        check=True,
    )
    return (out / "index.html").read_text("utf-8"), proc.stderr


def test_the_pdf_links_are_built_only_with_the_pdfs(tmp_path: Path) -> None:
    html, warnings = _mini_build(tmp_path / "plain", with_pdfs=False, stray_link=False)
    assert downloads.pdf_links(html) == []
    assert warnings == ""
    html, warnings = _mini_build(tmp_path / "printed", with_pdfs=True, stray_link=False)
    assert downloads.pdf_links(html) == ["_downloads/book.pdf"]
    assert warnings == ""


def test_a_pdf_link_outside_the_block_is_a_warning(tmp_path: Path) -> None:
    html, warnings = _mini_build(tmp_path, with_pdfs=False, stray_link=True)
    assert downloads.pdf_links(html) == ["_downloads/answers-fa.pdf"]
    assert "WARNING" in warnings
    assert "_downloads/answers-fa.pdf" in warnings


def test_kernels_start_encrypted_and_quiet(tmp_path: Path) -> None:
    """A kernel started as the build and nbval start theirs gets CurveZMQ keys, and
    ipykernel does not warn about plain-text TCP."""
    if not kernel.provisioner_is_registered():
        reason = "the installed cnnbook predates its kernel provisioner: pip install -e ."
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    from jupyter_client.manager import KernelManager

    assert kernel.use_encrypted_kernels()
    km = KernelManager(kernel_name="python3")
    with (tmp_path / "stderr.txt").open("w") as stderr:
        km.start_kernel(stderr=stderr)
        try:
            client = km.client()
            client.start_channels()
            client.wait_for_ready(timeout=60)
            reply = client.execute_interactive("6 * 7", timeout=60)
            client.stop_channels()
        finally:
            km.shutdown_kernel(now=True)
    assert reply["content"]["status"] == "ok"
    assert km.curve_publickey is not None
    assert km.curve_secretkey is not None
    log = (tmp_path / "stderr.txt").read_text()
    assert "without encryption" not in log, log
