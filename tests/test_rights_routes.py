"""Every route of the app, walked from its own route table, against a book only eligible readers may read.

Why a walk and not a list of URLs: a list is written once and a new route is added later. Here the routes
come from `app.routes` (Mounts included), and every one must be classified: a route that names a book or an
edition must refuse an anonymous visitor (the 403 page that says why and how to become eligible, the staff
sign-in, or the worker API's signature check) unless it is in CATALOGUE_RECORD_ONLY; a route that names
none must be in LISTS (tried with the requests that could reveal a book's text) or NO_BOOK_CONTENT. Whatever
the route, no response body may hold a byte of the restricted book's text, braille, images or audio.

The book's editions are real: HTML, plain text, BRF, PEF and MP3 made by the edition code and published
through the storage, as a worker does. The same walk with the book made public is the control: there the
content routes answer and the text is in their bodies, so the refusals above are not an accident of URLs
that never worked. test_the_walk_catches_a_route_that_skips_the_check shows that the walk fails for a new
route that forgets the check.

The walk runs three times with the book restricted: as an anonymous visitor and as a reader signed in
through the real sign-in form who is not yet eligible (both refused, no byte), and as an eligible reader
(served, like the control).
"""

from __future__ import annotations

import random
import re
from itertools import product

import pytest
from bs4 import BeautifulSoup
from starlette.applications import Starlette
from starlette.responses import HTMLResponse
from starlette.routing import BaseRoute, Host, Mount, Route
from starlette.testclient import TestClient

from accessible_lib import access, browsing, catalogue, create_app, readers, rights
from accessible_lib.db import open_database
from accessible_lib.editions import formats, store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import run_conversion
from accessible_lib.editions.storage import storage_for
from accessible_lib.ingest.model import Chapter, IngestedBook, Resource, TocEntry
from accessible_lib.settings import Settings
from braille.tables import default_table
from braille.translate import translate

from .test_accounts import PASSWORD as READER_PASSWORD
from .test_accounts import sign_in as reader_sign_in

SENTENCES = (
    "The quartermaster folded eleven violet umbrellas beneath the crooked lighthouse.",
    "A patient heron counted thirty copper bells along the frozen canal.",
)
QUERY_WORDS = ("quartermaster", "heron")  # searched for: the walk checks the rest of each sentence
TITLE = "Lantern Keepers of Wexmoor"
SUBJECT = "Lighthouses"
AUTHOR = "Imogen Farthingale"
IMAGE = b"\x89PNG\r\n\x1a\n" + random.Random(11).randbytes(600)  # served as it is stored
EDITIONS = {
    "html": {},
    "txt": {},
    "brf": {},
    "pef": {},
    "mp3": {"engine": "espeak"},  # espeak-ng: the fastest real speech engine
}

