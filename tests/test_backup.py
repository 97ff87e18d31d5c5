"""`accessible-lib backup` while the library serves; `accessible-lib restore` into an empty data directory.

The library is real: corpus books imported, editions built by the real converters, a reader's evidence
uploaded through the eligibility form. It is served by uvicorn on a loopback port while one thread asks for
pages and files, another signs readers up through the real form and a third finishes new editions as a worker
does; the backup runs in the middle of all that. The restored library is then served and must have the same
books, the same readers (every one who existed before the backup, and nobody half-made) and every edition it
calls finished with files whose sha256 is what its catalogue records.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx2 as httpx
import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from starlette.testclient import TestClient

from accessible_lib import create_app
from accessible_lib.backup import MANIFEST, read_manifest
from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import run_conversion
from accessible_lib.editions.storage import storage_for
from accessible_lib.settings import Settings

from .live_server import load_library, start_server
from .test_accounts import PASSWORD, sign_up
from .test_accounts import sign_in as reader_sign_in
from .test_eligibility import add_reader, apply

FILES = (
    "epub/en/idpf-wasteland.epub",
    "epub/en/pg17192-poe-the-raven-epub2.epub",
    "text/zh/zh-chibifu-su-shi.txt",
    "text/zh/zh-pipaxing-bai-juyi.txt",
)
EVIDENCE_READER = "evidence@example.org"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8


def cli(args: list[str], data_dir: Path, **env: str):
    result = CliRunner().invoke(main, args, env={"ACCESSIBLE_LIB_DATA_DIR": str(data_dir), **env})
    return result


def rows(database: Path, sql: str) -> list[tuple]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def build_edition(settings: Settings, book_id: int, format_name: str, options: dict | None = None) -> int:
    """Make one edition as a worker does: claim, convert into a workspace, publish, mark done."""
    options = options or {}
    db = open_database(settings.database_path, migrate=False)
    storage = storage_for(settings)
    try:
        edition_id, queued = store.request_edition(db, book_id, format_name, options)
        if not queued:
            return edition_id
        token = store.claim(db, edition_id, lease_seconds=60)
        workspace = storage.new_workspace()
        files = run_conversion(export_book(db, book_id), format_name, options, workspace, lambda f, s: None)
        storage.publish(workspace, str(edition_id))
        assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
        return edition_id
    finally:
        db.close()


@pytest.fixture
def library(tmp_path: Path) -> dict:
    """A library with books, finished editions, a confirmed reader and that reader's evidence file."""
    settings = Settings.from_env({}, data_dir=tmp_path / "data", page_size=3)
    settings.data_dir.mkdir(parents=True)
    books = load_library(settings, FILES)  # the first book gets html, txt and mp3 editions
    with TestClient(create_app(settings)) as client:  # makes the session key, as a served library has
        db = open_database(settings.database_path, migrate=False)
        try:
            add_reader(db, EVIDENCE_READER)
        finally:
            db.close()
        reader_sign_in(client, EVIDENCE_READER, PASSWORD)
        sent = apply(client, category="blind", evidence="statement", file=("statement.png", PNG, "image/png"))
        assert sent.status_code == 303, sent.text
    return {"settings": settings, "books": sorted(books.values())}


def served_editions(client, database: Path) -> dict[tuple[int, str], str]:
    """Every file of every finished edition, downloaded from `client`: sha256 by (edition, name), checked
    against the sha256 the catalogue records."""
    found = {}
    recorded = rows(
        database,
        "SELECT f.edition_id, f.name, f.sha256 FROM edition_files f JOIN editions e ON e.id = f.edition_id "
        "WHERE e.status = 'done'",
    )
    for edition_id, name, sha256 in recorded:
        response = client.get(f"/editions/{edition_id}/files/{name}")
        assert response.status_code == 200, (edition_id, name, response.status_code)
        digest = hashlib.sha256(response.content).hexdigest()
        assert digest == sha256, f"edition {edition_id} {name}: served file differs from its catalogue row"
        found[(edition_id, name)] = digest
    return found


def book_titles(client, book_ids: list[int]) -> dict[int, str]:
    titles = {}
    for book_id in book_ids:
        response = client.get(f"/books/{book_id}")
        assert response.status_code == 200
        titles[book_id] = BeautifulSoup(response.text, "html.parser").find("h1").get_text(" ", strip=True)
    return titles


