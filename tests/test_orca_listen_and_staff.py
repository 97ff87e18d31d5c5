"""The chapter page's "Listen to this chapter" player and the staff pages of the union catalogue and the
pronunciation dictionary, heard through the real Orca screen reader.

The player: H twice reaches its heading, Tab the player and its Play button, Space plays ("Playing") and
pauses ("Paused at 0:03"), and a library at capacity is heard saying when to try again. The staff pages: each
field speaks its label and hint, a wrong address or a missing reading is announced with its message, a
source's facts are heard with times as people say them, a dictionary row has no "blank" cell, and Listen to
a sample sentence comes back reading the sentence, with a player next that names itself. Expected words come
from the served HTML, never from a transcript. The harness is tests/orca_harness.py (Xvfb, Orca,
speech-dispatcher, xdotool, Chromium); a missing tool fails the test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx2 as httpx
import pytest
from bs4 import BeautifulSoup

from accessible_lib import catalogue, pronunciations, staff_accounts
from accessible_lib.db import open_database
from accessible_lib.harvest import HarvestError, harvest_source, register
from accessible_lib.settings import Settings

from .conftest import make_book
from .live_server import LiveServer, start_server
from .orca_harness import read_page, spoken
from .test_harvest import BILLION_LAUGHS, FOUR_RECORDS, FeedServer, OaiRepository, send
from .test_orca_pages import (
    assert_heard_h1,
    assert_tabbed,
    hear,
    nothing_wrong,
    said,
    served,
    tab_stops,
    text_of,
    words,
)

pytestmark = [pytest.mark.orca, pytest.mark.slow]

ADMIN, PASSWORD = "orca-librarian", "the librarian's passphrase"
LIBRARY_NAME = "Harbour Town Library"
# About half a minute of speech, so that a pause comes long before the end of the chapter.
CHAPTER = "\n\n".join(
    f"This is sentence {n} of the chapter, read aloud while it streams to the listener." for n in range(12)
)
WORD, READING = "Lenore", "leh-NOR"


@dataclass
class Library:
    live: LiveServer
    feeds: FeedServer
    cookies: dict[str, str]
    book_id: int
    entry_id: int


def _token(page: httpx.Response) -> str:
    return BeautifulSoup(page.text, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Library]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("orca-listen-staff") / "data")
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    feeds = FeedServer()
    feeds.routes["/oai"] = OaiRepository(list(FOUR_RECORDS))
    db = open_database(settings.database_path)
    try:
        chapters = [("One", CHAPTER), ("Two", CHAPTER.replace("chapter", "second chapter"))]
        book_id = catalogue.add_book(db, make_book("The Streaming Book", chapters, language="en"))
        staff_accounts.create(db, ADMIN, PASSWORD, admin=True)
        # One complete harvest, then a failed one: every fact of a source, its last error included.
        source = register(db, settings, feeds.url + "/oai", LIBRARY_NAME)
        harvest_source(db, settings, source["id"])
        feeds.routes["/oai"] = send(BILLION_LAUGHS)
        with pytest.raises(HarvestError):
            harvest_source(db, settings, source["id"])
        entry = {"lang": "en", "written": WORD, "reading": READING, "kind": "respelling", "whole_word": "yes"}
        entry |= {"case_sensitive": "no", "book_id": "", "note": ""}  # no note: its cell must not be blank
        entry_id, errors = pronunciations.save(db, entry, by=ADMIN)
        assert entry_id is not None, errors
    finally:
        db.close()
    live = start_server(settings)
    try:
        with httpx.Client(base_url=live.url, timeout=60) as browser:
            form = browser.get("/staff/login")
            fields = {"username": ADMIN, "password": PASSWORD, "next": "/staff", "csrf_token": _token(form)}
            assert browser.post("/staff/login", data=fields).status_code == 303
            cookies = dict(browser.cookies)
        yield Library(live, feeds, cookies, book_id, entry_id)
    finally:
        live.stop()
        feeds.stop()


def posted(library: Library, path: str, fields: dict[str, str], form_path: str) -> BeautifulSoup:
    """What the server answers a form sent with these values: the page Orca must hear after Enter."""
    with httpx.Client(base_url=library.live.url, cookies=library.cookies, timeout=60) as browser:
        token = _token(browser.get(form_path))
        answer = browser.post(path, data={"csrf_token": token, **fields})
    return BeautifulSoup(answer.text, "html.parser")


# --- The chapter page's instant player ------------------------------------------------------------------


def test_the_listen_control_says_what_it_is_that_it_plays_and_where_it_paused(library):
    url = f"{library.live.url}/books/{library.book_id}/read/1"
    page = served(url, {})
    section = page.find(attrs={"data-listen-now": True})
    heading = text_of(section.find("h2"))
    # While it plays Orca's log never goes quiet (the time slider moves): each key waits 4 s at the most.
    result = read_page(url, ["ctrl+Home", "h", "h", "Tab", "Tab", "space", "sleep:2", "space"], max_wait=4)
    assert result["ok"], result.get("error")
    nothing_wrong(result)
    steps = result["steps"]
    assert_heard_h1(steps[1], page)
    assert spoken(steps[2])[0] == f"{heading} heading level 2."
    # Orca names the player after its heading; right after reading that heading it gives the role alone.
    assert "audio" in said(steps[3]), said(steps[3])
    assert "play push button" in said(steps[4]), said(steps[4])
    # Space, a wait, Space: "Playing" then "Paused at m:ss", whichever key Orca's log put them under (on a
    # busy machine the first audio may arrive after the key's wait ended).
    heard = spoken(steps[5]) + spoken(steps[6]) + spoken(steps[7])
    paused = re.escape(section["data-text-paused"]).replace(re.escape("%(time)s"), r"\d+:\d\d")
    assert section["data-text-playing"] in heard, heard
    at = [i for i, text in enumerate(heard) if re.fullmatch(paused, text)]
    assert at and at[-1] > heard.index(section["data-text-playing"]), heard


def test_a_busy_library_is_heard_with_when_to_try_again(library):
    """Chapter 2, never heard before: a chapter already heard whole is a file, served even when busy."""
    url = f"{library.live.url}/books/{library.book_id}/read/2"
    page = served(url, {})
    service = library.live.server.lifespan.state["listening"]
    taken = 0
    try:
        while service.admit():  # every place taken, as by other listeners' streams
            taken += 1
        busy = httpx.head(url + "/audio", timeout=60)
        assert busy.status_code == 503
        template = page.find(attrs={"data-listen-now": True})["data-text-busy"]
        message = template.replace("%(seconds)s", busy.headers["retry-after"])
        result = hear(url, ["ctrl+Home", "h", "h", "Tab", "Tab", "space", "sleep:2"], {})
    finally:
        for _ in range(taken):
            service.release()
    heard = spoken(result["steps"][5]) + spoken(result["steps"][6])
    assert message in heard, heard


# --- Other libraries (/staff/sources) ------------------------------------------------------------------


def test_sources_page_speaks_its_form_a_wrong_address_and_each_fact_of_a_source(library):
    url = library.live.url + "/staff/sources"
    page = served(url, library.cookies)
    stops = tab_stops(page, page.find("h1"))[:3]  # the address, the name, the button
    wrong = "http://127.0.0.1:9/no-library-here"
    after = posted(library, "/staff/sources", {"url": wrong, "name": ""}, "/staff/sources")
    [message] = [text_of(link) for link in after.find(id="error-summary").find_all("a")]
    source = after.find("h3", string=LIBRARY_NAME).find_parent("section")
    # Each piece of text by itself: Orca names a link's role between it and the words after it.
    facts = [part for item in source.find("dl").find_all(["dt", "dd"]) for part in item.stripped_strings]
    keys = ["ctrl+Home", "h", "Tab", "Tab", "Tab", "shift+Tab", "shift+Tab", f"type:{wrong}", "load:Return"]
    keys += ["3", *["Down"] * 14]  # twelve lines of facts; the error may wrap onto two
    result = hear(url, keys, library.cookies)
    steps = result["steps"]
    assert_heard_h1(steps[1], page)
    assert_tabbed(steps[2:5], stops)
    announced = said(steps[8])
    assert "There is a problem" in announced and message in announced, announced
    assert spoken(steps[9])[0] == f"{LIBRARY_NAME} heading level 3."
    # Orca says a value's role again where a long value wraps onto a second line of the screen.
    heard = words(" ".join(said(step) for step in steps[10:])).replace("description value ", "")
    for fact in facts:
        assert words(fact) in heard, (fact, heard)
    times = re.findall(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", " ".join(said(step) for step in steps[10:]))
    assert len(times) == 2, "the last harvest and the last complete one, as people say a time"


# --- The pronunciation dictionary ----------------------------------------------------------------------


def test_dictionary_row_is_heard_cell_by_cell_without_a_blank(library):
    url = library.live.url + "/staff/pronunciations"
    page = served(url, library.cookies)
    row = page.find("table").find("tbody").find("tr")
    cells = row.find_all(["th", "td"])
    # Leaving a cell whose link Chromium focuses hands the next move to the focusable scroll region around
    # the table, and Orca says "Not in a table" (Orca 43; as in test_orca_pages' accounts walk). So the
    # first cell (a link) is heard by itself, then the walk starts again from the second column's header
    # and ends on the last cell (a link and a button).
    keys = ["ctrl+Home", "t", "alt+shift+Down", "ctrl+Home", "t", "alt+shift+Right", "alt+shift+Down"]
    keys += ["alt+shift+Right"] * (len(cells) - 2)
    result = hear(url, keys, library.cookies)
    steps = result["steps"]
    heard_cells = [steps[2], *steps[6:]]
    assert len(heard_cells) == len(cells)
    for cell_number, step in enumerate(heard_cells, start=1):
        assert f"Row 2, column {cell_number}." in said(step), said(step)
    for step, cell in zip(heard_cells, cells, strict=True):
        for part in cell.stripped_strings:  # each control's words; Orca names its role between
            assert words(part) in words(said(step)), (part, said(step))


def test_add_form_announces_a_missing_reading_and_its_link_leads_to_the_field(library):
    url = library.live.url + "/staff/pronunciations/new"
    page = served(url, library.cookies)
    stops = tab_stops(page, page.find("h1"))
    to_written = [i for i, stop in enumerate(stops) if stop.label == "Written form"][0] + 1
    fields = {"lang": "zh", "written": "Lenore", "kind": "pinyin", "whole_word": "yes"}
    after = posted(library, "/staff/pronunciations/new", fields, "/staff/pronunciations/new")
    messages = [text_of(link) for link in after.find(id="error-summary").find_all("a")]
    assert messages, "a word without its reading is an error"
    keys = ["ctrl+Home", "h", *["Tab"] * to_written, "type:Lenore", "load:Return", "Tab", "Return"]
    result = hear(url, keys, library.cookies)
    steps = result["steps"]
    assert_tabbed(steps[2 : 2 + to_written], stops[:to_written])
    announced = said(steps[3 + to_written])
    assert "There is a problem" in announced, announced
    for message in messages:
        assert message in announced, (message, announced)
    assert messages[0] in said(steps[4 + to_written]) and "link" in said(steps[4 + to_written])
    in_field = said(steps[5 + to_written])  # the summary's link puts the focus in its field, error read
    assert "entry" in in_field and messages[0] in in_field, in_field


def test_listen_to_a_sample_sentence_reads_the_sentence_then_a_player_names_itself(library):
    url = f"{library.live.url}/staff/pronunciations/{library.entry_id}"
    page = served(url, library.cookies)
    buttons = [text_of(button) for button in page.find("main").find_all("button")]
    listen = next(i for i, text in enumerate(buttons) if text == "Listen to a sample sentence")
    sample = pronunciations.sample_sentence("en", WORD)
    # B moves from button to button: the header's search, then the staff pages' sign-out, then the form's.
    result = hear(url, ["ctrl+Home", *["b"] * (listen + 2), "Return", "Tab"], library.cookies)
    steps = result["steps"]
    assert "Listen to a sample sentence push button" in said(steps[-3]), said(steps[-3])
    back = said(steps[-2])  # the page again, the sentence read from its focused notice
    assert sample in back and "not saved yet" in back and "Unable to play" not in back, back
    player = said(steps[-1])
    assert "Listen to the sample sentence audio" in player and sample in player, player
