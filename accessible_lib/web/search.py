"""The search results page: the count first in the h1, snippets, and filters that work as plain links."""

from __future__ import annotations

from starlette.requests import Request

from .. import access, catalogue, search, search_suggest, stats
from .helpers import db_for, in_search_turn, page_number
from .render import render

FILTERS = ("language", "subject", "format")
SHOWN_QUERY = 60  # characters of the query echoed in the title and heading; the field keeps all of it


def shown_query(query: str, limit: int = SHOWN_QUERY) -> str:
    """The query as the title and h1 repeat it: a screen reader speaks both before the results, so a pasted
    paragraph is cut at a word near `limit` characters and marked with an ellipsis."""
    if len(query) <= limit:
        return query
    cut = query[:limit]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip() + "…"


async def search_page(request: Request):
    """The page, made in its turn among the searches of this web process (helpers.in_search_turn)."""
    return await in_search_turn(request, _search_page)


def _search_page(request: Request):
    query = request.query_params.get("q", "").strip()[:500]
    filters = {name: request.query_params.get(name) or None for name in FILTERS}
    results = hits = facets = suggestion = suggested_hits = None
    if query:
        db = db_for(request)
        options = dict(
            per_page=request.state.settings.page_size,
            prefix_fallback=True,
            time_limit_ms=request.state.settings.search_time_limit_ms,
            count_cap=request.state.settings.search_count_cap,
            hidden=access.HIDDEN_STATUSES,
            text_hidden=access.text_hidden_statuses(request),
            **filters,
        )
        results = search.search(db, query, page=page_number(request), **options)
        if results.page.number == 1 and not any(filters.values()):  # a search, not a look at its page 2
            for metric, key in stats.search_figures(query, results.total):  # added every few seconds
                request.state.pending_counts.add(metric, key)
        hits = _with_chapter_counts(db, results.hits)
        suggestion = search_suggest.suggest(db, query, results, **options)
        if suggestion and not results.total:  # nothing as typed: show what the correction finds, too
            suggested_hits = _with_chapter_counts(db, suggestion.results.hits)
        facets = [
            {"name": "language", "options": results.facets.languages},
            {"name": "subject", "options": results.facets.subjects},
            {"name": "format", "options": results.facets.formats},
        ]
    return render(
        request,
        "search.html",
        {
            "query": query,
            "shown_query": shown_query(query),
            "search_query": query,
            "filters": filters,
            "results": results,
            "hits": hits,
            "facets": facets,
            "suggestion": suggestion,
            "suggested_hits": suggested_hits,
        },
    )


def _with_chapter_counts(db, hits: list) -> list[dict]:
    """Each hit as the book list shows it, with its chapter count, or the library that holds it for a
    harvested record, in one query for the whole page."""
    ids = [hit.book_id for hit in hits]
    counts, sources = {}, {}
    if ids:
        marks = ",".join("?" * len(ids))
        rows = db.execute(f"SELECT id, chapter_count, source_id FROM books WHERE id IN ({marks})", ids)
        for book_id, count, source_id in rows.fetchall():
            counts[book_id], sources[book_id] = count, source_id
    holders = catalogue.holders_for(db, [s for s in sources.values() if s])
    return [
        {
            **vars(hit),
            "chapter_count": counts.get(hit.book_id, 0),
            "held_by": holders.get(sources.get(hit.book_id)),
        }
        for hit in hits
    ]
