"""Reader accounts through the real app, a real SMTP server (aiosmtpd) and real argon2 hashes.

Every mailed link is followed from the mail the server received; pages are read with BeautifulSoup.
"""

from __future__ import annotations

import logging
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import readers, sessions
from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.settings import Settings
from accessible_lib.web import csrf
from accessible_lib.web.account_session import COOKIE

from .mail_server import body_of, links_in

PASSWORD = "correct horse battery"
EMAIL = "ann@example.org"


@pytest.fixture
def settings(tmp_path: Path, mailbox) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data", smtp_url=mailbox.url)


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf_of(response) -> str:
    return soup(response).find("input", attrs={"name": "csrf_token"})["value"]


def error_links(response) -> list[tuple[str, str]]:
    summary = soup(response).find(class_="error-summary")
    return [(a["href"], a.get_text(strip=True)) for a in summary.find_all("a")] if summary else []


def path_of(link: str) -> str:
    assert link.startswith("http://testserver/"), link
    return link.removeprefix("http://testserver")


def sign_up(client: TestClient, name: str = "Ann Lee", email: str = EMAIL, password: str = PASSWORD):
    token = csrf_of(client.get("/account/sign-up"))
    return client.post(
        "/account/sign-up",
        data={"csrf_token": token, "name": name, "email": email, "password": password},
        follow_redirects=False,
    )


def sign_in(
    client: TestClient, email: str = EMAIL, password: str = PASSWORD, *, keep: bool = False, next_path=""
):
    token = csrf_of(client.get("/account/sign-in"))
    data = {"csrf_token": token, "email": email, "password": password, "next": next_path}
    if keep:
        data["keep"] = "yes"
    return client.post("/account/sign-in", data=data, follow_redirects=False)


def add_verified(db, email: str = EMAIL, **kwargs) -> int:
    return readers.add_reader(db, email, kwargs.pop("name", "Ann Lee"), PASSWORD, **kwargs)


def set_cookie_headers(response) -> list[str]:
    return response.headers.get_list("set-cookie")


def session_cookie_header(response) -> str:
    found = [h for h in set_cookie_headers(response) if h.startswith(f"{COOKIE}=")]
    assert len(found) == 1, set_cookie_headers(response)
    return found[0]


def account_facts(response) -> dict[str, str]:
    facts = soup(response).find("dl", class_="facts")
    return {
        dt.get_text(strip=True): dt.find_next_sibling("dd").get_text(strip=True)
        for dt in facts.find_all("dt")
    }


# --- The whole way: sign up, the mail, the link, sign in, the account page, sign out ---