READERS_SQL = "SELECT id, email, name, password_hash, email_verified_at FROM readers ORDER BY id"


@pytest.mark.slow
def test_a_backup_under_load_restores_the_same_books_readers_and_editions(library, tmp_path) -> None:
    settings: Settings = library["settings"]
    live = start_server(settings)
    stop = threading.Event()
    requests: list[tuple[float, float, int, str]] = []  # (start, end, status, url) of every load request
    sign_ups: list[tuple[float, float, int]] = []
    built: list[int] = []
    failures: list[BaseException] = []

    def load() -> None:
        urls = ["/", "/search?q=the", "/browse", *[f"/books/{b}" for b in library["books"]]]
        edition_files = rows(settings.database_path, "SELECT edition_id, name FROM edition_files")
        urls += [f"/editions/{e}/files/{n}" for e, n in edition_files]
        with httpx.Client(base_url=live.url, timeout=60) as client:
            while not stop.is_set():
                for url in urls:
                    started = time.monotonic()
                    status = client.get(url).status_code
                    requests.append((started, time.monotonic(), status, url))

    def sign_up_readers() -> None:
        with httpx.Client(base_url=live.url, timeout=60) as client:
            for n in range(12):  # under the limit of sign-up mails one address may send in an hour
                if stop.is_set():
                    return
                started = time.monotonic()
                response = sign_up(client, name=f"Reader {n}", email=f"reader{n}@example.org")
                sign_ups.append((started, time.monotonic(), response.status_code))

    def finish_editions() -> None:
        for book_id in library["books"][1:]:
            for format_name in ("html", "txt"):
                if stop.is_set():
                    return
                built.append(build_edition(settings, book_id, format_name))

    def guarded(work):
        def run() -> None:
            try:
                work()
            except BaseException as exc:  # reported by the test, not lost in a thread
                failures.append(exc)

        return threading.Thread(target=run, daemon=True)

    threads = [guarded(load), guarded(sign_up_readers), guarded(finish_editions)]
    try:
        for thread in threads:
            thread.start()
        deadline = time.monotonic() + 60
        while (len(requests) < 10 or not sign_ups) and time.monotonic() < deadline and not failures:
            time.sleep(0.05)
        readers_before = set(rows(settings.database_path, READERS_SQL))
        began = time.monotonic()
        result = cli(["backup", str(tmp_path / "backup")], settings.data_dir)
        ended = time.monotonic()
        assert result.exit_code == 0, result.output
        assert "Backed up into" in result.output
    finally:
        stop.set()
        for thread in threads:
            thread.join(120)
        live.stop()
    assert failures == []
    readers_after = set(rows(settings.database_path, READERS_SQL))
    # The load really ran across the backup, and nothing it asked for failed.
    assert any(start < ended and end > began for start, end, _, _ in requests), "no request during backup"
    assert any(start < ended and end > began for start, end, _ in sign_ups), "no sign-up during backup"
    assert {status for _, _, status, _ in requests} == {200}
    assert {status for _, _, status in sign_ups} == {303}

    restored = Settings.from_env({}, data_dir=tmp_path / "restored", page_size=3)
    result = cli(["restore", str(tmp_path / "backup")], restored.data_dir)
    assert result.exit_code == 0, result.output
    assert "Restored into" in result.output

    # Readers: everyone there before the backup started, each exactly as they were; no one the library
    # never had; the reader's evidence file with its bytes.
    restored_readers = set(rows(restored.database_path, READERS_SQL))
    assert readers_before <= restored_readers <= readers_after
    original_live = start_server(settings)
    try:
        with httpx.Client(base_url=original_live.url, timeout=60) as client:
            titles = book_titles(client, library["books"])
    finally:
        original_live.stop()
    with TestClient(create_app(restored)) as client:
        assert book_titles(client, library["books"]) == titles
        served = served_editions(client, restored.database_path)
        signed = reader_sign_in(client, EVIDENCE_READER, PASSWORD)
        assert signed.status_code == 303 and signed.headers["location"] == "/account"
        (application_id,) = rows(restored.database_path, "SELECT application_id FROM eligibility_evidence")[0]
        evidence = client.get(f"/account/eligibility/evidence/{application_id}")
        assert evidence.status_code == 200 and evidence.content == PNG

    # Books and editions: the same rows; every edition done in the backup is done here with its files,
    # and the editions finished before the backup began are all among them.
    assert rows(restored.database_path, "SELECT id, title, checksum FROM books ORDER BY id") == rows(
        settings.database_path, "SELECT id, title, checksum FROM books ORDER BY id"
    )
    done_restored = {
        e for (e,) in rows(restored.database_path, "SELECT id FROM editions WHERE status='done'")
    }
    assert {edition_id for edition_id, _ in served} == done_restored
    assert {1, 2, 3} <= done_restored  # the first book's html, txt and mp3, made before the backup
    original_files = {
        (e, n): s
        for e, n, s in rows(settings.database_path, "SELECT edition_id, name, sha256 FROM edition_files")
    }
    assert all(original_files[key] == digest for key, digest in served.items())
    # Editions the worker thread finished after the snapshot are not done in the backup: none is broken.
    assert done_restored <= {1, 2, 3, *built}