# Routes that name a book but show only its catalogue record (title, authors, subjects, description, the
# rights in words) to a reader who may not read it: why each one is safe.
CATALOGUE_RECORD_ONLY = {
    "/books/{book_id:int}": "the book page: the record and the eligibility explanation, no content",
    "/opds/books/{book_id:int}": "the OPDS publication: the record and acquisitions that ask to sign in",
}
# Routes that name no book and list books by their records: tried with these query strings.
LISTS = {
    "/": [{}],
    "/search": [{"q": QUERY_WORDS[0]}, {"q": QUERY_WORDS[1]}, {"q": "wexmoor"}, {"q": "farthingale"}],
    "/browse": [{}],
    "/browse/{facet}": [{}],
    "/browse/{facet}/{value:path}": [{}],
    # OPDS feeds for reading apps: records and acquisition links, never a book's text.
    "/opds": [{}],
    "/opds/new": [{}],
    "/opds/search": [{"query": QUERY_WORDS[0]}, {"query": QUERY_WORDS[1]}, {"query": "wexmoor"}],
    "/opds/{facet}": [{}],
    "/opds/{facet}/{value:path}": [{}],
    "/opds/v1.2": [{}],
    "/opds/v1.2/new": [{}],
    "/opds/v1.2/search": [{"q": QUERY_WORDS[0]}, {"q": QUERY_WORDS[1]}, {"q": "wexmoor"}],
    "/opds/v1.2/{facet}": [{}],
    "/opds/v1.2/{facet}/{value:path}": [{}],
    # OAI-PMH for harvesting libraries: catalogue records (Dublin Core, MARCXML), never a book's text.
    "/oai": [
        {"verb": "ListRecords", "metadataPrefix": "oai_dc"},
        {"verb": "ListRecords", "metadataPrefix": "marc21"},
        {"verb": "ListIdentifiers", "metadataPrefix": "oai_dc"},
        {"verb": "ListSets"},
    ],
}
# Routes that name no book and show nothing of any: why.
NO_BOOK_CONTENT = {
    "/language/{code}": "sets the interface language and redirects",
    "/preferences": "the reader's text size, colours, spacing and font; a sample text of its own only",
    "/opds/authentication": "how a reading app signs a reader in (OPDS Authentication 1.0)",
    "/opds/v1.2/opensearch.xml": "the OpenSearch description of the Atom search",
    "/static": "the site's own CSS, JavaScript and fonts",
    "/internal/recover": "workers report lost leases here; signed, and answers with edition ids only",
    "/internal/rollup": "member libraries send daily statistics here; signed, answers with a day count",
    "/staff": "the staff dashboard; staff see every book whatever its rights",
    "/staff/login": "the staff sign-in form",
    "/staff/logout": "ends the staff session",
    "/staff/upload": "uploading books",
    "/staff/jobs": "the edition job list, for staff",
    "/staff/braille": "translating text that staff paste",
    "/staff/rights": "setting rights from a CSV file",
    "/staff/pronunciations": "the pronunciation dictionary, for staff: words and their readings",
    "/staff/pronunciations/new": "adds a pronunciation entry",
    "/staff/pronunciations/export.csv": "the pronunciation entries as CSV, for staff",
    "/staff/pronunciations/import": "imports pronunciation entries from a CSV file",
    "/staff/pronunciations/listen": "speaks a staff-typed sample sentence, for staff",
    "/staff/pronunciations/{entry_id:int}": "edits one pronunciation entry",
    "/staff/pronunciations/{entry_id:int}/remove": "removes one pronunciation entry and redirects",
    "/staff/pronunciations/{entry_id:int}/listen": "speaks one entry in a sample sentence, for staff",
    "/staff/downloads": "looking a personal copy's download id up, for staff",
    "/staff/sources": "other libraries harvested into the catalogue: their names, feeds and errors",
    "/staff/sources/{source_id:int}/harvest": "queues a harvest of another library; answers with a redirect",
    "/staff/sources/{source_id:int}.json": "where a library's harvest job is, in words, for progress.js",
    "/staff/stats": "daily counts for staff: searches, reads, downloads, editions; no book's text",
    "/staff/stats.csv": "the same daily counts as CSV, for staff",
    "/staff/accounts": "administrators manage staff accounts: usernames and roles only",
    "/staff/accounts/{account_id:int}/remove": "asks, then removes a staff account; no book in either",
    "/staff/accounts/{account_id:int}/admin": "grants or revokes administrator; answers with a redirect",
    "/staff/settings": "the effective settings, read-only, secrets masked",
    "/account": "the reader's own account page",
    "/account/sign-in": "the reader sign-in form",
    "/account/sign-out": "ends the reader's session",
    "/account/sign-up": "the sign-up form",
    "/account/check-email": "says a confirmation mail was sent",
    "/account/verify/{token}": "confirms an address by its mailed link",
    "/account/reset": "asks for a password reset link",
    "/account/reset/{token}": "sets a new password from a mailed link",
    "/account/password": "changes the reader's password",
    "/account/email": "changes the reader's address",
    "/account/email/confirm/{token}": "confirms a new address by its mailed link",
    "/account/shelf": "the reader's own shelf: titles, chapter numbers and notes, never a book's text",
    "/account/shelf/favourites": "adds or removes a favourite and redirects",
    "/account/shelf/bookmarks/listening": "bookmarks the reader's listening place and redirects",
    "/account/shelf/bookmarks/{bookmark_id:int}/delete": "deletes one of the reader's bookmarks",
    "/account/shelf/history/forget": "clears the reader's reading history",
    "/account/shelf/downloads/forget": "clears the reader's download history",
    "/account/shelf/listening": "the player reports its place (JSON); answers with no body",
    "/account/shelf/reading": "a chapter page reports the paragraph in view (JSON); answers with no body",
    "/id/{identifier:path}": "redirects a persistent identifier to the book page (the catalogue record)",
    "/account/passkeys/options": "the challenge for adding a passkey",
    "/account/passkeys": "adds a passkey to the reader's account",
    "/account/passkey-sign-in/options": "the challenge for signing in with a passkey",
    "/account/passkey-sign-in": "signs in with a passkey",
    "/account/passkeys/{passkey_id:int}/remove": "removes one of the reader's passkeys",
    "/account/eligibility": "the reader's application to read restricted books",
    "/account/eligibility/evidence/{application_id:int}": "the reader's own evidence file, to them only",
    "/account/organisation": "an organisation vouches for a member",
    "/account/organisation/csv": "an organisation vouches for members by a CSV file",
    "/account/export": "the reader's own data as JSON: their shelf names books, never their text",
    "/account/delete": "deletes the reader's account",
    "/staff/eligibility": "the staff review queue",
    "/staff/eligibility/log": "the log of staff views of evidence",
    "/staff/eligibility/{application_id:int}": "one application, for staff",
    "/staff/eligibility/{application_id:int}/evidence": "one application's evidence, for staff",
    "/staff/organisations": "staff make organisation accounts",
    "/healthz": "says the process answers (JSON), for a load balancer or systemd",
    "/readyz": "says whether the database, queue and storage answer (JSON), nothing about any book",
    "/metrics": "counts of requests by route template and of editions by format; no title, no text",
}
PLAIN_READER = "plain@example.org"  # signed up and confirmed, not (yet) an eligible reader
ELIGIBLE_READER = "eligible@example.org"
BOOK_PARAMS = ("book_id", "edition_id")


