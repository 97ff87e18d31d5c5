"""Rights per book through the real app, importer and command line: statuses, what readers are shown, what
search and the lists give away, and how staff set rights (edit page, CSV page, `accessible-lib rights`).

Every route is walked against a restricted book in tests/test_rights_routes.py; here each behaviour is
checked on its own, with real SQLite files, the real importer and HTML read with BeautifulSoup.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import access, auth, catalogue, create_app, readers, rights, search
from accessible_lib.cli import main
from accessible_lib.editions import store
from accessible_lib.importer import IMPORTED, REJECTED, import_file
from accessible_lib.settings import Settings

from .conftest import CORPUS, make_book
from .test_accounts import PASSWORD as READER_PASSWORD
from .test_accounts import sign_in as reader_sign_in
from .test_staff import PASSWORD, USERNAME, sign_in, token_for

SENTENCE = "The cartographer buried nine silver compasses under the orchard wall."
EPUB = CORPUS / "epub/en/pg17192-poe-the-raven-epub2.epub"
TEXT = CORPUS / "text/en/rip-van-winkle-lowercased-nopunct.txt"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def add(db, title: str, status: str, **fields) -> int:
    book = make_book(
        title,
        [("Maps", SENTENCE), ("Roads", "A second chapter about roads.")],
        language="en",
        subjects=["Cartography"],
        authors=["Ottilie Wren"],
        rights=status,
        **fields,
    )
    return catalogue.add_book(db, book)


@pytest.fixture
def books(db) -> dict[str, int]:
    ids = {status: add(db, f"Atlas {status}", status) for status in access.RIGHTS_STATUSES}
    with db.conn:
        rights.set_rights(
            db,
            ids[access.OPEN_LICENCE],
            rights.Rights(
                access.OPEN_LICENCE,
                licence_name="CC BY 4.0",
                licence_url="https://creativecommons.org/licenses/by/4.0/",
                rights_holder="Wren Press",
            ),
        )
    return ids


@pytest.fixture
def staff(db, client) -> TestClient:
    auth.create_staff(db, USERNAME, PASSWORD)
    assert sign_in(client, USERNAME, PASSWORD).status_code == 303
    return client


# --- Statuses ---


def test_statuses_are_read_as_typed_and_restricted_is_the_old_name_of_eligible_only() -> None:
    assert access.parse_status(" Open-Licence ") == access.OPEN_LICENCE
    assert access.parse_status("restricted") == access.ELIGIBLE_ONLY
    assert access.parse_status("secret") is None and access.parse_status(None) is None
    assert [access.legacy_rights(s) for s in access.RIGHTS_STATUSES] == [
        "public-domain",
        "public-domain",
        "restricted",
        "restricted",
    ]


def test_import_takes_the_default_status_from_the_setting_and_keeps_dc_rights(db, settings) -> None:
    eligible = dataclasses.replace(settings, default_rights="eligible-only")
    result = import_file(db, eligible, EPUB)
    assert result.status == IMPORTED
    book = catalogue.get_book(db, result.book_id)
    assert (book["rights_status"], book["rights"]) == ("eligible-only", "restricted")
    assert book["rights_statement"], "the EPUB's dc:rights is kept"
    given = import_file(db, eligible, TEXT, rights="open-licence")
    assert catalogue.get_book(db, given.book_id)["rights_status"] == "open-licence", "an explicit status wins"


def test_a_default_that_is_no_status_rejects_the_import_with_a_reason(db, settings) -> None:
    result = import_file(db, dataclasses.replace(settings, default_rights="closed"), TEXT)
    assert result.status == REJECTED
    assert result.reason == "“closed” is not a rights status (check ACCESSIBLE_LIB_DEFAULT_RIGHTS)."
    assert catalogue.book_count(db, staff=True) == 0


def test_the_library_is_open_by_default(db, settings) -> None:
    assert Settings.from_env({}).default_rights == "public-domain"
    result = import_file(db, settings, TEXT)
    assert catalogue.get_book(db, result.book_id)["rights_status"] == "public-domain"


# --- What readers see ---


def _rights_text(page: BeautifulSoup) -> str:
    return page.find("dd", class_="rights-status").get_text(" ", strip=True)


def test_the_book_page_says_the_rights_in_words(client, books) -> None:
    public = soup(client.get(f"/books/{books['public-domain']}"))
    assert _rights_text(public) == "Public domain"
    licensed = soup(client.get(f"/books/{books['open-licence']}"))
    assert _rights_text(licensed) == "Open licence: CC BY 4.0"
    link = licensed.find("dd", class_="rights-status").find("a")
    assert link["href"] == "https://creativecommons.org/licenses/by/4.0/" and link["rel"] == ["license"]
    holder = licensed.find("dt", string="Rights holder").find_next_sibling("dd")
    assert holder.get_text() == "Wren Press"
    restricted = soup(client.get(f"/books/{books['eligible-only']}"))
    assert _rights_text(restricted) == "For eligible readers only"


def test_a_restricted_book_page_shows_the_record_and_how_to_become_eligible(client, books) -> None:
    book_id = books["eligible-only"]
    response = client.get(f"/books/{book_id}")
    assert response.status_code == 200
    main_part = soup(response).find("main")
    assert main_part.find("h1").get_text() == "Atlas eligible-only"
    assert "Ottilie Wren" in main_part.find("p", class_="byline").get_text()
    section = main_part.find("section", class_="eligibility")
    heading = section.find("h2")
    assert heading.get_text() == "This book is for eligible readers only"
    assert section["aria-labelledby"] == heading["id"]
    assert "Marrakesh Treaty" in section.get_text()
    hrefs = [a["href"] for a in section.find_all("a")]
    assert hrefs == [f"/account/sign-in?next=/books/{book_id}", "/account/eligibility"]
    links = [a["href"] for a in main_part.find_all("a", href=True)]
    assert not [h for h in links if "/read/" in h or h.startswith("/editions/") or "/braille" in h]
    assert main_part.find(attrs={"data-player-root": True}) is None
    assert main_part.find(id="contents") is None and main_part.find("form") is None
    assert SENTENCE not in response.text


def _signed_in(client, db, role: str) -> TestClient:
    email = f"{role}@example.org"
    readers.add_reader(db, email, "Robin Reader", READER_PASSWORD, role=role)
    assert reader_sign_in(client, email, READER_PASSWORD).status_code == 303
    return client


def test_a_signed_in_reader_not_yet_eligible_is_told_to_apply_not_to_sign_in(client, db, books) -> None:
    reader = _signed_in(client, db, "reader")
    book_id = books["eligible-only"]
    section = soup(reader.get(f"/books/{book_id}")).find("section", class_="eligibility")
    assert "You are signed in" in section.get_text()
    assert [a["href"] for a in section.find_all("a")] == ["/account/eligibility"]
    refused = reader.get(f"/books/{book_id}/read/1")
    assert refused.status_code == 403 and SENTENCE not in refused.text
    assert soup(refused).find("h1").get_text() == "This book is for eligible readers only"


def test_an_eligible_reader_reads_listens_and_finds_by_text(client, db, books) -> None:
    reader = _signed_in(client, db, "eligible")
    book_id = books["eligible-only"]
    page = soup(reader.get(f"/books/{book_id}"))
    assert page.find("section", class_="eligibility") is None
    assert page.find("a", href=f"/books/{book_id}/read/1") is not None
    assert _rights_text(page) == "For eligible readers only"
    chapter = reader.get(f"/books/{book_id}/read/1")
    assert chapter.status_code == 200 and SENTENCE in chapter.text
    assert "Atlas eligible-only" in _hits(reader, "silver compasses")
    assert reader.get(f"/books/{books['withdrawn']}").status_code == 404, "withdrawn is for nobody"


def test_content_routes_refuse_with_a_page_that_says_why(client, books) -> None:
    book_id = books["eligible-only"]
    response = client.get(f"/books/{book_id}/read/1")
    assert response.status_code == 403
    page = soup(response)
    assert page.find("h1").get_text() == "This book is for eligible readers only"
    assert page.title.get_text().startswith("This book is for eligible readers only")
    links = {a["href"]: a for a in page.find("main").find_all("a")}
    assert f"/account/sign-in?next=/books/{book_id}" in links and "/account/eligibility" in links
    assert (
        links[f"/books/{book_id}"].get_text() == "Atlas eligible-only"
        and links[f"/books/{book_id}"]["lang"] == "en"
    )
    assert SENTENCE not in response.text


def test_the_refusal_is_translated(client, books) -> None:
    response = client.get(f"/books/{books['eligible-only']}/read/1", headers={"accept-language": "zh-CN"})
    assert response.status_code == 403
    assert soup(response).find("h1").get_text() == "本书仅限合格读者"


def test_asking_for_braille_of_a_restricted_book_queues_nothing(client, db, books) -> None:
    response = client.get(f"/books/{books['eligible-only']}/braille?format=brf", follow_redirects=False)
    assert response.status_code == 403
    assert store.editions_for_book(db, books["eligible-only"]) == []
    allowed = client.get(f"/books/{books['public-domain']}/braille?format=brf", follow_redirects=False)
    assert allowed.status_code == 303, "the control: a public book's braille is queued"


def test_a_withdrawn_book_is_hidden_from_readers_everywhere(client, books) -> None:
    book_id = books["withdrawn"]
    for path in (f"/books/{book_id}", f"/books/{book_id}/read/1", f"/books/{book_id}/read/1/braille"):
        assert client.get(path).status_code == 404, path
    assert client.get("/search", params={"q": "atlas withdrawn"}).text.count(f'href="/books/{book_id}"') == 0
    home = client.get("/").text
    assert f'href="/books/{book_id}"' not in home and f'href="/books/{books["eligible-only"]}"' in home
    listed = client.get("/browse/subjects/Cartography")
    assert f'href="/books/{book_id}"' not in listed.text
    assert f'href="/books/{books["eligible-only"]}"' in listed.text, (
        "the record of a restricted book is listed"
    )


def test_a_subject_only_a_withdrawn_book_has_is_not_offered(client, db) -> None:
    add(db, "Hidden", "withdrawn", checksum="hidden")
    with db.conn:
        db.execute("UPDATE book_subjects SET subject = 'Secret maps'")
    facet = soup(client.get("/browse/subjects"))
    assert "Secret maps" not in facet.get_text()
    assert client.get("/browse/subjects/Secret%20maps").status_code == 404


def _hits(client, query: str) -> dict[str, BeautifulSoup]:
    page = soup(client.get("/search", params={"q": query}))
    return {li.find("h2").get_text(strip=True): li for li in page.select("main li") if li.find("h2")}


def test_search_finds_a_restricted_book_by_its_record_never_by_or_with_its_text(client, books) -> None:
    by_text = _hits(client, "silver compasses")
    assert set(by_text) == {"Atlas public-domain", "Atlas open-licence"}
    assert "silver compasses" in by_text["Atlas public-domain"].find("p", class_="snippet").get_text()
    by_record = _hits(client, "atlas")
    assert set(by_record) == {"Atlas public-domain", "Atlas open-licence", "Atlas eligible-only"}
    restricted = by_record["Atlas eligible-only"]
    assert "cartographer" not in restricted.get_text() and "Found in" not in restricted.get_text()
    assert not [a for a in restricted.find_all("a") if "/read/" in a["href"]]
    # Both words: one in the record, one only in the text. A restricted book must not be found that way.
    assert "Atlas eligible-only" not in _hits(client, "atlas cartographer")
    assert "Atlas public-domain" in _hits(client, "atlas cartographer")


def test_search_from_staff_code_and_the_command_line_sees_everything(db, books) -> None:
    found = {hit.book_id for hit in search.search(db, "silver compasses").hits}
    assert found == set(books.values())


# --- Staff: the edit page ---


def _edit_form(client: TestClient, book_id: int) -> dict[str, str]:
    form = soup(client.get(f"/staff/books/{book_id}/edit")).find(
        "form", action=f"/staff/books/{book_id}/edit"
    )
    values = {i["name"]: i.get("value", "") for i in form.find_all("input") if i["type"] != "radio"}
    values.update({area["name"]: area.get_text() for area in form.find_all("textarea")})
    values["rights"] = form.find("input", attrs={"name": "rights", "checked": True})["value"]
    return values


def test_staff_see_and_set_the_rights_on_the_edit_page(staff, db, books) -> None:
    book_id = books["public-domain"]
    page = soup(staff.get(f"/staff/books/{book_id}/edit"))
    radios = page.find("fieldset").find_all("input", attrs={"name": "rights"})
    assert [r["value"] for r in radios] == list(access.RIGHTS_STATUSES)
    for radio in radios:
        assert page.find("label", attrs={"for": radio["id"]}).get_text()
    form = {
        **_edit_form(staff, book_id),
        "rights": "open-licence",
        "licence_name": " CC BY-SA 4.0 ",
        "licence_url": "https://creativecommons.org/licenses/by-sa/4.0/",
        "rights_holder": "Wren Press",
        "rights_note": "Cleared by the publisher in 2026.",
    }
    response = staff.post(f"/staff/books/{book_id}/edit", data=form, follow_redirects=False)
    assert response.status_code == 303
    book = catalogue.get_book(db, book_id)
    assert (book["rights_status"], book["licence_name"], book["rights_holder"], book["rights_note"]) == (
        "open-licence",
        "CC BY-SA 4.0",
        "Wren Press",
        "Cleared by the publisher in 2026.",
    )
    assert _edit_form(staff, book_id)["licence_url"] == "https://creativecommons.org/licenses/by-sa/4.0/"


def test_wrong_rights_come_back_with_linked_errors_and_change_nothing(staff, db, books) -> None:
    book_id = books["public-domain"]
    bad = {**_edit_form(staff, book_id), "rights": "open-licence", "licence_url": "javascript:alert(1)"}
    response = staff.post(f"/staff/books/{book_id}/edit", data=bad)
    assert response.status_code == 400
    page = soup(response)
    summary = page.find(attrs={"role": "alert"})
    assert [a["href"] for a in summary.find_all("a")] == ["#licence_name", "#licence_url"]
    assert [a.get_text() for a in summary.find_all("a")] == [
        "Enter the name of the licence, such as CC BY 4.0.",
        "Enter the licence’s web address starting with https:// or http://.",
    ]
    for name in ("licence_name", "licence_url"):
        field = page.find(id=name)
        assert field["aria-invalid"] == "true" and f"{name}-error" in field["aria-describedby"].split()
    assert catalogue.get_book(db, book_id)["rights_status"] == "public-domain"


def test_staff_see_a_withdrawn_book_and_its_dc_rights(staff, db, books) -> None:
    book_id = add(db, "Withdrawn atlas", "withdrawn", checksum="w2", rights_statement="© 2019 Wren Press")
    dashboard = soup(staff.get("/staff"))
    assert dashboard.find("a", href=f"/staff/books/{book_id}/edit") is not None
    page = soup(staff.get(f"/staff/books/{book_id}/edit"))
    assert page.find("q").get_text() == "© 2019 Wren Press"
    assert "This book is withdrawn" in page.find("main").get_text()
    assert page.find("a", href=f"/books/{book_id}") is None, "no link to a page readers cannot open"
    assert page.find("input", attrs={"name": "rights", "checked": True})["value"] == "withdrawn"


def test_the_upload_form_offers_every_status_starting_with_the_default(db, settings) -> None:
    auth.create_staff(db, USERNAME, PASSWORD)
    with TestClient(create_app(dataclasses.replace(settings, default_rights="eligible-only"))) as client:
        assert sign_in(client, USERNAME, PASSWORD).status_code == 303
        form = soup(client.get("/staff/upload")).find("form", action="/staff/upload")
    radios = form.find_all("input", attrs={"name": "rights"})
    assert [r["value"] for r in radios] == list(access.RIGHTS_STATUSES)
    assert [r["value"] for r in radios if r.has_attr("checked")] == ["eligible-only"]


# --- Staff: the CSV page ---


def _upload_csv(client: TestClient, data: bytes, token: str | None = None):
    return client.post(
        "/staff/rights",
        data={"csrf_token": token if token is not None else token_for(client)},
        files={"csv_file": ("rights.csv", data, "text/csv")},
        follow_redirects=False,
    )


def test_a_rights_csv_changes_every_book_it_lists(staff, db, books) -> None:
    data = (
        "\ufeffbook_id,status,licence_name,licence_url,rights_holder,rights_note\r\n"
        f"{books['public-domain']},eligible-only,,,Wren Press,Marrakesh copy\r\n"
        f'{books["withdrawn"]},open-licence,"CC BY 4.0, international",https://creativecommons.org/licenses/by/4.0/,,\r\n'
        "\r\n"
    ).encode()
    response = _upload_csv(staff, data)
    assert response.status_code == 303 and response.headers["location"] == "/staff/rights?done=2"
    done = soup(staff.get(response.headers["location"]))
    assert done.find(attrs={"role": "status"}).get_text(strip=True) == "The rights of 2 books were set."
    first, second = catalogue.get_book(db, books["public-domain"]), catalogue.get_book(db, books["withdrawn"])
    assert (first["rights_status"], first["rights"], first["rights_holder"], first["rights_note"]) == (
        "eligible-only",
        "restricted",
        "Wren Press",
        "Marrakesh copy",
    )
    assert (second["rights_status"], second["licence_name"]) == ("open-licence", "CC BY 4.0, international")


def test_one_wrong_row_changes_nothing_and_every_problem_is_listed_by_row(staff, db, books) -> None:
    data = (
        "book_id,status,licence_url\n"
        f"{books['public-domain']},withdrawn,\n"
        f"{books['open-licence']},secret,\n"
        "999,public-domain,\n"
        f"{books['eligible-only']},public-domain,ftp://example.org/licence\n"
        f"{books['public-domain']},public-domain,\n"
        "seven,public-domain,\n"
        "1,public-domain\n"
    ).encode()
    response = _upload_csv(staff, data)
    assert response.status_code == 400
    page = soup(response)
    assert page.title.get_text().startswith("Error:")
    messages = [a.get_text() for a in page.find(attrs={"role": "alert"}).find_all("a")]
    assert messages == [
        "Row 3: Choose a rights status: public domain, open licence, eligible readers only or withdrawn.",
        "Row 4: There is no book 999.",
        "Row 5: Enter the licence’s web address starting with https:// or http://.",
        f"Row 6: Book {books['public-domain']} is already on row 2.",
        "Row 7: The book id must be a number.",
        "Row 8: It has 2 cells, not 3.",
    ]
    assert {a["href"] for a in page.find(attrs={"role": "alert"}).find_all("a")} == {"#csv_file"}
    assert page.find(id="csv_file")["aria-describedby"].split() == ["csv_file-hint", "csv_file-error"]
    statuses = {status: catalogue.get_book(db, book_id)["rights_status"] for status, book_id in books.items()}
    assert statuses == {status: status for status in books}, "nothing changed"


def test_the_csv_page_refuses_a_forged_form_a_missing_file_and_a_wrong_header(staff, db, books) -> None:
    good = f"book_id,status\n{books['public-domain']},withdrawn\n".encode()
    assert _upload_csv(staff, good, token="forged").status_code == 403
    empty = staff.post("/staff/rights", data={"csrf_token": token_for(staff)})
    assert empty.status_code == 400
    assert "Choose a CSV file to upload." in soup(empty).find(attrs={"role": "alert"}).get_text()
    header = soup(_upload_csv(staff, f"id,rights\n{books['public-domain']},withdrawn\n".encode()))
    assert (
        header.find(attrs={"role": "alert"})
        .find("a")
        .get_text()
        .startswith("Row 1: The first line must name")
    )
    binary = soup(_upload_csv(staff, b"\xff\xfe\x00bad"))
    assert "not UTF-8" in binary.find(attrs={"role": "alert"}).get_text()
    assert catalogue.get_book(db, books["public-domain"])["rights_status"] == "public-domain"


def test_a_signed_out_visitor_cannot_reach_the_csv_page(client) -> None:
    response = client.get("/staff/rights", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")


# --- The command line ---


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}


def test_rights_set_from_the_command_line(env, db, books) -> None:
    book_id = books["public-domain"]
    args = ["rights", "set", str(book_id), "open-licence", "--licence-name", "CC0 1.0"]
    result = CliRunner().invoke(
        main, [*args, "--licence-url", "https://creativecommons.org/publicdomain/zero/1.0/"], env=env
    )
    assert result.exit_code == 0, result.output
    assert result.output == f"Book {book_id}: Open licence.\n"
    assert catalogue.get_book(db, book_id)["licence_name"] == "CC0 1.0"
    wrong = CliRunner().invoke(main, ["rights", "set", str(book_id), "secret"], env=env)
    assert wrong.exit_code == 1 and "Choose a rights status" in wrong.output
    missing = CliRunner().invoke(main, ["rights", "set", "999", "withdrawn"], env=env)
    assert missing.exit_code == 1 and "There is no book 999." in missing.output
    assert catalogue.get_book(db, book_id)["rights_status"] == "open-licence"


def test_rights_import_from_the_command_line_is_all_or_nothing(env, db, books, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(f"book_id,status\n{books['public-domain']},withdrawn\n12345,withdrawn\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["rights", "import", str(bad)], env=env)
    assert result.exit_code == 1
    assert result.output == "Nothing was changed, because:\nRow 3: There is no book 12345.\n"
    assert catalogue.get_book(db, books["public-domain"])["rights_status"] == "public-domain"
    good = tmp_path / "good.csv"
    good.write_text(f"book_id,status\n{books['public-domain']},restricted\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["rights", "import", str(good)], env=env)
    assert result.exit_code == 0 and result.output == "The rights of 1 book were set.\n"
    assert catalogue.get_book(db, books["public-domain"])["rights_status"] == "eligible-only"


def test_import_rights_option_takes_every_status(env, db) -> None:
    result = CliRunner().invoke(main, ["import", "--rights", "withdrawn", str(TEXT)], env=env)
    assert result.exit_code == 0, result.output
    assert db.execute("SELECT rights_status, rights FROM books").fetchone() == ("withdrawn", "restricted")
