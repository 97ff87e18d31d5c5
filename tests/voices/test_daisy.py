"""The DAISY 2.02 book, checked the way a hardware player walks it: ncc, then SMIL, then text and audio."""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import pytest
from lxml import etree
from mutagen.mp3 import MP3

from tests.voices.audio_samples import PAUSE_SECONDS, SAMPLE_RATE, SCRIPT, feed, make_book, voiced
from voices.book import SpokenChapter
from voices.daisy import DaisyBuilder

XHTML = "{http://www.w3.org/1999/xhtml}"
FRAME = 576
PADDING_LIMIT = (1105 + 2 * FRAME) / SAMPLE_RATE
NPT = re.compile(r"^npt=(\d+\.\d{3})s$")
REQUIRED_NCC_META = (
    "dc:title dc:creator dc:date dc:format dc:identifier dc:language dc:publisher ncc:charset ncc:generator "
    "ncc:multimediaType ncc:totalTime ncc:tocItems ncc:depth ncc:files ncc:pageFront ncc:pageNormal "
    "ncc:pageSpecial ncc:maxPageNormal"
).split()


def hms(value: str) -> float:
    hours, minutes, secs = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


@pytest.fixture(scope="module")
def daisy(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    root = tmp_path_factory.mktemp("daisy")
    out = root / "book-daisy.zip"
    with DaisyBuilder(out, make_book()) as builder:
        pcms = feed(builder)
    with zipfile.ZipFile(out) as archive:
        assert archive.testzip() is None
        archive.extractall(root / "book")
    return root / "book", pcms


def parse(path: Path) -> etree._ElementTree:
    return etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True, load_dtd=False))


def ncc_meta(book: Path) -> dict[str, list[str]]:
    meta: dict[str, list[str]] = {}
    for element in parse(book / "ncc.html").iter(f"{XHTML}meta"):
        if element.get("name"):
            meta.setdefault(element.get("name"), []).append(element.get("content"))
    return meta


def smil_clips(smil: Path) -> list[tuple[str, str, float, float]]:
    """(text src, audio src, clip-begin, clip-end) for every par, in order."""
    clips = []
    for par in parse(smil).iter("par"):
        text, audio = par.find("text"), par.find("audio")
        begin, end = NPT.match(audio.get("clip-begin")), NPT.match(audio.get("clip-end"))
        assert begin and end, etree.tostring(audio)
        clips.append((text.get("src"), audio.get("src"), float(begin[1]), float(end[1])))
    return clips


def test_every_file_is_well_formed_xml(daisy: tuple[Path, list[bytes]]) -> None:
    book, _ = daisy
    files = sorted(book.glob("*.html")) + sorted(book.glob("*.smil"))
    assert len(files) == 1 + 2 * len(SCRIPT)
    for path in files:
        assert path.read_bytes().startswith(b'<?xml version="1.0" encoding="utf-8"?>')
        parse(path)  # raises on malformed XML


def test_ncc_has_the_required_metadata(daisy: tuple[Path, list[bytes]]) -> None:
    book, _ = daisy
    meta = ncc_meta(book)
    missing = [name for name in REQUIRED_NCC_META if name not in meta]
    assert not missing
    assert meta["dc:format"] == ["Daisy 2.02"]
    assert meta["ncc:multimediaType"] == ["audioFullText"]
    assert meta["ncc:charset"] == ["utf-8"]
    assert meta["dc:creator"] == ["Ada Example", "李四"]
    assert meta["ncc:tocItems"] == [str(len(SCRIPT))]
    assert meta["ncc:depth"] == [str(max(c.level for c in SCRIPT))]
    assert meta["ncc:files"] == [str(len([p for p in book.iterdir() if p.is_file()]))]
    assert re.fullmatch(r"\d{2}:\d{2}:\d{2}", meta["ncc:totalTime"][0])


def test_ncc_headings_follow_levels_and_start_with_the_title(daisy: tuple[Path, list[bytes]]) -> None:
    book, _ = daisy
    body = parse(book / "ncc.html").find(f"{XHTML}body")
    headings = list(body)
    assert [h.tag.removeprefix(XHTML) for h in headings] == [f"h{c.level}" for c in SCRIPT]
    assert headings[0].get("class") == "title"
    assert ["".join(h.itertext()).strip() for h in headings] == [c.title for c in SCRIPT]


