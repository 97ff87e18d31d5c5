"""The sign-in page through the real Orca screen reader: its fields speak their labels, a failed sign-in is
announced, and the error summary's link takes the reader to the field it is about.

Keys are what a blind reader presses: Tab to the Email field (the number of Tabs is counted from the served
HTML), type, Tab, type a wrong password, Enter; then Tab to the summary's link and Enter. The harness is
tests/orca_harness.py (Xvfb, Orca, speech-dispatcher, xdotool, Chromium); a missing tool fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from bs4 import BeautifulSoup

from accessible_lib import readers
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .live_server import LiveServer, start_server
from .orca_harness import read_page, spoken
from .test_orca import fetch

pytestmark = [pytest.mark.orca, pytest.mark.slow]

EMAIL = "orca@example.org"
WRONG_MESSAGE = "The email or password is not right. Check them and try again."


@pytest.fixture(scope="module")
def orca_accounts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("orca-accounts") / "data")
    live = start_server(settings)
    db = open_database(settings.database_path)
    try:
        readers.add_reader(db, EMAIL, "Orca Reader", "the right passphrase")
    finally:
        db.close()
    try:
        yield live
    finally:
        live.stop()


def tabs_to(html: str, field_id: str) -> int:
    """Tab presses from the top of the page to the element with `field_id`, in document order."""
    soup = BeautifulSoup(html, "html.parser")
    count = 0
    for element in soup.body.find_all(["a", "button", "input", "select", "textarea"]):
        if element.name == "a" and not element.get("href"):
            continue
        if element.name == "input" and element.get("type") == "hidden":
            continue
        if element.has_attr("hidden") or element.get("tabindex") == "-1":
            continue
        count += 1
        if element.get("id") == field_id:
            return count
    raise AssertionError(f"no #{field_id} on the page")


def said(step: dict) -> str:
    return " ".join(spoken(step))


def test_sign_in_page_speaks_labels_announces_the_error_and_links_the_summary_to_fields(orca_accounts):
    url = orca_accounts.url + "/account/sign-in"
    html = fetch(url)
    # ctrl+Home already puts Orca, and the focus, on the skip link: the first Tab stop is behind it.
    to_email = tabs_to(html, "email") - 1
    keys = ["ctrl+Home", *["Tab"] * to_email, f"type:{EMAIL}", "Tab", "type:a wrong passphrase"]
    keys += ["load:Return", "Tab", "Return"]  # the form is sent: wait for the page that answers
    result = read_page(url, keys)
    assert result["ok"], f"Orca could not read {url}: {result.get('error')}"
    steps = result["steps"]
    on_email, on_password = said(steps[to_email]), said(steps[to_email + 2])
    assert "Email" in on_email and "entry" in on_email, on_email
    assert "Password" in on_password and "password" in on_password.replace("Password", ""), on_password
    announced = said(steps[to_email + 4])  # Enter: the page comes back with its error summary
    assert "There is a problem" in announced, announced
    assert WRONG_MESSAGE in announced, announced
    on_link = said(steps[to_email + 5])
    assert WRONG_MESSAGE in on_link and "link" in on_link, on_link
    in_field = said(steps[to_email + 6])  # the link puts the focus in the Email field, error read with it
    assert "Email" in in_field and "entry" in in_field, in_field
    assert WRONG_MESSAGE in in_field, in_field
