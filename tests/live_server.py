"""The real app under uvicorn on a loopback port, for tests that drive a real browser or screen reader.

A browser and a screen reader need a real HTTP server: Starlette's TestClient never opens a socket. The
server runs in a background thread of the test process, so a failure in the app shows up in the test's
own log, and it listens on a socket bound to 127.0.0.1 port 0 before uvicorn starts, so two test runs
never fight over a port and the test knows the port without waiting on a log line.

The library comes from the real corpus through the real importer: EPUBs with nested contents, footnotes
and images, and Chinese texts, because those are the pages where accessibility breaks.
"""

from __future__ import annotations

import asyncio
import atexit
import shutil
import socket
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import uvicorn

from accessible_lib import create_app
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .book_helpers import cap

CORPUS = Path(__file__).parent / "corpus"

# Chosen for what they put on a page: images (Alice, the Chinese EPUB), a nested contents list
# (Children's Literature, Moby-Dick), linked footnotes (The Waste Land), long Chinese poems, and enough
# books that every list is paginated at page_size 3. Two books about whales so that a search has several
# results; ~0.8 s to import all of them.
LIBRARY_FILES = (
    "epub/en/alice-pg19033-nyu-epub3.epub",
    "epub/en/idpf-childrens-literature.epub",
    "epub/en/idpf-wasteland.epub",
    "epub/en/pg17192-poe-the-raven-epub2.epub",
    "epub/en/pg2701-moby-dick-epub2.epub",
    "epub/en/idpf-moby-dick.epub",
    "epub/zh/epubime-test3-tiny-zh.epub",
    "text/zh/zh-changhenge-bai-juyi.txt",
    "text/zh/zh-chibifu-su-shi.txt",
    "text/zh/zh-pipaxing-bai-juyi.txt",
    "text/zh/zh-lisao-qu-yuan.txt",
)


@dataclass
class LiveServer:
    """A running server: `url` is its origin, without a trailing slash."""

    url: str
    settings: Settings
    server: uvicorn.Server
    thread: threading.Thread

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self.thread.join(timeout)
        if self.thread.is_alive():
            raise RuntimeError(f"the test server at {self.url} did not stop within {timeout} s")


def load_library(settings: Settings, files: tuple[str, ...] = LIBRARY_FILES) -> dict[str, int]:
    """Import corpus files into the settings' database; return book ids by corpus path.

    Fails when any file is not imported: a crawl over a library missing its hard books proves little.
    """
    from accessible_lib.importer import IMPORTED, import_paths

    db = open_database(settings.database_path)
    try:
        results = list(import_paths(db, settings, [CORPUS / name for name in files]))
    finally:
        db.close()
    rejected = [(r.path, r.status, r.reason) for r in results if r.status != IMPORTED]
    if rejected:
        raise RuntimeError(f"corpus books not imported for the live server: {rejected}")
    books = {str(Path(r.path).relative_to(CORPUS)): r.book_id for r in results if r.book_id}
    finish_editions(settings, next(iter(books.values())))
    return books


def finish_editions(settings: Settings, book_id: int) -> None:
    """Give one book finished html, txt and mp3 editions, built by the real converters, so the crawl meets
    the download list and the player on a book page. Done in-process, as a worker would, without a queue.
    The MP3 edition keeps every chapter but speaks only the start of each (espeak engine), for speed."""
    from accessible_lib.editions import store
    from accessible_lib.editions.export import export_book
    from accessible_lib.editions.runner import run_conversion
    from accessible_lib.editions.storage import storage_for

    db = open_database(settings.database_path)
    storage = storage_for(settings)
    try:
        book = export_book(db, book_id)
        for format_name, options in (("html", {}), ("txt", {}), ("mp3", {"engine": "espeak"})):
            edition_id, _ = store.request_edition(db, book_id, format_name, options)
            token = store.claim(db, edition_id, lease_seconds=60)
            workspace = storage.new_workspace()
            source = cap(book, 160) if format_name == "mp3" else book
            files = run_conversion(source, format_name, options, workspace, lambda fraction, step: None)
            storage.publish(workspace, str(edition_id))
            store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    finally:
        db.close()


def start_server(settings: Settings, *, timeout: float = 120.0) -> LiveServer:
    """Serve `create_app(settings)` on 127.0.0.1 at a free port; return once it answers (the timeout only
    catches a server that never starts: it leaves room for a busy machine)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(
        create_app(settings),
        log_level="warning",
        access_log=False,
        lifespan="on",
        timeout_graceful_shutdown=2,
    )
    server = uvicorn.Server(config)

    def run() -> None:
        # A fresh event loop of its own: the test thread may have one (Playwright's sync API does).
        asyncio.run(server.serve(sockets=[sock]))
        sock.close()

    thread = threading.Thread(target=run, name=f"live-server-{port}", daemon=True)
    thread.start()
    live = LiveServer(f"http://127.0.0.1:{port}", settings, server, thread)
    deadline = time.monotonic() + timeout
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the test server exited during start-up; see the log above")
        if time.monotonic() > deadline:
            live.stop()
            raise RuntimeError(f"the test server did not start within {timeout} s")
        time.sleep(0.02)
    with urllib.request.urlopen(live.url + "/", timeout=timeout) as response:
        if response.status != 200:
            live.stop()
            raise RuntimeError(f"the test server answered {response.status} for /")
    return live


# Libraries already imported and converted in this test run, by their corpus files: (data dir, book ids).
_LIBRARIES: dict[tuple[str, ...], tuple[Path, dict[str, int]]] = {}


def _library_copy(data_dir: Path, files: tuple[str, ...]) -> dict[str, int]:
    """A fresh copy of the library made of `files`, imported and converted once per test run.

    Seven modules serve the whole corpus library, and each import with its first book's html, txt and mp3
    editions took seconds; a copy of the finished data dir (its database closed, every path in it relative to
    the data dir) is the same library, and still each module's own to change."""
    made = _LIBRARIES.get(files)
    if made is None:
        template = Path(tempfile.mkdtemp(prefix="live-library-")) / "data"
        atexit.register(shutil.rmtree, template.parent, True)
        settings = Settings.from_env({}, data_dir=template)
        template.mkdir(parents=True)
        made = _LIBRARIES[files] = (template, load_library(settings, files))
    shutil.copytree(made[0], data_dir, dirs_exist_ok=True)
    return dict(made[1])


@contextmanager
def live_server(
    data_dir: Path, *, page_size: int = 3, files: tuple[str, ...] = LIBRARY_FILES
) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    """A server over a fresh data dir holding `files`; yields it and the book ids by corpus path.

    page_size is small by default so that three books already make a second page to crawl.
    """
    settings = Settings.from_env({}, data_dir=data_dir, page_size=page_size)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    books = _library_copy(settings.data_dir, files)
    live = start_server(settings)
    try:
        yield live, books
    finally:
        live.stop()
