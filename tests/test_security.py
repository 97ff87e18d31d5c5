"""The holes a code review found (issue 11, part 7), each closed with a test that failed before the fix.

Real SQLite in tmp_path, the real app through the `client` fixture or TestClient over `create_app`, a real
`accessible-lib serve` process for the proxy setting, real argon2 hashes; HTML read with BeautifulSoup.
"""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from lxml import etree
from starlette.routing import Route
from starlette.testclient import TestClient

from accessible_lib import auth, create_app, i18n, readers
from accessible_lib.cli import main
from accessible_lib.editions import store
from accessible_lib.jobs import signing
from accessible_lib.settings import HIDDEN, SETTINGS, Settings, mask_url_secrets
from accessible_lib.web import csrf
from accessible_lib.web.worker_api import MAX_BODY_BYTES
from braille.tables import TABLES, installed_tables

from .form_helpers import ask_braille, csrf_token_on
from .test_accounts import PASSWORD as READER_PASSWORD
from .test_accounts import sign_in as reader_sign_in

CHECKOUT = Path(__file__).resolve().parent.parent
USERNAME = "librarian"
PASSWORD = "a long enough passphrase"
SECRET = "a shared secret key for the workers, long enough"
OPTIONS = {"table": "en-ueb-g1", "cells": "32", "lines": "20", "format": "brf"}
REFUSED_TITLE = "The form could not be accepted"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def h1(response) -> str:
    return soup(response).find("h1").get_text(" ", strip=True)


def zh(message: str) -> str:
    translated = i18n.load_catalogues()["zh_Hans"].gettext(message)
    assert translated != message, f"no Chinese translation of {message!r}"
    return translated


def braille_editions(db, book_id: int) -> list[dict]:
    return [e for e in store.editions_for_book(db, book_id) if e["format"] in ("brf", "pef")]


