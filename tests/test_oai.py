"""OAI-PMH 2.0 at /oai: every verb and error, sets, from/until, resumption tokens across a restart, deleted
and withdrawn books, and a real harvester (Sickle) taking the whole catalogue from a live server.

Every response is validated offline against the published OAI-PMH.xsd (tests/corpus/schemas/oai-pmh), its
wildcards for the formats inside made lax (SOURCES.md says why); the Dublin Core and MARCXML records inside
are checked here element by element. Real SQLite in tmp_path, the real app, the real importer.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
from lxml import etree
from sickle import Sickle
from starlette.testclient import TestClient

from accessible_lib import access, catalogue, create_app, oai, rights, search
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.settings import Settings

from .conftest import make_book
from .live_server import CORPUS, start_server

SCHEMA_PATH = Path(__file__).parent / "corpus" / "schemas" / "oai-pmh" / "OAI-PMH.xsd"
OAI_NS = "http://www.openarchives.org/OAI/2.0/"
DC_NS = "http://purl.org/dc/elements/1.1/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
MARC_NS = "http://www.loc.gov/MARC21/slim"
OAI_IDENTIFIER = "http://www.openarchives.org/OAI/2.0/oai-identifier"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
NS = {"o": OAI_NS, "dc": DC_NS, "oai_dc": OAI_DC_NS, "marc": MARC_NS}
DC_ELEMENTS = {
    "title", "creator", "subject", "description", "publisher", "contributor", "date", "type", "format",
    "identifier", "source", "language", "relation", "coverage", "rights",
}  # fmt: skip
FORM = "application/x-www-form-urlencoded"
REPOSITORY = "testserver"  # the TestClient's host: the repository identifier when public_url is empty
DATESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def _schema() -> etree.XMLSchema:
    document = etree.parse(str(SCHEMA_PATH))
    wildcards = document.findall(".//{http://www.w3.org/2001/XMLSchema}any")
    assert len(wildcards) == 3  # metadata, about, description: the formats inside are checked below
    for wildcard in wildcards:
        assert wildcard.get("processContents") == "strict"
        wildcard.set("processContents", "lax")
    return etree.XMLSchema(document)


SCHEMA = _schema()


def check_dc(dc: etree._Element) -> None:
    """An oai_dc record as its schema has it: only the fifteen Dublin Core elements, text only."""
    assert dc.tag == f"{{{OAI_DC_NS}}}dc"
    assert len(dc), "an empty Dublin Core record"
    for element in dc:
        namespace, name = element.tag[1:].split("}")
        assert namespace == DC_NS and name in DC_ELEMENTS, element.tag
        assert len(element) == 0 and element.text and element.text.strip(), name
        assert set(element.attrib) <= {XML_LANG}, element.attrib


def check_marc(record: etree._Element) -> None:
    """A MARCXML record as MARC21slim.xsd has it: a 24-character leader, control fields, data fields with
    one-character indicators and subfield codes, in that order."""
    assert record.tag == f"{{{MARC_NS}}}record"
    children = [c.tag.split("}")[1] for c in record]
    assert children[0] == "leader" and len(record[0].text) == 24
    kinds = children[1:]
    assert kinds == sorted(kinds, key=lambda k: k != "controlfield"), "control fields come first"
    for field in record.findall("marc:controlfield", NS):
        assert re.fullmatch(r"00\d", field.get("tag")), field.get("tag")
        if field.get("tag") == "008":
            assert len(field.text) == 40, repr(field.text)
    for field in record.findall("marc:datafield", NS):
        assert re.fullmatch(r"\d{3}", field.get("tag"))
        assert len(field.get("ind1")) == 1 and len(field.get("ind2")) == 1
        subfields = field.findall("marc:subfield", NS)
        assert subfields and all(len(s.get("code")) == 1 and s.text for s in subfields)


def validated(response) -> etree._Element:
    """The response's root, once it is a 200, text/xml, valid OAI-PMH whose records are valid too."""
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/xml; charset=utf-8"
    root = etree.fromstring(response.content)
    SCHEMA.assertValid(root)
    for metadata in root.iterfind(".//o:metadata", NS):
        (record,) = metadata
        (check_dc if record.tag.startswith(f"{{{OAI_DC_NS}}}") else check_marc)(record)
    return root


def ask(client: TestClient, **params: str) -> etree._Element:
    return validated(client.get("/oai", params=params))


def text(element: etree._Element, name: str) -> str | None:
    return element.findtext(f"o:{name}", namespaces=NS)


def error_code(root: etree._Element) -> str | None:
    error = root.find("o:error", NS)
    return None if error is None else error.get("code")


def identifier(book_id: int, repository: str = REPOSITORY) -> str:
    return f"oai:{repository}:book:{book_id}"


