"""Instant listening under load: the first audio bytes of every chapter, and 20 listeners at once.

The library is the default one (content/), served by `accessible-lib serve` (its default processes, one per
core) in a fresh data directory, so every sentence is spoken for the first time (no cache). While it runs, a
conversion job builds War and Peace's MP3 edition (`accessible-lib convert`, which uses every core), the
load the requirement names. Then:

1. Time to first byte: each chapter of each book is asked for in turn, by a client that reads the response
   headers and the first body bytes and hangs up. p50, p95 and max against the 1 s target.
2. 20 listeners at once, each on a different chapter not heard before: each reads up to LISTEN_SECONDS of
   audio as fast as it comes; its speed is the audio received (64 kbit/s CBR: bytes * 8 / 64000 seconds)
   over the wall time from its request. Every listener must get over 3x real time, and none a 503 while
   the server is within its capacity.

BENCH_LISTEN_CHAPTERS=N asks only for the first N chapters in part 1 (a quick check of this code).
"""

from __future__ import annotations

import http.client
import os
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

from ..db import open_database
from ..importer import IMPORTED, import_paths
from ..settings import CHECKOUT, Settings
from .audio import WAR_AND_PEACE
from .server import free_port

LISTENERS = 20
LISTEN_SECONDS = 120  # of audio each concurrent listener reads (or its chapter's end)
BYTES_PER_SECOND = 64000 / 8
TARGET_FIRST_BYTE = 1.0
TARGET_SPEED = 3.0


def _env(data_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "ACCESSIBLE_LIB_DATA_DIR": str(data_dir),
        "ACCESSIBLE_LIB_PORT": str(port),
        "ACCESSIBLE_LIB_LOG_FORMAT": "text",
    }


def _chapters(settings: Settings, *, longest: int | None = None) -> list[tuple[int, int]]:
    """Every chapter in reading order, or the `longest` by words (the listeners' chapters: a few
    seconds of title page would say nothing about keeping ahead of a player)."""
    order = "word_count DESC, book_id, position" if longest else "book_id, position"
    db = open_database(settings.database_path)
    try:
        rows = db.execute(f"SELECT book_id, position FROM chapters ORDER BY {order}").fetchall()
    finally:
        db.close()
    return [(book, position) for book, position in rows][:longest]


def _first_byte(port: int, path: str) -> tuple[int, float]:
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        connection.request("GET", path, headers={"Accept": "audio/mpeg"})
        response = connection.getresponse()
        if response.status != 200:
            return response.status, time.monotonic() - started
        response.read1(1)  # the first audio byte
        return 200, time.monotonic() - started
    finally:
        connection.close()


def _listen(port: int, path: str, results: list, index: int) -> None:
    """One listener: reads up to LISTEN_SECONDS of audio as it comes. Its speed is the audio received over
    the time from the first byte; its worst wait is how long a player that began at the first byte at 3x
    speed would have stood waiting for audio (0: never ran dry)."""
    started = time.monotonic()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    received = 0
    status = 0
    first = None
    wait = 0.0
    try:
        connection.request("GET", path, headers={"Accept": "audio/mpeg"})
        response = connection.getresponse()
        status = response.status
        while status == 200 and received < LISTEN_SECONDS * BYTES_PER_SECOND:
            chunk = response.read1(65536)
            now = time.monotonic()
            if not chunk:
                break
            if first is None:
                first = now
            else:  # the audio before this chunk, played at 3x from the first byte, ran out this long ago
                wait = max(wait, (now - first) - received / BYTES_PER_SECOND / TARGET_SPEED)
            received += len(chunk)
    finally:
        connection.close()
    ended = time.monotonic()
    elapsed = ended - (first if first is not None else started)
    results[index] = (status, received / BYTES_PER_SECOND, elapsed, wait)