def test_sign_up_confirm_by_the_mailed_link_sign_in_and_sign_out_for_good(client, db, mailbox):
    response = sign_up(client)
    assert response.status_code == 303
    assert response.headers["location"] == "/account/check-email?for=sign-up"
    assert soup(client.get(response.headers["location"])).h1.get_text(strip=True) == "Check your email"

    account = readers.find_reader(db, EMAIL)
    assert account is not None and not account.verified and account.name == "Ann Lee"
    # Not confirmed yet: the right password does not sign in, and says why.
    refused = sign_in(client)
    assert refused.status_code == 400
    assert "not confirmed" in error_links(refused)[0][1]
    assert client.cookies.get(COOKIE) is None

    mail = mailbox.last_to(EMAIL)
    assert mail["Subject"] == "Confirm your email address for Accessible Library"
    assert "Hello Ann Lee," in body_of(mail)
    link = next(link for link in links_in(mail) if "/account/verify/" in link)
    confirmed = client.get(path_of(link), follow_redirects=False)
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == "/account/sign-in?done=verified"
    notice = soup(client.get(confirmed.headers["location"])).find(class_="notice")
    assert "Your email address is confirmed" in notice.get_text()
    assert readers.find_reader(db, EMAIL).verified

    signed_in = sign_in(client, "  ANN@example.org ")
    assert signed_in.status_code == 303 and signed_in.headers["location"] == "/account"
    cookie = client.cookies.get(COOKIE)
    assert cookie

    home = client.get("/account")
    assert home.status_code == 200
    assert soup(home).h1.get_text(strip=True) == "Your account"
    facts = account_facts(home)
    assert facts["Name"] == "Ann Lee" and facts["Email"] == EMAIL
    assert facts["What you may read"].startswith("Reader: you may read every book that is not only")
    links = {a.get_text(strip=True): a["href"] for a in soup(home).find("main").find_all("a")}
    assert links["Change your email address"] == "/account/email"
    assert links["Change your password"] == "/account/password"

    # The header on every page: the reader's name, "Your account" and a sign-out button (a POST).
    header = soup(client.get("/")).find("nav", class_="account-nav")
    assert "Signed in as Ann Lee" in header.get_text()
    assert header.find("a", string="Your account")["href"] == "/account"
    form = header.find("form")
    assert form["method"] == "post" and form["action"] == "/account/sign-out"
    assert form.find("button", attrs={"type": "submit"}).get_text(strip=True) == "Sign out"

    signed_out = client.post("/account/sign-out", data={"csrf_token": csrf_of(home)}, follow_redirects=False)
    assert signed_out.status_code == 303
    assert signed_out.headers["location"] == "/account/sign-in?done=signed-out"
    assert client.get("/account", follow_redirects=False).status_code == 303
    assert sessions.count(db, sessions.READER, account.id) == 0
    # A copy of the cookie taken before signing out no longer signs anyone in.
    client.cookies.set(COOKIE, cookie)
    again = client.get("/account", follow_redirects=False)
    assert again.status_code == 303
    assert again.headers["location"] == "/account/sign-in?next=%2Faccount"
    assert soup(client.get("/")).find("nav", class_="account-nav").find("a", string="Sign in")

    # The link works once; opened again it says the address is already confirmed, and signs no one in.
    reopened = client.get(path_of(link), follow_redirects=False)
    assert reopened.headers["location"] == "/account/sign-in?done=already-verified"


def test_the_sign_in_page_has_labelled_fields_a_show_password_button_and_no_captcha(client):
    page = soup(client.get("/account/sign-in"))
    assert page.h1.get_text(strip=True) == "Sign in"
    form = page.find("form", attrs={"action": "/account/sign-in"})
    labels = {label.get_text(strip=True): label["for"] for label in form.find_all("label")}
    assert form.find(id=labels["Email"])["type"] == "email"
    password = form.find(id=labels["Password"])
    assert password["type"] == "password" and password["autocomplete"] == "current-password"
    assert "onpaste" not in password.attrs
    toggle = form.find("button", attrs={"data-show-password": "password"})
    assert toggle["type"] == "button" and toggle["aria-pressed"] == "false"
    assert toggle["aria-controls"] == "password" and "hidden" in toggle.attrs  # shown by account.js
    assert toggle.get_text(strip=True) == "Show password"
    assert form.find("input", attrs={"type": "checkbox", "name": "keep"})
    submit = form.find("button", attrs={"type": "submit"})
    assert submit.get_text(strip=True) == "Sign in"
    assert page.find("script", attrs={"src": "/static/account.js"})
    assert client.get("/static/account.js").status_code == 200
    assert "captcha" not in str(page).lower()


def test_signing_up_with_an_address_that_has_an_account_looks_the_same_and_the_mail_says_so(
    client, db, mailbox
):
    add_verified(db)
    first = sign_up(client, name="Somebody Else", password="another password")
    new = sign_up(client, name="Bo", email="bo@example.org")
    assert first.status_code == new.status_code == 303
    assert first.headers["location"] == new.headers["location"]
    assert readers.find_reader(db, EMAIL).name == "Ann Lee"  # nothing changed
    mail = mailbox.last_to(EMAIL)
    assert mail["Subject"] == "You already have an account at Accessible Library"
    assert "http://testserver/account/reset" in links_in(mail)
    assert "/account/verify/" in body_of(mailbox.last_to("bo@example.org"))


