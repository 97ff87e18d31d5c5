"""Workers on other machines, with no shared disk: they upload what they build, and the web app publishes it.

Three data directories: the web app's (the catalogue and the editions), and one for each of two real
`accessible-lib worker` processes, which get only the Redis URL, the web app's URL and the shared secret key.
They build editions on their own disks and upload the files over signed, checksummed, resumable HTTP
(jobs/uploader.py, web/worker_uploads.py); the web app publishes an edition only when every file has
arrived and matches. A worker killed with SIGKILL in the middle of an upload leaves nothing visible, and the
other worker builds the edition again. Hostile uploads (no key, a path for a name, a wrong checksum, a
chunk moved to another offset) are refused and change nothing.
"""

from __future__ import annotations

import hashlib
import json
import signal
import socket
import threading
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

import pytest

from accessible_lib.db import open_database
from accessible_lib.editions import formats, store
from accessible_lib.editions.staging import UPLOAD_PREFIX
from accessible_lib.editions.storage import PUBLISHED_DIR, storage_for
from accessible_lib.jobs import signing
from accessible_lib.jobs.queue import EditionQueue, request_and_enqueue
from accessible_lib.jobs.reporters import HttpReporter
from accessible_lib.jobs.uploader import UploadStorage
from accessible_lib.settings import Settings

from . import jobs_plugin  # the test formats, test-big among them, as the workers load them
from .jobs_helpers import (
    WAIT,
    add_books,
    assert_published_whole,
    edition,
    kill_group,
    start_worker,
    stop_worker,
    wait_for,
    worker_env,
)
from .live_server import start_server
from .test_redis import redis_url  # noqa: F401 - the fixture: a real redis-server on a free port

SECRET = "a key the web app and its remote workers share"
LEASE = 3  # seconds: the killed worker's lease runs out soon
CHUNK = 8192  # small chunks, so an upload of a few MB takes long enough to be caught in the middle
BIG_KB = 6144


@pytest.fixture(scope="module", autouse=True)
def plugin_formats():
    """The test plugin's formats registered in this process for this module: test_jobs.py, which runs
    earlier, removes them when it ends, and importing the plugin again registers nothing."""
    for fmt in jobs_plugin.TEST_FORMATS:
        formats.register(fmt)
    yield
    for fmt in jobs_plugin.TEST_FORMATS:
        formats.FORMATS.pop(fmt.name, None)


@pytest.fixture
def web(tmp_path: Path, redis_url: str):  # noqa: F811
    settings = Settings.from_env(
        {}, data_dir=tmp_path / "web", redis_url=redis_url, secret_key=SECRET, lease_seconds=LEASE
    )
    books = add_books(settings)
    live = start_server(settings)
    try:
        yield live, settings, books
    finally:
        live.stop()


def request(settings: Settings, book_id: int, fmt: str, options: dict | None = None) -> int:
    db = open_database(settings.database_path, migrate=False)
    try:
        return request_and_enqueue(db, EditionQueue(settings), book_id, fmt, options or {}, "staff")
    finally:
        db.close()


def downloaded(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=60) as response:
        assert response.status == 200
        return response.read()


def status_of(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=60) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc.code


def uploads(settings: Settings) -> list[Path]:
    return sorted(settings.editions_dir.glob(UPLOAD_PREFIX + "*"))


def partly_uploaded(settings: Settings, edition_id: int) -> bool:
    """A file of the edition has begun to arrive, and not all of it."""
    for area in settings.editions_dir.glob(f"{UPLOAD_PREFIX}{edition_id}-*"):
        for path in area.iterdir():
            if 0 < path.stat().st_size < BIG_KB * 1024:
                return True
    return False


