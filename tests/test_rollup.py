"""Roll-up to a parent library (issue 14, part 2): three real instances on loopback ports, a city reporting to
its province and the province to the nation, each over signed HTTP; the parent shows its members side by
side and in total, a day sent again replaces itself, and an unsigned or wrongly signed body stores nothing.
"""

from __future__ import annotations

import dataclasses
import json
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from accessible_lib import auth, create_app, rollup, stats
from accessible_lib.db import open_database
from accessible_lib.jobs import signing
from accessible_lib.jobs.queue import EditionQueue
from accessible_lib.jobs.stats_tasks import daily_statistics
from accessible_lib.settings import Settings

from .live_server import start_server

CITY_KEY, PROVINCE_KEY = "city-and-province-share-this", "province-and-nation-share-this"
STAFF, STAFF_PASSWORD = "librarian", "a long enough passphrase"


def _settings(tmp_path, name: str, **values) -> Settings:
    settings = Settings.from_env({}, data_dir=tmp_path / name, library_name=name, **values)
    open_database(settings.database_path).close()
    return settings


def _members(settings: Settings) -> dict[str, dict[str, float]]:
    """{member: {metric: total}} as the parent stored it."""
    db = open_database(settings.database_path)
    try:
        rows = db.execute("SELECT member, metric, sum(value) FROM stats_members GROUP BY member, metric")
        found: dict[str, dict[str, float]] = {}
        for member, metric, value in rows:
            found.setdefault(member, {})[metric] = value
        return found
    finally:
        db.close()


def _send(settings: Settings, **options) -> rollup.SendResult:
    db = open_database(settings.database_path)
    try:
        return rollup.send(db, settings, **options)
    finally:
        db.close()


def _page(settings: Settings) -> BeautifulSoup:
    """The statistics page as a librarian of that library sees it."""
    db = open_database(settings.database_path)
    if not db.execute("SELECT count(*) FROM staff_users").fetchone()[0]:
        auth.create_staff(db, STAFF, STAFF_PASSWORD)
    db.close()
    with TestClient(create_app(settings)) as client:
        login = BeautifulSoup(client.get("/staff/login").text, "html.parser")
        token = login.find("input", attrs={"name": "csrf_token"})["value"]
        fields = {"csrf_token": token, "username": STAFF, "password": STAFF_PASSWORD, "next": "/staff"}
        assert client.post("/staff/login", data=fields, follow_redirects=False).status_code == 303
        page = client.get("/staff/stats")
    assert page.status_code == 200
    return BeautifulSoup(page.text, "html.parser")


def _summary(settings: Settings) -> dict[str, dict[str, str]]:
    """The parent's staff page: {column: {figure: value}} of its summary table."""
    table = _page(settings).find("table", id="summary")
    columns = [th.get_text() for th in table.thead.find_all("th")][1:]
    result: dict[str, dict[str, str]] = {column: {} for column in columns}
    for row in table.tbody.find_all("tr"):
        for column, cell in zip(columns, row.find_all("td"), strict=True):
            result[column][row.th.get_text()] = cell.get_text()
    return result