def _chapter(title: str, sentence: str, image: bool) -> Chapter:
    picture = '<p><img src="resource:lamp.png" alt="A lamp"></p>' if image else ""
    return Chapter(title=title, html=f"<p>{sentence}</p>{picture}", text=sentence)


def _publish(db, settings: Settings, book_id: int, fmt: str, options: dict) -> int:
    """An edition made by the real converter and published as a worker does."""
    edition_id, _ = store.request_edition(
        db, book_id, fmt, formats.normalise_options(formats.get_format(fmt), options)
    )
    token = store.claim(db, edition_id, lease_seconds=600)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    files = run_conversion(export_book(db, book_id), fmt, options, workspace, lambda f, s: None)
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    return edition_id


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> dict:
    """One eligible-only book with every kind of content, its editions, and what of it must never leak."""
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("rights") / "data")
    db = open_database(settings.database_path)
    book = IngestedBook(
        title=TITLE,
        source_format="txt",
        checksum="rights-walk",
        source_name="wexmoor.txt",
        authors=[AUTHOR],
        language="en",
        subjects=[SUBJECT],
        description="A record anyone may read.",
        rights=access.ELIGIBLE_ONLY,
        chapters=[_chapter("The Lamp", SENTENCES[0], True), _chapter("The Canal", SENTENCES[1], False)],
        toc=[TocEntry("The Lamp", 1, 0), TocEntry("The Canal", 1, 1)],
        resources=[Resource("lamp.png", "image/png", IMAGE)],
    )
    book_id = catalogue.add_book(db, book)
    readers.add_reader(db, PLAIN_READER, "Pat Plain", READER_PASSWORD)
    readers.add_reader(db, ELIGIBLE_READER, "Eli Gibson", READER_PASSWORD, role="eligible")
    editions = {fmt: _publish(db, settings, book_id, fmt, options) for fmt, options in EDITIONS.items()}
    names = sorted({f["name"] for e in editions.values() for f in store.get_edition(db, e)["files"]})
    root = storage_for(settings)
    secrets = [*_text_fingerprints(), IMAGE[100:140]]
    for edition_id in editions.values():
        for record in store.get_edition(db, edition_id)["files"]:
            secrets += _file_fingerprints((root.path(str(edition_id)) / record["name"]).read_bytes())
    identifier = catalogue.get_book(db, book_id)["identifier"]  # /id/... resolves it
    db.close()
    return {
        "settings": settings,
        "book_id": book_id,
        "identifier": identifier,
        "editions": editions,
        "names": [*names, "lamp.png"],
        "secrets": secrets,
    }