def set_cookies(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def cookie_named(response, name: str) -> str:
    found = [c for c in set_cookies(response) if c.startswith(name + "=")]
    assert len(found) == 1, set_cookies(response)
    return found[0]


def is_secure(cookie: str) -> bool:
    return any(part.strip().lower() == "secure" for part in cookie.split(";"))


# --- 1. Braille downloads: a POST with CSRF, only what the form offers, within a budget ---


def test_a_get_of_the_braille_address_queues_nothing(client, db, sample_library) -> None:
    book = sample_library["en"]
    response = client.get(f"/books/{book}/braille", params=OPTIONS, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == f"/books/{book}#braille-heading"
    assert braille_editions(db, book) == []
    page = soup(client.get(response.headers["location"]))
    form = page.find(id="braille-heading").find_parent("section").find("form")
    assert form["method"] == "post" and form["action"] == f"/books/{book}/braille"


def test_a_braille_request_without_the_token_is_refused(client, db, sample_library) -> None:
    book = sample_library["en"]
    missing = client.post(f"/books/{book}/braille", data=OPTIONS, follow_redirects=False)
    assert missing.status_code == 403 and h1(missing) == REFUSED_TITLE
    client.get(f"/books/{book}")  # now the visitor has a cookie, but the form below does not match it
    forged = client.post(
        f"/books/{book}/braille", data={**OPTIONS, "csrf_token": "made up"}, follow_redirects=False
    )
    assert forged.status_code == 403
    chinese = client.post(
        f"/books/{book}/braille", data=OPTIONS, headers={"Accept-Language": "zh-CN"}, follow_redirects=False
    )
    assert chinese.status_code == 403 and h1(chinese) == zh(REFUSED_TITLE)
    assert braille_editions(db, book) == []


def test_another_visitors_token_is_refused(app, db, sample_library) -> None:
    book = sample_library["en"]
    with TestClient(app) as mallory, TestClient(app) as victim:
        token = csrf_token_on(mallory, f"/books/{book}")
        victim.get(f"/books/{book}")
        response = victim.post(
            f"/books/{book}/braille", data={**OPTIONS, "csrf_token": token}, follow_redirects=False
        )
        assert response.status_code == 403
    assert braille_editions(db, book) == []


def test_only_the_tables_and_sizes_the_book_page_offers(client, db, sample_library) -> None:
    book = sample_library["en"]
    offered = {
        o["value"] for o in soup(client.get(f"/books/{book}")).find(id="download-table").find_all("option")
    }
    assert offered == set(TABLES)
    other = next(name for name in installed_tables() if name not in TABLES)  # liblouis has ~280 more
    for bad in (
        {"table": other},
        {"table": "../../etc/passwd"},
        {"cells": "61"},
        {"cells": "19"},
        {"lines": "51"},
        {"lines": "9"},
        {"cells": "forty"},
        {"format": "exe"},
    ):
        response = ask_braille(client, book, {**OPTIONS, **bad})
        assert response.status_code == 400, bad
        assert h1(response) == "These braille options are not offered"
    chinese = ask_braille(client, book, {**OPTIONS, "table": other}, headers={"Accept-Language": "zh-CN"})
    assert chinese.status_code == 400 and h1(chinese) == zh("These braille options are not offered")
    assert braille_editions(db, book) == []
    assert ask_braille(client, book, {**OPTIONS, "cells": "60", "lines": "10"}).status_code == 303


@pytest.fixture
def budget_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, braille_jobs_per_hour=3)


def test_new_braille_jobs_are_limited_per_address(budget_settings, db, sample_library) -> None:
    book = sample_library["en"]
    app = create_app(budget_settings)
    with TestClient(app, client=("198.51.100.1", 40000)) as client:
        for cells in (30, 31, 32):
            assert ask_braille(client, book, {**OPTIONS, "cells": str(cells)}).status_code == 303
        # Asking again for an edition already queued costs nothing: it is served, not made again.
        assert ask_braille(client, book, {**OPTIONS, "cells": "31"}).status_code == 303
        over = ask_braille(client, book, {**OPTIONS, "cells": "33"})
        assert over.status_code == 429
        assert 3000 <= int(over.headers["retry-after"]) <= 3600
        assert h1(over) == "Please wait before asking for another braille edition"
        assert "Try again in 60 minutes" in soup(over).find("main").get_text(" ", strip=True)
        chinese = ask_braille(client, book, {**OPTIONS, "cells": "33"}, headers={"Accept-Language": "zh-CN"})
        assert chinese.status_code == 429
        assert h1(chinese) == zh("Please wait before asking for another braille edition")
    assert len(braille_editions(db, book)) == 3
    with TestClient(app, client=("198.51.100.2", 40000)) as elsewhere:
        assert ask_braille(elsewhere, book, {**OPTIONS, "cells": "33"}).status_code == 303
    assert len(braille_editions(db, book)) == 4


def test_new_braille_jobs_are_limited_per_reader(budget_settings, db, sample_library) -> None:
    """A signed-in reader's budget follows them from one network to another."""
    book = sample_library["en"]
    readers.add_reader(db, "ann@example.org", "Ann", READER_PASSWORD)
    app = create_app(budget_settings)
    for cells, address in ((30, "198.51.100.1"), (31, "198.51.100.2"), (32, "198.51.100.3")):
        with TestClient(app, client=(address, 40000)) as client:
            assert reader_sign_in(client, "ann@example.org", READER_PASSWORD).status_code == 303
            assert ask_braille(client, book, {**OPTIONS, "cells": str(cells)}).status_code == 303
    with TestClient(app, client=("198.51.100.4", 40000)) as client:
        assert reader_sign_in(client, "ann@example.org", READER_PASSWORD).status_code == 303
        assert ask_braille(client, book, {**OPTIONS, "cells": "33"}).status_code == 429
    assert len(braille_editions(db, book)) == 3


# --- 2. Behind a TLS proxy: its headers believed only from the addresses the setting names ---


@pytest.fixture
def proxied_settings(settings: Settings) -> Settings:
    return dataclasses.replace(settings, trusted_proxies="10.1.2.3, 192.0.2.0/24")


@pytest.fixture
def staff_account(settings: Settings):
    from accessible_lib.db import open_database

    database = open_database(settings.database_path)
    auth.create_staff(database, USERNAME, PASSWORD)
    database.close()


def test_cookies_are_secure_when_a_trusted_proxy_says_https(proxied_settings, sample_library) -> None:
    app = create_app(proxied_settings)
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.5"}
    for proxy in ("10.1.2.3", "192.0.2.77"):
        with TestClient(app, client=(proxy, 40000)) as client:
            assert is_secure(cookie_named(client.get("/staff/login", headers=https), "staff_session"))
            book = client.get(f"/books/{sample_library['en']}", headers=https)
            assert is_secure(cookie_named(book, csrf.COOKIE))
            assert not is_secure(cookie_named(client.get("/staff/login"), "staff_session"))
    with TestClient(app, client=("10.9.9.9", 40000)) as untrusted:
        response = untrusted.get("/staff/login", headers=https)
        assert not is_secure(cookie_named(response, "staff_session"))


def test_without_the_setting_no_proxy_is_believed(settings, sample_library) -> None:
    assert settings.trusted_proxies == ""
    with TestClient(create_app(settings), client=("127.0.0.1", 40000)) as client:
        response = client.get("/staff/login", headers={"X-Forwarded-Proto": "https"})
        assert not is_secure(cookie_named(response, "staff_session"))


def _fail_sign_in(client: TestClient, headers: dict, username: str = USERNAME):
    token = csrf_token_on(client, "/staff/login")
    return client.post(
        "/staff/login",
        data={"csrf_token": token, "username": username, "password": "not the password!"},
        headers=headers,
        follow_redirects=False,
    )


def test_throttles_count_the_forwarded_address_from_a_trusted_proxy_only(
    proxied_settings, staff_account
) -> None:
    app = create_app(proxied_settings)
    with TestClient(app, client=("10.1.2.3", 40000)) as proxy:
        first = {"X-Forwarded-For": "203.0.113.5"}
        for _ in range(5):
            assert _fail_sign_in(proxy, first).status_code == 400
        assert _fail_sign_in(proxy, first).status_code == 429
        # Another reader behind the same proxy is another address, not throttled with the first.
        assert _fail_sign_in(proxy, {"X-Forwarded-For": "203.0.113.6"}).status_code == 400
    with TestClient(app, client=("10.9.9.9", 40000)) as untrusted:
        for n in range(5):
            assert _fail_sign_in(untrusted, {"X-Forwarded-For": f"203.0.113.{20 + n}"}).status_code == 400
        # A made-up X-Forwarded-For from an untrusted address does not make it someone else.
        assert _fail_sign_in(untrusted, {"X-Forwarded-For": "203.0.113.99"}).status_code == 429


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _serve_and_ask(tmp_path: Path, trusted: str) -> str:
    """`accessible-lib serve` as `make run` starts it; the staff_session cookie it sets for a request that
    comes from 127.0.0.1 saying it was https."""
    executable = Path(sys.executable).parent / "accessible-lib"
    port = _free_port()
    env = {
        **os.environ,
        "ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data"),
        "ACCESSIBLE_LIB_TRUSTED_PROXIES": trusted,
        "FORWARDED_ALLOW_IPS": "127.0.0.1",  # uvicorn's own default; the app must not rely on it
    }
    process = subprocess.Popen(
        [str(executable), "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 120
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/staff/login", headers={"X-Forwarded-Proto": "https"}
        )
        while True:
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    return next(c for c in response.headers.get_all("set-cookie") if "staff_session" in c)
            except (urllib.error.URLError, ConnectionError):
                assert process.poll() is None, process.stderr.read().decode()
                assert time.monotonic() < deadline, "accessible-lib serve did not answer"
                time.sleep(0.3)
    finally:
        process.terminate()
        process.communicate(timeout=30)  # reads and closes stderr


def test_the_serve_command_believes_only_the_configured_proxies(tmp_path: Path) -> None:
    assert not is_secure(_serve_and_ask(tmp_path, ""))
    assert is_secure(_serve_and_ask(tmp_path, "127.0.0.1"))


# --- 3. The sign-in throttle cannot be reset by flooding it ---


def test_a_flood_of_new_names_does_not_reset_the_login_throttle() -> None:
    throttle = auth.LoginThrottle(limit=5, window=900, address_limit=20)
    now = 1_000_000.0
    for _ in range(5):
        throttle.failed("198.51.100.1", "ann", now=now)
    assert throttle.wait_seconds("198.51.100.1", "ann", now=now) > 0
    # Many made-up names from many other addresses (more than the old in-memory table held)...
    for n in range(12_000):
        address = f"10.0.{n // 256}.{n % 256}"
        throttle.failed(address, f"made-up-{n}", now=now + 1)
    # ...and from the same address: the address is throttled itself after `address_limit` failures.
    for n in range(40):
        if not throttle.wait_seconds("198.51.100.1", f"other-{n}", now=now + 2):
            throttle.failed("198.51.100.1", f"other-{n}", now=now + 2)
    assert throttle.wait_seconds("198.51.100.1", "ann", now=now + 3) > 0
    assert throttle.wait_seconds("198.51.100.1", "someone-new", now=now + 3) > 0
    assert throttle.address_wait_seconds("198.51.100.1", now=now + 3) > 0
    assert throttle.wait_seconds("198.51.100.2", "ann", now=now + 3) == 0  # another address may still try
    # The memory is bounded: what left its window is dropped as new failures come.
    later = now + 1000
    assert throttle.wait_seconds("198.51.100.1", "ann", now=later) == 0
    throttle.failed("198.51.100.9", "bob", now=later)
    assert throttle._limiter.count() == 2


def test_signing_in_does_not_reset_the_address_count() -> None:
    throttle = auth.LoginThrottle(limit=5, window=900, address_limit=8)
    for n in range(8):
        throttle.failed("198.51.100.1", f"victim-{n % 2}", now=1000.0)
        if n == 3:
            throttle.succeeded("198.51.100.1", "attacker")  # the guesser's own account, between guesses
    assert throttle.address_wait_seconds("198.51.100.1", now=1001.0) > 0


def test_the_login_count_is_shared_by_every_web_process(settings, staff_account) -> None:
    """Kept in the catalogue: a second app over the same data (another web process) sees the failures."""
    with TestClient(create_app(settings)) as first:
        for _ in range(5):
            assert _fail_sign_in(first, {}).status_code == 400
    with TestClient(create_app(settings)) as second:
        response = _fail_sign_in(second, {})
        assert response.status_code == 429
        assert "Too many failed attempts" in soup(response).find(attrs={"role": "alert"}).get_text()


def test_one_address_cannot_try_name_after_name(settings, staff_account) -> None:
    with TestClient(create_app(settings)) as client:
        for n in range(20):
            assert _fail_sign_in(client, {}, username=f"guess-{n}").status_code == 400
        response = _fail_sign_in(client, {}, username="guess-new")
        assert response.status_code == 429
        assert "from your network address" in soup(response).find(attrs={"role": "alert"}).get_text()
        chinese = _fail_sign_in(client, {"Accept-Language": "zh-CN"}, username=USERNAME)
        assert chinese.status_code == 429 and "network address" not in chinese.text


# --- 4. `accessible-lib settings` prints no secret ---


def test_settings_never_prints_the_secret_key_or_a_password_in_a_url(tmp_path: Path) -> None:
    env = {
        "ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data"),
        "ACCESSIBLE_LIB_SECRET_KEY": "the-real-secret-key-0123456789abcdefghijklmnop",
        "ACCESSIBLE_LIB_REDIS_URL": "redis://:hunter2-redis-password@redis.example.org:6379/0",
        "ACCESSIBLE_LIB_REPORT_URL": "https://worker:report-password@library.example.org/",
    }
    result = CliRunner().invoke(main, ["settings"], env=env)
    assert result.exit_code == 0, result.output
    for secret in ("the-real-secret-key", "hunter2-redis-password", "report-password"):
        assert secret not in result.output
    lines = dict(
        line.split("=", 1) for line in result.output.splitlines() if line.startswith("ACCESSIBLE_LIB_")
    )
    assert lines["ACCESSIBLE_LIB_SECRET_KEY"] == HIDDEN
    assert lines["ACCESSIBLE_LIB_REDIS_URL"] == f"redis://:{HIDDEN}@redis.example.org:6379/0"
    assert lines["ACCESSIBLE_LIB_REPORT_URL"] == f"https://worker:{HIDDEN}@library.example.org/"
    unset = CliRunner().invoke(main, ["settings"], env={"ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data")})
    assert "ACCESSIBLE_LIB_SECRET_KEY=\n" in unset.output  # says that none is set, still without a value
    assert "secret_key" in [s.name for s in SETTINGS if s.secret]


