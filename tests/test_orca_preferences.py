"""The reading preferences page through the real Orca screen reader: the radio buttons speak their group and
their label, a change of choice is heard, and saving is confirmed in words after the page comes back.

Keys are what a blind reader presses: Tab to the text-size group (the number of Tabs is counted from the
served HTML), Down to choose the next size, Enter to send the form (its first button is "Save"). The
harness is tests/orca_harness.py (Xvfb, Orca, speech-dispatcher, xdotool, Chromium); a missing tool fails
the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from accessible_lib.settings import Settings

from .live_server import LiveServer, start_server
from .orca_harness import read_page
from .test_orca import fetch
from .test_orca_accounts import said, tabs_to

pytestmark = [pytest.mark.orca, pytest.mark.slow]

SAVED = "Your reading preferences are saved. Every page now uses them."


@pytest.fixture(scope="module")
def orca_prefs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("orca-prefs") / "data")
    live = start_server(settings)
    try:
        yield live
    finally:
        live.stop()


def test_preferences_speak_their_labels_and_the_saved_confirmation(orca_prefs):
    url = orca_prefs.url + "/preferences"
    html = fetch(url)
    # ctrl+Home already puts Orca, and the focus, on the skip link: the first Tab stop is behind it.
    to_size = tabs_to(html, "text_size-100") - 1
    keys = ["ctrl+Home", *["Tab"] * to_size, "Down", "load:Return"]
    result = read_page(url, keys)
    assert result["ok"], f"Orca could not read {url}: {result.get('error')}"
    steps = result["steps"]
    on_size = said(steps[to_size])
    assert "Text size" in on_size and "100%" in on_size and "radio button" in on_size, on_size
    on_next = said(steps[to_size + 1])
    assert "125%" in on_next, on_next
    after_save = said(steps[to_size + 2])
    assert SAVED in after_save, after_save