def test_signing_up_again_before_confirming_replaces_the_first_sign_up(client, db, mailbox):
    sign_up(client, name="Mallory", password="mallory's password")
    first_link = next(link for link in links_in(mailbox.last_to(EMAIL)) if "/verify/" in link)
    sign_up(client, name="Ann Lee", password=PASSWORD)
    second_link = next(link for link in links_in(mailbox.last_to(EMAIL)) if "/verify/" in link)
    assert first_link != second_link
    assert client.get(path_of(first_link)).status_code == 400  # the earlier sign-up's link is dead
    assert client.get(path_of(second_link), follow_redirects=False).status_code == 303
    assert sign_in(client, password="mallory's password").status_code == 400
    assert sign_in(client).status_code == 303
    assert readers.find_reader(db, EMAIL).name == "Ann Lee"


def test_sign_up_errors_are_listed_and_linked_to_their_fields(client, db):
    response = sign_up(client, name="", email="not an address", password="short")
    assert response.status_code == 400
    assert error_links(response) == [
        ("#name", "Enter your name."),
        ("#email", "Enter an email address in the form name@example.com."),
        ("#password", "The password must be at least 8 characters long."),
    ]
    page = soup(response)
    assert page.title.get_text().startswith("Error:")
    for field in ("name", "email", "password"):
        element = page.find(id=field)
        assert element["aria-invalid"] == "true"
        assert f"{field}-error" in element["aria-describedby"].split()
    assert page.find(id="email")["value"] == "not an address"
    assert page.find(id="password")["value"] == ""  # a password is never sent back
    assert readers.list_readers(db) == []
    # No composition rules: eight lower-case letters are enough.
    assert sign_up(client, password="abcdefgh").status_code == 303


# --- Signing in ---


def test_a_wrong_password_says_so_and_is_linked_to_the_email_field(client, db):
    add_verified(db)
    for email, password in [(EMAIL, "wrong password"), ("nobody@example.org", PASSWORD)]:
        response = sign_in(client, email, password)
        assert response.status_code == 400
        assert error_links(response) == [
            ("#email", "The email or password is not right. Check them and try again.")
        ]
        assert soup(response).find(id="email")["value"] == email
    empty = sign_in(client, "", "")
    assert error_links(empty) == [
        ("#email", "Enter your email address."),
        ("#password", "Enter your password."),
    ]
    assert client.cookies.get(COOKIE) is None


def test_sign_in_is_throttled_per_address_and_account(client, db):
    add_verified(db)
    for _ in range(5):
        assert sign_in(client, password="wrong password").status_code == 400
    held = sign_in(client)  # even the right password waits
    assert held.status_code == 429
    assert "Too many attempts to sign in. Wait 15 minutes" in error_links(held)[0][1]
    assert client.cookies.get(COOKIE) is None
    # Another account from the same address is not held back by this one's failures.
    add_verified(db, "bo@example.org", name="Bo")
    assert sign_in(client, "bo@example.org").status_code == 303


def test_keep_me_signed_in_gives_a_30_day_cookie_otherwise_a_browser_session_cookie(client, db):
    add_verified(db)
    plain = session_cookie_header(sign_in(client))
    assert "max-age" not in plain.lower() and "expires" not in plain.lower()
    kept = session_cookie_header(sign_in(client, keep=True))
    assert "Max-Age=2592000" in kept
    for header in (plain, kept):
        assert "HttpOnly" in header and "samesite=lax" in header.lower() and "Path=/" in header
        assert "secure" not in header.lower()  # plain http: a Secure cookie would never come back
    row = db.execute("SELECT persistent, expires_at FROM sessions ORDER BY id DESC LIMIT 1").fetchone()
    assert row[0] == 1
    days = (datetime.fromisoformat(row[1]) - datetime.now(UTC)).total_seconds() / 86400
    assert 29.9 < days <= 30


def test_the_session_cookie_is_secure_over_https(app, db):
    add_verified(db)
    with TestClient(app, base_url="https://testserver") as secure_client:
        header = session_cookie_header(sign_in(secure_client))
    assert "Secure" in header


