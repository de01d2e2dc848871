"""Author-year labels in the reference list, matching the author-year citations.

The chapters cite as "Zeiler & Fergus (2014)" (sphinxcontrib-bibtex's ``author_year``
reference style), but pybtex's ``plain`` style labels the list [1], [2], ... This
registers a pybtex style ``authoryear`` whose labels read "Zeiler and Fergus, 2014",
"Springenberg et al., 2015" (a letter is added when two entries would share a label),
with the list sorted by author and year.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from pybtex.database import Entry
from pybtex.plugin import register_plugin
from pybtex.style.formatting.plain import Style as PlainStyle
from pybtex.style.labels import BaseLabelStyle
from sphinx.application import Sphinx


def _surnames(entry: Entry) -> list[str]:
    """The authors' (or editors') last names as plain text: a corporate author written
    in braces, ``{{Amirkabir University of Technology}}``, comes out without them."""
    people = entry.persons.get("author") or entry.persons.get("editor") or []
    return [" ".join(n.render_as("text") for n in p.rich_last_names) for p in people]


def author_year_label(entry: Entry) -> str:
    """'Surname, 2014', 'Surname and Other, 2014' or 'Surname et al., 2014'."""
    names = _surnames(entry) or [entry.fields.get("organization", entry.key)]
    if len(names) == 1:
        who = names[0]
    elif len(names) == 2:
        who = f"{names[0]} and {names[1]}"
    else:
        who = f"{names[0]} et al."
    return f"{who}, {entry.fields.get('year', 'n.d.')}"


class AuthorYearLabelStyle(BaseLabelStyle):
    """Labels 'Author, year', disambiguated with a letter after the year."""

    def format_labels(self, sorted_entries: Iterable[Entry]) -> Iterator[str]:
        labels = [author_year_label(entry) for entry in sorted_entries]
        count, seen = Counter(labels), Counter()
        for label in labels:
            if count[label] == 1:
                yield label
            else:
                yield label + chr(ord("a") + seen[label])
                seen[label] += 1


class AuthorYearStyle(PlainStyle):
    """pybtex's plain formatting, with author-year labels, sorted by author and year."""

    default_label_style = "authoryear"
    default_sorting_style = "author_year_title"


def setup(app: Sphinx) -> dict[str, object]:
    register_plugin("pybtex.style.labels", "authoryear", AuthorYearLabelStyle)
    register_plugin("pybtex.style.formatting", "authoryear", AuthorYearStyle)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
