"""MP3 encoding and the plain MP3 edition, with audio from the real espeak-ng."""

from __future__ import annotations

import math
import struct
import zipfile
from pathlib import Path

import pytest
from mutagen.id3 import ID3
from mutagen.mp3 import MP3

from tests.voices.audio_samples import SAMPLE_RATE, SCRIPT, feed, make_book, speak
from voices.book import SpokenChapter
from voices.mp3 import ChapterEncoder, Mp3BookBuilder, Mp3Writer

# lameenc prepends the encoder delay (576 + 529 samples) and pads the last frame; allow one more frame on top.
FRAME = 576  # samples per MPEG-2 layer III frame at 22.05 kHz
PADDING_LIMIT = (1105 + 2 * FRAME) / SAMPLE_RATE


def tone(seconds: float, frequency: float = 440.0) -> bytes:
    count = int(seconds * SAMPLE_RATE)
    return struct.pack(
        f"<{count}h",
        *(int(12000 * math.sin(2 * math.pi * frequency * i / SAMPLE_RATE)) for i in range(count)),
    )


def test_writer_counts_samples_across_odd_chunks(tmp_path: Path) -> None:
    pcm = speak("Counting samples, not decoding the file.", "en-us")
    path = tmp_path / "speech.mp3"
    writer = Mp3Writer(path, SAMPLE_RATE)
    # chunks of odd byte lengths split samples in two; none may be lost or counted twice
    for start in range(0, len(pcm), 4099):
        writer.write(pcm[start : start + 4099])
    assert writer.close() == len(pcm) // 2
    length = MP3(path).info.length
    assert 0 <= length - writer.duration <= PADDING_LIMIT


@pytest.mark.parametrize("seconds", [0.5, 7.25])
def test_mp3_length_matches_sample_count(tmp_path: Path, seconds: float) -> None:
    path = tmp_path / "tone.mp3"
    with Mp3Writer(path, SAMPLE_RATE, bitrate=64) as writer:
        writer.write(tone(seconds))
        writer.write_silence(SAMPLE_RATE // 4)
    info = MP3(path).info
    assert info.sample_rate == SAMPLE_RATE and info.channels == 1 and info.bitrate == 64000
    assert writer.samples == int(seconds * SAMPLE_RATE) + SAMPLE_RATE // 4
    assert 0 <= info.length - writer.duration <= PADDING_LIMIT


def test_chapter_encoder_clips_cover_each_sentence(tmp_path: Path) -> None:
    first = speak("The first sentence.", "en-us")
    second = speak("第二句话。", "cmn")
    chapter = SpokenChapter("One", 1)
    with ChapterEncoder(tmp_path / "c.mp3", chapter, SAMPLE_RATE) as encoder:
        encoder.speak("h", "One", tone(0.3), heading=True)
        encoder.speak("s1", "The first sentence.", first, paragraph=1)
        encoder.silence(0.5)
        encoder.speak("s2", "第二句话。", second, paragraph=1)
    heading, s1, s2 = chapter.clips
    assert (heading.start_sample, heading.end_sample) == (0, int(0.3 * SAMPLE_RATE))
    assert s1.start_sample == heading.end_sample
    assert s1.end_sample - s1.start_sample == len(first) // 2 + SAMPLE_RATE // 2  # the pause joins s1
    assert s2.start_sample == s1.end_sample
    assert s2.end_sample == chapter.total_samples == s1.end_sample + len(second) // 2
    assert heading.heading and [len(p) for p in chapter.paragraphs()] == [2]


def test_chapter_encoder_rejects_bad_and_duplicate_ids(tmp_path: Path) -> None:
    with ChapterEncoder(tmp_path / "c.mp3", SpokenChapter("One"), SAMPLE_RATE) as encoder:
        encoder.speak("s1", "a", tone(0.1))
        with pytest.raises(ValueError, match="duplicate"):
            encoder.speak("s1", "b", tone(0.1))
        with pytest.raises(ValueError, match="not a valid XML id"):
            encoder.speak("1 bad", "c", tone(0.1))


def test_mp3_edition_has_tagged_chapters_and_a_playlist(tmp_path: Path) -> None:
    out = tmp_path / "book-mp3.zip"
    with Mp3BookBuilder(out, make_book()) as builder:
        pcms = feed(builder)
    assert not builder.work_dir.exists()
    extract = tmp_path / "x"
    with zipfile.ZipFile(out) as archive:
        mp3_names = [n for n in archive.namelist() if n.endswith(".mp3")]
        assert all(archive.getinfo(n).compress_type == zipfile.ZIP_STORED for n in mp3_names)
        archive.extractall(extract)
    assert len(mp3_names) == len(SCRIPT) == len(pcms)
    for number, (name, script, pcm) in enumerate(zip(mp3_names, SCRIPT, pcms, strict=True), 1):
        tags = ID3(extract / name)
        assert str(tags["TIT2"]) == script.title
        assert str(tags["TALB"]) == "Two Rivers 两条河"
        assert tags["TPE1"].text == ["Ada Example", "李四"]
        assert str(tags["TRCK"]) == f"{number}/{len(SCRIPT)}"
        assert 0 <= MP3(extract / name).info.length - len(pcm) / 2 / SAMPLE_RATE <= PADDING_LIMIT
    lines = (extract / "playlist.m3u8").read_text(encoding="utf-8").splitlines()
    assert lines[0] == "#EXTM3U"
    entries = [line for line in lines if not line.startswith("#")]
    assert entries == mp3_names
    infos = [line for line in lines if line.startswith("#EXTINF:")]
    for info, script, pcm in zip(infos, SCRIPT, pcms, strict=True):
        seconds, title = info.removeprefix("#EXTINF:").split(",", 1)
        assert title == script.title
        assert int(seconds) == round(len(pcm) / 2 / SAMPLE_RATE)


def test_failed_build_leaves_no_archive(tmp_path: Path) -> None:
    out = tmp_path / "broken.zip"
    with pytest.raises(RuntimeError), Mp3BookBuilder(out, make_book()) as builder:
        with builder.begin_chapter(SpokenChapter("One")) as encoder:
            encoder.speak("s1", "a", tone(0.1))
        raise RuntimeError("synthesis failed")
    assert not out.exists() and not builder.work_dir.exists()
