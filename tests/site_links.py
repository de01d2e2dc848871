"""What the pages of a built site load and link, and which of those targets are missing."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

#: Tags and attributes that make a browser fetch something on page load.
LOADING_ATTRS = {
    "script": "src",
    "link": "href",
    "img": "src",
    "iframe": "src",
    "source": "src",
    "video": "src",
    "audio": "src",
}
#: ``<link rel=...>`` that names a page rather than loading a resource.
PAGE_RELS = {"next", "prev", "index", "search"}


class Refs(HTMLParser):
    """Collects loaded resources, links and element ids of one page."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []
        self.links: list[str] = []
        self.ids: set[str] = set()
        self.inline_scripts: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if a.get("id"):
            self.ids.add(str(a["id"]))
        attr = LOADING_ATTRS.get(tag)
        value = a.get(attr) if attr else None
        if value:
            if tag == "link" and a.get("rel") in PAGE_RELS:
                self.links.append(value)
            else:
                self.loaded.append(value)
        if tag == "a" and a.get("href"):
            self.links.append(str(a["href"]))
        self._in_script = tag == "script"

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.inline_scripts.append(data)


def parse(page: Path) -> Refs:
    """The references of one HTML page."""
    refs = Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    return refs


def site_pages(html: Path) -> list[Path]:
    """Every HTML page of the site, generated ones included (not the copied sources)."""
    pages = html.rglob("*.html")
    return sorted(p for p in pages if not {"_static", "_sources"} & set(p.relative_to(html).parts))


def broken_links(html: Path) -> list[str]:
    """Every local link, anchor and loaded resource of every page that the site lacks."""
    pages = site_pages(html)
    ids: dict[Path, set[str]] = {}

    def ids_of(target: Path) -> set[str]:
        if target not in ids:
            ids[target] = parse(target).ids
        return ids[target]

    broken = []
    for page in pages:
        refs = parse(page)
        name = page.relative_to(html).as_posix()
        for href, is_link in [(u, True) for u in refs.links] + [(u, False) for u in refs.loaded]:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc:
                continue
            path = unquote(parts.path)
            target = (page.parent / path).resolve() if path else page.resolve()
            if not target.is_relative_to(html.resolve()):
                broken.append(f"{name}: {href} (outside the site)")
            elif not target.exists():
                broken.append(f"{name}: {href} (no such file)")
            elif is_link and parts.fragment and target.suffix == ".html":
                if unquote(parts.fragment) not in ids_of(target):
                    broken.append(f"{name}: {href} (no such anchor)")
    return broken
