"""Eligibility to read restricted books, through the real app, a real SMTP server and real files.

A reader applies (a certificate number or a professional's statement), staff review, the reader is told by
mail and on /account; an organisation vouches for members; evidence is shown only to its reader and to
staff, and every staff look is logged; the reader can export and delete everything. Pages are read with
BeautifulSoup, mails from the aiosmtpd server, files from the data directory.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from datetime import date
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import auth, eligibility, personal_data, readers
from accessible_lib.cli import main
from accessible_lib.settings import Settings
from accessible_lib.web.account_session import COOKIE

from .mail_server import body_of

PASSWORD = "correct horse battery"
STAFF = "librarian"
STAFF_PASSWORD = "a long enough passphrase"
EMAIL = "ann@example.org"
MAX_EVIDENCE = 20_000
# GB 11643's own example citizen ID (check character X), then category 1 (visual) and grade 2.
VALID_NUMBER = "11010519491231002X12"
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


@pytest.fixture
def settings(tmp_path: Path, mailbox) -> Settings:
    base = Settings.from_env({}, data_dir=tmp_path / "data", smtp_url=mailbox.url)
    return dataclasses.replace(base, max_evidence_bytes=MAX_EVIDENCE)


@pytest.fixture
def staff(app, db):
    auth.create_staff(db, STAFF, STAFF_PASSWORD)
    with TestClient(app) as staff_client:
        token = csrf_of(staff_client.get("/staff/login"))
        signed = staff_client.post(
            "/staff/login",
            data={"csrf_token": token, "username": STAFF, "password": STAFF_PASSWORD, "next": "/staff"},
            follow_redirects=False,
        )
        assert signed.status_code == 303
        yield staff_client


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf_of(response) -> str:
    return soup(response).find("input", attrs={"name": "csrf_token"})["value"]


def error_messages(response) -> list[tuple[str, str]]:
    summary = soup(response).find(class_="error-summary")
    return [(a["href"], a.get_text(" ", strip=True)) for a in summary.find_all("a")] if summary else []


def add_reader(db, email: str = EMAIL, name: str = "Ann Lee", **kwargs) -> int:
    return readers.add_reader(db, email, name, PASSWORD, **kwargs)


def sign_in(client: TestClient, email: str = EMAIL) -> None:
    token = csrf_of(client.get("/account/sign-in"))
    response = client.post(
        "/account/sign-in",
        data={"csrf_token": token, "email": email, "password": PASSWORD, "next": ""},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def apply(client: TestClient, *, category="blind", evidence="certificate", number="", file=None, other=""):
    """POST the application form as a browser does: multipart, the token first, the file last."""
    token = csrf_of(client.get("/account/eligibility"))
    data = {
        "csrf_token": token,
        "category": category,
        "category_other": other,
        "evidence": evidence,
        "certificate_number": number,
    }
    files = {"statement": file or ("", b"", "application/octet-stream")}
    return client.post("/account/eligibility", data=data, files=files, follow_redirects=False)


def application_state(response) -> str:
    return soup(response).find(id="application-state").get_text(" ", strip=True)


def stored_files(settings: Settings) -> list[Path]:
    folder = settings.evidence_dir
    return sorted(folder.iterdir()) if folder.exists() else []


def decide(staff: TestClient, application_id: int, **data):
    page = staff.get(f"/staff/eligibility/{application_id}")
    assert page.status_code == 200
    return staff.post(
        f"/staff/eligibility/{application_id}",
        data={"csrf_token": csrf_of(page), **data},
        follow_redirects=False,
    )


def cli_env(settings: Settings, mailbox) -> dict[str, str]:
    return {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir), "ACCESSIBLE_LIB_SMTP_URL": mailbox.url}


# --- Certificate numbers: checked for form, and told which part is wrong ---


def iso7064_check(first17: str) -> str:
    """The check character by the standard's own definition (weights 2^(17-i) mod 11), not the code's."""
    total = sum(int(d) * (2 ** (17 - i) % 11) for i, d in enumerate(first17))
    value = (12 - total % 11) % 11
    return "X" if value == 10 else str(value)


@pytest.mark.parametrize(
    "typed, expected",
    [
        (VALID_NUMBER, VALID_NUMBER),
        ("11010519491231002x12", VALID_NUMBER),  # a lower-case x
        ("110105 19491231 002X 12", VALID_NUMBER),  # spaces as printed on the card
        ("１１０１０５１９４９１２３１００２Ｘ１２", VALID_NUMBER),  # full-width, as a Chinese keyboard types
        ("44052419800101001" + iso7064_check("44052419800101001") + "74", None),  # category 7, grade 4
    ],
)
def test_valid_certificate_numbers_are_accepted_and_normalised(typed, expected):
    result = eligibility.check_certificate(typed, today=date(2026, 1, 1))
    assert result == (expected or eligibility.normalise_certificate(typed))
    assert len(result) == 20


@pytest.mark.parametrize(
    "typed, says",
    [
        ("", "Enter your disability certificate number."),
        ("11010519491231002X1", "has 20 characters"),  # 19: the grade is missing
        ("11010519491231002X123", "You entered 21"),
        ("1101051949123100AX12", "first 17 characters"),
        ("11010519491231002Y12", "18th character is a digit or X"),
        ("11010519491331002X12", "date of birth"),  # month 13
        ("110105194912310021" + "12", "check character"),  # 1 instead of X
        ("110105194912310029" + "12", "check character"),
        ("11010519491231002X82", "19th character is the disability category"),
        ("11010519491231002X02", "19th character is the disability category"),
        ("11010519491231002X15", "20th character is the disability grade"),
        ("11010519491231002X10", "20th character is the disability grade"),
    ],
)
def test_invalid_certificate_numbers_say_which_part_is_wrong(typed, says):
    with pytest.raises(eligibility.EligibilityError) as raised:
        eligibility.check_certificate(typed, today=date(2026, 1, 1))
    assert says in raised.value.translated()
    assert raised.value.field == "certificate_number"


def test_the_check_character_follows_iso_7064():
    for first17 in ("11010519491231002", "44052419800101001", "32010619900307123", "65010219851231876"):
        assert eligibility.id_check_character(first17) == iso7064_check(first17)


def test_a_wrong_certificate_number_is_shown_on_the_form_in_chinese(client, db):
    add_reader(db)
    sign_in(client)
    client.cookies.set("locale", "zh_Hans")
    refused = apply(client, number="11010519491231002X92")
    assert refused.status_code == 400
    assert error_messages(refused) == [("#certificate_number", "第19个字符是残疾类别，为1到7的数字。")]
    field = soup(refused).find(id="certificate_number")
    assert field["aria-invalid"] == "true" and field["value"] == "11010519491231002X92"
    assert "certificate_number-error" in field["aria-describedby"]
    assert db.execute("SELECT count(*) FROM eligibility_applications").fetchone()[0] == 0


# --- Apply, review, decide ---


def test_apply_with_a_certificate_staff_approve_reader_is_eligible_and_told(
    client, db, staff, mailbox, settings
):
    reader_id = add_reader(db)
    sign_in(client)
    assert application_state(client.get("/account")) == "You have not applied."
    page = soup(client.get("/account/eligibility"))
    form = page.find("form", attrs={"action": "/account/eligibility"})
    assert form["enctype"] == "multipart/form-data"
    labels = [label.get_text(strip=True) for label in form.find_all("label")]
    assert "Blind" in labels and "Low vision" in labels and "Disability certificate number" in labels

    sent = apply(client, number="110105 19491231 002x 12")
    assert sent.status_code == 303 and sent.headers["location"] == "/account/eligibility?done=applied"
    assert "waiting for review" in application_state(client.get("/account"))
    # While one is waiting, the reader cannot send another.
    assert (
        soup(client.get("/account/eligibility")).find("form", attrs={"action": "/account/eligibility"})
        is None
    )

    queue = soup(staff.get("/staff/eligibility"))
    assert queue.find("nav", class_="staff-nav").find("a", href="/staff/eligibility")
    row = queue.find("tbody").find("tr")
    assert "Ann Lee" in row.th.get_text() and EMAIL in row.th.get_text()
    cells = [td.get_text(" ", strip=True) for td in row.find_all("td")]
    assert cells[0] == "Blind"
    assert cells[1] == f"Disability certificate number: {VALID_NUMBER}"
    application_id = eligibility.pending_application(db, reader_id).id

    assert not readers.as_reader(readers.get_reader(db, reader_id)).eligible
    approved = decide(staff, application_id, decision="approve", until="")
    assert approved.status_code == 303
    assert approved.headers["location"] == "/staff/eligibility?done=approved"
    assert readers.as_reader(readers.get_reader(db, reader_id)).eligible is True
    mail = mailbox.last_to(EMAIL)
    assert mail["Subject"] == "Your application at Accessible Library is approved"
    assert "is approved" in body_of(mail) and "http://testserver/account" in body_of(mail)
    assert VALID_NUMBER not in body_of(mail) and "Blind" not in body_of(mail)
    assert application_state(client.get("/account")) == "Approved, with no end date."
    assert soup(staff.get("/staff/eligibility")).find("tbody") is None  # the queue is empty

    # Approved until a day that has passed: no longer eligible, and the page says when it ended.
    env = cli_env(settings, mailbox)
    ended = CliRunner().invoke(main, ["readers", "approve", str(reader_id), "--until", "2020-01-31"], env=env)
    assert ended.exit_code == 0, ended.output
    assert "eligible until 2020-01-31" in ended.output
    assert readers.as_reader(readers.get_reader(db, reader_id)).eligible is False
    assert (
        application_state(client.get("/account")) == "Your approval ended on 2020-01-31. You may apply again."
    )
    assert soup(client.get("/account")).find("a", string="Apply again")["href"] == "/account/eligibility"


def test_approve_until_a_future_date_then_it_shows_the_date(client, db, staff, mailbox):
    reader_id = add_reader(db)
    sign_in(client)
    assert apply(client, category="reading", number=VALID_NUMBER).status_code == 303
    application = eligibility.pending_application(db, reader_id)
    past = decide(staff, application.id, decision="approve", until="2001-01-01")
    assert past.status_code == 400
    assert error_messages(past)[0][0] == "#until"
    assert eligibility.get_application(db, application.id).status == "pending"
    assert decide(staff, application.id, decision="approve", until="2999-12-31").status_code == 303
    assert readers.as_reader(readers.get_reader(db, reader_id)).eligible
    assert application_state(client.get("/account")) == "Approved until 2999-12-31."
    assert "until 2999-12-31" in body_of(mailbox.last_to(EMAIL))


def test_deny_needs_a_reason_which_the_reader_sees_on_their_account(client, db, staff, mailbox):
    reader_id = add_reader(db)
    sign_in(client)
    assert apply(client, category="low-vision", number=VALID_NUMBER).status_code == 303
    application = eligibility.pending_application(db, reader_id)

    no_reason = decide(staff, application.id, decision="deny", reason="   ")
    assert no_reason.status_code == 400
    assert error_messages(no_reason) == [("#reason", "Give the reason, so the reader knows what to do.")]
    assert eligibility.get_application(db, application.id).status == "pending"

    reason = "The certificate number belongs to someone else. Send a statement from your eye doctor."
    denied = decide(staff, application.id, decision="deny", reason=reason)
    assert denied.headers["location"] == "/staff/eligibility?done=denied"
    assert not readers.as_reader(readers.get_reader(db, reader_id)).eligible
    home = client.get("/account")
    assert application_state(home) == f"Your application was not approved. The reason: {reason}"
    assert soup(home).find("a", string="Apply again")["href"] == "/account/eligibility"
    mail = mailbox.last_to(EMAIL)
    assert mail["Subject"] == "Your application at Accessible Library was not approved"
    assert reason not in body_of(mail)  # the reason may speak of the disability: only on the account page
    # Applying again is possible at once.
    assert soup(client.get("/account/eligibility")).find("form", attrs={"action": "/account/eligibility"})


def test_other_category_needs_a_description(client, db):
    add_reader(db)
    sign_in(client)
    refused = apply(client, category="other", number=VALID_NUMBER)
    assert refused.status_code == 400
    assert error_messages(refused) == [("#category_other", "Describe the print disability you have.")]
    nothing = apply(client, category="", evidence="")
    assert [href for href, _ in error_messages(nothing)] == ["#category", "#evidence-statement"]
    page = soup(nothing)
    assert page.find(id="category") is not None and page.find(id="evidence-statement") is not None
    assert (
        apply(client, category="other", other="Aphantasia with migraine", number=VALID_NUMBER).status_code
        == 303
    )


# --- A professional's statement: size and type limits, stored outside the web root ---


def test_a_statement_too_big_or_of_the_wrong_type_is_refused_and_nothing_is_stored(client, db, settings):
    reader_id = add_reader(db)
    sign_in(client)
    # Over the limit but within the room for the form: refused while it arrives.
    big = apply(client, evidence="statement", file=("scan.pdf", PDF + b"0" * MAX_EVIDENCE, "application/pdf"))
    assert big.status_code == 400
    assert error_messages(big) == [
        (
            "#statement",
            "The file is larger than 19.5 KB, the largest accepted. Nothing was kept: send a smaller copy "
            "(a scan at a lower resolution, or a PDF).",
        )
    ]
    # Far over: refused by its Content-Length before it is read.
    huge = apply(client, evidence="statement", file=("scan.pdf", PDF + b"0" * 200_000, "application/pdf"))
    assert huge.status_code == 413
    assert error_messages(huge)[0][0] == "#statement" and "larger than 19.5 KB" in error_messages(huge)[0][1]
    # A name and a type that say PDF do not make a PDF: the first bytes decide.
    fake = apply(
        client, evidence="statement", file=("statement.pdf", b"<html><script>x</script>", "application/pdf")
    )
    assert fake.status_code == 400
    assert error_messages(fake) == [
        (
            "#statement",
            "The file is not a PDF, JPEG or PNG. Nothing was kept: send the statement as one of those.",
        )
    ]
    client.cookies.set("locale", "zh_Hans")
    chinese = apply(
        client, evidence="statement", file=("scan.pdf", PDF + b"0" * MAX_EVIDENCE, "application/pdf")
    )
    assert chinese.status_code == 400
    assert error_messages(chinese)[0][1].startswith("文件大于19.5 KB")
    missing = apply(client, evidence="statement")
    assert error_messages(missing)[0][0] == "#statement"

    assert stored_files(settings) == []
    assert eligibility.latest_application(db, reader_id) is None
    assert db.execute("SELECT count(*) FROM eligibility_evidence").fetchone()[0] == 0


def test_a_statement_is_kept_by_a_random_name_under_the_data_directory(client, db, settings):
    reader_id = add_reader(db)
    sign_in(client)
    sent = apply(
        client, category="physical", evidence="statement", file=("Ann Lee - blind.png", PNG, "image/png")
    )
    assert sent.status_code == 303
    (kept,) = stored_files(settings)
    assert kept.parent == settings.data_dir / "evidence"
    assert len(kept.name) == 32 and "Ann" not in kept.name and kept.read_bytes() == PNG
    row = db.execute("SELECT reader_id, media_type, size, stored_name FROM eligibility_evidence").fetchone()
    assert row == (reader_id, "image/png", len(PNG), kept.name)


def test_evidence_is_served_only_to_its_reader_and_to_staff_and_every_staff_look_is_logged(
    client, app, db, staff, settings
):
    reader_id = add_reader(db)
    add_reader(db, "bo@example.org", "Bo")
    sign_in(client)
    assert apply(client, evidence="statement", file=("scan.pdf", PDF, "application/pdf")).status_code == 303
    application_id = eligibility.pending_application(db, reader_id).id
    staff_url = f"/staff/eligibility/{application_id}/evidence"
    own_url = f"/account/eligibility/evidence/{application_id}"

    with TestClient(app) as anonymous:
        assert anonymous.get(staff_url, follow_redirects=False).headers["location"].startswith("/staff/login")
        assert (
            anonymous.get(own_url, follow_redirects=False).headers["location"].startswith("/account/sign-in")
        )
    with TestClient(app) as other:
        sign_in(other, "bo@example.org")
        assert other.get(own_url, follow_redirects=False).status_code == 404
        assert other.get(staff_url, follow_redirects=False).headers["location"].startswith("/staff/login")
    # The reader is not staff: the staff address sends them to the staff sign-in, their own serves it.
    assert client.get(staff_url, follow_redirects=False).status_code == 303
    own = client.get(own_url)
    assert own.status_code == 200 and own.content == PDF
    assert own.headers["content-disposition"].startswith("attachment;")
    assert db.execute("SELECT count(*) FROM evidence_views").fetchone()[0] == 0  # readers are not logged

    queue = soup(staff.get("/staff/eligibility"))
    assert queue.find("a", href=staff_url).get_text(strip=True) == "Statement from a professional (download)"
    served = staff.get(staff_url)
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == f'attachment; filename="evidence-{application_id}.pdf"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert served.headers["cache-control"] == "no-store"
    staff.get(f"/staff/eligibility/{application_id}")

    views = db.execute(
        "SELECT application_id, reader_id, staff_username, action FROM evidence_views ORDER BY id"
    ).fetchall()
    assert views == [
        (application_id, reader_id, STAFF, "queue"),
        (application_id, reader_id, STAFF, "download"),
        (application_id, reader_id, STAFF, "review"),
    ]
    log = soup(staff.get("/staff/eligibility/log"))
    rows = [
        [td.get_text(" ", strip=True) for td in tr.find_all("td")] for tr in log.find("tbody").find_all("tr")
    ]
    assert [row[1:] for row in rows] == [
        [STAFF, f"Application {application_id}", "The review page"],
        [STAFF, f"Application {application_id}", "The statement, downloaded"],
        [STAFF, f"Application {application_id}", "The list of applications"],
    ]
    # Nothing under the served static directory, and no public path to the file.
    assert client.get(f"/static/{stored_files(settings)[0].name}").status_code == 404


# --- Organisations vouching for members ---


def test_an_organisation_vouches_for_one_member_and_for_many_by_csv(
    client, app, db, staff, settings, mailbox
):
    env = cli_env(settings, mailbox)
    made = CliRunner().invoke(
        main,
        ["readers", "add", "school@example.org", "--name", "Sunshine School", "--organisation"],
        input=PASSWORD + "\n",
        env=env,
    )
    assert made.exit_code == 0, made.output
    ann = add_reader(db)
    bo = add_reader(db, "bo@example.org", "Bo")
    cy = add_reader(db, "cy@example.org", "Cy")

    # A reader who is not an organisation cannot vouch.
    sign_in(client)
    assert client.get("/account/organisation").status_code == 403

    with TestClient(app) as school:
        sign_in(school, "school@example.org")
        page = school.get("/account/organisation")
        assert page.status_code == 200
        one = school.post(
            "/account/organisation",
            data={"csrf_token": csrf_of(page), "email": EMAIL, "category": "blind", "category_other": ""},
            follow_redirects=False,
        )
        assert one.status_code == 303
        application = eligibility.pending_application(db, ann)
        assert application.evidence_kind == "organisation"
        queue = soup(staff.get("/staff/eligibility"))
        assert "Vouched for by Sunshine School" in queue.find("tbody").get_text(" ", strip=True)

        def send_csv(text: str):
            token = csrf_of(school.get("/account/organisation"))
            return school.post(
                "/account/organisation/csv",
                data={"csrf_token": token},
                files={"members": ("members.csv", text.encode("utf-8"), "text/csv")},
                follow_redirects=False,
            )

        bad = send_csv(
            "email,category,description\n"
            "bo@example.org,low-vision,\n"
            "nobody@example.org,blind,\n"
            "cy@example.org,deaf,\n"
            "ann@example.org,blind,\n"
        )
        assert bad.status_code == 400
        messages = [text for _, text in error_messages(bad)]
        assert messages[0] == "3 lines cannot be used, so nothing was changed."
        assert messages[1].startswith("Line 3: No reader with a confirmed account has the email nobody@")
        assert messages[2] == "Line 4: Choose the kind of print disability you have."
        assert messages[3] == "Line 5: ann@example.org already has an application waiting for review."
        assert eligibility.pending_application(db, bo) is None  # line 2 was good, but nothing changed

        good = send_csv(
            "email,category,description\r\nbo@example.org,low-vision,\r\ncy@example.org,other,Aphasia\r\n"
        )
        assert good.status_code == 303 and good.headers["location"] == "/account/organisation?done=2"
        assert eligibility.pending_application(db, bo).category == "low-vision"
        assert eligibility.pending_application(db, cy).category_other == "Aphasia"
        members = soup(school.get("/account/organisation")).find_all("li")
        assert any("Cy, cy@example.org: waiting for review" in li.get_text(" ", strip=True) for li in members)

    approved = decide(staff, eligibility.pending_application(db, bo).id, decision="approve", until="")
    assert approved.status_code == 303
    assert readers.as_reader(readers.get_reader(db, bo)).eligible


# --- The reader's data: export and delete ---


def test_export_holds_the_readers_data_and_no_one_elses(client, app, db):
    ann = add_reader(db)
    bo = add_reader(db, "bo@example.org", "Bo")
    sign_in(client)
    assert apply(client, evidence="statement", file=("scan.pdf", PDF, "application/pdf")).status_code == 303
    with TestClient(app) as other:
        sign_in(other, "bo@example.org")
        other_number = "44052419800101001" + iso7064_check("44052419800101001") + "43"
        assert apply(other, category="physical", number=other_number).status_code == 303
    # A table added later that follows the rule (a reader_id column) is exported without being named.
    db["later_shelf"].insert_all(
        [{"reader_id": ann, "note": "Ann's note"}, {"reader_id": bo, "note": "Bo's"}]
    )

    response = client.get("/account/export")
    assert response.status_code == 200
    assert response.headers["content-disposition"].startswith(
        'attachment; filename="accessible-library-account-'
    )
    data = json.loads(response.content)
    assert data["account"]["email"] == EMAIL and "password_hash" not in data["account"]
    tables = data["tables"]
    assert [a["category"] for a in tables["eligibility_applications"]] == ["blind"]
    assert tables["eligibility_evidence"][0]["media_type"] == "application/pdf"
    assert tables["later_shelf"] == [{"reader_id": ann, "note": "Ann's note"}]
    assert tables["sessions"] and all("token_hash" not in s for s in tables["sessions"])
    text = response.text
    assert "bo@example.org" not in text and other_number not in text and "Bo's" not in text
    with TestClient(app) as anonymous:
        assert anonymous.get("/account/export", follow_redirects=False).status_code == 303


def test_deleting_the_account_removes_every_row_and_file_and_signs_out(client, app, db, settings, staff):
    ann = add_reader(db)
    bo = add_reader(db, "bo@example.org", "Bo")
    sign_in(client)
    assert apply(client, evidence="statement", file=("scan.pdf", PDF, "application/pdf")).status_code == 303
    staff.get("/staff/eligibility")  # a logged view of Ann's evidence
    db["later_shelf"].insert_all([{"reader_id": ann, "note": "x"}, {"reader_id": bo, "note": "y"}])
    cookie = client.cookies.get(COOKIE)

    page = client.get("/account/delete")
    wrong = client.post("/account/delete", data={"csrf_token": csrf_of(page), "password": "not it at all"})
    assert wrong.status_code == 400
    assert error_messages(wrong) == [("#password", "Your password is not right, so nothing was deleted.")]
    assert readers.get_reader(db, ann) is not None and len(stored_files(settings)) == 1

    done = client.post("/account/delete", data={"csrf_token": csrf_of(page), "password": PASSWORD})
    assert done.status_code == 200
    assert soup(done).h1.get_text(strip=True) == "Your account is deleted"
    assert readers.get_reader(db, ann) is None
    for table, columns in personal_data.reader_columns(db).items():
        for column in columns:
            count = db.execute(f"SELECT count(*) FROM [{table}] WHERE [{column}] = ?", [ann]).fetchone()[0]
            assert count == 0, table
    assert (
        db.execute(
            "SELECT count(*) FROM sessions WHERE kind = 'reader' AND account_id = ?", [ann]
        ).fetchone()[0]
        == 0
    )
    assert stored_files(settings) == []
    assert db.execute("SELECT count(*) FROM later_shelf WHERE reader_id = ?", [bo]).fetchone()[0] == 1
    client.cookies.set(COOKIE, cookie)
    assert client.get("/account", follow_redirects=False).status_code == 303


# --- Sensitive data stays out of logs; the command line ---


def test_no_disability_data_reaches_the_log(client, db, staff, caplog, settings):
    caplog.set_level(logging.DEBUG)
    reader_id = add_reader(db)
    sign_in(client)
    apply(client, category="other", other="Aphantasia with migraine", number=VALID_NUMBER)
    reason = "Your certificate says grade 4 hearing loss, which is not a print disability."
    decide(staff, eligibility.pending_application(db, reader_id).id, decision="deny", reason=reason)
    assert readers.get_reader(db, reader_id).role == "reader"
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for secret in (VALID_NUMBER, "Aphantasia", reason, "hearing"):
        assert secret not in logged


def test_without_smtp_the_decision_mail_in_the_log_holds_no_reason(tmp_path, caplog):
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    from accessible_lib.db import open_database
    from accessible_lib.eligibility_mail import send_decision

    database = open_database(settings.database_path)
    try:
        reader_id = add_reader(database)
        decided = eligibility.decide_without_application(
            database, reader_id, approved=False, by="test", reason="Grade 4 hearing loss is not enough."
        )
        caplog.set_level(logging.INFO)
        assert send_decision(settings, readers.get_reader(database, reader_id), decided, base_url="http://x")
    finally:
        database.close()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "was not approved" in logged and "hearing" not in logged


def test_cli_approve_deny_and_list_show_eligibility(settings, client, db, mailbox):
    env = cli_env(settings, mailbox)
    runner = CliRunner()
    ann = add_reader(db)
    bo = add_reader(db, "bo@example.org", "Bo")
    cy = add_reader(db, "cy@example.org", "Cy")
    sign_in(client)
    assert apply(client, number=VALID_NUMBER).status_code == 303

    listed = runner.invoke(main, ["readers", "list"], env=env)
    assert listed.exit_code == 0
    lines = listed.output.splitlines()
    assert "application pending" in lines[1] and lines[2].split()[-2:] == ["reader", "yes"]

    approved = runner.invoke(main, ["readers", "approve", str(ann)], env=env)
    assert approved.exit_code == 0, approved.output
    assert "their application" in approved.output
    assert eligibility.latest_application(db, ann).status == "approved"
    assert mailbox.last_to(EMAIL)["Subject"] == "Your application at Accessible Library is approved"

    # No application: approve makes the reader eligible, deny ends it; each is recorded for the reader.
    assert (
        runner.invoke(main, ["readers", "approve", str(bo), "--until", "2999-01-01"], env=env).exit_code == 0
    )
    assert readers.as_reader(readers.get_reader(db, bo)).eligible
    no_reason = runner.invoke(main, ["readers", "deny", str(bo)], env=env)
    assert no_reason.exit_code == 2  # click: --reason is required
    denied = runner.invoke(main, ["readers", "deny", str(bo), "--reason", "Moved away"], env=env)
    assert denied.exit_code == 0 and "no application was pending" in denied.output
    assert not readers.as_reader(readers.get_reader(db, bo)).eligible
    assert eligibility.latest_application(db, bo).reason == "Moved away"
    assert runner.invoke(main, ["readers", "deny", str(cy), "--reason", " "], env=env).exit_code == 1
    assert runner.invoke(main, ["readers", "approve", "999"], env=env).exit_code == 1
    bad_date = runner.invoke(main, ["readers", "approve", str(cy), "--until", "31/12/2030"], env=env)
    assert bad_date.exit_code == 1 and "year-month-day" in bad_date.output

    lines = runner.invoke(main, ["readers", "list"], env=env).output.splitlines()
    assert lines[1].split()[-2:] == ["eligible", "yes"]
    assert "application denied" in lines[2]
