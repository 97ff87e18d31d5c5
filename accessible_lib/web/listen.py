"""Listening on the book page: the chapters of the newest finished MP3 edition, for the player.

The page works without JavaScript: each chapter is a plain link to its MP3, which the browser plays, and a
second link saves it. static/player.js turns the same list into one player with skip, speed, shortcuts and
a remembered position; the words it needs are written here by the server, already translated.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..editions import store
from ..ingest.errors import N_

SPEEDS = (0.75, 1.0, 1.25, 1.5, 1.75, 2.0, 2.5, 3.0)
LISTEN = "listen"
SHORTCUT_MODIFIERS = "Alt+Shift"


@dataclass(frozen=True)
class Control:
    """One player button and its shortcut: Alt+Shift and the key at `code` (KeyboardEvent.code, the
    physical key, so the layout and what Option types on a Mac do not matter).

    Screen readers in browse mode take plain letters for themselves, and Orca also takes Alt+Shift with
    A-C, E-I, K-M, O-R, T-V, X, the digits 1-6, the arrows, Home and End (its "list of ..." dialogs): the
    keys below are none of those, and NVDA, JAWS and VoiceOver use their own modifier keys instead.
    """

    action: str
    label: str  # the button's text (msgid)
    code: str
    key: str  # the key as aria-keyshortcuts names it
    shown: str  # the key as printed on the page
    help: str | None = None  # what the shortcut does, when the label alone does not say it (msgid)

    @property
    def shortcut(self) -> str:
        return f"{SHORTCUT_MODIFIERS}+{self.key}"


CONTROLS = (
    Control("previous", N_("Previous chapter"), "PageUp", "PageUp", "Page Up"),
    Control("back", N_("Back 30 seconds"), "Comma", ",", ","),
    Control("play", N_("Play"), "KeyS", "S", "S", help=N_("Play or pause")),
    Control("forward", N_("Forward 30 seconds"), "Period", ".", "."),
    Control("next", N_("Next chapter"), "PageDown", "PageDown", "Page Down"),
    Control("slower", N_("Slower"), "Minus", "-", "-"),
    Control("faster", N_("Faster"), "Equal", "=", "="),
)


def clock(seconds: float) -> str:
    """4:05 or 1:02:03: how players show a length, and how screen readers read it naturally."""
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def listening(editions: list[dict], book: dict | None = None) -> dict | None:
    """The player's chapters from the newest finished MP3 edition that has them; else, for `book`, every
    chapter spoken at once by instant listening (web/listen_audio.py), whose lengths are not known yet;
    else None."""
    for edition in sorted(editions, key=lambda e: e["id"], reverse=True):
        if edition["format"] != "mp3" or edition["status"] != store.DONE:
            continue
        files = sorted((f for f in edition["files"] if f.get("role") == LISTEN), key=lambda f: f["chapter"])
        if not files:
            continue
        chapters = [
            {
                "number": f["chapter"],
                "title": f["title"] or str(f["chapter"]),
                "href": f"/editions/{edition['id']}/files/{f['name']}",
                "seconds": f["seconds"] or 0,
                "duration": clock(f["seconds"] or 0),
            }
            for f in files
        ]
        total = sum(chapter["seconds"] for chapter in chapters)
        return {
            "edition_id": edition["id"],
            "instant": False,
            "chapters": chapters,
            "total": clock(total),
            "speeds": SPEEDS,
            "controls": CONTROLS,
        }
    if book and book.get("chapters"):
        chapters = [
            {
                "number": chapter["position"],
                "title": chapter.get("title") or str(chapter["position"]),
                "href": f"/books/{book['id']}/read/{chapter['position']}/audio",
                "seconds": 0,
                "duration": "",
            }
            for chapter in book["chapters"]
        ]
        return {
            "edition_id": None,
            "instant": True,
            "chapters": chapters,
            "total": "",
            "speeds": SPEEDS,
            "controls": CONTROLS,
        }
    return None
