"""/healthz, /readyz and /metrics as a load balancer and Prometheus use them, and the JSON log lines.

/metrics is read with Prometheus' own text parser (prometheus_client.parser), so a scrape that Prometheus
would refuse fails here. /readyz is shown failing for real: the catalogue file taken away while the app
serves, and a real redis-server stopped under an app whose queue it is.
"""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

import httpx2 as httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from accessible_lib import create_app
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.logs import QUIET_CLIENTS, configure_logging
from accessible_lib.settings import Settings
from accessible_lib.web.account_session import COOKIE

from .jobs_helpers import WAIT, wait_for
from .live_server import start_server
from .test_accounts import PASSWORD, add_verified
from .test_accounts import sign_in as reader_sign_in
from .test_backup import build_edition
from .test_redis import free_port

TOKEN = "metrics-token-for-the-test"
BEARER = {"Authorization": f"Bearer {TOKEN}"}
BOOK_ROUTE = "/books/{book_id:int}"


def scrape(client) -> dict[str, list]:
    """The samples of every metric family, by family name, as Prometheus parses them."""
    response = client.get("/metrics", headers=BEARER)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain; version=")
    return {family.name: family.samples for family in text_string_to_metric_families(response.text)}


def value(samples: list, name: str, **labels: str) -> float:
    found = [
        s.value for s in samples if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, [s for s in samples if s.name == name])
    return found[0]


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data", metrics_token=TOKEN)


def test_healthz_and_readyz_answer_json_to_a_client_without_a_session(client) -> None:
    alive = client.get("/healthz")
    assert alive.status_code == 200 and alive.headers["content-type"] == "application/json"
    assert alive.json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"database": "ok", "queue": "ok", "storage": "ok"}}
    assert ready.headers["cache-control"] == "no-store"


def test_readyz_is_503_while_the_catalogue_is_unreachable(client, settings) -> None:
    moved = settings.database_path.with_name("moved.db")
    settings.database_path.rename(moved)
    try:
        response = client.get("/readyz")
    finally:
        moved.rename(settings.database_path)
    assert response.status_code == 503
    assert response.json() == {
        "status": "unavailable",
        "checks": {"database": "unavailable", "queue": "ok", "storage": "ok"},
    }
    assert not settings.database_path.with_name("catalogue.db-journal").exists()
    assert client.get("/readyz").status_code == 200  # back as soon as the file is


def start_redis(tmp_path: Path) -> tuple[subprocess.Popen, str]:
    server = shutil.which("redis-server")
    assert server, "redis-server is not installed: `make setup` installs the Debian package redis-server"
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.STDOUT,
    )
    url = f"redis://127.0.0.1:{port}/0"

    def answers() -> bool:
        import redis

        try:
            return bool(redis.Redis.from_url(url, socket_timeout=0.5).ping())
        except redis.RedisError:
            return False

    wait_for(answers, timeout=WAIT, what="redis-server to answer")
    return process, url


def test_readyz_is_503_when_the_redis_queue_is_down(tmp_path) -> None:
    process, url = start_redis(tmp_path)
    try:
        settings = Settings.from_env({}, data_dir=tmp_path / "data", redis_url=url)
        with TestClient(create_app(settings)) as client:
            assert client.get("/readyz").json()["checks"]["queue"] == "ok"
            process.terminate()
            process.wait(timeout=10)
            response = client.get("/readyz")
            assert response.status_code == 503
            assert response.json()["checks"] == {"database": "ok", "queue": "unavailable", "storage": "ok"}
            assert client.get("/healthz").status_code == 200  # alive, though not ready
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=10)


def test_a_book_page_is_counted_by_its_route_with_a_latency_histogram(client, sample_library) -> None:
    book = sample_library["en"]
    for _ in range(2):
        assert client.get(f"/books/{book}").status_code == 200
    assert client.get("/no-such-page-9f2c").status_code == 404
    assert client.get("/static/style.css").status_code == 200
    families = scrape(client)

    requests = families["accessible_lib_http_requests"]
    count = "accessible_lib_http_requests_total"
    assert value(requests, count, route=BOOK_ROUTE, method="GET", status="200") == 2
    assert value(requests, count, route="unmatched", method="GET", status="404") == 1
    assert value(requests, count, route="/static", method="GET", status="200") == 1  # a Mount: its path
    routes = {s.labels["route"] for s in requests}
    assert not any("9f2c" in route or route == f"/books/{book}" for route in routes)  # templates only

    latency = families["accessible_lib_http_request_duration_seconds"]
    name = "accessible_lib_http_request_duration_seconds"
    assert value(latency, f"{name}_count", route=BOOK_ROUTE, method="GET") == 2
    assert value(latency, f"{name}_bucket", route=BOOK_ROUTE, method="GET", le="+Inf") == 2
    buckets = [s for s in latency if s.name == f"{name}_bucket" and s.labels["route"] == BOOK_ROUTE]
    assert len(buckets) > 5 and [s.value for s in buckets] == sorted(s.value for s in buckets)
    assert 0 < value(latency, f"{name}_sum", route=BOOK_ROUTE, method="GET") < 60


