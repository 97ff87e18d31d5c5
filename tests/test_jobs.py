"""The durable job queue: real `accessible-lib worker` processes over a real SQLite queue and catalogue.

What matters is what staff and readers see in the catalogue and the storage: an edition requested once is
built once and reused; a converter that fails is retried with backoff and then marked failed with its own
words; a worker that lost its lease stops and cannot overwrite the attempt that replaced it; and work lost
with a worker comes back through the edition's own state.
"""

from __future__ import annotations

import importlib
import json
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest

from accessible_lib.db import open_database
from accessible_lib.editions import formats, store
from accessible_lib.editions.storage import LocalStorage, storage_for
from accessible_lib.jobs import tasks
from accessible_lib.jobs.queue import EditionQueue, edition_payload, request_and_enqueue
from accessible_lib.jobs.recovery import recover
from accessible_lib.jobs.reporters import CatalogueReporter, Claim
from accessible_lib.settings import Settings

from .jobs_helpers import (
    PLUGIN,
    WAIT,
    add_books,
    assert_published_whole,
    edition,
    run_cli,
    running_worker,
    wait_for,
    worker_env,
)

WORKER_SETTINGS = {"lease_seconds": 3, "retry_backoff_seconds": 1, "max_attempts": 3}


@pytest.fixture(scope="module")
def test_formats():
    """The test plugin's formats in this process too (requests validate their options); removed after, and
    imported only here, so that no other test module sees them in the registry."""
    plugin = importlib.import_module(PLUGIN)
    for fmt in plugin.TEST_FORMATS:
        formats.register(fmt)
    yield
    for fmt in plugin.TEST_FORMATS:
        formats.FORMATS.pop(fmt.name, None)


@pytest.fixture(scope="module")
def worker_library(tmp_path_factory, test_formats):
    """A library with two books and one real worker (two processes) over its SQLite queue."""
    root = tmp_path_factory.mktemp("jobs")
    env = worker_env(root / "data", **WORKER_SETTINGS)
    settings = Settings.from_env(env)
    books = add_books(settings)
    log_path = root / "worker.log"
    with running_worker(env, log_path, workers=2):
        yield settings, books, env, log_path


def test_requested_edition_is_built_by_the_worker_and_then_reused(worker_library):
    settings, books, env, log_path = worker_library
    first = run_cli(env, "editions", "request", str(books["en"]), "--format", "txt", "--json")
    assert first.returncode == 0, first.stderr
    answer = json.loads(first.stdout)
    assert answer["reused"] is False
    edition_id = answer["edition_id"]
    done = wait_for(
        lambda: (row := edition(settings, edition_id))["status"] == store.DONE and row,
        timeout=WAIT,
        what="the txt edition to be done",
        log_path=log_path,
    )
    assert done["attempts"] == 1 and done["progress"] == 100 and done["error"] is None
    assert [f["name"] for f in done["files"]] and done["files"][0]["media_type"].startswith("text/plain")
    assert_published_whole(settings, done)
    text = (storage_for(settings).path(done["storage_key"]) / done["files"][0]["name"]).read_text()
    assert "Call me Ishmael." in text

    # The same request again: the finished edition, no new task.
    queue = EditionQueue(settings)
    again = run_cli(env, "editions", "request", str(books["en"]), "--format", "txt", "--json")
    assert json.loads(again.stdout) == {"edition_id": edition_id, "reused": True}
    db = open_database(settings.database_path, migrate=False)
    try:
        # Defaults written out or left out are the same request.
        assert request_and_enqueue(db, queue, books["en"], "txt", {}) == edition_id
    finally:
        db.close()
    assert queue.huey.pending_count() == 0 and queue.huey.scheduled_count() == 0
    assert edition(settings, edition_id)["attempts"] == 1

    # The same path through the Python entry point the web app uses, with another format and book.
    db = open_database(settings.database_path, migrate=False)
    try:
        html_id = request_and_enqueue(db, queue, books["zh"], "html", {}, requested_by="tester")
    finally:
        db.close()
    html_done = wait_for(
        lambda: (row := edition(settings, html_id))["status"] == store.DONE and row,
        timeout=WAIT,
        what="the html edition to be done",
        log_path=log_path,
    )
    assert html_done["requested_by"] == "tester"
    assert_published_whole(settings, html_done)


def _record_edition_changes(settings) -> None:
    """Every change to an edition's row, kept by an SQLite trigger in the real catalogue: the worker's own
    writes, in order, so a test reads the states an edition passed through instead of polling for one that
    lasts a second and that a busy machine's poll can miss."""
    db = open_database(settings.database_path, migrate=False)
    try:
        db.executescript(
            """
            CREATE TABLE IF NOT EXISTS test_edition_changes (
                edition_id INTEGER, status TEXT, attempts INTEGER, error TEXT, retry_at REAL, at REAL);
            CREATE TRIGGER IF NOT EXISTS test_edition_changes AFTER UPDATE ON editions BEGIN
                INSERT INTO test_edition_changes VALUES (NEW.id, NEW.status, NEW.attempts, NEW.error,
                    NEW.retry_at, (julianday('now') - 2440587.5) * 86400.0);
            END;
            """
        )
    finally:
        db.close()


