"""Accessibility repairs of the HTML written for the book's content.

Two patterns that axe-core flags, fixed where the page body is handed to the theme:

- myst-nb's toggle of a hidden code cell is a ``<summary aria-label="Toggle hidden
  content">`` whose visible text reads "Show code cell source": an accessible name that
  does not contain the visible label (WCAG 2.5.3). Without the ``aria-label`` the name
  is the visible text.
- docutils writes the reference list as ``<div role="list">`` whose entries carry the
  deprecated ``role="doc-biblioentry"``, so the list has no ``listitem`` children.
  The entries become list items.
"""

from __future__ import annotations

import re

from sphinx.application import Sphinx

_SUMMARY_LABEL = re.compile(r'<summary aria-label="Toggle hidden content">')
_BIBLIOENTRY = re.compile(r'(<div class="citation" id="[^"]+") role="doc-biblioentry"')


def repair(body: str) -> str:
    """``body`` with the two patterns above repaired."""
    body = _SUMMARY_LABEL.sub("<summary>", body)
    return _BIBLIOENTRY.sub(r'\1 role="listitem"', body)


def _repair_page(
    app: Sphinx,
    pagename: str,
    templatename: str,
    context: dict[str, object],
    doctree: object,
) -> None:
    body = context.get("body")
    if isinstance(body, str):
        context["body"] = repair(body)


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("html-page-context", _repair_page)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
