"""The braille benchmark: War and Peace to formatted BRF and PEF, against raw lou_translate in the same run.

Ours is the real edition converter (`run_conversion`: chapter walk, translation, layout, title page,
contents, writing), from the ingested book, each format in its own process so its peak RSS is its own.
The raw tool gets what ours gets, every core: the same chapter text, one paragraph per line (cut below 2,048
characters, where the CLI splits lines itself), cut into one part of equal characters per core, each part
through its own `lou_translate --forward en-ueb-g2.ctb`, all at once. Throughput is characters of chapter
text per second; CPU time (user + system of the process tree) is given too, the fairer figure on a
shared machine.

Run alone: `python -m accessible_lib.bench.braille`; `make bench` runs it (BENCH_ONLY=braille for only this).
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from ..settings import CHECKOUT
from .audio import WAR_AND_PEACE, MemoryWatch, cpu_seconds, equal_parts, load_book, verdict

TABLE = "en-ueb-g2.ctb"
TARGET_RATIO = 0.8  # at least this share of the raw tool's throughput, layout included
RUNS = 3  # tries per row, the fastest kept: the same for the raw tool and for ours
TARGET_RSS_MB = 300


def convert_once(fmt: str, path: Path) -> dict:
    from ..editions.runner import run_conversion

    with tempfile.TemporaryDirectory(prefix="bench-braille-") as tmp:
        book = load_book(path, None, Path(tmp) / "data")
        characters = sum(len(c.get("text") or "") for c in book["chapters"])
        workspace = Path(tmp) / "out"
        workspace.mkdir()
        cpu = cpu_seconds()
        started = time.monotonic()
        with MemoryWatch(interval=0.2) as watch:
            files = run_conversion(book, fmt, {}, workspace, lambda fraction, step: None)
        seconds = time.monotonic() - started
        cpu = cpu_seconds() - cpu
        size = files[0]["size"]
        data = (workspace / files[0]["name"]).read_bytes()
        pages = data.count(b"\f") + 1 if fmt == "brf" else data.count(b"<page>")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "format": fmt,
        "characters": characters,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "bytes": size,
        "pages": pages,
        "peak": peak,
        "tree": watch.peak,
    }


def raw_lines(book: dict, limit: int = 2000) -> str:
    lines = []
    for chapter in book["chapters"]:
        for paragraph in (chapter.get("text") or "").split("\n\n"):
            words = paragraph.split()
            line: list[str] = []
            size = 0
            for word in words:
                if size + len(word) + 1 > limit and line:
                    lines.append(" ".join(line))
                    line, size = [], 0
                line.append(word)
                size += len(word) + 1
            if line:
                lines.append(" ".join(line))
    return "\n".join(lines) + "\n"


def raw_translate(text: str, parts: int | None = None) -> dict:
    """One `lou_translate` per core on parts of equal characters (whole lines), all at once."""
    chunks = equal_parts(text.replace("\n", "\n\n"), parts or os.cpu_count() or 1)
    cpu = cpu_seconds()
    started = time.monotonic()
    processes = [
        subprocess.Popen(
            ["lou_translate", "--forward", TABLE],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in chunks
    ]

    def feed(index: int) -> None:
        process = processes[index]
        process.stdin.write((chunks[index].replace("\n\n", "\n") + "\n").encode("utf-8"))
        process.stdin.close()
        if process.wait():
            raise RuntimeError(f"lou_translate part {index} exited with {process.returncode}")

    with ThreadPoolExecutor(max_workers=len(chunks)) as pool:
        list(pool.map(feed, range(len(chunks))))
    return {"seconds": time.monotonic() - started, "cpu_seconds": cpu_seconds() - cpu, "parts": len(chunks)}


def section() -> list[str]:
    lines = ["## Braille editions (War and Peace)", ""]
    if not WAR_AND_PEACE.exists():
        return lines + [f"{WAR_AND_PEACE} is not here: not measured.", ""]
    results = []
    for fmt in ("brf", "pef"):  # each side gets the same number of tries: best of RUNS, in turn with raw
        command = [sys.executable, "-m", "accessible_lib.bench.braille", "--convert", fmt]

        def convert(command=command) -> dict:
            completed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=CHECKOUT)
            return json.loads(completed.stdout.strip().splitlines()[-1])

        results.append(min((convert() for _ in range(RUNS)), key=lambda run: run["seconds"]))
    with tempfile.TemporaryDirectory(prefix="bench-raw-braille-") as tmp:
        text = raw_lines(load_book(WAR_AND_PEACE, None, Path(tmp) / "data"))
    raw = min((raw_translate(text) for _ in range(RUNS)), key=lambda run: run["seconds"])
    characters = results[0]["characters"]
    raw_rate = len(text) / raw["seconds"]
    lines += [
        "Command: `make bench` (`python -m accessible_lib.bench.braille`).",
        f"Input: `tests/corpus/text/en/war-and-peace.txt`, the whole book ({characters:,} characters of "
        f"chapter text), table {TABLE}, 40 cells x 25 lines, title page and contents included.",
        f"Raw tool, same text, same run: `lou_translate --forward {TABLE}`, one paragraph per line "
        f"({len(text):,} characters) cut into {raw['parts']} parts of equal characters, one "
        f"`lou_translate` per part (per core), all at once. Every row is the best of {RUNS} runs.",
        "",
        "Books over 200,000 characters are translated by one child process per core (braille.pool; "
        "liblouis is not thread-safe). CPU time: user + system time of the process tree. Peak RSS: the "
        "converting process; peak memory: the largest sum of the proportional set size of the converting "
        "process and its children, sampled five times a second.",
        f"Targets: at least {TARGET_RATIO}x the raw tool's throughput, layout included; peak RSS under "
        f"{TARGET_RSS_MB} MB. The verdict columns are computed from the figures.",
        "",
        f"| pipeline | seconds | CPU time | chars/s | ratio to raw | throughput target (>= {TARGET_RATIO}x) "
        f"| pages | output | peak RSS | RSS target (< {TARGET_RSS_MB} MB) | peak memory |",
        "| --- | ---: | ---: | ---: | ---: | --- | ---: | ---: | ---: | --- | ---: |",
        f"| raw lou_translate, {raw['parts']} at once | {raw['seconds']:.1f} | {raw['cpu_seconds']:.1f} | "
        f"{raw_rate:,.0f} | 1.00 | | | | | | |",
    ]
    missed = []
    for result in results:
        rate = result["characters"] / result["seconds"]
        ratio = rate / raw_rate
        size = f"{result['bytes'] / 1e6:.1f} MB"
        speed, memory = verdict(ratio, TARGET_RATIO, at_most=False), verdict(result["peak"], TARGET_RSS_MB)
        missed += [
            f"{result['format']} {what}" for what, v in (("throughput", speed), ("RSS", memory)) if v != "met"
        ]
        lines.append(
            f"| accessible-lib {result['format']} | {result['seconds']:.1f} | {result['cpu_seconds']:.1f} | "
            f"{rate:,.0f} | {ratio:.2f} | {speed} | {result['pages']:,} | {size} | {result['peak']:.0f} MB | "
            f"{memory} | {result['tree']:.0f} MB |"
        )
    lines += [
        "",
        "Targets: " + ("met by both formats." if not missed else "**missed**: " + ", ".join(missed) + "."),
        "",
    ]
    return lines


def main() -> None:
    if len(sys.argv) == 3 and sys.argv[1] == "--convert":
        print(json.dumps(convert_once(sys.argv[2], WAR_AND_PEACE)))
        return
    print("\n".join(section()))


if __name__ == "__main__":
    main()