def _edition_changes(settings, edition_id: int) -> list[dict]:
    db = open_database(settings.database_path, migrate=False)
    try:
        return list(
            db.query("SELECT * FROM test_edition_changes WHERE edition_id = ? ORDER BY rowid", [edition_id])
        )
    finally:
        db.close()


def test_failing_converter_is_retried_with_backoff_until_it_succeeds(worker_library, tmp_path):
    settings, books, env, log_path = worker_library
    _record_edition_changes(settings)
    counter = tmp_path / "attempts"
    db = open_database(settings.database_path, migrate=False)
    try:
        edition_id = request_and_enqueue(
            db, EditionQueue(settings), books["en"], "test-flaky", {"counter": str(counter), "failures": 2}
        )
    finally:
        db.close()
    done = wait_for(
        lambda: (row := edition(settings, edition_id))["status"] == store.DONE and row,
        timeout=WAIT,
        what="the flaky edition to succeed",
        log_path=log_path,
    )
    assert done["attempts"] == 3 and counter.read_text() == "3" and done["error"] is None
    assert_published_whole(settings, done)
    # Between attempts the edition waited, queued, with the last failure's message and its retry time:
    # 1 s after the first failure, then 2 s after the second (retry_backoff_seconds=1, doubled).
    waits = [c for c in _edition_changes(settings, edition_id) if c["status"] == store.QUEUED and c["error"]]
    assert [(c["attempts"], c["error"]) for c in waits] == [
        (1, "The test converter refused attempt 1: the source was unreadable."),
        (2, "The test converter refused attempt 2: the source was unreadable."),
    ]
    for wait, backoff in zip(waits, (1, 2), strict=True):
        assert wait["retry_at"] == pytest.approx(wait["at"] + backoff, abs=0.5)
    claims = [
        c for c in _edition_changes(settings, edition_id) if c["status"] == store.RUNNING and not c["error"]
    ]
    retried = [c for c in claims if c["at"] > waits[0]["at"]]
    assert retried and retried[0]["at"] >= waits[0]["retry_at"] - 0.05, "attempt 2 waited for its retry time"


def test_always_failing_converter_ends_failed_with_its_message(worker_library, tmp_path):
    settings, books, env, log_path = worker_library
    db = open_database(settings.database_path, migrate=False)
    try:
        edition_id = request_and_enqueue(
            db,
            EditionQueue(settings),
            books["zh"],
            "test-flaky",
            {"counter": str(tmp_path / "attempts"), "failures": 99},
        )
    finally:
        db.close()
    failed = wait_for(
        lambda: (row := edition(settings, edition_id))["status"] == store.FAILED and row,
        timeout=WAIT,
        what="the edition to be failed",
        log_path=log_path,
    )
    assert failed["attempts"] == WORKER_SETTINGS["max_attempts"]
    assert failed["error"] == "The test converter refused attempt 3: the source was unreadable."
    assert "Traceback" not in failed["error"] and failed["files"] == []
    assert not storage_for(settings).exists(str(edition_id))
    # Nothing is scheduled any more: a failed edition waits for staff.
    time.sleep(1.5)
    assert (tmp_path / "attempts").read_text() == "3"

    # Staff asking again starts it afresh.
    db = open_database(settings.database_path, migrate=False)
    try:
        edition_id_again, queued = store.request_edition(db, books["zh"], "test-flaky", failed["options"])
    finally:
        db.close()
    assert (edition_id_again, queued) == (edition_id, True)


class RecordingReporter(CatalogueReporter):
    """The real catalogue reporter; it can be made to stall its renewals, as a frozen worker would."""

    def __init__(self, settings: Settings):
        super().__init__(settings)
        self.claims: list[Claim] = []
        self.progress: list[int] = []
        self.running = threading.Event()
        self.running.set()

    def claim(self, edition_id: int, *, lease_seconds: float) -> Claim | None:
        claim = super().claim(edition_id, lease_seconds=lease_seconds)
        if claim:
            self.claims.append(claim)
        return claim

    def renew(self, edition_id: int, token: str, **kwargs) -> bool:
        self.running.wait()
        renewed = super().renew(edition_id, token, **kwargs)
        if renewed and kwargs.get("progress") is not None:
            self.progress.append(kwargs["progress"])
        return renewed


