"""Every book in content/ through the real html and txt converters, and the storage they publish into."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import re
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import urldefrag

import html5lib
import pytest

from accessible_lib.db import open_database
from accessible_lib.editions.export import export_book, export_ingested
from accessible_lib.editions.runner import Stop, run_conversion
from accessible_lib.editions.storage import LocalStorage, storage_for
from accessible_lib.importer import IMPORTED, import_paths
from accessible_lib.ingest import ingest_file
from accessible_lib.settings import Settings

CHECKOUT = Path(__file__).parent.parent
CONTENT = CHECKOUT / "content"
XHTML = "{http://www.w3.org/1999/xhtml}"


@pytest.fixture(scope="module")
def library(tmp_path_factory) -> list[dict]:
    """Every book in content/, imported into a fresh catalogue and exported as a converter gets it."""
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("library") / "data")
    db = open_database(settings.database_path)
    try:
        results = list(import_paths(db, settings, [CONTENT]))
        assert results and all(r.status == IMPORTED for r in results), [r.reason for r in results]
        # Through JSON, as a task on another machine would receive it.
        return [json.loads(json.dumps(export_book(db, r.book_id))) for r in results]
    finally:
        db.close()


def _ids(library: list[dict]) -> list[str]:
    return [book["title"] for book in library]


class Recorder:
    def __init__(self, stop_at: str | None = None):
        self.calls: list[tuple[float, str]] = []
        self.stop_at = stop_at

    def __call__(self, fraction: float, step: str) -> None:
        self.calls.append((fraction, step))
        if step == self.stop_at:
            raise Stop()


def _convert(book: dict, fmt: str, root: Path) -> tuple[Path, list[dict], Recorder]:
    storage = LocalStorage(root)
    workspace = storage.new_workspace()
    recorder = Recorder()
    files = run_conversion(book, fmt, {}, workspace, recorder)
    return workspace, files, recorder


def _check_files_and_progress(workspace: Path, files: list[dict], recorder: Recorder, book: dict) -> None:
    assert sorted(p.name for p in workspace.iterdir()) == sorted(f["name"] for f in files)
    for record in files:
        data = (workspace / record["name"]).read_bytes()
        assert record["size"] == len(data)
        assert record["sha256"] == hashlib.sha256(data).hexdigest()
    fractions = [fraction for fraction, _ in recorder.calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0 and fractions[0] < 1.0
    total = len(book["chapters"])
    steps = [step for _, step in recorder.calls]
    for number in range(1, total + 1):
        assert f"Chapter {number} of {total}" in steps


def test_every_book_exports_with_its_chapters_and_images(library: list[dict]) -> None:
    assert len(library) == len([p for p in CONTENT.rglob("*") if p.suffix in {".epub", ".txt"}])
    for book in library:
        assert book["chapters"] and all(c["title"] for c in book["chapters"])
        assert any(c["text"] for c in book["chapters"])
    assert any(book["resources"] for book in library), "content/ has EPUBs with images"


def test_exporting_a_file_gives_the_catalogue_shape(library: list[dict]) -> None:
    path = CONTENT / "en" / "pg17192-poe-the-raven-epub2.epub"
    from_file = export_ingested(ingest_file(path, Settings.from_env({})))
    from_catalogue = next(b for b in library if b["title"] == from_file["title"])
    assert set(from_file) == set(from_catalogue)
    assert from_file["id"] is None and isinstance(from_catalogue["id"], int)
    assert from_file["chapters"] == from_catalogue["chapters"]
    assert from_file["toc"] == from_catalogue["toc"]
    assert from_file["resources"] == from_catalogue["resources"]
    json.dumps(from_file)


def _parse_html(data: bytes, name: str):
    """Strict HTML5 parsing: any parse error (stray end tag, missing doctype, bad nesting) fails the test."""
    parser = html5lib.HTMLParser(tree=html5lib.getTreeBuilder("lxml"), strict=True)
    try:
        return parser.parse(io.BytesIO(data), transport_encoding="utf-8").getroot()
    except html5lib.html5parser.ParseError as error:
        pytest.fail(f"{name} does not parse as HTML5: {error}")


def _ids_in(tree) -> set[str]:
    return {el.get("id") for el in tree.iter() if isinstance(el.tag, str) and el.get("id")}


def _text(element) -> str:
    return re.sub(r"\s+", " ", "".join(element.itertext(with_tail=False))).strip()


def _lang_of(element) -> str | None:
    while element is not None:
        if element.get("lang"):
            return element.get("lang")
        element = element.getparent()
    return None


def test_html_edition_of_every_book(library: list[dict], tmp_path: Path) -> None:
    for book in library:
        workspace, files, recorder = _convert(book, "html", tmp_path / f"storage-{book['id']}")
        _check_files_and_progress(workspace, files, recorder, book)
        assert [f["name"] for f in files] == ["book.zip"] and files[0]["media_type"] == "application/zip"
        with zipfile.ZipFile(workspace / "book.zip") as archive:
            assert archive.testzip() is None
            names = set(archive.namelist())
            pages = {name: archive.read(name) for name in names if name.endswith(".html")}
        chapters = book["chapters"]
        assert set(pages) == {"index.html"} | {f"chapter-{i:03d}.html" for i in range(1, len(chapters) + 1)}
        trees = {name: _parse_html(data, f"{book['title']}: {name}") for name, data in pages.items()}
        ids = {name: _ids_in(tree) for name, tree in trees.items()}
        for resource in book["resources"]:
            assert f"images/{resource['name']}" in names
            assert archive_bytes(workspace, f"images/{resource['name']}") == base64.b64decode(
                resource["data"]
            )
        index = trees["index.html"]
        root = index
        assert root.get("lang") == (book["language"] or "und")
        assert _text(index.find(f".//{XHTML}title")) == book["title"]
        assert _text(index.find(f".//{XHTML}h1")) == book["title"]
        for author in book["authors"]:
            assert author in _text(root)
        contents = index.find(f".//{XHTML}nav")
        links = [a.get("href") for a in contents.iter(f"{XHTML}a")]
        assert links, "the contents list links to the chapters"
        for name, tree in trees.items():
            for element in tree.iter(f"{XHTML}a", f"{XHTML}img", f"{XHTML}link"):
                target = element.get("href") or element.get("src")
                if not target or re.match(r"^[a-z]+:", target):
                    continue
                path, fragment = urldefrag(target)
                path = path or name
                assert path in names, f"{book['title']}: {name} links to missing {target}"
                if fragment and path.endswith(".html"):
                    assert fragment in ids[path], f"{book['title']}: {name} links to missing {target}"
        for number, chapter in enumerate(chapters, start=1):
            tree = trees[f"chapter-{number:03d}.html"]
            page = tree
            assert page.get("lang") == (chapter["lang"] or book["language"] or "und")
            assert _text(tree.find(f".//{XHTML}h1")) == _text_of(chapter["title"])
            assert len(tree.findall(f".//{XHTML}h1")) == 1
            assert _text(tree.find(f".//{XHTML}title")).startswith(_text_of(chapter["title"]))
            rels = {a.get("rel"): a.get("href") for a in tree.iter(f"{XHTML}a") if a.get("rel")}
            assert rels.get("prev") == (f"chapter-{number - 1:03d}.html" if number > 1 else None)
            assert rels.get("next") == (f"chapter-{number + 1:03d}.html" if number < len(chapters) else None)
            targets = [el.get("href") or el.get("src") or "" for el in tree.iter(f"{XHTML}a", f"{XHTML}img")]
            assert not [t for t in targets if t.startswith(("resource:", "chapter:"))]
            for link in tree.iter(f"{XHTML}a"):
                if link.get("href") == "index.html":
                    # Navigation words are read in the right voice: translated, or marked as English.
                    word = next(el for el in link.iter() if el.text and el.text.strip())
                    lang = _lang_of(word).split("-")[0]
                    assert lang == "en" if word.text.strip() == "Contents" else lang != "en"


def archive_bytes(workspace: Path, name: str) -> bytes:
    with zipfile.ZipFile(workspace / "book.zip") as archive:
        return archive.read(name)


def _text_of(title: str) -> str:
    return re.sub(r"\s+", " ", title).strip()


def test_txt_edition_of_every_book(library: list[dict], tmp_path: Path) -> None:
    for book in library:
        workspace, files, recorder = _convert(book, "txt", tmp_path / f"storage-{book['id']}")
        _check_files_and_progress(workspace, files, recorder, book)
        assert [f["name"] for f in files] == ["book.txt"] and files[0]["media_type"].startswith("text/plain")
        data = (workspace / "book.txt").read_bytes()
        assert b"\r" not in data and not data.startswith(b"\xef\xbb\xbf")
        text = data.decode("utf-8")
        lines = text.split("\n")
        assert lines[0] == book["title"]
        if book["authors"]:
            assert ", ".join(book["authors"]) in lines[:3]
        if len(book["chapters"]) > 1:
            # A contents list in the book's language, in chapter order, before the first chapter.
            word = "目录" if book["language"].startswith("zh") else "Contents"
            start = lines.index(word)
            listed = lines[start + 1 : start + 1 + len(book["chapters"])]
            assert [line.strip() for line in listed] == [_text_of(c["title"]) for c in book["chapters"]]
            text = "\n".join(lines[start + 1 + len(book["chapters"]) :])
        flat = re.sub(r"\s+", " ", text)
        position = 0
        for chapter in book["chapters"]:
            title = _text_of(chapter["title"])
            found = flat.find(title, position)
            assert found >= 0, f"{book['title']}: chapter {title!r} missing or out of order"
            position = found
        last_words = [c for c in book["chapters"] if c["text"].strip()][-1]["text"].split()[-5:]
        assert " ".join(last_words) in flat


def test_same_book_same_bytes(library: list[dict], tmp_path: Path) -> None:
    book = next(b for b in library if b["resources"])
    _, first, _ = _convert(book, "html", tmp_path / "one")
    _, second, _ = _convert(book, "html", tmp_path / "two")
    assert first == second


def test_stop_from_progress_abandons_the_conversion(library: list[dict], tmp_path: Path) -> None:
    book = max(library, key=lambda b: len(b["chapters"]))
    storage = LocalStorage(tmp_path / "editions")
    for fmt in ("html", "txt"):
        workspace = storage.new_workspace()
        recorder = Recorder(stop_at=f"Chapter 2 of {len(book['chapters'])}")
        with pytest.raises(Stop):
            run_conversion(book, fmt, {}, workspace, recorder)
        assert recorder.calls[-1][1] == recorder.stop_at
        storage.discard(workspace)
        assert not workspace.exists()
    assert [p.name for p in storage.root.iterdir()] == []


# --- Storage ---


def _workspace_with(storage: LocalStorage, files: dict[str, str]) -> Path:
    workspace = storage.new_workspace()
    for name, content in files.items():
        (workspace / name).write_text(content)
    return workspace


def test_publish_makes_a_workspace_the_edition(tmp_path: Path) -> None:
    storage = storage_for(Settings.from_env({}, data_dir=tmp_path / "data"))
    assert storage.root == tmp_path / "data" / "editions"
    workspace = _workspace_with(storage, {"book.txt": "v1"})
    assert workspace.parent == storage.root and workspace.stat().st_dev == storage.root.stat().st_dev
    assert not storage.exists("7") and not storage.path("7").exists()
    storage.publish(workspace, "7")
    assert storage.exists("7")
    assert (storage.path("7") / "book.txt").read_text() == "v1"
    assert not workspace.exists()


def test_a_workspace_never_published_is_not_visible(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "editions")
    storage.publish(_workspace_with(storage, {"book.txt": "old"}), "3")
    unpublished = _workspace_with(storage, {"book.txt": "half"})
    assert (storage.path("3") / "book.txt").read_text() == "old"
    assert not storage.exists("4") and not storage.path("4").exists()
    visible = [p.name for p in storage.root.iterdir() if not p.name.startswith(".")]
    assert visible == ["3"]
    storage.discard(unpublished)
    assert not unpublished.exists()


def test_keys_cannot_leave_the_storage(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "editions")
    workspace = storage.new_workspace()
    for key in ("../x", "a/b", "", ".hidden"):
        with pytest.raises(ValueError):
            storage.publish(workspace, key)
        with pytest.raises(ValueError):
            storage.path(key)
    stray = tmp_path / "elsewhere"
    stray.mkdir()
    with pytest.raises(ValueError, match="not a workspace"):
        storage.publish(stray, "1")


def test_publishing_over_an_edition_is_atomic_for_readers(tmp_path: Path) -> None:
    """A reader looking while editions are replaced sees one whole version each time, never a mix or none."""
    storage = LocalStorage(tmp_path / "editions")
    storage.publish(_workspace_with(storage, {"a.txt": "0", "b.txt": "0"}), "1")
    versions = 150
    done = threading.Event()
    problems: list[str] = []
    seen: set[str] = set()

    def read() -> None:
        while not done.is_set():
            if not storage.exists("1"):
                problems.append("the edition disappeared")
                continue
            directory = os.path.realpath(storage.path("1"))
            try:
                names = sorted(os.listdir(directory))
                contents = {name: Path(directory, name).read_text() for name in names}
            except FileNotFoundError:
                problems.append("a version was removed while a reader was on it")
                continue
            version = set(contents.values())
            if len(version) != 1:
                problems.append(f"mixed versions {contents}")
                continue
            number = int(version.pop())
            expected = ["a.txt", "b.txt"] + ([f"c{number}.txt"] if number else [])
            if names != expected:
                problems.append(f"version {number} incomplete: {names}")
            seen.add(str(number))

    readers = [threading.Thread(target=read) for _ in range(3)]
    for reader in readers:
        reader.start()
    try:
        for number in range(1, versions + 1):
            value = str(number)
            storage.publish(
                _workspace_with(storage, {"a.txt": value, "b.txt": value, f"c{number}.txt": value}), "1"
            )
    finally:
        time.sleep(0.05)
        done.set()
        for reader in readers:
            reader.join()
    assert problems == []
    assert len(seen) > 1, "the readers saw the edition change"
    assert Path(os.path.realpath(storage.path("1")), "a.txt").read_text() == str(versions)
    published = storage.root / ".published"
    assert len(list(published.iterdir())) == versions + 1, "replaced versions stay for their grace period"
    old = time.time() - storage.grace_seconds - 1
    current = Path(os.path.realpath(storage.path("1")))
    for directory in published.iterdir():
        os.utime(directory, (old, old))
    storage.publish(_workspace_with(storage, {"a.txt": "last", "b.txt": "last"}), "1")
    assert sorted(p.name for p in storage.path("1").iterdir()) == ["a.txt", "b.txt"]
    newest = Path(os.path.realpath(storage.path("1")))
    # Versions replaced long ago are gone; the one replaced just now stays for readers already on it.
    assert set(published.iterdir()) == {newest, current}


def test_sweep_removes_old_leftovers_only(tmp_path: Path) -> None:
    storage = LocalStorage(tmp_path / "editions")
    storage.publish(_workspace_with(storage, {"book.txt": "kept"}), "1")
    abandoned = _workspace_with(storage, {"book.txt": "killed mid-job"})
    young = _workspace_with(storage, {"book.txt": "still running"})
    old = time.time() - 3 * 24 * 3600
    os.utime(abandoned, (old, old))
    published_dir = Path(os.path.realpath(storage.path("1")))
    os.utime(published_dir, (old, old))  # old but still the edition: must stay
    assert storage.sweep(older_than_seconds=24 * 3600) == 1
    assert not abandoned.exists() and young.exists()
    assert (storage.path("1") / "book.txt").read_text() == "kept"
