"""Harvesting an OPDS 2.0 catalogue: every publication it lists, by following its feeds.

OPDS has no "changed since" and no deletions, so each harvest reads the whole catalogue: from the start
feed it takes the list of all books (a `http://opds-spec.org/crawlable` or new-arrivals link, as ours has)
when there is one, else every navigation link, and follows `next` links page by page. Each feed is read
once (a loop of links ends there), and the `harvest_max_pages` setting bounds the whole walk. A record
the source no longer lists is withdrawn, once a harvest has read everything.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urljoin

from ..i18n import gettext
from .fetch import HarvestError, Limits, get, parse_json
from .record import MAX_LONG_TEXT, Record, identifier_pair, language, text, texts, web_url

ACCEPT = "application/opds+json, application/json;q=0.9"
WHOLE_CATALOGUE = ("http://opds-spec.org/crawlable", "http://opds-spec.org/sort/new")


def is_opds(document: object) -> bool:
    return isinstance(document, dict) and any(
        isinstance(document.get(key), list) for key in ("publications", "navigation", "groups", "links")
    )


def read_feed(url: str, limits: Limits) -> tuple[dict, str]:
    page = get(url, limits, ACCEPT)
    document = parse_json(page.body)
    if not is_opds(document):
        raise HarvestError(gettext("The source's page at %(url)s is not an OPDS 2.0 feed.", url=url))
    return document, page.url


def title(document: dict) -> str | None:
    metadata = document.get("metadata")
    return _localized(metadata.get("title")) if isinstance(metadata, dict) else None


def _rels(link: dict) -> list[str]:
    rel = link.get("rel")
    return (
        [rel]
        if isinstance(rel, str)
        else [r for r in rel if isinstance(r, str)]
        if isinstance(rel, list)
        else []
    )


def _links(items: object) -> list[dict]:
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []


def _href(link: dict, base: str) -> str | None:
    href = link.get("href")
    if not isinstance(href, str) or link.get("templated"):
        return None
    url = urljoin(base, href)
    return url if url.startswith(("http://", "https://")) else None


def walk(start: str, limits: Limits) -> Iterator[list[Record]]:
    """Each feed's publications as records, the start feed first."""
    queue, seen, pages = [start], {start}, 0
    while queue:
        pages += 1
        limits.count_page(pages)
        document, url = read_feed(queue.pop(0), limits)
        seen.add(url)  # after a redirect too
        feeds = [document, *[g for g in _links(document.get("groups"))]]
        records = []
        for feed in feeds:
            records.extend(_record(p, url) for p in _links(feed.get("publications")))
        yield [r for r in records if r is not None]
        following = []
        for link in _links(document.get("links")):
            if "next" in _rels(link):
                following.append(_href(link, url))
        navigation = [link for feed in feeds for link in _links(feed.get("navigation"))]
        whole = [link for link in navigation if set(_rels(link)) & set(WHOLE_CATALOGUE)]
        if pages == 1 or not records:  # a navigation feed: into the whole list, else into every branch
            following.extend(_href(link, url) for link in (whole or navigation))
        for target in following:
            if target and target not in seen:
                seen.add(target)
                queue.append(target)


def _localized(value: object) -> str | None:
    """A string, or a language map's first value ({"en": "...", "zh": "..."})."""
    if isinstance(value, dict):
        value = next((v for v in value.values() if isinstance(v, str)), None)
    return text(value) if isinstance(value, str) else None


def _names(value: object) -> list[str]:
    """Contributors or subjects: a string, an object with a name, or a list of either."""
    items = value if isinstance(value, list) else [value]
    names = []
    for item in items:
        names.append(_localized(item.get("name")) if isinstance(item, dict) else _localized(item))
    return texts([n for n in names if n])


def _record(publication: dict, base: str) -> Record | None:
    metadata = publication.get("metadata")
    if not isinstance(metadata, dict):
        return None
    links = _links(publication.get("links"))
    identifier = metadata.get("identifier")
    if not isinstance(identifier, str) or not identifier.strip():
        self_links = [_href(link, base) for link in links if "self" in _rels(link)]
        identifier = next((h for h in self_links if h), None)
    identifier = text(identifier, 2000)
    if not identifier:
        return None
    html = [
        _href(link, base)
        for link in links
        if "alternate" in _rels(link) and str(link.get("type", "")).startswith("text/html")
    ]
    languages = metadata.get("language")
    languages = languages if isinstance(languages, list) else [languages]
    published = metadata.get("published")
    return Record(
        identifier,
        title=_localized(metadata.get("title")) or identifier,
        subtitle=_localized(metadata.get("subtitle")),
        authors=_names(metadata.get("author")),
        subjects=_names(metadata.get("subject")),
        description=text(_plain(metadata.get("description")), MAX_LONG_TEXT),
        publisher=(_names(metadata.get("publisher")) or [None])[0],
        date=text(published, 40) if isinstance(published, str) else None,
        language=next(
            (lang for lang in (language(v) for v in languages if isinstance(v, str)) if lang), None
        ),
        remote_url=next((h for h in html if h), None) or web_url(identifier),
        identifiers=[p for p in [identifier_pair(identifier)] if p],
    )


def _plain(value: object) -> str | None:
    return value if isinstance(value, str) else None