def test_lost_lease_stops_the_attempt_and_it_cannot_overwrite_the_new_one(tmp_path, test_formats):
    settings = Settings.from_env({}, data_dir=tmp_path / "data", lease_seconds=1)
    book_id = add_books(settings)["en"]
    db = open_database(settings.database_path)
    # 8 s of work: the old attempt is stopped a second or two in, with room to spare on a busy machine.
    options = formats.normalise_options(formats.get_format("test-slow"), {"steps": 40, "delay": 0.2})
    edition_id, _ = store.request_edition(db, book_id, "test-slow", options)
    payload = edition_payload(db, edition_id)
    storage = LocalStorage(settings.editions_dir)
    outcomes: dict[str, object] = {}

    def attempt(name: str, reporter: RecordingReporter) -> None:
        outcomes[name] = tasks.build(
            settings,
            edition_id,
            payload,
            reporter=reporter,
            storage=storage,
            reschedule=lambda delay: outcomes.setdefault("rescheduled", delay),
        )

    old, new = RecordingReporter(settings), RecordingReporter(settings)
    first = threading.Thread(target=attempt, args=("old", old))
    first.start()
    wait_for(lambda: (edition(settings, edition_id)["progress"] or 0) > 0, timeout=WAIT, what="progress")
    old.running.clear()  # the old worker freezes: no more renewals
    wait_for(lambda: edition_id in store.expired_leases(db), timeout=WAIT, what="the lease to expire")
    assert recover(settings, EditionQueue(settings)) == {"requeued": [edition_id], "enqueued": [edition_id]}
    second = threading.Thread(target=attempt, args=("new", new))
    second.start()
    wait_for(lambda: new.claims, timeout=WAIT, what="the new attempt to claim the edition")
    old.running.set()  # the old worker wakes up, renews, and learns that its lease is gone
    first.join(120)
    second.join(120)

    assert outcomes["old"] == tasks.LOST
    assert outcomes["old"] == tasks.LOST and not first.is_alive()
    assert max(old.progress, default=0) < 100, "the old attempt stopped before converting all 40 steps"
    assert outcomes["new"] == tasks.DONE and "rescheduled" not in outcomes
    row = store.get_edition(db, edition_id)
    assert row["status"] == store.DONE and row["attempts"] == 2
    assert_published_whole(settings, row)
    # The old token can change nothing any more.
    old_token = old.claims[0].token
    assert not store.renew(db, edition_id, old_token, lease_seconds=60, progress=5)
    assert not store.fail(db, edition_id, old_token, error="stale", retry_at=None)
    assert not store.complete(db, edition_id, old_token, storage_key="x", files=[])
    assert store.get_edition(db, edition_id)["files"] == row["files"]
    # The old attempt's workspace is gone; one publication remains.
    leftovers = [p.name for p in settings.editions_dir.iterdir() if p.name.startswith(".work-")]
    assert leftovers == []
    assert len(list((settings.editions_dir / ".published").iterdir())) == 1
    db.close()


def test_periodic_check_requeues_an_expired_lease(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    book_id = add_books(settings)["en"]
    queue = EditionQueue(settings)
    db = open_database(settings.database_path)
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    # A worker claimed it and died: its lease runs out.
    assert store.claim(db, edition_id, lease_seconds=0.05)
    time.sleep(0.1)
    assert store.get_edition(db, edition_id)["status"] == store.RUNNING

    # The check is a Huey periodic task that runs every minute (as the fill of chapter marks does)...
    due = {
        task.name
        for minute in (0, 17, 59)
        for task in queue.huey.read_periodic(datetime(2030, 1, 1, 3, minute))
    }
    assert due == {"check_leases", "fill_chapter_marks"}
    # ...and this is what it does when it runs.
    assert queue.tasks.check_leases.call_local() == {"requeued": [edition_id], "enqueued": [edition_id]}
    assert store.get_edition(db, edition_id)["status"] == store.QUEUED
    assert queue.edition_ids_in_queue() == {edition_id}
    # Run again, it adds nothing: the edition already has a task waiting.
    assert queue.tasks.check_leases.call_local() == {"requeued": [], "enqueued": []}
    assert queue.huey.pending_count() == 1
    db.close()


def test_a_build_task_for_a_done_held_or_not_yet_due_edition_just_returns(tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    book_id = add_books(settings)["en"]
    db = open_database(settings.database_path)
    storage = LocalStorage(settings.editions_dir)
    reporter = RecordingReporter(settings)

    def build(edition_id: int) -> str:
        return tasks.build(
            settings,
            edition_id,
            edition_payload(db, edition_id),
            reporter=reporter,
            storage=storage,
            reschedule=lambda delay: None,
        )

    done_id, _ = store.request_edition(db, book_id, "txt", {})
    assert build(done_id) == tasks.DONE
    assert build(done_id) == tasks.SKIPPED  # a duplicate task

    held_id, _ = store.request_edition(db, book_id, "html", {})
    assert store.claim(db, held_id, lease_seconds=60)  # another worker holds it
    assert build(held_id) == tasks.SKIPPED

    waiting_id, _ = store.request_edition(db, book_id + 1, "txt", {})
    token = store.claim(db, waiting_id, lease_seconds=60)
    assert store.fail(db, waiting_id, token, error="first try failed", retry_at=time.time() + 30)
    assert build(waiting_id) == tasks.SKIPPED  # a stray task must not start a retry before its time

    assert [store.get_edition(db, i)["attempts"] for i in (done_id, held_id, waiting_id)] == [1, 1, 1]
    assert len(reporter.claims) == 1
    assert not any(p.name.startswith(".work-") for p in Path(settings.editions_dir).iterdir())
    db.close()
