"""Every hostile file is rejected with a clear message or imported safely, fast, in little memory.

The issue's words: zip bombs, zip-slip, billion laughs and external entities, broken zips, missing
container or package, absolute and escaping paths, non-UTF-8 names; under 10 s and 300 MB each, nothing
written outside the data directory, no external entity resolved and no URL opened, and the catalogue
unchanged after a rejection. Bombs are generated here: the corpus holds none.
"""

from __future__ import annotations

import json
import os
import socket
import struct
import subprocess
import sys
import threading
import time
import zipfile
import zlib
from pathlib import Path

import pytest

from accessible_lib.catalogue import add_book
from accessible_lib.db import open_database
from accessible_lib.ingest.epub import read_epub
from accessible_lib.ingest.errors import IngestError
from accessible_lib.settings import Settings
from tests.test_ingest_epub import make_epub, xhtml

HOSTILE = Path(__file__).parent / "corpus" / "hostile"
ARCHIVE_SUFFIXES = {".epub", ".zip", ".z01", ".notzip"}
HOSTILE_FILES = sorted(p for p in HOSTILE.rglob("*") if p.suffix in ARCHIVE_SUFFIXES)
TABLES = ["books", "book_authors", "book_subjects", "book_identifiers", "chapters", "toc_entries",
          "resources"]  # fmt: skip
SECRET = "TOP-SECRET-7f3a9c"


def raw_zip(entries: list[tuple[str, bytes, int, int, int]]) -> bytes:
    """A ZIP written by hand: (name, deflated data, crc, declared size, method) per entry.

    zipfile cannot store pre-compressed data or lie about sizes; an attacker's tool can.
    """
    local, central = bytearray(), bytearray()
    for name, data, crc, size, method in entries:
        encoded = name.encode()
        header = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0x800, method, 0, 0, crc,
                             len(data), size, len(encoded), 0)  # fmt: skip
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0x800, method, 0, 0,
                               crc, len(data), size, len(encoded), 0, 0, 0, 0, 0, len(local))  # fmt: skip
        central += encoded
        local += header + encoded + data
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, len(entries), len(entries), len(central),
                      len(local), 0)  # fmt: skip
    return bytes(local + central + end)


def zeros_deflated(megabytes: int) -> tuple[bytes, int]:
    """Deflate data and CRC of `megabytes` MiB of zeros, built from one compressed block repeated."""
    chunk = bytes(1 << 20)
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
    final = zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    crc = 0
    for _ in range(megabytes):
        crc = zlib.crc32(chunk, crc)
    return block * megabytes + final, crc


