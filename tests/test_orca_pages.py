"""The pages added with reader accounts, heard through the real Orca screen reader.

For each page a blind reader presses H to reach the h1 (it must say what the page is for), then Tab
through the page's form: each field must speak its label and its role. Nothing Orca says may be "None",
"blank" (an empty table cell, or a field Orca found no label for), or an unlabeled control. The words
expected are computed from the served HTML, never copied from a transcript.

One live server for the module, with a signed-in reader and a signed-in staff administrator: the
sessions are made by signing in through the real forms, and Chromium opens each page with the session's
cookies (orca_harness.py's `cookies=`). The harness is tests/orca_harness.py (Xvfb, Orca,
speech-dispatcher, xdotool, Chromium); a missing tool fails the test.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest
from bs4 import BeautifulSoup, Tag

from accessible_lib import access, catalogue, shelf, staff_accounts
from accessible_lib.db import open_database
from accessible_lib.editions import download_log, store
from accessible_lib.editions.storage import storage_for
from accessible_lib.ingest.model import IngestedBook
from accessible_lib.readers import add_reader
from accessible_lib.settings import Settings

from .conftest import make_book
from .live_server import LiveServer, start_server
from .orca_harness import read_page, spoken

pytestmark = [pytest.mark.orca, pytest.mark.slow]

READER_NAME, EMAIL, PASSWORD = "Orca Reader", "orca-reader@example.org", "the reader's passphrase"
ADMIN, ADMIN_PASSWORD = "orca-admin", "the admin's passphrase"
CLERK = "orca-clerk"
RESTRICTED = "The Restricted Voyage"
OPEN = "The Open Sea"
LOST = "A Manuscript Without Text"
CONTENT = b"Call me Ishmael.\n"


@dataclass
class Library:
    live: LiveServer
    reader_cookies: dict[str, str]
    staff_cookies: dict[str, str]
    restricted_id: int
    open_id: int
    lost_id: int
    edition_id: int
    download_id: str


def _publish_txt(settings: Settings, db, book_id: int) -> int:
    """A finished plain-text edition through the real storage, as a worker would publish it."""
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    (workspace / "book.txt").write_bytes(CONTENT)
    storage.publish(workspace, str(edition_id))
    files = [
        {
            "name": "book.txt",
            "media_type": "text/plain; charset=utf-8",
            "size": len(CONTENT),
            "sha256": hashlib.sha256(CONTENT).hexdigest(),
        }
    ]
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    return edition_id


def _fill(settings: Settings) -> dict:
    db = open_database(settings.database_path)
    try:
        chapters = [("Loomings", "Call me Ishmael.")]
        restricted_id = catalogue.add_book(
            db,
            make_book(
                RESTRICTED, chapters, authors=["Herman Melville"], language="en", rights=access.ELIGIBLE_ONLY
            ),
        )
        open_id = catalogue.add_book(
            db, make_book(OPEN, [("The Shore", "Waves."), ("The Deep", "Dark water.")], language="en")
        )
        lost = IngestedBook(LOST, "txt", hashlib.sha256(LOST.encode()).hexdigest(), "lost.txt", language="en")
        lost_id = catalogue.add_book(db, lost)
        edition_id = _publish_txt(settings, db, restricted_id)
        reader_id = add_reader(db, EMAIL, READER_NAME, PASSWORD)
        shelf.set_favourite(db, reader_id, open_id, True)
        shelf.add_bookmark(db, reader_id, open_id, chapter=2, paragraph=1, note="Where the water turns dark")
        shelf.record_reading(db, reader_id, open_id, 2, 1)
        shelf.record_download(db, reader_id, restricted_id, edition_id, "txt", "book.txt")
        staff_accounts.create(db, ADMIN, ADMIN_PASSWORD, admin=True)
        staff_accounts.create(db, CLERK, ADMIN_PASSWORD)
        download = download_log.record_download(
            db, reader_id=reader_id, reader_name=READER_NAME, edition_id=edition_id, file_name="book.txt"
        )
        download_log.record_served(db, download["id"], hashlib.sha256(CONTENT).hexdigest(), len(CONTENT))
    finally:
        db.close()
    return {
        "restricted_id": restricted_id,
        "open_id": open_id,
        "lost_id": lost_id,
        "edition_id": edition_id,
        "download_id": download["id"],
    }


def _token(page: httpx.Response) -> str:
    return BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]


def _signed_in(url: str, form_path: str, fields: dict[str, str], cookie: str) -> dict[str, str]:
    """Sign in through the real form, as a browser would; the cookies the browser then holds."""
    with httpx.Client(base_url=url, timeout=60) as browser:
        page = browser.get(form_path)
        answer = browser.post(form_path, data={"csrf_token": _token(page), **fields})
        assert answer.status_code == 303, answer.text
        cookies = dict(browser.cookies)
    assert cookie in cookies, cookies
    return cookies


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("orca-pages") / "data")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    made = _fill(settings)
    live = start_server(settings)
    try:
        reader = _signed_in(
            live.url, "/account/sign-in", {"email": EMAIL, "password": PASSWORD, "next": ""}, "reader_session"
        )
        staff = _signed_in(
            live.url,
            "/staff/login",
            {"username": ADMIN, "password": ADMIN_PASSWORD, "next": "/staff"},
            "staff_session",
        )
        yield Library(live, reader, staff, **made)
    finally:
        live.stop()


def served(url: str, cookies: dict[str, str], status: int = 200) -> BeautifulSoup:
    """The page as the server gives it to this visitor: what the expected words are computed from."""
    answer = httpx.get(url, cookies=cookies, timeout=60)
    assert answer.status_code == status, (url, answer.status_code)
    return BeautifulSoup(answer.text, "html.parser")


def text_of(element: Tag) -> str:
    return " ".join(element.get_text(" ").split())


def words(text: str) -> str:
    """Words only: Chromium puts a space where a visually hidden span starts ("Remove : The Open Sea")."""
    return " ".join(re.findall(r"\w+", text.lower()))


def said(step: dict) -> str:
    return " ".join(spoken(step))


def the_h1(page: BeautifulSoup) -> str:
    [h1] = page.find_all("h1")
    return text_of(h1)


@dataclass
class Stop:
    """One Tab stop as the served HTML says it must be heard: its label and its role."""

    label: str
    role: str
    described: str = ""
    group: str = ""  # a radio group's legend, heard as the group is entered


def _role(element: Tag) -> str:
    if element.name == "a":
        return "link"
    if element.name == "button":
        return "toggle button" if element.has_attr("aria-pressed") else "push button"
    if element.name == "select":
        return "combo box"
    if element.name == "textarea":
        return "entry"
    if element.name == "input":
        kind = element.get("type", "text")
        return {
            "password": "password text",
            "checkbox": "check box",
            "radio": "radio button",
            "file": "push button",
        }.get(kind, "entry")
    return element.get("role", "")


def _label(page: BeautifulSoup, element: Tag) -> str:
    if element.name in ("a", "button"):
        return text_of(element)
    if element.get("aria-labelledby"):
        return " ".join(text_of(page.find(id=part)) for part in element["aria-labelledby"].split())
    label = page.find("label", attrs={"for": element.get("id")})
    assert label is not None, f"no label for {element}"
    return text_of(label)


def _described(page: BeautifulSoup, element: Tag) -> str:
    ids = element.get("aria-describedby", "").split()
    return " ".join(text_of(page.find(id=part)) for part in ids)


def tab_stops(page: BeautifulSoup, after: Tag) -> list[Stop]:
    """The Tab stops after `after` in document order. A radio group is one stop (its first radio when
    none is chosen); a show-password button, hidden in the HTML, is revealed by /static/account.js."""
    stops, groups = [], set()
    for element in after.find_all_next(True):
        if element.get("tabindex") == "-1" or element.has_attr("disabled"):
            continue
        focusable = (
            (element.name == "a" and element.has_attr("href"))
            or (
                element.name == "button"
                and (not element.has_attr("hidden") or element.has_attr("data-show-password"))
            )
            or (element.name == "input" and element.get("type") != "hidden")
            or element.name in ("select", "textarea")
            or element.get("tabindex") == "0"
        )
        if not focusable:
            continue
        if element.get("type") == "radio":
            if element["name"] in groups:
                continue
            groups.add(element["name"])
            legend = element.find_parent("fieldset").find("legend")
            stops.append(Stop(_label(page, element), "radio button", group=text_of(legend)))
            continue
        stops.append(Stop(_label(page, element), _role(element), _described(page, element)))
    return stops


UNHEARD = re.compile(r"\bNone\b|\bblank\b|unlabel", re.IGNORECASE)
BARE_ROLE = re.compile(
    r"^(push button|toggle button|entry|password text|link|check box|radio button|combo box)\.?$"
)


def nothing_wrong(result: dict) -> None:
    """Nothing Orca said on the page is "None", "blank" or a control without a name."""
    for utterance in result["startup"] + [u for step in result["steps"] for u in step["utterances"]]:
        text = utterance["text"].strip()
        assert not UNHEARD.search(text), f"Orca said {text!r}"
        assert not BARE_ROLE.match(text), f"Orca heard a control without a name: {text!r}"


def hear(url: str, keys: list[str], cookies: dict[str, str]) -> dict:
    result = read_page(url, keys, cookies=cookies)
    assert result["ok"], f"Orca could not read {url}: {result.get('error')}"
    nothing_wrong(result)
    return result


def assert_heard_h1(step: dict, page: BeautifulSoup) -> None:
    """H from the top: the page's one h1, which says what the page is for."""
    texts = spoken(step)
    assert texts and texts[0] == f"{the_h1(page)} heading level 1.", texts


