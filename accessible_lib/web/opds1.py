"""OPDS 1.2 (Atom): the same catalogue as /opds for the many reading apps that speak only the older OPDS.

Feeds are built with lxml, never by pasting strings, so a title with "&" or "<" stays well-formed XML. The
books, files, rights and accessibility come from opds_catalog, like the OPDS 2.0 feeds; accessibility is
written as schema.org elements (the vocabulary EPUB Accessibility uses) in each entry.
"""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

from lxml import etree
from starlette.requests import Request
from starlette.responses import Response

from .. import browsing, catalogue
from ..i18n import gettext
from . import opds_catalog as oc
from .helpers import db_for, in_search_turn, not_found, page_number

ATOM = "http://www.w3.org/2005/Atom"
NS = {
    None: ATOM,
    "dc": "http://purl.org/dc/terms/",
    "opds": "http://opds-spec.org/2010/catalog",
    "opensearch": "http://a9.com/-/spec/opensearch/1.1/",
    "schema": "http://schema.org/",
    "thr": "http://purl.org/syndication/thread/1.0",
}
ROOT = "/opds/v1.2"


def _q(prefix: str, name: str) -> str:
    return f"{{{NS[prefix]}}}{name}"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _sub(parent, tag: str, text: str | None = None, **attributes) -> etree._Element:
    element = etree.SubElement(parent, tag if tag.startswith("{") else f"{{{ATOM}}}{tag}")
    for name, value in attributes.items():
        if value is not None:
            element.set(name, str(value))
    if text is not None:
        element.text = text
    return element


def _link(parent, base: str, href: str, rel: str, type: str, **attributes) -> etree._Element:
    return _sub(
        parent, "link", rel=rel, href=base + href if href.startswith("/") else href, type=type, **attributes
    )


def _feed(request: Request, title: str, self_href: str, kind: str) -> etree._Element:
    base = oc.base_url(request)
    feed = etree.Element(f"{{{ATOM}}}feed", nsmap=NS)
    _sub(feed, "id", base + self_href)
    _sub(feed, "title", title)
    _sub(feed, "updated", _now())
    author = _sub(feed, "author")
    _sub(author, "name", gettext("Accessible Library"))
    _sub(author, "uri", base + "/")
    _link(feed, base, self_href, "self", kind)
    _link(feed, base, ROOT, "start", oc.ATOM_NAVIGATION)
    _link(feed, base, f"{ROOT}/opensearch.xml", "search", oc.OPENSEARCH)
    _link(feed, base, "/opds/authentication", "http://opds-spec.org/auth/document", oc.OPDS_AUTHENTICATION)
    _link(feed, base, "/opds", "alternate", oc.OPDS_JSON)
    return feed


