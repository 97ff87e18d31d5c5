"""Jobs through a real Redis, with a worker that has no catalogue: it reports to the web app over HTTP.

This is the several-machines set-up: the web app is the catalogue's single writer; the worker gets the book in
its task, writes files to the shared edition storage and sends claim, renewals and completion, signed with
the shared secret key, to the web app's internal routes. The worker's data directory is a different one,
without catalogue.db; only its `editions` folder is a link to the web app's, as a shared mount would be.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.storage import storage_for
from accessible_lib.jobs import signing
from accessible_lib.jobs.queue import EditionQueue, request_and_enqueue
from accessible_lib.settings import Settings

from .jobs_helpers import WAIT, add_books, edition, running_worker, wait_for, worker_env
from .live_server import start_server

SECRET = "test-secret-shared-by-the-web-app-and-the-worker"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def redis_url(tmp_path: Path):
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed: `make setup` installs the Debian package redis-server"
    port = free_port()
    process = subprocess.Popen(
        [
            server,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(tmp_path),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    try:

        def answers() -> bool:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    return sock.recv(16).startswith(b"+PONG")
            except OSError:
                return False

        wait_for(answers, timeout=WAIT, what="redis-server to answer")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture
def web_app(tmp_path: Path, redis_url: str):
    settings = Settings.from_env({}, data_dir=tmp_path / "web", redis_url=redis_url, secret_key=SECRET)
    books = add_books(settings)
    live = start_server(settings)
    try:
        yield live, settings, books
    finally:
        live.stop()


def test_remote_worker_over_redis_builds_an_edition_without_the_catalogue(tmp_path, web_app, redis_url):
    live, settings, books = web_app
    worker_dir = tmp_path / "worker"
    worker_dir.mkdir()
    settings.editions_dir.mkdir(parents=True, exist_ok=True)
    (worker_dir / "editions").symlink_to(settings.editions_dir, target_is_directory=True)
    env = worker_env(
        worker_dir,
        redis_url=redis_url,
        report_url=live.url,
        secret_key=SECRET,
        lease_seconds=6,
        shared_editions=True,  # a shared mount: it publishes there (test_remote_workers.py uploads instead)
    )
    log_path = tmp_path / "worker.log"

    db = open_database(settings.database_path, migrate=False)
    try:
        edition_id = request_and_enqueue(db, EditionQueue(settings), books["zh"], "html", {}, "staff")
    finally:
        db.close()
    assert not (settings.queue_path).exists(), "with Redis there is no SQLite queue"

    with running_worker(env, log_path, workers=1):
        done = wait_for(
            lambda: (row := edition(settings, edition_id))["status"] == store.DONE and row,
            timeout=WAIT,
            what="the edition to be built by the remote worker",
            log_path=log_path,
        )
    assert done["attempts"] == 1 and done["error"] is None
    (record,) = done["files"]
    data = (storage_for(settings).path(done["storage_key"]) / record["name"]).read_bytes()
    assert hashlib.sha256(data).hexdigest() == record["sha256"] and len(data) == record["size"]
    # The worker never had the catalogue, nor a queue file of its own.
    assert sorted(p.name for p in worker_dir.iterdir()) == ["editions"]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def test_internal_routes_take_only_signed_fresh_reports(web_app):
    live, settings, books = web_app
    db = open_database(settings.database_path, migrate=False)
    try:
        edition_id, _ = store.request_edition(db, books["en"], "txt", {})
    finally:
        db.close()
    path = f"/internal/editions/{edition_id}/claim"
    body = json.dumps({"lease_seconds": 30}).encode()

    assert post(live.url + path, body, {})[0] == 401
    assert post(live.url + path, body, signing.sign("another key", "POST", path, body))[0] == 401
    other_path = f"/internal/editions/{edition_id + 1}/claim"
    assert post(live.url + path, body, signing.sign(SECRET, "POST", other_path, body))[0] == 401
    stale = signing.sign(SECRET, "POST", path, body, now=time.time() - 3600)
    assert post(live.url + path, body, stale)[0] == 401
    assert edition(settings, edition_id)["status"] == store.QUEUED, "no refused report changed anything"

    status, answer = post(live.url + path, body, signing.sign(SECRET, "POST", path, body))
    assert status == 200 and answer["attempt"] == 1 and answer["token"]
    assert edition(settings, edition_id)["status"] == store.RUNNING
    # A second claim while the lease lives gets nothing.
    assert post(live.url + path, body, signing.sign(SECRET, "POST", path, body)) == (200, {"token": None})
    bad = json.dumps({"token": answer["token"], "storage_key": "../x", "files": []}).encode()
    complete = f"/internal/editions/{edition_id}/complete"
    assert post(live.url + complete, bad, signing.sign(SECRET, "POST", complete, bad))[0] == 400
