"""Chapters kept from an earlier build take no stream (editions.speech_streams): a rebuild that re-encodes
a few chapters scattered through a long book encodes them side by side, on every core, not one by one."""

from __future__ import annotations

import threading
from pathlib import Path

from accessible_lib.editions.audio import Reader
from accessible_lib.editions.speech_streams import ChapterJob, speak_in_order
from voices.book import Clip, SpokenChapter

RATE = 22050


def _job(tmp_path: Path, position: int, *, ready: bool) -> ChapterJob:
    chapter = SpokenChapter(f"Chapter {position + 1}")
    done = None
    if ready:
        done = SpokenChapter(chapter.title, clips=[Clip(f"c{position + 1}_s1", "Kept.", 0, RATE)])
        done.total_samples = RATE
    path = tmp_path / f"c{position + 1}.mp3"
    return ChapterJob(position, chapter, [], "en", f"c{position + 1}", path, 1.0, done)


def test_spoken_chapters_far_apart_are_encoded_at_the_same_time(tmp_path: Path) -> None:
    # Two chapters to speak, with 30 kept ones between them: more than the window of chapters in flight.
    jobs = [_job(tmp_path, n, ready=n not in (0, 31)) for n in range(40)]
    together = threading.Barrier(2, timeout=20)  # each waits until the other is being spoken too

    def speak(encoder, reader, job, tick) -> None:
        together.wait()  # raises BrokenBarrierError if the two never run at once
        encoder.speak(f"{job.prefix}_s1", "Spoken.", reader.speak("Spoken.", "en").pcm)
        tick(1, 1)

    handed = list(
        speak_in_order(
            jobs,
            speak=speak,
            new_reader=lambda: Reader({"rate": 175}, tmp_path),
            sample_rate=RATE,
            on_tick=lambda job, done, of: None,
            streams=2,
        )
    )
    assert [job.position for job, _ in handed] == list(range(40))  # still handed back in book order
    spoken = [chapter for job, chapter in handed if job.ready is None]
    assert [chapter.clips[0].sentence_id for chapter in spoken] == ["c1_s1", "c32_s1"]
    assert all(chapter.total_samples >= RATE // 10 for chapter in spoken)
    assert (tmp_path / "c1.mp3").stat().st_size > 0 and (tmp_path / "c32.mp3").stat().st_size > 0