def _response(feed: etree._Element, media_type: str) -> Response:
    body = etree.tostring(feed, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return Response(body, media_type=media_type)


def _self_href(request: Request) -> str:
    return request.url.path + (f"?{request.url.query}" if request.url.query else "")


def _paginate(feed, request: Request, path: str, page: catalogue.Page, params: dict | None = None) -> None:
    base = oc.base_url(request)
    for rel, href in oc.page_links(path, page, params):
        _link(feed, base, href, rel, oc.ATOM_ACQUISITION)
    _sub(feed, _q("opensearch", "totalResults"), str(page.total))
    _sub(feed, _q("opensearch", "itemsPerPage"), str(page.size))
    _sub(feed, _q("opensearch", "startIndex"), str(max(1, page.first_index)))


def _navigation_entry(feed, base: str, href: str, title: str, kind: str, count: int | None = None) -> None:
    entry = _sub(feed, "entry")
    _sub(entry, "title", title)
    _sub(entry, "id", base + href)
    _sub(entry, "updated", feed.findtext(f"{{{ATOM}}}updated"))
    if count is not None:
        _sub(entry, "content", gettext("%(count)s books", count=count), type="text")
    _link(entry, base, href, "subsection", kind, **({_q("thr", "count"): count} if count is not None else {}))


def _book_entries(feed, request: Request, books: list[dict]) -> None:
    base = oc.base_url(request)
    for item in oc.entries(request, db_for(request), books):
        entry = _sub(feed, "entry")
        _sub(entry, "title", item.title)
        _sub(entry, "id", f"{base}/books/{item.id}")
        _sub(entry, "updated", item.added_at or _now())
        for name in item.authors:
            _sub(_sub(entry, "author"), "name", name)
        if item.language:
            _sub(entry, _q("dc", "language"), item.language)
        for subject in item.subjects:
            _sub(entry, "category", term=subject, label=subject)
        if item.description:
            _sub(entry, "summary", item.description, type="text")
        a11y = item.accessibility
        for key in ("accessMode", "accessibilityFeature", "accessibilityHazard"):
            values = a11y[{"accessibilityFeature": "feature", "accessibilityHazard": "hazard"}.get(key, key)]
            for value in values:
                _sub(entry, _q("schema", key), value)
        for sufficient in a11y["accessModeSufficient"]:
            _sub(entry, _q("schema", "accessModeSufficient"), ",".join(sufficient))
        _sub(entry, _q("schema", "accessibilitySummary"), a11y["summary"])
        _sub(entry, "content", a11y["summary"], type="text")
        _link(entry, base, f"/books/{item.id}", "alternate", "text/html")
        _link(entry, base, f"/opds/books/{item.id}", "alternate", oc.OPDS_PUBLICATION)
        for acquisition in item.acquisitions:
            link = _link(entry, base, acquisition.href, acquisition.rel, acquisition.media_type)
            link.set("title", acquisition.title)
            if acquisition.size:
                link.set("length", str(acquisition.size))


def _acquisition_feed(request: Request, title: str, path: str, page: catalogue.Page, books, params=None):
    feed = _feed(request, title, _self_href(request), oc.ATOM_ACQUISITION)
    _link(feed, oc.base_url(request), ROOT, "up", oc.ATOM_NAVIGATION)
    _paginate(feed, request, path, page, params)
    return feed


def _format_facets(feed, request: Request, active: str | None = None) -> None:
    """Formats as OPDS 1.2 facet links: a reader who needs braille or audio goes straight to those books."""
    base = oc.base_url(request)
    locale = request.scope.get("locale", "en")
    group = gettext("Formats")
    for value in browsing.facet_values(db_for(request), "formats", 1, 100, local=True).items:
        attributes = {_q("opds", "facetGroup"): group, _q("thr", "count"): value["count"]}
        if value["value"] == active:
            attributes[_q("opds", "activeFacet")] = "true"
        link = _link(
            feed, base, f"{ROOT}/formats/{oc.value_path(value['value'])}", "http://opds-spec.org/facet",
            oc.ATOM_ACQUISITION, **attributes,
        )  # fmt: skip
        link.set("title", oc.facet_title("formats", value["value"], locale))


def root(request: Request):
    base = oc.base_url(request)
    db = db_for(request)
    feed = _feed(request, gettext("Accessible Library"), ROOT, oc.ATOM_NAVIGATION)
    _navigation_entry(feed, base, f"{ROOT}/new", gettext("New arrivals"), oc.ATOM_ACQUISITION)
    for facet, title in oc.FACET_TITLES.items():
        count = browsing.facet_values(db, facet, 1, 1, local=True).total
        _navigation_entry(feed, base, f"{ROOT}/{facet}", gettext(title), oc.ATOM_NAVIGATION, count)
    return _response(feed, oc.ATOM_NAVIGATION)


def new_arrivals(request: Request):
    page = catalogue.recent_page(db_for(request), page_number(request), request.state.settings.page_size)
    feed = _acquisition_feed(request, gettext("New arrivals"), f"{ROOT}/new", page, page.items)
    _link(feed, oc.base_url(request), f"{ROOT}/new", "http://opds-spec.org/sort/new", oc.ATOM_ACQUISITION)
    _format_facets(feed, request)
    _book_entries(feed, request, page.items)
    return _response(feed, oc.ATOM_ACQUISITION)


def facet_values(request: Request):
    facet = request.path_params["facet"]
    if facet not in oc.FACET_TITLES:
        raise not_found()
    base = oc.base_url(request)
    locale = request.scope.get("locale", "en")
    page = browsing.facet_values(
        db_for(request), facet, page_number(request), request.state.settings.page_size, local=True
    )
    feed = _feed(request, gettext(oc.FACET_TITLES[facet]), _self_href(request), oc.ATOM_NAVIGATION)
    _link(feed, base, ROOT, "up", oc.ATOM_NAVIGATION)
    for rel, href in oc.page_links(f"{ROOT}/{facet}", page):
        _link(feed, base, href, rel, oc.ATOM_NAVIGATION)
    for value in page.items:
        href = f"{ROOT}/{facet}/{oc.value_path(value['value'])}"
        title = oc.facet_title(facet, value["value"], locale)
        _navigation_entry(feed, base, href, title, oc.ATOM_ACQUISITION, value["count"])
    return _response(feed, oc.ATOM_NAVIGATION)


def facet_books(request: Request):
    facet, value, page, title = oc.facet_books_page(request)
    feed = _acquisition_feed(request, title, f"{ROOT}/{facet}/{oc.value_path(value)}", page, page.items)
    _format_facets(feed, request, active=value if facet == "formats" else None)
    _book_entries(feed, request, page.items)
    return _response(feed, oc.ATOM_ACQUISITION)


async def search_feed(request: Request):
    """Made in its turn among the searches of this web process (helpers.in_search_turn)."""
    return await in_search_turn(request, _search_feed)


def _search_feed(request: Request):
    query = request.query_params.get("q", "").strip()[:500]
    db = db_for(request)
    results, books = oc.search_books(request, db, query, page_number(request))
    title = oc.search_title(query, results)
    feed = _acquisition_feed(request, title, f"{ROOT}/search", results.page, books, {"q": query})
    if results.more:  # the number of matches is not known past the cap: no totalResults at all
        for element in feed.findall(_q("opensearch", "totalResults")):
            feed.remove(element)
    _sub(feed, _q("opensearch", "Query"), role="request", searchTerms=query)
    _book_entries(feed, request, books)
    return _response(feed, oc.ATOM_ACQUISITION)


def opensearch(request: Request):
    """The OpenSearch description both reading apps and browsers find through `<link rel="search">`."""
    base = oc.base_url(request)
    ns = NS["opensearch"]
    root_element = etree.Element(f"{{{ns}}}OpenSearchDescription", nsmap={None: ns})
    name = gettext("Accessible Library")
    etree.SubElement(root_element, f"{{{ns}}}ShortName").text = name[:16]
    etree.SubElement(root_element, f"{{{ns}}}LongName").text = name
    etree.SubElement(root_element, f"{{{ns}}}Description").text = gettext("Search the Accessible Library")
    etree.SubElement(root_element, f"{{{ns}}}InputEncoding").text = "UTF-8"
    for media_type, template in (
        (oc.ATOM_ACQUISITION, f"{base}{ROOT}/search?" + urlencode({"q": "QUERY"})),
        ("text/html", f"{base}/search?" + urlencode({"q": "QUERY"})),
    ):
        url = etree.SubElement(root_element, f"{{{ns}}}Url")
        url.set("type", media_type)
        url.set("template", template.replace("QUERY", "{searchTerms}"))
    body = etree.tostring(root_element, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return Response(body, media_type=oc.OPENSEARCH)
