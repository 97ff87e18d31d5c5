"""Whole chapter MP3s kept beside the spoken sentences, so rebuilding an edition re-encodes only what changed.

A pronunciation entry changes a few sentences of a long book; re-encoding every chapter from cached PCM would
still cost most of a full build (lame, not speech, is then the work), and War and Peace's PCM (~8 GB) does
not fit the sentence cache's default bound anyway. So each chapter's finished, tagged MP3 is kept in the
sentence cache (a hard link to the edition's own file: no copy, ~10x smaller than its PCM) with its clips,
and a rebuild links it back unchanged when nothing it depends on has changed.

What a chapter depends on is split in two so that deciding costs no sentence splitting (6 s for War and
Peace): the *input key* hashes the chapter's HTML, title, language and every option and tag that shapes its
bytes; under it the cache keeps the chapter's speech text (what the engine receives, after normalisation).
The *audio key* adds the active pronunciation entries that match that speech text: an entry added, changed
or removed changes the audio key of exactly the chapters it occurs in, which are spoken again (their
unchanged sentences come from the sentence cache) while every other chapter is reused byte for byte.

Everything here is a cache: a miss (evicted, never built, another version of the code) only means the
chapter is spoken as before. Bump VERSION when the bytes a key covers may change.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict
from pathlib import Path

import mutagen

from voices import lexicon
from voices.book import Clip, SpokenBook, SpokenChapter
from voices.sentence_cache import SentenceCache

VERSION = "1"
_SPEECH = ".speech"
_MP3 = ".chapter.mp3"
_CLIPS = ".clips.json"
_SHA = ".sha256"


def _hash(*fields: object) -> str:
    data = json.dumps([VERSION, *fields], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(data.encode("utf-8")).hexdigest()


class ChapterReuse:
    """Lookups and keeps for one edition's chapters; every method is a no-op without a cache."""

    def __init__(self, cache: SentenceCache | None, render: dict, book: SpokenBook, tracks: int) -> None:
        """`render`: every option that changes a chapter's audio (engine, voice, rate, footnotes, pause,
        encoding); `book` and `tracks` give the ID3 tags, which are part of the kept file."""
        self.cache = cache
        self.render = dict(render, mutagen=mutagen.version_string)
        self.tags = [book.title, list(book.authors), book.identifier, book.source, tracks]
        self.reused = 0
        self.spoken = 0

    def input_key(self, chapter: dict, title: str, lang: str, position: int, prefix: str) -> str:
        return _hash(
            self.render, self.tags, position, prefix, title, lang, chapter.get("level"), chapter.get("html")
        )

    def speech(self, input_key: str) -> str | None:
        """The chapter's speech text as it was last spoken, or None (never built, or evicted)."""
        if self.cache is None:
            return None
        data = self.cache.get(input_key, _SPEECH)
        return None if data is None else data.decode("utf-8")

    def keep_speech(self, input_key: str, speech: str) -> None:
        if self.cache is not None:
            self.cache.put(input_key, speech.encode("utf-8"), _SPEECH)

    @staticmethod
    def audio_key(input_key: str, speech: str) -> str:
        """The input key with the active entries that occur in the chapter's speech (sentences joined by
        newlines, which no written form contains, so no entry matches across two sentences)."""
        return _hash(input_key, lexicon.active().sentence_key(speech))

    def take(self, audio_key: str, target: Path) -> SpokenChapter | None:
        """Link the kept MP3 of this chapter to `target` and return its clips; None when not kept."""
        if self.cache is None:
            return None
        data = self.cache.get(audio_key, _CLIPS)
        source = self.cache.whole(audio_key, _MP3)
        if data is None or source is None:
            return None
        record = json.loads(data)
        try:
            target.unlink(missing_ok=True)
            os.link(source, target)
        except OSError:
            return None
        clips = [Clip(**clip) for clip in record["clips"]]
        self.reused += 1
        return SpokenChapter(record["title"], record["level"], record["lang"], clips, record["total_samples"])

    def keep_clips(self, audio_key: str, chapter: SpokenChapter) -> None:
        """Keep a newly spoken chapter's clips (all of them: DAISY and EPUB write one SMIL entry each), before
        the builder keeps only their summary; its MP3 follows once tagged (`keep_mp3`)."""
        if self.cache is None:
            return
        record = {
            "title": chapter.title,
            "level": chapter.level,
            "lang": chapter.lang,
            "total_samples": chapter.total_samples,
            "clips": [asdict(clip) for clip in chapter.clips],
        }
        self.cache.put(audio_key, json.dumps(record, ensure_ascii=False).encode("utf-8"), _CLIPS)
        self.spoken += 1

    def keep_mp3(self, audio_key: str, mp3: Path) -> None:
        """Keep the tagged MP3 (a hard link to the edition's file: the edition never changes a published
        file, and the cache only ever replaces or unlinks its own names)."""
        if self.cache is not None:
            self.cache.keep(audio_key, _MP3, mp3, link=True)

    def sha256(self, audio_key: str) -> str | None:
        """The kept MP3's checksum, so a rebuild does not read every reused chapter again to record it."""
        data = self.cache.get(audio_key, _SHA) if self.cache is not None else None
        return data.decode("ascii") if data else None

    def keep_sha256(self, audio_key: str, digest: str) -> None:
        if self.cache is not None:
            self.cache.put(audio_key, digest.encode("ascii"), _SHA)