def test_two_remote_workers_upload_editions_and_a_killed_upload_is_built_again(tmp_path, web, redis_url):  # noqa: F811
    live, settings, books = web
    storage = storage_for(settings)
    workers, logs = {}, {}
    for name in ("a", "b"):
        (tmp_path / name).mkdir()
        logs[name] = tmp_path / f"worker-{name}.log"
        env = worker_env(
            tmp_path / name,
            redis_url=redis_url,
            report_url=live.url,
            secret_key=SECRET,
            lease_seconds=LEASE,
            upload_chunk_bytes=CHUNK,
        )
        workers[name] = start_worker(env, logs[name], workers=1)
    try:
        # Quick editions, plain and braille, from both books: each built on a worker's disk, uploaded.
        wanted = [
            request(settings, books["en"], "txt"),
            request(settings, books["zh"], "html"),
            request(settings, books["en"], "brf"),
        ]
        for edition_id in wanted:
            row = wait_for(
                lambda edition_id=edition_id: (
                    (r := edition(settings, edition_id))["status"] == store.DONE and r
                ),
                timeout=WAIT,
                what=f"edition {edition_id} to be built and uploaded",
                log_path=logs["a"],
            )
            assert row["attempts"] == 1 and row["error"] is None
            assert_published_whole(settings, row)
            for record in row["files"]:
                data = downloaded(f"{live.url}/editions/{edition_id}/files/{quote(record['name'])}")
                assert hashlib.sha256(data).hexdigest() == record["sha256"], record["name"]
        assert uploads(settings) == [], "a committed upload is the publication, not a copy beside it"
        for name in ("a", "b"):  # the workers never had the catalogue, a queue file or an edition
            assert not (tmp_path / name / "catalogue.db").exists()
            assert not (tmp_path / name / "queue.db").exists()
            assert [p for p in (tmp_path / name / "editions").glob("*") if not p.name.startswith(".")] == []

        # A big edition: the worker uploading it is killed in the middle of the upload.
        big = request(settings, books["en"], "test-big", {"kilobytes": BIG_KB})
        key = str(big)
        wait_for(
            lambda: partly_uploaded(settings, big),
            timeout=WAIT,
            what="the big edition's upload to be under way",
            log_path=logs["a"],
        )
        uploading = [name for name in workers if any((tmp_path / name / "editions").glob(".work-*/big.bin"))]
        assert len(uploading) == 1, uploading
        victim = uploading[0]
        kill_group(workers[victim], signal.SIGKILL)
        assert workers[victim].returncode == -signal.SIGKILL
        survivor = "b" if victim == "a" else "a"

        row = edition(settings, big)
        assert row["status"] == store.RUNNING and row["files"] == [] and row["storage_key"] is None
        assert not storage.exists(key) and not storage.path(key).is_symlink()
        assert not any(
            p.name.startswith(f"{key}.") for p in (settings.editions_dir / PUBLISHED_DIR).iterdir()
        )
        assert uploads(settings), "the dead attempt's upload is still there, unreachable"
        assert status_of(f"{live.url}/editions/{big}/files/big.bin") == 404

        # The lease runs out; the surviving worker's periodic check (here, sent now rather than within the
        # minute) has the web app queue the edition again and sweep the dead attempt's upload.
        db = open_database(settings.database_path, migrate=False)
        try:
            wait_for(lambda: big in store.expired_leases(db), timeout=WAIT, what="the lease to expire")
        finally:
            db.close()
        # (The survivor's own check may have come first, at a minute's turn: then this finds nothing to do.)
        recovered = HttpReporter(live.url, SECRET).recover()
        again = edition(settings, big)
        assert big in recovered["requeued"] or again["status"] == store.QUEUED or again["attempts"] == 2
        done = wait_for(
            lambda: (r := edition(settings, big))["status"] == store.DONE and r,
            timeout=WAIT,
            what="the surviving worker to build and upload the big edition",
            log_path=logs[survivor],
        )
        assert done["attempts"] == 2 and done["error"] is None
        assert_published_whole(settings, done)
        (record,) = done["files"]
        assert record["size"] == BIG_KB * 1024
        data = downloaded(f"{live.url}/editions/{big}/files/big.bin")
        assert hashlib.sha256(data).hexdigest() == record["sha256"]
        assert uploads(settings) == [], "the killed attempt's upload was swept"
    finally:
        for process in workers.values():
            stop_worker(process)


# --- Hostile and broken uploads, sent by hand to the live web app ---


def send(
    live, method: str, path: str, body: bytes = b"", *, key: str = SECRET, covered: str = "", sign_path=None
) -> tuple[int, dict]:
    headers = signing.sign(key, method, sign_path or path, body, covered=covered)
    if covered:
        headers["Content-Range"] = covered
    data = body if method != "GET" else None
    req = urllib.request.Request(live.url + quote(path), data=data, headers=headers, method=method)
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        with exc:
            text = exc.read()
        try:
            return exc.code, json.loads(text or b"{}")
        except ValueError:
            return exc.code, {"text": text.decode(errors="replace")}


def claimed(live, settings: Settings, book_id: int) -> tuple[int, str]:
    db = open_database(settings.database_path, migrate=False)
    try:
        edition_id, _ = store.request_edition(db, book_id, "txt", {})
    finally:
        db.close()
    body = json.dumps({"lease_seconds": 600}).encode()
    status, answer = send(live, "POST", f"/internal/editions/{edition_id}/claim", body)
    assert status == 200 and answer["token"]
    return edition_id, answer["token"]


