"""Any chapter read aloud at once: MP3 made sentence by sentence while the listener already hears it.

The chapter is read exactly as its MP3, DAISY or EPUB 3 edition reads it (spoken_text.chapter_lines: the same
title, sentence split, footnotes and paragraph pauses), and each sentence goes through the shared sentence
cache, so what an edition spoke is never spoken again here, and the reverse.

One encoder for the whole chapter (lameenc, the editions' settings: 64 kbit/s CBR mono, quality 7), fed
each sentence's PCM as it is spoken: the stream is one continuous MP3, so when it ends it is a complete file
that any player seeks in (constant bitrate: a byte offset is a time), with no gap or click between
sentences. MP3s encoded per sentence would not join so: each carries its own encoder delay and a padded last
frame. The finished stream is also kept in the cache, so the next listener to the same chapter with the
same voice and rate gets a plain file, with its length, ranges and all.

A chapter is spoken with its book's pronunciation entries (those for all books and the book's own, as
the editions are: `plan(..., entries=pronunciations.lexicon_for(...))`). The engines are shared by every
book, so the entries are not the engines' but the sentence's: each is spoken with its plan's entries
active in the thread that hands it to an engine (voices.lexicon applies them to the text sent), and keyed
with them, so a stream and an edition share each sentence's audio.

Speech runs in engine processes shared by all streams (at most `listen_engines` sentences at once, a
semaphore by another name: a stream waits for a free engine between its sentences), and the number of
streams is bounded (`listen_capacity`): past it a listener is told to come back, never left with a stream
that stalls.
"""

from __future__ import annotations

import hashlib
import heapq
import itertools
import os
import tempfile
import threading
import time
from collections import Counter, OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from voices import lexicon
from voices.engine import DEFAULT_ENGINE, MAX_RATE, MIN_RATE, SpeechEngine, engine_by_name, resolve_voice
from voices.pcm import lame_encoder
from voices.sentence_cache import SentenceCache

from ..caches import sentence_cache
from ..settings import Settings
from .audio import PARAGRAPH_PAUSE, SAMPLE_RATE, Reader, sentence_key
from .spoken_text import Line, chapter_lines, fallback_title

BITRATE = 64  # kbit/s, as the audio editions (voices.mp3, voices.lame_pipe)
QUALITY = 7
MP3 = ".mp3"
LOOKAHEAD = 2  # sentences spoken ahead of the one being sent
RETRY_SECONDS = 10  # what a listener past capacity is told to wait: about one short chapter's speech
PLAN_SECONDS = 300  # how long read-along's timings reuse a chapter's plan (making one: up to ~50 ms)
PLANS_KEPT = 64


class BadOption(ValueError):
    """A voice or rate the listener asked for that cannot be used; `field` names which."""

    def __init__(self, field: str, value: str) -> None:
        super().__init__(f"{field}={value!r}")
        self.field = field
        self.value = value


@dataclass(frozen=True)
class Plan:
    """What one chapter's audio is made of: its lines and how each is keyed in the sentence cache."""

    lines: list[Line]
    lang: str
    voice: str | None
    rate: int
    keys: list[str]
    key: str  # of the whole chapter's MP3
    start: int = 0  # the chapter's sentence that `lines[0]` is (read-along starts anywhere)
    entries: lexicon.Lexicon | None = None  # the book's pronunciation entries; None: the starter readings