def book_of(identifier_text: str) -> int:
    return int(identifier_text.rsplit(":", 1)[1])


def headers_of(root: etree._Element) -> list[etree._Element]:
    return root.findall(".//o:header", NS)


def harvest(client: TestClient, verb: str = "ListIdentifiers", **params: str) -> list[etree._Element]:
    """Every header of a list, following resumption tokens; checks the token's cursor as it goes."""
    found: list[etree._Element] = []
    root = ask(client, verb=verb, **params)
    while True:
        if error_code(root) == "noRecordsMatch":
            return found
        assert error_code(root) is None, etree.tostring(root)
        found += headers_of(root)
        token = root.find(f"o:{verb}/o:resumptionToken", NS)
        if token is None or not token.text:
            return found
        assert int(token.get("cursor")) == len(found) - len(headers_of(root))
        root = ask(client, verb=verb, resumptionToken=token.text)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data", oai_page_size=2)


@pytest.fixture
def library(db) -> dict[str, int]:
    """Five books: English and Chinese, public, one eligible-only and one withdrawn."""
    books = {
        "moby": make_book(
            "Moby-Dick & <the Whale>",
            [("Loomings", "Call me Ishmael.")],
            authors=["Herman Melville"],
            language="en",
            subjects=["Whaling", "Sea stories"],
            description="A whaling voyage.",
            publisher="Harper & Brothers",
            date="1851",
            identifiers=[("isbn", "9780306406157")],
        ),
        "hongloumeng": make_book(
            "红楼梦",
            [("第一回", "此开卷第一回也。")],
            authors=["曹雪芹", "高鹗"],
            language="zh-Hans",
            subjects=["古典小说"],
        ),
        "lunyu": make_book(
            "论语", [("学而", "学而时习之。")], authors=["孔子"], language="zh", subjects=["经部"]
        ),
        "restricted": make_book(
            "Lantern Keepers",
            [("One", "A patient heron.")],
            authors=["Imogen Farthingale"],
            language="en",
            subjects=["Lighthouses"],
            rights=access.ELIGIBLE_ONLY,
        ),
        "withdrawn": make_book(
            "A Withdrawn Book",
            [("One", "Gone.")],
            authors=["Nobody"],
            language="en",
            subjects=["Whaling"],
            rights=access.WITHDRAWN,
        ),
    }
    return {name: catalogue.add_book(db, book) for name, book in books.items()}


def set_datestamps(db, stamps: dict[int, str]) -> None:
    with db.conn:
        for book_id, stamp in stamps.items():
            db.execute("UPDATE books SET modified_at = ? WHERE id = ?", [stamp, book_id])


def delete_book(db, book_id: int) -> None:
    """Delete a book as staff tooling would: its search index and every row that names it, then the book."""
    with db.conn:
        search.unindex_book(db, book_id)
        for table in (
            "chapters",
            "toc_entries",
            "resources",
            "book_authors",
            "book_subjects",
            "book_identifiers",
        ):
            db.execute(f"DELETE FROM {table} WHERE book_id = ?", [book_id])
        db.execute("DELETE FROM books WHERE id = ?", [book_id])


# --- Identify and ListMetadataFormats ---


def test_identify_describes_the_repository(client, db, library) -> None:
    set_datestamps(db, {library["lunyu"]: "2001-02-03T04:05:06Z"})
    root = ask(client, verb="Identify")
    assert root.find("o:request", NS).text == "http://testserver/oai"
    assert root.find("o:request", NS).get("verb") == "Identify"
    identify = root.find("o:Identify", NS)
    assert identify.findtext("o:baseURL", namespaces=NS) == "http://testserver/oai"
    assert identify.findtext("o:protocolVersion", namespaces=NS) == "2.0"
    assert identify.findtext("o:earliestDatestamp", namespaces=NS) == "2001-02-03T04:05:06Z"
    assert identify.findtext("o:deletedRecord", namespaces=NS) == "persistent"
    assert identify.findtext("o:granularity", namespaces=NS) == "YYYY-MM-DDThh:mm:ssZ"
    assert identify.findtext("o:repositoryName", namespaces=NS) == "Accessible Library"
    assert identify.find("o:description", NS) is None  # "testserver" is no domain name: no oai-identifier


