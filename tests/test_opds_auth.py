"""Reading apps sign in with HTTP Basic, as /opds/authentication declares: an eligible reader's app fetches a
restricted book's personal copy; wrong or throttled credentials get 401 with the authentication document;
no session or cookie is made; Basic counts only under /opds and /editions/, and only over https.

Real SQLite, a real txt edition built by the converter, readers added and made eligible by the accounts code.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from accessible_lib import access, catalogue, create_app, readers
from accessible_lib.db import open_database
from accessible_lib.editions import download_log, store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import run_conversion
from accessible_lib.editions.storage import storage_for
from accessible_lib.settings import Settings

from .conftest import make_book

HTTPS = "https://testserver"
PASSWORD = "correct horse battery staple"
OPDS_ACCEPT = "application/opds+json, application/atom+xml;profile=opds-catalog"


def basic(email: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{email}:{password}".encode()).decode()}


@pytest.fixture
def library(settings: Settings) -> dict:
    """A restricted book with a finished txt edition; Ada eligible, Bob a plain reader."""
    db = open_database(settings.database_path)
    book_id = catalogue.add_book(
        db, make_book("Moby-Dick", [("Loomings", "Call me Ishmael.")], language="en")
    )
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    token = store.claim(db, edition_id, lease_seconds=600)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    files = run_conversion(export_book(db, book_id), "txt", {}, workspace, lambda f, s: None)
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    if "rights_status" not in db["books"].columns_dict:
        db.execute("ALTER TABLE books ADD COLUMN rights_status TEXT")
    with db.conn:
        db.execute("UPDATE books SET rights_status = ? WHERE id = ?", [access.ELIGIBLE_ONLY, book_id])
    ada = readers.add_reader(db, "ada@example.org", "Ada Lovelace", PASSWORD)
    readers.set_role(db, ada, "eligible")
    bob = readers.add_reader(db, "bob@example.org", "Bob Reader", PASSWORD)
    edition = store.get_edition(db, edition_id)
    db.close()
    name = edition["files"][0]["name"]
    path = storage.path(str(edition_id)) / name
    return {
        "url": f"{HTTPS}/editions/{edition_id}/files/{name}",
        "ada": ada,
        "bob": bob,
        "bytes": Path(path).read_bytes(),
    }


def assert_challenge(response) -> dict:
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == 'Basic realm="Accessible Library", charset="UTF-8"'
    assert response.headers["content-type"].startswith("application/opds-authentication+json")
    assert "set-cookie" not in response.headers
    document = response.json()
    assert document["authentication"][0]["type"] == "http://opds-spec.org/auth/basic"
    return document


def test_an_eligible_readers_app_fetches_the_personal_copy(client, library, settings) -> None:
    headers = basic("Ada@Example.org", PASSWORD)
    first = client.get(library["url"], headers=headers, follow_redirects=False)
    assert first.status_code == 303 and "set-cookie" not in first.headers
    location = first.headers["location"]
    assert "dl=" in location
    second = client.get(HTTPS + location, headers=headers, follow_redirects=False)
    assert second.status_code == 200 and "set-cookie" not in second.headers
    assert b"Ada Lovelace" in second.content and second.content != library["bytes"]
    db = open_database(settings.database_path)
    row = download_log.get_download(db, location.split("dl=")[1])
    db.close()
    assert row["reader_id"] == library["ada"]
    # The credentials held for that request alone: without them the same link is refused.
    assert client.get(HTTPS + location, follow_redirects=False).status_code == 403
    assert client.cookies.get("reader_session") is None


def test_a_reader_not_eligible_gets_no_byte(client, library) -> None:
    for accept in ("text/html", OPDS_ACCEPT):
        response = client.get(
            library["url"],
            headers={**basic("bob@example.org", PASSWORD), "Accept": accept},
            follow_redirects=False,
        )
        assert response.status_code == 403
        assert library["bytes"] not in response.content and b"Call me Ishmael" not in response.content
        assert "set-cookie" not in response.headers


def test_wrong_credentials_get_401_and_the_authentication_document(client, library) -> None:
    wrong = client.get(f"{HTTPS}/opds", headers=basic("ada@example.org", "not it"))
    unknown = client.get(f"{HTTPS}/opds", headers=basic("nobody@example.org", "not it"))
    assert_challenge(wrong)
    assert_challenge(unknown)
    assert wrong.json() == unknown.json()  # never says whether the email exists
    assert b"Call me" not in client.get(library["url"], headers=basic("ada@example.org", "nope")).content


def test_an_app_without_credentials_is_asked_for_them_and_a_browser_gets_the_page(client, library) -> None:
    app = client.get(library["url"], headers={"Accept": OPDS_ACCEPT}, follow_redirects=False)
    assert_challenge(app)
    assert library["bytes"] not in app.content
    browser = client.get(library["url"], headers={"Accept": "text/html"}, follow_redirects=False)
    assert browser.status_code == 403 and browser.headers["content-type"].startswith("text/html")


def test_repeated_failures_are_throttled_like_the_sign_in_form(client, library) -> None:
    for _ in range(5):
        assert_challenge(client.get(f"{HTTPS}/opds", headers=basic("ada@example.org", "guess")))
    throttled = client.get(f"{HTTPS}/opds", headers=basic("ada@example.org", PASSWORD))
    assert "Too many attempts" in assert_challenge(throttled)["description"]
    assert client.get(library["url"], headers=basic("ada@example.org", PASSWORD)).status_code == 401


def test_a_good_basic_request_to_opds_is_served_without_a_cookie(client, library) -> None:
    response = client.get(f"{HTTPS}/opds", headers=basic("ada@example.org", PASSWORD))
    assert response.status_code == 200 and "set-cookie" not in response.headers


def test_basic_is_ignored_outside_opds_and_editions(client, library) -> None:
    response = client.get(
        f"{HTTPS}/account", headers=basic("ada@example.org", PASSWORD), follow_redirects=False
    )
    assert response.status_code in (302, 303) and "/account/sign-in" in response.headers["location"]
    assert client.get(f"{HTTPS}/", headers=basic("ada@example.org", "wrong")).status_code == 200


def test_basic_over_plain_http_from_another_machine_is_refused(client, library) -> None:
    response = client.get(
        library["url"].replace(HTTPS, "http://testserver"), headers=basic("ada@example.org", PASSWORD)
    )
    assert "https" in assert_challenge(response)["description"]
    assert library["bytes"] not in response.content


def test_basic_over_plain_http_from_this_machine_is_allowed(settings, library) -> None:
    with TestClient(create_app(settings), client=("127.0.0.1", 50000)) as local:
        response = local.get(
            library["url"].replace(HTTPS, "http://testserver"),
            headers=basic("ada@example.org", PASSWORD),
            follow_redirects=False,
        )
    assert response.status_code == 303
