"""`make bench`: run the benchmarks; write their figures, command, input and machine to BENCHMARKS.md.

Speed targets live here, never in timed unit tests. Sizes can be lowered for a quick run:
`BENCH_BOOKS=20000 make bench`.
"""

from __future__ import annotations

import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ..db import open_database
from ..importer import import_paths
from ..settings import CHECKOUT, Settings
from . import search as search_bench


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    sqlite = subprocess.run(
        [sys.executable, "-c", "import sqlite3; print(sqlite3.sqlite_version)"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    return (
        f"{os.cpu_count()} cores ({cpu}), {memory:.0f} GiB RAM, {platform.platform()}, "
        f"Python {platform.python_version()}, SQLite {sqlite}"
    )


def bench_search(books: int, data_dir: Path) -> list[str]:
    """BENCH_SCALE_DATA: time the queries on the scale bench's catalogue (its `catalogue.db`), so both
    sections come from one catalogue in one run."""
    scale_data = os.environ.get("BENCH_SCALE_DATA")
    path = Path(scale_data) / "catalogue.db" if scale_data else data_dir / "bench-search.db"
    db = open_database(path)
    db.execute("PRAGMA synchronous = NORMAL")
    had = db.execute("SELECT count(*) FROM books").fetchone()[0]
    started = time.monotonic()
    search_bench.fill(db, books)
    fill_seconds = time.monotonic() - started
    chapters, text_bytes = db.execute(
        "SELECT count(*), sum(length(CAST(text AS BLOB))) FROM chapters"
    ).fetchone()
    results = search_bench.time_queries(db, repeats=5)
    lines = [
        "## Search at scale",
        "",
        f"Command: `BENCH_BOOKS={books} make bench` (`accessible_lib.bench.search`)"
        + (f", the catalogue in `BENCH_SCALE_DATA={scale_data}`." if scale_data else "."),
        f"Input: {books:,} synthetic books cut from the real texts in `tests/corpus/text`",
        f"({chapters:,} chapters, {text_bytes / 1e6:,.0f} MB of chapter text; "
        f"database {path.stat().st_size / 1e6:,.0f} MB), added through `catalogue.add_book`: "
        + (
            f"{books - had:,} books in {fill_seconds:.0f} s ({(books - had) / fill_seconds:.0f} books/s)."
            if books > had
            else "the database was reused from an earlier run."
        ),
        "Each query runs once to warm the cache, then 5 timed runs.",
        "",
        "| query | filters | books found | p50 ms | max ms |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    every = []
    for query, filters, found, runs in results:
        every += runs
        shown = ", ".join(f"{k}={v}" for k, v in filters.items())
        lines.append(f"| `{query}` | {shown} | {found:,} | {statistics.median(runs):.1f} | {max(runs):.1f} |")
    every.sort()
    lines += [
        "",
        f"All queries: p50 {every[len(every) // 2]:.1f} ms, "
        f"p95 {every[int(0.95 * (len(every) - 1))]:.1f} ms.",
        "",
    ]
    return lines


def bench_import(data_dir: Path) -> list[str]:
    """Import throughput on the longest texts we have, in a fresh catalogue."""
    candidates = [CHECKOUT / "content"]
    war_and_peace = CHECKOUT / "tests" / "corpus" / "text" / "en" / "war-and-peace.txt"
    pepys = CHECKOUT / "tests" / "corpus" / "bench" / "se-pepys-diary.epub"
    extra = [war_and_peace, pepys]
    lines = ["## Import", ""]
    settings = Settings.from_env({}, data_dir=data_dir / "import")
    db = open_database(settings.database_path)
    lines += [
        "Command: `make bench`. Peak RSS is the whole benchmark process's so far.",
        "",
        "| input | size | chapters | seconds |",
        "| --- | ---: | ---: | ---: |",
    ]
    for path in [*candidates, *extra]:
        started = time.monotonic()
        results = list(import_paths(db, settings, [path]))
        seconds = time.monotonic() - started
        size = sum(p.stat().st_size for p in ([path] if path.is_file() else path.rglob("*")) if p.is_file())
        chapters = sum(r.chapter_count or 0 for r in results)
        name = path.name if path.is_file() else f"{path.name}/ ({len(results)} files)"
        lines.append(f"| {name} | {size / 1e6:.1f} MB | {chapters} | {seconds:.2f} |")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    lines += ["", f"Peak RSS after the imports: {peak:.0f} MB.", ""]
    return lines


SECTIONS = (
    "import", "search", "scale", "audio", "braille", "worker", "stamping", "remote", "load", "listen",
    "rerender", "calibreweb", "harvest",
)  # fmt: skip


def _kept_sections(path: Path) -> dict[str, list[str]]:
    """The sections of an earlier BENCHMARKS.md, by their heading, so a partial run keeps the others."""
    if not path.exists():
        return {}
    sections: dict[str, list[str]] = {}
    current = None
    for line in path.read_text().splitlines():
        if line.startswith("## "):
            current = line
            sections[current] = []
        if current:
            sections[current].append(line)
    return sections


def main() -> None:
    """BENCH_ONLY=audio,braille runs only those sections and keeps the others from the last full run."""
    from . import audio as bench_audio
    from . import braille as bench_braille
    from . import calibre_web as bench_calibre_web
    from . import harvest as bench_harvest
    from . import listen as bench_listen
    from . import load as bench_load
    from . import remote as bench_remote
    from . import rerender as bench_rerender
    from . import scale as bench_scale
    from . import stamping as bench_stamping
    from . import worker as bench_worker

    books = int(os.environ.get("BENCH_BOOKS", "150000"))
    only = [name for name in os.environ.get("BENCH_ONLY", "").split(",") if name] or list(SECTIONS)
    unknown = set(only) - set(SECTIONS)
    if unknown:
        raise SystemExit(
            f"BENCH_ONLY: no section {', '.join(sorted(unknown))}; sections: {', '.join(SECTIONS)}"
        )
    data_dir = Path(os.environ.get("BENCH_DIR", str(CHECKOUT / "var" / "bench")))
    data_dir.mkdir(parents=True, exist_ok=True)
    (data_dir / "import").exists() and subprocess.run(["rm", "-rf", str(data_dir / "import")], check=True)
    audio_chars = bench_audio.limit_from_env()
    runners = {
        "import": lambda: bench_import(data_dir),
        "search": lambda: bench_search(books, data_dir),
        "scale": lambda: bench_scale.run_section(bench_dir=data_dir),
        "audio": lambda: bench_audio.section(audio_chars, bench_audio.engines_from_env()),
        "braille": lambda: bench_braille.section(),
        "worker": lambda: bench_worker.section(data_dir),
        "stamping": lambda: bench_stamping.section(data_dir),
        "remote": lambda: bench_remote.section(data_dir),
        "load": lambda: bench_load.section(data_dir),
        "listen": lambda: bench_listen.section(data_dir),
        "rerender": lambda: bench_rerender.section(data_dir),
        "calibreweb": lambda: bench_calibre_web.section(data_dir),
        "harvest": lambda: bench_harvest.section(data_dir),
    }
    target = CHECKOUT / "BENCHMARKS.md"
    kept = _kept_sections(target)
    body: list[str] = []
    where = machine()
    for name in SECTIONS:
        if name in only:
            started = datetime.now(UTC)
            lines = runners[name]()
            body += [lines[0], "", f"Measured {started:%Y-%m-%d %H:%M} UTC on {where}.", *lines[1:]]
        else:
            body += next((lines for heading, lines in kept.items() if _section_name(heading) == name), [])
    report = [
        "# Benchmarks",
        "",
        "Written by `make bench`; each section says when, on what machine and with what command it was "
        f"measured (`BENCH_ONLY=...` runs some sections and keeps the others). Last run: "
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC ({', '.join(only)}).",
        "Nothing here is typed in: every figure is measured by the benchmark, and every verdict against a "
        "target is computed from the figures.",
        "",
        *body,
    ]
    target.write_text("\n".join(report).rstrip("\n") + "\n")
    print("\n".join(report))


def _section_name(heading: str) -> str:
    words = heading.lower().replace("-", "")  # "## Calibre-Web side by side" is the calibreweb section
    if "union catalogue" in words:
        return "harvest"
    for name in SECTIONS:
        if name in words:
            return name
    return ""


if __name__ == "__main__":
    main()
