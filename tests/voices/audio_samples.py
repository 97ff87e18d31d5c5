"""A small bilingual spoken book for the builder tests, voiced by the real espeak-ng CLI.

Synthesised once per test process (a few hundred milliseconds) and fed to every builder the same way the
edition pipeline does: chapter by chapter, sentence by sentence, with pauses between sentences.
"""

from __future__ import annotations

import functools
import io
import subprocess
import uuid
import wave
from dataclasses import dataclass

from voices.book import SpokenBook, SpokenChapter
from voices.mp3 import AudioBookBuilder

SAMPLE_RATE = 22050


@dataclass(frozen=True)
class Sentence:
    sentence_id: str
    text: str
    voice: str
    paragraph: int = 0
    heading: bool = False


@dataclass(frozen=True)
class ChapterScript:
    title: str
    level: int
    lang: str | None
    sentences: tuple[Sentence, ...]


def speak(text: str, voice: str) -> bytes:
    """16-bit mono PCM at 22.05 kHz from espeak-ng; its streamed WAV header has no length, so read to EOF."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True, timeout=60
    ).stdout
    with wave.open(io.BytesIO(wav)) as reader:
        assert (
            reader.getframerate() == SAMPLE_RATE and reader.getnchannels() == 1 and reader.getsampwidth() == 2
        )
        pcm = reader.readframes(2**31 - 1)
    assert pcm, f"espeak-ng produced no audio for {text!r}"
    return pcm


def make_book() -> SpokenBook:
    return SpokenBook(
        title="Two Rivers 两条河",
        authors=["Ada Example", "李四"],
        language="en",
        identifier=f"urn:uuid:{uuid.UUID(int=0x1234_5678_9ABC_4DEF_8123_456789ABCDEF)}",
        sample_rate=SAMPLE_RATE,
        publisher="Test Press",
        date="2024-01-01",
    )


SCRIPT = (
    ChapterScript(
        "Two Rivers 两条河",
        1,
        None,
        (Sentence("title_1", "Two Rivers. Ada Example.", "en-us", heading=True),),
    ),
    ChapterScript(
        "Chapter 1. The Ford",
        1,
        None,
        (
            Sentence("c1_h", "Chapter 1. The Ford", "en-us", heading=True),
            Sentence("c1_s1", "The river was wide and slow.", "en-us", paragraph=1),
            Sentence("c1_s2", "Nobody crossed it after dark.", "en-us", paragraph=1),
            Sentence("c1_s3", "In the morning the ferry came.", "en-us", paragraph=2),
        ),
    ),
    ChapterScript(
        "第二章 长江",
        2,
        "zh-Hans",
        (
            Sentence("c2_h", "第二章 长江", "cmn", heading=True),
            Sentence("c2_s1", "银行行长重新走到河边。", "cmn", paragraph=1),
            Sentence("c2_s2", "孩子们长大了，音乐很快乐。", "cmn", paragraph=2),
        ),
    ),
    ChapterScript(
        "Chapter 3. Home",
        1,
        None,
        (
            Sentence("c3_h", "Chapter 3. Home", "en-us", heading=True),
            Sentence("c3_s1", "They walked home along the Great Wall road.", "en-us", paragraph=1),
        ),
    ),
)

PAUSE_SECONDS = 0.3


@functools.cache
def voiced(sentence: Sentence) -> bytes:
    return speak(sentence.text, sentence.voice)


def feed(builder: AudioBookBuilder, script: tuple[ChapterScript, ...] = SCRIPT) -> list[bytes]:
    """Speak `script` into `builder` chapter by chapter; returns each chapter's PCM for cross-checks."""
    chapters_pcm = []
    for chapter in script:
        pcm = bytearray()
        with builder.begin_chapter(SpokenChapter(chapter.title, chapter.level, chapter.lang)) as encoder:
            for sentence in chapter.sentences:
                audio = voiced(sentence)
                encoder.speak(
                    sentence.sentence_id,
                    sentence.text,
                    audio,
                    paragraph=sentence.paragraph,
                    heading=sentence.heading,
                )
                encoder.silence(PAUSE_SECONDS)
                pcm += audio + bytes(int(round(PAUSE_SECONDS * SAMPLE_RATE)) * 2)
        chapters_pcm.append(bytes(pcm))
    return chapters_pcm
