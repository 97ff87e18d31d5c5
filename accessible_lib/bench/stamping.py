"""A personalised download against the plain file: War and Peace's MP3 edition through a real server.

The target (issue 11): a stamped download of a restricted book at no less than 0.8x the throughput of serving
the same file unstamped, measured in the same run. Both go through the real app served by `accessible-lib
serve` (uvicorn) on loopback, read whole by a real HTTP client (http.client) that hashes what it receives;
the personalised download is timed from the reader's request (which gets a download id and a 303) to the
last byte, as a signed-in eligible reader. The unstamped file is the same edition's bytes, published for a
second, unrestricted copy of the book.

Speaking the whole book takes minutes, so by default the edition is made from a slice of it (the first
chapters up to BENCH_STAMPING_CHARS characters, default 200,000; 0 for the whole book), with the
libespeak engine (BENCH_STAMPING_ENGINE). BENCH_STAMPING_ROUNDS (default 5) downloads of each, alternated;
the medians are compared.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import statistics
import time
import urllib.parse
from pathlib import Path

from ..settings import CHECKOUT, Settings
from .audio import WAR_AND_PEACE
from .server import start_server, stop_server
from .worker import _slice

TARGET = 0.8
SLICE = 200_000
PASSWORD = "bench reader passphrase"
EMAIL = "bench.reader@example.org"
NAME = "Bench Reader"


def build(root: Path, source: Path, engine: str) -> dict:
    """A catalogue with the book twice (restricted and unrestricted), one MP3 edition built for the first
    and its files published again for the second, and an eligible reader."""
    from .. import access, catalogue, readers
    from ..db import open_database
    from ..editions import store
    from ..editions.export import export_book
    from ..editions.runner import run_conversion
    from ..editions.storage import storage_for
    from ..importer import IMPORTED, import_paths

    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env["ACCESSIBLE_LIB_DATA_DIR"] = str(root / "data")
    settings = Settings.from_env(env)
    db = open_database(settings.database_path)
    [result] = list(import_paths(db, settings, [source]))
    if result.status != IMPORTED:
        raise RuntimeError(f"{source} was not imported: {result.reason}")
    restricted = result.book_id
    book = export_book(db, restricted)
    storage = storage_for(settings)
    options = {"engine": engine}
    started = time.monotonic()
    edition_id, _ = store.request_edition(db, restricted, "mp3", options)
    token = store.claim(db, edition_id, lease_seconds=24 * 3600)
    workspace = storage.new_workspace()
    files = run_conversion(book, "mp3", options, workspace, lambda fraction, step: None)
    copy = storage.new_workspace()
    for record in files:
        os.link(workspace / record["name"], copy / record["name"])
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    build_seconds = time.monotonic() - started
    # the same book again, unrestricted (a catalogue record of its own; the checksum must differ)
    from ..ingest.model import Chapter, IngestedBook

    twin = IngestedBook(
        title=book["title"],
        chapters=[Chapter(title=c["title"], html=c["html"], text=c["text"]) for c in book["chapters"]],
        checksum="bench-unrestricted-" + hashlib.sha256(source.read_bytes()).hexdigest(),
        source_name=source.name,
        source_format="txt",
        language=book.get("language") or "en",
    )
    public = catalogue.add_book(db, twin)
    public_edition, _ = store.request_edition(db, public, "mp3", options)
    token = store.claim(db, public_edition, lease_seconds=60)
    storage.publish(copy, str(public_edition))
    assert store.complete(db, public_edition, token, storage_key=str(public_edition), files=files)
    if "rights_status" not in db["books"].columns_dict:  # the rights code adds it; until then, here
        db.execute("ALTER TABLE books ADD COLUMN rights_status TEXT")
    with db.conn:
        db.execute("UPDATE books SET rights_status = ? WHERE id = ?", [access.ELIGIBLE_ONLY, restricted])
    readers.add_reader(db, EMAIL, NAME, PASSWORD, role="eligible", verified=True)
    chapters, characters = db.execute(
        "SELECT count(*), sum(length(text)) FROM chapters WHERE book_id = ?", [restricted]
    ).fetchone()
    db.close()
    [archive] = [f for f in files if f["name"] == "book.zip"]
    return {
        "env": env,
        "settings": settings,
        "stamped_url": f"/editions/{edition_id}/files/book.zip",
        "plain_url": f"/editions/{public_edition}/files/book.zip",
        "size": archive["size"],
        "mp3s": sum(1 for f in files if f["name"].startswith("chapter-")),
        "chapters": chapters,
        "characters": characters,
        "build_seconds": build_seconds,
    }


class Client:
    """A plain HTTP/1.1 client on one connection, with the cookies the server sets."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, body: dict | None = None, *, sink=None):
        headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())} if self.cookies else {}
        data = None
        if body is not None:
            data = urllib.parse.urlencode(body).encode()
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, url, body=data, headers=headers)
        response = self.connection.getresponse()
        for header in response.headers.get_all("set-cookie") or []:
            name, _, rest = header.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        if sink is None:
            return response, response.read()
        size = 0
        while chunk := response.read(1 << 20):
            sink(chunk)
            size += len(chunk)
        return response, size

    def sign_in(self) -> None:
        _, page = self.request("GET", "/account/sign-in")
        token = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        response, _ = self.request(
            "POST",
            "/account/sign-in",
            {"csrf_token": token, "email": EMAIL, "password": PASSWORD, "next": ""},
        )
        if response.status != 303:
            raise RuntimeError(f"the bench reader could not sign in ({response.status})")

    def download(self, url: str) -> tuple[int, float, str, str]:
        """(bytes, seconds, sha256, final url): a redirect to the personal link is followed, and timed."""
        digest = hashlib.sha256()
        started = time.perf_counter()
        response, body = self.request("GET", url)
        if response.status == 303:
            url = response.headers["location"]
            response, size = self.request("GET", url, sink=digest.update)
        else:
            digest.update(body)
            size = len(body)
        seconds = time.perf_counter() - started
        if response.status != 200:
            raise RuntimeError(f"{url}: {response.status}")
        return size, seconds, digest.hexdigest(), url


