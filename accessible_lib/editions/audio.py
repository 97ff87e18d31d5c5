"""The audio editions: an exported book read aloud into MP3, DAISY 2.02 or EPUB 3 with Media Overlays.

Each chapter's HTML is walked for what a sighted reader would see: headings, paragraphs, list items, table
cells, image descriptions ("Image: ..."), and footnotes, which are never read mid-sentence: at the end of the
chapter (the default), or, with the `footnotes` option set to "paragraph", right after the paragraph that
refers to them, announced as a note, the way a human narrator reads them. A note no paragraph refers to is
still read at the end of its chapter: nothing in the text is dropped or read twice.

Every sentence is spoken and handed to a `voices` builder at once, so memory holds a few chapters' text and
one sentence's audio per stream, whatever the book's length. Chapters are spoken by a few streams at once,
each with its own engine (speech_streams), all closed at the end, even when the conversion is stopped.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from voices import lexicon
from voices.book import SpokenBook, SpokenChapter
from voices.engine import (
    DEFAULT_ENGINE,
    Audio,
    SpeechEngine,
    check_rate,
    engine_by_name,
    join_audio,
    resolve_voice,
)
from voices.mp3 import AudioBookBuilder, ChapterEncoder, Mp3BookBuilder, listen_name
from voices.runs import synthesize_speech
from voices.sentence_cache import SentenceCache, cache_key
from voices.text import prepare_sentences, split_for_synthesis
from voices.zip_append import PrefixDigest

from ..caches import sentence_cache
from ..i18n import gettext
from ..settings import Settings
from .chapter_reuse import ChapterReuse
from .export import edition_identifier, source_identifier
from .runner import Progress
from .speech_streams import ChapterJob, default_streams, speak_in_order
from .spoken_text import Line, chapter_lines, fallback_title

SAMPLE_RATE = 22050  # what espeak-ng produces with every voice; checked for each sentence
PARAGRAPH_PAUSE = 0.4  # seconds of silence after a heading or paragraph, counted in its last sentence


def spoken_book(book: dict, sample_rate: int) -> SpokenBook:
    date = book.get("date") or None
    if date and not re.fullmatch(r"\d{4}(-\d\d(-\d\d)?)?", date):
        date = None
    return SpokenBook(
        title=book["title"],
        authors=list(book.get("authors") or []),
        language=book.get("language") or "en",
        identifier=edition_identifier(book),
        source=source_identifier(book),
        sample_rate=sample_rate,
        publisher=book.get("publisher") or None,
        date=date,
    )


def sentence_key(
    speech: str, lang: str, voice: str | None, rate: int, engine: str, lexicon_version: str = ""
) -> str:
    """A sentence's key in the sentence cache, the same for an edition and the listening route: with no
    chosen voice the language chooses it (voices.runs), so the language stands for it."""
    return cache_key(speech, voice or f"lang:{lang}", rate, lexicon_version, engine=engine)


def _active_entries(speech: str, lang: str) -> str:
    return lexicon.active().sentence_key(speech)


class Reader:
    """Speaks sentences with the edition's engine, voice and rate; one engine for the whole book.

    With a sentence cache (voices.sentence_cache) a sentence already spoken with the same engine, voice,
    rate and pronunciations, by an edition or by the instant listening route, is read back, not spoken.
    `engine` may be one lent by a pool (the listening route's); then its owner closes it, not this reader.
    """

    def __init__(
        self,
        options: dict,
        workdir: Path | None,
        *,
        engine: SpeechEngine | None = None,
        cache: SentenceCache | None = None,
        lexicon_version: str | Callable[[str, str], str] | None = None,
    ):
        """`lexicon_version`: the pronunciation dictionary's version for the cache key, one string for every
        sentence or `(speech, lang) -> str`, so that a changed entry changes only the keys of the sentences
        it occurs in. None: the entries this sentence is spoken with (voices.lexicon.active(): the book's,
        while run_conversion converts it), so a sentence heard with other readings is never taken from
        the cache."""
        self.rate = check_rate(int(options.get("rate") or 175))
        self._owned = engine is None
        self.engine: SpeechEngine = engine or engine_by_name(
            options.get("engine") or DEFAULT_ENGINE, workdir=workdir
        )
        self.cache = cache
        self.lexicon_version = lexicon_version if lexicon_version is not None else _active_entries
        try:
            wanted = (options.get("voice") or "").strip()
            self.voice = resolve_voice(wanted, self.engine.voices()) if wanted else None
        except BaseException:
            self.close()
            raise

    def key(self, speech: str, lang: str) -> str:
        version = self.lexicon_version
        version = version(speech, lang) if callable(version) else version
        return sentence_key(speech, lang, self.voice, self.rate, self.engine.name, version)

    def speak(self, speech: str, lang: str) -> Audio:
        key = self.key(speech, lang) if self.cache else ""
        if self.cache:
            pcm = self.cache.get(key)
            if pcm is not None:
                return Audio(pcm, SAMPLE_RATE)
        audio = self.synthesize(speech, lang)
        if self.cache and audio.sample_rate == SAMPLE_RATE:
            self.cache.put(key, audio.pcm)
        return audio

    def synthesize(self, speech: str, lang: str) -> Audio:
        """Speak, never reading the cache."""
        pieces = split_for_synthesis(speech) or [speech]
        clips = [
            synthesize_speech(self.engine, piece, lang=lang, rate=self.rate, voice=self.voice)
            for piece in pieces
        ]
        return clips[0] if len(clips) == 1 else join_audio(clips)

    def close(self) -> None:
        if self._owned:
            self.engine.close()


def audio_book(book: dict, settings: Settings | None = None) -> dict:
    """The book as audio editions read it: back matter (Project Gutenberg's header and licence) is already
    last, where a listener never has to sit through it; the `audio_back_matter` setting may leave it out."""
    settings = settings or Settings.from_env()
    if settings.audio_back_matter:
        return book
    chapters = [c for c in book["chapters"] if c.get("kind") != "back"]
    return {**book, "chapters": chapters} if chapters else book


def _chapters(book: dict) -> Iterator[tuple[int, dict, str, str]]:
    language = book.get("language") or "en"
    for index, chapter in enumerate(book["chapters"]):
        title = " ".join((chapter.get("title") or "").split()) or fallback_title(index)
        yield index, chapter, title, chapter.get("lang") or language


def _speak_chapter(
    encoder: ChapterEncoder,
    reader: Reader,
    lines: list[Line],
    lang: str,
    prefix: str,
    tick: Callable[[int, int], None],
) -> None:
    for number, line in enumerate(lines):
        audio = reader.speak(line.sentence.speech, lang)
        if audio.sample_rate != SAMPLE_RATE:
            raise RuntimeError(f"the speech engine gave {audio.sample_rate} Hz audio, not {SAMPLE_RATE} Hz")
        encoder.speak(
            f"{prefix}_s{number + 1}",
            line.sentence.display,
            audio.pcm,
            paragraph=line.paragraph,
            heading=line.heading,
            depth=line.depth,
        )
        last = number + 1 == len(lines) or lines[number + 1].paragraph != line.paragraph
        if last:
            encoder.silence(PARAGRAPH_PAUSE)
        tick(number + 1, len(lines))


def _convert(
    builder_class: type[AudioBookBuilder],
    book: dict,
    options: dict,
    workspace: Path,
    progress: Progress,
    *,
    name: str,
    media_type: str,
    title_section: bool = False,
    listen: bool = False,
) -> list[dict]:
    progress(0.0, gettext("Starting"))
    book = audio_book(book)
    footnotes = options.get("footnotes") or "chapter"
    # The engines' own scratch files (pyttsx3 speaks to a WAV file) stay in the workspace, which is in the
    # data directory, and go when the conversion ends.
    scratch = Path(tempfile.mkdtemp(prefix=".speech-", dir=workspace))
    cache = sentence_cache()
    try:
        reader = Reader(options, scratch, cache=cache)
    except BaseException:
        shutil.rmtree(scratch, ignore_errors=True)
        raise
    output = Path(workspace) / name
    prefix: PrefixDigest | None = None
    try:
        spoken = spoken_book(book, SAMPLE_RATE)
        total = len(book["chapters"]) + (1 if title_section else 0)
        weights = [max(len(c.get("text") or ""), 1) + 100 for c in book["chapters"]]
        if title_section:
            weights.insert(0, 100)
        all_weight = sum(weights) or 1
        render = {
            "builder": builder_class.__name__,
            "engine": reader.engine.name,
            "voice": reader.voice or "",
            "rate": reader.rate,
            "footnotes": footnotes,
            "pause": PARAGRAPH_PAUSE,
            "sample_rate": SAMPLE_RATE,
        }
        reuse = ChapterReuse(cache, render, spoken, total)
        keys: dict[int, str] = {}  # builder index -> audio key of each chapter spoken now
        kept: dict[int, str] = {}  # builder index -> audio key of every kept or reused chapter
        with builder_class(output, spoken, listen_dir=workspace if listen else None) as builder:
            builder.on_tagged = lambda index, path: keys.get(index) and reuse.keep_mp3(keys[index], path)
            previous = Path(book.get("previous_files") or "") / name  # set by the worker: see jobs.tasks
            builder.previous_zip = previous if book.get("previous_files") and previous.is_file() else None
            if builder.previous_zip is not None:  # hashed while the chapters are spoken
                prefix = PrefixDigest(builder.previous_zip)
            done = 0.0
            position = 0

            def tick_for(weight: float, step: str) -> Callable[[int, int], None]:
                def tick(count: int, of: int) -> None:
                    progress(0.98 * (done + weight * count / max(of, 1)) / all_weight, step)

                return tick

            if title_section:
                lines = [
                    Line(s, 0, heading=True)
                    for s in prepare_sentences(spoken.title_announcement(), spoken.language)
                ]
                chapter = SpokenChapter(spoken.title, level=1)
                step = _step(position, total)
                progress(0.0, step)
                with builder.begin_chapter(chapter) as encoder:
                    _speak_chapter(
                        encoder, reader, lines, spoken.language, "title", tick_for(weights[0], step)
                    )
                done += weights[0]
                position += 1
            jobs = []
            for index, chapter_dict, title, lang in _chapters(book):
                chapter = SpokenChapter(
                    title,
                    level=max(1, int(chapter_dict.get("level") or 1)),
                    lang=lang if lang != spoken.language else None,
                )
                jobs.append((index, chapter_dict, chapter, lang))
            partial: dict[int, float] = {}
            first = position

            def tick(job: ChapterJob, count: int, of: int) -> None:
                partial[job.position] = job.weight * count / max(of, 1)
                step = _step(min(partial), total)
                progress(0.98 * (done + sum(partial.values())) / all_weight, step)

            def prepared() -> Iterator[ChapterJob]:
                # Lines are made as a stream asks for its next chapter: one chapter's text at a time.
                for number, (index, chapter_dict, chapter, lang) in enumerate(jobs):
                    path = builder.work_dir / f".speaking-{index + 1:05d}.mp3"
                    position, prefix, weight = first + number, f"c{index + 1}", weights[first + number]
                    ikey = reuse.input_key(chapter_dict, chapter.title, lang, position, prefix)
                    speech = reuse.speech(ikey)
                    if speech is not None:
                        key = reuse.audio_key(ikey, speech)
                        ready = reuse.take(key, path)
                        if ready is not None:
                            yield ChapterJob(position, chapter, [], lang, prefix, path, weight, ready, key)
                            continue
                    lines = chapter_lines(chapter_dict, chapter.title, lang, footnotes=footnotes)
                    speech = "\n".join(line.sentence.speech for line in lines)
                    reuse.keep_speech(ikey, speech)
                    key = reuse.audio_key(ikey, speech)
                    yield ChapterJob(position, chapter, lines, lang, prefix, path, weight, key=key)

            def speak(encoder: ChapterEncoder, stream: Reader, job: ChapterJob, ticker) -> None:
                _speak_chapter(encoder, stream, job.lines, job.lang, job.prefix, ticker)

            spoken_chapters = speak_in_order(
                prepared(),
                speak=speak,
                new_reader=lambda: Reader(options, scratch, cache=cache),
                sample_rate=SAMPLE_RATE,
                on_tick=tick,
                streams=min(default_streams(), max(len(jobs), 1)),
                readers=[reader],
            )
            for job, chapter in spoken_chapters:
                kept[len(builder.chapters)] = job.key
                if job.ready is not None:
                    builder.pretagged.add(len(builder.chapters))
                else:
                    keys[len(builder.chapters)] = job.key
                    reuse.keep_clips(job.key, chapter)
                builder.add_chapter(chapter, job.path)
                partial.pop(job.position, None)
                done += job.weight
            progress(0.98, gettext("Packing the edition"))
    finally:
        reader.close()
        shutil.rmtree(scratch, ignore_errors=True)
        if cache is not None:
            cache.flush()  # the kept files this build used are the last to be evicted
    output.chmod(0o644)  # the builders write through mkstemp (0600); editions are readable like the others
    digest = prefix.hexdigest(output) if prefix is not None else None
    if digest is not None:
        records = [{"name": output.name, "media_type": media_type, "size": output.stat().st_size,
                    "sha256": digest}]  # fmt: skip
    else:
        records = [_record(output, media_type)]
    if listen:
        for index, chapter in enumerate(builder.chapters):
            path = Path(workspace) / listen_name(index)
            key = kept.get(index)
            digest = reuse.sha256(key) if key else None
            if digest is not None:
                record = {"name": path.name, "media_type": "audio/mpeg", "size": path.stat().st_size,
                          "sha256": digest}  # fmt: skip
            else:
                record = _record(path, "audio/mpeg")
                if key:
                    reuse.keep_sha256(key, record["sha256"])
            record.update(
                role=LISTEN,
                chapter=index + 1,
                title=chapter.title,
                seconds=round(chapter.total_samples / SAMPLE_RATE, 3),
            )
            records.append(record)
    progress(1.0, gettext("Finished"))
    return records


def _step(position: int, total: int) -> str:
    return gettext("Chapter %(number)d of %(total)d", number=position + 1, total=total)


def _record(path: Path, media_type: str) -> dict:
    digest = hashlib.sha256()
    size = 0
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return {"name": path.name, "media_type": media_type, "size": size, "sha256": digest.hexdigest()}


def convert_mp3(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """A zip of tagged chapter MP3s and an M3U playlist, and each chapter's MP3 on its own for the player on
    the book page (marked role "listen", with its chapter number, title and length)."""
    return _convert(
        Mp3BookBuilder, book, options, workspace, progress, name="book.zip", media_type=ZIP, listen=True
    )


def convert_daisy202(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """A DAISY 2.02 full-text, full-audio book, zipped; its first section speaks the title and authors."""
    from voices.daisy import DaisyBuilder

    return _convert(
        DaisyBuilder, book, options, workspace, progress, name="book.zip", media_type=ZIP, title_section=True
    )


def convert_epub3_mo(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """An EPUB 3 whose sentences are highlighted as they are read (Media Overlays)."""
    from voices.epub3mo import EpubMediaOverlayBuilder

    return _convert(
        EpubMediaOverlayBuilder, book, options, workspace, progress, name="book.epub", media_type=EPUB
    )


ZIP = "application/zip"
LISTEN = "listen"  # the role of a file record that is one chapter's audio, for the player
EPUB = "application/epub+zip"
