"""Calibre-Web side by side (issue 12, part 1): the same Calibre library, served by Calibre-Web and by us.

A synthetic Calibre library of BENCH_CALIBRE_BOOKS books (default 150,000) is written with Calibre's own
schema (copied from the real library calibre 6.13 made in tests/corpus/calibre-library) and one small TXT
file per book, cut from the real texts as the search benchmark cuts them. The same library then goes into a
fresh catalogue through `accessible-lib import-calibre` (timed), and into Calibre-Web, installed from PyPI
into a venv of its own (never a project dependency), configured through its app.db and started as its
documentation says (`cps`, its own server). wrk asks both for the same pages, one server after the other,
each inside a quiet window (the file BENCH_QUIET_FILE names, if any): the home page, book pages, searches,
the authors list, at 1 and at 50 clients.

    BENCH_ONLY=calibreweb make bench              # 150,000 books
    BENCH_CALIBRE_BOOKS=200 BENCH_CALIBRE_SECONDS=3 BENCH_ONLY=calibreweb make bench   # a quick check

The library and both servers' data live in BENCH_DIR/calibreweb/; a library and import already made for
the same size are reused (the import time is then the earlier run's, and the section says so).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

from ..settings import CHECKOUT
from .calibre_library import generate_library
from .calibre_web_load import (
    CLIENTS,
    TIMEOUT,
    measure,
    sample_books,
    scenarios,
    someone_elses_quiet,
    title_word,
)
from .calibre_web_server import CALIBRE_WEB, install_calibre_web, start_calibre_web, start_cps
from .server import start_server, stop_server

BOOKS = 150_000
IMPORT_TARGET = 150  # books a second: 150,000 in under 17 minutes
SECONDS = 20
BOOK_PAGES = 1000  # book pages walked in turn, so no single page is always in a cache


# --- our side ----------------------------------------------------------------------------------------


def _our_env(data: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env["ACCESSIBLE_LIB_DATA_DIR"] = str(data)
    return env


def import_into_ours(library: Path, data: Path, log: Path) -> tuple[float, float]:
    """`accessible-lib import-calibre` into a fresh data directory: its seconds of work, and the seconds it
    was held stopped (SIGSTOP) while someone else's QUIET file said a benchmark was being measured."""
    shutil.rmtree(data, ignore_errors=True)
    data.mkdir(parents=True)
    started, paused = time.monotonic(), 0.0
    with log.open("wb") as out:
        importer = subprocess.Popen(
            [str(Path(sys.executable).parent / "accessible-lib"), "import-calibre", str(library)],
            env=_our_env(data),
            cwd=CHECKOUT,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        while importer.poll() is None:
            if someone_elses_quiet():
                stopped = time.monotonic()
                os.killpg(importer.pid, signal.SIGSTOP)
                while someone_elses_quiet():
                    time.sleep(1)
                os.killpg(importer.pid, signal.SIGCONT)
                paused += time.monotonic() - stopped
            time.sleep(0.5)
    if importer.returncode:
        raise RuntimeError(f"import-calibre failed; see {log}")
    return time.monotonic() - started - paused, paused


# --- the section -------------------------------------------------------------------------------------


def _version(venv: Path, package: str) -> str:
    found = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"from importlib.metadata import version; print(version('{package}'))",
        ],
        capture_output=True,
        text=True,
    )
    return found.stdout.strip() or "not installed"


def _commit() -> str:
    found = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=CHECKOUT, capture_output=True, text=True
    )
    return found.stdout.strip() or "unknown"


def _row(scenario: str, clients: int, side: str, f: dict) -> str:
    errors = f"{f['connect']}/{f['read']}/{f['write']}/{f['timeout']}"
    rate = f["requests"] / f["seconds"] if f["seconds"] else 0
    p50, p99 = (f"{f[p] / 1000:,.1f}" if f["requests"] else "–" for p in ("p50", "p99"))
    cells = [
        scenario,
        str(clients),
        side,
        f"{f['requests']:,}",
        f"{rate:,.1f}",
        p50,
        p99,
        errors,
        str(f["status"]),
    ]
    return "| " + " | ".join(cells) + " |"