def test_signing_in_always_starts_a_new_session(client, db):
    reader_id = add_verified(db)
    # A token planted in the browser before signing in (session fixation) is never the signed-in one.
    client.cookies.set(COOKIE, "planted-by-someone-else", domain="testserver.local")
    sign_in(client)
    first = client.cookies.get(COOKIE)
    assert first and first != "planted-by-someone-else"
    sign_in(client)
    second = client.cookies.get(COOKIE)
    assert second and second != first
    assert sessions.find(db, sessions.READER, first) is None  # the earlier one ended on the server
    assert sessions.count(db, sessions.READER, reader_id) == 1
    stored = db.execute("SELECT token_hash FROM sessions").fetchone()[0]
    assert stored != second and stored == sessions.token_hash(second)  # only a hash is kept


def test_the_form_token_of_a_visitor_works_and_signing_in_or_out_replaces_it(client, db):
    """The account forms use the site's one CSRF mechanism (web/csrf.py): a visitor's token signs in, and
    signing in or out rotates it, so a token planted in the browser before (login CSRF, session fixation)
    is worthless after."""
    add_verified(db)
    before = csrf_of(client.get("/account/sign-in"))
    assert csrf_of(client.get("/account/sign-up")) == before  # one token per browser, not per form
    signed_in = client.post(
        "/account/sign-in",
        data={"csrf_token": before, "email": EMAIL, "password": PASSWORD, "next": ""},
        follow_redirects=False,
    )
    assert signed_in.status_code == 303
    assert any(h.startswith(f"{csrf.COOKIE}=") for h in set_cookie_headers(signed_in)), "rotated"
    home = client.get("/account")
    after = csrf_of(home)
    assert after != before
    assert client.post("/account/sign-out", data={"csrf_token": before}).status_code == 403
    assert client.get("/account").status_code == 200  # the old token signed no one out
    signed_out = client.post("/account/sign-out", data={"csrf_token": after}, follow_redirects=False)
    assert signed_out.status_code == 303 and client.cookies.get(COOKIE) is None
    again = csrf_of(client.get("/account/sign-in"))
    assert again not in (before, after)


def test_forms_without_their_csrf_token_are_refused_and_change_nothing(client, db):
    add_verified(db)
    refused = client.post("/account/sign-in", data={"email": EMAIL, "password": PASSWORD})
    assert refused.status_code == 403
    assert soup(refused).h1.get_text(strip=True) == "The form could not be accepted"
    assert client.cookies.get(COOKIE) is None
    forged = client.post(
        "/account/sign-up",
        data={"csrf_token": "made-up", "name": "X", "email": "x@example.org", "password": PASSWORD},
    )
    assert forged.status_code == 403 and readers.find_reader(db, "x@example.org") is None
    assert client.post("/account/reset", data={"email": EMAIL}).status_code == 403
    sign_in(client)
    assert client.post("/account/sign-out", data={}).status_code == 403
    assert client.get("/account").status_code == 200  # still signed in
    password_change = client.post(
        "/account/password", data={"current_password": PASSWORD, "new_password": "a new password"}
    )
    assert password_change.status_code == 403
    assert sign_in(client).status_code == 303  # the old password still works


# --- Passwords: reset by a one-time link, change ---


