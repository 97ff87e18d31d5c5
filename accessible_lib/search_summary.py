"""The result's summary: how many books match (up to the cap) and the facet counts among them."""

from __future__ import annotations

import collections
from dataclasses import dataclass, field

from sqlite_utils import Database

from .search_query import ALWAYS_FORMAT, Query

FACET_LIMIT = 20


@dataclass(frozen=True)
class FacetValue:
    value: str
    count: int


@dataclass
class Facets:
    """Counts among the books the current query and filters find, for offering filter links."""

    languages: list[FacetValue] = field(default_factory=list)
    subjects: list[FacetValue] = field(default_factory=list)  # the FACET_LIMIT most frequent
    formats: list[FacetValue] = field(default_factory=list)


def summary(db: Database, query: Query, cap: int) -> tuple[int, Facets]:
    """The number of matching books (up to the cap) and their facet counts. The total and the languages
    come from what `collect` read already; subjects and formats in one statement."""
    found = query.found_ids[:cap]
    total = len(found)
    facets = Facets()
    if not total:
        return total, facets
    languages = collections.Counter(query.languages[book_id] for book_id in found)
    languages.pop(None, None)
    ordered = sorted(languages.items(), key=lambda item: (-item[1], item[0]))  # as SQL's ORDER BY 3 DESC, 2
    facets.languages = [FacetValue(value, number) for value, number in ordered[:FACET_LIMIT]]
    rows = query.rows(
        db,
        f"""WITH {query.matched}
        SELECT * FROM (
            SELECT 'subject', s.subject, count(*)
            FROM matched CROSS JOIN book_subjects AS s ON s.book_id = matched.book_id  -- this order
            GROUP BY s.subject ORDER BY 3 DESC, 2 LIMIT {FACET_LIMIT})
        UNION ALL SELECT * FROM (
            SELECT 'format', e.format, count(DISTINCT e.book_id)
            FROM matched CROSS JOIN editions AS e ON e.book_id = matched.book_id
            -- `+`: by the book's editions, not by every edition done (SQLite chose that index)
            WHERE +e.status = 'done' AND e.format != '{ALWAYS_FORMAT}'
            GROUP BY e.format ORDER BY 3 DESC, 2)""",
    )
    for kind, value, number in rows:
        getattr(facets, f"{kind}s").append(FacetValue(value, number))
    facets.formats.insert(0, FacetValue(ALWAYS_FORMAT, total))
    return total, facets