def test_passwords_in_any_url_are_masked() -> None:
    """The SMTP URL (reader accounts) and any URL a plug-in adds go through the same masking."""
    assert mask_url_secrets("smtp://mailer%40lib:p%40ss:word@mail.example.org:587") == (
        f"smtp://mailer%40lib:{HIDDEN}@mail.example.org:587"
    )
    assert "s3cr3t" not in mask_url_secrets("redis://redis.example.org:6379/0?password=s3cr3t&db=1")
    assert "s3cr3t" not in mask_url_secrets("redis://:s3cr3t@[::1]:6379")
    assert mask_url_secrets("redis://localhost:6379/0") == "redis://localhost:6379/0"
    assert mask_url_secrets("/var/lib/library") == "/var/lib/library"


# --- 5. The internal worker API ---


@pytest.fixture
def worker_app(settings: Settings, sample_library):
    app = create_app(dataclasses.replace(settings, secret_key=SECRET))
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def queued(db, sample_library) -> int:
    return store.request_edition(db, sample_library["en"], "txt", {})[0]


def _claim(client: TestClient, edition_id: int, headers: dict | None = None, body: bytes | None = None):
    path = f"/internal/editions/{edition_id}/claim"
    body = json.dumps({"lease_seconds": 30}).encode() if body is None else body
    signed = signing.sign(SECRET, "POST", path, body) if headers is None else headers
    return client.post(path, content=body, headers={"Content-Type": "application/json", **signed})