def assert_tabbed(steps: list[dict], stops: list[Stop]) -> None:
    """Each Tab speaks its stop's label, its role, and the hint or error the field is described by."""
    assert len(steps) == len(stops)
    for step, stop in zip(steps, stops, strict=True):
        heard = said(step)
        assert words(stop.label) in words(heard), (stop, heard)
        assert stop.role in heard, (stop, heard)
        if stop.described:
            assert words(stop.described) in words(heard), (stop, heard)
        if stop.group:
            assert words(stop.group) in words(heard), (stop, heard)


def tab_through(library: Library, path: str, cookies: dict[str, str], *, status: int = 200) -> None:
    """The shared check: H reaches the h1; Tab from there through every stop the page has after it."""
    url = library.live.url + path
    page = served(url, cookies, status)
    stops = tab_stops(page, page.find("h1"))
    assert stops, f"{path} has nothing to Tab to after its h1"
    result = hear(url, ["ctrl+Home", "h", *["Tab"] * len(stops)], cookies)
    assert_heard_h1(result["steps"][1], page)
    assert_tabbed(result["steps"][2:], stops)


def test_eligibility_application(library):
    """Both radio groups speak their question with the first answer; the file field and the certificate
    number speak their hints."""
    tab_through(library, "/account/eligibility", library.reader_cookies)