def _wait_until_up(port: int, server: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError("the server exited during start-up")
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/healthz")
            if connection.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("the server did not start")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def section(data_dir: Path) -> list[str]:
    work = data_dir / "listen"
    shutil.rmtree(work, ignore_errors=True)
    settings = Settings.from_env({}, data_dir=work / "data")
    settings.data_dir.mkdir(parents=True)
    db = open_database(settings.database_path)
    try:
        results = list(import_paths(db, settings, [CHECKOUT / "content"]))
    finally:
        db.close()
    assert all(r.status == IMPORTED for r in results), [r.reason for r in results]
    chapters = _chapters(settings)
    limit = int(os.environ.get("BENCH_LISTEN_CHAPTERS", "0")) or None
    asked = chapters[:limit]
    port = free_port()
    env = _env(settings.data_dir, port)
    command = [str(Path(sys.executable).parent / "accessible-lib")]
    server = subprocess.Popen([*command, "serve"], env=env, start_new_session=True)
    converting = subprocess.Popen(
        [*command, "convert", str(WAR_AND_PEACE), "--format", "mp3", "--out", str(work / "convert")],
        env={**env, "ACCESSIBLE_LIB_DATA_DIR": str(work / "convert-data")},
        stdout=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        _wait_until_up(port, server)
        time.sleep(3)  # the conversion is under way, on every core
        times, refused = [], 0
        for book, position in asked:
            status, seconds = _first_byte(port, f"/books/{book}/read/{position}/audio")
            if status == 200:
                times.append(seconds)
            else:
                refused += 1
        still_converting = converting.poll() is None
        # 20 listeners on the 20 longest chapters, at a rate no request above used: nothing cached.
        picked = _chapters(settings, longest=LISTENERS)
        heard: list = [None] * LISTENERS
        threads = [
            threading.Thread(target=_listen, args=(port, f"/books/{b}/read/{p}/audio?rate=176", heard, i))
            for i, (b, p) in enumerate(picked)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        converting_during_load = converting.poll() is None
    finally:
        _stop(converting)
        _stop(server)
    return _report(times, refused, len(asked), len(chapters), heard, still_converting, converting_during_load)


def _report(
    times: list[float],
    refused: int,
    asked: int,
    total: int,
    heard: list,
    still_converting: bool,
    converting_during_load: bool,
) -> list[str]:
    times.sort()
    p95 = times[max(0, round(0.95 * len(times)) - 1)] if times else float("nan")
    served = [(audio, elapsed, wait) for status, audio, elapsed, wait in heard if status == 200]
    speeds = [audio / elapsed for audio, elapsed, _ in served if elapsed > 0]
    waits = [wait for _, _, wait in served]
    busy = sum(1 for status, *_ in heard if status == 503)
    slowest = min(speeds) if speeds else 0.0
    stalled = sum(1 for wait in waits if wait > 0)
    first_ok = bool(times) and p95 < TARGET_FIRST_BYTE and not refused
    load_ok = len(served) == LISTENERS and not stalled and slowest > TARGET_SPEED
    verdict = "met" if load_ok else "NOT met"
    return [
        "## Instant listening (listen)",
        "",
        "Command: `BENCH_ONLY=listen make bench` (`accessible_lib.bench.listen`).",
        f"Input: the default library (content/, {total} chapters), served by `accessible-lib serve` "
        "(default processes) from a fresh data directory: no sentence cached; meanwhile `accessible-lib "
        "convert` builds War and Peace's MP3 edition on every core"
        + ("" if still_converting and converting_during_load else " (it finished before the end: less load)")
        + ".",
        "",
        "| measure | value | target | verdict |",
        "| --- | ---: | ---: | --- |",
        f"| first audio byte, p50 over {len(times)} of {asked} chapters asked | "
        f"{statistics.median(times) if times else float('nan'):.3f} s | | |",
        f"| first audio byte, p95 | {p95:.3f} s | < {TARGET_FIRST_BYTE:.0f} s | "
        f"{'met' if first_ok else 'NOT met'} |",
        f"| first audio byte, max | {max(times) if times else float('nan'):.3f} s | | |",
        f"| chapters refused (503) in the first-byte pass | {refused} | 0 | |",
        f"| {LISTENERS} listeners at once: listeners whose player at {TARGET_SPEED:.0f}x would have waited | "
        f"{stalled} (longest wait {max(waits) if waits else 0.0:.2f} s) | 0 | {verdict} |",
        f"| {LISTENERS} listeners at once: slowest, audio seconds per second | {slowest:.1f}x | "
        f"> {TARGET_SPEED:.0f}x | {verdict} |",
        f"| {LISTENERS} listeners at once: median | "
        f"{statistics.median(speeds) if speeds else 0.0:.1f}x | | |",
        f"| {LISTENERS} listeners at once: served / busy (503) | {len(speeds)} / {busy} | "
        f"{LISTENERS} / 0 | |",
        "",
        f"The {LISTENERS} listeners take the {LISTENERS} longest chapters at once, at a rate (176 words a "
        f"minute) no earlier request used, so none of their sentences is cached; each reads up to "
        f"{LISTEN_SECONDS} s of audio (or its chapter's end) as fast as it comes. Speed: audio received over "
        f"the time since its first byte; a wait: a player started at the first byte at {TARGET_SPEED:.0f}x "
        "speed found no audio.",
    ]


if __name__ == "__main__":
    print("\n".join(section(CHECKOUT / "var" / "bench")))
