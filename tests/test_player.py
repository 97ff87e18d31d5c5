"""The Listen section of the book page, over a real MP3 edition made by the real converter.

Without JavaScript the section must still do the job: a link per chapter that plays in the browser, and one
that saves it. The JavaScript player is driven in a real browser in tests/test_browser_player.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from mutagen.mp3 import MP3

from accessible_lib import catalogue
from accessible_lib.editions import store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import run_conversion
from accessible_lib.editions.storage import storage_for
from accessible_lib.web.listen import CONTROLS, clock

from .conftest import make_book


def publish_mp3(db, settings, book_id: int) -> int:
    """A finished MP3 edition built and published as a worker would (espeak engine, for speed)."""
    edition_id, _ = store.request_edition(db, book_id, "mp3", {"engine": "espeak"})
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    files = run_conversion(
        export_book(db, book_id), "mp3", {"engine": "espeak"}, workspace, lambda f, s: None
    )
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    return edition_id


@pytest.fixture
def listened(db, settings) -> dict:
    chapters = [
        ("第一回", "此开卷第一回也。"),
        ("第二回", "诗云：一局输赢料不真。"),
        ("第三回", "却说雨村。"),
    ]
    book_id = catalogue.add_book(db, make_book("红楼梦", chapters, language="zh-Hans"))
    return {"book_id": book_id, "edition_id": publish_mp3(db, settings, book_id), "chapters": chapters}


def _section(client, book_id: int):
    soup = BeautifulSoup(client.get(f"/books/{book_id}").text, "html.parser")
    return soup, soup.find("section", id="listen")


def test_without_an_mp3_edition_the_player_plays_every_chapter_spoken_at_once(client, sample_library) -> None:
    book = sample_library["en"]
    _, section = _section(client, book)
    links = section.select("ol.listen-chapters a[data-chapter]")
    assert [a["href"] for a in links] == [f"/books/{book}/read/{n}/audio" for n in (1, 2, 3)]
    assert [a.get_text(strip=True) for a in links] == ["Loomings", "The Carpet-Bag", "The Spouter-Inn"]
    assert section.find("audio")["src"] == f"/books/{book}/read/1/audio"
    assert not section.has_attr("data-edition")  # the place kept is the book's, not an edition's
    assert section.select(".duration") == []  # lengths are not known before the chapters are spoken
    assert "as you listen: 3 chapters" in section.get_text(" ", strip=True)
    assert client.get(links[1]["href"]).headers["content-type"] == "audio/mpeg"


def test_listen_section_lists_every_chapter_with_a_playable_link(client, listened, tmp_path: Path) -> None:
    soup, section = _section(client, listened["book_id"])
    heading = section.find("h2")
    assert section["aria-labelledby"] == heading["id"] and heading.get_text() == "Listen"
    # first thing after the start-reading button: listening is a main task, not a footnote
    assert [h.get_text() for h in soup.find("main").find_all("h2")][0] == "Listen"
    links = section.select("ol.listen-chapters a[data-chapter]")
    assert [a.get_text() for a in links] == [title for title, _ in listened["chapters"]]
    assert all(a["lang"] == "zh-Hans" for a in links)
    for number, link in enumerate(links, start=1):
        response = client.get(link["href"])
        assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
        assert response.headers["content-disposition"].startswith("inline;")  # plays in the browser
        path = tmp_path / f"{number}.mp3"
        path.write_bytes(response.content)
        assert (
            link.find_next_sibling("span", class_="duration").get_text()
            == f"({clock(MP3(path).info.length)})"
        )
        save = link.find_next_sibling("a", class_="save")
        assert save.has_attr("download") and save.get_text() == f"Save chapter {number}"
        saved = client.get(save["href"])
        assert saved.headers["content-disposition"].startswith("attachment;")
        assert saved.content == response.content


def test_player_controls_are_buttons_with_documented_shortcuts(client, listened) -> None:
    _, section = _section(client, listened["book_id"])
    player = section.find(attrs={"data-player": True})
    assert player.has_attr("hidden")  # shown by the script; without it the links above are the player
    audio = player.find("audio")
    assert audio.has_attr("controls") and audio["preload"] == "none" and audio["aria-label"]
    buttons = {b["data-action"]: b for b in player.select("button[data-action]")}
    labels = {action: b.get_text() for action, b in buttons.items()}
    assert labels["back"] == "Back 30 seconds" and labels["forward"] == "Forward 30 seconds"
    assert {"previous", "next", "play", "slower", "faster"} <= set(labels)
    documented = [
        ("+".join(k.get_text() for k in dt.find_all("kbd")), dt.find_next_sibling("dd").get_text())
        for dt in player.select("details.shortcuts dt")
    ]
    # every shortcut is a visible button, documented on the page, with the same key in all three places
    with_keys = [b for b in buttons.values() if b.has_attr("data-code")]
    assert len(documented) == len(with_keys) == len(CONTROLS)
    for control, (keys, meaning) in zip(CONTROLS, documented, strict=True):
        button = buttons[control.action]
        assert button["data-code"] == control.code
        assert button["aria-keyshortcuts"] == control.shortcut == f"Alt+Shift+{control.key}"
        assert keys == f"Alt+Shift+{control.shown}"
        assert meaning == (control.help or control.label)
    assert documented[[c.action for c in CONTROLS].index("play")][1] == "Play or pause"
    speeds = [float(o["value"]) for o in player.find("select").find_all("option")]
    assert min(speeds) == 0.75 and max(speeds) == 3.0 and 1.0 in speeds
    label = player.find("label", attrs={"for": player.find("select")["id"]})
    assert label is not None
    assert player.find(attrs={"role": "status"}) is not None


# Orca 43 opens its "list of ..." dialogs on Alt+Shift with these keys (orca/structural_navigation.py), so
# a player shortcut on one of them never reaches the page; tests/test_browser_player.py hears it in Orca.
ORCA_ALT_SHIFT = set("ABCEFGHIKLMOPQRTUVX123456") | {"Left", "Right", "Up", "Down", "Home", "End"}


def test_no_shortcut_is_one_orca_takes() -> None:
    keys = [control.key.upper() for control in CONTROLS]
    assert len(set(keys)) == len(keys)
    assert not set(keys) & ORCA_ALT_SHIFT


def test_download_list_shows_the_zip_not_every_chapter(client, listened) -> None:
    soup, _ = _section(client, listened["book_id"])
    editions = soup.find("ul", class_="editions")
    hrefs = [a["href"] for a in editions.find_all("a", href=True) if "/editions/" in a["href"]]
    assert hrefs == [f"/editions/{listened['edition_id']}/files/book.zip"]


def test_listen_section_in_chinese(client, listened) -> None:
    client.cookies.set("locale", "zh_Hans")
    _, section = _section(client, listened["book_id"])
    assert section.find("h2").get_text() == "收听"
    assert "第一回" in section["data-text-now"] or "%(title)s" in section["data-text-now"]
    assert section.find("button", attrs={"data-action": "back"}).get_text() == "后退 30 秒"
