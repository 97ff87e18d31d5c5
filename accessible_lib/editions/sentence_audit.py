"""Each sentence of a book's audio edition with the checksum of its audio, from the sentence cache.

Re-rendering promises that a changed pronunciation entry leaves every other sentence's audio byte for byte
as it was. The MP3 of a re-encoded chapter cannot show that (each encoding shifts its frames), but the PCM
each sentence was spoken as can: the builders take it from the sentence cache under the sentence's key, so
listing (key, sha256 of that PCM) before and after a rebuild shows which sentences changed and which did not.
Used by the re-rendering test and benchmark; it speaks nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from voices.sentence_cache import SentenceCache

from ..settings import Settings
from .audio import Reader, _chapters, audio_book
from .runner import book_lexicon
from .spoken_text import chapter_lines


@dataclass(frozen=True)
class SentenceAudio:
    chapter: int  # 0-based, in the edition's reading order
    speech: str  # what the engine was given
    key: str  # in the sentence cache
    sha256: str | None  # of its PCM; None when the cache does not hold it


def sentence_audio(
    book: dict, options: dict, cache: SentenceCache, settings: Settings | None = None
) -> list[SentenceAudio]:
    """Every sentence of `book` (an export, with its pronunciation entries) as the audio editions read it
    with `options` (engine, voice, rate, footnotes), in order."""
    found = []
    with book_lexicon(book):
        reader = Reader(options, None)
        try:
            footnotes = options.get("footnotes") or "chapter"
            for index, chapter, title, lang in _chapters(audio_book(book, settings)):
                for line in chapter_lines(chapter, title, lang, footnotes=footnotes):
                    key = reader.key(line.sentence.speech, lang)
                    path = cache.path(key)
                    digest = _sha256(path)
                    found.append(SentenceAudio(index, line.sentence.speech, key, digest))
        finally:
            reader.close()
    return found


def _sha256(path) -> str | None:
    try:
        with open(path, "rb") as file:
            return hashlib.file_digest(file, "sha256").hexdigest()
    except OSError:
        return None