def _text_fingerprints() -> list[bytes]:
    """Three-word pieces of each sentence without the searched-for word (a results page repeats the
    query), and a piece of each sentence in braille, as the braille reading page would show it."""
    found = []
    for sentence, query in zip(SENTENCES, QUERY_WORDS, strict=True):
        words = [w for w in sentence.rstrip(".").split() if w.lower() != query]
        found += [" ".join(words[i : i + 3]).encode() for i in range(0, len(words) - 2, 2)]
        cells = translate(sentence, default_table("en")).braille
        found.append(cells[len(cells) // 3 : len(cells) // 3 + 12].encode())
    return found


def _file_fingerprints(data: bytes) -> list[bytes]:
    """Three 48-byte pieces of a published file (a quarter, half and three quarters in), each varied
    enough (a run of padding or a line of blanks would match other things) to belong to this file alone."""
    pieces = []
    for start in (len(data) // 4, len(data) // 2, 3 * len(data) // 4):
        while start + 48 <= len(data) and len(set(data[start : start + 48])) < 16:
            start += 48
        if start + 48 <= len(data):
            pieces.append(data[start : start + 48])
    return pieces


def _routes(routes: list[BaseRoute], prefix: str = "") -> list[tuple[str, set[str]]]:
    """(path, methods) of every route, inside Mounts and Hosts too; a Mount with no routes of its own (an
    app such as StaticFiles) is one entry."""
    found = []
    for route in routes:
        if isinstance(route, Route):
            found.append((prefix + route.path, set(route.methods or {"GET"}) - {"HEAD"}))
        elif isinstance(route, Mount | Host):
            inner = getattr(route, "routes", None) or []
            path = prefix + getattr(route, "path", "")
            found += _routes(inner, path) if inner else [(path, {"GET"})]
        else:  # a WebSocketRoute or something new: it must be classified like the rest
            found.append((prefix + getattr(route, "path", repr(route)), {"GET"}))
    return found


_PARAM = re.compile(r"{(\w+)(?::\w+)?}")


def _urls(path: str, library: dict) -> list[str]:
    """Every URL the walk asks for a route: each parameter filled with each value that could reach the
    restricted book. An unknown parameter fails the test, so a new kind of route gets thought about."""
    values = {
        "book_id": [library["book_id"]],
        "edition_id": list(library["editions"].values()),
        "name": library["names"],
        "position": [1, 2],
        "facet": list(browsing.FACETS),
        "value": ["en", SUBJECT, AUTHOR, "html", "mp3"],
        "code": ["en"],
        "action": ["claim", "complete"],
        "token": ["not-a-real-token"],
        "bookmark_id": [1],
        "identifier": [library["identifier"], "urn:isbn:9780306406157"],
        "passkey_id": [1],
        "application_id": [1],
        "account_id": [1],  # a staff account: no book in it
        "source_id": [1],  # another library harvested: none of our books in it
        "entry_id": [1],  # a pronunciation entry: a word and its reading, no book text
    }
    names = _PARAM.findall(path)
    unknown = [name for name in names if name not in values]
    assert not unknown, f"{path}: the rights walk does not know how to fill {unknown}; add values for them"
    urls = []
    for combination in product(*(values[name] for name in names)):
        filled = dict(zip(names, combination, strict=True))
        urls.append(_PARAM.sub(lambda match, filled=filled: str(filled[match.group(1)]), path))
    return urls


def _refusal_problem(path: str, method: str, response, signed_in: bool) -> str | None:
    """None when `response` refuses an anonymous visitor the way this part of the site must."""
    if path.startswith("/staff"):
        if response.status_code == 303 and response.headers["location"].startswith("/staff/login"):
            return None
        return f"{response.status_code}, not the staff sign-in"
    if path.startswith("/internal"):
        return (
            None if response.status_code in (401, 403) else f"{response.status_code}, not a signature refusal"
        )
    if response.status_code != 403:
        return f"{response.status_code}, not 403"
    if method != "GET":
        return None  # a refused form (its CSRF check, or the rights check) has no more to say
    if response.headers.get("content-type") == "application/json":  # a machine route: the same words
        refusal = response.json()
        hrefs = {link["href"].split("?")[0] for link in refusal.get("links", [])}
        if refusal.get("title") != "This book is for eligible readers only" or not refusal.get("error"):
            return "403 JSON without the eligibility title and message"
        if access.ELIGIBILITY_URL not in hrefs or (access.SIGN_IN_URL in hrefs) == signed_in:
            return "403 JSON without the links to become eligible (and to sign in, for a visitor)"
        return None
    page = BeautifulSoup(response.text, "html.parser")
    heading = page.find("h1")
    hrefs = {a["href"].split("?")[0] for a in page.select("main a[href]")}
    if heading is None or heading.get_text(strip=True) != "This book is for eligible readers only":
        return "403 without the eligibility heading"
    if access.ELIGIBILITY_URL not in hrefs:
        return "403 without the link to become eligible"
    if (access.SIGN_IN_URL in hrefs) == signed_in:
        return "403 with a sign-in link for a signed-in reader, or without one for a visitor"
    return None


def walk(app: Starlette, library: dict, reader: str | None = None) -> tuple[list[str], dict[str, list[int]]]:
    """Walk every route as an anonymous visitor, or as `reader` signed in through the real sign-in form:
    (problems found, the statuses each route answered)."""
    problems: list[str] = []
    statuses: dict[str, list[int]] = {}
    with TestClient(app) as client:
        if reader is not None:
            signed = reader_sign_in(client, reader, READER_PASSWORD)
            assert signed.status_code == 303 and signed.headers["location"] == "/account", signed.text
        for path, methods in _routes(app.routes):
            names = set(_PARAM.findall(path))
            names_a_book = bool(names & set(BOOK_PARAMS))
            if not names_a_book and path not in LISTS and path not in NO_BOOK_CONTENT:
                problems.append(f"{path}: not classified (add it to LISTS or NO_BOOK_CONTENT, with why)")
                continue
            queries = LISTS.get(path, [{}])
            for url, method, query in product(_urls(path, library), sorted(methods), queries):
                form = {"data": {}} if method == "POST" else {}
                response = client.request(method, url, params=query, follow_redirects=False, **form)
                statuses.setdefault(path, []).append(response.status_code)
                location = response.headers.get("location", "")
                if response.status_code == 303 and location.startswith(f"{url}?dl="):
                    response = client.get(location, follow_redirects=False)  # the reader's personal copy
                leaked = [s for s in library["secrets"] if s in response.content]
                if leaked:
                    problems.append(f"{method} {url} {query}: {len(leaked)} pieces of the book in the body")
                if names_a_book and path not in CATALOGUE_RECORD_ONLY:
                    problem = _refusal_problem(path, method, response, reader is not None)
                    if problem:
                        problems.append(f"{method} {url}: {problem}")
    return problems, statuses


@pytest.mark.parametrize("reader", [None, PLAIN_READER], ids=["anonymous", "signed-in-not-eligible"])
def test_no_byte_of_a_restricted_book_reaches_a_reader_who_may_not_read_it(library, reader) -> None:
    problems, statuses = walk(create_app(library["settings"]), library, reader)
    assert problems == []
    # The walk reached the routes that serve content, and each refused with the eligibility page.
    for path in CONTENT_ROUTES:
        assert statuses[path] and set(statuses[path]) == {403}, path
    assert set(statuses["/books/{book_id:int}"]) == {200}, "anyone may see the catalogue record"
    # Machine routes naming an edition: the worker API's signature check refuses them before anything else.
    for path in WORKER_ROUTES:
        assert statuses[path] and set(statuses[path]) == {401}, path


# Remote workers' reports and uploads (web/worker_api.py, web/worker_uploads.py): signed JSON, never a page;
# an upload is written only into its attempt's unpublished staging area.
WORKER_ROUTES = (
    "/internal/editions/{edition_id:int}/{action}",
    "/internal/editions/{edition_id:int}/uploads/{token}/files/{name}",
    "/internal/editions/{edition_id:int}/uploads/{token}/commit",
)
CONTENT_ROUTES = (
    "/books/{book_id:int}/read/{position:int}",
    "/books/{book_id:int}/read/{position:int}/braille",
    "/books/{book_id:int}/read/{position:int}/audio",
    "/books/{book_id:int}/read/{position:int}/timings",
    "/books/{book_id:int}/resources/{name}",
    "/books/{book_id:int}/braille",
    "/books/{book_id:int}/braille/{edition_id:int}",
    "/books/{book_id:int}/braille/{edition_id:int}.json",
    "/editions/{edition_id:int}/files/{name}",
)


def _assert_served(library: dict, problems: list[str], statuses: dict[str, list[int]]) -> None:
    """The content routes answered and their bodies carry the book: what a reader who may read it gets."""
    leaks = [p for p in problems if "pieces of the book" in p]
    book_id, editions = library["book_id"], library["editions"]
    for start in (
        f"GET /books/{book_id}/read/1 ",
        f"GET /books/{book_id}/read/2 ",
        f"GET /books/{book_id}/resources/lamp.png ",
        *(f"GET /editions/{editions[fmt]}/files/" for fmt in EDITIONS),
    ):
        assert any(p.startswith(start) for p in leaks), start
    assert 200 in statuses["/books/{book_id:int}/read/{position:int}/braille"]
    assert 200 in statuses["/books/{book_id:int}/read/{position:int}/audio"]  # spoken at once
    assert 200 in statuses["/books/{book_id:int}/read/{position:int}/timings"]  # read-along's sentence times
    assert 200 in statuses["/books/{book_id:int}/resources/{name}"]
    assert 303 in statuses["/books/{book_id:int}/braille"]  # to the edition or its status page
    assert 200 in statuses["/books/{book_id:int}/braille/{edition_id:int}"]
    assert 200 in statuses["/books/{book_id:int}/braille/{edition_id:int}.json"]


def test_an_eligible_reader_is_served_every_part_of_the_restricted_book(library) -> None:
    problems, statuses = walk(create_app(library["settings"]), library, ELIGIBLE_READER)
    _assert_served(library, problems, statuses)


def test_the_same_routes_serve_the_book_once_it_is_public(library) -> None:
    """The control: made public, the book's content routes answer and carry the text the walk looks for,
    so the refusals above come from the rights check and not from URLs that never worked."""
    db = open_database(library["settings"].database_path)
    try:
        with db.conn:
            rights.set_rights(db, library["book_id"], rights.Rights(access.PUBLIC_DOMAIN))
        problems, statuses = walk(create_app(library["settings"]), library)
    finally:
        with db.conn:
            rights.set_rights(db, library["book_id"], rights.Rights(access.ELIGIBLE_ONLY))
        db.close()
    _assert_served(library, problems, statuses)


def test_the_walk_catches_a_route_that_skips_the_check(library) -> None:
    """A route added without `access.require_read`, and one nobody classified, both fail the walk."""

    def careless_chapter(request):
        db = open_database(library["settings"].database_path, migrate=False)
        try:
            text = db.execute(
                "SELECT text FROM chapters WHERE book_id = ? AND position = 1",
                [request.path_params["book_id"]],
            ).fetchone()[0]
        finally:
            db.close()
        return HTMLResponse(f"<p>{text}</p>")

    app = create_app(library["settings"])
    app.router.routes.append(Route("/books/{book_id:int}/plain", careless_chapter))
    app.router.routes.append(
        Mount("/feeds", routes=[Route("/new", lambda request: HTMLResponse("<p>new</p>"))])
    )
    problems, _ = walk(app, library)
    assert any(
        p.startswith(f"GET /books/{library['book_id']}/plain {{}}: ") and "pieces" in p for p in problems
    )
    assert any(p == f"GET /books/{library['book_id']}/plain: 200, not 403" for p in problems)
    assert "/feeds/new: not classified (add it to LISTS or NO_BOOK_CONTENT, with why)" in problems


def test_every_route_in_the_lists_still_exists(library) -> None:
    """The lists name real routes: a renamed route is walked under its new name, not silently skipped."""
    paths = {path for path, _ in _routes(create_app(library["settings"]).routes)}
    for listed in (*CATALOGUE_RECORD_ONLY, *LISTS, *NO_BOOK_CONTENT):
        assert listed in paths, listed