def test_shelf(library):
    """From the h1, H again to the first list (past the page's own contents links), then Tab: every button
    and link names its book when heard alone ("Remove from history" and "continue at chapter 2" did not)."""
    url = library.live.url + "/account/shelf"
    page = served(url, library.reader_cookies)
    first = page.find("h2")
    stops = tab_stops(page, first)
    assert len(stops) >= 8, "a favourite, a bookmark, a reading and a download on the shelf"
    result = hear(url, ["ctrl+Home", "h", "h", *["Tab"] * len(stops)], library.reader_cookies)
    assert_heard_h1(result["steps"][1], page)
    assert spoken(result["steps"][2])[0] == f"{text_of(first)} heading level 2."
    assert_tabbed(result["steps"][3:], stops)


def test_refusal_of_an_eligible_only_download(library):
    """A reader not yet eligible who follows a download link hears why, and the ways on."""
    tab_through(library, f"/editions/{library.edition_id}/files/book.txt", library.reader_cookies, status=403)


def test_staff_accounts_table_and_form(library):
    """H and Tab through the table's buttons and the new-account form; then the table cell by cell:
    each cell says its own words, never "blank"."""
    url = library.live.url + "/staff/accounts"
    page = served(url, library.staff_cookies)
    stops = tab_stops(page, page.find("h1"))
    # Every cell, the button cells last: from a cell whose button Chromium focuses, a move left lands on
    # the focusable scroll region around the table and Orca says "Not in a table" (Orca 43, sometimes;
    # a move right or up from there, or reaching the button, does not lose the table).
    moves = ["alt+shift+Right"] * 3 + ["alt+shift+Left"] * 3 + ["alt+shift+Down"] + ["alt+shift+Right"] * 2
    moves += ["alt+shift+Down"] + ["alt+shift+Left"] * 2 + ["alt+shift+Right"] * 3 + ["alt+shift+Up"]
    cells = [(0, 0), (0, 1), (0, 2), (0, 3), (0, 2), (0, 1), (0, 0), (1, 0), (1, 1), (1, 2), (2, 2), (2, 1)]
    cells += [(2, 0), (2, 1), (2, 2), (2, 3), (1, 3)]
    keys = ["ctrl+Home", "h", *["Tab"] * len(stops), "ctrl+Home", "t", *moves]
    result = hear(url, keys, library.staff_cookies)
    steps = result["steps"]
    assert_heard_h1(steps[1], page)
    assert_tabbed(steps[2 : 2 + len(stops)], stops)
    rows = [row.find_all(["th", "td"]) for row in page.find("table").find_all("tr")]
    assert len(rows) == 3, "the admin and the clerk"
    for step, (row, column) in zip(steps[3 + len(stops) :], cells, strict=True):
        heard = said(step)
        for part in rows[row][column].stripped_strings:  # each control's words; Orca names its role between
            assert words(part) in words(heard), ((row, column), heard)
        if step["key"] != "t":  # T enters the table at its first cell; a move names where it went
            assert f"Row {row + 1}, column {column + 1}." in spoken(step), heard


