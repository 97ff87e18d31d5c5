"""OPDS catalogues for reading apps: every OPDS 2.0 document validates against the published schemas
(offline), every Atom feed is OPDS 1.2, and both say what the site's pages say about books, files, rights
and access."""

from __future__ import annotations

import copy
import hashlib
from datetime import datetime
from urllib.parse import urlsplit

import pytest
from bs4 import BeautifulSoup
from lxml import etree

from accessible_lib import access, catalogue
from accessible_lib.editions import store
from accessible_lib.editions.storage import storage_for

from .conftest import make_book
from .opds_schemas import errors

ACQ = "http://opds-spec.org/acquisition"
OPEN = "http://opds-spec.org/acquisition/open-access"


def publish(db, settings, book_id: int, fmt: str, files: list[tuple[str, str, str | None]]) -> int:
    """A finished edition of `fmt` with files (name, media type, role) published through the real storage."""
    edition_id, _ = store.request_edition(db, book_id, fmt, {})
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    records = []
    for name, media_type, role in files:
        content = f"{fmt} {name}".encode()
        (workspace / name).write_bytes(content)
        record = {"name": name, "media_type": media_type, "size": len(content)}
        record["sha256"] = hashlib.sha256(content).hexdigest()
        if role:
            record.update(role=role, chapter=1, title="One")
        records.append(record)
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=records)
    return edition_id