def test_the_public_address_names_the_repository_and_its_identifiers(settings, db, library) -> None:
    public = dataclasses.replace(settings, public_url="https://library.example.org")
    with TestClient(create_app(public)) as client:
        identify = ask(client, verb="Identify").find("o:Identify", NS)
        assert identify.findtext("o:baseURL", namespaces=NS) == "https://library.example.org/oai"
        assert identify.findtext("o:adminEmail", namespaces=NS) == "library@library.example.org"
        described = identify.find(f"{{{OAI_NS}}}description/{{{OAI_IDENTIFIER}}}oai-identifier")
        assert described is not None
        assert described.findtext("{*}repositoryIdentifier") == "library.example.org"
        assert described.findtext("{*}sampleIdentifier") == "oai:library.example.org:book:1"
        book = library["moby"]
        record = ask(
            client,
            verb="GetRecord",
            metadataPrefix="oai_dc",
            identifier=identifier(book, "library.example.org"),
        )
        assert (
            record.findtext(".//dc:identifier", namespaces=NS) == f"https://library.example.org/books/{book}"
        )
        wrong_host = ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(book))
        assert error_code(wrong_host) == "idDoesNotExist"


def test_list_metadata_formats(client, db, library) -> None:
    for params in ({}, {"identifier": identifier(library["moby"])}):
        formats = ask(client, verb="ListMetadataFormats", **params).findall(".//o:metadataFormat", NS)
        offered = {text(f, "metadataPrefix"): text(f, "metadataNamespace")
                   for f in formats}  # fmt: skip
        assert offered == {"oai_dc": OAI_DC_NS, "marc21": MARC_NS}
    missing = ask(client, verb="ListMetadataFormats", identifier=identifier(9999))
    assert error_code(missing) == "idDoesNotExist"
    assert missing.find("o:request", NS).get("identifier") == identifier(9999)


# --- Records ---


def test_a_dublin_core_record_says_what_the_book_page_says(client, db, library) -> None:
    book = library["moby"]
    root = ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(book))
    header = root.find("o:GetRecord/o:record/o:header", NS)
    assert header.get("status") is None
    assert header.findtext("o:identifier", namespaces=NS) == identifier(book)
    assert DATESTAMP.match(header.findtext("o:datestamp", namespaces=NS))
    assert [s.text for s in header.findall("o:setSpec", NS)] == [
        "lang:en",
        "subject:Sea_stories",
        "subject:Whaling",
    ]
    dc = root.find(".//oai_dc:dc", NS)

    def values(name: str) -> list[str]:
        return [e.text for e in dc.findall(f"dc:{name}", NS)]

    assert values("title") == ["Moby-Dick & <the Whale>"]
    assert dc.find("dc:title", NS).get(XML_LANG) == "en"
    assert values("creator") == ["Herman Melville"]
    assert values("subject") == ["Sea stories", "Whaling"]
    assert values("description") == ["A whaling voyage."]
    assert values("publisher") == ["Harper & Brothers"]
    assert values("date") == ["1851"]
    assert values("language") == ["en"]
    assert values("type") == ["Text"]
    assert values("format") == ["text/html"]
    persistent = catalogue.get_book(db, book)["identifier"]
    assert values("identifier")[:2] == [f"http://testserver/books/{book}", persistent]
    assert "urn:isbn:9780306406157" in values("identifier")
    assert values("rights") == ["Public domain"]


def test_a_marc_record_of_the_same_book(client, db, library) -> None:
    book = library["hongloumeng"]
    root = ask(client, verb="GetRecord", metadataPrefix="marc21", identifier=identifier(book))
    record = root.find(".//marc:record", NS)

    def subfields(tag: str, code: str) -> list[str]:
        return [
            s.text for s in record.findall(f"marc:datafield[@tag='{tag}']/marc:subfield[@code='{code}']", NS)
        ]

    assert record.findtext("marc:controlfield[@tag='001']", namespaces=NS) == str(book)
    assert record.findtext("marc:controlfield[@tag='008']", namespaces=NS)[35:38] == "chi"
    assert subfields("245", "a") == ["红楼梦"]
    assert subfields("100", "a") == ["曹雪芹"] and subfields("700", "a") == ["高鹗"]
    assert subfields("653", "a") == ["古典小说"]
    assert subfields("856", "u") == [f"http://testserver/books/{book}"]


def test_finished_editions_are_formats_of_the_record(client, db, library) -> None:
    book = library["moby"]
    set_datestamps(db, {book: "2001-01-01T00:00:00Z"})
    edition_id, _ = store.request_edition(db, book, "txt", {})
    token = store.claim(db, edition_id, lease_seconds=60)
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=[])
    root = ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(book))
    assert [e.text for e in root.findall(".//dc:format", NS)] == ["text/html", "text/plain; charset=utf-8"]
    assert root.findtext(".//o:datestamp", namespaces=NS) > "2001-01-01T00:00:00Z", "the record changed"


