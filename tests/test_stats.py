"""Statistics (issue 14, part 1): counted from real page requests, shown to staff as charts with the same
figures in tables, exported as CSV and printed by the CLI, and kept as daily counts that name no reader."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import auth, create_app, eligibility, readers, stats, stats_report
from accessible_lib.cli import main
from accessible_lib.editions import store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import run_conversion
from accessible_lib.editions.storage import storage_for

STAFF, STAFF_PASSWORD = "librarian", "a long enough passphrase"
READER_EMAIL, READER_PASSWORD = "reader@example.org", "correct horse battery"
NOTHING = "Zqxvbn Wlkjh"  # found in no book


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def csrf_of(response) -> str:
    return soup(response).find("input", attrs={"name": "csrf_token"})["value"]


def figures(db) -> dict[tuple[str, str], int]:
    return {(m, k): c for m, k, c in db.execute("SELECT metric, key, count FROM stats_daily")}


def finished_edition(db, settings, book_id: int, format_name: str = "txt", options=None) -> tuple[int, str]:
    """A real edition made as a worker makes it; returns its id and its file's name."""
    options = options or {}
    edition_id, _ = store.request_edition(db, book_id, format_name, options)
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    files = run_conversion(export_book(db, book_id), format_name, options, workspace, lambda f, s: None)
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    return edition_id, files[0]["name"]


@pytest.fixture
def staff(settings, db):
    auth.create_staff(db, STAFF, STAFF_PASSWORD)
    with TestClient(create_app(settings)) as client:
        token = csrf_of(client.get("/staff/login"))
        fields = {"csrf_token": token, "username": STAFF, "password": STAFF_PASSWORD, "next": "/staff"}
        assert client.post("/staff/login", data=fields, follow_redirects=False).status_code == 303
        yield client


def test_pages_count_searches_reads_and_downloads(client, db, settings, sample_library) -> None:
    book = sample_library["en"]
    edition_id, name = finished_edition(db, settings, book)
    assert client.get("/search", params={"q": "whale"}).status_code == 200
    assert client.get("/search", params={"q": "  WHALE "}).status_code == 200  # the same query, folded
    assert client.get("/search", params={"q": "whale", "page": 2}).status_code == 200  # its page 2: not again
    page = client.get("/search", params={"q": NOTHING})
    assert page.status_code == 200 and "0" in soup(page).h1.get_text()
    assert client.get(f"/books/{book}/read/1").status_code == 200
    assert client.get(f"/editions/{edition_id}/files/{name}").status_code == 200
    resumed = client.get(f"/editions/{edition_id}/files/{name}", headers={"Range": "bytes=10-"})
    assert resumed.status_code == 206  # the rest of the same download: not counted again

    # A chapter read or a search is kept in the process and added every few seconds (stats.PendingCounts),
    # so the page itself writes nothing; a flush (the timer's, or the process stopping) adds it.
    assert ("reads", "") not in figures(db) and ("searches", "") not in figures(db)
    client.app.pending_counts.flush(db)
    assert figures(db) == {
        ("searches", ""): 3,
        ("search_query", "whale"): 2,
        ("search_query", "zqxvbn wlkjh"): 1,
        ("search_empty", "zqxvbn wlkjh"): 1,
        ("reads", ""): 1,
        ("downloads", "txt"): 1,
    }
    assert {row[0] for row in db.execute("SELECT day FROM stats_daily")} == {stats.today().isoformat()}


