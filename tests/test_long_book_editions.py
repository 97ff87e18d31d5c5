"""A long book in every format, the way readers and staff get it: the web pages, the queue, a real worker.

Braille of a book over 200,000 characters is translated in child processes; inside Huey's daemonic worker
processes a `multiprocessing` pool failed every such edition ("daemonic processes are not allowed to have
children") while `convert`, outside the queue, worked. So each format goes through the app's pages (the
reader's braille download form on the book page; the staff page's edition request), the app's queue and a
real `accessible-lib worker` process, and each result is opened and checked, not just found "done".

html, txt, brf and pef are made from the whole of War and Peace (382 chapters; braille takes seconds). The
three audio formats of the whole book take about six minutes each, too long for `make test`: here they are
made from a slice of it imported as its own book (the first chapters, over 200,000 characters), and
`make bench` builds them from the whole book through the queue and a real worker (BENCHMARKS.md).
"""

from __future__ import annotations

import io
import os
import re
import signal
import zipfile
from difflib import SequenceMatcher
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from lxml import etree
from starlette.testclient import TestClient

from accessible_lib import auth, create_app
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.export import export_book
from accessible_lib.importer import IMPORTED, import_paths
from accessible_lib.settings import Settings
from braille.pef import PEF_NS
from braille.translate import back_translate

from .book_helpers import WAR_AND_PEACE
from .braille.pef_check import validate_pefs
from .jobs_helpers import start_worker, stop_worker, wait_for, worker_env
from .test_braille_editions import _body_text, _words, brf_pages

pytestmark = pytest.mark.slow

PASSWORD = "a long enough password"
SLICE_CHARACTERS = 215_000  # of the file: whole chapters, over 200,000 characters of chapter text
BUILD_TIMEOUT = 900  # seconds for one edition on a busy machine; the audio of the slice takes about one