def test_eligible_only_books_keep_their_record_and_withdrawn_ones_are_deleted(client, db, library) -> None:
    restricted = ask(
        client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(library["restricted"])
    )
    assert restricted.find(".//o:header", NS).get("status") is None
    assert restricted.findtext(".//dc:title", namespaces=NS) == "Lantern Keepers"
    assert restricted.findtext(".//dc:rights", namespaces=NS) == "For eligible readers only"
    assert b"heron" not in etree.tostring(restricted), "the record, never the text"

    withdrawn = ask(
        client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(library["withdrawn"])
    )
    record = withdrawn.find("o:GetRecord/o:record", NS)
    assert record.find("o:header", NS).get("status") == "deleted"
    assert record.find("o:metadata", NS) is None
    assert b"Withdrawn Book" not in etree.tostring(withdrawn)
    listed = {
        book_of(h.findtext("o:identifier", namespaces=NS)): h.get("status")
        for h in harvest(client, metadataPrefix="oai_dc")
    }
    assert listed == {book_id: None for book_id in library.values()} | {library["withdrawn"]: "deleted"}

    # Given back its rights, the withdrawn book's record returns, with a new datestamp.
    set_datestamps(db, {library["withdrawn"]: "2001-01-01T00:00:00Z"})
    with db.conn:
        rights.set_rights(db, library["withdrawn"], rights.Rights(access.PUBLIC_DOMAIN))
    back = ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(library["withdrawn"]))
    assert back.find(".//o:header", NS).get("status") is None
    assert back.findtext(".//o:datestamp", namespaces=NS) > "2001-01-01T00:00:00Z"
    assert back.findtext(".//dc:title", namespaces=NS) == "A Withdrawn Book"


def test_a_deleted_book_stays_deleted_in_every_list(client, settings, db, library) -> None:
    gone = library["lunyu"]
    delete_book(db, gone)
    record = ask(client, verb="GetRecord", metadataPrefix="marc21", identifier=identifier(gone))
    header = record.find(".//o:header", NS)
    assert header.get("status") == "deleted" and record.find(".//o:metadata", NS) is None
    assert DATESTAMP.match(header.findtext("o:datestamp", namespaces=NS))
    assert [s.text for s in header.findall("o:setSpec", NS)] == ["lang:zh"]
    records = harvest(client, "ListRecords", metadataPrefix="oai_dc")
    assert {book_of(h.findtext("o:identifier", namespaces=NS)) for h in records} == set(library.values())
    chinese = harvest(client, set="lang:zh", metadataPrefix="oai_dc")
    assert {(book_of(h.findtext("o:identifier", namespaces=NS)), h.get("status")) for h in chinese} == {
        (library["hongloumeng"], None),
        (gone, "deleted"),
    }
    # Restarted, the catalogue still reports it.
    with TestClient(create_app(settings)) as again:
        assert (
            ask(again, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(gone))
            .find(".//o:header", NS)
            .get("status")
            == "deleted"
        )


def test_every_change_to_what_a_record_shows_moves_its_datestamp(client, db, library) -> None:
    book = library["moby"]
    old = "2001-01-01T00:00:00Z"

    def stamp() -> str:
        return db.execute("SELECT modified_at FROM books WHERE id = ?", [book]).fetchone()[0]

    changes = [
        "UPDATE books SET title = 'Moby-Dick' WHERE id = ?",
        "INSERT INTO book_authors (book_id, position, name, role) VALUES (?, 9, 'Editor', 'author')",
        "DELETE FROM book_subjects WHERE book_id = ? AND subject = 'Whaling'",
        "INSERT INTO book_identifiers (book_id, scheme, value) VALUES (?, 'doi', '10.1000/182')",
    ]
    for sql in changes:
        set_datestamps(db, {book: old})
        with db.conn:
            db.execute(sql, [book])
        assert stamp() > old, sql
    set_datestamps(db, {book: old})
    with db.conn:
        rights.set_rights(db, book, rights.Rights(access.ELIGIBLE_ONLY))
    assert stamp() > old
    set_datestamps(db, {book: old})
    assert stamp() == old, "an UPDATE that sets the datestamp itself keeps it"
    assert ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc", until="2001-01-01").findtext(
        ".//o:identifier", namespaces=NS
    ) == identifier(book)


# --- Selective harvesting ---