def test_every_ncc_entry_resolves_to_a_smil_par(daisy: tuple[Path, list[bytes]]) -> None:
    book, _ = daisy
    links = [a.get("href") for a in parse(book / "ncc.html").iter(f"{XHTML}a")]
    assert len(links) == len(SCRIPT)
    for href, script in zip(links, SCRIPT, strict=True):
        name, fragment = href.split("#")
        targets = parse(book / name).xpath("//*[@id=$id]", id=fragment)
        assert len(targets) == 1 and targets[0].tag == "par", href
        # the par plays the chapter heading
        text_src = targets[0].find("text").get("src")
        text_file, text_id = text_src.split("#")
        spoken = parse(book / text_file).xpath("//*[@id=$id]", id=text_id)[0]
        assert spoken.text == script.sentences[0].text


def test_every_smil_text_src_resolves_to_its_sentence(daisy: tuple[Path, list[bytes]]) -> None:
    book, _ = daisy
    for index, script in enumerate(SCRIPT, 1):
        clips = smil_clips(book / f"c{index:03d}.smil")
        assert len(clips) == len(script.sentences)
        for (text_src, _, _, _), sentence in zip(clips, script.sentences, strict=True):
            name, fragment = text_src.split("#")
            found = parse(book / name).xpath("//*[@id=$id]", id=fragment)
            assert len(found) == 1, text_src
            assert found[0].text == sentence.text


def test_every_clip_lies_inside_its_mp3(daisy: tuple[Path, list[bytes]]) -> None:
    book, pcms = daisy
    for index, (script, pcm) in enumerate(zip(SCRIPT, pcms, strict=True), 1):
        recorded = len(pcm) / 2 / SAMPLE_RATE  # what was handed to the encoder
        measured = MP3(book / f"c{index:03d}.mp3").info.length
        assert 0 <= measured - recorded <= PADDING_LIMIT
        clips = smil_clips(book / f"c{index:03d}.smil")
        previous_end = 0.0
        for (_, audio_src, begin, end), sentence in zip(clips, script.sentences, strict=True):
            assert audio_src == f"c{index:03d}.mp3"
            assert previous_end <= begin < end <= recorded + 0.0005
            # each clip is exactly its sentence's audio plus the pause that follows it
            expected = (len(voiced(sentence)) / 2 + round(PAUSE_SECONDS * SAMPLE_RATE)) / SAMPLE_RATE
            assert end - begin == pytest.approx(expected, abs=0.0015)
            previous_end = end


def test_total_time_matches_the_audio(daisy: tuple[Path, list[bytes]]) -> None:
    book, pcms = daisy
    seconds = [len(pcm) / 2 / SAMPLE_RATE for pcm in pcms]
    assert abs(hms(ncc_meta(book)["ncc:totalTime"][0]) - sum(seconds)) <= 0.5
    elapsed = 0.0
    for index, chapter_seconds in enumerate(seconds, 1):
        head = {m.get("name"): m.get("content") for m in parse(book / f"c{index:03d}.smil").iter("meta")}
        assert head["dc:format"] == "Daisy 2.02"
        assert hms(head["ncc:totalElapsedTime"]) == pytest.approx(elapsed, abs=0.001)
        assert hms(head["ncc:timeInThisSmil"]) == pytest.approx(chapter_seconds, abs=0.001)
        seq = parse(book / f"c{index:03d}.smil").find("body/seq")
        assert float(seq.get("dur").removesuffix("s")) == pytest.approx(chapter_seconds, abs=0.001)
        elapsed += chapter_seconds


def test_chinese_chapter_is_marked_as_chinese(daisy: tuple[Path, list[bytes]]) -> None:
    book, _ = daisy
    index = next(i for i, c in enumerate(SCRIPT, 1) if c.lang == "zh-Hans")
    root = parse(book / f"c{index:03d}.html").getroot()
    assert root.get("lang") == "zh-Hans"
    assert root.get("{http://www.w3.org/XML/1998/namespace}lang") == "zh-Hans"


def test_a_chapter_without_speech_is_refused(tmp_path: Path) -> None:
    builder = DaisyBuilder(tmp_path / "x.zip", make_book())
    with pytest.raises(ValueError, match="no spoken clips"):
        builder.begin_chapter(SpokenChapter("Empty")).close()


def test_text_with_characters_xml_forbids_still_builds(tmp_path: Path) -> None:
    """Plain-text books carry form feeds; they must not abort a long build when the chapter is written."""
    out = tmp_path / "ff.zip"
    with DaisyBuilder(out, make_book()) as builder:
        with builder.begin_chapter(SpokenChapter("Title\x0c page")) as encoder:
            encoder.speak("t1", "Title\x0c page", voiced(SCRIPT[0].sentences[0]), heading=True)
    with zipfile.ZipFile(out) as archive:
        text = etree.fromstring(archive.read("c001.html"))
        etree.fromstring(archive.read("ncc.html"))
    assert text.xpath("//*[@id='t1']")[0].text == "Title  page"
