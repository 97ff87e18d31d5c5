"""The union catalogue (issue 12, part 5): one library harvesting another, and feeds that try to break it.

Two real instances of the library run on loopback ports (tests/live_server.py): the source, with books
imported from the corpus, and the harvester, which runs `accessible-lib harvest` against the source's OPDS
2.0 feed and is then read over HTTP like any library. OAI-PMH harvesting (incremental `from`, resumption
tokens, deleted records) and every hostile feed are served by a small real HTTP server in this file, so
that each response is exactly the one a broken or hostile library would send.
"""

from __future__ import annotations

import json
import re
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import access, create_app, rights
from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.harvest import HarvestError, harvest
from accessible_lib.settings import Settings

from .live_server import live_server

SOURCE_FILES = (
    "text/zh/zh-chibifu-su-shi.txt",
    "text/zh/zh-lisao-qu-yuan.txt",
    "epub/en/pg17192-poe-the-raven-epub2.epub",
    "epub/en/idpf-wasteland.epub",
)
HARVESTER_FILES = ("text/zh/zh-pipaxing-bai-juyi.txt",)


# --- A small real HTTP server whose answers the test writes ---


Answer = Callable[[BaseHTTPRequestHandler, dict], None]


class FeedServer:
    """Serves `routes[path](handler, query)` on 127.0.0.1; remembers every query it was sent."""

    def __init__(self) -> None:
        self.routes: dict[str, Answer] = {}
        self.requests: list[tuple[str, dict]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the standard library's name)
                parts = urlsplit(self.path)
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                server.requests.append((parts.path, query))
                answer = server.routes.get(parts.path)
                if answer is None:
                    self.send_error(404)
                    return
                try:
                    answer(self, query)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the harvester hung up, as it should on a hostile answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def feeds() -> Iterator[FeedServer]:
    server = FeedServer()
    yield server
    server.stop()


def send(body: bytes | str, media_type: str = "text/xml; charset=utf-8") -> Answer:
    data = body.encode() if isinstance(body, str) else body

    def answer(handler: BaseHTTPRequestHandler, query: dict) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", media_type)
        handler.send_header("Content-Length", str(len(data)))
        handler.end_headers()
        handler.wfile.write(data)

    return answer


# --- An OAI-PMH repository, as XML ---

OAI_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
    "<responseDate>{date}</responseDate><request>http://example.org/oai</request>"
)


def oai_record(oai_id: str, title: str = "", creator: str = "", deleted: bool = False, **dc: str) -> str:
    if deleted:
        return (
            f'<record><header status="deleted"><identifier>{oai_id}</identifier>'
            "<datestamp>2026-12-02</datestamp></header></record>"
        )
    fields = f"<dc:title>{title}</dc:title><dc:creator>{creator}</dc:creator>" + "".join(
        f"<dc:{name}>{value}</dc:{name}>" for name, value in dc.items()
    )
    return (
        f"<record><header><identifier>{oai_id}</identifier><datestamp>2026-12-01</datestamp></header>"
        '<metadata><oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
        f'xmlns:dc="http://purl.org/dc/elements/1.1/">{fields}</oai_dc:dc></metadata></record>'
    )


def oai_list(records: list[str], token: str | None = None, date: str = "2026-12-01T10:00:00Z") -> str:
    resumption = f"<resumptionToken>{token}</resumptionToken>" if token is not None else ""
    return (
        OAI_HEAD.format(date=date)
        + "<ListRecords>"
        + "".join(records)
        + resumption
        + "</ListRecords></OAI-PMH>"
    )


def oai_identify(name: str = "Harbour Town Library for the Blind") -> str:
    return (
        OAI_HEAD.format(date="2026-12-01T10:00:00Z")
        + f"<Identify><repositoryName>{name}</repositoryName><baseURL>http://example.org/oai</baseURL>"
        "<protocolVersion>2.0</protocolVersion><earliestDatestamp>2000-01-01</earliestDatestamp>"
        "<deletedRecord>persistent</deletedRecord><granularity>YYYY-MM-DD</granularity></Identify></OAI-PMH>"
    )