def test_from_and_until_select_by_datestamp(client, db, library) -> None:
    stamps = {
        library["moby"]: "2020-01-01T10:00:00Z",
        library["hongloumeng"]: "2020-01-02T00:00:00Z",
        library["lunyu"]: "2020-01-02T23:59:59Z",
        library["restricted"]: "2020-01-03T00:00:00Z",
        library["withdrawn"]: "2021-06-01T12:00:00Z",
    }
    set_datestamps(db, stamps)

    def selected(**params: str) -> list[int]:
        return [
            book_of(h.findtext("o:identifier", namespaces=NS))
            for h in harvest(client, metadataPrefix="oai_dc", **params)
        ]

    in_order = sorted(stamps, key=stamps.get)
    assert selected() == in_order
    assert selected(**{"from": "2020-01-02"}) == in_order[1:]
    assert selected(until="2020-01-02") == in_order[:3]
    assert selected(**{"from": "2020-01-02", "until": "2020-01-02"}) == in_order[1:3]
    assert selected(**{"from": "2020-01-01T10:00:00Z", "until": "2020-01-01T10:00:00Z"}) == in_order[:1]
    assert selected(**{"from": "2020-01-02T00:00:01Z"}) == in_order[2:]
    none = ask(client, verb="ListRecords", metadataPrefix="oai_dc", **{"from": "2030-01-01"})
    assert error_code(none) == "noRecordsMatch"
    assert none.find("o:request", NS).get("from") == "2030-01-01"
    for bad in (
        {"from": "2020-01-02", "until": "2020-01-03T00:00:00Z"},  # two granularities
        {"from": "2020-01-03", "until": "2020-01-02"},
        {"from": "yesterday"},
        {"from": "2020-02-30"},
        {"until": "2020-01-01T10:00:00"},  # no Z
        {"from": "2020-01-01T10:00:00.5Z"},
    ):
        root = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc", **bad)
        assert error_code(root) == "badArgument", bad
        assert root.find("o:request", NS).attrib == {}, "badArgument echoes no arguments"


def test_sets_by_language_and_subject(client, db, library) -> None:
    sets = {s.findtext("o:setSpec", namespaces=NS): s.findtext("o:setName", namespaces=NS)
            for s in _all_sets(client)}  # fmt: skip
    assert sets["lang:en"] == "Books in English"
    assert sets["lang:zh"] == "Books in Chinese"
    assert sets["subject:Whaling"] == "Subject: Whaling"
    assert sets[oai.subject_spec("古典小说")] == "Subject: 古典小说"
    assert "subject:Lighthouses" in sets, "an eligible-only book's subjects are public, like its record"
    assert len(sets) == 2 + 5  # no set of the withdrawn book alone

    def members(spec: str) -> set[int]:
        return {
            book_of(h.findtext("o:identifier", namespaces=NS))
            for h in harvest(client, metadataPrefix="oai_dc", set=spec)
        }

    assert members("lang:zh") == {library["hongloumeng"], library["lunyu"]}
    assert members("lang:en") == {library["moby"], library["restricted"], library["withdrawn"]}
    assert members("subject:Whaling") == {library["moby"], library["withdrawn"]}
    assert members(oai.subject_spec("古典小说")) == {library["hongloumeng"]}
    assert (
        error_code(ask(client, verb="ListRecords", metadataPrefix="oai_dc", set="subject:Cooking"))
        == "noRecordsMatch"
    )
    assert (
        error_code(ask(client, verb="ListRecords", metadataPrefix="oai_dc", set="colour:blue"))
        == "noRecordsMatch"
    )
    assert (
        error_code(ask(client, verb="ListRecords", metadataPrefix="oai_dc", set="lang en")) == "badArgument"
    )


def _all_sets(client: TestClient) -> list[etree._Element]:
    found = []
    root = ask(client, verb="ListSets")
    while True:
        found += root.findall("o:ListSets/o:set", NS)
        token = root.find("o:ListSets/o:resumptionToken", NS)
        if token is None or not token.text:
            assert int(token.get("cursor")) + len(root.findall("o:ListSets/o:set", NS)) == len(found)
            return found
        root = ask(client, verb="ListSets", resumptionToken=token.text)


def test_every_subject_has_a_set_spec_that_names_it_alone() -> None:
    for subject in ("Whaling", "Sea stories", "古典小说", "History: China", "a_b ~c", "Ünïcode", "x~41"):
        spec = oai.subject_spec(subject)
        assert oai.valid_set_spec(spec), spec
        assert oai.parse_set(spec) == oai.SetFilter(oai.SUBJECT_SET, subject)
    assert oai.subject_spec("Sea stories") != oai.subject_spec("Sea_stories")
    assert oai.parse_set("subject:~ZZ") is None and oai.parse_set("subject:~C3") is None


def test_an_empty_catalogue(client) -> None:
    assert error_code(ask(client, verb="ListSets")) == "noSetHierarchy"
    assert error_code(ask(client, verb="ListRecords", metadataPrefix="oai_dc")) == "noRecordsMatch"
    assert DATESTAMP.match(ask(client, verb="Identify").findtext(".//o:earliestDatestamp", namespaces=NS))