def test_a_reader_is_counted_active_once_a_day_and_who_is_forgotten(client, db, sample_library) -> None:
    reader_id = readers.add_reader(db, READER_EMAIL, "Ann Lee", READER_PASSWORD)
    token = csrf_of(client.get("/account/sign-in"))
    fields = {"csrf_token": token, "email": READER_EMAIL, "password": READER_PASSWORD, "next": ""}
    assert client.post("/account/sign-in", data=fields, follow_redirects=False).status_code == 303
    for _ in range(3):
        assert client.get(f"/books/{sample_library['en']}").status_code == 200
    assert figures(db) == {("sign_ins", ""): 1, ("active_readers", ""): 1}
    readers.add_reader(db, "second@example.org", "Bo Wu", READER_PASSWORD)
    with TestClient(client.app) as second:
        token = csrf_of(second.get("/account/sign-in"))
        fields = {"csrf_token": token, "email": "second@example.org", "password": READER_PASSWORD, "next": ""}
        assert second.post("/account/sign-in", data=fields, follow_redirects=False).status_code == 303
        assert second.get("/account").status_code == 200
    assert client.get("/account").status_code == 200
    assert figures(db) == {("sign_ins", ""): 2, ("active_readers", ""): 2}
    # Today's set holds a salted digest, never the reader's id or address...
    digest = db.execute("SELECT digest FROM stats_seen ORDER BY digest").fetchone()[0]
    assert str(reader_id) != digest and READER_EMAIL not in digest and len(digest) == 64
    # ...and once the day is over, only the count is left.
    stats.forget_past_days(db, stats.today() + timedelta(days=1))
    assert db.execute("SELECT count(*) FROM stats_seen").fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM stats_salts").fetchone()[0] == 0
    assert figures(db)[("active_readers", "")] == 2


def test_a_reading_app_signed_in_with_basic_auth_counts_its_reader_active(client, db) -> None:
    readers.add_reader(db, READER_EMAIL, "Ann Lee", READER_PASSWORD)
    for _ in range(2):
        assert client.get("https://testserver/opds", auth=(READER_EMAIL, READER_PASSWORD)).status_code == 200
    assert figures(db) == {("active_readers", ""): 1}


def test_no_statistics_table_can_name_a_reader(db) -> None:
    allowed = {
        "stats_daily": {"day", "metric", "key", "count"},
        "stats_salts": {"day", "salt"},
        "stats_seen": {"day", "digest"},
        "stats_members": {"member", "day", "metric", "key", "value", "received_at"},
        "rollup_state": {
            "id",
            "accepted_through",
            "failures",
            "next_attempt_at",
            "last_error",
            "last_sent_at",
        },
    }
    for table, columns in allowed.items():
        assert set(db[table].columns_dict) == columns, table
        assert not db[table].foreign_keys, table  # nothing points at readers, sessions or anything else


def test_a_failure_to_count_never_breaks_the_page(client, db, sample_library) -> None:
    db.execute("DROP TABLE stats_daily")
    assert client.get("/search", params={"q": "whale"}).status_code == 200
    assert client.get(f"/books/{sample_library['en']}/read/1").status_code == 200


def test_editions_and_eligibility_figures_come_from_their_tables(db, settings, sample_library) -> None:
    book = sample_library["en"]
    finished_edition(db, settings, book, "txt")
    brf_id, brf_name = finished_edition(db, settings, book, "brf", {"table": "en-ueb-g1"})
    brf = (settings.editions_dir / str(brf_id) / brf_name).read_bytes()
    failed, _ = store.request_edition(db, book, "html", {})
    store.fail(db, failed, store.claim(db, failed, lease_seconds=60), error="broken", retry_at=None)
    waiting, _ = store.request_edition(db, sample_library["zh"], "txt", {})
    for number, decide in enumerate(("approve", "deny", None)):
        reader = readers.add_reader(db, f"applicant{number}@example.org", "Applicant", READER_PASSWORD)
        application = eligibility.submit(db, reader, "blind", kind=eligibility.STATEMENT)
        if decide == "approve":
            eligibility.approve(db, application, by=STAFF)
        elif decide == "deny":
            eligibility.deny(db, application, by=STAFF, reason="The statement is not signed.")
    today = stats.today()
    report = stats_report.build_report(db, today, today, library="here", editions_dir=settings.editions_dir)
    days = report.days
    assert stats_report.by_key(report.own, stats.EDITIONS_MADE) == [("brf", 1), ("txt", 1)]
    assert stats_report.by_key(report.own, stats.EDITION_FAILURES) == [("html", 1)]
    pages = brf.count(b"\f") + (0 if brf.endswith(b"\f") else 1)
    assert pages >= 1 and stats_report.metric_total(report.own, stats.BRAILLE_PAGES, days) == pages
    assert stats_report.metric_total(report.own, stats.QUEUE_DEPTH, days) == 1  # the one still waiting
    assert stats_report.metric_total(report.own, stats.EDITIONS_STARTED, days) == 3
    assert waiting
    assert stats_report.metric_total(report.own, stats.ELIGIBILITY_APPLICATIONS, days) == 3
    assert stats_report.by_key(report.own, stats.ELIGIBILITY_DECISIONS) == [("approved", 1), ("denied", 1)]