def test_reset_link_works_once_and_ends_every_session(client, db, mailbox):
    reader_id = add_verified(db)
    sign_in(client)
    elsewhere = client.cookies.get(COOKIE)
    client.cookies.clear()

    token = csrf_of(client.get("/account/reset"))
    asked = client.post("/account/reset", data={"csrf_token": token, "email": EMAIL}, follow_redirects=False)
    assert asked.headers["location"] == "/account/check-email?for=reset"
    mail = mailbox.last_to(EMAIL)
    assert mail["Subject"] == "Choose a new password for Accessible Library"
    link = path_of(next(link for link in links_in(mail) if "/account/reset/" in link))

    form_page = client.get(link)
    assert form_page.status_code == 200
    assert form_page.headers["referrer-policy"] == "no-referrer"
    too_short = client.post(link, data={"csrf_token": csrf_of(form_page), "password": "short"})
    assert too_short.status_code == 400
    assert error_links(too_short) == [("#password", "The password must be at least 8 characters long.")]
    saved = client.post(
        link, data={"csrf_token": csrf_of(form_page), "password": "my new passphrase"}, follow_redirects=False
    )
    assert saved.headers["location"] == "/account/sign-in?done=password-reset"
    assert sessions.count(db, sessions.READER, reader_id) == 0
    assert sessions.find(db, sessions.READER, elsewhere) is None

    # Single use: the same link neither opens the form nor saves another password.
    dead = client.get(link)
    assert dead.status_code == 400
    assert soup(dead).h1.get_text(strip=True) == "This link no longer works"
    assert (
        client.post(link, data={"csrf_token": csrf_of(form_page), "password": "third passphrase"}).status_code
        == 400
    )
    assert sign_in(client, password=PASSWORD).status_code == 400
    assert sign_in(client, password="my new passphrase").status_code == 303


def test_reset_link_expires(client, db, mailbox):
    add_verified(db)
    token = csrf_of(client.get("/account/reset"))
    client.post("/account/reset", data={"csrf_token": token, "email": EMAIL})
    link = path_of(next(link for link in links_in(mailbox.last_to(EMAIL)) if "/account/reset/" in link))
    page = client.get(link)
    assert page.status_code == 200
    # An hour passes (the link's lifetime, readers.TOKEN_SECONDS).
    past = (datetime.now(UTC) - timedelta(seconds=1)).isoformat(timespec="seconds")
    with db.conn:
        db.execute("UPDATE reader_tokens SET expires_at = ? WHERE purpose = 'reset'", [past])
    assert client.get(link).status_code == 400
    late = client.post(link, data={"csrf_token": csrf_of(page), "password": "my new passphrase"})
    assert late.status_code == 400
    assert sign_in(client, password="my new passphrase").status_code == 400


def test_reset_for_an_unknown_address_looks_the_same_and_the_mail_says_what_to_do(client, db, mailbox):
    add_verified(db)
    token = csrf_of(client.get("/account/reset"))
    known = client.post("/account/reset", data={"csrf_token": token, "email": EMAIL}, follow_redirects=False)
    unknown = client.post(
        "/account/reset", data={"csrf_token": token, "email": "nobody@example.org"}, follow_redirects=False
    )
    assert (known.status_code, known.headers["location"]) == (
        unknown.status_code,
        unknown.headers["location"],
    )
    mail = mailbox.last_to("nobody@example.org")
    assert mail["Subject"] == "No account at Accessible Library"
    assert "http://testserver/account/sign-up" in links_in(mail)


def test_mails_to_one_address_are_limited(client, db, mailbox):
    add_verified(db)
    token = csrf_of(client.get("/account/reset"))
    for _ in range(3):
        assert client.post("/account/reset", data={"csrf_token": token, "email": EMAIL}).status_code == 200
    held = client.post("/account/reset", data={"csrf_token": token, "email": EMAIL})
    assert held.status_code == 429
    assert error_links(held)[0][0] == "#email"
    assert len(mailbox.to(EMAIL)) == 3


def test_changing_the_password_needs_the_current_one_and_signs_out_other_devices(client, app, db):
    reader_id = add_verified(db)
    with TestClient(app) as other_device:
        sign_in(other_device)
        sign_in(client)
        page = client.get("/account/password")
        wrong = client.post(
            "/account/password",
            data={
                "csrf_token": csrf_of(page),
                "current_password": "not it",
                "new_password": "brand new words",
            },
        )
        assert wrong.status_code == 400
        assert error_links(wrong) == [("#current_password", "Your current password is not right.")]
        done = client.post(
            "/account/password",
            data={
                "csrf_token": csrf_of(page),
                "current_password": PASSWORD,
                "new_password": "brand new words",
            },
            follow_redirects=False,
        )
        assert done.headers["location"] == "/account?done=password"
        assert (
            "Your new password is saved"
            in soup(client.get(done.headers["location"])).find(class_="notice").get_text()
        )
        assert other_device.get("/account", follow_redirects=False).status_code == 303
    assert sessions.count(db, sessions.READER, reader_id) == 1
    assert readers.authenticate(db, EMAIL, "brand new words") is not None


