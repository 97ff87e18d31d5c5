"""Re-rendering after a pronunciation entry changes (issue 13, part 3): a real worker rebuilds the outdated
MP3 edition of a small book, speaking only the sentence the entry occurs in and re-encoding only its
chapter; every other sentence's audio and every other chapter's file stay byte for byte as they were. Once
through the command line, once through the staff pages as a librarian does it."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

import pytest
from bs4 import BeautifulSoup

from accessible_lib import auth, catalogue, pronunciations
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.sentence_audit import sentence_audio
from accessible_lib.editions.storage import storage_for
from accessible_lib.jobs.queue import EditionQueue, request_and_enqueue
from accessible_lib.settings import Settings
from voices import lexicon
from voices.espeak_engine import phonemes
from voices.runs import speech_runs
from voices.sentence_cache import SentenceCache

from .conftest import make_book
from .jobs_helpers import WAIT, edition, run_cli, running_worker, wait_for, worker_env
from .test_staff import PASSWORD, USERNAME, sign_in, token_for

TOMATO = {"lang": "en", "written": "tomato", "reading": "t@m'A:toU", "kind": "phonemes"}
CHAPTERS = [
    ("One", "The garden was quiet. Rain fell in the night."),
    ("Two", "The sun was warm. She grew a tomato. Birds sang at dawn."),
    ("Three", "The day began. Nobody came."),
]
AFFECTED = "She grew a tomato."


def _add_book(settings: Settings) -> int:
    db = open_database(settings.database_path)
    try:
        return catalogue.add_book(db, make_book("Garden", CHAPTERS, language="en"))
    finally:
        db.close()


def _done(settings: Settings, edition_id: int):
    """Finished and not outdated: a rebuild requeues the edition at once, so this is its end."""

    def check():
        row = edition(settings, edition_id)
        if row["status"] == store.FAILED:
            raise AssertionError(f"the edition failed: {row['error']}")
        return row if row["status"] == store.DONE and not row["outdated_at"] else None

    return check


def _listen_files(settings: Settings, row: dict) -> dict[int, tuple[bytes, int]]:
    """Chapter number -> (its MP3, its inode): a reused chapter is the very same file, hard-linked."""
    folder = storage_for(settings).path(row["storage_key"]).resolve()
    return {
        f["chapter"]: ((folder / f["name"]).read_bytes(), (folder / f["name"]).stat().st_ino)
        for f in row["files"]
        if f["role"] == "listen"
    }


def _state(settings: Settings, book_id: int, row: dict) -> tuple[dict, list, set]:
    """Chapter files, per-sentence audio checksums and the sentence PCM files the cache holds."""
    db = open_database(settings.database_path)
    try:
        book = export_book(db, book_id)
    finally:
        db.close()
    cache = SentenceCache(settings.sentence_cache_dir, settings.sentence_cache_mb << 20)
    sentences = sentence_audio(book, row["options"], cache, settings)
    archive = storage_for(settings).path(row["storage_key"]).resolve() / "book.zip"
    files = _listen_files(settings, row)
    files["zip"] = (archive.read_bytes(), archive.stat().st_ino)
    return files, sentences, set(settings.sentence_cache_dir.glob("*/*.pcm"))


def _compare(before: tuple, after: tuple) -> None:
    files_before, sentences_before, pcm_before = before
    files_after, sentences_after, pcm_after = after
    assert [s.speech for s in sentences_before] == [s.speech for s in sentences_after]
    assert all(s.sha256 for s in sentences_before + sentences_after), "every sentence's audio is cached"
    pairs = list(zip(sentences_before, sentences_after, strict=True))
    changed = [a.speech for b, a in pairs if b.sha256 != a.sha256]
    same = [a.speech for b, a in pairs if b.sha256 == a.sha256]
    assert changed == [AFFECTED] and len(same) == len(sentences_before) - 1
    # Only that one sentence was spoken again: one new PCM file in the cache.
    assert len(pcm_after - pcm_before) == 1
    old_zip, new_zip = files_before.pop("zip"), files_after.pop("zip")
    assert sorted(files_before) == sorted(files_after) == [1, 2, 3]
    # The archive is the previous one with chapter 2 and the playlist appended: its old bytes are unchanged
    # (a download of the previous edition under way still gets all of it), and it reads as the new edition.
    assert new_zip[1] == old_zip[1] and new_zip[0][: len(old_zip[0])] == old_zip[0]
    with zipfile.ZipFile(io.BytesIO(new_zip[0])) as archive:
        assert archive.testzip() is None
        assert archive.namelist() == ["c001.mp3", "c002.mp3", "c003.mp3", "playlist.m3u8"]
        assert [archive.read(f"c00{n}.mp3") for n in (1, 2, 3)] == [files_after[n][0] for n in (1, 2, 3)]
    # Chapters 1 and 3 were not encoded again: the same file (inode), so the same bytes; chapter 2 is new.
    assert files_after[1] == files_before[1] and files_after[3] == files_before[3]
    assert files_after[2][0] != files_before[2][0] and files_after[2][1] != files_before[2][1]


def _heard(settings: Settings, book_id: int) -> str:
    db = open_database(settings.database_path)
    try:
        with lexicon.use(pronunciations.lexicon_for(db, book_id)):
            (run,) = speech_runs(AFFECTED, latin_voice="en-us")
    finally:
        db.close()
    return phonemes(run.text, run.voice)


@pytest.fixture
def library(tmp_path):
    env = worker_env(tmp_path / "data")
    settings = Settings.from_env(env)
    book_id = _add_book(settings)
    with running_worker(env, tmp_path / "worker.log"):
        yield settings, env, book_id, tmp_path / "worker.log"


def test_a_rebuild_from_the_command_line_speaks_only_the_changed_sentence(library) -> None:
    settings, env, book_id, log = library
    db = open_database(settings.database_path)
    try:
        edition_id = request_and_enqueue(db, EditionQueue(settings), book_id, "mp3", {})
        first = wait_for(_done(settings, edition_id), timeout=WAIT, what="the MP3 edition", log_path=log)
        before = _state(settings, book_id, first)
        heard_before = _heard(settings, book_id)
        assert pronunciations.save(db, TOMATO, by="tester")[1] == {}
        assert store.get_edition(db, edition_id)["outdated_at"]
    finally:
        db.close()
    listed = run_cli(env, "editions", "rebuild", "--outdated", "--json")
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout) == {"queued": [edition_id]}
    done = _done(settings, edition_id)
    second = wait_for(done, timeout=WAIT, what="the rebuilt edition", log_path=log)
    assert second["outdated_at"] is None
    _compare(before, _state(settings, book_id, second))
    heard_after = _heard(settings, book_id)
    assert "t@m'eIt#oU" in heard_before and "t@m'A:t#oU" in heard_after
    again = run_cli(env, "editions", "rebuild", "--outdated", "--json")
    assert json.loads(again.stdout) == {"queued": []}


def test_staff_change_an_entry_and_rebuild_on_the_book_page(library, tmp_path) -> None:
    from starlette.testclient import TestClient

    from accessible_lib import create_app

    settings, _env, book_id, log = library
    db = open_database(settings.database_path)
    auth.create_staff(db, USERNAME, PASSWORD)
    with TestClient(create_app(settings)) as staff:
        assert sign_in(staff, USERNAME, PASSWORD).status_code == 303
        made = staff.post(
            f"/staff/books/{book_id}/editions",
            data={"csrf_token": token_for(staff), "format": "mp3"},
            follow_redirects=False,
        )
        assert made.status_code == 303
        edition_id = int(made.headers["location"].rsplit("/", 1)[1])
        first = wait_for(_done(settings, edition_id), timeout=WAIT, what="the MP3 edition", log_path=log)
        before = _state(settings, book_id, first)
        added = staff.post(
            "/staff/pronunciations/new",
            data={"csrf_token": token_for(staff), "whole_word": "yes", **TOMATO},
            follow_redirects=False,
        )
        assert added.status_code == 303
        forms = []
        for url in (f"/staff/books/{book_id}/edit", f"/staff/jobs/{edition_id}"):  # the book's and the job's
            page = BeautifulSoup(staff.get(url).text, "html.parser")
            forms += [f for f in page.find_all("form") if f.find("input", attrs={"name": "edition"})]
        assert len(forms) == 2
        for form in forms:
            assert form.find("input", attrs={"name": "edition"})["value"] == str(edition_id)
            assert form["action"] == f"/staff/books/{book_id}/editions" and form.find("button").get_text()
        form = forms[1]
        fields = {i["name"]: i.get("value", "") for i in form.find_all("input")}
        refused = staff.post(form["action"], data={**fields, "csrf_token": "wrong"}, follow_redirects=False)
        assert refused.status_code == 403 and edition(settings, edition_id)["outdated_at"]
        rebuilt = staff.post(form["action"], data=fields, follow_redirects=False)
        assert rebuilt.status_code == 303 and rebuilt.headers["location"] == f"/staff/jobs/{edition_id}"
        done = _done(settings, edition_id)
        second = wait_for(done, timeout=WAIT, what="the rebuilt edition", log_path=log)
        after = _state(settings, book_id, second)
        _compare(before, after)
        record = next(f for f in second["files"] if f.get("chapter") == 2)
        served = staff.get(f"/editions/{edition_id}/files/{record['name']}")
        assert served.status_code == 200 and served.content == after[0][2][0]
        assert hashlib.sha256(served.content).hexdigest() == record["sha256"]
    db.close()


@pytest.mark.parametrize("format_name", ["daisy202", "epub3-mo"])
def test_daisy_and_epub_editions_reuse_the_chapters_an_entry_is_not_in(
    format_name, settings, db, tmp_path
) -> None:
    """The other speech formats keep and reuse chapter MP3s the same way: a rebuild adds one kept chapter
    (the affected one) and every other chapter's audio in the archive is byte for byte the same."""
    from accessible_lib.caches import use_data_dir
    from accessible_lib.editions.runner import run_conversion

    use_data_dir(settings)
    book_id = catalogue.add_book(db, make_book("Garden", CHAPTERS, language="en"))

    def build(name: str) -> dict[str, bytes]:
        workspace = tmp_path / name
        workspace.mkdir()
        (record,) = run_conversion(export_book(db, book_id), format_name, {}, workspace, lambda *_: None)
        with zipfile.ZipFile(workspace / record["name"]) as archive:
            return {n: archive.read(n) for n in archive.namelist() if n.endswith(".mp3")}

    def kept() -> set:
        return set(settings.sentence_cache_dir.glob("*/*.chapter.mp3"))

    before = build("before")
    kept_before = kept()
    assert len(kept_before) == 3  # the three chapters (DAISY's title section is not kept)
    assert pronunciations.save(db, TOMATO, by="tester")[1] == {}
    after = build("after")
    assert len(kept() - kept_before) == 1
    changed = sorted(name for name in before if before[name] != after[name])
    assert len(changed) == 1 and sorted(before) == sorted(after)
    assert changed[0].endswith("c003.mp3" if format_name == "daisy202" else "c002.mp3")