def test_a_malformed_signature_header_is_a_401_not_a_500(worker_app, db, queued) -> None:
    path = f"/internal/editions/{queued}/claim"
    body = json.dumps({"lease_seconds": 30}).encode()
    good = signing.sign(SECRET, "POST", path, body)
    for changes in (
        {signing.SIGNATURE_HEADER: "zz"},
        {signing.SIGNATURE_HEADER: "\xff" * 64},
        {signing.SIGNATURE_HEADER: good[signing.SIGNATURE_HEADER].upper()},
        {signing.TIMESTAMP_HEADER: "9" * 400},
        {signing.TIMESTAMP_HEADER: "-1"},
        {signing.TIMESTAMP_HEADER: "１２３"},
        {signing.NONCE_HEADER: ""},
        {signing.NONCE_HEADER: "not hex at all, and far too long for a nonce"},
    ):
        headers = {
            name: value.encode("utf-8")  # as a client sends it; the app reads header bytes as latin-1
            for name, value in {**good, **changes}.items()
        }
        response = _claim(worker_app, queued, headers, body)
        assert response.status_code == 401, (changes, response.status_code)
        assert response.json() == {"error": "bad or missing signature"}
    assert _claim(worker_app, queued, {}, body).status_code == 401
    assert store.get_edition(db, queued)["status"] == store.QUEUED