def generated_hostile_files(folder: Path, port: int, secret_file: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    data, crc = zeros_deflated(1024)
    bomb = folder / "bomb-1gb-zeros.epub"
    mimetype = b"application/epub+zip"
    bomb.write_bytes(raw_zip([("mimetype", mimetype, zlib.crc32(mimetype), len(mimetype), 0),
                              ("OEBPS/zeros.xhtml", data, crc, 1 << 30, 8)]))  # fmt: skip
    small, small_crc = zeros_deflated(64)
    liar = folder / "bomb-size-lies.epub"
    liar.write_bytes(raw_zip([("OEBPS/zeros.xhtml", small, small_crc, 1000, 8)]))
    many = folder / "too-many-entries.epub"
    with zipfile.ZipFile(many, "w") as archive:
        for index in range(Settings().max_zip_entries + 1):
            archive.writestr(f"f{index}.txt", "")
    laughs = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    doctype = f'<!DOCTYPE html [<!ENTITY lol0 "lol">{laughs}]>'
    billion = xhtml("<p>&lol9;</p>").replace("<html", doctype + "<html", 1)
    make_epub(folder / "billion-laughs.epub", {"c.xhtml": billion})
    url = f"http://127.0.0.1:{port}/"
    for name, system_id in (("file", secret_file.as_uri()), ("http", url + "entity")):
        entity = f'<!DOCTYPE html [<!ENTITY xxe SYSTEM "{system_id}">]>'
        chapter = xhtml("<p>&xxe;</p>").replace("<html", entity + "<html", 1)
        make_epub(folder / f"external-entity-{name}.epub", {"c.xhtml": chapter})
        opf_entity = f'<!DOCTYPE package [<!ENTITY xxe SYSTEM "{system_id}">]>'
        metadata = "<dc:title>&xxe;</dc:title><dc:language>en</dc:language>"
        path = make_epub(folder / f"external-entity-opf-{name}.epub", {"c.xhtml": xhtml("<p>x</p>")},
                         metadata=metadata)  # fmt: skip
        _inject_doctype(path, "OEBPS/content.opf", opf_entity)
    # Harmless-looking references to outside things: must import, and load none of them.
    outside = (
        f'<p><img src="{url}img.png" alt="remote"/><img src="{secret_file.as_uri()}" alt="local"/>'
        f'<a href="{url}link">a link</a> <a href="{secret_file}">abs</a></p>'
        f'<xi:include xmlns:xi="http://www.w3.org/2001/XInclude" href="{secret_file.as_uri()}" '
        'parse="text"/>'
    )
    dtd = f'<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.1//EN" "{url}xhtml11.dtd">'
    page = xhtml(outside, head=f'<title>t</title><link rel="stylesheet" href="{url}s.css"/>')
    make_epub(folder / "external-references.epub", {"c.xhtml": page.replace("<html", dtd + "<html", 1)})
    return sorted(folder.iterdir())


def _inject_doctype(path: Path, name: str, doctype: str) -> None:
    with zipfile.ZipFile(path) as archive:
        entries = {info.filename: archive.read(info) for info in archive.infolist()}
    text = entries[name].decode()
    entries[name] = text.replace("<package", doctype + "<package", 1).encode()
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for entry, data in entries.items():
            archive.writestr(entry, data)


class Listener:
    """A local HTTP-ish server that only counts connections: any connection is a failure."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.socket.settimeout(0.2)
        self.port = self.socket.getsockname()[1]
        self.connections = 0
        self.running = True
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.running:
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            self.connections += 1
            connection.close()

    def close(self) -> None:
        self.running = False
        self.thread.join()
        self.socket.close()


@pytest.fixture(scope="module")
def listener():
    server = Listener()
    yield server
    server.close()


@pytest.fixture(scope="module")
def secret_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("secret") / "secret.txt"
    path.write_text(SECRET)
    return path


@pytest.fixture(scope="module")
def generated(tmp_path_factory, listener, secret_file) -> list[Path]:
    return generated_hostile_files(tmp_path_factory.mktemp("generated"), listener.port, secret_file)


def _counts(db) -> dict[str, int]:
    return {table: db[table].count for table in TABLES}


def _check_one(path: Path, db) -> str:
    before = _counts(db)
    started = time.monotonic()
    try:
        book = read_epub(path, Settings(), checksum=f"{hash(path):x}", source_name=path.name)
    except IngestError as error:
        assert str(error).strip() and error.translated().strip()
        assert _counts(db) == before
        outcome = "rejected: " + str(error)
    else:
        add_book(db, book)
        assert _counts(db)["books"] == before["books"] + 1
        outcome = "imported: " + book.title
    assert time.monotonic() - started < 10
    return outcome


@pytest.mark.parametrize("path", HOSTILE_FILES, ids=[p.name for p in HOSTILE_FILES])
def test_corpus_file_is_rejected_or_imported_safely(path: Path, tmp_path: Path) -> None:
    _check_one(path, open_database(tmp_path / "data" / "catalogue.db"))


def test_expected_rejections_say_why(tmp_path: Path) -> None:
    db = open_database(tmp_path / "catalogue.db")
    reasons = {
        "epubcheck-ocf/ocf-container-file-missing-fatal.epub": "container.xml",
        "epubcheck-ocf/ocf-package-document-missing-fatal.epub": "package document",
        "epubcheck-ocf/ocf-zip-unreadable-empty-fatal.epub": "empty",
        "epubcheck-ocf/ocf-filename-not-utf8-error.epub": "UTF-8",
        "epubcheck-ocf/ocf-filename-duplicate-zip-entry-error.epub": "two entries",
        "w3c-epub-tests/ocf-zip-mult.z01": "split",
        "w3c-epub-tests/pub-xml-external-id.epub": "entities",
        "zip-format/go-symlink.zip": "symbolic link",
        "zip-format/go-readme.notzip": "not a ZIP",
        "zip-format/go-utf8-infozip.zip": "container.xml",
    }
    for name, reason in reasons.items():
        assert reason in _check_one(HOSTILE / name, db)
    imported = "realworld/moby-dick-mimetype-not-first.epub"
    assert _check_one(HOSTILE / imported, db) == "imported: Moby-Dick"


def test_generated_attacks(generated: list[Path], listener, secret_file, tmp_path: Path) -> None:
    db = open_database(tmp_path / "catalogue.db")
    outcomes = {path.name: _check_one(path, db) for path in generated}
    assert "zip bomb" in outcomes["bomb-1gb-zeros.epub"]
    assert outcomes["bomb-size-lies.epub"].startswith("rejected")
    assert "entries, more than the limit" in outcomes["too-many-entries.epub"]
    for name in ("billion-laughs.epub", "external-entity-file.epub", "external-entity-http.epub",
                 "external-entity-opf-file.epub", "external-entity-opf-http.epub"):  # fmt: skip
        assert "entities" in outcomes[name]
    assert outcomes["external-references.epub"].startswith("imported")
    html = "".join(row["html"] for row in db["chapters"].rows)
    assert "remote" in html and "local" in html and "a link" in html
    assert "127.0.0.1" not in html and "file:" not in html and "<img" not in html
    assert SECRET not in json.dumps(outcomes) + html
    assert listener.connections == 0


CHILD = """
import json, sys, time
from pathlib import Path
from accessible_lib.catalogue import add_book
from accessible_lib.db import open_database
from accessible_lib.ingest.epub import read_epub
from accessible_lib.ingest.errors import IngestError
from accessible_lib.settings import Settings
data = Path(sys.argv[1])
settings = Settings.from_env({}, data_dir=data)
db = open_database(settings.database_path)
for index, name in enumerate(sys.argv[2:]):
    started = time.monotonic()
    try:
        book = read_epub(Path(name), settings, checksum=str(index), source_name=Path(name).name)
        add_book(db, book)
        outcome = "imported"
    except IngestError as error:
        outcome = "rejected: " + str(error)
    print(json.dumps({"file": name, "outcome": outcome, "seconds": time.monotonic() - started}))
# The peak of this program's own memory: VmHWM belongs to the address space exec made, while ru_maxrss
# (and wait4's) also counts what the forking test process held before exec.
hwm = next(line for line in open("/proc/self/status") if line.startswith("VmHWM:"))
print(json.dumps({"peak_kb": int(hwm.split()[1])}))
"""


@pytest.mark.slow
def test_whole_folder_in_one_process_stays_small_and_writes_nowhere_else(
    generated: list[Path], listener, secret_file, tmp_path: Path
) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    data = tmp_path / "data"
    files = [str(p) for p in HOSTILE_FILES + generated]
    corpus_before = sorted((p, p.stat().st_mtime_ns) for p in HOSTILE.rglob("*"))
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(empty), "TMPDIR": str(empty),
           "PYTHONDONTWRITEBYTECODE": "1", "PYTHONPATH": str(Path(__file__).parent.parent)}  # fmt: skip
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data), *files],
        cwd=empty,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    with child.stdout, child.stderr:
        stdout = child.stdout.read()
        stderr = child.stderr.read()
    _, status, usage = os.wait4(child.pid, 0)
    child.returncode = os.waitstatus_to_exitcode(status)
    assert child.returncode == 0, stderr.decode()[-2000:]
    *results, peak = [json.loads(line) for line in stdout.decode().splitlines()]
    assert [r["file"] for r in results] == files
    assert all(r["seconds"] < 10 for r in results)
    assert 20 * 1024 < peak["peak_kb"] < 300 * 1024, peak
    assert usage.ru_utime < 60  # the whole folder in well under a minute of CPU
    assert list(empty.iterdir()) == []
    assert {p.name for p in data.iterdir()} <= {"catalogue.db", "catalogue.db-wal", "catalogue.db-shm"}
    assert sorted((p, p.stat().st_mtime_ns) for p in HOSTILE.rglob("*")) == corpus_before
    assert SECRET not in stdout.decode() + stderr.decode()
    assert listener.connections == 0