def test_a_chapter_played_is_a_listen_and_its_ranges_are_not(client, db, settings, sample_library) -> None:
    edition_id, _ = finished_edition(db, settings, sample_library["en"], "mp3", {"engine": "espeak"})
    listen = [f for f in store.get_edition(db, edition_id)["files"] if f.get("role") == "listen"]
    assert listen and all(f["seconds"] > 0 for f in listen)
    url = f"/editions/{edition_id}/files/{listen[0]['name']}"
    assert client.get(url).status_code == 200
    assert client.get(url, headers={"Range": "bytes=0-"}).status_code == 206  # the player starts it again
    assert client.get(url, headers={"Range": "bytes=500-"}).status_code == 206  # and skips ahead: not again
    assert figures(db) == {("listen_edition", ""): 2}
    today = stats.today()
    report = stats_report.build_report(db, today, today, library="", editions_dir=settings.editions_dir)
    seconds = sum(f["seconds"] for f in listen)
    assert stats_report.metric_total(report.own, stats.AUDIO_SECONDS, report.days) == round(seconds)


def test_the_staff_page_draws_charts_and_tables_of_the_same_figures(staff, db, sample_library) -> None:
    for query in ("whale", "whale", NOTHING):
        assert staff.get("/search", params={"q": query}).status_code == 200
    page = staff.get("/staff/stats")
    assert page.status_code == 200
    html = soup(page)
    assert html.h1.get_text(strip=True) == "Statistics"
    chart = html.find(id="chart-searches-heading").parent
    svg = chart.find("svg")
    assert svg["role"] == "img"
    title, desc = svg.find("title"), svg.find("desc")
    assert title.get_text() == "Searches" and svg["aria-labelledby"] == title["id"]
    assert svg["aria-describedby"] == desc["id"] and "Highest: 3 on " + stats.today().isoformat() in desc.text
    table = chart.find("table")
    assert table.caption.get_text(strip=True) == "Searches per day"
    assert [th.get_text() for th in table.thead.find_all("th")] == ["Day", "Searches"]
    rows = {tr.th.get_text(strip=True): tr.td.get_text(strip=True) for tr in table.tbody.find_all("tr")}
    assert len(rows) == 30 and rows[stats.today().isoformat()] == "3"
    assert set(rows.values()) == {"0", "3"}
    assert len(chart.find_all("rect")) == 30  # one bar a day, the last as high as the table says
    assert all(th["scope"] == "row" for th in table.tbody.find_all("th"))
    summary = html.find("table", id="summary")
    searches = next(tr for tr in summary.tbody.find_all("tr") if tr.th.get_text() == "Searches")
    assert searches.td.get_text() == "3"
    empty = html.find("table", id="empty-queries")
    assert [(tr.th.get_text(), tr.td.get_text()) for tr in empty.tbody.find_all("tr")] == [
        ("zqxvbn wlkjh", "1")
    ]
    top = html.find("table", id="top-queries")
    assert [(tr.th.get_text(), tr.td.get_text()) for tr in top.tbody.find_all("tr")][0] == ("whale", "2")
    chinese = soup(staff.get("/staff/stats", headers={"Accept-Language": "zh-CN"}))
    assert chinese.h1.get_text(strip=True) == "统计"


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"from": "2026-13-01"}, "from", "Enter the first day as a date, such as 2026-01-31."),
        ({"to": "yesterday"}, "to", "Enter the last day as a date, such as 2026-01-31."),
        ({"from": "2026-02-01", "to": "2026-01-01"}, "from", "The first day must not be after the last day."),
        ({"from": "2020-01-01", "to": "2026-01-01"}, "from", "Choose at most 366 days at a time."),
    ],
)
def test_a_bad_range_is_said_at_the_top_and_at_its_field(staff, query, field, message) -> None:
    page = staff.get("/staff/stats", params=query)
    assert page.status_code == 400
    html = soup(page)
    summary = html.find(id="error-summary")
    assert summary["role"] == "alert"
    link = summary.find("a")
    assert link["href"] == f"#{field}" and link.get_text() == message
    field_input = html.find("input", id=field)
    assert field_input["aria-invalid"] == "true" and f"{field}-error" in field_input["aria-describedby"]
    assert html.title.get_text().startswith("Error:") and html.find("svg") is None
    assert staff.get("/staff/stats.csv", params=query).status_code == 400