def war_and_peace_slice(path: Path) -> Path:
    """The first chapters of War and Peace as a text file of their own (a book the importer reads anew)."""
    text = WAR_AND_PEACE.read_text(encoding="utf-8")
    cut = text.index("\nCHAPTER ", SLICE_CHARACTERS)
    path.write_text(text[:cut], encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("long-book")
    data_dir = root / "data"
    env = worker_env(data_dir, lease_seconds=30)
    settings = Settings.from_env(env)
    db = open_database(settings.database_path)
    try:
        paths = [WAR_AND_PEACE, war_and_peace_slice(root / "war-and-peace-books-one-and-two.txt")]
        results = list(import_paths(db, settings, paths))
        assert [r.status for r in results] == [IMPORTED, IMPORTED], [r.reason for r in results]
        whole, part = (export_book(db, r.book_id) for r in results)
        auth.create_staff(db, "librarian", PASSWORD)
    finally:
        db.close()
    assert len(whole["chapters"]) == 382
    assert sum(len(c["text"]) for c in part["chapters"]) > 200_000
    shared = {"settings": settings, "env": env, "whole": whole, "part": part, "log": root / "worker.log"}
    shared["worker"] = start_worker(env, shared["log"], workers=1)
    try:
        with TestClient(create_app(settings)) as client:
            yield {**shared, "client": client}
    finally:
        stop_worker(shared["worker"])


def soup_of(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html.parser")


def _done(library: dict, edition_id: int) -> dict:
    settings: Settings = library["settings"]

    def finished():
        db = open_database(settings.database_path, migrate=False)
        try:
            row = store.get_edition(db, edition_id)
        finally:
            db.close()
        assert row["status"] != store.FAILED, f"edition {edition_id} failed: {row['error']}"
        return row if row["status"] == store.DONE else None

    return wait_for(finished, timeout=BUILD_TIMEOUT, what=f"edition {edition_id}", log_path=library["log"])


def staff_request(library: dict, book_id: int, format_name: str) -> int:
    """The staff page's form: sign in, choose the format on the book's edit page, request it."""
    client: TestClient = library["client"]
    if client.get("/staff", follow_redirects=False).status_code != 200:
        login = soup_of(client.get("/staff/login"))
        token = login.find("input", attrs={"name": "csrf_token"})["value"]
        fields = {"csrf_token": token, "username": "librarian", "password": PASSWORD, "next": "/staff"}
        assert client.post("/staff/login", data=fields).status_code == 200
    page = soup_of(client.get(f"/staff/books/{book_id}/edit"))
    form = page.find("form", action=f"/staff/books/{book_id}/editions")
    assert form.find("select", attrs={"name": "format"}).find("option", value=format_name) is not None
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    response = client.post(
        form["action"], data={"csrf_token": token, "format": format_name}, follow_redirects=False
    )
    assert response.status_code == 303 and re.fullmatch(r"/staff/jobs/\d+", response.headers["location"])
    return int(response.headers["location"].rsplit("/", 1)[1])


def download_from_book_page(library: dict, book_id: int, edition_id: int) -> dict[str, bytes]:
    """The finished edition's files as a reader gets them: the links on the book page (downloads, and the
    Listen section's chapter links)."""
    client: TestClient = library["client"]
    page = soup_of(client.get(f"/books/{book_id}"))
    links = sorted(
        {a["href"] for a in page.find_all("a", href=True) if f"/editions/{edition_id}/" in a["href"]}
    )
    assert links, f"the book page lists no download of edition {edition_id}"
    files = {}
    for href in links:
        response = client.get(href)
        assert response.status_code == 200
        files[href.rsplit("/", 1)[1]] = response.content
    return files


def reader_braille(library: dict, book_id: int, format_name: str) -> bytes:
    """The book page's braille download form with its defaults and the chosen format, then the status page
    until the edition is ready and its download link, as a reader follows them."""
    client: TestClient = library["client"]
    form = soup_of(client.get(f"/books/{book_id}")).find("form", action=f"/books/{book_id}/braille")
    query = {}
    for field in form.find_all(["input", "select"]):
        if field.name == "select":
            query[field["name"]] = (field.find("option", selected=True) or field.find("option"))["value"]
        elif field.get("type") != "radio":
            query[field["name"]] = field["value"]
    assert form["method"] == "post" and query["csrf_token"]
    assert form.find("input", attrs={"name": "format", "value": format_name}) is not None
    query["format"] = format_name
    response = client.post(form["action"], data=query, follow_redirects=False)
    assert response.status_code == 303
    status_url = response.headers["location"]
    edition_id = int(status_url.rsplit("/", 1)[1])
    _done(library, edition_id)
    status = soup_of(client.get(status_url))
    link = status.select_one("p.job-done:not([hidden]) a[data-download]")
    assert link is not None, "the status page of a finished edition offers its download"
    download = client.get(link["href"])
    assert download.status_code == 200
    return download.content


def test_html_and_txt_of_the_whole_book(library: dict) -> None:
    book = library["whole"]
    titles = [" ".join(c["title"].split()) for c in book["chapters"]]
    html_id = staff_request(library, book["id"], "html")
    txt_id = staff_request(library, book["id"], "txt")
    _done(library, html_id)
    [(name, data)] = download_from_book_page(library, book["id"], html_id).items()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.testzip() is None
        pages = [n for n in archive.namelist() if n.endswith(".html")]
        chapters = [n for n in pages if not n.endswith("index.html")]
        assert len(chapters) == len(book["chapters"]) == 382
        index = BeautifulSoup(archive.read(next(n for n in pages if n.endswith("index.html"))), "html.parser")
        assert len(index.find_all("a", href=re.compile(r"\.html"))) >= 382
        last = BeautifulSoup(archive.read(sorted(chapters)[-1]), "html.parser")
        assert book["chapters"][-1]["text"].split()[-1].strip(".") in last.get_text()
    _done(library, txt_id)
    [(name, data)] = download_from_book_page(library, book["id"], txt_id).items()
    text = data.decode("utf-8")
    positions = [text.find(book["chapters"][i]["text"][:60]) for i in (0, 191, 381)]
    assert -1 not in positions and positions == sorted(positions)
    assert len(text) > sum(len(c["text"]) for c in book["chapters"])
    assert titles[-1] in text


def _back_translation_matches(brf: bytes, book: dict, tmp_path: Path) -> None:
    """A sample at each end of the BRF body, back-translated with its table, gives back the book's words
    (grade 2 is lossy: at least 90% of them, in order)."""
    path = tmp_path / "book.brf"
    path.write_bytes(brf)
    body = _body_text(path)
    source = _words(" ".join(f"{c['title']} {c['text']}" for c in book["chapters"]))
    for sample, words in ((body[:6000], source[:1500]), (body[-6000:], source[-1500:])):
        back = _words(back_translate(sample, "en-ueb-g2"))
        same = sum(b.size for b in SequenceMatcher(None, words, back, autojunk=False).get_matching_blocks())
        assert len(back) > 500 and same / len(back) >= 0.9, f"{same} of {len(back)} words"


def test_braille_of_the_whole_book_from_the_book_page_and_the_staff_page(
    library: dict, tmp_path: Path
) -> None:
    book = library["whole"]
    brf = reader_braille(library, book["id"], "brf")
    pages = brf_pages(_written(tmp_path / "reader.brf", brf))
    assert len(pages) > 3000
    assert all(len(rows) == 25 and all(len(row) <= 40 for row in rows) for rows in pages)
    _back_translation_matches(brf, book, tmp_path)

    pef = reader_braille(library, book["id"], "pef")
    pef_path = _written(tmp_path / "reader.pef", pef)
    assert validate_pefs([pef_path]) == {str(pef_path): "VALID"}
    root = etree.parse(str(pef_path)).getroot()
    pef_pages = list(root.iter(f"{{{PEF_NS}}}page"))
    assert len(pef_pages) == len(pages)
    for index in (0, len(pages) // 2, -1):
        rows = [row.text or "" for row in pef_pages[index].iter(f"{{{PEF_NS}}}row")]
        assert [_ascii(row).rstrip(" ") for row in rows] == pages[index]

    staff_brf = staff_request(library, book["id"], "brf")  # the staff page's default table: the same
    [(name, data)] = download_from_book_page(library, book["id"], _done(library, staff_brf)["id"]).items()
    assert name == "book.brf" and data == brf


def test_killing_the_worker_mid_braille_leaves_no_children(library: dict, tmp_path: Path) -> None:
    """The braille children end with the worker process that started them, even under SIGKILL."""
    book = library["whole"]
    worker = library["worker"]
    edition_id = staff_request(library, book["id"], "pef")  # the staff default table: a new edition
    children = wait_for(
        lambda: _braille_children(worker.pid),
        timeout=120,
        what="the braille children",
        log_path=library["log"],
    )
    [owner] = {parent for parent, _ in children}
    os.kill(owner, signal.SIGKILL)  # the Huey process running the job, not its process group
    assert store_row(library, edition_id)["status"] == store.RUNNING  # killed mid-job
    pids = [pid for _, pid in children]
    wait_for(lambda: not any(_alive(p) for p in pids), timeout=30, what="the braille children to end")


def store_row(library: dict, edition_id: int) -> dict:
    db = open_database(library["settings"].database_path, migrate=False)
    try:
        return store.get_edition(db, edition_id)
    finally:
        db.close()


def _processes() -> dict[int, tuple[int, str]]:
    found = {}
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(f"/proc/{entry.name}/stat").read_text()
                command = Path(f"/proc/{entry.name}/cmdline").read_bytes().replace(b"\0", b" ").decode()
            except OSError:
                continue
            fields = stat.rsplit(")", 1)[1].split()
            if fields[0] != "Z":
                found[int(entry.name)] = (int(fields[1]), command)
    return found


def _braille_children(worker: int) -> list[tuple[int, int]]:
    """(parent, pid) of every `braille.pool` process under the worker."""
    table = _processes()

    def under(pid: int) -> bool:
        while pid > 1 and pid in table:
            if pid == worker:
                return True
            pid = table[pid][0]
        return False

    return [(ppid, pid) for pid, (ppid, cmd) in table.items() if "-m braille.pool" in cmd and under(ppid)]


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _written(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _ascii(row: str) -> str:
    from braille.brf import to_ascii

    return to_ascii(row)


def test_audio_of_a_book_over_200000_characters(library: dict, tmp_path: Path) -> None:
    from mutagen.mp3 import MP3

    book = library["part"]
    chapters = book["chapters"]
    ids = {fmt: staff_request(library, book["id"], fmt) for fmt in ("mp3", "daisy202", "epub3-mo")}

    _done(library, ids["mp3"])
    files = download_from_book_page(library, book["id"], ids["mp3"])
    [zipped] = [data for name, data in files.items() if name.endswith(".zip")]
    with zipfile.ZipFile(io.BytesIO(zipped)) as archive:
        mp3s = sorted(n for n in archive.namelist() if n.endswith(".mp3"))
        playlist = archive.read("playlist.m3u8").decode("utf-8").splitlines()
        assert len(mp3s) == len(chapters) and [x for x in playlist if not x.startswith("#")] == mp3s
        last = tmp_path / "last.mp3"
        last.write_bytes(archive.read(mp3s[-1]))
        assert MP3(last).info.length > 60  # a whole chapter of speech
    listen = [data for name, data in files.items() if name.endswith(".mp3")]
    assert len(listen) == len(chapters)  # each chapter also published for the book page's player
    assert all(data[:3] == b"ID3" for data in listen)

    _done(library, ids["daisy202"])
    [data] = download_from_book_page(library, book["id"], ids["daisy202"]).values()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = set(archive.namelist())
        ncc = etree.fromstring(archive.read("ncc.html"))
        headings = [h for h in ncc.iter() if re.fullmatch(r"\{[^}]*\}h[1-6]", str(h.tag))]
        # DAISY's title section first (its own SMIL and MP3), then one per chapter
        assert headings[0].get("class") == "title" and len(headings) >= len(chapters) + 1
        for heading in headings:
            assert heading[0].get("href").partition("#")[0] in names
        assert sum(n.endswith(".smil") for n in names) == len(chapters) + 1
        assert sum(n.endswith(".mp3") for n in names) == len(chapters) + 1
        meta = {m.get("name"): m.get("content") for m in ncc.iter("{*}meta")}
        hours, minutes, seconds = map(int, meta["ncc:totalTime"].split(":"))
        assert hours * 3600 + minutes * 60 + seconds > 3600  # over an hour of speech

    _done(library, ids["epub3-mo"])
    [data] = download_from_book_page(library, book["id"], ids["epub3-mo"]).values()
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert archive.namelist()[0] == "mimetype" and archive.read("mimetype") == b"application/epub+zip"
        package = etree.fromstring(archive.read("EPUB/package.opf"))
        items = package.findall(".//{*}manifest/{*}item")
        overlaid = [item for item in items if item.get("media-overlay")]
        assert len(overlaid) == len(chapters)
        by_id = {item.get("id"): item.get("href") for item in items}
        for item in overlaid:
            assert "EPUB/" + by_id[item.get("media-overlay")] in archive.namelist()
        assert len(package.findall(".//{*}spine/{*}itemref")) == len(chapters)
        nav = etree.fromstring(archive.read("EPUB/nav.xhtml"))
        assert len(nav.findall(".//{*}nav//{*}a")) >= len(chapters)


def test_a_stopped_braille_conversion_leaves_no_children(tmp_path: Path) -> None:
    """A job that loses its lease stops through its progress callback: the pool ends with it."""
    from accessible_lib.editions.runner import Stop, run_conversion

    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    try:
        [result] = list(import_paths(db, settings, [WAR_AND_PEACE]))
        book = export_book(db, result.book_id)
    finally:
        db.close()
    seen: list[list[tuple[int, int]]] = []
    mine = os.getpid()  # its own children only: the module's worker, also a descendant, may run a pool too

    def progress(fraction: float, step: str) -> None:
        seen.append([child for child in _braille_children(mine) if child[0] == mine])
        if fraction > 0.1:
            raise Stop

    with pytest.raises(Stop):
        run_conversion(book, "brf", {}, tmp_path, progress)
    assert any(len(children) == (os.cpu_count() or 1) for children in seen), seen[:3]  # the pool ran
    assert [child for child in _braille_children(mine) if child[0] == mine] == []
