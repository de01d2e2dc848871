"""Keep every page self-contained: no script that points at another host.

Jupyter Book v1 always loads ``sphinx-thebe``, which writes an inline script naming
thebe's CDN address on every page (and, in the versions pinned here, writes it twice,
which is a JavaScript error). This book has no live-code button, so the thebe scripts
are dropped from every page; identical inline scripts registered twice are written once.
"""

from __future__ import annotations

from typing import Any

from sphinx.application import Sphinx

_THEBE_MARKERS = ("THEBE_JS_URL", "sphinx-thebe.js", "thebe@")


def _is_thebe(script: Any) -> bool:
    text = (
        f"{getattr(script, 'filename', '') or ''} {script.attributes.get('body', '')}"
    )
    return any(marker in text for marker in _THEBE_MARKERS)


def drop_remote_scripts(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Remove thebe's scripts and duplicate inline scripts from the page context."""
    seen: set[tuple[str, str]] = set()
    kept = []
    for script in context.get("script_files", []):
        key = (
            str(getattr(script, "filename", "") or ""),
            script.attributes.get("body", ""),
        )
        if _is_thebe(script) or key in seen:
            continue
        seen.add(key)
        kept.append(script)
    context["script_files"] = kept


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("html-page-context", drop_remote_scripts, priority=900)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