class OaiRepository:
    """An OAI-PMH repository in two pages (one resumption token), whose records the test changes."""

    def __init__(self, records: list[str], date: str = "2026-12-01T10:00:00Z"):
        self.records = records
        self.date = date

    def __call__(self, handler: BaseHTTPRequestHandler, query: dict) -> None:
        verb = query.get("verb")
        if verb == "Identify":
            body = oai_identify()
        elif verb == "ListRecords" and query.get("resumptionToken") == "page-2":
            body = oai_list(self.records[2:], "", self.date)  # an empty token: the list is complete
        elif verb == "ListRecords" and query.get("metadataPrefix") == "oai_dc":
            body = oai_list(self.records[:2], "page-2" if len(self.records) > 2 else None, self.date)
        else:
            body = OAI_HEAD.format(date=self.date) + '<error code="badVerb">Illegal verb</error></OAI-PMH>'
        send(body)(handler, query)


FOUR_RECORDS = [
    oai_record("oai:harbour:1", "Dream of the Red Chamber", "Cao Xueqin", language="en",
               identifier="https://harbour.example.org/books/1"),
    oai_record("oai:harbour:2", "水浒传", "施耐庵", language="zh-Hans", subject="古典小说",
               identifier="https://harbour.example.org/books/2"),
    oai_record("oai:harbour:3", "Journey to the West", "Wu Cheng'en", language="en"),
    oai_record("oai:harbour:4", "Quicksilver Lanterns", "Odile Marchbanks", language="en",
               description="A lighthouse keeper's diary.", identifier="https://harbour.example.org/books/4"),
]  # fmt: skip


# --- Helpers over the harvesting library ---


def snapshot(settings: Settings) -> tuple:
    """Every row a harvest may write, to show that a refused one wrote none."""
    db = open_database(settings.database_path)
    try:
        return tuple(
            db.execute(f"SELECT * FROM {table} ORDER BY 1, 2").fetchall()
            for table in ("books", "book_authors", "book_subjects", "book_identifiers", "book_fts")
        ) + (db.execute("SELECT id, last_datestamp, record_count FROM harvest_sources").fetchall(),)
    finally:
        db.close()


def get_html(url: str) -> BeautifulSoup:
    with urllib.request.urlopen(url, timeout=30) as response:
        return BeautifulSoup(response.read(), "html.parser")


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=30) as response:
        return json.loads(response.read())


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


def results(page: BeautifulSoup) -> dict[str, dict]:
    """Each result of a search or browse list: its link and the facts line under it."""
    found = {}
    for item in page.select("ul.book-list > li, ol.results > li"):
        link = item.select_one(".book-title a")
        facts = item.select_one(".book-facts")
        held = facts.select_one(".held-by")
        found[link.get_text(strip=True)] = {
            "href": link["href"],
            "held_by": held.get_text(strip=True) if held else None,
        }
    return found


def run_cli(settings: Settings, *args: str):
    env = {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}
    for name in ("harvest_request_timeout_seconds", "harvest_max_response_bytes", "harvest_max_pages"):
        env["ACCESSIBLE_LIB_" + name.upper()] = str(getattr(settings, name))
    return CliRunner().invoke(main, ["harvest", *args], env=env)


# --- Two real libraries ---


