"""MP3 encoding in a child process (lameenc, or the real `lame` program), as the parallel speech streams
use it."""

from __future__ import annotations

import resource
from pathlib import Path

import pytest
from mutagen.mp3 import MP3

from tests.voices.audio_samples import SAMPLE_RATE, speak
from voices.book import SpokenChapter
from voices.lame_pipe import ENCODERS, LamePipeWriter, lame_available
from voices.mp3 import ChapterEncoder

ENCODER = pytest.mark.parametrize("encoder", ENCODERS)


def test_lame_is_installed() -> None:
    assert lame_available()  # scripts/setup.sh installs it (the raw pipeline of the benchmark uses it too)


@ENCODER
def test_writer_counts_samples_and_the_mp3_has_that_length(tmp_path: Path, encoder: str) -> None:
    pcm = speak("Counting samples, not decoding the file.", "en-us")
    path = tmp_path / "speech.mp3"
    writer = LamePipeWriter(path, SAMPLE_RATE, encoder=encoder)
    for start in range(0, len(pcm), 4099):  # odd chunk lengths split samples in two
        writer.write(pcm[start : start + 4099])
    writer.write_silence(SAMPLE_RATE // 2)
    samples = writer.close()
    assert samples == len(pcm) // 2 + SAMPLE_RATE // 2
    info = MP3(path).info
    assert info.sample_rate == SAMPLE_RATE and info.channels == 1 and round(info.bitrate / 1000) == 64
    # lame's LAME header records encoder delay and padding, so the length is the samples written; without it
    # (lameenc) a reader estimates the length from the constant bitrate: within a frame or two of padding
    assert abs(info.length - samples / SAMPLE_RATE) < (0.002 if encoder == "lame" else 0.11)


@ENCODER
def test_a_chapter_encoder_with_a_pipe_writer_keeps_its_clips_in_the_audio(tmp_path: Path, encoder) -> None:
    path = tmp_path / "c1.mp3"
    chapter = SpokenChapter("One")
    writer = LamePipeWriter(path, SAMPLE_RATE, encoder=encoder)
    with ChapterEncoder(path, chapter, SAMPLE_RATE, writer=writer) as chapter_encoder:
        for number, text in enumerate(["First sentence.", "Second one."], start=1):
            chapter_encoder.speak(f"s{number}", text, speak(text, "en-us"), paragraph=1)
        chapter_encoder.silence(0.4)
    assert chapter.total_samples == chapter.clips[-1].end_sample
    assert chapter.clips[-1].end_sample / SAMPLE_RATE <= MP3(path).info.length + 0.002


@ENCODER
def test_the_encoding_is_done_outside_this_process(tmp_path: Path, encoder: str) -> None:
    """Why lame runs in its own process: lameenc holds the GIL, so threads encoding in this process would
    queue on one core. Here the encoder's CPU time is its child's, not ours."""
    pcm = speak("A sentence long enough to take the encoder a moment. " * 8, "en-us") * 40
    before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    with LamePipeWriter(tmp_path / "long.mp3", SAMPLE_RATE, encoder=encoder) as writer:
        writer.write(pcm)
    after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    own, child = (after[i].ru_utime - before[i].ru_utime for i in (0, 1))
    assert child > 0.1 and own < child / 4, (own, child)


@ENCODER
def test_a_failing_encoder_is_an_error_and_abort_removes_the_file(tmp_path: Path, encoder: str) -> None:
    with pytest.raises(RuntimeError, match="MP3 encoder failed"):
        writer = LamePipeWriter(tmp_path / "no-such-dir" / "x.mp3", SAMPLE_RATE, encoder=encoder)
        writer.write(bytes(SAMPLE_RATE * 2))
        writer.close()
    path = tmp_path / "aborted.mp3"
    writer = LamePipeWriter(path, SAMPLE_RATE, encoder=encoder)
    writer.write(bytes(SAMPLE_RATE * 2))
    writer.abort()
    assert not path.exists()


def test_both_encoders_make_the_same_audio(tmp_path: Path) -> None:
    """The same libmp3lame and settings: the frames decode to the same number of samples, at 64 kbps."""
    pcm = speak("The same words, encoded twice.", "en-us")
    sizes = {}
    for encoder in ENCODERS:
        with LamePipeWriter(tmp_path / f"{encoder}.mp3", SAMPLE_RATE, encoder=encoder) as writer:
            writer.write(pcm)
        info = MP3(tmp_path / f"{encoder}.mp3").info
        assert round(info.bitrate / 1000) == 64 and info.channels == 1
        sizes[encoder] = (tmp_path / f"{encoder}.mp3").stat().st_size
    assert abs(sizes["lame"] - sizes["lameenc"]) < 1000  # a LAME header frame and padding apart
    with pytest.raises(ValueError, match="unknown MP3 encoder"):
        LamePipeWriter(tmp_path / "x.mp3", SAMPLE_RATE, encoder="shine")
