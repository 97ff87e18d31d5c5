"""Read-along under the real Orca screen reader: starting it does not interrupt the reader.

The page is opened at the read-along heading (a fragment: Tab then goes to the first control after it,
the "Read aloud" toggle, as a reader's own Tab would). Return starts reading aloud; while the chapter plays
Orca must say nothing of the chapter (no sentence is pushed to a live region, no focus moves into the text),
only the toggle's new state; a Tab afterwards lands on "Previous sentence", the control after the toggle,
so the focus was still on the toggle. The chapter's heading, sentence-marked, still reads as a plain
heading. The sentences are the ones the listening route speaks
(spoken_text.chapter_lines), not copied text. The harness is tests/orca_harness.py; a missing tool fails.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accessible_lib import catalogue
from accessible_lib.db import open_database
from accessible_lib.editions.spoken_text import chapter_lines
from accessible_lib.settings import Settings

from .conftest import make_book
from .live_server import LiveServer, start_server
from .orca_harness import read_page
from .test_orca_accounts import said

pytestmark = [pytest.mark.orca, pytest.mark.slow]

TEXT = (
    "The lamp was lit at dusk. Nobody came to the door.\n\n"
    "Rain fell on the roof all night. The keeper wrote in his book."
)


@pytest.fixture(scope="module")
def orca_reading(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, int, list[str]]]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("orca-readalong") / "data")
    settings.data_dir.mkdir(parents=True)
    db = open_database(settings.database_path)
    book = catalogue.add_book(db, make_book("The Keeper", [("Night", TEXT)], language="en"))
    chapter = catalogue.get_chapter(db, book, 1)
    sentences = [line.sentence.display for line in chapter_lines(chapter, chapter["title"], "en")]
    db.close()
    live = start_server(settings)
    try:
        yield live, book, sentences
    finally:
        live.stop()


def test_reading_aloud_keeps_the_focus_and_says_no_sentence(orca_reading):
    live, book, sentences = orca_reading
    url = f"{live.url}/books/{book}/read/1#readalong-heading"
    result = read_page(url, ["Tab", "Return", "sleep:6", "Tab", "ctrl+Home", "h"])
    assert result["ok"], f"Orca could not read {url}: {result.get('error')}"
    on_toggle, on_start, playing, on_tab, _, on_heading = (said(step) for step in result["steps"])
    assert "Read aloud" in on_toggle and "toggle button" in on_toggle and "not pressed" in on_toggle, (
        on_toggle
    )
    assert "pressed" in on_start and "not pressed" not in on_start, on_start
    body = sentences[1:]  # the title is also the page's heading, which Orca may name in passing
    heard = [sentence for sentence in body if any(sentence in said(step) for step in result["steps"][1:])]
    assert heard == [], f"Orca announced sentences of the chapter while it was read aloud: {heard}"
    assert "Previous sentence" in on_tab and "button" in on_tab, on_tab  # the control after the toggle
    assert playing.strip() == "", f"Orca spoke while the chapter played: {playing}"
    # The marked text reads as plain text: no "clickable" (a click listener on it would make it one).
    assert on_heading.startswith(f"{sentences[0]} heading level 1") and "clickable" not in on_heading, (
        on_heading
    )
