"""The worker's background fill of chapter marks (jobs/marks_tasks.py): a catalogue whose chapters lack
their marks (made before m031, or by a path that missed them) ends with every chapter kept, a batch at a
time, stopping when editions wait and resuming where the catalogue says; the pages do not change."""

from __future__ import annotations

import dataclasses
import fcntl
from datetime import datetime
from pathlib import Path

from accessible_lib import catalogue, chapter_marks
from accessible_lib.importer import IMPORTED, import_file
from accessible_lib.jobs.marks_tasks import (
    books_missing_marks,
    fill_in_background,
    fill_missing_marks,
    register_marks_task,
)
from accessible_lib.jobs.queue import EditionQueue, make_huey

from .conftest import make_book
from .test_chapter_marks import NOTES

ROOT = Path(__file__).resolve().parent.parent


def catalogue_without_marks(db, settings) -> list[tuple[int, int]]:
    """Two real imports and three books added as an older catalogue holds them; no row kept."""
    for name in ("en/alice-pg19033-nyu-epub3.epub", "zh/zh-changhenge-bai-juyi.txt"):
        assert import_file(db, settings, ROOT / "content" / name, rights="public-domain").status == IMPORTED
    for n in range(3):
        book = make_book(f"Notes {n}", [("Loomings", NOTES), ("Two", f"Dr. Smith came {n}.")])
        catalogue.add_book(db, book)
    with db.conn:
        db.execute("DELETE FROM chapter_marks")
    return [tuple(row) for row in db.execute("SELECT book_id, position FROM chapters ORDER BY 1, 2")]


def pages(client, places) -> dict:
    return {place: client.get("/books/{}/read/{}".format(*place)).content for place in places}


def test_the_worker_fills_every_missing_chapter_and_the_pages_stay_the_same(client, db, settings) -> None:
    places = catalogue_without_marks(db, settings)
    computed = pages(client, places)
    assert len(books_missing_marks(db, 0, 100)) == 5
    assert fill_in_background(settings, busy=lambda: False)["written"] == len(places)
    assert books_missing_marks(db, 0, 100) == []
    assert db.execute("SELECT count(*) FROM chapter_marks").fetchone()[0] == len(places)
    assert pages(client, places) == computed
    assert fill_in_background(settings, busy=lambda: False) == {"written": 0}  # nothing left to do


def test_it_stops_when_editions_wait_and_goes_on_from_what_is_missing(db, settings) -> None:
    places = catalogue_without_marks(db, settings)
    assert fill_missing_marks(db, busy=lambda: True) == 0  # an edition waits: nothing done
    answers = iter([False, True])  # one batch, then an edition arrives
    first = fill_missing_marks(db, books=2, busy=lambda: next(answers))
    assert 0 < first < len(places) and len(books_missing_marks(db, 0, 100)) == 3
    assert first + fill_missing_marks(db, books=2) == len(places)  # a later run: the rest


def test_one_filler_at_a_time_and_none_without_the_catalogue(db, settings) -> None:
    catalogue_without_marks(db, settings)
    with open(settings.data_dir / "chapter-marks-fill.lock", "a") as held:  # another worker's run
        fcntl.flock(held, fcntl.LOCK_EX)
        assert fill_in_background(settings, busy=lambda: False) == {"skipped": "another worker is filling"}
    remote = dataclasses.replace(settings, report_url="http://library:8000")
    assert fill_in_background(remote, busy=lambda: False) == {"skipped": "no catalogue here"}
    assert db.execute("SELECT count(*) FROM chapter_marks").fetchone()[0] == 0


def test_the_worker_runs_it_every_minute(db, settings) -> None:
    huey = EditionQueue(settings).huey
    for minute in (0, 17, 59):
        due = huey.read_periodic(datetime(2030, 1, 1, 3, minute))
        assert "fill_chapter_marks" in {task.name for task in due}
    places = catalogue_without_marks(db, settings)
    task = register_marks_task(make_huey(settings, immediate=True), settings)
    assert task.call_local() == {"written": len(places)}
    for book_id, language, chapter in chapter_marks.chapters_of(db, sorted({b for b, _ in places})):
        key = chapter_marks.marks_key(book_id, chapter, chapter["lang"] or language)
        assert db.execute("SELECT key FROM chapter_marks WHERE book_id = ? AND position = ?",
                          [book_id, chapter["position"]]).fetchone()[0] == key  # fmt: skip


def test_a_real_worker_fills_an_upgraded_catalogue_on_its_own(client, db, settings, tmp_path) -> None:
    """The path a library takes: an upgraded catalogue, `accessible-lib worker` started as `make run` starts
    it, and nobody running fill-marks. Within its first minutes every chapter is kept, a whole novel's too,
    and each page is what it was when computed."""
    from .jobs_helpers import running_worker, wait_for, worker_env

    places = catalogue_without_marks(db, settings)
    computed = pages(client, places)
    assert len(books_missing_marks(db, 0, 100)) == 5  # the visits computed the pages, kept nothing
    log = tmp_path / "worker.log"

    def kept() -> bool:
        return db.execute("SELECT count(*) FROM chapter_marks").fetchone()[0] == len(places)

    with running_worker(worker_env(settings.data_dir), log):
        wait_for(kept, timeout=200, what="the worker to fill every chapter's marks", log_path=log)
    assert f"chapter marks: {len(places)} chapters filled" in log.read_text()
    assert books_missing_marks(db, 0, 100) == []
    assert pages(client, places) == computed