def test_an_edition_made_again_after_the_snapshot_is_backed_up_as_the_snapshot_describes(library, tmp_path):
    """The state a backup meets when an edition is made again between its catalogue snapshot and its file
    copy: the catalogue lists the old files, the link points at new ones, the old ones are in their grace
    period. The backup must hold the old files, as its catalogue says."""
    settings: Settings = library["settings"]
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    (workspace / "book.txt").write_bytes(b"a newer edition, not yet in the catalogue")
    storage.publish(workspace, "2")  # edition 2 is the first book's txt
    recorded = rows(settings.database_path, "SELECT sha256 FROM edition_files WHERE edition_id = 2")[0][0]

    result = cli(["backup", str(tmp_path / "backup")], settings.data_dir)
    assert result.exit_code == 0, result.output
    copied = (tmp_path / "backup" / "editions" / "2" / "book.txt").read_bytes()
    assert hashlib.sha256(copied).hexdigest() == recorded

    restored = Settings.from_env({}, data_dir=tmp_path / "restored")
    assert cli(["restore", str(tmp_path / "backup")], restored.data_dir).exit_code == 0
    with TestClient(create_app(restored)) as client:
        response = client.get("/editions/2/files/book.txt")
        assert response.status_code == 200 and hashlib.sha256(response.content).hexdigest() == recorded


def test_files_deleted_before_they_were_copied_are_left_out_and_the_catalogue_forgets_them(library, tmp_path):
    """A reader's evidence deleted, and an edition's files gone, after the snapshot: the backup's catalogue
    must not name files the backup lacks. The edition is restored as queued, to be made again."""
    settings: Settings = library["settings"]
    storage = storage_for(settings)
    for path in settings.evidence_dir.iterdir():
        path.unlink()
    txt = storage.path("2").resolve()
    for path in txt.iterdir():
        path.unlink()

    result = cli(["backup", str(tmp_path / "backup")], settings.data_dir)
    assert result.exit_code == 0, result.output
    assert "1 edition changed while backing up is restored as queued" in result.output
    assert "1 evidence file deleted while backing up is left out" in result.output
    listed = {entry["path"] for entry in read_manifest(tmp_path / "backup")}
    assert not any(path.startswith(("evidence/", "editions/2/")) for path in listed)

    restored = Settings.from_env({}, data_dir=tmp_path / "restored")
    assert cli(["restore", str(tmp_path / "backup")], restored.data_dir).exit_code == 0
    assert rows(restored.database_path, "SELECT count(*) FROM eligibility_evidence") == [(0,)]
    assert rows(restored.database_path, "SELECT status FROM editions WHERE id = 2") == [("queued",)]
    assert rows(restored.database_path, "SELECT count(*) FROM edition_files WHERE edition_id = 2") == [(0,)]
    with TestClient(create_app(restored)) as client:
        assert client.get("/editions/2/files/book.txt").status_code == 404
        assert served_editions(client, restored.database_path)  # the others are whole