# --- Errors ---


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({}, "badVerb"),
        ({"verb": "Explain"}, "badVerb"),
        ({"verb": ""}, "badVerb"),
        ({"verb": "Identify", "metadataPrefix": "oai_dc"}, "badArgument"),
        ({"verb": "ListRecords"}, "badArgument"),
        ({"verb": "ListIdentifiers", "metadataPrefix": "oai_dc", "colour": "blue"}, "badArgument"),
        ({"verb": "GetRecord", "identifier": "oai:testserver:book:1"}, "badArgument"),
        ({"verb": "GetRecord", "metadataPrefix": "oai_dc"}, "badArgument"),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai dc", "identifier": "oai:testserver:book:1"},
            "badArgument",
        ),
        ({"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "a b"}, "badArgument"),
        ({"verb": "ListRecords", "metadataPrefix": "mods"}, "cannotDisseminateFormat"),
        (
            {"verb": "GetRecord", "metadataPrefix": "mods", "identifier": "oai:testserver:book:1"},
            "cannotDisseminateFormat",
        ),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:testserver:book:999"},
            "idDoesNotExist",
        ),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "oai:testserver:book:01"},
            "idDoesNotExist",
        ),
        (
            {"verb": "GetRecord", "metadataPrefix": "oai_dc", "identifier": "urn:isbn:9780306406157"},
            "idDoesNotExist",
        ),
        ({"verb": "ListRecords", "resumptionToken": "made-up"}, "badResumptionToken"),
        ({"verb": "ListSets", "resumptionToken": "made-up"}, "badResumptionToken"),
        ({"verb": "ListRecords", "resumptionToken": "x", "metadataPrefix": "oai_dc"}, "badArgument"),
        ({"verb": "Identify", "resumptionToken": "x"}, "badArgument"),
    ],
)
def test_errors(client, library, params, code) -> None:
    root = ask(client, **params)
    assert error_code(root) == code
    assert root.findtext("o:error", namespaces=NS).strip()
    echoed = root.find("o:request", NS).attrib
    if code in ("badVerb", "badArgument"):
        assert echoed == {}
    else:
        assert dict(echoed) == params


def test_repeated_arguments_are_refused(client, library) -> None:
    for query in (
        "verb=Identify&verb=Identify",
        "verb=ListRecords&metadataPrefix=oai_dc&metadataPrefix=oai_dc",
    ):
        root = validated(client.get(f"/oai?{query}"))
        assert error_code(root) == ("badVerb" if query.count("verb=") == 2 else "badArgument")


def test_post_is_the_same_request_as_get(client, library) -> None:
    params = {"verb": "ListRecords", "metadataPrefix": "oai_dc", "set": "lang:en"}
    by_get = ask(client, **params)
    by_post = validated(client.post("/oai", data=params))
    for root in (by_get, by_post):
        root.remove(root.find("o:responseDate", NS))
    assert etree.tostring(by_get) == etree.tostring(by_post)
    too_long = validated(client.post("/oai", data={"verb": "Identify", "padding": "x" * 70_000}))
    assert error_code(too_long) == "badArgument"
    multipart = validated(client.post("/oai", files={"verb": (None, "Identify")}))
    assert error_code(multipart) == "badArgument"


# --- Resumption ---


def test_resumption_tokens_survive_a_restart_and_cannot_be_forged(settings, db, library) -> None:
    seen: list[int] = []
    with TestClient(create_app(settings)) as first:
        root = ask(first, verb="ListRecords", metadataPrefix="oai_dc")
        seen += [book_of(h.findtext("o:identifier", namespaces=NS)) for h in headers_of(root)]
        token = root.find("o:ListRecords/o:resumptionToken", NS)
        assert token.get("completeListSize") == "5" and token.get("cursor") == "0"
    assert len(seen) == 2
    with TestClient(create_app(settings)) as second:  # a new process: only the data directory is the same
        forged = token.text[:-3] + ("AAA" if not token.text.endswith("AAA") else "BBB")
        assert error_code(ask(second, verb="ListRecords", resumptionToken=forged)) == "badResumptionToken"
        assert (
            error_code(ask(second, verb="ListIdentifiers", resumptionToken=token.text))
            == "badResumptionToken"
        )
        while token is not None and token.text:
            root = ask(second, verb="ListRecords", resumptionToken=token.text)
            assert root.find("o:request", NS).attrib == {"verb": "ListRecords", "resumptionToken": token.text}
            seen += [book_of(h.findtext("o:identifier", namespaces=NS)) for h in headers_of(root)]
            token = root.find("o:ListRecords/o:resumptionToken", NS)
        assert token.get("cursor") == "4" and token.get("completeListSize") == "5"
    assert sorted(seen) == sorted(library.values()) and len(seen) == len(set(seen))
    other = dataclasses.replace(settings, secret_key="another library's key, long enough to count")
    with TestClient(create_app(other)) as elsewhere:
        first_token = ask(elsewhere, verb="ListRecords", metadataPrefix="oai_dc").findtext(
            ".//o:resumptionToken", namespaces=NS
        )
    with TestClient(create_app(settings)) as third:
        assert error_code(ask(third, verb="ListRecords", resumptionToken=first_token)) == "badResumptionToken"


