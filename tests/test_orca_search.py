"""What a blind reader hears when a search corrects a typing error: the real Orca over Chromium, headless.

The "Did you mean" link sits in a role=status region right after the h1, so a reader who lands on the
heading with H hears it with the next Down arrow, as one sentence with its link, before the search form.
The expected words are computed from the served HTML, never copied from a transcript.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from bs4 import BeautifulSoup

from .live_server import LiveServer, live_server
from .orca_harness import read_page

pytestmark = [pytest.mark.orca, pytest.mark.slow]


@pytest.fixture(scope="module")
def orca_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    with live_server(tmp_path_factory.mktemp("orca") / "data") as running:
        yield running


def test_did_you_mean_is_heard_right_after_the_heading(orca_library):
    live, _ = orca_library
    url = f"{live.url}/search?q={quote('alcie')}"
    with urllib.request.urlopen(url, timeout=60) as response:
        soup = BeautifulSoup(response.read().decode("utf-8"), "html.parser")
    h1 = " ".join(soup.h1.get_text().split())
    status = soup.find(role="status")
    assert status is not None and status.find_previous(["h1", "h2"]) is soup.h1
    sentence = " ".join(status.p.get_text().split())
    link = status.p.a.get_text()
    assert sentence == f"Did you mean {link}?" and link == "alice"

    result = read_page(url, ["ctrl+Home", "h", "Down"])
    assert result["ok"], f"Orca could not read {url}: {result.get('error')}"
    on_h, on_down = ([u["text"] for u in step["utterances"]] for step in result["steps"][1:3])
    assert on_h == [f"{h1} heading level 1."]
    heard = "".join(on_down)
    assert f"{link} link." in heard, on_down
    assert " ".join(heard.replace(f"{link} link.", link).split()) == sentence, on_down
