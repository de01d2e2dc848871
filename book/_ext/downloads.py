"""The site links to its PDFs only when it has them.

``jupyter-book build .`` writes the site; ``python tools/build_pdf.py`` prints the two
PDFs from it, copies them into the site's ``_downloads/`` and builds the site again.
Text that offers the PDFs sits in an ``{only} pdfs`` block: this extension sets the tag
``pdfs`` when both PDFs are in the site being built, so the plain build has no link to a
file it lacks, and the build after the print links both.

Sphinx records the tags of a build; when they change (the PDFs appeared or went), every
page is written again, without being read or executed again.

A link to one of the PDFs outside such a block, in a build without the PDFs, is a
warning (so an error with ``-W``): it would be a dead link.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

#: Where the PDFs are, relative to the built site, and their names.
DOWNLOADS = "_downloads"
PDFS = ("book.pdf", "answers-fa.pdf")
#: The tag set when the site has both PDFs.
TAG = "pdfs"


def pdfs_present(outdir: Path) -> bool:
    """Whether the site in ``outdir`` holds both PDFs."""
    return all((outdir / DOWNLOADS / name).is_file() for name in PDFS)


def pdf_links(body: str) -> list[str]:
    """The links of an HTML ``body`` to one of the PDFs (their ``href``)."""
    names = "|".join(re.escape(n) for n in PDFS)
    pattern = rf'href="((?:\.\./)*{DOWNLOADS}/(?:{names}))"'
    return re.findall(pattern, body)


def _set_tag(app: Sphinx, config: Config) -> None:
    if pdfs_present(Path(app.outdir)):
        app.tags.add(TAG)


def _check_links(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if app.tags.has(TAG):
        return
    body = context.get("body")
    for href in pdf_links(body) if isinstance(body, str) else []:
        logger.warning(
            "%s links %s, which this build does not have; put the link in an "
            "`{only} %s` block",
            pagename,
            href,
            TAG,
            location=pagename,
        )


def setup(app: Sphinx) -> dict[str, object]:
    app.connect("config-inited", _set_tag)
    app.connect("html-page-context", _check_links)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
