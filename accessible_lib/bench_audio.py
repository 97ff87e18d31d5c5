"""The audio benchmark: War and Peace read aloud into MP3 and DAISY, against the raw tools in the same run.

The raw pipeline is what a shell script would do with the same text and both cores: the text cut in two,
each half through `espeak-ng -w` then `lame -q 7 -b 64 -m m`, the two halves at once. Ours is the real edition
converter (`run_conversion`), from the ingested book, with the default engine unless told otherwise. Each
conversion runs in its own process so its peak RSS (and its children's: the speech engines) is its own.

Run alone: `python -m accessible_lib.bench_audio [--limit-chars N] [--engine NAME]`; `make bench` runs it
(BENCH_AUDIO_CHARS limits the text, BENCH_ONLY=audio runs only this section).
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
import time
import wave
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .settings import CHECKOUT, Settings

WAR_AND_PEACE = CHECKOUT.parent / "shared" / "corpus" / "text" / "en" / "war-and-peace.txt"
RATE = 175  # words per minute: the converters' default, given to espeak-ng too


def load_book(path: Path, limit: int | None, data_dir: Path) -> dict:
    """The exported book as a worker receives it, cut to its first `limit` characters of chapter text."""
    from .editions.export import export_ingested
    from .ingest import ingest_file

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


def _peak_mb() -> tuple[float, float]:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return own, children


def convert_once(fmt: str, path: Path, limit: int | None, engine: str | None) -> dict:
    """One conversion in this process; its figures as a dict (printed as JSON by --convert)."""
    from .editions.runner import run_conversion

    with tempfile.TemporaryDirectory(prefix="bench-audio-") as tmp:
        book = load_book(path, limit, Path(tmp) / "data")
        characters = sum(len(c.get("text") or "") for c in book["chapters"])
        workspace = Path(tmp) / "out"
        workspace.mkdir()
        options = {"engine": engine} if engine else {}
        started = time.monotonic()
        files = run_conversion(book, fmt, options, workspace, lambda fraction, step: None)
        seconds = time.monotonic() - started
        audio = _audio_seconds(fmt, workspace, files)
        size = sum(f["size"] for f in files if f.get("role") != "listen")
    own, children = _peak_mb()
    return {
        "format": fmt,
        "chapters": len(book["chapters"]),
        "characters": characters,
        "seconds": seconds,
        "audio_seconds": audio,
        "bytes": size,
        "peak_rss_mb": own,
        "children_peak_rss_mb": children,
    }


def _audio_seconds(fmt: str, workspace: Path, files: list[dict]) -> float:
    if fmt == "mp3":
        return sum(f["seconds"] for f in files if f.get("role") == "listen")
    with zipfile.ZipFile(workspace / files[0]["name"]) as archive:
        ncc = archive.read("ncc.html").decode("utf-8")
    hours, minutes, secs = re.search(r'name="ncc:totalTime" content="(\d+):(\d+):(\d+)"', ncc).groups()
    return int(hours) * 3600 + int(minutes) * 60 + int(secs)


def raw_pipeline(text: str, work: Path, streams: int = 2) -> dict:
    """espeak-ng CLI to WAV, then lame -q 7, over the same text, one stream per core."""
    paragraphs = text.split("\n\n")
    cut = len(paragraphs) // streams
    parts = [
        "\n\n".join(paragraphs[i * cut : (i + 1) * cut if i < streams - 1 else None]) for i in range(streams)
    ]

    def one(index: int) -> float:
        source, wav, mp3 = (work / f"raw-{index}.{ext}" for ext in ("txt", "wav", "mp3"))
        source.write_text(parts[index], encoding="utf-8")
        subprocess.run(
            ["espeak-ng", "-v", "en-us", "-s", str(RATE), "-w", str(wav), "-f", str(source)],
            check=True,
            capture_output=True,
        )
        subprocess.run(["lame", "--silent", "-q", "7", "-b", "64", "-m", "m", str(wav), str(mp3)], check=True)
        with wave.open(str(wav)) as reader:
            length = reader.getnframes() / reader.getframerate()
        wav.unlink()
        return length

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=streams) as pool:
        lengths = list(pool.map(one, range(streams)))
    return {"seconds": time.monotonic() - started, "audio_seconds": sum(lengths)}


def _hms(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def section(limit: int | None = None, engine: str | None = None) -> list[str]:
    """The BENCHMARKS.md section; runs every conversion in a child process."""
    lines = ["## Audio editions (War and Peace)", ""]
    if not WAR_AND_PEACE.exists():
        return lines + [f"{WAR_AND_PEACE} is not here (../shared/corpus is missing): not measured.", ""]
    results = []
    for fmt in ("mp3", "daisy202"):
        command = [sys.executable, "-m", "accessible_lib.bench_audio", "--convert", fmt]
        command += [f"--limit-chars={limit}"] if limit else []
        command += [f"--engine={engine}"] if engine else []
        completed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=CHECKOUT)
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    with tempfile.TemporaryDirectory(prefix="bench-raw-") as tmp:
        book = load_book(WAR_AND_PEACE, limit, Path(tmp) / "data")
        raw = raw_pipeline(book_text(book), Path(tmp))
    first = results[0]
    scope = f"the first {first['characters']:,} characters" if limit else "the whole book"
    lines += [
        "Command: `make bench` (`python -m accessible_lib.bench_audio"
        + (f" --limit-chars {limit}" if limit else "")
        + (f" --engine {engine}" if engine else "")
        + "`).",
        f"Input: `../shared/corpus/text/en/war-and-peace.txt`, {scope} "
        f"({first['chapters']} chapters, {first['characters']:,} characters of chapter text), "
        f"engine {engine or 'pyttsx3 (the default)'}, {RATE} words per minute, 64 kbps mono MP3.",
        "Raw pipeline, same text, same run: `espeak-ng -v en-us -s 175 -w` then `lame -q 7 -b 64 -m m`, "
        "the text cut in two and both halves at once (both cores busy).",
        "Peak RSS: the converting process, and the largest of its children (the speech engines).",
        "",
        "| pipeline | wall time | audio | realtime factor | ratio to raw | peak RSS | children peak RSS |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| raw espeak-ng + lame | {raw['seconds']:.0f} s | {_hms(raw['audio_seconds'])} | "
        f"{raw['audio_seconds'] / raw['seconds']:.0f}x | 1.00 | | |",
    ]
    for result in results:
        seconds, audio = result["seconds"], result["audio_seconds"]
        lines.append(
            f"| accessible-lib {result['format']} | {seconds:.0f} s | {_hms(audio)} | "
            f"{audio / seconds:.0f}x | {seconds / raw['seconds']:.2f} | {result['peak_rss_mb']:.0f} MB | "
            f"{result['children_peak_rss_mb']:.0f} MB |"
        )
    lines += ["", "Targets: at most 1.25x the raw pipeline's time; peak RSS under 500 MB.", ""]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--convert", choices=("mp3", "daisy202", "epub3-mo"))
    parser.add_argument(
        "--limit-chars", type=int, default=int(os.environ.get("BENCH_AUDIO_CHARS", "0")) or None
    )
    parser.add_argument("--engine", default=None)
    args = parser.parse_args()
    if args.convert:
        print(json.dumps(convert_once(args.convert, WAR_AND_PEACE, args.limit_chars, args.engine)))
        return
    print("\n".join(section(args.limit_chars, args.engine)))


if __name__ == "__main__":
    main()
