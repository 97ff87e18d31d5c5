"""Chapters read aloud by several speech engines at once, handed back in book order.

Measured on War and Peace (BENCHMARKS.md): one pyttsx3 engine spends most of each sentence waiting (its
event loop sleeps between polls, and the hardened child waits for espeak-ng and a WAV file), so one stream
used a fraction of one core. Several streams overlap those waits: each thread owns an engine (a child
process, never shared: pyttsx3 hangs when two threads share one). Each chapter is encoded by its own
process (voices.lame_pipe: lameenc in a child): in this process lameenc holds the GIL, and with it every
chapter's encoding, which costs more CPU than the speech, queued on one core (1.8x the raw pipeline's time
on a tenth of the book).

Only the calling thread touches the builder and the progress callback: chapters are added in order, and a
Stop raised by the progress callback stops every stream before the next sentence. At most `window` chapters
are being spoken at once, so memory holds a few chapters' clips whatever the length of the book. Chapters
that are ready (kept from an earlier build, editions.chapter_reuse) take no stream and do not count: a
rebuild after a pronunciation change speaks a few chapters scattered through a long book, and counting the
ready ones between them would leave one chapter speaking at a time (one core) while the others wait their
turn; up to `MAX_AHEAD` ready chapters (their clips only) wait to be handed back meanwhile.
"""

from __future__ import annotations

import contextvars
import os
import queue
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from voices.book import SpokenChapter
from voices.lame_pipe import LamePipeWriter
from voices.mp3 import ChapterEncoder

MAX_STREAMS = 4
MAX_AHEAD = 512


def default_streams() -> int:
    """Two streams per core, at most four: measured best on this 2-core machine (see BENCHMARKS.md)."""
    return max(1, min(MAX_STREAMS, 2 * (os.cpu_count() or 1)))


@dataclass
class ChapterJob:
    position: int  # in the book's reading order, from 0
    chapter: SpokenChapter  # title, level and lang; clips are added as it is spoken
    lines: list  # spoken_text.Line, in reading order
    lang: str
    prefix: str  # of the sentence ids
    path: Path  # where the chapter's MP3 is written
    weight: float  # share of the whole conversion, for progress
    ready: SpokenChapter | None = None  # already spoken (a kept chapter, editions.chapter_reuse): its MP3
    # is at `path` and nothing is spoken
    key: str = ""  # the chapter's audio key in chapter_reuse, "" when it is not kept


class _Stopped(Exception):
    pass


def speak_in_order(
    jobs: Iterable[ChapterJob],
    *,
    speak: Callable[[ChapterEncoder, Any, ChapterJob, Callable[[int, int], None]], None],
    new_reader: Callable[[], Any],
    sample_rate: int,
    on_tick: Callable[[ChapterJob, int, int], None],
    streams: int | None = None,
    readers: list | None = None,
) -> Iterator[tuple[ChapterJob, SpokenChapter]]:
    """Speak every job on up to `streams` threads; yield (job, spoken chapter) in the jobs' order.

    `speak(encoder, reader, job, tick)` speaks one chapter; `new_reader()` makes a reader (an engine) for a
    thread that has none; `readers` may hold readers already made (reused; their owner closes them; the
    readers made here are closed at the end). `on_tick(job, done, of)` is called in this thread for every
    sentence spoken.
    """
    streams = streams or default_streams()
    idle: queue.SimpleQueue = queue.SimpleQueue()
    owned: list = []
    for reader in readers or []:
        idle.put(reader)
    made = threading.Lock()
    stop = threading.Event()
    ticks: queue.SimpleQueue = queue.SimpleQueue()

    def take_reader() -> Any:
        try:
            return idle.get_nowait()
        except queue.Empty:
            reader = new_reader()
            with made:
                owned.append(reader)
            return reader

    def work(job: ChapterJob) -> SpokenChapter:
        if stop.is_set():
            raise _Stopped
        if job.ready is not None:
            return job.ready

        def tick(done: int, of: int) -> None:
            if stop.is_set():
                raise _Stopped
            ticks.put((job, done, of))

        reader = take_reader()
        try:
            # Leaving the block normally closes the MP3 and counts its samples; on an error it only closes it.
            writer = LamePipeWriter(job.path, sample_rate)  # in a child: lameenc holds the GIL
            with ChapterEncoder(job.path, job.chapter, sample_rate, writer=writer) as encoder:
                speak(encoder, reader, job, tick)
        except BaseException:
            job.path.unlink(missing_ok=True)
            raise
        finally:
            idle.put(reader)
        return encoder.chapter

    def drain() -> None:
        while True:
            try:
                job, done, of = ticks.get_nowait()
            except queue.Empty:
                return
            on_tick(job, done, of)

    # Each chapter runs in a copy of this thread's context: the book's pronunciation entries
    # (voices.lexicon.use, set by runner.book_lexicon) are a context variable, not inherited by pool threads.
    pool = ThreadPoolExecutor(max_workers=streams, thread_name_prefix="speech")
    pending: deque[tuple[ChapterJob, Future]] = deque()
    upcoming = iter(jobs)
    window = 2 * streams
    speaking = 0  # chapters in `pending` that are spoken, not ready

    def fill() -> None:
        nonlocal speaking
        while speaking < window and len(pending) < MAX_AHEAD:
            job = next(upcoming, None)
            if job is None:
                return
            if job.ready is not None:
                future: Future = Future()
                future.set_result(job.ready)
            else:
                future = pool.submit(contextvars.copy_context().run, work, job)
                speaking += 1
            pending.append((job, future))

    try:
        fill()
        while pending:
            job, future = pending[0]
            while True:
                try:
                    chapter = future.result(timeout=0.2)
                    break
                except FutureTimeout:
                    drain()
            drain()
            pending.popleft()
            if job.ready is None:
                speaking -= 1
            fill()
            yield job, chapter
    finally:
        stop.set()
        pool.shutdown(wait=True, cancel_futures=True)
        for job, _ in pending:  # chapters spoken ahead of a failure or a stop are thrown away
            job.path.unlink(missing_ok=True)
        for reader in owned:
            reader.close()