def test_a_replayed_report_is_refused(worker_app, db, queued) -> None:
    path = f"/internal/editions/{queued}/claim"
    body = json.dumps({"lease_seconds": 30}).encode()
    headers = signing.sign(SECRET, "POST", path, body)
    first = _claim(worker_app, queued, headers, body)
    assert first.status_code == 200 and first.json()["token"]
    token = first.json()["token"]
    fail_path = f"/internal/editions/{queued}/fail"
    fail_body = json.dumps({"token": token, "error": "the disk is full", "retry_at": None}).encode()
    fail_headers = signing.sign(SECRET, "POST", fail_path, fail_body)
    sent = worker_app.post(fail_path, content=fail_body, headers=fail_headers)
    assert sent.status_code == 200 and sent.json() == {"ok": True}
    store.request_edition(db, store.get_edition(db, queued)["book_id"], "txt", {})  # staff ask again
    assert store.get_edition(db, queued)["status"] == store.QUEUED
    assert _claim(worker_app, queued, headers, body).status_code == 409
    assert worker_app.post(fail_path, content=fail_body, headers=fail_headers).status_code == 409
    assert store.get_edition(db, queued)["status"] == store.QUEUED, "the replays changed nothing"
    assert _claim(worker_app, queued).status_code == 200  # a fresh request (a new nonce) is taken