def test_the_csv_has_every_figure_and_no_formula(staff, db) -> None:
    assert staff.get("/search", params={"q": "=HYPERLINK(1)"}).status_code == 200
    today = stats.today().isoformat()
    response = staff.get("/staff/stats.csv", params={"from": today, "to": today})
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert rows[0] == ["library", "day", "metric", "key", "value"]
    assert ["This library", today, "search_empty", "'=hyperlink(1)", "1"] in rows
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_the_staff_pages_are_for_staff_only(client) -> None:
    for path in ("/staff/stats", "/staff/stats.csv"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303 and response.headers["location"].startswith("/staff/login")


def test_the_cli_prints_and_exports_the_figures(db, settings, sample_library, monkeypatch) -> None:
    today = stats.today()
    stats.count(db, stats.SEARCHES, n=4)
    stats.count(db, stats.SEARCH_QUERY, "whale", n=4)
    stats.count(db, stats.READS, n=2, day=today - timedelta(days=400))  # outside any range asked below
    env = {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir), "ACCESSIBLE_LIB_LIBRARY_NAME": "Test Library"}
    runner = CliRunner()
    printed = runner.invoke(main, ["stats"], env=env)
    assert printed.exit_code == 0, printed.output
    lines = printed.output.splitlines()
    assert lines[0] == f"From {today - timedelta(days=29)} to {today}"
    searches = next(line for line in lines if line.startswith("Searches "))
    assert searches.split()[-1] == "4"
    assert next(line for line in lines if line.startswith("Chapters read")).split()[-1] == "0"
    assert any(line.split() == ["4", "whale"] for line in lines)
    exported = runner.invoke(main, ["stats", "--from", str(today), "--to", str(today), "--csv"], env=env)
    assert exported.exit_code == 0, exported.output
    rows = list(csv.reader(io.StringIO(exported.output)))
    assert rows[0] == ["library", "day", "metric", "key", "value"]
    assert ["Test Library", str(today), "searches", "", "4"] in rows
    assert all(row[1] == str(today) for row in rows[1:])
    bad = runner.invoke(main, ["stats", "--from", "not a day"], env=env)
    assert bad.exit_code == 2 and "Enter the first day as a date" in bad.output
    unset = runner.invoke(main, ["stats", "send"], env=env)
    assert unset.exit_code == 2 and "ACCESSIBLE_LIB_PARENT_URL" in unset.output


def test_a_query_is_folded_and_cut() -> None:
    assert stats.normalise_query("  Moby\u3000 DICK ") == "moby dick"
    assert stats.normalise_query("ＡＢＣ") == "abc"
    assert len(stats.normalise_query("x" * 500)) == stats.MAX_QUERY_CHARS
    assert date.fromisoformat(stats.today().isoformat()) == stats.today()


def test_read_counts_kept_in_the_process_reach_the_stats_when_it_stops(settings, db, sample_library) -> None:
    with TestClient(create_app(settings)) as client:
        for position in (1, 2, 1):
            assert client.get(f"/books/{sample_library['en']}/read/{position}").status_code == 200
        assert ("reads", "") not in figures(db)  # nothing written by the pages themselves
    assert figures(db) == {("reads", ""): 3}  # the app's shutdown flushed them


def test_pending_counts_keep_their_day_and_add_up(db) -> None:
    pending = stats.PendingCounts()
    pending.add(stats.READS)
    pending.add(stats.READS, n=2)
    pending.add(stats.READS, day="2026-01-01")
    pending.flush(db)
    pending.flush(db)  # nothing left: nothing added twice
    rows = db.execute("SELECT day, count FROM stats_daily WHERE metric = 'reads' ORDER BY day").fetchall()
    assert rows == [("2026-01-01", 1), (stats.today().isoformat(), 3)]