def test_hostile_uploads_are_refused_and_nothing_is_published(web):
    live, settings, books = web
    storage = storage_for(settings)
    edition_id, token = claimed(live, settings, books["en"])
    base = f"/internal/editions/{edition_id}/uploads/{token}"
    content = b"Call me Ishmael.\n" * 1000
    digest = hashlib.sha256(content).hexdigest()
    whole = f"bytes 0-{len(content) - 1}/{len(content)}"

    # No key, or another key: 401 on every upload route, before anything is looked at.
    for key in ("another key",):
        assert send(live, "PUT", base + "/files/book.txt", content, key=key, covered=whole)[0] == 401
        assert send(live, "GET", base + "/files/book.txt", key=key)[0] == 401
        assert send(live, "POST", base + "/commit", b"{}", key=key)[0] == 401
    unsigned = urllib.request.Request(live.url + base + "/files/book.txt", data=content, method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(unsigned, timeout=60)
    refused.value.close()
    assert refused.value.code == 401
    # A chunk signed for one offset and sent with another: the signature binds its Content-Range.
    headers = signing.sign(SECRET, "PUT", base + "/files/book.txt", content, covered=whole)
    headers["Content-Range"] = f"bytes 10-{len(content) + 9}/{len(content) + 10}"
    moved = urllib.request.Request(live.url + base + "/files/book.txt", data=content, headers=headers)
    moved.method = "PUT"
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(moved, timeout=60)
    refused.value.close()
    assert refused.value.code == 401

    # Names that are paths, hidden files or worse are refused; nothing is written outside the upload.
    before = sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*"))
    for name in ("..", ".env", "a\\b", "..\\catalogue.db", "x\x00y"):
        status, answer = send(live, "PUT", f"{base}/files/{name}", b"x", covered="bytes 0-0/1")
        assert status == 400 and "name" in answer["error"], (name, status, answer)
    status, _ = send(live, "PUT", f"{base}/files/../../catalogue.db", b"x", covered="bytes 0-0/1")
    assert status in (400, 404)
    after = sorted(p.relative_to(settings.data_dir) for p in settings.data_dir.rglob("*"))
    assert [p for p in after if p not in before and "-wal" not in p.name and "-shm" not in p.name] == []

    # A gap is refused with the size the web app has, so the worker knows where to go on from.
    status, answer = send(
        live,
        "PUT",
        base + "/files/book.txt",
        content[100:],
        covered=f"bytes 100-{len(content) - 1}/{len(content)}",
    )
    assert (status, answer["size"]) == (409, 0)
    half = len(content) // 2
    assert send(
        live, "PUT", base + "/files/book.txt", content[:half], covered=f"bytes 0-{half - 1}/{len(content)}"
    ) == (200, {"size": half})
    assert send(live, "GET", base + "/files/book.txt") == (200, {"size": half})
    rest = f"bytes {half}-{len(content) - 1}/{len(content)}"
    assert send(live, "PUT", base + "/files/book.txt", content[half:], covered=rest) == (
        200,
        {"size": len(content)},
    )

    record = {"name": "book.txt", "media_type": "text/plain; charset=utf-8", "size": len(content)}
    # A wrong checksum, a missing file, a path in the list: refused, and nothing is published.
    for files in (
        [{**record, "sha256": "0" * 64}],
        [{**record, "sha256": digest}, {**record, "name": "missing.txt", "sha256": digest}],
        [{**record, "name": "../book.txt", "sha256": digest}],
        [{**record, "size": len(content) - 1, "sha256": digest}],
    ):
        body = json.dumps({"storage_key": str(edition_id), "files": files}).encode()
        status, answer = send(live, "POST", base + "/commit", body)
        assert status == 400, (files, answer)
        row = edition(settings, edition_id)
        assert row["status"] == store.RUNNING and row["files"] == [] and not storage.exists(str(edition_id))

    # The whole file with its own checksum: published and recorded, and then downloadable.
    body = json.dumps({"storage_key": str(edition_id), "files": [{**record, "sha256": digest}]}).encode()
    assert send(live, "POST", base + "/commit", body) == (200, {"ok": True})
    row = edition(settings, edition_id)
    assert row["status"] == store.DONE and storage.exists(str(edition_id))
    assert downloaded(f"{live.url}/editions/{edition_id}/files/book.txt") == content
    # The attempt is over: its token takes no more chunks and cannot publish again.
    assert send(live, "PUT", base + "/files/book.txt", b"late", covered="bytes 0-3/4")[0] == 410
    assert send(live, "POST", base + "/commit", body) == (
        200,
        {"ok": False, "error": "this attempt no longer holds the edition; stop"},
    )
    assert downloaded(f"{live.url}/editions/{edition_id}/files/book.txt") == content


def test_a_chunk_over_the_limit_is_refused_before_it_is_read(web):
    live, settings, books = web
    edition_id, token = claimed(live, settings, books["zh"])
    path = f"/internal/editions/{edition_id}/uploads/{token}/files/big.bin"
    headers = {"Content-Length": str(64 * 1024 * 1024), "Content-Range": "bytes 0-67108863/67108864"}
    req = urllib.request.Request(live.url + path, data=b"", headers=headers, method="PUT")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(req, timeout=60)
    refused.value.close()
    assert refused.value.code == 413
    assert list(settings.editions_dir.glob(UPLOAD_PREFIX + "*")) == []


def test_an_interrupted_upload_goes_on_from_what_arrived(tmp_path, web):
    """The worker asks how much of each file the web app has and sends only the rest, in signed chunks."""
    live, settings, books = web
    edition_id, token = claimed(live, settings, books["en"])
    workspace = tmp_path / "built"
    workspace.mkdir()
    content = bytes(range(256)) * 160  # 40 KiB, ten chunks of 4 KiB
    (workspace / "book.txt").write_bytes(content)
    record = {
        "name": "book.txt",
        "media_type": "text/plain; charset=utf-8",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    # The first six chunks arrived before the connection dropped.
    base = f"/internal/editions/{edition_id}/uploads/{token}/files/book.txt"
    arrived = 6 * 4096
    assert (
        send(live, "PUT", base, content[:arrived], covered=f"bytes 0-{arrived - 1}/{len(content)}")[0] == 200
    )

    def signed_requests() -> int:
        db = open_database(settings.database_path, migrate=False)
        try:
            return db.execute("SELECT count(*) FROM worker_nonces").fetchone()[0]
        finally:
            db.close()

    before = signed_requests()
    worker = Settings.from_env(
        {}, data_dir=tmp_path / "worker", report_url=live.url, secret_key=SECRET, upload_chunk_bytes=4096
    )
    uploader = UploadStorage(worker)
    uploader.upload(workspace, edition_id, token, [record])
    assert signed_requests() - before == 1 + 4, "one question, then only the four chunks that were missing"
    assert uploader.commit(edition_id, token, storage_key=str(edition_id), files=[record])
    assert downloaded(f"{live.url}/editions/{edition_id}/files/book.txt") == content


class CuttingProxy:
    """A TCP relay in front of the web app that cuts one connection in the middle of its request, as a
    dropped network would: real sockets, so the worker meets a real broken connection."""

    def __init__(self, upstream_port: int, cut: int):
        self.upstream_port = upstream_port
        self.cut = cut  # the number of the connection to cut (1 is the first)
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.upstream_port))
            limit = 3000 if self.connections == self.cut else None
            threading.Thread(target=self._pipe, args=(client, upstream, limit), daemon=True).start()
            threading.Thread(target=self._pipe, args=(upstream, client, None), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, target: socket.socket, limit: int | None) -> None:
        sent = 0
        try:
            while data := source.recv(65536):
                if limit is not None and sent + len(data) > limit:
                    target.sendall(data[: limit - sent])
                    break
                target.sendall(data)
                sent += len(data)
        except OSError:
            pass
        for end in (source, target):
            try:
                end.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            end.close()

    def close(self) -> None:
        self.listener.close()


def test_a_connection_dropped_mid_chunk_is_sent_again_and_the_edition_is_whole(tmp_path, web):
    live, settings, books = web
    edition_id, token = claimed(live, settings, books["zh"])
    workspace = tmp_path / "built"
    workspace.mkdir()
    content = hashlib.sha256(b"seed").digest() * 2048  # 64 KiB, sixteen chunks of 4 KiB
    (workspace / "book.txt").write_bytes(content)
    record = {
        "name": "book.txt",
        "media_type": "text/plain; charset=utf-8",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    proxy = CuttingProxy(int(live.url.rsplit(":", 1)[1]), cut=4)  # the third chunk's connection
    try:
        worker = Settings.from_env(
            {}, data_dir=tmp_path / "worker", report_url=proxy.url, secret_key=SECRET, upload_chunk_bytes=4096
        )
        uploader = UploadStorage(worker)
        uploader.upload(workspace, edition_id, token, [record])
        assert uploader.commit(edition_id, token, storage_key=str(edition_id), files=[record])
    finally:
        proxy.close()
    assert proxy.connections == 1 + 16 + 1 + 1, "the question, sixteen chunks, one sent again, the commit"
    assert downloaded(f"{live.url}/editions/{edition_id}/files/book.txt") == content
