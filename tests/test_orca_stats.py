"""The statistics page through the real Orca screen reader: a chart is heard as one image, by its title and
its description, and the next table (T) is the same figures, day by day, with its caption.

Staff sign in first, by keyboard, on the sign-in page that leads to the statistics (`next=`); the expected
words come from the served page, fetched with the same account, never from a transcript. The harness is
tests/orca_harness.py (Xvfb, Orca, speech-dispatcher, xdotool, Chromium); a missing tool fails the test.
"""

from __future__ import annotations

import http.cookiejar
import urllib.parse
import urllib.request

import pytest
from bs4 import BeautifulSoup

from accessible_lib import auth, stats
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .live_server import start_server
from .orca_harness import read_page, spoken
from .test_orca import fetch
from .test_orca_accounts import tabs_to

pytestmark = [pytest.mark.orca, pytest.mark.slow]

USERNAME, PASSWORD = "librarian", "a long enough passphrase"
LOGIN = "/staff/login?next=%2Fstaff%2Fstats"


def staff_page(url: str) -> BeautifulSoup:
    """The statistics page as the signed-in librarian gets it, over the same HTTP as the browser."""
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    with opener.open(url + LOGIN, timeout=60) as response:
        form = BeautifulSoup(response.read(), "html.parser")
    fields = {
        field["name"]: field.get("value", "") for field in form.select("form[action^='/staff/login'] input")
    }
    fields.update(username=USERNAME, password=PASSWORD)
    with opener.open(url + "/staff/login", urllib.parse.urlencode(fields).encode(), timeout=60) as response:
        assert response.url.endswith("/staff/stats"), response.url
        return BeautifulSoup(response.read(), "html.parser")


def test_a_chart_is_heard_by_its_title_and_description_then_its_table(tmp_path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    auth.create_staff(db, USERNAME, PASSWORD)
    for query, total in (("whale", 2), ("whale", 2), ("whale", 2), ("no such book", 0)):
        stats.record_search(db, query, total)
    db.close()
    live = start_server(settings)
    try:
        page = staff_page(live.url)
        svg = page.find("svg", attrs={"role": "img"})  # the first chart: searches
        title, desc = svg.find("title").get_text(), svg.find("desc").get_text()
        caption = svg.find_next("table").caption.get_text(strip=True)
        rows = len(svg.find_next("table").find_all("tr"))
        assert title == "Searches" and "Highest: 4 on" in desc

        to_username = tabs_to(fetch(live.url + LOGIN), "username") - 1  # ctrl+Home is on the skip link
        keys = ["ctrl+Home", *["Tab"] * to_username, f"type:{USERNAME}", "Tab", f"type:{PASSWORD}", "Return"]
        keys += ["sleep:4", "g", "t"]  # the statistics page loads; next graphic; next table
        result = read_page(live.url + LOGIN, keys)
    finally:
        live.stop()
    assert result["ok"], f"Orca could not read the page: {result.get('error')}"
    # The page loads while Return or the wait after it is heard, whichever the machine's speed makes it.
    loaded = " ".join(spoken(result["steps"][-4:-2]))
    on_chart, on_table = (" ".join(spoken(step)) for step in result["steps"][-2:])
    assert "Finished loading Statistics" in loaded, loaded
    assert on_chart.startswith(f"{title} image"), on_chart
    assert desc in on_chart, on_chart
    assert on_table.startswith(caption), on_table
    assert f"table with {rows} rows 2 columns" in on_table, on_table