def test_a_record_changed_during_a_harvest_is_sent_again_never_skipped(client, db, library) -> None:
    stamps = {book_id: f"2020-01-0{n}T00:00:00Z" for n, book_id in enumerate(library.values(), start=1)}
    set_datestamps(db, stamps)
    root = ask(client, verb="ListIdentifiers", metadataPrefix="oai_dc")
    first_page = [book_of(h.findtext("o:identifier", namespaces=NS)) for h in headers_of(root)]
    with db.conn:  # the first book is edited while the harvester is on page one
        db.execute("UPDATE books SET title = 'Edited' WHERE id = ?", [first_page[0]])
    rest = []
    token = root.findtext(".//o:resumptionToken", namespaces=NS)
    while token:
        root = ask(client, verb="ListIdentifiers", resumptionToken=token)
        rest += [book_of(h.findtext("o:identifier", namespaces=NS)) for h in headers_of(root)]
        token = root.findtext(".//o:resumptionToken", namespaces=NS)
    assert set(first_page + rest) == set(library.values())
    assert rest[-1] == first_page[0], "sent again, with its new datestamp, at the end"


# --- A real harvester over HTTP ---


def test_sickle_harvests_the_whole_catalogue_from_a_live_server(tmp_path) -> None:
    from accessible_lib.importer import IMPORTED, import_paths

    settings = Settings.from_env({}, data_dir=tmp_path / "data", oai_page_size=3)
    db = open_database(settings.database_path)
    files = [
        "epub/en/pg2701-moby-dick-epub2.epub",
        "epub/en/idpf-wasteland.epub",
        "epub/en/pg17192-poe-the-raven-epub2.epub",
        "text/zh/zh-chibifu-su-shi.txt",
        "text/zh/zh-lunyu-simplified.txt",
        "text/zh/zh-pipaxing-bai-juyi.txt",
    ]
    results = list(import_paths(db, settings, [CORPUS / name for name in files]))
    assert [r.status for r in results] == [IMPORTED] * len(files)
    extra = catalogue.add_book(
        db, make_book("Lantern Keepers", [("One", "x")], language="en", rights=access.ELIGIBLE_ONLY)
    )
    withdrawn = catalogue.add_book(
        db, make_book("Gone", [("One", "y")], language="en", rights=access.WITHDRAWN)
    )
    titles = dict(db.execute("SELECT id, title FROM books").fetchall())
    db.close()
    assert len(titles) == 8
    live = start_server(settings)
    try:
        sickle = Sickle(live.url + "/oai", max_retries=0, timeout=30)
        assert sickle.Identify().baseURL == live.url + "/oai"
        records = list(sickle.ListRecords(metadataPrefix="oai_dc", ignore_deleted=False))
        by_id = {book_of(r.header.identifier): r for r in records}
        assert len(records) == len(by_id) == len(titles), "every book exactly once"
        assert set(by_id) == set(titles)
        for book_id, record in by_id.items():
            if book_id == withdrawn:
                assert record.header.deleted and getattr(record, "metadata", None) is None
            else:
                assert not record.header.deleted
                assert record.metadata["title"][0] == titles[book_id]
                assert record.metadata["identifier"][0] == f"{live.url}/books/{book_id}"
        assert by_id[extra].metadata["rights"] == ["For eligible readers only"]
        chinese = list(sickle.ListIdentifiers(metadataPrefix="marc21", set="lang:zh"))
        assert len(chinese) == 3 and all("lang:zh" in h.setSpecs for h in chinese)
        specs = {s.setSpec for s in sickle.ListSets()}
        assert {"lang:en", "lang:zh"} <= specs
        one = sickle.GetRecord(identifier=identifier(extra, "127.0.0.1"), metadataPrefix="marc21")
        assert "Lantern Keepers" in etree.tostring(one.xml, encoding="unicode")
        post = Sickle(live.url + "/oai", http_method="POST", max_retries=0, timeout=30)
        assert (
            len(list(post.ListIdentifiers(metadataPrefix="oai_dc", ignore_deleted=True))) == len(titles) - 1
        )
    finally:
        live.stop()


def test_error_messages_follow_the_harvesters_language(client, library) -> None:
    root = validated(client.get("/oai", params={"verb": "Explain"}, headers={"Accept-Language": "zh-CN"}))
    assert error_code(root) == "badVerb"
    assert root.findtext("o:error", namespaces=NS) == "该 verb 不是 OAI-PMH 的动词。"
    assert (
        ask(client, verb="Explain").findtext("o:error", namespaces=NS) == "That verb is not an OAI-PMH verb."
    )