def measure(built: dict, port: int, rounds: int) -> dict:
    from ..db import open_database
    from ..editions import download_log

    client = Client(port)
    client.sign_in()
    plain, stamped, checked = [], [], 0
    for _ in range(rounds):
        size, seconds, _, _ = client.download(built["plain_url"])
        plain.append(size / seconds)
        size, seconds, sha256, link = client.download(built["stamped_url"])
        stamped.append(size / seconds)
        db = open_database(built["settings"].database_path, migrate=False)
        row = download_log.get_download(db, urllib.parse.parse_qs(urllib.parse.urlsplit(link).query)["dl"][0])
        db.close()
        if row is None or row["sha256"] != sha256:
            raise RuntimeError("the download log's sha256 is not that of the bytes received")
        checked += 1
    client.connection.close()
    return {"plain": statistics.median(plain), "stamped": statistics.median(stamped), "checked": checked}


def section(data_dir: Path, environ: dict | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    lines = ["## Stamping: personalised downloads of War and Peace in MP3", ""]
    source_book = Path(environ.get("BENCH_STAMPING_BOOK", "") or WAR_AND_PEACE)
    if not source_book.exists():
        return lines + [f"{source_book} is not here: not measured.", ""]
    value = environ.get("BENCH_STAMPING_CHARS", "").strip()
    limit = int(value) if value else SLICE
    rounds = int(environ.get("BENCH_STAMPING_ROUNDS", "5") or 5)
    engine = environ.get("BENCH_STAMPING_ENGINE", "libespeak") or "libespeak"
    root = data_dir / "stamping"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    source = _slice(source_book, limit, root) if limit else source_book
    built = build(root, source, engine)
    server, port = start_server(built["env"], root / "server.log")
    try:
        figures = measure(built, port, rounds)
    finally:
        stop_server(server)
    ratio = figures["stamped"] / figures["plain"]
    what = "the whole book" if source == source_book else f"its first {built['chapters']} chapters"
    shown = source_book.relative_to(CHECKOUT) if source_book.is_relative_to(CHECKOUT) else source_book
    lines += [
        "Command: `BENCH_ONLY=stamping make bench` (`accessible_lib.bench.stamping`; "
        "BENCH_STAMPING_CHARS=0 for the whole book).",
        f"Input: `{shown}`, "
        f"{what} ({built['chapters']} chapters, {built['characters']:,} characters), its MP3 edition made "
        f"with the {engine} engine in {built['build_seconds']:.0f} s: {built['size'] / 1e6:,.1f} MB, "
        f"{built['mp3s']} chapter MP3s. Served by `accessible-lib serve` (uvicorn) on loopback, read "
        f"whole by http.client as a signed-in eligible reader, {rounds} downloads of each, alternated; "
        "medians.",
        "",
        "| download | MB/s |",
        "| --- | ---: |",
        f"| unstamped file (unrestricted copy of the book) | {figures['plain'] / 1e6:,.1f} |",
        f"| personalised (download id, 303, stamped archive) | {figures['stamped'] / 1e6:,.1f} |",
        "",
        f"Personalised at {ratio:.2f}x the unstamped throughput: target at least {TARGET}x, "
        f"**{'met' if ratio >= TARGET else 'missed'}**. The download log's sha256 matched the bytes received "
        f"in {figures['checked']} of {rounds} personalised downloads.",
        "",
    ]
    return lines


def main() -> None:
    print("\n".join(section(CHECKOUT / "var" / "bench")))


if __name__ == "__main__":
    main()