def prepare(root: Path, books: int) -> dict:
    """The Calibre library and our import of it, made once per size: what they are and how long they took.

    Both wait while someone else's QUIET file exists: they are the heavy work the machine's rule keeps out
    of other benchmarks' measurements."""
    library, ours = root / f"library-{books}", root / f"ours-{books}"
    generated, made = root / f"library-{books}.json", root / f"made-{books}.json"
    if made.exists():
        return json.loads(made.read_text())
    if generated.exists():
        facts = json.loads(generated.read_text())
    else:
        started = time.monotonic()
        facts = generate_library(library, books, pause=someone_elses_quiet)
        facts["generate_seconds"] = time.monotonic() - started
        generated.write_text(json.dumps(facts))
    log = root / f"import-{books}.log"
    facts["when"] = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    facts["import_seconds"], facts["import_paused"] = import_into_ours(library, ours, log)
    facts["imported"] = next(line for line in log.read_text().splitlines() if " imported, " in line)
    made.write_text(json.dumps(facts))
    return facts


def _figures(root: Path, books: int, side: str, measure_it) -> tuple[str, dict]:
    """One server's figures at this size, measured now or, when a run measured them already, as it did:
    the two sides can be measured at different times of one afternoon (Calibre-Web needs no import of
    ours, so it can be measured while that runs, our import held stopped in its windows). Delete
    figures-*.json to measure again."""
    path = root / f"figures-{books}-{side}.json"
    if path.exists():
        kept = json.loads(path.read_text())
        return kept["when"], {(name, clients): f for name, clients, f in kept["figures"]}
    when = f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC"
    figures = measure_it()
    listed = [[name, clients, f] for (name, clients), f in figures.items()]
    path.write_text(json.dumps({"when": when, "figures": listed}))
    return when, figures


def _measure_ours(ours: Path, root: Path, cases: list[dict], seconds: int) -> dict:
    server, port = start_server(_our_env(ours), root / "ours-server.log")
    try:
        return measure("ours", f"http://127.0.0.1:{port}", cases, seconds, root / "wrk")
    finally:
        stop_server(server)


def _measure_calibre_web(
    venv: Path, config: Path, library: Path, root: Path, cases: list[dict], seconds: int
):
    shutil.rmtree(config, ignore_errors=True)  # its first start with this library is part of setting it up
    server, port = start_calibre_web(venv, config, library)
    running = [server]

    def restart() -> None:
        stop_server(running.pop())
        running.append(start_cps(venv, config, port))

    try:
        return measure("calibre-web", f"http://127.0.0.1:{port}", cases, seconds, root / "wrk", restart)
    finally:
        stop_server(running.pop())


def calibre_web_alone(data_dir: Path, books: int, seconds: int) -> None:
    """Calibre-Web's figures for `section` to use, measured while our import of the library still runs."""
    root = data_dir / "calibreweb"
    library, ours = root / f"library-{books}", root / f"ours-{books}"
    venv = root / "calibre-web-venv"
    install_calibre_web(venv)
    cases = scenarios(sample_books(library, ours, BOOK_PAGES), title_word(library))
    config = root / f"calibre-web-config-{books}"
    _figures(
        root, books, "calibre-web", lambda: _measure_calibre_web(venv, config, library, root, cases, seconds)
    )