def test_one_library_harvests_another_over_opds(tmp_path: Path) -> None:
    """The harvester finds the source's books by search and browse, marked with the source and linking to
    them there, never offers them for reading, and leaves them out of its own feeds; a book the source
    withdraws is withdrawn here at the next harvest, and an unchanged one is not rewritten."""
    with live_server(tmp_path / "source", files=SOURCE_FILES) as (source, source_books):
        with live_server(tmp_path / "harvester", files=HARVESTER_FILES, page_size=20) as (
            harvester,
            own_books,
        ):
            outcome = run_cli(harvester.settings, source.url + "/opds", "--name", "Harbour Town Library")
            assert outcome.exit_code == 0, outcome.output
            assert "4 added" in outcome.output and "Harbour Town Library" in outcome.output

            found = results(get_html(harvester.url + "/search?" + urlencode({"q": "赤壁赋"})))
            assert found["赤壁赋"]["held_by"] == "Held by Harbour Town Library"
            page = get_html(harvester.url + found["赤壁赋"]["href"])
            held = page.select_one(".held-by")
            source_record = f"{source.url}/books/{source_books['text/zh/zh-chibifu-su-shi.txt']}"
            assert held.find("a", string="Harbour Town Library")["href"] == source.url + "/"
            assert held.find("a", string="See this book at Harbour Town Library")["href"] == source_record
            assert page.find("a", string="Start reading") is None and page.find(id="editions") is None
            harvested_id = int(found["赤壁赋"]["href"].rsplit("/", 1)[1])
            assert status_of(f"{harvester.url}/books/{harvested_id}/read/1") == 404

            # Browse: beside the harvester's own Chinese book, each marked for what it is.
            own_db = open_database(harvester.settings.database_path)
            own_title = own_db.execute(
                "SELECT title FROM books WHERE id = ?", [own_books[HARVESTER_FILES[0]]]
            ).fetchone()[0]
            own_db.close()
            chinese = results(get_html(harvester.url + "/browse/languages/zh-Hans"))
            assert chinese[own_title]["held_by"] is None
            assert chinese["离骚"]["held_by"] == "Held by Harbour Town Library"

            # Our own feeds list our own book only: re-exporting would send records round between libraries.
            opds_search = get_json(harvester.url + "/opds/search?" + urlencode({"query": "赤壁赋"}))
            assert "publications" not in opds_search
            new = get_json(harvester.url + "/opds/new")
            assert [p["metadata"]["title"] for p in new["publications"]] == [own_title]
            assert status_of(f"{harvester.url}/opds/books/{harvested_id}") == 404

            # The source withdraws a book: the next harvest withdraws it here; the rest are unchanged.
            source_db = open_database(source.settings.database_path)
            with source_db.conn:
                rights.set_rights(
                    source_db, source_books["text/zh/zh-lisao-qu-yuan.txt"], rights.Rights(access.WITHDRAWN)
                )
            source_db.close()
            again = run_cli(harvester.settings, source.url + "/opds")
            assert again.exit_code == 0, again.output
            assert "0 added, 0 updated, 3 unchanged, 1 withdrawn" in again.output
            assert "离骚" not in results(get_html(harvester.url + "/browse/languages/zh-Hans"))
            assert "离骚" not in results(get_html(harvester.url + "/search?" + urlencode({"q": "离骚"})))
            assert own_title in results(get_html(harvester.url + "/browse/languages/zh-Hans"))


def test_one_library_harvests_another_over_oai_pmh(tmp_path: Path) -> None:
    """The same over the source's OAI-PMH provider: every record through its resumption tokens, the library
    named as its repository names itself, and then only what changed since, a withdrawal included."""
    with live_server(tmp_path / "source", files=SOURCE_FILES) as (source, source_books):
        with live_server(tmp_path / "harvester", files=HARVESTER_FILES, page_size=20) as (harvester, _):
            outcome = run_cli(harvester.settings, source.url + "/oai")
            assert outcome.exit_code == 0, outcome.output
            assert "4 added" in outcome.output and ": every record" in outcome.output
            found = results(get_html(harvester.url + "/search?" + urlencode({"q": "离骚"})))
            assert found["离骚"]["held_by"].startswith("Held by ")
            page = get_html(harvester.url + found["离骚"]["href"])
            lisao = source_books["text/zh/zh-lisao-qu-yuan.txt"]
            see = page.select_one(".held-by").find("a", string=re.compile("^See this book at "))
            assert see["href"] == f"{source.url}/books/{lisao}"
            harvested_db = open_database(harvester.settings.database_path)
            source_row = harvested_db.execute(
                "SELECT protocol, last_datestamp FROM harvest_sources"
            ).fetchone()
            harvested_db.close()
            assert source_row[0] == "oai" and source_row[1]

            source_db = open_database(source.settings.database_path)
            with source_db.conn:
                rights.set_rights(source_db, lisao, rights.Rights(access.WITHDRAWN))
            source_db.close()
            again = run_cli(harvester.settings, source.url + "/oai")
            assert again.exit_code == 0, again.output
            assert f"records changed since {source_row[1]}" in again.output
            assert "0 added" in again.output and "1 withdrawn" in again.output
            assert "离骚" not in results(get_html(harvester.url + "/search?" + urlencode({"q": "离骚"})))


# --- OAI-PMH: incremental, resumption tokens, deletions ---


