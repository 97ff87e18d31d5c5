"""The search results page: the count in the h1, snippets, and filters that work as plain links."""

from __future__ import annotations

from starlette.requests import Request

from .. import search
from .helpers import db_for, page_number
from .render import render

FILTERS = ("language", "subject", "format")


def search_page(request: Request):
    query = request.query_params.get("q", "").strip()[:500]
    filters = {name: request.query_params.get(name) or None for name in FILTERS}
    results = None
    if query:
        results = search.search(
            db_for(request),
            query,
            page=page_number(request),
            per_page=request.state.settings.page_size,
            **filters,
        )
    return render(
        request,
        "search.html",
        {"query": query, "search_query": query, "filters": filters, "results": results},
    )
