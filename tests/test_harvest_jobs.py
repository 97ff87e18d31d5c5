"""Staff's "Harvest now" on /staff/sources, through the job queue: a real Redis, a real worker, the web page.

The web process only asks for a harvest; the worker (`accessible-lib worker`, as in the edition job tests)
runs it. The page says where the job is in words and hands progress.js the JSON it polls; one harvest per
library at a time; errors reach staff in their own language; a queue that cannot be reached is said so,
and leaves nothing marked as waiting.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from accessible_lib import auth, create_app
from accessible_lib.db import open_database
from accessible_lib.harvest import jobs, store
from accessible_lib.jobs.queue import EditionQueue
from accessible_lib.settings import Settings

from .jobs_helpers import WAIT, running_worker, wait_for, worker_env
from .test_harvest import (
    BILLION_LAUGHS,
    FOUR_RECORDS,
    FeedServer,
    OaiRepository,
    feeds,  # noqa: F401 (the fixture)
    send,
)

STAFF, PASSWORD = "librarian", "a long enough passphrase"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis(tmp_path: Path) -> Iterator[tuple[str, subprocess.Popen]]:
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed: `make setup` installs the Debian package redis-server"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )  # fmt: skip

    def answers() -> bool:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    try:
        wait_for(answers, timeout=WAIT, what="redis-server to answer")
        yield f"redis://127.0.0.1:{port}/0", process
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def settings(tmp_path: Path, redis) -> Settings:
    settings = Settings.from_env(
        {}, data_dir=tmp_path / "web", redis_url=redis[0], harvest_request_timeout_seconds=5
    )
    db = open_database(settings.database_path)
    auth.create_staff(db, STAFF, PASSWORD)
    db.close()
    return settings


@pytest.fixture
def staff(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings)) as client:
        login = BeautifulSoup(client.get("/staff/login").text, "html.parser")
        client.post(
            "/staff/login",
            data={"csrf_token": _token(login), "username": STAFF, "password": PASSWORD, "next": "/staff"},
        )
        yield client


def _token(page: BeautifulSoup) -> str:
    return page.find("input", attrs={"name": "csrf_token"})["value"]


def _page(client: TestClient, path: str = "/staff/sources", **headers: str) -> BeautifulSoup:
    return BeautifulSoup(client.get(path, headers=headers).text, "html.parser")


def _facts(section) -> dict[str, str]:
    return {
        dt.get_text(): dt.find_next_sibling("dd").get_text(" ", strip=True) for dt in section.find_all("dt")
    }


def _harvest_tasks(settings: Settings) -> int:
    queue = EditionQueue(settings)
    return sum(isinstance(t, queue.tasks.harvest_source.task_class) for t in queue.huey.pending())


def test_harvest_now_is_a_job_a_worker_runs_announced_on_the_page(
    tmp_path: Path,
    staff: TestClient,
    feeds: FeedServer,  # noqa: F811
    settings: Settings,
    redis,
) -> None:
    feeds.routes["/oai"] = OaiRepository(list(FOUR_RECORDS))
    page = _page(staff)

    # Adding a library queues its first harvest: nothing runs in the web process, the page says it waits.
    added = staff.post(
        "/staff/sources",
        data={"csrf_token": _token(page), "url": feeds.url + "/oai", "name": "Harbour"},
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/staff/sources?started=1#source-1"
    page = _page(staff, added.headers["location"])
    assert (
        page.select_one(".notice[role=status]")
        .get_text(strip=True)
        .startswith("The harvest is in the job queue")
    )
    assert not page.select("[autofocus], [role=alert]"), "a started harvest takes no one's focus"
    section = page.find("section", id="source-1")
    job = section.select_one("[data-job-url]")
    assert job["data-job-url"] == "/staff/sources/1.json"
    region = page.find(id=job["data-announce"])
    assert region["aria-live"] == "polite" and region.get_text() == ""
    facts = _facts(section)
    assert facts["Harvest job"] == "Waiting for a worker to start it." and facts["Records held here"] == "0"
    assert page.find("script", src="/static/progress.js")
    waiting = staff.get("/staff/sources/1.json").json()
    assert (waiting["status"], waiting["finished"], waiting["final_text"]) == ("queued", False, "")

    # Asked again while it waits: not queued a second time.
    twice = staff.post("/staff/sources/1/harvest", data={"csrf_token": _token(page)}, follow_redirects=False)
    assert twice.headers["location"] == "/staff/sources?running=1#source-1"
    assert (
        _page(staff, twice.headers["location"])
        .select_one("[role=status]")
        .get_text(strip=True)
        .startswith("A harvest of this library is waiting or running already")
    )
    assert _harvest_tasks(settings) == 1
    db = open_database(settings.database_path)
    assert db.execute("SELECT count(*) FROM harvest_runs").fetchone()[0] == 0, "the web process ran nothing"
    assert jobs.request(db, settings, 1) == jobs.ALREADY and jobs.request(db, settings, 99) == jobs.GONE

    env = worker_env(settings.data_dir, redis_url=redis[0], harvest_request_timeout_seconds=5)
    log_path = tmp_path / "worker.log"
    with running_worker(env, log_path):
        done = wait_for(
            lambda: (j := staff.get("/staff/sources/1.json").json())["finished"] and j,
            timeout=WAIT,
            what="the worker to harvest the library",
            log_path=log_path,
        )
        assert done["final_text"] == "The harvest of Harbour has finished: it holds 4 records here."
        assert done["record_count"] == 4 and done["last_harvest_text"].endswith(": Finished")
        page = _page(staff)
        section = page.find("section", id="source-1")
        assert not section.select("[data-job-url]") and not page.find("script", src="/static/progress.js")
        facts = _facts(section)
        assert facts["Harvest job"] == "No harvest is waiting or running."
        assert facts["Records held here"] == "4" and facts["Last harvest"].endswith(": Finished")
        assert _harvest_tasks(settings) == 0

        # The library turns hostile; a Chinese-speaking librarian asks: the worker's error is in Chinese.
        feeds.routes["/oai"] = send(BILLION_LAUGHS)
        chinese = {"Accept-Language": "zh-CN"}
        again = staff.post(
            "/staff/sources/1/harvest",
            data={"csrf_token": _token(page)},
            headers=chinese,
            follow_redirects=False,
        )
        assert again.headers["location"] == "/staff/sources?started=1#source-1"
        failed = wait_for(
            lambda: (j := staff.get("/staff/sources/1.json", headers=chinese).json())["finished"] and j,
            timeout=WAIT,
            what="the worker to try the hostile library",
            log_path=log_path,
        )
    assert failed["final_text"].startswith("Harbour") and "文档类型声明" in failed["final_text"], failed
    section = _page(staff, **chinese).find("section", id="source-1")
    assert "文档类型声明" in section.select_one("dd.field-error").get_text()
    rows = [[td.get_text(strip=True) for td in tr.find_all("td")] for tr in section.select("tbody tr")]
    assert [row[1] for row in rows] == ["失败", "已完成"] and rows[1][2] == "4", rows

    # A worker killed mid-harvest leaves a job that stops counting after the harvest time limit.
    with db.conn:
        db.execute(
            "UPDATE harvest_sources SET job_status = 'running', job_since = '2000-01-01T00:00:00+00:00'"
        )
    assert jobs.live_job(store.source(db, 1), settings) is None

    # The queue is down: said in words, linked to the button, and nothing is left marked as waiting.
    redis[1].terminate()
    redis[1].wait(timeout=10)
    down = staff.post("/staff/sources/1/harvest", data={"csrf_token": _token(page)}, follow_redirects=False)
    assert down.status_code == 503
    summary = BeautifulSoup(down.text, "html.parser").select_one(".error-summary[role=alert]")
    link = summary.find("a")
    assert link["href"] == "#harvest-1" and "The job queue could not be reached" in link.get_text()
    assert store.source(db, 1)["job_status"] is None
    db.close()
