"""The reader pages under load: 200 clients at once for 60 s against the server `make run` starts.

The target (issue 14, part 7): no errors at all, on the pages a reader uses (home, browse, a book, a
chapter, a search), with the default library (`content/`) imported as `make run` imports it. The load
generator is wrk (a Debian package installed by setup), on the same machine: its threads take a share of
the cores, so the figures are a floor for what the server does alone. Each connection walks the list of
pages in turn, so every page is asked for thousands of times.

BENCH_LOAD_SECONDS (default 60) and BENCH_LOAD_CONNECTIONS (default 200) change the run.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import quote

from ..db import open_database
from ..settings import CHECKOUT
from .server import start_server, stop_server

SECONDS = 60
CONNECTIONS = 200
THREADS = 2
SEARCHES = ("whale", "红楼", "论语", "frankenstien", "lun yu", "the sea")

# wrk's script, shared with the other benches that walk a page list (wrk/walk.lua).
SCRIPT = Path(__file__).resolve().parent / "wrk" / "walk.lua"


def reader_paths(database: Path) -> list[str]:
    """Every book page and its first chapter, the lists, and searches a reader types."""
    db = open_database(database, migrate=False)
    try:
        books = [row[0] for row in db.execute("SELECT id FROM books WHERE source_id IS NULL ORDER BY id")]
    finally:
        db.close()
    paths = ["/", "/browse", "/browse/authors", "/browse/subjects", "/browse/languages"]
    for book in books:
        paths += [f"/books/{book}", f"/books/{book}/read/1"]
    paths += [f"/search?q={quote(query)}" for query in SEARCHES]
    return paths


def run(seconds: int, connections: int, root: Path) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: run `make setup` (scripts/setup.sh installs it)")
    root.mkdir(parents=True, exist_ok=True)
    data = root / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env["ACCESSIBLE_LIB_DATA_DIR"] = str(data)
    accessible_lib = Path(sys.executable).parent / "accessible-lib"
    subprocess.run(
        [str(accessible_lib), "import", "--skip-duplicates"],
        env=env,
        cwd=CHECKOUT,
        check=True,
        capture_output=True,
    )
    paths = reader_paths(data / "catalogue.db")
    (root / "paths.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
    server, port = start_server(env, root / "server.log")
    try:
        base = f"http://127.0.0.1:{port}"
        for path in paths:  # every page answers before the load starts: an error here is not load
            with urllib.request.urlopen(base + path, timeout=60) as response:
                response.read()
        result = subprocess.run(
            [wrk, "-t", str(THREADS), "-c", str(connections), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", str(SCRIPT), base],
            env={**env, "BENCH_WALK_PATHS": str(root / "paths.txt")},
            capture_output=True,
            text=True,
            check=True,
        )  # fmt: skip
    finally:
        stop_server(server)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["pages"] = len(paths)
    figures["processes"] = os.cpu_count() or 1
    return figures


def section(data_dir: Path, environ: dict | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    seconds = int(environ.get("BENCH_LOAD_SECONDS", "") or SECONDS)
    connections = int(environ.get("BENCH_LOAD_CONNECTIONS", "") or CONNECTIONS)
    root = data_dir / "load"
    shutil.rmtree(root, ignore_errors=True)
    f = run(seconds, connections, root)
    errors = f["connect"] + f["read"] + f["write"] + f["status"] + f["timeout"]
    ms = {name: f[name] / 1000 for name in ("p50", "p90", "p99", "max")}
    return [
        "## Under load: the reader pages",
        "",
        "Command: `BENCH_ONLY=load make bench` (`accessible_lib.bench.load`).",
        f"Input: the default library (`content/`, imported as `make run` does); {f['pages']} reader pages "
        "(home, browse lists, every book and its first chapter, six searches), walked in turn by each "
        f"connection. Served by `accessible-lib serve` as `make run` starts it ({f['processes']} web "
        f"processes); load from wrk on the same machine ({THREADS} threads, {connections} connections, "
        f"{seconds} s, 10 s timeout).",
        "",
        "| requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors (connect/read/write/timeout) | "
        "not 2xx/3xx |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |",
        f"| {f['requests']:,} | {f['requests'] / f['seconds']:,.0f} | {ms['p50']:.1f} | {ms['p90']:.1f} | "
        f"{ms['p99']:.1f} | {ms['max']:.1f} | {f['connect']}/{f['read']}/{f['write']}/{f['timeout']} | "
        f"{f['status']} |",
        "",
        f"Target: no errors with {connections} clients for {seconds} s: "
        + (f"**{'met' if errors == 0 else 'missed'}**")
        + ("." if errors == 0 else f" ({errors:,} errors)."),
        "",
    ]


def main() -> None:
    print("\n".join(section(CHECKOUT / "var" / "bench")))


if __name__ == "__main__":
    main()