def test_a_new_email_address_is_used_only_once_its_link_is_followed(client, db, mailbox):
    reader_id = add_verified(db)
    add_verified(db, "taken@example.org", name="Someone")
    sign_in(client)
    page = client.get("/account/email")
    taken = client.post(
        "/account/email",
        data={"csrf_token": csrf_of(page), "email": "taken@example.org", "current_password": PASSWORD},
        follow_redirects=False,
    )
    assert taken.headers["location"] == "/account/check-email?for=change-email"  # the page does not tell
    assert mailbox.last_to("taken@example.org")["Subject"] == "Your email address at Accessible Library"

    asked = client.post(
        "/account/email",
        data={"csrf_token": csrf_of(page), "email": "Ann.New@example.org", "current_password": PASSWORD},
        follow_redirects=False,
    )
    assert asked.status_code == 303
    assert readers.get_reader(db, reader_id).email == EMAIL  # not yet
    link = path_of(
        next(link for link in links_in(mailbox.last_to("ann.new@example.org")) if "/confirm/" in link)
    )
    confirmed = client.get(link, follow_redirects=False)
    assert confirmed.headers["location"] == "/account?done=email"
    assert readers.get_reader(db, reader_id).email == "ann.new@example.org"
    assert account_facts(client.get("/account"))["Email"] == "ann.new@example.org"
    assert client.get(link).status_code == 400  # used up


# --- Languages, roles, eligibility ---


def test_pages_and_mails_follow_the_interface_language(client, db, mailbox):
    client.cookies.set("locale", "zh_Hans")
    page = soup(client.get("/account/sign-in"))
    assert page.html["lang"] == "zh-Hans"
    assert page.h1.get_text(strip=True) != "Sign in"
    sign_up(client, name="王芳", email="wang@example.org")
    mail = mailbox.last_to("wang@example.org")
    assert "王芳" in body_of(mail) and "Hello" not in body_of(mail)
    assert readers.find_reader(db, "wang@example.org").locale == "zh_Hans"


def test_roles_and_eligibility_reach_request_state_and_the_account_page(client, db):
    reader_id = add_verified(db)
    sign_in(client)
    assert account_facts(client.get("/account"))["What you may read"].startswith("Reader:")
    readers.set_role(db, reader_id, "eligible")
    assert account_facts(client.get("/account"))["What you may read"].startswith("Eligible reader:")
    readers.set_eligible_until(db, reader_id, date.today() - timedelta(days=1))
    ended = account_facts(client.get("/account"))["What you may read"]
    assert ended.startswith("Your eligibility ended on")
    account = readers.get_reader(db, reader_id)
    assert readers.as_reader(account).eligible is False
    assert readers.as_reader(account, date.today() - timedelta(days=1)).eligible is True
    readers.set_role(db, reader_id, "organisation")
    assert account_facts(client.get("/account"))["What you may read"].startswith("Organisation account")
    with pytest.raises(readers.ReaderError):
        readers.set_role(db, reader_id, "administrator")


def test_without_smtp_the_mail_and_its_link_go_to_the_log(tmp_path, caplog):
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    from accessible_lib import create_app

    with (
        caplog.at_level(logging.WARNING, logger="accessible_lib.mail"),
        TestClient(create_app(settings)) as client,
    ):
        assert sign_up(client).status_code == 303
        logged = "\n".join(record.getMessage() for record in caplog.records)
        assert "No SMTP server is configured" in logged
        link = next(word for word in logged.split() if "/account/verify/" in word)
        assert client.get(path_of(link), follow_redirects=False).status_code == 303
    db = open_database(settings.database_path)
    try:
        assert readers.find_reader(db, EMAIL).verified
    finally:
        db.close()


