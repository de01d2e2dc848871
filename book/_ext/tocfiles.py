"""The build reads the pages of the table of contents and nothing else.

``only_build_toc_files: true`` makes sphinx-external-toc exclude every source file that
the table of contents does not list, but it finds those files with ``glob``, which skips
hidden folders, while Sphinx itself walks every folder. A virtual environment named
``.venv`` in the project's root was therefore read page by page (its packages ship
Markdown files), and every file there became a warning.

After the table of contents is read, this extension excludes every top-level folder of
the project that holds no page of it (a virtual environment of any name, caches, tool
output), so Sphinx does not even walk them. Hidden folders are excluded in
``_config.yml`` as well.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from sphinx.application import Sphinx
from sphinx.config import Config


def foreign_folders(root: Path, docnames: Iterable[str]) -> list[str]:
    """The top-level folders of ``root`` that hold none of ``docnames``."""
    used = {name.split("/", 1)[0] for name in docnames if "/" in name}
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in used)


def _exclude(app: Sphinx, config: Config) -> None:
    site_map = getattr(config, "external_site_map", None)
    if site_map is None:
        return
    folders = foreign_folders(Path(app.srcdir), site_map)
    # A new list: the default value must not change.
    config.exclude_patterns = [*config.exclude_patterns, *folders]


def setup(app: Sphinx) -> dict[str, object]:
    # After sphinx-external-toc has read _toc.yml (default priority 500).
    app.connect("config-inited", _exclude, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
