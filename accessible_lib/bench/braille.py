"""The braille benchmark: War and Peace to formatted BRF and PEF, against raw lou_translate in the same run.

Ours is the real edition converter (`run_conversion`: chapter walk, translation, layout, title page,
contents, writing), from the ingested book, each format in its own process so its peak RSS is its own.
The raw tool is `lou_translate --forward en-ueb-g2.ctb` over the same chapter text, one paragraph per line
(cut below 2,048 characters, where the CLI splits lines itself). Throughput is characters of chapter text
per second.

Run alone: `python -m accessible_lib.bench.braille`; `make bench` runs it (BENCH_ONLY=braille for only this).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ..settings import CHECKOUT
from .audio import WAR_AND_PEACE, MemoryWatch, load_book

TABLE = "en-ueb-g2.ctb"


def convert_once(fmt: str, path: Path) -> dict:
    from ..editions.runner import run_conversion

    with tempfile.TemporaryDirectory(prefix="bench-braille-") as tmp:
        book = load_book(path, None, Path(tmp) / "data")
        characters = sum(len(c.get("text") or "") for c in book["chapters"])
        workspace = Path(tmp) / "out"
        workspace.mkdir()
        started = time.monotonic()
        with MemoryWatch(interval=0.2) as watch:
            files = run_conversion(book, fmt, {}, workspace, lambda fraction, step: None)
        seconds = time.monotonic() - started
        size = files[0]["size"]
        data = (workspace / files[0]["name"]).read_bytes()
        pages = data.count(b"\f") + 1 if fmt == "brf" else data.count(b"<page>")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {
        "format": fmt,
        "characters": characters,
        "seconds": seconds,
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


def raw_translate(text: str) -> float:
    started = time.monotonic()
    subprocess.run(
        ["lou_translate", "--forward", TABLE], input=text.encode("utf-8"), capture_output=True, check=True
    )
    return time.monotonic() - started


def section() -> list[str]:
    lines = ["## Braille editions (War and Peace)", ""]
    if not WAR_AND_PEACE.exists():
        return lines + [f"{WAR_AND_PEACE} is not here (../shared/corpus is missing): not measured.", ""]
    results = []
    for fmt in ("brf", "pef"):
        command = [sys.executable, "-m", "accessible_lib.bench.braille", "--convert", fmt]
        completed = subprocess.run(command, capture_output=True, text=True, check=True, cwd=CHECKOUT)
        results.append(json.loads(completed.stdout.strip().splitlines()[-1]))
    with tempfile.TemporaryDirectory(prefix="bench-raw-braille-") as tmp:
        text = raw_lines(load_book(WAR_AND_PEACE, None, Path(tmp) / "data"))
    raw_seconds = min(raw_translate(text) for _ in range(2))
    characters = results[0]["characters"]
    raw_rate = len(text) / raw_seconds
    lines += [
        "Command: `make bench` (`python -m accessible_lib.bench.braille`).",
        f"Input: `../shared/corpus/text/en/war-and-peace.txt`, the whole book ({characters:,} characters of "
        f"chapter text), table {TABLE}, 40 cells x 25 lines, title page and contents included.",
        f"Raw tool, same text, same run: `lou_translate --forward {TABLE}`, one paragraph per line "
        f"({len(text):,} characters), best of two runs.",
        "",
        "Books over 200,000 characters are translated by one worker process per core (liblouis is not "
        "thread-safe). Peak RSS: the converting process; peak memory: the largest sum of the proportional "
        "set size of the converting process and its workers, sampled five times a second.",
        "",
        "| pipeline | seconds | chars/s | ratio to raw | pages | output | peak RSS | peak memory |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| raw lou_translate | {raw_seconds:.1f} | {raw_rate:,.0f} | 1.00 | | | | |",
    ]
    for result in results:
        rate = result["characters"] / result["seconds"]
        size = f"{result['bytes'] / 1e6:.1f} MB"
        lines.append(
            f"| accessible-lib {result['format']} | {result['seconds']:.1f} | {rate:,.0f} | "
            f"{rate / raw_rate:.2f} | {result['pages']:,} | {size} | {result['peak']:.0f} MB | "
            f"{result['tree']:.0f} MB |"
        )
    lines += [
        "",
        "Targets: at least 0.8x raw liblouis throughput including layout; peak RSS under 300 MB.",
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