def test_staff_settings(library):
    """No form: H, then down through the first settings, each its name, value and help."""
    url = library.live.url + "/staff/settings"
    page = served(url, library.staff_cookies)
    result = hear(url, ["ctrl+Home", "h", *["Down"] * 14], library.staff_cookies)
    assert_heard_h1(result["steps"][1], page)
    heard = words(" ".join(said(step) for step in result["steps"][2:]))
    for term in page.find("dl").find_all("dt")[:2]:
        value = term.find_next_sibling("dd")
        assert words(text_of(term)) in heard, heard
        assert words(text_of(value.find("p", lang="en"))) in heard, heard


def test_staff_download_lookup(library):
    """The id field and its button by Tab; then, from the result's heading down, every fact and its value."""
    url = f"{library.live.url}/staff/downloads?id={library.download_id}"
    page = served(url, library.staff_cookies)
    form_stops = tab_stops(page, page.find("h1"))[:2]
    facts = page.find("dl", class_="facts")
    lines = [text_of(item) for item in facts.find_all(["dt", "dd"])]
    keys = ["ctrl+Home", "h", "Tab", "Tab", "h", *["Down"] * len(lines)]
    result = hear(url, keys, library.staff_cookies)
    steps = result["steps"]
    assert_heard_h1(steps[1], page)
    assert_tabbed(steps[2:4], form_stops)
    assert spoken(steps[4])[0] == f"{text_of(page.find('h2', id='download-heading'))} heading level 2."
    for step, line in zip(steps[5:], lines, strict=True):
        assert words(line) in words(said(step)), (line, spoken(step))
    given = said(steps[5 + lines.index("Given") + 1])
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", given), f"a time as people say it: {given}"


def test_attach_a_file_to_a_metadata_only_record(library):
    """The edit page of a record without text: its h1, then its "attach" heading, the file field and the
    button."""
    url = f"{library.live.url}/staff/books/{library.lost_id}/edit"
    page = served(url, library.staff_cookies)
    heading = page.find("h2", id="attach-file")
    assert heading is not None, "a metadata-only record's edit page offers to attach its file"
    stops = tab_stops(page, heading)[:2]
    assert [stop.role for stop in stops] == ["push button", "push button"]  # the file field, the button
    result = hear(url, ["ctrl+Home", "h", "h", "Tab", "Tab"], library.staff_cookies)
    steps = result["steps"]
    assert_heard_h1(steps[1], page)
    assert spoken(steps[2])[0] == f"{text_of(heading)} heading level 2."
    assert_tabbed(steps[3:], stops)