@pytest.mark.slow
def test_jobs_queue_depth_build_times_and_conversion_speed_come_from_the_catalogue(
    client, settings, db, sample_library
) -> None:
    book = sample_library["en"]
    for format_name, options in (("txt", {}), ("brf", {}), ("mp3", {"engine": "espeak"})):
        build_edition(settings, book, format_name, options)
    waiting, _ = store.request_edition(db, book, "html", {})
    failing, _ = store.request_edition(db, sample_library["zh"], "txt", {})
    token = store.claim(db, failing, lease_seconds=60)
    assert store.fail(db, failing, token, error="the disk is full", retry_at=None)
    families = scrape(client)

    editions = families["accessible_lib_editions"]
    assert value(editions, "accessible_lib_editions", format="txt", status="done") == 1
    assert value(editions, "accessible_lib_editions", format="txt", status="failed") == 1
    assert value(editions, "accessible_lib_editions", format="html", status="queued") == 1
    assert value(families["accessible_lib_queue_depth"], "accessible_lib_queue_depth") == 1
    assert (
        value(
            families["accessible_lib_queue_oldest_wait_seconds"], "accessible_lib_queue_oldest_wait_seconds"
        )
        >= 0
    )
    failed = families["accessible_lib_edition_failed_attempts"]
    assert value(failed, "accessible_lib_edition_failed_attempts", format="txt") == 1

    build = families["accessible_lib_edition_build_seconds"]
    for format_name in ("txt", "brf", "mp3"):
        assert value(build, "accessible_lib_edition_build_seconds_count", format=format_name) == 1
        assert value(build, "accessible_lib_edition_build_seconds_bucket", format=format_name, le="+Inf") == 1
    assert not any(s.labels.get("format") == "html" for s in build)  # nothing done yet

    speed = families["accessible_lib_edition_chars_per_second"]
    kinds = {s.labels["format"]: s.labels["kind"] for s in speed}
    assert kinds == {"txt": "text", "brf": "braille", "mp3": "speech"}
    assert all(s.value > 0 for s in speed)


def test_metrics_are_for_this_machine_or_for_the_token_holder(tmp_path) -> None:
    open_settings = Settings.from_env({}, data_dir=tmp_path / "open")
    with TestClient(create_app(open_settings)) as client:  # the test client is not a loopback address
        refused = client.get("/metrics")
        assert refused.status_code == 403 and "error" in refused.json()
    live = start_server(open_settings)
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            assert client.get("/metrics").status_code == 200
            # A proxy on this machine forwards the whole internet: forwarded requests are refused.
            assert client.get("/metrics", headers={"X-Forwarded-For": "203.0.113.9"}).status_code == 403
    finally:
        live.stop()

    guarded = Settings.from_env({}, data_dir=tmp_path / "guarded", metrics_token=TOKEN)
    with TestClient(create_app(guarded)) as client:
        assert client.get("/metrics").status_code == 401
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        assert wrong.status_code == 401 and wrong.headers["www-authenticate"].startswith("Bearer")
        assert client.get("/metrics", headers=BEARER).status_code == 200


@pytest.fixture
def json_logs(tmp_path):
    """The root logger as `serve` sets it up with ACCESSIBLE_LIB_LOG_FORMAT=json, put back afterwards."""
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    clients = {name: logging.getLogger(name).level for name in QUIET_CLIENTS}
    settings = Settings.from_env({}, data_dir=tmp_path / "data", log_format="json")
    stream = io.StringIO()
    configure_logging(settings, stream=stream)
    try:
        yield settings, stream
    finally:
        for handler in list(root.handlers):
            root.removeHandler(handler)
        for handler in saved[0]:
            root.addHandler(handler)
        root.setLevel(saved[1])
        for name, level in clients.items():
            logging.getLogger(name).setLevel(level)


def test_json_logs_are_one_object_a_line_with_request_id_route_status_and_duration(json_logs) -> None:
    settings, stream = json_logs
    db = open_database(settings.database_path)
    try:
        add_verified(db)
    finally:
        db.close()
    secret_token = "tok3n-from-a-mailed-link"
    with TestClient(create_app(settings)) as client:
        page = client.get("/", headers={"X-Request-ID": "nginx-req-42"})
        assert page.headers["x-request-id"] == "nginx-req-42"
        hostile = client.get("/healthz", headers={"X-Request-ID": "bad id\nwith a newline"})
        assert hostile.headers["x-request-id"] != "bad id\nwith a newline"
        client.get(f"/account/reset/{secret_token}?token={secret_token}")
        signed = reader_sign_in(client, password=PASSWORD)
        assert signed.status_code == 303
        session = client.cookies.get(COOKIE)
        assert session
    lines = [line for line in stream.getvalue().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]  # every line is one JSON object
    access = [r for r in records if r["logger"] == "accessible_lib.access"]
    home = next(r for r in access if r["request_id"] == "nginx-req-42")
    assert home["route"] == "/" and home["status"] == 200 and home["method"] == "GET"
    assert isinstance(home["duration_ms"], float) and {"time", "level", "message"} <= set(home)
    assert datetime.fromisoformat(home["time"]).utcoffset() == timedelta(0)
    reset = next(r for r in access if r["route"] == "/account/reset/{token}")
    assert reset["status"] == 400  # an unknown reset link: the "link expired" page
    text = "\n".join(lines)
    for secret in (secret_token, PASSWORD, session):
        assert secret not in text
