"""Rebuild exactly what depends on what changed, so the site never shows stale output.

Sphinx re-reads a page only when its source changed, and copies static files only when
some page is out of date. Two things the book depends on live outside the pages:

- the package ``cnnbook`` the notebooks import: when its source changes, every notebook
  must be executed again (with ``execute_notebooks: force`` a notebook runs whenever its
  page is read, so its page must be read again);
- the static files (stylesheet, fonts): when they change, every page must be written
  again.

Each is summarised by a digest registered as a config value; Sphinx treats a changed
value like a changed configuration: ``"env"`` re-reads every page, ``"html"`` rewrites
every page. With nothing changed, nothing is re-read or re-executed.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config


def tree_digest(folders: Iterable[Path], pattern: str = "*") -> str:
    """SHA-256 over the relative paths and contents of the files under ``folders``."""
    digest = hashlib.sha256()
    for root in folders:
        for path in sorted(p for p in root.rglob(pattern) if p.is_file()):
            if "__pycache__" in path.parts:
                continue
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _record_digests(app: Sphinx, config: Config) -> None:
    src = Path(app.srcdir)
    config.book_static_digest = tree_digest(src / p for p in config.html_static_path)
    config.book_package_digest = tree_digest(
        [src / p for p in config.book_package_paths], pattern="*.py"
    )


def setup(app: Sphinx) -> dict[str, object]:
    app.add_config_value("book_package_paths", [], "env")
    app.add_config_value("book_static_digest", "", "html")
    app.add_config_value("book_package_digest", "", "env")
    app.connect("config-inited", _record_digests)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
