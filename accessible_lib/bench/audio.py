"""The audio benchmark: War and Peace read aloud into MP3 and DAISY, against the raw tools in the same run.

The raw pipeline gets what ours gets, every core and streaming: the same text cut at paragraph breaks into
one part of equal characters per core, each part `espeak-ng ... --stdout | lame -q 7 -b 64 -m m - part.mp3`
(no WAV on disk), all parts at once. Ours is the real edition converter (`run_conversion`), from the
ingested book, with each engine (pyttsx3, the default, first). Besides wall time, each side's CPU time
(user + system of the whole process tree) is given: on a shared machine it is the fairer figure.
Each conversion runs in its own process, so its memory is its own: the peak of the proportional set size
(PSS) summed over the converter and all its children (the speech engines), sampled from /proc, counts
shared pages once, where adding up RSS would count the Python runtime in every engine again.

The whole book is about 50 hours of speech and 30 minutes of benchmark, so `make bench` takes a slice (the
first SLICE characters of chapter text, whole chapters) and extrapolates, labelled as such; the figures of
the last whole-book run (`BENCH_AUDIO_CHARS=0 make bench`) are kept in BENCHMARKS.md.

Run alone: `python -m accessible_lib.bench.audio [--limit-chars N] [--engine NAME]` (0: the whole book);
`make bench` runs it (BENCH_AUDIO_CHARS sets the limit, BENCH_ONLY=audio runs only this section).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

from voices.engine import DEFAULT_ENGINE

from ..settings import CHECKOUT, Settings

WAR_AND_PEACE = CHECKOUT / "tests" / "corpus" / "text" / "en" / "war-and-peace.txt"
RATE = 175  # words per minute: the converters' default, given to espeak-ng too
SLICE = 320_000  # characters, about a tenth of the book: the audio section of `make bench` in ~4 minutes
ENGINES = ("libespeak", "pyttsx3", "espeak")  # the default engine first
FORMATS = ("mp3", "daisy202")
TARGET_RATIO = 1.25  # at most this times the raw pipeline's wall time
TARGET_MEMORY_MB = 500
WHOLE_BOOK = "### The whole book"
A_SLICE = "### A slice"


def limit_from_env(environ: dict | None = None) -> int | None:
    """BENCH_AUDIO_CHARS: unset means the slice, 0 the whole book, N the first N characters."""
    value = (environ if environ is not None else os.environ).get("BENCH_AUDIO_CHARS", "").strip()
    limit = int(value) if value else SLICE
    return limit or None


def engines_from_env(environ: dict | None = None) -> tuple[str, ...]:
    """BENCH_AUDIO_ENGINES=pyttsx3,libespeak measures only those engines (each costs two conversions)."""
    value = (environ if environ is not None else os.environ).get("BENCH_AUDIO_ENGINES", "")
    chosen = tuple(name.strip() for name in value.split(",") if name.strip()) or ENGINES
    unknown = set(chosen) - set(ENGINES)
    if unknown:
        names = ", ".join(sorted(unknown))
        raise SystemExit(f"BENCH_AUDIO_ENGINES: no engine {names}; engines: {', '.join(ENGINES)}")
    return chosen


def load_book(path: Path, limit: int | None, data_dir: Path) -> dict:
    """The exported book as a worker receives it, cut to whole chapters up to `limit` characters of text."""
    from ..editions.export import export_ingested
    from ..ingest import ingest_file

    book = export_ingested(ingest_file(path, Settings.from_env({}, data_dir=data_dir)))
    if limit:
        kept, total = [], 0
        for chapter in book["chapters"]:
            if total >= limit:
                break
            kept.append(chapter)
            total += len(chapter.get("text") or "")
        book["chapters"] = kept
    return book


def book_text(book: dict) -> str:
    return "\n\n".join(f"{c.get('title') or ''}\n\n{c.get('text') or ''}" for c in book["chapters"])


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry.name}/stat").read_text()
        except OSError:
            continue
        children.setdefault(int(stat.rsplit(")", 1)[1].split()[1]), []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def tree_pss_mb(root: int) -> float:
    """Proportional set size of a process and all its descendants, in MB."""
    total = 0
    for pid in _descendants(root):
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:  # gone meanwhile
            continue
        match = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        total += int(match.group(1)) if match else 0
    return total / 1024


class MemoryWatch:
    """Samples tree_pss_mb of this process every `interval` seconds; `peak` is the largest sample.

    Reading smaps_rollup makes the kernel walk each process's page tables: every 0.5 s it cost the audio
    conversion about a tenth of a core (py-spy), charged to ours and not to the raw pipeline: hence 1 s."""

    def __init__(self, interval: float = 1.0):
        self.interval = interval
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while True:
            self.peak = max(self.peak, tree_pss_mb(os.getpid()))
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> MemoryWatch:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def convert_once(fmt: str, path: Path, limit: int | None, engine: str | None) -> dict:
    """One conversion in this process; its figures as a dict (printed as JSON by --convert)."""
    from ..editions.runner import run_conversion

    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        book = load_book(path, limit, Path(tmp) / "data")
        characters = sum(len(c.get("text") or "") for c in book["chapters"])
        workspace = Path(tmp) / "out"
        workspace.mkdir()
        options = {"engine": engine} if engine else {}
        with MemoryWatch() as memory:
            cpu = cpu_seconds()
            started = time.monotonic()
            files = run_conversion(book, fmt, options, workspace, lambda fraction, step: None)
            seconds = time.monotonic() - started
            cpu = cpu_seconds() - cpu
        audio = _audio_seconds(fmt, workspace, files)
        size = sum(f["size"] for f in files if f.get("role") != "listen")
    return {
        "format": fmt,
        "engine": engine or ENGINES[0],
        "chapters": len(book["chapters"]),
        "characters": characters,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "audio_seconds": audio,
        "bytes": size,
        "peak_pss_mb": memory.peak,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "children_peak_rss_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
    }


def _audio_seconds(fmt: str, workspace: Path, files: list[dict]) -> float:
    if fmt == "mp3":
        return sum(f["seconds"] for f in files if f.get("role") == "listen")
    with zipfile.ZipFile(workspace / files[0]["name"]) as archive:
        ncc = archive.read("ncc.html").decode("utf-8")
    hours, minutes, secs = re.search(r'name="ncc:totalTime" content="(\d+):(\d+):(\d+)"', ncc).groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(secs)


def cpu_seconds() -> float:
    """User + system CPU time of this process and of every child it has waited for."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def equal_parts(text: str, parts: int) -> list[str]:
    """`text` cut at paragraph breaks into `parts` parts of about equal characters (never an empty part
    while there are paragraphs enough)."""
    paragraphs = text.split("\n\n")
    goal = len(text) / max(parts, 1)
    cut: list[list[str]] = [[]]
    size = 0
    for index, paragraph in enumerate(paragraphs):
        left = len(paragraphs) - index
        if cut[-1] and len(cut) < parts and (size >= goal * len(cut) or left <= parts - len(cut)):
            cut.append([])
        cut[-1].append(paragraph)
        size += len(paragraph) + 2
    return ["\n\n".join(part) for part in cut]