def test_the_body_is_limited_before_it_is_read(worker_app, db, queued) -> None:
    path = f"/internal/editions/{queued}/claim"
    big = b'{"lease_seconds": 30, "pad": "' + b"x" * MAX_BODY_BYTES + b'"}'
    declared = _claim(worker_app, queued, body=big)
    assert declared.status_code == 413

    def chunks():
        yield big[: len(big) // 2]
        yield big[len(big) // 2 :]

    streamed = worker_app.post(
        path,
        content=chunks(),
        headers={"Content-Type": "application/json", **signing.sign(SECRET, "POST", path, big)},
    )
    assert streamed.status_code == 413
    assert store.get_edition(db, queued)["status"] == store.QUEUED
    assert _claim(worker_app, queued).status_code == 200


# --- 6. Security headers on every response ---


def test_security_headers_on_every_kind_of_response(client, db, sample_library) -> None:
    book = sample_library["en"]
    edition_id = store.request_edition(db, book, "brf", {"table": "en-ueb-g1"})[0]
    paths = [
        "/",
        "/search?q=whale",
        f"/books/{book}",
        f"/books/{book}/read/1",
        f"/books/{book}/read/1/braille",
        f"/books/{book}/braille/{edition_id}",
        f"/books/{book}/braille/{edition_id}.json",
        "/browse",
        "/staff/login",
        "/static/style.css",
        "/no-such-page",
    ]
    for path in paths:
        response = client.get(path)
        assert response.status_code == (404 if path == "/no-such-page" else 200), path
        policy = {
            part.split()[0]: part.split()[1:]
            for part in response.headers["content-security-policy"].split(";")
            if part.strip()
        }
        assert policy["frame-ancestors"] == ["'none'"], path
        assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"], path
        assert policy["object-src"] == ["'none'"] and policy["default-src"] == ["'self'"], path
        assert response.headers["x-content-type-options"] == "nosniff", path
        assert response.headers["referrer-policy"] in ("same-origin", "strict-origin-when-cross-origin")
        assert response.headers["x-frame-options"] == "DENY"
        if response.headers["content-type"].startswith("text/html"):
            page = soup(response)
            assert all(script.get("src") for script in page.find_all("script")), f"inline script: {path}"
            assert page.find(style=True) is None and page.find("style") is None, f"inline style: {path}"
            handlers = [a for tag in page.find_all(True) for a in tag.attrs if a.lower().startswith("on")]
            assert handlers == [], f"inline event handlers on {path}: {handlers}"
    assert client.post("/staff/logout", follow_redirects=False).headers["x-frame-options"] == "DENY"


def test_the_error_page_of_an_unexpected_failure_has_the_headers_too(settings, sample_library) -> None:
    app = create_app(settings)

    def broken(request):
        raise RuntimeError("a bug")

    app.router.routes.append(Route("/broken", broken))
    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/broken")
        assert response.status_code == 500
        assert "frame-ancestors 'none'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


# --- 7. CSRF on every form ---


@pytest.fixture
def staff_client(app, staff_account):
    with TestClient(app) as client:
        token = csrf_token_on(client, "/staff/login")
        fields = {"csrf_token": token, "username": USERNAME, "password": PASSWORD, "next": "/staff"}
        assert client.post("/staff/login", data=fields, follow_redirects=False).status_code == 303
        yield client


def _post_forms(client: TestClient, path: str) -> list:
    response = client.get(path)
    assert response.status_code == 200, path
    return [f for f in soup(response).find_all("form") if (f.get("method") or "get").lower() == "post"]


def test_every_post_form_carries_the_csrf_token(app, db, sample_library, staff_client) -> None:
    book = sample_library["en"]
    edition_id = store.request_edition(db, book, "brf", {"table": "en-ueb-g1"})[0]
    token = store.claim(db, edition_id, lease_seconds=60)
    store.fail(db, edition_id, token, error="x", retry_at=None)  # so the status page offers "Try again"
    public = ["/", "/search?q=whale", f"/books/{book}", f"/books/{sample_library['zh']}"]
    public += [
        f"/books/{book}/read/1",
        f"/books/{book}/read/1/braille",
        f"/books/{book}/braille/{edition_id}",
    ]
    staff = ["/staff", "/staff/upload", f"/staff/books/{book}/edit", "/staff/braille", "/staff/jobs"]
    staff += [f"/staff/jobs/{edition_id}"]
    checked = 0
    with TestClient(app) as anonymous:
        pages = [(anonymous, path) for path in public + ["/staff/login"]] + [(staff_client, p) for p in staff]
        for client, path in pages:
            for form in _post_forms(client, path):
                field = form.find("input", attrs={"name": "csrf_token"})
                assert field is not None, f"a POST form on {path} has no CSRF token: {form.get('action')}"
                assert field.get("type") == "hidden" and len(field.get("value", "")) >= 32, path
                checked += 1
    assert checked >= 9, "the pages must have shown their POST forms"


def _multipart(fields: dict[str, str]) -> tuple[bytes, str]:
    boundary = "----security-test-boundary"
    parts = [
        f'--{boundary}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        for name, value in fields.items()
    ]
    return ("".join(parts) + f"--{boundary}--\r\n").encode(), f"multipart/form-data; boundary={boundary}"


def _post_routes(app, values: dict[str, object]) -> list[str]:
    paths = []
    for route in app.routes:
        if isinstance(route, Route) and "POST" in (route.methods or ()):
            params = {name: values.get(name, 1) for name in route.param_convertors}
            paths.append(route.path_format.format(**params))
    return paths


def test_every_post_route_refuses_a_form_without_its_token(app, db, sample_library, staff_client) -> None:
    """Walks the app's own route table, so that a new POST route cannot forget the check."""
    book = sample_library["en"]
    edition_id = store.request_edition(db, book, "txt", {})[0]
    before = (braille_editions(db, book), store.get_edition(db, edition_id))
    paths = _post_routes(app, {"book_id": book, "edition_id": edition_id, "action": "claim"})
    # Signed in as a reader too, so the reader's own forms reach their check rather than the sign-in page.
    readers.add_reader(db, "walker@example.org", "Walker", READER_PASSWORD)
    signed = reader_sign_in(staff_client, "walker@example.org", READER_PASSWORD)
    assert signed.status_code == 303 and signed.headers["location"] == "/account", signed.text
    assert len(paths) >= 8 and f"/books/{book}/braille" in paths and "/staff/upload" in paths
    read_only = {
        route.path
        for route in app.routes
        if isinstance(route, Route) and getattr(route.endpoint, csrf.READ_ONLY_PROTOCOL, False)
    }
    assert read_only == {"/oai"}, "a new route marked read-only: check here that it changes nothing"
    for path in paths:
        if path.startswith("/internal/"):  # signed by workers, not a form: refused without a signature
            assert staff_client.post(path, content=b"{}").status_code == 401, path
            continue
        if path in read_only:
            # OAI-PMH's POST is its GET with the arguments in the body: no token, an answer in the
            # protocol's XML, and nothing changed (the comparison at the end).
            body, content_type = _multipart({"title": "Changed"})
            for response, code in (
                (staff_client.post(path, data={"title": "Changed"}), "badVerb"),
                (
                    staff_client.post(path, content=body, headers={"Content-Type": content_type}),
                    "badArgument",
                ),
            ):
                assert response.status_code == 200 and response.headers["content-type"].startswith("text/xml")
                error = etree.fromstring(response.content).find("{http://www.openarchives.org/OAI/2.0/}error")
                assert error is not None and error.get("code") == code, path
            continue
        for fields in ({"title": "Changed"}, {"title": "Changed", "csrf_token": "forged"}):
            body, content_type = _multipart(fields)
            response = staff_client.post(
                path, content=body, headers={"Content-Type": content_type}, follow_redirects=False
            )
            if response.status_code == 400 and response.headers["content-type"].startswith(
                "application/json"
            ):
                # An endpoint of the site's scripts takes JSON only: sent JSON, it must check the token.
                response = staff_client.post(path, json=fields, follow_redirects=False)
            assert response.status_code == 403, (path, fields, response.status_code)
            if response.headers["content-type"].startswith("application/json"):
                assert response.json(), path  # a script's endpoint answers the script in JSON
                continue
            assert h1(response) == REFUSED_TITLE, path
            urlencoded = staff_client.post(path, data=fields, follow_redirects=False)
            assert urlencoded.status_code in (400, 403), path  # the upload takes only a file form
        if response.headers["content-type"].startswith("application/json"):
            continue  # no page to translate
        chinese = staff_client.post(
            path, content=body, headers={"Content-Type": content_type, "Accept-Language": "zh-CN"}
        )
        assert chinese.status_code == 403 and h1(chinese) == zh(REFUSED_TITLE), path
    assert staff_client.get("/staff", follow_redirects=False).status_code == 200, "still signed in"
    assert (braille_editions(db, book), store.get_edition(db, edition_id)) == before