def set_rights(db, book_id: int, status: str) -> None:
    """Until the rights branch adds the column, tests add it the way its migration will."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(books)").fetchall()}
    if "rights_status" not in columns:
        db.execute("ALTER TABLE books ADD COLUMN rights_status TEXT")
    db.execute("UPDATE books SET rights_status = ? WHERE id = ?", [status, book_id])
    db.conn.commit()


@pytest.fixture
def library(db, settings, sample_library):
    """Moby-Dick with every kind of edition, 红楼梦 with none, an eligible-only and a withdrawn book."""
    en = sample_library["en"]
    editions = {
        "txt": publish(db, settings, en, "txt", [("book.txt", "text/plain; charset=utf-8", None)]),
        "mp3": publish(
            db,
            settings,
            en,
            "mp3",
            [("book.zip", "application/zip", None), ("001.mp3", "audio/mpeg", "listen")],
        ),
        "epub3-mo": publish(db, settings, en, "epub3-mo", [("book.epub", "application/epub+zip", None)]),
        "brf": publish(db, settings, en, "brf", [("book.brf", "application/x-brf", None)]),
        "pef": publish(db, settings, en, "pef", [("book.pef", "application/x-pef+xml", None)]),
    }
    eligible = catalogue.add_book(
        db, make_book("Restricted Reading", [("One", "Only for eligible readers.")], authors=["Ann Author"])
    )
    publish(db, settings, eligible, "txt", [("book.txt", "text/plain; charset=utf-8", None)])
    withdrawn = catalogue.add_book(
        db, make_book("Withdrawn Whales", [("One", "Whales withdrawn.")], authors=["Herman Melville"])
    )
    set_rights(db, eligible, access.ELIGIBLE_ONLY)
    set_rights(db, withdrawn, access.WITHDRAWN)
    return {**sample_library, "eligible": eligible, "withdrawn": withdrawn, "editions": editions}


def get_json(client, url: str, media_type: str = "application/opds+json", schema: str = "feed") -> dict:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response.headers["content-type"].split(";")[0] == media_type
    document = response.json()
    problems = errors(schema, document)
    assert problems == [], f"{url}: {problems}"
    return document


def path_of(href: str) -> str:
    parts = urlsplit(href)
    return parts.path + (f"?{parts.query}" if parts.query else "")


def titles(feed: dict) -> list[str]:
    return [p["metadata"]["title"] for p in feed.get("publications", [])]


def test_a_broken_document_fails_validation(client, library):
    feed = get_json(client, "/opds/new")
    broken = copy.deepcopy(feed)
    del broken["links"][0]["href"]
    assert errors("feed", broken)
    no_acquisition = copy.deepcopy(feed)
    no_acquisition["publications"][0]["links"] = [no_acquisition["publications"][0]["links"][0]]
    assert errors("feed", no_acquisition)
    bad_a11y = copy.deepcopy(feed)
    bad_a11y["publications"][0]["metadata"]["accessibility"]["accessMode"] = ["smell"]
    assert errors("feed", bad_a11y)
    bad_language = copy.deepcopy(feed)
    bad_language["publications"][0]["metadata"]["language"] = "not a language!"
    assert errors("feed", bad_language)


def test_a_reference_to_a_missing_schema_fails():
    """The registry never fetches from the network nor skips a $ref it cannot find."""
    from jsonschema import Draft7Validator
    from referencing.exceptions import Unresolvable

    from .opds_schemas import Registry, _retrieve

    missing = {"$ref": "https://drafts.opds.io/schema/no-such.schema.json"}
    with pytest.raises(Unresolvable):
        list(Draft7Validator(missing, registry=Registry(retrieve=_retrieve)).iter_errors({}))
    elsewhere = {"$ref": "https://example.org/schema/feed.schema.json"}
    with pytest.raises(Unresolvable):
        list(Draft7Validator(elsewhere, registry=Registry(retrieve=_retrieve)).iter_errors({}))


def test_odd_requests_get_valid_feeds_or_404(client, library):
    assert titles(get_json(client, "/opds/new?page=abc")) == titles(get_json(client, "/opds/new"))
    beyond = get_json(client, "/opds/new?page=99")
    assert "publications" not in beyond and beyond["navigation"]
    get_json(client, "/opds/search?query=" + "whale%20" * 200)
    get_json(client, "/opds/search?query=%22%3C%26")
    get_atom(client, "/opds/v1.2/search?q=%3C%26%22", "acquisition")
    assert client.get("/opds/books/999").status_code == 404


def test_every_feed_reachable_from_the_root_validates(client, library):
    """Walk the catalogue as an app would: every navigation, facet, pagination and publication link."""
    seen: set[str] = set()
    queue = ["/opds"]
    while queue:
        url = queue.pop()
        if url in seen:
            continue
        seen.add(url)
        if url.startswith("/opds/books/"):
            get_json(client, url, "application/opds-publication+json", "publication")
            continue
        feed = get_json(client, url)
        links = feed["links"] + feed.get("navigation", [])
        links += [link for group in feed.get("facets", []) for link in group["links"]]
        links += [
            link for p in feed.get("publications", []) for link in p["links"] if link.get("rel") == "self"
        ]
        for link in links:
            href = path_of(link["href"])
            if link.get("type") == "application/opds+json" and not link.get("templated"):
                queue.append(href)
            elif link.get("type") == "application/opds-publication+json":
                queue.append(href)
    assert {
        "/opds",
        "/opds/new",
        "/opds/subjects",
        "/opds/authors",
        "/opds/languages",
        "/opds/formats",
    } <= seen
    assert "/opds/subjects/Whaling" in seen and "/opds/languages/zh-Hans" in seen
    assert f"/opds/books/{library['en']}" in seen
    get_json(client, "/opds/authentication", "application/opds-authentication+json", "authentication")


def test_root_navigation_and_search_template(client, library):
    feed = get_json(client, "/opds")
    nav = {path_of(link["href"]): link for link in feed["navigation"]}
    assert list(nav) == ["/opds/new", "/opds/subjects", "/opds/authors", "/opds/languages", "/opds/formats"]
    assert nav["/opds/subjects"]["title"] == "Subjects"
    search = next(link for link in feed["links"] if link["rel"] == "search")
    assert search["templated"] is True and search["href"].endswith("/opds/search{?query}")


def test_new_arrivals_newest_first_without_withdrawn(client, library):
    feed = get_json(client, "/opds/new")
    assert titles(feed) == ["Restricted Reading", "红楼梦", "Moby-Dick"]
    assert feed["publications"][2]["metadata"]["subject"] == ["Sea stories", "Whaling"]
    assert "Withdrawn Whales" not in titles(get_json(client, "/opds/authors/Herman%20Melville"))
    assert client.get(f"/opds/books/{library['withdrawn']}").status_code == 404
    assert "Withdrawn Whales" not in titles(get_json(client, "/opds/search?query=whales"))


def test_pagination(client, db, settings, library):
    for n in range(25):
        catalogue.add_book(db, make_book(f"Filler {n:02d}", [("One", f"Filler text {n}.")], language="en"))
    first = get_json(client, "/opds/new")
    assert first["metadata"]["numberOfItems"] == 28  # 29 books; the withdrawn one is not counted
    assert first["metadata"]["itemsPerPage"] == settings.page_size == 20
    rels = {link["rel"]: path_of(link["href"]) for link in first["links"]}
    assert rels["next"] == "/opds/new?page=2" and "previous" not in rels
    second = get_json(client, rels["next"])
    rels2 = {link["rel"]: path_of(link["href"]) for link in second["links"]}
    assert rels2["previous"] == "/opds/new" and rels2["first"] == "/opds/new" and "next" not in rels2
    assert not set(titles(first)) & set(titles(second))
    assert len(titles(first)) + len(titles(second)) == 28  # every book but the withdrawn one


def test_search_agrees_with_the_site_and_offers_facets(client, library):
    feed = get_json(client, "/opds/search?query=Ishmael")
    assert titles(feed) == ["Moby-Dick"]
    assert feed["metadata"]["numberOfItems"] == 1
    groups = {g["metadata"]["title"]: g["links"] for g in feed["facets"]}
    formats = {link["title"]: path_of(link["href"]) for link in groups["Formats"]}
    assert "Braille (BRF)" in formats
    narrowed = get_json(client, formats["Braille (BRF)"])
    assert titles(narrowed) == ["Moby-Dick"]
    empty = get_json(client, "/opds/search?query=zzzznothing")
    assert "publications" not in empty and empty["navigation"]


def test_facet_feeds_list_values_with_counts(client, library):
    languages = get_json(client, "/opds/languages")
    counts = {link["title"]: link["properties"]["numberOfItems"] for link in languages["navigation"]}
    assert counts["Chinese (Simplified)"] == 1 or counts.get("Chinese") == 1
    subject = get_json(client, "/opds/subjects/Whaling")
    assert titles(subject) == ["Moby-Dick"]
    assert subject["facets"][0]["metadata"]["title"] == "Formats"
    assert client.get("/opds/subjects/No%20such%20subject").status_code == 404
    assert client.get("/opds/nonsense").status_code == 404


def test_one_acquisition_per_file_with_its_media_type(client, library):
    pub = get_json(client, f"/opds/books/{library['en']}", "application/opds-publication+json", "publication")
    acquisitions = [link for link in pub["links"] if link["rel"] == OPEN]
    found = {(path_of(link["href"]), link["type"]) for link in acquisitions}
    e = library["editions"]
    assert found == {
        (f"/books/{library['en']}/read/1", "text/html"),
        (f"/editions/{e['txt']}/files/book.txt", "text/plain; charset=utf-8"),
        (f"/editions/{e['mp3']}/files/book.zip", "application/zip"),
        (f"/editions/{e['epub3-mo']}/files/book.epub", "application/epub+zip"),
        (f"/editions/{e['brf']}/files/book.brf", "application/x-brf"),
        (f"/editions/{e['pef']}/files/book.pef", "application/x-pef+xml"),
    }
    for link in acquisitions[1:]:  # each file is served with the type the feed announces
        response = client.get(path_of(link["href"]))
        assert response.status_code == 200
        assert response.headers["content-type"].split(";")[0] == link["type"].split(";")[0]


def test_accessibility_metadata_follows_the_editions(client, library):
    full = get_json(
        client, f"/opds/books/{library['en']}", "application/opds-publication+json", "publication"
    )
    a11y = full["metadata"]["accessibility"]
    assert a11y["accessMode"] == ["textual", "auditory", "tactile"]
    assert a11y["accessModeSufficient"] == [["textual"], ["auditory"], ["tactile"]]
    assert {
        "tableOfContents",
        "readingOrder",
        "structuralNavigation",
        "synchronizedAudioText",
        "braille",
    } <= set(a11y["feature"])
    assert a11y["hazard"] == ["none"]
    assert "braille" in a11y["summary"]
    text_only = get_json(
        client, f"/opds/books/{library['zh']}", "application/opds-publication+json", "publication"
    )
    plain = text_only["metadata"]["accessibility"]
    assert plain["accessMode"] == ["textual"] and plain["accessModeSufficient"] == [["textual"]]
    assert "braille" not in plain["feature"] and "synchronizedAudioText" not in plain["feature"]
    assert text_only["metadata"]["language"] == "zh-Hans"


def test_eligible_only_books_need_authentication(client, library):
    pub = get_json(
        client, f"/opds/books/{library['eligible']}", "application/opds-publication+json", "publication"
    )
    assert pub["metadata"]["title"] == "Restricted Reading"
    acquisitions = [link for link in pub["links"] if link["rel"].startswith(ACQ)]
    assert len(acquisitions) == 2  # read online and the text edition
    for link in acquisitions:
        assert link["rel"] == ACQ, "no open-access link for an eligible-only book"
        authenticate = link["properties"]["authenticate"]
        assert path_of(authenticate["href"]) == "/opds/authentication"
        assert authenticate["type"] == "application/opds-authentication+json"
    auth = get_json(client, "/opds/authentication", "application/opds-authentication+json", "authentication")
    assert auth["authentication"][0]["type"] == "http://opds-spec.org/auth/basic"
    assert any(path_of(link["href"]) == "/account/sign-in" for link in auth["links"])
    public = get_json(
        client, f"/opds/books/{library['en']}", "application/opds-publication+json", "publication"
    )
    assert all("properties" not in link for link in public["links"])


def test_chinese_interface_translates_feed_titles(client, library):
    client.cookies.set("locale", "zh_Hans")
    feed = client.get("/opds", headers={"accept-language": "zh-CN"}).json()
    assert errors("feed", feed) == []
    assert feed["navigation"][0]["title"] != "New arrivals"


@pytest.mark.parametrize("page", ["/", "book"])
def test_every_page_links_to_the_catalogues(client, library, page):
    url = f"/books/{library['en']}" if page == "book" else page
    head = BeautifulSoup(client.get(url).text, "html.parser").head
    alternates = {link["type"]: link["href"] for link in head.find_all("link", rel="alternate")}
    assert alternates["application/opds+json"] == "/opds"
    assert alternates["application/atom+xml;profile=opds-catalog;kind=navigation"] == "/opds/v1.2"
    search = head.find("link", rel="search")
    assert search["type"] == "application/opensearchdescription+xml"
    assert search["href"] == "/opds/v1.2/opensearch.xml"


# --- OPDS 1.2 (Atom) ---

ATOM = "http://www.w3.org/2005/Atom"
NS = {"a": ATOM, "os": "http://a9.com/-/spec/opensearch/1.1/", "schema": "http://schema.org/"}
NAVIGATION = "application/atom+xml;profile=opds-catalog;kind=navigation"
ACQUISITION_FEED = "application/atom+xml;profile=opds-catalog;kind=acquisition"


def get_atom(client, url: str, kind: str) -> etree._Element:
    """A well-formed OPDS 1.2 feed: id, title, updated, self link; entries with id, title, updated, links."""
    response = client.get(url)
    assert response.status_code == 200, url
    assert (
        response.headers["content-type"].replace(" ", "")
        == f"application/atom+xml;profile=opds-catalog;kind={kind}"
    )
    feed = etree.fromstring(response.content)  # raises on anything that is not well-formed XML
    assert feed.tag == f"{{{ATOM}}}feed"
    for name in ("id", "title", "updated"):
        assert feed.findtext(f"a:{name}", namespaces=NS), f"{url}: feed without {name}"
    datetime.fromisoformat(feed.findtext("a:updated", namespaces=NS))
    assert feed.find("a:link[@rel='self']", NS) is not None
    assert feed.find("a:link[@rel='start']", NS).get("type") == NAVIGATION
    for entry in feed.findall("a:entry", NS):
        for name in ("id", "title", "updated"):
            assert entry.findtext(f"a:{name}", namespaces=NS), f"{url}: entry without {name}"
        datetime.fromisoformat(entry.findtext("a:updated", namespaces=NS))
        links = entry.findall("a:link", NS)
        assert links and all(link.get("href") and link.get("type") for link in links)
        if kind == "acquisition":
            assert any(link.get("rel").startswith(ACQ) for link in links), "an entry without acquisition"
    return feed


def entry_titles(feed) -> list[str]:
    return [entry.findtext("a:title", namespaces=NS) for entry in feed.findall("a:entry", NS)]


def test_atom_navigation_leads_to_acquisition_feeds(client, library):
    root = get_atom(client, "/opds/v1.2", "navigation")
    subsections = {
        path_of(link.get("href")): link.get("type")
        for link in root.findall("a:entry/a:link[@rel='subsection']", NS)
    }
    assert subsections["/opds/v1.2/new"] == ACQUISITION_FEED
    assert subsections["/opds/v1.2/subjects"] == NAVIGATION
    subjects = get_atom(client, "/opds/v1.2/subjects", "navigation")
    assert "Whaling" in entry_titles(subjects)
    whaling = get_atom(client, "/opds/v1.2/subjects/Whaling", "acquisition")
    assert entry_titles(whaling) == ["Moby-Dick"]
    for facet in ("authors", "languages", "formats"):
        get_atom(client, f"/opds/v1.2/{facet}", "navigation")
    assert client.get("/opds/v1.2/nonsense").status_code == 404


def test_atom_acquisitions_rights_and_accessibility(client, library):
    feed = get_atom(client, "/opds/v1.2/new", "acquisition")
    assert entry_titles(feed) == ["Restricted Reading", "红楼梦", "Moby-Dick"]  # never the withdrawn book
    entries = {entry.findtext("a:title", namespaces=NS): entry for entry in feed.findall("a:entry", NS)}
    moby = entries["Moby-Dick"]
    types = {link.get("type") for link in moby.findall("a:link", NS) if link.get("rel") == OPEN}
    assert {"application/x-brf", "application/x-pef+xml", "application/epub+zip", "application/zip"} <= types
    assert [c.get("term") for c in moby.findall("a:category", NS)] == ["Sea stories", "Whaling"]
    modes = [m.text for m in moby.findall("schema:accessMode", NS)]
    assert modes == ["textual", "auditory", "tactile"]
    assert "braille" in [f.text for f in moby.findall("schema:accessibilityFeature", NS)]
    restricted = entries["Restricted Reading"]
    rels = {link.get("rel") for link in restricted.findall("a:link", NS)}
    assert ACQ in rels and OPEN not in rels
    auth = feed.find("a:link[@rel='http://opds-spec.org/auth/document']", NS)
    assert path_of(auth.get("href")) == "/opds/authentication"


def test_atom_pagination_and_search(client, db, library):
    for n in range(25):
        catalogue.add_book(db, make_book(f"Filler {n:02d}", [("One", f"Filler text {n}.")], language="en"))
    first = get_atom(client, "/opds/v1.2/new", "acquisition")
    assert first.findtext("os:totalResults", namespaces=NS) == "28"
    next_link = first.find("a:link[@rel='next']", NS)
    second = get_atom(client, path_of(next_link.get("href")), "acquisition")
    assert second.find("a:link[@rel='previous']", NS) is not None
    assert not set(entry_titles(first)) & set(entry_titles(second))
    found = get_atom(client, "/opds/v1.2/search?q=Ishmael", "acquisition")
    assert entry_titles(found) == ["Moby-Dick"]


def test_opensearch_description(client, library):
    response = client.get("/opds/v1.2/opensearch.xml")
    assert response.headers["content-type"].startswith("application/opensearchdescription+xml")
    description = etree.fromstring(response.content)
    assert description.tag == "{http://a9.com/-/spec/opensearch/1.1/}OpenSearchDescription"
    assert len(description.findtext("os:ShortName", namespaces=NS)) <= 16
    templates = {url.get("type"): url.get("template") for url in description.findall("os:Url", NS)}
    atom = templates[ACQUISITION_FEED]
    assert "{searchTerms}" in atom
    found = get_atom(client, path_of(atom.replace("{searchTerms}", "Ishmael")), "acquisition")
    assert entry_titles(found) == ["Moby-Dick"]
    assert path_of(templates["text/html"]).startswith("/search?q=")