def test_restore_refuses_a_data_directory_that_is_not_empty_and_changes_nothing(library, tmp_path):
    settings: Settings = library["settings"]
    assert cli(["backup", str(tmp_path / "backup")], settings.data_dir).exit_code == 0
    before = rows(settings.database_path, "SELECT count(*) FROM books")
    result = cli(["restore", str(tmp_path / "backup")], settings.data_dir)
    assert result.exit_code == 1
    assert f"The data directory {settings.data_dir} is not empty" in result.output
    assert rows(settings.database_path, "SELECT count(*) FROM books") == before
    # In the terminal's language, as every command speaks (its own process: the language is chosen once).
    chinese = subprocess.run(
        [str(Path(sys.executable).parent / "accessible-lib"), "restore", str(tmp_path / "backup")],
        env={
            **os.environ,
            "ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir),
            "LANGUAGE": "",
            "LC_ALL": "",
            "LANG": "zh_CN.UTF-8",
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert chinese.returncode == 1
    assert chinese.stderr.strip() == f"数据目录 {settings.data_dir} 不是空的：只能恢复到新的或空的数据目录。"


def test_restore_refuses_a_backup_that_does_not_match_its_manifest(library, tmp_path):
    settings: Settings = library["settings"]
    assert cli(["backup", str(tmp_path / "backup")], settings.data_dir).exit_code == 0
    damaged = tmp_path / "backup" / "editions" / "1" / "book.zip"
    data = bytearray(damaged.read_bytes())
    data[len(data) // 2] ^= 0xFF
    damaged.write_bytes(bytes(data))
    target = tmp_path / "restored"
    result = cli(["restore", str(tmp_path / "backup")], target)
    assert result.exit_code == 1
    assert "editions/1/book.zip in the backup does not match its manifest" in result.output
    assert not target.exists() and list(tmp_path.glob(".restored.restore-*")) == []

    (tmp_path / "backup" / MANIFEST).unlink()
    result = cli(["restore", str(tmp_path / "backup")], target)
    assert result.exit_code == 1 and "holds no manifest.json" in result.output


def test_backup_refuses_a_folder_that_is_not_empty(library, tmp_path):
    target = tmp_path / "backup"
    target.mkdir()
    (target / "notes.txt").write_text("kept")
    result = cli(["backup", str(target)], library["settings"].data_dir)
    assert result.exit_code == 1
    assert "is not empty: back up into a new or empty folder" in result.output
    assert sorted(p.name for p in target.iterdir()) == ["notes.txt"]


def test_the_backup_folder_and_its_secrets_are_its_owners_alone(library, tmp_path):
    result = cli(["backup", str(tmp_path / "backup")], library["settings"].data_dir)
    assert result.exit_code == 0, result.output
    backup = tmp_path / "backup"
    assert backup.stat().st_mode & 0o777 == 0o700
    assert (backup / "secret_key").stat().st_mode & 0o777 == 0o600
    evidence = list((backup / "evidence").iterdir())
    assert len(evidence) == 1 and evidence[0].stat().st_mode & 0o777 == 0o600
    assert (backup / "evidence").stat().st_mode & 0o777 == 0o700
    assert {entry["path"] for entry in read_manifest(backup)} == {
        p.relative_to(backup).as_posix() for p in backup.rglob("*") if p.is_file() and p.name != MANIFEST
    }


def test_restore_into_an_existing_empty_directory_such_as_a_mount_point(library, tmp_path):
    settings: Settings = library["settings"]
    assert cli(["backup", str(tmp_path / "backup")], settings.data_dir).exit_code == 0
    target = tmp_path / "mounted"
    target.mkdir()
    result = cli(["restore", str(tmp_path / "backup")], target)
    assert result.exit_code == 0, result.output
    assert not list(target.glob(".restore-*"))
    restored = Settings.from_env({}, data_dir=target)
    with TestClient(create_app(restored)) as client:
        served = served_editions(client, restored.database_path)
    assert served == {
        (e, n): h
        for e, n, h in rows(settings.database_path, "SELECT edition_id, name, sha256 FROM edition_files")
    }


def test_backup_of_a_data_directory_without_a_library_says_so(tmp_path):
    result = cli(["backup", str(tmp_path / "backup")], tmp_path / "nothing-here")
    assert result.exit_code == 1
    assert f"There is no library to back up at {tmp_path / 'nothing-here'}" in result.output
    assert not (tmp_path / "backup").exists() and not (tmp_path / "nothing-here").exists()
