"""Administrators: the staff accounts page, the settings page, their guards, and the CLI that grants the role.

Real SQLite in tmp_path, real argon2 hashes, the real app through its sign-in form; HTML read with
BeautifulSoup. Each test says what it expects and fails when the guard it checks is missing.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import auth, create_app, i18n, sessions, staff_accounts
from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.settings import HIDDEN, Settings
from accessible_lib.web.staff_session import COOKIE

from .test_staff import csrf_of, sign_in

ADMIN = "chief"
CLERK = "clerk"
PASSWORD = "a long enough passphrase"
SECRET_KEY = "s3cret-signing-key-that-must-never-show-0123456789"
REDIS_PASSWORD = "redis-pw-never-shown"
SMTP_PASSWORD = "smtp-pw-never-shown"
FORBIDDEN_TITLE = "This page is for administrators"


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings.from_env(
        {},
        data_dir=tmp_path / "data",
        secret_key=SECRET_KEY,
        redis_url=f"redis://:{REDIS_PASSWORD}@127.0.0.1:6390/0",
        smtp_url=f"smtp://mailer:{SMTP_PASSWORD}@127.0.0.1:2525",
    )


@pytest.fixture
def accounts(db) -> dict[str, int]:
    return {
        ADMIN: staff_accounts.create(db, ADMIN, PASSWORD, admin=True),
        CLERK: staff_accounts.create(db, CLERK, PASSWORD),
    }


def client_for(settings: Settings) -> TestClient:
    return TestClient(create_app(settings))


@pytest.fixture
def admin_client(settings, accounts):
    with client_for(settings) as client:
        assert sign_in(client, ADMIN, PASSWORD).status_code == 303
        yield client


@pytest.fixture
def clerk_client(settings, accounts):
    with client_for(settings) as client:
        assert sign_in(client, CLERK, PASSWORD).status_code == 303
        yield client


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def h1(response) -> str:
    return soup(response).find("h1").get_text(" ", strip=True)


def rows(response) -> dict[str, list[str]]:
    """The accounts table: username -> [administrator, last sign-in]."""
    table = soup(response).find("table")
    found = {}
    for row in table.find("tbody").find_all("tr"):
        name = row.find("th").get_text(" ", strip=True).split(" ")[0]
        found[name] = [cell.get_text(" ", strip=True) for cell in row.find_all("td")[:2]]
    return found


def post_form(client: TestClient, action: str, page_path: str = "/staff/accounts", **fields):
    """Send the form on `page_path` whose action is `action`, with its own hidden fields."""
    page = soup(client.get(page_path))
    form = page.find("form", action=action)
    assert form is not None, f"no form for {action}"
    data = {i["name"]: i.get("value", "") for i in form.find_all("input", type="hidden")}
    data.update(fields)
    return client.post(action, data=data, follow_redirects=False)


def nav_links(response) -> list[str]:
    return [a["href"] for a in soup(response).find("nav", class_="staff-nav").find_all("a")]


# --- Who may see the pages ---


def test_administrators_see_the_pages_and_their_links(admin_client, accounts) -> None:
    dashboard = admin_client.get("/staff")
    assert {"/staff/accounts", "/staff/settings"} <= set(nav_links(dashboard))
    page = admin_client.get("/staff/accounts")
    assert page.status_code == 200 and h1(page) == "Staff accounts"
    table = rows(page)
    assert table[ADMIN][0] == "Yes" and table[CLERK] == ["No", "Never"]
    assert table[ADMIN][1] != "Never"  # signed in just now
    assert "$argon2" not in page.text  # never a hash
    assert admin_client.get("/staff/settings").status_code == 200


@pytest.mark.parametrize("path", ["/staff/accounts", "/staff/settings"])
def test_other_staff_get_a_translated_403(clerk_client, path) -> None:
    assert not {"/staff/accounts", "/staff/settings"} & set(nav_links(clerk_client.get("/staff")))
    response = clerk_client.get(path)
    assert response.status_code == 403 and h1(response) == FORBIDDEN_TITLE
    chinese = clerk_client.get(path, headers={"Accept-Language": "zh-CN"})
    translated = i18n.load_catalogues()["zh_Hans"].gettext(FORBIDDEN_TITLE)
    assert translated != FORBIDDEN_TITLE and chinese.status_code == 403 and h1(chinese) == translated


def test_other_staff_cannot_post_either(clerk_client, db, accounts) -> None:
    token = csrf_of(clerk_client.get("/staff"))
    for path, data in [
        ("/staff/accounts", {"username": "intruder", "password": PASSWORD, "admin": "1"}),
        (f"/staff/accounts/{accounts[CLERK]}/admin", {"admin": "grant"}),
        (f"/staff/accounts/{accounts[ADMIN]}/remove", {}),
    ]:
        response = clerk_client.post(path, data={"csrf_token": token, **data}, follow_redirects=False)
        assert response.status_code == 403 and h1(response) == FORBIDDEN_TITLE, path
    assert {a.username: a.is_admin for a in staff_accounts.list_accounts(db)} == {ADMIN: True, CLERK: False}


@pytest.mark.parametrize("path", ["/staff/accounts", "/staff/settings"])
def test_signed_out_visitors_go_to_the_sign_in_page(client, path) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login?next=")


def test_posts_without_the_token_are_refused(admin_client, db, accounts) -> None:
    for path, data in [
        ("/staff/accounts", {"username": "newcomer", "password": PASSWORD}),
        (f"/staff/accounts/{accounts[CLERK]}/admin", {"admin": "grant"}),
        (f"/staff/accounts/{accounts[CLERK]}/remove", {}),
    ]:
        response = admin_client.post(path, data=data, follow_redirects=False)
        assert response.status_code == 403 and h1(response) == "The form could not be accepted", path
    assert [a.username for a in staff_accounts.list_accounts(db)] == [ADMIN, CLERK]


# --- Adding ---


def test_an_administrator_adds_an_account_that_can_sign_in(admin_client, settings, db) -> None:
    response = post_form(admin_client, "/staff/accounts", username="Newcomer", password=PASSWORD)
    assert response.status_code == 303 and response.headers["location"] == "/staff/accounts?done=added"
    assert rows(admin_client.get("/staff/accounts"))["newcomer"] == ["No", "Never"]
    with client_for(settings) as other:
        assert sign_in(other, "newcomer", PASSWORD).status_code == 303


def test_bad_usernames_and_passwords_are_shown_in_the_summary(admin_client, db) -> None:
    response = post_form(admin_client, "/staff/accounts", username="no spaces", password="short")
    assert response.status_code == 400
    page = soup(response)
    summary = page.find(id="error-summary")
    assert [a["href"] for a in summary.find_all("a")] == ["#username", "#password"]
    for field in ("username", "password"):
        described = page.find(id=field)["aria-describedby"].split()
        assert f"{field}-error" in described and page.find(id=f"{field}-error") is not None
    assert page.find(id="username")["value"] == "no spaces"
    taken = post_form(admin_client, "/staff/accounts", username=CLERK, password=PASSWORD)
    assert taken.status_code == 400
    assert "already exists" in soup(taken).find(id="username-error").get_text()
    assert [a.username for a in staff_accounts.list_accounts(db)] == [ADMIN, CLERK]


# --- Removing ---


def test_removing_an_account_signs_it_out_at_once(admin_client, settings, db, accounts) -> None:
    with client_for(settings) as clerk:
        assert sign_in(clerk, CLERK, PASSWORD).status_code == 303
        copied = clerk.cookies.get(COOKIE)
        assert clerk.get("/staff", follow_redirects=False).status_code == 200
        listed = soup(admin_client.get("/staff/accounts")).find("a", string=f"Remove {CLERK}")
        remove = f"/staff/accounts/{accounts[CLERK]}/remove"
        assert listed["href"] == remove
        asked = admin_client.get(remove)
        assert asked.status_code == 200 and h1(asked) == f"Remove {CLERK}?"
        assert sessions.count(db, sessions.STAFF, accounts[CLERK]) == 1, "asking removes nothing"
        response = post_form(admin_client, remove, remove)
        assert response.status_code == 303 and response.headers["location"].endswith("done=removed")
        assert sessions.count(db, sessions.STAFF, accounts[CLERK]) == 0
    with client_for(settings) as thief:
        thief.cookies.set(COOKIE, copied)
        refused = thief.get("/staff", follow_redirects=False)
        assert refused.status_code == 303 and refused.headers["location"].startswith("/staff/login")
    assert CLERK not in rows(admin_client.get("/staff/accounts"))


def test_no_one_removes_themselves_or_the_last_administrator(admin_client, db, accounts) -> None:
    own = f"/staff/accounts/{accounts[ADMIN]}/remove"
    assert soup(admin_client.get("/staff/accounts")).find("a", href=own) is None, "no link to remove oneself"
    asked = admin_client.get(own)
    assert asked.status_code == 409 and "your own account" in soup(asked).find("main").get_text()
    token = csrf_of(admin_client.get("/staff/accounts"))
    response = admin_client.post(
        f"/staff/accounts/{accounts[ADMIN]}/remove", data={"csrf_token": token}, follow_redirects=False
    )
    assert response.status_code == 409 and h1(response) == "Nothing was changed"
    assert "your own account" in soup(response).find("main").get_text()
    # The last administrator, removed by no one else: the guard is in staff_accounts too.
    with pytest.raises(auth.StaffError, match="last administrator"):
        staff_accounts.remove(db, accounts[ADMIN], acting_id=accounts[CLERK])
    assert [a.username for a in staff_accounts.list_accounts(db)] == [ADMIN, CLERK]


# --- Granting and revoking ---


def test_granting_and_revoking_administrator(admin_client, settings, db, accounts) -> None:
    granted = post_form(admin_client, f"/staff/accounts/{accounts[CLERK]}/admin")
    assert granted.status_code == 303 and granted.headers["location"].endswith("done=granted")
    assert rows(admin_client.get("/staff/accounts"))[CLERK][0] == "Yes"
    with client_for(settings) as clerk:
        assert sign_in(clerk, CLERK, PASSWORD).status_code == 303
        assert clerk.get("/staff/accounts").status_code == 200
        revoked = post_form(admin_client, f"/staff/accounts/{accounts[CLERK]}/admin")
        assert revoked.status_code == 303 and revoked.headers["location"].endswith("done=revoked")
        ended = clerk.get("/staff/accounts", follow_redirects=False)
        assert ended.status_code == 303 and ended.headers["location"].startswith("/staff/login")
        assert sign_in(clerk, CLERK, PASSWORD).status_code == 303
        assert clerk.get("/staff/accounts").status_code == 403
    assert rows(admin_client.get("/staff/accounts"))[CLERK][0] == "No"


def test_the_last_administrator_keeps_the_right(admin_client, db, accounts) -> None:
    response = post_form(admin_client, f"/staff/accounts/{accounts[ADMIN]}/admin")
    assert response.status_code == 409 and h1(response) == "Nothing was changed"
    assert "last administrator" in soup(response).find("main").get_text()
    assert staff_accounts.get(db, accounts[ADMIN]).is_admin
    assert admin_client.get("/staff/accounts").status_code == 200, "still signed in and an administrator"


def test_an_administrator_may_step_down_when_another_remains(admin_client, db, accounts) -> None:
    staff_accounts.set_admin(db, accounts[CLERK], True)
    response = post_form(admin_client, f"/staff/accounts/{accounts[ADMIN]}/admin")
    assert response.status_code == 303 and response.headers["location"] == "/staff"
    assert not staff_accounts.get(db, accounts[ADMIN]).is_admin
    assert admin_client.get("/staff", follow_redirects=False).status_code == 200, "this session is kept"
    assert admin_client.get("/staff/accounts").status_code == 403


# --- Settings ---


def test_the_settings_page_masks_secrets_and_explains_itself(admin_client, settings) -> None:
    response = admin_client.get("/staff/settings")
    assert response.status_code == 200 and h1(response) == "Settings"
    for secret in (SECRET_KEY, REDIS_PASSWORD, SMTP_PASSWORD):
        assert secret not in response.text
    page = soup(response)
    shown = {}
    for term in page.find("dl").find_all("dt"):
        detail = term.find_next_sibling("dd")
        value = detail.find("code")
        shown[term.get_text(strip=True)] = (
            value.get_text() if value else "",
            detail.find_all("p")[1].get_text(),
        )
    assert shown["ACCESSIBLE_LIB_SECRET_KEY"][0] == HIDDEN
    assert shown["ACCESSIBLE_LIB_REDIS_URL"][0] == f"redis://:{HIDDEN}@127.0.0.1:6390/0"
    assert shown["ACCESSIBLE_LIB_SMTP_URL"][0] == f"smtp://mailer:{HIDDEN}@127.0.0.1:2525"
    assert shown["ACCESSIBLE_LIB_DATA_DIR"][0] == str(settings.data_dir)
    assert shown["ACCESSIBLE_LIB_PORT"][1] == "Port `accessible-lib serve` listens on."
    assert "restart" in page.find("h1").find_next_sibling("p").get_text()
    assert page.find("form", action="/staff/settings") is None, "read-only"


# --- The command line ---


def test_the_cli_makes_administrators_and_takes_the_right_back(settings, monkeypatch) -> None:
    monkeypatch.setenv("ACCESSIBLE_LIB_DATA_DIR", str(settings.data_dir))
    runner = CliRunner()
    made = runner.invoke(main, ["create-staff", "Boss", "--password-stdin", "--admin"], input=PASSWORD + "\n")
    assert made.exit_code == 0, made.output
    plain = runner.invoke(main, ["create-staff", "helper", "--password-stdin"], input=PASSWORD + "\n")
    assert plain.exit_code == 0, plain.output
    database = open_database(settings.database_path)
    try:
        assert {a.username: a.is_admin for a in staff_accounts.list_accounts(database)} == {
            "boss": True,
            "helper": False,
        }
        last = runner.invoke(main, ["staff", "admin", "boss", "--revoke"])
        assert last.exit_code == 1 and "last administrator" in last.output
        assert runner.invoke(main, ["staff", "admin", "helper", "--grant"]).exit_code == 0
        assert runner.invoke(main, ["staff", "admin", "boss", "--revoke"]).exit_code == 0
        assert {a.username: a.is_admin for a in staff_accounts.list_accounts(database)} == {
            "boss": False,
            "helper": True,
        }
        unknown = runner.invoke(main, ["staff", "admin", "nobody", "--grant"])
        assert unknown.exit_code == 2 and "nobody" in unknown.output
        updated = runner.invoke(
            main,
            ["create-staff", "boss", "--password-stdin", "--update", "--admin"],
            input="another passphrase!\n",
        )
        assert updated.exit_code == 0 and staff_accounts.find(database, "boss").is_admin
        assert auth.authenticate(database, "boss", "another passphrase!") is not None
    finally:
        database.close()


def test_a_stale_is_admin_column_is_not_trusted_from_the_cookie(settings, db, accounts) -> None:
    """The right is read from the database on every request: revoking it in the table is enough."""
    with client_for(settings) as client:
        assert sign_in(client, ADMIN, PASSWORD).status_code == 303
        staff_accounts.create(db, "second", PASSWORD, admin=True)
        with db.conn:
            db.execute("UPDATE staff_users SET is_admin = 0 WHERE id = ?", [accounts[ADMIN]])
        assert client.get("/staff/accounts").status_code == 403
