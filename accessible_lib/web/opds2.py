"""OPDS 2.0 (JSON): the catalogue for reading apps (Thorium, Aldiko, Voice Dream and others).

Navigation mirrors /browse (new arrivals, subjects, authors, languages, formats), search is a templated link,
and every publication carries its files with their real media types and its accessibility metadata, so a
blind reader can choose a braille or audio edition in their app without visiting the site. Feeds must
validate against the OPDS 2.0 and Readium Web Publication Manifest schemas (tests/test_opds.py).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse

from .. import browsing, catalogue, search
from ..i18n import gettext
from . import opds_catalog as oc
from .helpers import db_for, in_search_turn, not_found, page_number

SEARCH_FILTERS = ("language", "subject", "format")


def _response(document: dict, media_type: str = oc.OPDS_JSON) -> JSONResponse:
    return JSONResponse(document, media_type=media_type)


def _link(base: str, href: str, rel: str | None = None, type: str = oc.OPDS_JSON, **extra) -> dict:
    link = {"href": base + href if href.startswith("/") else href, "type": type}
    if rel:
        link["rel"] = rel
    link.update(extra)
    return link


def _common_links(base: str, self_href: str) -> list[dict]:
    return [
        _link(base, self_href, "self"),
        _link(base, "/opds", "start"),
        _link(base, "/opds/search{?query}", "search", templated=True),
    ]


def _paged_metadata(title: str, page: catalogue.Page) -> dict:
    return {
        "title": title,
        "numberOfItems": page.total,
        "itemsPerPage": page.size,
        "currentPage": page.number,
    }


def _pagination(base: str, path: str, page: catalogue.Page, params: dict | None = None) -> list[dict]:
    return [_link(base, href, rel) for rel, href in oc.page_links(path, page, params)]


def publication(entry: oc.Entry, base: str) -> dict:
    """One book as an OPDS 2.0 publication (a Readium Web Publication Manifest with acquisition links)."""
    metadata: dict = {
        "@type": "http://schema.org/Book",
        "identifier": f"{base}/books/{entry.id}",
        "title": entry.title,
        "accessibility": entry.accessibility,
    }
    if entry.subtitle:
        metadata["subtitle"] = entry.subtitle
    if entry.authors:
        metadata["author"] = entry.authors
    if entry.language:
        metadata["language"] = entry.language
    if entry.subjects:
        metadata["subject"] = entry.subjects
    if entry.description:
        metadata["description"] = entry.description
    if entry.added_at:
        metadata["modified"] = entry.added_at
    links = [
        _link(base, f"/opds/books/{entry.id}", "self", oc.OPDS_PUBLICATION),
        _link(base, f"/books/{entry.id}", "alternate", "text/html"),
    ]
    for acquisition in entry.acquisitions:
        link = _link(base, acquisition.href, acquisition.rel, acquisition.media_type, title=acquisition.title)
        if acquisition.size:
            link["size"] = acquisition.size
        if acquisition.authenticate:
            link["properties"] = {
                "authenticate": {"href": f"{base}/opds/authentication", "type": oc.OPDS_AUTHENTICATION}
            }
        links.append(link)
    return {"metadata": metadata, "links": links}


def _publications_feed(
    request: Request, title: str, path: str, page: catalogue.Page, books: list[dict], params=None
) -> dict:
    base = oc.base_url(request)
    self_href = path + (f"?{request.url.query}" if request.url.query else "")
    feed = {
        "metadata": _paged_metadata(title, page),
        "links": _common_links(base, self_href) + _pagination(base, path, page, params),
    }
    shown = [publication(entry, base) for entry in oc.entries(request, db_for(request), books)]
    if shown:
        feed["publications"] = shown
    else:  # a feed needs publications or navigation: an empty page leads back to the start
        feed["navigation"] = [_link(base, "/opds", title=gettext("Back to the catalogue"))]
    return feed


def root(request: Request):
    base = oc.base_url(request)
    db = db_for(request)
    navigation = [
        _link(base, "/opds/new", "http://opds-spec.org/sort/new", title=gettext("New arrivals")),
    ]
    for facet, title in oc.FACET_TITLES.items():
        count = browsing.facet_values(db, facet, 1, 1, local=True).total
        navigation.append(
            _link(
                base,
                f"/opds/{facet}",
                "subsection",
                title=gettext(title),
                properties={"numberOfItems": count},
            )
        )
    return _response(
        {
            "metadata": {"title": gettext("Accessible Library")},
            "links": _common_links(base, "/opds")
            + [
                _link(
                    base, "/opds/authentication", "http://opds-spec.org/auth/document", oc.OPDS_AUTHENTICATION
                )
            ],
            "navigation": navigation,
        }
    )


def new_arrivals(request: Request):
    db = db_for(request)
    page = catalogue.recent_page(db, page_number(request), request.state.settings.page_size)
    feed = _publications_feed(request, gettext("New arrivals"), "/opds/new", page, page.items)
    feed["facets"] = _format_facets(request, db)
    return _response(feed)


def _format_facets(request: Request, db) -> list[dict]:
    """Formats as a facet of any book list: a reader who needs braille or audio goes straight to them."""
    base = oc.base_url(request)
    locale = request.scope.get("locale", "en")
    values = browsing.facet_values(db, "formats", 1, 100, local=True).items
    if not values:
        return []
    links = [
        _link(
            base,
            f"/opds/formats/{oc.value_path(v['value'])}",
            title=oc.facet_title("formats", v["value"], locale),
            properties={"numberOfItems": v["count"]},
        )
        for v in values
    ]
    return [{"metadata": {"title": gettext("Formats")}, "links": links}]


def facet_values(request: Request):
    facet = request.path_params["facet"]
    if facet not in oc.FACET_TITLES:
        raise not_found()
    db = db_for(request)
    base = oc.base_url(request)
    locale = request.scope.get("locale", "en")
    page = browsing.facet_values(
        db, facet, page_number(request), request.state.settings.page_size, local=True
    )
    path = f"/opds/{facet}"
    navigation = [
        _link(
            base,
            f"{path}/{oc.value_path(v['value'])}",
            title=oc.facet_title(facet, v["value"], locale),
            properties={"numberOfItems": v["count"]},
        )
        for v in page.items
    ] or [_link(base, "/opds", title=gettext("Back to the catalogue"))]
    self_href = path + (f"?{request.url.query}" if request.url.query else "")
    return _response(
        {
            "metadata": _paged_metadata(gettext(oc.FACET_TITLES[facet]), page),
            "links": _common_links(base, self_href) + _pagination(base, path, page),
            "navigation": navigation,
        }
    )


def facet_books(request: Request):
    facet, value, page, title = oc.facet_books_page(request)
    feed = _publications_feed(request, title, f"/opds/{facet}/{oc.value_path(value)}", page, page.items)
    if facet != "formats":
        feed["facets"] = _format_facets(request, db_for(request))
    return _response(feed)


async def search_feed(request: Request):
    """Made in its turn among the searches of this web process (helpers.in_search_turn)."""
    return await in_search_turn(request, _search_feed)


def _search_feed(request: Request):
    query = request.query_params.get("query", "").strip()[:500]
    filters = {name: request.query_params.get(name) or None for name in SEARCH_FILTERS}
    db = db_for(request)
    results, books = oc.search_books(request, db, query, page_number(request), **filters)
    params = {"query": query, **filters}
    feed = _publications_feed(
        request, oc.search_title(query, results), "/opds/search", results.page, books, params
    )
    if results.more:  # the number of matches is not known past the cap: no numberOfItems at all
        del feed["metadata"]["numberOfItems"]
    feed["facets"] = _search_facets(request, results, params)
    if not feed["facets"]:
        del feed["facets"]
    return _response(feed)


def _search_facets(request: Request, results: search.SearchResults, params: dict) -> list[dict]:
    """Filters of the search page as OPDS facets: each link narrows the same query to one value."""
    from urllib.parse import urlencode

    base = oc.base_url(request)
    locale = request.scope.get("locale", "en")
    groups = []
    for name, facet, title, values in (
        ("language", "languages", gettext("Languages"), results.facets.languages),
        ("subject", "subjects", gettext("Subjects"), results.facets.subjects),
        ("format", "formats", gettext("Formats"), results.facets.formats),
    ):
        links = []
        for value in values:
            query = {k: v for k, v in {**params, name: value.value}.items() if v}
            link = _link(
                base,
                "/opds/search?" + urlencode(query),
                title=oc.facet_title(facet, value.value, locale),
                properties={"numberOfItems": value.count},
            )
            if params.get(name) == value.value:
                link["rel"] = "self"
            links.append(link)
        if links:
            groups.append({"metadata": {"title": title}, "links": links})
    return groups


def book(request: Request):
    entry = oc.entry_for(request, db_for(request), request.path_params["book_id"])
    if entry is None:
        raise not_found()
    return _response(publication(entry, oc.base_url(request)), oc.OPDS_PUBLICATION)


def authentication(request: Request):
    """OPDS Authentication 1.0: how an app signs a reader in before fetching an eligible-only book."""
    base = oc.base_url(request)
    return _response(
        {
            "id": f"{base}/opds/authentication",
            "title": gettext("Accessible Library"),
            "description": gettext(
                "Some books may be read only by readers approved as print-disabled. "
                "Sign in with your reader account."
            ),
            "links": [
                _link(base, "/account/sign-in", "help", "text/html", title=gettext("Sign in on the website")),
                _link(base, "/opds", "start"),
            ],
            "authentication": [
                {
                    "type": "http://opds-spec.org/auth/basic",
                    "labels": {"login": gettext("Email address"), "password": gettext("Password")},
                }
            ],
        },
        oc.OPDS_AUTHENTICATION,
    )