class ListenService:
    """Engines, cache and admission for the instant listening route; one per web process."""

    def __init__(self, settings: Settings) -> None:
        cores = os.cpu_count() or 1
        self.capacity = settings.listen_capacity or 25 * cores
        self.engine_count = settings.listen_engines or cores
        self.cache: SentenceCache | None = sentence_cache(settings)
        self.stats: Counter[str] = Counter()  # streams, sentences_spoken, sentences_cached, chapters_cached
        self.last_seconds = 0.0  # the length of the last stream that finished, for tests and the bench
        self._idle: list[SpeechEngine] = []
        self._engines_free = threading.Condition(threading.Lock())
        self._waiting: list[tuple[int, int]] = []  # a heap of (priority, arrival) tickets
        self._tickets = itertools.count()
        self._engines: list[SpeechEngine] = []
        self._lock = threading.Lock()
        self._streams = 0
        self._voices: list | None = None
        self._plans: OrderedDict[tuple, tuple[float, Plan]] = OrderedDict()  # for timings, see recent_plan
        # Threads that wait for engines on the streams' behalf (speech itself runs in the engines).
        self._pool = ThreadPoolExecutor(LOOKAHEAD * self.capacity, thread_name_prefix="listen")
        # The pronunciation dictionary's hook (see audio.Reader): `(speech, lang) -> version` for the key.
        self.lexicon_version: Callable[[str, str], str] | None = None

    # --- engines -----------------------------------------------------------------------------------------

    @contextmanager
    def engine(self, priority: int = 0) -> Iterator[SpeechEngine]:
        """An engine for one sentence: an idle one, a new one while fewer than `engine_count` exist, or
        the next one given back. Waiters are served lowest `priority` first (a stream's sentence number),
        so a listener who has just started, with the least audio in hand, is not kept behind the
        read-ahead of streams far ahead of their players."""
        with self._engines_free:
            ticket = (priority, next(self._tickets))
            heapq.heappush(self._waiting, ticket)
            while self._waiting[0] != ticket or not (self._idle or len(self._engines) < self.engine_count):
                self._engines_free.wait()
            heapq.heappop(self._waiting)
            if self._idle:
                engine = self._idle.pop()
            else:  # cheap: the engine's process starts with its first sentence
                engine = engine_by_name(DEFAULT_ENGINE)
                self._engines.append(engine)
            self._engines_free.notify_all()  # the next waiter may find another engine free
        try:
            yield engine
        finally:
            with self._engines_free:
                self._idle.append(engine)
                self._engines_free.notify_all()

    def warm(self) -> None:
        """Start one engine and learn the voices, so the first listener does not wait for either."""
        self.voices()

    def voices(self) -> list:
        if self._voices is None:
            with self.engine() as engine:
                self._voices = engine.voices()
        return self._voices

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._engines_free:
            engines, self._engines = self._engines, []
        for engine in engines:
            engine.close()

    # --- admission ---------------------------------------------------------------------------------------

    def admit(self) -> bool:
        with self._lock:
            if self._streams >= self.capacity:
                self.stats["refused"] += 1
                return False
            self._streams += 1
            self.stats["streams"] += 1
            return True

    def release(self) -> None:
        with self._lock:
            self._streams -= 1

    @property
    def streaming(self) -> int:
        return self._streams

    # --- a chapter ---------------------------------------------------------------------------------------

    def options(self, voice: str, rate: str) -> tuple[str | None, int]:
        """The voice id and rate a listener asked for (empty: the book's language chooses the voice, and
        175 words a minute), or BadOption."""
        voice = voice.strip()
        resolved = None
        if voice:
            try:
                resolved = resolve_voice(voice, self.voices())
            except ValueError:
                raise BadOption("voice", voice) from None
        rate = rate.strip()
        try:
            words = int(rate) if rate else 175
        except ValueError:
            raise BadOption("rate", rate) from None
        if not MIN_RATE <= words <= MAX_RATE:
            raise BadOption("rate", rate)
        return resolved, words

    def plan(
        self,
        book: dict,
        chapter: dict,
        voice: str | None,
        rate: int,
        start: int = 0,
        entries: lexicon.Lexicon | None = None,
    ) -> Plan:
        """The chapter's lines as an edition reads them, from sentence `start` (0: the title), and every
        key, before anything is spoken; BadOption("from") for a sentence the chapter does not have.
        `entries`: the book's pronunciation entries (pronunciations.lexicon_for); None: the starter ones."""
        lang = chapter.get("lang") or book.get("language") or "en"
        position = int(chapter.get("position") or 1)
        title = " ".join((chapter.get("title") or "").split()) or fallback_title(position - 1)  # as editions
        lines = chapter_lines(chapter, title, lang)
        if not 0 <= start < max(len(lines), 1):
            raise BadOption("from", str(start))
        lines = lines[start:]
        engine = DEFAULT_ENGINE  # LibespeakEngine.name: the editions' default engine, so keys are shared
        # Keyed with the entries the sentence is spoken with, exactly as an edition of the book keys it.
        chosen = entries if entries is not None else lexicon.active()
        version = self.lexicon_version or (lambda speech, lang: chosen.sentence_key(speech))
        keys = [
            sentence_key(line.sentence.speech, lang, voice, rate, engine, version(line.sentence.speech, lang))
            for line in lines
        ]
        whole = hashlib.sha256(f"chapter-mp3\x1f{BITRATE}\x1f{QUALITY}\x1f{PARAGRAPH_PAUSE}".encode())
        if start:  # the whole chapter keeps its old key; a read-along stream from sentence K is another file
            whole.update(f"\x1ffrom:{start}".encode())
        for line, key in zip(lines, keys, strict=True):
            whole.update(f"\x1f{key}:{line.paragraph}".encode())
        return Plan(lines, lang, voice, rate, keys, whole.hexdigest(), start, entries)

    def recent_plan(
        self,
        book: dict,
        chapter: dict,
        voice: str | None,
        rate: int,
        start: int = 0,
        entries: lexicon.Lexicon | None = None,
    ) -> Plan:
        """`plan`, reused for a few minutes: read-along asks for timings every few seconds while it plays,
        and a long chapter's plan (its HTML walked, every sentence keyed) costs tens of milliseconds. The
        key holds the chapter's text and the book's entries, so an edited chapter or entry is planned again at
        once."""
        html = chapter.get("html") or ""
        key = (
            book.get("id"), book.get("language"), chapter.get("position"), chapter.get("lang"),
            chapter.get("title"), hashlib.sha256(html.encode()).hexdigest(), voice, rate, start, entries,
        )  # fmt: skip
        now = time.monotonic()
        with self._lock:
            kept = self._plans.get(key)
            if kept is not None and now - kept[0] < PLAN_SECONDS:
                self._plans.move_to_end(key)
                return kept[1]
        plan = self.plan(book, chapter, voice, rate, start, entries)
        with self._lock:
            self._plans[key] = (now, plan)
            while len(self._plans) > PLANS_KEPT:
                self._plans.popitem(last=False)
        return plan

    def timings(self, plan: Plan) -> tuple[list[tuple[int, float, float]], bool]:
        """When each sentence of the plan's stream starts and ends, in seconds from the stream's start, as
        far as the sentence cache already holds them, and whether that is all there will be (every
        sentence, or none when there is no cache: read-along then plays without a highlight). Nothing is
        spoken: read-along asks again as the stream speaks ahead. A sentence's length is its PCM's, and a
        paragraph's pause follows its last sentence, exactly as `stream` joins them."""
        found: list[tuple[int, float, float]] = []
        if self.cache is None:  # nothing is kept, so nothing will be known: no need to ask again
            return found, True
        pause = round(PARAGRAPH_PAUSE * SAMPLE_RATE) / SAMPLE_RATE
        clock = 0.0
        for number, (line, key) in enumerate(zip(plan.lines, plan.keys, strict=True)):
            try:
                seconds = self.cache.path(key).stat().st_size / 2 / SAMPLE_RATE
            except OSError:
                return found, False
            found.append((plan.start + number, round(clock, 3), round(clock + seconds, 3)))
            last = number + 1 == len(plan.lines) or plan.lines[number + 1].paragraph != line.paragraph
            clock += seconds + (pause if last else 0.0)
        return found, True

    def finished(self, plan: Plan) -> Path | None:
        """The chapter's whole MP3, when a stream with the same voice and rate has already finished."""
        path = self.cache.whole(plan.key, MP3) if self.cache else None
        if path is not None:
            self.stats["chapters_cached"] += 1
        return path

    def stream(self, plan: Plan) -> Iterator[bytes]:
        """The chapter's MP3, a sentence at a time; kept in the cache when it ends (and only then)."""
        encoder = lame_encoder(SAMPLE_RATE, BITRATE, QUALITY)
        part = None
        out = None
        if self.cache:
            self.cache.root.mkdir(parents=True, exist_ok=True)
            fd, name = tempfile.mkstemp(prefix=".part-", suffix=MP3, dir=self.cache.root)
            part, out = Path(name), os.fdopen(fd, "wb")
        samples = 0
        complete = False
        # The next sentences are spoken while this one is sent: a listener who started on a short title
        # must not wait for the next sentence's turn at an engine.
        ahead: deque[Future[bytes]] = deque()
        following = 0

        def read_ahead() -> None:
            nonlocal following
            while following < len(plan.lines) and len(ahead) < LOOKAHEAD:
                ahead.append(self._pool.submit(self._sentence, plan, following))
                following += 1

        try:
            read_ahead()
            for number, line in enumerate(plan.lines):
                pcm = ahead.popleft().result()
                read_ahead()
                last = number + 1 == len(plan.lines) or plan.lines[number + 1].paragraph != line.paragraph
                if last:
                    pcm += bytes(2 * round(PARAGRAPH_PAUSE * SAMPLE_RATE))
                samples += len(pcm) // 2
                data = bytes(encoder.encode(pcm)) if pcm else b""
                if data:
                    if out:
                        out.write(data)
                    yield data
            tail = bytes(encoder.flush()) if samples else b""
            if out:
                out.write(tail)
            complete = True
            self.last_seconds = samples / SAMPLE_RATE
            yield tail
        finally:
            for pending in ahead:  # a listener who left: nothing more is spoken for them
                pending.cancel()
            if out:
                out.close()
            if part is not None:
                if complete and self.cache:
                    self.cache.keep(plan.key, MP3, part)
                else:
                    part.unlink(missing_ok=True)

    def _sentence(self, plan: Plan, number: int) -> bytes:
        key = plan.keys[number]
        if self.cache:
            pcm = self.cache.get(key)
            if pcm is not None:
                self.stats["sentences_cached"] += 1
                return pcm
        line = plan.lines[number]
        readings = lexicon.use(plan.entries) if plan.entries is not None else nullcontext()
        with readings, self.engine(priority=number) as engine:
            reader = Reader({"voice": plan.voice or "", "rate": plan.rate}, None, engine=engine)
            audio = reader.synthesize(line.sentence.speech, plan.lang)
        if audio.sample_rate != SAMPLE_RATE:
            raise RuntimeError(f"the speech engine gave {audio.sample_rate} Hz audio, not {SAMPLE_RATE} Hz")
        self.stats["sentences_spoken"] += 1
        if self.cache:
            self.cache.put(key, audio.pcm)
        return audio.pcm