def section(data_dir: Path, environ: dict | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    books = int(environ.get("BENCH_CALIBRE_BOOKS", "") or BOOKS)
    seconds = int(environ.get("BENCH_CALIBRE_SECONDS", "") or SECONDS)
    root = data_dir / "calibreweb"
    root.mkdir(parents=True, exist_ok=True)
    library, ours = root / f"library-{books}", root / f"ours-{books}"
    facts = prepare(root, books)
    venv = root / "calibre-web-venv"
    install_calibre_web(venv)
    cw_version = _version(venv, "calibreweb")
    config = root / f"calibre-web-config-{books}"

    picked = sample_books(library, ours, BOOK_PAGES)
    cases = scenarios(picked, title_word(library))
    results, when = {}, {}
    when["accessible-lib"], results["accessible-lib"] = _figures(
        root, books, "ours", lambda: _measure_ours(ours, root, cases, seconds)
    )
    when["Calibre-Web"], results["Calibre-Web"] = _figures(
        root, books, "calibre-web", lambda: _measure_calibre_web(venv, config, library, root, cases, seconds)
    )

    ours_version = subprocess.run(
        [sys.executable, "-c", "from importlib.metadata import version; print(version('accessible-lib'))"],
        capture_output=True,
        text=True,
    ).stdout.strip()
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    wrk_version = (wrk_version.stdout + wrk_version.stderr).strip().splitlines()[0]
    rate = facts["books"] / facts["import_seconds"]
    paused = facts.get("import_paused", 0)
    lines = [
        "## Calibre-Web side by side",
        "",
        f"Command: `BENCH_CALIBRE_BOOKS={books} BENCH_ONLY=calibreweb make bench` "
        "(`accessible_lib.bench.calibre_web`).",
        f"Input: a synthetic Calibre library of {books:,} books ({facts['authors']:,} authors, "
        f"{facts['tags']} tags, English and Chinese, a fifth in series), written with calibre 6.13's own "
        "metadata.db schema (copied from `tests/corpus/calibre-library`) and one TXT file per book cut "
        "from the real texts in `tests/corpus/text` "
        f"({facts['text_bytes'] / 1e6:,.0f} MB of text; written in "
        f"{facts['generate_seconds']:,.0f} s).",
        f"Our import: `accessible-lib import-calibre` into a fresh catalogue, started {facts['when']}: "
        f"{books:,} books in {facts['import_seconds']:,.0f} s, **{rate:,.1f} books/s** "
        f'("{facts["imported"]}"). It ran outside any QUIET window (held stopped for {paused:,.0f} s while '
        "another benchmark's was open), so other work on the machine shares these seconds.",
    ]
    minutes = BOOKS / rate / 60
    verdict = "met" if rate >= IMPORT_TARGET else "missed"
    lines.append(
        f"Import target ({BOOKS:,} books in well under 20 minutes, at least {IMPORT_TARGET} books/s): "
        f"**{verdict}**, {rate:,.1f} books/s, so {BOOKS:,} books in about {minutes:,.0f} minutes."
    )
    if books < BOOKS:
        lines.append(
            f"Measured at {books:,} books, not the default {BOOKS:,}: at the import rate above, "
            f"{BOOKS:,} books would take about {BOOKS / rate / 3600:.1f} h to import on this machine."
        )
    lines += [
        f"Servers: accessible-lib {ours_version} (commit {_commit()}) as `make run` serves it "
        "(`accessible-lib serve`, "
        f"{os.cpu_count()} web processes; this library only, `content/` not imported). Calibre-Web "
        f"{cw_version} from PyPI (`{CALIBRE_WEB}`, in a venv of its own: Flask "
        f"{_version(venv, 'Flask')}, SQLAlchemy {_version(venv, 'SQLAlchemy')}, tornado "
        f"{_version(venv, 'tornado')}), started as its documentation says (`cps`, its own server; without "
        "the optional gevent it serves through tornado, one process); its app.db set to this library, with "
        "anonymous browsing on and the guest given every sidebar list, so both are read without signing in.",
        f"Load: {wrk_version.split(' [')[0]} on the same machine, each scenario for {seconds} s at 1 client "
        f"(1 thread) and at 50 clients (2 threads), timeout {TIMEOUT} so that slow answers are counted; each "
        "scenario (both client counts) in a QUIET window of its own; accessible-lib measured "
        f"{when['accessible-lib']}, Calibre-Web {when['Calibre-Web']}; Calibre-Web is restarted outside "
        "the window after each scenario rather than left to answer the requests still waiting when wrk "
        "stopped. Every page is "
        "checked first (200, not a sign-in page, the book's title or results on it); Calibre-Web answers a "
        "search with a redirect to its result page, and wrk asks for that page. Requests still waiting when "
        "a run ends are not counted: on a slow server at 50 clients, the figures are the answers that came "
        "back within the run.",
        "",
        "| scenario | clients | server | requests | requests/s | p50 ms | p99 ms | "
        "errors (connect/read/write/timeout) | not 2xx/3xx |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: |",
    ]
    for case in cases:
        for clients in CLIENTS:
            lines += [
                _row(case["name"], clients, side, results[side][(case["name"], clients)]) for side in results
            ]
    ratio_title = "Pages per second (answers other than 2xx/3xx left out), accessible-lib over Calibre-Web:"
    lines += ["", ratio_title, ""]
    lines += ["| scenario | 1 client | 50 clients |", "| --- | ---: | ---: |"]
    slower = []
    for case in cases:
        cells = []
        for clients in CLIENTS:
            a, b = (results[side][(case["name"], clients)] for side in ("accessible-lib", "Calibre-Web"))
            # Answers that were pages: a 503 from the search time limit is fast, and no answer to count.
            ra, rb = ((f["requests"] - f["status"]) / f["seconds"] for f in (a, b))
            cells.append(f"{ra / rb:,.1f}x" if rb else "Calibre-Web answered none")
            if rb and ra <= rb:
                slower.append(f"{case['name']} at {clients} client{'s' if clients > 1 else ''}")
        lines.append(f"| {case['name']} | {cells[0]} | {cells[1]} |")
    lines += [
        "",
        "accessible-lib answers more requests per second than Calibre-Web in every scenario."
        if not slower
        else f"accessible-lib is not faster than Calibre-Web in: {'; '.join(slower)}.",
        "",
    ]
    return lines


def main() -> None:
    print("\n".join(section(CHECKOUT / "var" / "bench")))


if __name__ == "__main__":
    main()
