"""Rewrite every page when a file in ``html_static_path`` changes.

Sphinx copies static files only when at least one page is out of date, so an edit to a
stylesheet or a font alone leaves the built site with the old one. A digest of the
static files, registered as a config value that affects HTML output, makes such an edit
count as a change of the HTML configuration: the pages are written again (the notebooks
are not re-executed; their outputs come from the execution cache).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config


def static_digest(srcdir: Path, static_paths: list[str]) -> str:
    """SHA-256 over the relative paths and contents of every file in the static folders."""
    digest = hashlib.sha256()
    for folder in static_paths:
        root = (srcdir / folder).resolve()
        for path in sorted(p for p in root.rglob("*") if p.is_file()):
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _record_digest(app: Sphinx, config: Config) -> None:
    config.book_static_digest = static_digest(Path(app.srcdir), list(config.html_static_path))


def setup(app: Sphinx) -> dict[str, object]:
    app.add_config_value("book_static_digest", "", "html")
    app.connect("config-inited", _record_digest)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