def _post(url: str, body: bytes, headers: dict) -> int:
    request = urllib.request.Request(url + rollup.PATH, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as error:
        return error.code


@pytest.fixture
def three_libraries(tmp_path):
    national = _settings(tmp_path, "National", member_keys=f"Zhejiang={PROVINCE_KEY}")
    servers = [start_server(national)]
    try:
        province = _settings(
            tmp_path,
            "Zhejiang",
            parent_url=servers[0].url,
            parent_key=PROVINCE_KEY,
            member_keys=f"Hangzhou={CITY_KEY}",
        )
        servers.append(start_server(province))
        city = _settings(tmp_path, "Hangzhou", parent_url=servers[1].url, parent_key=CITY_KEY)
        servers.append(start_server(city))
        yield national, province, city, servers
    finally:
        for server in servers:
            server.stop()


def _wait_for_searches(settings: Settings, expected: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while True:
        db = open_database(settings.database_path, migrate=False)
        try:
            row = db.execute(
                "SELECT sum(count) FROM stats_daily WHERE metric = ?", [stats.SEARCHES]
            ).fetchone()
        finally:
            db.close()
        if (row[0] or 0) >= expected:
            return
        assert time.monotonic() < deadline, f"the server's {expected} searches never reached its catalogue"
        time.sleep(0.2)


def test_a_city_reports_to_its_province_and_the_province_to_the_nation(three_libraries) -> None:
    national, province, city, servers = three_libraries
    city_url = servers[2].url
    # Real searches on the city's own server: an empty library finds nothing, so each is also a gap.
    for query in ("whale", "Whale", "红楼梦"):
        with urllib.request.urlopen(f"{city_url}/search?q={urllib.parse.quote(query)}", timeout=30) as answer:
            assert answer.status == 200
    # The server counts searches in memory and adds them to its catalogue every few seconds
    # (stats.PendingCounts): the report is sent once they are there, as a nightly one would be.
    _wait_for_searches(city, 3)
    yesterday = stats.today() - timedelta(days=1)
    for settings, reads in ((city, 5), (province, 7), (national, 11)):
        db = open_database(settings.database_path)
        stats.count(db, stats.READS, n=reads, day=yesterday)
        db.close()

    sent = _send(city, include_today=True)
    assert sent.sent and sent.error is None and sent.accepted_through == yesterday.isoformat()
    assert _members(province) == {
        "Hangzhou": {"reads": 5, "searches": 3, "search_query": 3, "search_empty": 3}
    }
    assert _send(province, include_today=True).sent
    # The nation sees the province including its city, under the province's name.
    assert _members(national) == {
        "Zhejiang": {"reads": 12, "searches": 3, "search_query": 3, "search_empty": 3}
    }

    # Side by side and in total, on each parent's own staff page.
    province_page = _summary(province)
    assert list(province_page) == ["Zhejiang", "Hangzhou", "Total"]
    assert [province_page[c]["Chapters read"] for c in province_page] == ["7", "5", "12"]
    assert [province_page[c]["Searches"] for c in province_page] == ["0", "3", "3"]
    national_page = _summary(national)
    assert list(national_page) == ["National", "Zhejiang", "Total"]
    assert [national_page[c]["Chapters read"] for c in national_page] == ["11", "12", "23"]
    assert national_page["Total"]["Searches that found nothing"] == "3"

    # Sending the same days again replaces them: nothing is counted twice. Today is sent again as it
    # stands; and a library that lost its record of what was accepted sends every day again.
    before = (_members(province), _members(national))
    assert _send(city, include_today=True, force=True).sent
    assert _send(province, include_today=True, force=True).sent
    assert (_members(province), _members(national)) == before
    for settings in (city, province):
        db = open_database(settings.database_path)
        with db.conn:
            db.execute("DELETE FROM rollup_state")
        db.close()
    assert _send(city, include_today=True).days == 2
    assert _send(province, include_today=True).days == 2
    assert (_members(province), _members(national)) == before
    # Up to yesterday, the parent has everything: the daily run has nothing to send.
    assert not _send(city).sent


def test_a_bad_signature_is_refused_and_nothing_is_stored(three_libraries) -> None:
    _, province, _, servers = three_libraries
    body = json.dumps({"library": "Hangzhou", "days": {"2026-01-01": [["reads", "", 999]]}}).encode()
    path = rollup.PATH
    for headers in (
        {},  # unsigned
        signing.sign("not-the-shared-key", "POST", path, body),  # signed with another key
        signing.sign(CITY_KEY, "POST", path, body, now=time.time() - 3600),  # an hour old
        signing.sign(CITY_KEY, "POST", "/internal/elsewhere", body),  # signed for another path
    ):
        assert _post(servers[1].url, body, {**headers, "Content-Type": "application/json"}) == 401
    assert _members(province) == {}
    # The same body signed with the city's key is taken, once: a replay of it is refused.
    signed = {**signing.sign(CITY_KEY, "POST", path, body), "Content-Type": "application/json"}
    assert _post(servers[1].url, body, signed) == 200
    assert _post(servers[1].url, body, signed) == 409
    assert _members(province) == {"Hangzhou": {"reads": 999}}
    # A signed body that is not figures is refused in words, and changes nothing.
    junk = json.dumps({"days": {"2026-01-02": [["reads", "", "many"]]}}).encode()
    assert _post(servers[1].url, junk, {**signing.sign(CITY_KEY, "POST", path, junk)}) == 400
    assert _members(province) == {"Hangzhou": {"reads": 999}}


def test_a_refused_send_is_retried_after_a_wait_until_accepted(three_libraries) -> None:
    _, province, city, servers = three_libraries
    province_url = servers[1].url
    yesterday = stats.today() - timedelta(days=1)
    db = open_database(city.database_path)
    stats.count(db, stats.READS, n=2, day=yesterday)
    db.close()
    wrong = dataclasses.replace(city, parent_key="a key the province does not know")
    now = time.time()
    failed = _send(wrong, now=now)
    assert not failed.sent and failed.error == "the parent answered 401" and failed.accepted_through is None
    assert not _send(city, now=now + 30).sent  # within the wait: not even tried
    assert _members(province) == {}
    said = _page(city).find(id="rollup-heading").find_next("p").get_text(" ", strip=True)
    assert "has no figures from this library yet" in said and "the parent answered 401" in said, said
    retried = _send(city, now=now + rollup.FIRST_BACKOFF + 1)  # the key is put right; the next run sends
    assert retried.sent and retried.accepted_through == yesterday.isoformat()
    assert _members(province) == {"Hangzhou": {"reads": 2}}
    said = _page(city).find(id="rollup-heading").find_next("p").get_text(" ", strip=True)
    assert said == f"{province_url} has this library’s figures up to {yesterday}.", said


def test_the_worker_sends_once_an_hour_until_accepted(three_libraries) -> None:
    _, province, city, _ = three_libraries
    queue = EditionQueue(city)
    due = {
        minute: {task.name for task in queue.huey.read_periodic(datetime(2030, 1, 1, 3, minute))}
        for minute in (0, 7, 30)
    }
    every = {"check_leases", "fill_chapter_marks"}  # every minute
    assert due == {0: every, 7: every | {"daily_statistics"}, 30: every}
    yesterday = stats.today() - timedelta(days=1)
    db = open_database(city.database_path)
    stats.count(db, stats.SIGN_INS, n=3, day=yesterday)
    db.close()
    assert daily_statistics(city) == {
        "sent": True,
        "accepted_through": yesterday.isoformat(),
        "error": None,
    }
    assert _members(province) == {"Hangzhou": {"sign_ins": 3}}
    assert daily_statistics(city)["sent"] is False  # nothing new until the day is over
    assert daily_statistics(province)["sent"] is True  # the province passes it on, without being asked


def test_many_days_go_in_several_requests_each_accepted_in_turn(three_libraries) -> None:
    _, province, city, _ = three_libraries
    today = stats.today()
    db = open_database(city.database_path)
    for back in range(1, 6):
        stats.count(db, stats.DOWNLOADS, "mp3", n=back, day=today - timedelta(days=back))
    data = rollup.payload(db, city, today - timedelta(days=5), today - timedelta(days=1))
    bodies = rollup.batches(data, 60)
    db.close()
    assert len(bodies) == 5  # one day each: a day is never cut in two
    assert [json.loads(body)["days"] for _, body in bodies] == [
        {day: data["days"][day]} for day in data["days"]
    ]
    sent = _send(city, body_bytes=60)
    assert sent.sent and sent.days == 5 and sent.accepted_through == (today - timedelta(days=1)).isoformat()
    assert _members(province) == {"Hangzhou": {"downloads": 15}}