def test_oai_harvest_is_incremental_and_honours_deletions(tmp_path: Path, feeds: FeedServer) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    repository = OaiRepository(list(FOUR_RECORDS))
    feeds.routes["/oai"] = repository
    db = open_database(settings.database_path)
    try:
        first = harvest(db, settings, feeds.url + "/oai")
        assert first.name == "Harbour Town Library for the Blind" and first.protocol == "oai"
        assert first.counts == {"added": 4, "updated": 0, "deleted": 0, "unchanged": 0}
        assert first.pages == 2  # followed the resumption token
        listed = [q for path, q in feeds.requests if q.get("verb") == "ListRecords"]
        assert "from" not in listed[0] and listed[1] == {"verb": "ListRecords", "resumptionToken": "page-2"}
        row = db.execute(
            "SELECT title, language, remote_url FROM books WHERE remote_id = 'oai:harbour:2'"
        ).fetchone()
        assert row == ("水浒传", "zh-Hans", "https://harbour.example.org/books/2")

        # Next day: one record changed, one deleted. The harvest asks only for what changed since.
        feeds.requests.clear()
        repository.records = [
            oai_record("oai:harbour:2", "水浒传（百回本）", "施耐庵", language="zh-Hans"),
            oai_record("oai:harbour:3", deleted=True),
        ]
        repository.date = "2026-12-02T09:00:00Z"
        second = harvest(db, settings, feeds.url + "/oai")
        listed = [q for path, q in feeds.requests if q.get("verb") == "ListRecords"]
        assert listed[0]["from"] == "2026-12-01"  # the first run's response date, at day granularity
        assert second.incremental_from == "2026-12-01"
        assert second.counts == {"added": 0, "updated": 1, "deleted": 1, "unchanged": 0}
        titles = dict(
            db.execute("SELECT remote_id, title FROM books WHERE rights_status != 'withdrawn'").fetchall()
        )
        assert titles == {
            "oai:harbour:1": "Dream of the Red Chamber",
            "oai:harbour:2": "水浒传（百回本）",
            "oai:harbour:4": "Quicksilver Lanterns",
        }
        source = db.execute(
            "SELECT last_datestamp, record_count, last_status FROM harvest_sources"
        ).fetchone()
        assert source == ("2026-12-02", 3, "ok")
    finally:
        db.close()

    # The library's pages: found by search, marked, linking out; the deleted one is gone.
    with TestClient(create_app(settings)) as client:
        page = BeautifulSoup(client.get("/search", params={"q": "lighthouse"}).text, "html.parser")
        assert (
            results(page)["Quicksilver Lanterns"]["held_by"] == "Held by Harbour Town Library for the Blind"
        )
        assert "Journey to the West" not in results(
            BeautifulSoup(client.get("/search", params={"q": "journey"}).text, "html.parser")
        )
        chinese = BeautifulSoup(
            client.get("/search", params={"q": "水浒传"}, headers={"Accept-Language": "zh-CN"}).text,
            "html.parser",
        )
        assert list(results(chinese).values())[0]["held_by"] == "馆藏于 Harbour Town Library for the Blind"


# --- Hostile and broken feeds ---

BILLION_LAUGHS = (
    '<?xml version="1.0"?>\n<!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">'
    '<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">'
    '<!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">'
    '<!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">'
    '<!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">'
    '<!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">'
    '<!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">]>\n'
    '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><responseDate>&lol9;</responseDate>'
    "<ListRecords></ListRecords></OAI-PMH>"
)
LIMIT_BYTES = 200_000