# --- The command line ---


def test_cli_adds_ready_readers_and_lists_them(settings, client, db):
    env = {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}
    runner = CliRunner()
    added = runner.invoke(
        main,
        ["readers", "add", "Mei@Example.org", "--name", "李梅", "--eligible"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert added.exit_code == 0, added.output
    assert "mei@example.org" in added.output
    short = runner.invoke(main, ["readers", "add", "x@example.org", "--name", "X"], input="short\n", env=env)
    assert short.exit_code == 1 and "at least 8 characters" in short.output
    twice = runner.invoke(
        main, ["readers", "add", "mei@example.org", "--name", "Mei"], input=PASSWORD + "\n", env=env
    )
    assert twice.exit_code == 1 and "already exists" in twice.output
    runner.invoke(main, ["readers", "add", "bo@example.org", "--name", "Bo"], input=PASSWORD + "\n", env=env)

    listed = runner.invoke(main, ["readers", "list"], env=env)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert lines[0].split() == ["ID", "Email", "Name", "Role", "Confirmed"]
    assert lines[1].split() == ["1", "mei@example.org", "李梅", "eligible", "yes"]
    assert lines[2].split() == ["2", "bo@example.org", "Bo", "reader", "yes"]

    # Ready to sign in, and eligible.
    assert sign_in(client, "mei@example.org").status_code == 303
    assert account_facts(client.get("/account"))["What you may read"].startswith("Eligible reader:")


def test_passkey_endpoints_refuse_without_the_csrf_token_or_a_challenge(client, db):
    add_verified(db)
    page = client.get("/account/sign-in")
    token = csrf_of(page)
    section = soup(page).find(attrs={"data-passkey-sign-in": True})
    assert "hidden" in section.attrs  # shown by passkeys.js only where the browser can use passkeys
    assert client.post("/account/passkey-sign-in/options").status_code == 403
    options = client.post("/account/passkey-sign-in/options", headers={"X-CSRF-Token": token})
    assert options.status_code == 200
    assert options.json()["rpId"] == "testserver" and options.json()["challenge"]
    forged = {"credential": {"id": "bm9uZQ", "type": "public-key", "response": {}}}
    refused = client.post("/account/passkey-sign-in", json=forged, headers={"X-CSRF-Token": token})
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("The passkey could not be used.")
    assert client.cookies.get(COOKIE) is None
    # The challenge was used up by that attempt: a second try needs new options.
    again = client.post("/account/passkey-sign-in", json=forged, headers={"X-CSRF-Token": token})
    assert again.status_code == 400
    # Adding a passkey needs a signed-in reader.
    assert client.post("/account/passkeys/options", headers={"X-CSRF-Token": token}).status_code == 401


def test_limits_count_each_account_address_and_recipient_on_its_own():
    from accessible_lib.web.account_limits import ReaderLimits

    limits = ReaderLimits()
    for n in range(20):  # one guesser spread over many addresses, at one account
        limits.sign_in_failed(f"10.0.0.{n}", EMAIL)
    assert limits.sign_in_wait("10.0.1.1", EMAIL) > 0
    assert limits.sign_in_wait("10.0.1.1", "bo@example.org") == 0
    for n in range(20):  # one address trying many accounts
        limits.sign_in_failed("10.9.9.9", f"guess{n}@example.org")
    assert limits.sign_in_wait("10.9.9.9", "new@example.org") > 0
    assert limits.sign_in_wait("10.9.9.8", "new@example.org") == 0
    for n in range(3):  # three mails to one address, each from another machine
        limits.mail_sent(f"10.1.0.{n}", "victim@example.org")
    assert limits.mail_wait("10.1.0.9", "victim@example.org") > 0
    assert limits.mail_wait("10.1.0.9", "someone.else@example.org") == 0