def test_books_already_in_a_catalogue_get_their_datestamp_from_when_they_were_added(tmp_path: Path) -> None:
    from sqlite_utils import Database

    from accessible_lib.migrations import migrations

    db = Database(tmp_path / "old.db")
    migrations.apply(db, stop_before="m016_oai")
    insert = "INSERT INTO books (id, title, checksum, added_at) VALUES (?, ?, ?, ?)"
    db.execute(insert, [1, "Added in 2024", "a", "2024-01-02T03:04:05+00:00"])
    db.execute(insert, [2, "Added in Beijing", "b", "2024-01-02T11:04:05+08:00"])
    db.conn.commit()
    migrations.apply(db)
    stamps = dict(db.execute("SELECT id, modified_at FROM books").fetchall())
    assert stamps == {1: "2024-01-02T03:04:05Z", 2: "2024-01-02T03:04:05Z"}
    db.close()


def test_a_new_book_that_reuses_a_deleted_books_number_is_a_record_again(client, db, library) -> None:
    last = max(library.values())
    delete_book(db, last)
    assert (
        ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(last))
        .find(".//o:header", NS)
        .get("status")
        == "deleted"
    )
    reused = catalogue.add_book(db, make_book("Arrived Later", [("One", "z")], language="en"))
    assert reused == last  # SQLite gives the highest number again once its row is gone
    record = ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(reused))
    assert record.find(".//o:header", NS).get("status") is None
    assert record.findtext(".//dc:title", namespaces=NS) == "Arrived Later"
    assert len(harvest(client, metadataPrefix="oai_dc")) == len(library)


def test_records_harvested_from_other_libraries_are_not_published_again(client, db, library) -> None:
    """The union catalogue keeps another library's records as books with a `source_id`; sending them on
    would send records round in circles between libraries that harvest each other."""
    if "source_id" not in db["books"].columns_dict:  # the union catalogue's column, when it is not here yet
        db["books"].add_column("source_id", int)
    with db.conn:
        db.execute("UPDATE books SET source_id = 1 WHERE id = ?", [library["lunyu"]])
    listed = {
        book_of(h.findtext("o:identifier", namespaces=NS)) for h in harvest(client, metadataPrefix="oai_dc")
    }
    assert listed == set(library.values()) - {library["lunyu"]}
    missing = ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=identifier(library["lunyu"]))
    assert error_code(missing) == "idDoesNotExist"
    specs = {s.findtext("o:setSpec", namespaces=NS) for s in _all_sets(client)}
    assert oai.subject_spec("经部") not in specs and "lang:zh" in specs


HOSTILE = [
    "%zz",
    "a[b",
    "<>",
    "oai:x:book:1#a#b",
    'a"b',
    "é",
    "\\",
    "\x01",
    "\x00",
    "&amp;",
    "x" * 5000,
    "",
]


def test_any_request_gets_a_valid_answer_never_a_crash(client, library) -> None:
    """Hostile values in every argument, and arguments nobody defined: each answer is valid OAI-PMH."""
    import random

    rng = random.Random(12)
    names = ["verb", "identifier", "metadataPrefix", "from", "until", "set", "resumptionToken", "x\x01", "é"]
    values = [
        *HOSTILE,
        "oai_dc",
        "marc21",
        "lang:en",
        "2020-01-01",
        identifier(library["moby"]),
        *oai_verbs(),
    ]
    for _ in range(300):
        pairs = [(rng.choice(names), rng.choice(values)) for _ in range(rng.randint(0, 4))]
        if rng.random() < 0.8:
            pairs.insert(0, ("verb", rng.choice(oai_verbs())))
        response = client.get("/oai", params=pairs)
        root = validated(response)
        assert root.find("o:request", NS) is not None, pairs


def oai_verbs() -> list[str]:
    return ["Identify", "ListMetadataFormats", "ListSets", "GetRecord", "ListIdentifiers", "ListRecords"]


def test_bytes_that_are_not_utf8_are_an_unknown_identifier(client, library) -> None:
    raw = "/oai?verb=GetRecord&metadataPrefix=oai_dc&identifier=oai%3Ax%ED%A0%80%FF"
    assert error_code(validated(client.get(raw))) == "idDoesNotExist"
    posted = client.post("/oai", content=b"verb=Identify&x=%ED%A0%80%FF\xff", headers={"Content-Type": FORM})
    assert error_code(validated(posted)) in ("badArgument",)


@pytest.mark.parametrize("value", HOSTILE)
def test_an_identifier_that_is_no_uri_is_unknown_and_not_echoed(client, library, value) -> None:
    root = ask(client, verb="GetRecord", metadataPrefix="oai_dc", identifier=value)
    assert error_code(root) in ("idDoesNotExist", "badArgument")
