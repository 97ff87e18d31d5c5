"""`accessible-lib serve` as `make run` starts it: several web processes over one catalogue.

The server is the real command in a subprocess (not the in-process live server), because what is tested is
the process model: the catalogue migrated once by the parent, two uvicorn worker processes answering on one
port with one signing key, and a worker killed with SIGKILL replaced by the supervisor, after which no
request fails.
"""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from prometheus_client.parser import text_string_to_metric_families

from accessible_lib import catalogue
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .conftest import make_book

pytestmark = pytest.mark.slow

START_SECONDS = 60  # a busy machine may need long to start Python three times


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def children(pid: int) -> set[int]:
    """The web processes uvicorn's supervisor started (multiprocessing's resource tracker is not one)."""
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        for child in (task / "children").read_text().split():
            try:
                command = Path(f"/proc/{child}/cmdline").read_bytes()
            except FileNotFoundError:
                continue
            if b"spawn_main" in command:
                found.add(int(child))
    return found


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            return response.status, response.read().decode("utf-8")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8")


def book_page_requests(exposition: str) -> float:
    """The book page's answered GETs in a Prometheus exposition, read with Prometheus' own parser."""
    for family in text_string_to_metric_families(exposition):
        if family.name == "accessible_lib_http_requests":
            return sum(
                sample.value
                for sample in family.samples
                if sample.name.endswith("_total")
                and sample.labels == {"route": "/books/{book_id:int}", "method": "GET", "status": "200"}
            )
    raise AssertionError("no request counter in /metrics")


def wait_for(condition, what: str, seconds: float = START_SECONDS):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            value = condition()
        except (OSError, urllib.error.URLError):
            value = None
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"not within {seconds} s: {what}")


def test_two_web_processes_share_the_catalogue_and_one_killed_is_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    settings = Settings.from_env({}, data_dir=data)
    db = open_database(settings.database_path)
    book_id = catalogue.add_book(db, make_book("Two Processes", [("One", "The whale sang.")]))
    db.close()
    port = free_port()
    env = {**os.environ, "ACCESSIBLE_LIB_DATA_DIR": str(data), "ACCESSIBLE_LIB_WEB_PROCESSES": "2"}
    command = [
        str(Path(sys.executable).parent / "accessible-lib"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    log = (tmp_path / "serve.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        web = wait_for(lambda: len(children(server.pid)) == 2 and children(server.pid), "two web processes")
        wait_for(lambda: get(base + "/")[0] == 200, "the home page")
        # Every request, whichever process takes it, sees the same catalogue.
        for _ in range(20):
            status, html = get(f"{base}/books/{book_id}")
            assert status == 200
            assert BeautifulSoup(html, "html.parser").h1.get_text(strip=True) == "Two Processes"

        # Under load: readers keep asking for the home page while a process is killed. Requests the
        # killed process held may fail; none that starts once its replacement is running may.
        answers: list[tuple[float, int | str]] = []
        stop = threading.Event()

        def reader() -> None:
            while not stop.is_set():
                started = time.monotonic()
                try:
                    answer: int | str = get(base + "/")[0]
                except (OSError, urllib.error.URLError, http.client.HTTPException) as error:
                    answer = type(error).__name__
                answers.append((started, answer))

        readers = [threading.Thread(target=reader) for _ in range(4)]
        for thread in readers:
            thread.start()
        try:
            time.sleep(0.5)
            killed = min(web)
            os.kill(killed, signal.SIGKILL)
            replaced = wait_for(
                lambda: len(now := children(server.pid)) == 2 and killed not in now and now,
                "a new web process",
            )
            replaced_at = time.monotonic()
            time.sleep(1.5)
        finally:
            stop.set()
            for thread in readers:
                thread.join(timeout=60)
        assert len(replaced & web) == 1  # the other one kept running
        after = [answer for started, answer in answers if started > replaced_at]
        assert after and after == [200] * len(after), after
        statuses = [get(f"{base}/books/{book_id}")[0] for _ in range(40)]
        assert statuses == [200] * 40
        # Whichever process answers the scrape counts every process's requests, the killed one's included.
        for _ in range(4):
            assert book_page_requests(get(base + "/metrics")[1]) == 60
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
