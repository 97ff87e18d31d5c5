"""Passkeys in the real Chromium, with its virtual authenticator (WebAuthn over Playwright's CDP session):
a signed-in reader adds a passkey on /account, signs out, and signs in again with one key press.

WebAuthn needs a domain, not an IP address, as the relying party: the browser opens the live server as
http://localhost:PORT (a secure context, like https), and the app takes the domain from the request.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from accessible_lib import readers
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .browser_conftest import chromium, new_context  # noqa: F401 (fixtures)
from .live_server import LiveServer, start_server
from .test_keyboard import h1_text, press_enter_and_wait, tab_to

pytestmark = [pytest.mark.browser, pytest.mark.slow]

EMAIL = "passkey@example.org"
PASSWORD = "a passphrase for once"
AUTHENTICATOR = {
    "protocol": "ctap2",
    "transport": "internal",
    "hasResidentKey": True,
    "hasUserVerification": True,
    "isUserVerified": True,
    "automaticPresenceSimulation": True,
}


@pytest.fixture(scope="module")
def passkey_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir: Path = tmp_path_factory.mktemp("passkeys") / "data"
    live = start_server(Settings.from_env({}, data_dir=data_dir))
    db = open_database(live.settings.database_path)
    try:
        readers.add_reader(db, EMAIL, "Pat Key", PASSWORD)
    finally:
        db.close()
    try:
        yield dataclasses.replace(live, url=live.url.replace("127.0.0.1", "localhost"))
    finally:
        live.stop()


def passkey_rows(live: LiveServer) -> list[tuple]:
    db = open_database(live.settings.database_path)
    try:
        return db.execute("SELECT name, sign_count, last_used_at FROM reader_passkeys").fetchall()
    finally:
        db.close()


def test_add_a_passkey_then_sign_in_with_it_without_typing(chromium, passkey_server):  # noqa: F811
    live = passkey_server
    context = new_context(chromium, live, "en")
    try:
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.send("WebAuthn.enable")
        authenticator = cdp.send("WebAuthn.addVirtualAuthenticator", {"options": AUTHENTICATOR})

        page.goto(live.url + "/account/sign-in")
        page.fill("#email", EMAIL)
        page.fill("#password", PASSWORD)
        with page.expect_navigation(wait_until="load"):
            page.click("main form[method=post] button[type=submit]")
        assert urlsplit(page.url).path == "/account"
        assert page.inner_text("#passkeys + p")  # the section explains what a passkey is
        page.fill("#passkey_name", "My phone")
        with page.expect_navigation(wait_until="load"):
            page.click("form[data-passkey-add] button[type=submit]")
        assert urlsplit(page.url).path == "/account" and "done=passkey" in page.url
        assert "Your passkey is added" in page.inner_text(".notice")
        assert "My phone" in page.inner_text("ul.passkeys")
        stored = cdp.send("WebAuthn.getCredentials", {"authenticatorId": authenticator["authenticatorId"]})
        assert len(stored["credentials"]) == 1 and stored["credentials"][0]["isResidentCredential"]
        assert [row[0] for row in passkey_rows(live)] == ["My phone"]

        with page.expect_navigation(wait_until="load"):
            page.click("header button[type=submit]")  # sign out
        assert urlsplit(page.url).path == "/account/sign-in"

        # Signing in again: Tab to the passkey button and press Enter; nothing is typed.
        tab_to(
            page,
            lambda i: i["tag"] == "button" and i["text"] == "Sign in with a passkey",
            "the passkey button",
        )
        press_enter_and_wait(page)
        assert urlsplit(page.url).path == "/account"
        assert h1_text(page) == "Your account"
        assert "Pat Key" in page.inner_text("dl.facts")
        assert passkey_rows(live)[0][2], "the passkey's last use is recorded"

        # Removing it is a plain form; afterwards the passkey no longer signs in.
        with page.expect_navigation(wait_until="load"):
            page.click("ul.passkeys button[type=submit]")
        assert "The passkey is removed." in page.inner_text(".notice")
        assert passkey_rows(live) == []
        with page.expect_navigation(wait_until="load"):
            page.click("header button[type=submit]")
        page.click("[data-passkey-sign-in] button")
        # (expect, not wait_for_function: the site's Content-Security-Policy forbids eval)
        expect(page.locator("[data-passkey-sign-in] .passkey-status")).to_contain_text("could not be used")
        assert urlsplit(page.url).path == "/account/sign-in"
    finally:
        context.close()