def raw_pipeline(text: str, work: Path, streams: int | None = None) -> dict:
    """espeak-ng streaming into lame, one part of equal characters per core, all at once: what a shell
    script on this machine would do with the same text."""
    streams = streams or os.cpu_count() or 1
    parts = equal_parts(text, streams)

    def one(index: int) -> float:
        source, mp3 = work / f"raw-{index}.txt", work / f"raw-{index}.mp3"
        source.write_text(parts[index], encoding="utf-8")
        speak = ["espeak-ng", "-v", "en-us", "-s", str(RATE), "-f", str(source), "--stdout"]
        espeak = subprocess.Popen(speak, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        # --ignorelength: espeak-ng's streamed WAV header claims 2 GiB, about 13.5 hours at 22,050 Hz, and
        # half of War and Peace is more: lame stopped there and espeak-ng died of the closed pipe.
        encode = ["lame", "--silent", "--ignorelength", "-q", "7", "-b", "64", "-m", "m", "-", str(mp3)]
        lame = subprocess.Popen(encode, stdin=espeak.stdout)
        espeak.stdout.close()  # lame holds the pipe now; espeak-ng sees it close if lame dies
        if lame.wait() or espeak.wait():
            raise RuntimeError(
                f"raw pipeline part {index}: espeak-ng {espeak.returncode}, lame {lame.returncode}"
            )
        return _mp3_seconds(mp3)

    cpu = cpu_seconds()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        lengths = list(pool.map(one, range(len(parts))))
    seconds = time.monotonic() - started
    return {
        "seconds": seconds,
        "cpu_seconds": cpu_seconds() - cpu,
        "audio_seconds": sum(lengths),
        "parts": len(parts),
        "part_characters": [len(part) for part in parts],
    }


def _mp3_seconds(path: Path) -> float:
    from mutagen.mp3 import MP3

    return MP3(path).info.length


def verdict(ratio: float, target: float, *, at_most: bool = True) -> str:
    """ "met" or "missed", from the figures, so a missed target is never reported as anything else."""
    return "met" if (ratio <= target if at_most else ratio >= target) else "missed"


def _hms(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def _table(raw: dict, results: list[dict], scale: float | None) -> list[str]:
    """Measured rows, each with its verdict against the targets; with `scale` (whole book / slice
    characters) a column extrapolating the wall time."""
    extra = " whole book, extrapolated |" if scale else ""
    lines = [
        "| pipeline | wall time | CPU time | audio | realtime factor | ratio to raw | "
        f"time target (<= {TARGET_RATIO}x) | peak memory (PSS) | memory target (< {TARGET_MEMORY_MB} MB) | "
        "peak RSS |" + extra,
        "| --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |" + (" ---: |" if scale else ""),
        f"| raw espeak-ng --stdout \\| lame, {raw['parts']} parts at once | {raw['seconds']:.0f} s | "
        f"{raw['cpu_seconds']:.0f} s | {_hms(raw['audio_seconds'])} | "
        f"{raw['audio_seconds'] / raw['seconds']:.0f}x | 1.00 | | | | |"
        + (f" {_minutes(raw['seconds'] * scale)} |" if scale else ""),
    ]
    for result in results:
        seconds, audio = result["seconds"], result["audio_seconds"]
        ratio = seconds / raw["seconds"]
        memory = result["peak_pss_mb"]
        lines.append(
            f"| accessible-lib {result['format']}, {result['engine']} | {seconds:.0f} s | "
            f"{result['cpu_seconds']:.0f} s | {_hms(audio)} | {audio / seconds:.0f}x | {ratio:.2f} | "
            f"{verdict(ratio, TARGET_RATIO)} | {memory:.0f} MB | "
            f"{verdict(memory, TARGET_MEMORY_MB)} | {result['peak_rss_mb']:.0f} MB |"
            + (f" {_minutes(seconds * scale)} |" if scale else "")
        )
    return lines


def summary(raw: dict, results: list[dict]) -> str:
    """One sentence on the time target, computed from the rows."""
    missed = [r for r in results if verdict(r["seconds"] / raw["seconds"], TARGET_RATIO) == "missed"]
    if not missed:
        return f"Time target (at most {TARGET_RATIO}x the raw pipeline): met by every pipeline measured."
    names = ", ".join(
        f"{r['format']} with {r['engine']} ({r['seconds'] / raw['seconds']:.2f}x)" for r in missed
    )
    return f"Time target (at most {TARGET_RATIO}x the raw pipeline): **missed** by {names}."


def _minutes(seconds: float) -> str:
    return f"~{seconds / 60:.0f} min"


def kept_subsection(path: Path, heading: str) -> list[str]:
    """A subsection of an earlier BENCHMARKS.md, so a slice run keeps the whole book's figures and back."""
    if not path.exists():
        return []
    kept: list[str] = []
    for line in path.read_text().splitlines():
        if line.startswith(heading):
            kept = [line]
        elif kept and line.startswith("#"):
            break
        elif kept:
            kept.append(line)
    return kept


def _measure(limit: int | None, engines: tuple[str, ...]) -> tuple[dict, list[dict], dict]:
    results = []
    for engine in engines:
        for fmt in FORMATS:
            command = [sys.executable, "-m", "accessible_lib.bench.audio", "--convert", fmt]
            command += [f"--limit-chars={limit or 0}", f"--engine={engine}"]
            completed = subprocess.run(command, capture_output=True, text=True, cwd=CHECKOUT)
            if completed.returncode:
                raise RuntimeError(f"{' '.join(command)} failed:\n{completed.stderr[-3000:]}")
            results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    with tempfile.TemporaryDirectory(prefix="bench-raw-") as tmp:
        book = load_book(WAR_AND_PEACE, limit, Path(tmp) / "data")
        whole = load_book(WAR_AND_PEACE, None, Path(tmp) / "whole") if limit else book
        raw = raw_pipeline(book_text(book), Path(tmp))
    sizes = {
        "chapters": len(whole["chapters"]),
        "characters": sum(len(c.get("text") or "") for c in whole["chapters"]),
    }
    return raw, results, sizes


def section(limit: int | None = SLICE, engines: tuple[str, ...] = ENGINES) -> list[str]:
    """The BENCHMARKS.md section; every conversion runs in a child process."""
    lines = ["## Audio editions (War and Peace)", ""]
    if not WAR_AND_PEACE.exists():
        return lines + [f"{WAR_AND_PEACE} is not here: not measured.", ""]
    raw, results, whole = _measure(limit, engines)
    first = results[0]
    lines += [
        "Input: `tests/corpus/text/en/war-and-peace.txt` "
        f"({whole['chapters']} chapters, {whole['characters']:,} characters of chapter text), "
        f"{RATE} words per minute, 64 kbps mono MP3; engines: {', '.join(engines)} "
        f"({DEFAULT_ENGINE} is the default), {_streams()} speech streams on {os.cpu_count()} cores.",
        f"Raw pipeline, same text, same run: the text cut at paragraph breaks into {raw['parts']} parts of "
        f"equal characters ({', '.join(f'{n:,}' for n in raw['part_characters'])}), one per core, each "
        f"`espeak-ng -v en-us -s {RATE} -f part.txt --stdout | lame --ignorelength -q 7 -b 64 -m m - "
        "part.mp3`, all at once (no WAV on disk).",
        "CPU time: user + system time of the whole process tree (the converter, its speech engines and "
        "encoders; espeak-ng and lame for the raw pipeline). Peak memory: the largest sum, sampled once a "
        "second, of the proportional set size of the converting process and its children; peak RSS: the "
        "converting process alone.",
        f"Targets: at most {TARGET_RATIO}x the raw pipeline's wall time; peak memory under "
        f"{TARGET_MEMORY_MB} MB. The verdict columns are computed from the figures.",
        "",
    ]
    measured = f"measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    if limit:
        scale = whole["characters"] / first["characters"]
        lines += [
            f"{A_SLICE}: the first {first['chapters']} chapters "
            f"({first['characters']:,} characters), {measured}",
            "",
            f"Command: `make bench` (`python -m accessible_lib.bench.audio --limit-chars {limit}`). The last "
            f"column is an extrapolation, not a measurement: the slice's time times {scale:.1f} (the whole "
            "book's characters over the slice's).",
            "",
            *_table(raw, results, scale),
            "",
            summary(raw, results),
            "",
        ]
        lines += kept_subsection(CHECKOUT / "BENCHMARKS.md", WHOLE_BOOK) or [
            WHOLE_BOOK,
            "",
            "Not measured yet: `BENCH_AUDIO_CHARS=0 BENCH_ONLY=audio make bench`.",
            "",
        ]
    else:
        lines += kept_subsection(CHECKOUT / "BENCHMARKS.md", A_SLICE)
        lines += [
            f"{WHOLE_BOOK}, {measured}",
            "",
            f"Command: `BENCH_AUDIO_CHARS=0 BENCH_AUDIO_ENGINES={','.join(engines)} BENCH_ONLY=audio "
            "make bench`.",
            "",
            *_table(raw, results, None),
            "",
            summary(raw, results),
            "",
        ]
    return lines


def _streams() -> int:
    from ..editions.speech_streams import default_streams

    return default_streams()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convert", choices=("mp3", "daisy202", "epub3-mo"))
    parser.add_argument(
        "--limit-chars",
        type=int,
        default=limit_from_env(),
        help=f"characters of chapter text, whole chapters (default {SLICE:,}; 0: the whole book)",
    )
    parser.add_argument("--engine", default=None, help=f"one engine only (default: {', '.join(ENGINES)})")
    args = parser.parse_args()
    limit = args.limit_chars or None
    if args.convert:
        print(json.dumps(convert_once(args.convert, WAR_AND_PEACE, limit, args.engine)))
        return
    print("\n".join(section(limit, (args.engine,) if args.engine else engines_from_env())))


if __name__ == "__main__":
    main()