def huge_undeclared(handler: BaseHTTPRequestHandler, query: dict) -> None:
    """Ten times the limit, without a Content-Length: only counting the bytes as they come stops it."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.end_headers()
    handler.wfile.write(OAI_HEAD.format(date="2026-12-01T10:00:00Z").encode() + b"<ListRecords>")
    for _ in range(40):
        handler.wfile.write(b"<!-- padding -->" * 3200)


def huge_declared(handler: BaseHTTPRequestHandler, query: dict) -> None:
    handler.send_response(200)
    handler.send_header("Content-Type", "application/opds+json")
    handler.send_header("Content-Length", str(10**12))
    handler.end_headers()
    handler.wfile.write(b'{"publications": [')


def sleeper(handler: BaseHTTPRequestHandler, query: dict) -> None:
    time.sleep(4)
    send(oai_list([]))(handler, query)


def trickle(handler: BaseHTTPRequestHandler, query: dict) -> None:
    """A byte every tenth of a second: each read is quick, the page never ends in time."""
    handler.send_response(200)
    handler.send_header("Content-Type", "text/xml")
    handler.end_headers()
    for byte in oai_list([]).encode() * 10:
        handler.wfile.write(bytes([byte]))
        handler.wfile.flush()
        time.sleep(0.1)


def header_trickle(handler: BaseHTTPRequestHandler, query: dict) -> None:
    """Headers a few bytes at a time, each soon after the last: only a limit on the whole exchange ends it."""
    handler.wfile.write(b"HTTP/1.0 200 OK\r\n")
    for _ in range(60):
        handler.wfile.write(b"X-Padding: a\r\n")
        handler.wfile.flush()
        time.sleep(0.1)
    handler.wfile.write(b"\r\n")


def redirect_to(target: str) -> Answer:
    def answer(handler: BaseHTTPRequestHandler, query: dict) -> None:
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return answer


def same_token(handler: BaseHTTPRequestHandler, query: dict) -> None:
    if query.get("verb") == "Identify":
        return send(oai_identify())(handler, query)
    send(oai_list([FOUR_RECORDS[0]], "again"))(handler, query)


def endless_tokens(handler: BaseHTTPRequestHandler, query: dict) -> None:
    if query.get("verb") == "Identify":
        return send(oai_identify())(handler, query)
    number = int(query.get("resumptionToken", "0")) + 1
    send(oai_list([FOUR_RECORDS[number % 4]], str(number)))(handler, query)


def endless_opds(handler: BaseHTTPRequestHandler, query: dict) -> None:
    number = int(query.get("page", "1"))
    feed = {
        "metadata": {"title": "Endless"},
        "links": [
            {"rel": "next", "href": f"/endless-opds?page={number + 1}", "type": "application/opds+json"}
        ],
        "publications": [{"metadata": {"identifier": f"urn:endless:{number}", "title": f"Book {number}"}}],
    }
    send(json.dumps(feed), "application/opds+json")(handler, query)


BAD_XML = '<?xml version="1.0"?><OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/"><ListRecords>'
BAD_JSON = '{"metadata": {"title": "Broken"}, "publications": [{'
HOSTILE = {
    "/huge": (huge_undeclared, "bigger than 200,000 bytes"),
    "/huge-declared": (huge_declared, "bigger than 200,000 bytes"),
    "/laughs": (send(BILLION_LAUGHS), "document type declaration"),
    "/same-token": (same_token, "same resumption token twice"),
    "/endless-tokens": (endless_tokens, "more than 5 pages"),
    "/endless-opds": (endless_opds, "more than 5 pages"),
    "/slow": (sleeper, "did not send a page within 1 seconds"),
    "/trickle": (trickle, "did not send a page within 1 seconds"),
    "/header-trickle": (header_trickle, "did not send a page within 1 seconds"),
    "/to-file": (redirect_to("file:///etc/passwd"), "redirected to an address that is not http or https"),
    "/redirect-loop": (redirect_to("/redirect-loop"), "redirected more than 5 times"),
    "/bad-xml": (send(BAD_XML), "not well-formed"),
    "/bad-json": (send(BAD_JSON, "application/opds+json"), "JSON that cannot be read"),
    "/not-a-feed": (
        send("<html><body>Hello</body></html>", "text/html"),
        "neither an OAI-PMH repository nor",
    ),
}


@pytest.fixture
def hostile_settings(tmp_path: Path) -> Settings:
    return Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        harvest_max_response_bytes=LIMIT_BYTES,
        harvest_request_timeout_seconds=1,
        harvest_max_pages=5,
    )


@pytest.mark.parametrize("path", sorted(HOSTILE))
def test_a_hostile_feed_is_refused_with_a_clear_message_and_changes_nothing(
    path: str, feeds: FeedServer, hostile_settings: Settings
) -> None:
    """Each hostile answer is refused within the limits, by the command line with its message and exit
    status 1, and the catalogue (with a library already harvested in it) is exactly as it was."""
    feeds.routes["/oai"] = OaiRepository(list(FOUR_RECORDS))
    answer, message = HOSTILE[path]
    feeds.routes[path] = answer
    db = open_database(hostile_settings.database_path)
    harvest(db, hostile_settings, feeds.url + "/oai")
    db.close()
    before = snapshot(hostile_settings)
    started = time.monotonic()
    outcome = run_cli(hostile_settings, feeds.url + path)
    assert time.monotonic() - started < 15, "the limits stopped it"
    assert outcome.exit_code == 1
    assert "Harvest failed: " in outcome.output and message in outcome.output, outcome.output
    assert "Traceback" not in outcome.output
    after = snapshot(hostile_settings)
    # Not a row of the catalogue changed, nor the library harvested before; the new address may be kept
    # as a source whose failed harvest staff can see.
    assert after[:5] == before[:5] and after[5][0] == before[5][0]
    assert all(row[2] == 0 for row in after[5][1:])


@pytest.mark.parametrize("path", ["/huge", "/laughs", "/same-token", "/slow", "/bad-xml"])
def test_a_known_source_turned_hostile_keeps_its_records_and_shows_the_error(
    path: str, feeds: FeedServer, hostile_settings: Settings
) -> None:
    """A library harvested before that now answers with garbage: its records, its datestamp and every other
    row stay as they were; the run and the source say what went wrong, for staff."""
    repository = OaiRepository(list(FOUR_RECORDS))
    feeds.routes["/oai"] = repository
    db = open_database(hostile_settings.database_path)
    try:
        harvest(db, hostile_settings, feeds.url + "/oai")
        before = snapshot(hostile_settings)
        answer, message = HOSTILE[path]
        feeds.routes["/oai"] = lambda handler, query: (
            send(oai_identify())(handler, query)
            if query.get("verb") == "Identify"
            else answer(handler, query)
        )
        with pytest.raises(HarvestError) as refused:
            harvest(db, hostile_settings, feeds.url + "/oai")
        assert message in refused.value.message
        assert snapshot(hostile_settings) == before
        status, error = db.execute("SELECT last_status, last_error FROM harvest_sources").fetchone()
        assert status == "failed" and message in error
        assert db.execute("SELECT count(*) FROM harvest_staging").fetchone()[0] == 0
        runs = db.execute("SELECT status FROM harvest_runs ORDER BY id").fetchall()
        assert runs == [("ok",), ("failed",)]
    finally:
        db.close()


def test_a_source_that_sends_pages_before_failing_changes_nothing(
    feeds: FeedServer, hostile_settings: Settings
) -> None:
    """Good first pages, then a broken one: nothing of the good pages reaches the catalogue either."""

    def good_then_broken(handler: BaseHTTPRequestHandler, query: dict) -> None:
        if query.get("verb") == "Identify":
            return send(oai_identify())(handler, query)
        if query.get("resumptionToken") == "page-2":
            return send("<OAI-PMH><broken")(handler, query)
        send(oai_list(FOUR_RECORDS[:2], "page-2"))(handler, query)

    feeds.routes["/oai"] = good_then_broken
    db = open_database(hostile_settings.database_path)
    try:
        before = snapshot(hostile_settings)
        with pytest.raises(HarvestError, match="not well-formed"):
            harvest(db, hostile_settings, feeds.url + "/oai")
        after = snapshot(hostile_settings)
        assert after[:5] == before[:5]  # no book, author, subject, identifier or search entry
        assert db.execute("SELECT record_count, last_datestamp FROM harvest_sources").fetchone() == (0, None)
    finally:
        db.close()


def test_an_opds_feed_that_suddenly_lists_nothing_withdraws_nothing(
    feeds: FeedServer, hostile_settings: Settings
) -> None:
    """OPDS has no deletions, so absence means deleted: but a feed with no publications at all, from a
    library with records here, is a broken feed, not an emptied library."""
    publications = [
        {"metadata": {"identifier": f"urn:isbn:978030640615{n}", "title": f"Book {n}", "language": "en"},
         "links": [{"rel": "alternate", "type": "text/html", "href": f"/books/{n}"}]}
        for n in (7, 8)
    ]  # fmt: skip
    feeds.routes["/opds"] = send(json.dumps({"metadata": {"title": "Small"}, "publications": publications}))
    db = open_database(hostile_settings.database_path)
    try:
        first = harvest(db, hostile_settings, feeds.url + "/opds")
        assert first.name == "Small" and first.counts["added"] == 2
        assert db.execute("SELECT remote_url FROM books WHERE title = 'Book 7'").fetchone() == (
            feeds.url + "/books/7",
        )
        before = snapshot(hostile_settings)
        feeds.routes["/opds"] = send(json.dumps({"metadata": {"title": "Small"}, "publications": []}))
        with pytest.raises(
            HarvestError, match="listed no records at all; the 2 records it has here are kept"
        ):
            harvest(db, hostile_settings, feeds.url + "/opds")
        assert snapshot(hostile_settings) == before
    finally:
        db.close()


def test_addresses_that_are_not_web_feeds_are_refused(hostile_settings: Settings) -> None:
    for url in ("file:///etc/passwd", "ftp://example.org/oai", "not a url", ""):
        outcome = run_cli(hostile_settings, url)
        assert outcome.exit_code == 1 and "starting with http:// or https://" in outcome.output, url


# --- Staff: "Harvest now" runs on the job queue, by a worker: tests/test_harvest_jobs.py ---
