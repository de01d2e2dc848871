"""A ``persian`` directive: a block of Persian text, right to left, in its typeface.

The content is parsed like any other MyST content (math, lists, emphasis), and the block
is written out as ``<div class="persian" lang="fa" dir="rtl">``, so that browsers shape
and order it as Persian and screen readers read it as Persian.

A whole page in Persian says so in its front matter (``lang: fa``): its content is then
wrapped in the same kind of block, ``<div class="persian persian-page" ...>``, while the
site's navigation around it stays as it is.
"""

from __future__ import annotations

from typing import Any

from docutils import nodes
from docutils.parsers.rst import directives
from sphinx.application import Sphinx
from sphinx.util.docutils import SphinxDirective
from sphinx.writers.html5 import HTML5Translator


class persian_block(nodes.General, nodes.Element):
    """A container whose children are Persian text."""


def visit_persian_html(self: HTML5Translator, node: persian_block) -> None:
    classes = " ".join(["persian", *node.get("classes", [])])
    self.body.append(f'<div class="{classes}" lang="fa" dir="rtl">\n')


def depart_persian_html(self: HTML5Translator, node: persian_block) -> None:
    self.body.append("</div>\n")


def visit_persian_other(self: object, node: persian_block) -> None:
    """Other writers (LaTeX, text) render the children as they are."""


def depart_persian_other(self: object, node: persian_block) -> None:
    """Nothing to close outside HTML."""


class PersianDirective(SphinxDirective):
    """``{persian}``: content in Persian, laid out right to left."""

    has_content = True
    option_spec = {"class": directives.class_option}  # noqa: RUF012 (docutils API)

    def run(self) -> list[nodes.Node]:
        node = persian_block()
        node["classes"] = self.options.get("class", [])
        self.state.nested_parse(self.content, self.content_offset, node)
        return [node]


def wrap_persian_page(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    """Lay out the body of a page whose front matter says ``lang: fa`` right to left."""
    metadata = app.env.metadata.get(pagename, {}) if app.env else {}
    if metadata.get("lang") != "fa" or "body" not in context:
        return
    context["body"] = (
        '<div class="persian persian-page" lang="fa" dir="rtl">\n'
        f"{context['body']}</div>\n"
    )


def setup(app: Sphinx) -> dict[str, object]:
    app.add_node(
        persian_block,
        html=(visit_persian_html, depart_persian_html),
        latex=(visit_persian_other, depart_persian_other),
        text=(visit_persian_other, depart_persian_other),
    )
    app.add_directive("persian", PersianDirective)
    app.connect("html-page-context", wrap_persian_page)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
