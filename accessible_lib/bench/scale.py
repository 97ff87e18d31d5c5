"""The catalogue at scale (issue 12, part 1): 150,000 synthetic books served as `make run` serves them,
measured with wrk, one scenario at a time.

The catalogue is the search bench's (`bench.search.fill`: books cut from real texts, with chapter text);
filling 150,000 books takes a quarter of an hour, so an existing one is reused: BENCH_SCALE_DATA names
its data directory (a `catalogue.db` inside), filled up to BENCH_BOOKS when it holds fewer. Every URL a
scenario asks for is drawn from the catalogue itself (thousands of books, chapters, authors; search
queries from its own titles, authors and chapter words, with the worst cases such as `the` and `的`), and
wrk's script (`wrk/spread.lua`) picks one at random for each request, so no cache can carry a scenario.

BENCH_SCALE_SECONDS (default 20) and BENCH_SCALE_CONNECTIONS (default 50) change each wrk run.
BENCH_SCALE_ONLY (comma-separated scenario names, e.g. `search` or `home,book`) runs only those under load,
for quicker iterations; the section then lists only them.
BENCH_QUIET_FILE (and BENCH_QUIET_NAME), as in bench/harvest.py: the one-client timings and the wrk runs
wait for the shared machine's quiet-window file to be free and hold it while they run.
"""

from __future__ import annotations

import http.client
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote, urlencode

from ..db import open_database
from ..settings import Settings
from ..web.shared_pages import forget_all
from . import search as search_bench
from .harvest import quiet_window
from .server import start_server, stop_server

SECONDS = 20
CONNECTIONS = 50
THREADS = 2
SCRIPT = Path(__file__).resolve().parent / "wrk" / "spread.lua"
SAMPLE = 5000  # books (and as many chapters) each page scenario spreads over
MIN_QUERIES = 1000
WORST = ["the", "的", "monster", "红楼", "creat*", "whales", "of the", "and", "之", "一"]

# name, what it covers, target p99 ms, target requests/s (or None)
SCENARIOS = [
    ("home", "the home page", 100, None),
    ("book", f"{SAMPLE:,} book pages", 100, 1000),
    ("chapter", f"{SAMPLE:,} chapters", 100, None),
    ("browse value", "the books of one author, subject or language", 100, None),
    ("browse lists", "all authors, all subjects (pages 1-40), all languages, the facet list", 200, None),
    ("search", "the search mix", 1000, 200),
]


def _search_url(query: str, filters: dict | None = None) -> str:
    return "/search?" + urlencode({"q": query, **(filters or {})})


def _text_words(texts: list[str], rng: random.Random, count: int) -> list[str]:
    """English words of four letters or more and two-character Chinese words, drawn from chapter text."""
    english, chinese = set(), set()
    for text in texts:
        english.update(w.lower() for w in re.findall(r"[A-Za-z]{4,}", text))
        runs = re.findall(r"[\u4e00-\u9fff]{2,}", text)
        chinese.update(run[i : i + 2] for run in runs for i in range(0, len(run) - 1, 2))
    words = rng.sample(sorted(english), min(count // 2, len(english)))
    return words + rng.sample(sorted(chinese), min(count - len(words), len(chinese)))


def urls(database: Path, *, seed: int = 12) -> dict[str, list[str]]:
    """The URLs of each scenario, drawn from the catalogue with a fixed seed so runs compare."""
    rng = random.Random(seed)
    db = open_database(database, migrate=False)
    try:
        top = db.execute("SELECT max(id) FROM books").fetchone()[0] or 0
        picked = sorted(rng.sample(range(1, top + 1), min(SAMPLE, top)))
        marks = ",".join("?" * len(picked))
        books = db.execute(
            f"SELECT id, title, chapter_count FROM books WHERE id IN ({marks}) AND source_id IS NULL "
            "AND rights_status NOT IN ('withdrawn')",
            picked,
        ).fetchall()
        authors = [r[0] for r in db.execute("SELECT DISTINCT name FROM book_authors ORDER BY name")]
        subjects = [r[0] for r in db.execute("SELECT DISTINCT subject FROM book_subjects ORDER BY subject")]
        languages = [r[0] for r in db.execute("SELECT DISTINCT language FROM books WHERE language > ''")]
        texts = [
            r[0]
            for r in db.execute(
                "SELECT text FROM chapters WHERE book_id IN (SELECT id FROM books ORDER BY random() LIMIT 60)"
            )
        ]
    finally:
        db.close()
    chosen_authors = rng.sample(authors, min(600, len(authors)))
    queries = list(dict.fromkeys([*WORST, *(q for q, _ in search_bench.QUERIES)]))
    queries += [title for _, title, _ in rng.sample(books, min(450, len(books)))]
    queries += chosen_authors[:250]
    queries += _text_words(texts, rng, 450)
    queries = list(dict.fromkeys(q.strip() for q in queries if q and q.strip()))
    if len(queries) < MIN_QUERIES:
        raise RuntimeError(f"only {len(queries)} distinct queries; the catalogue is too small")
    values = [f"/browse/authors/{quote(a, safe='')}" for a in chosen_authors]
    values += [f"/browse/subjects/{quote(s, safe='')}" for s in subjects]
    values += [f"/browse/languages/{quote(lang, safe='')}" for lang in languages]
    values += ["/browse/formats/html"]
    lists = [f"/browse/authors?page={n}" for n in range(1, 41)] + ["/browse/authors", "/browse/subjects"]
    lists += ["/browse/languages", "/browse"] + [f"/browse/subjects?page={n}" for n in range(1, 3)]
    return {
        "home": ["/"],
        "book": [f"/books/{book_id}" for book_id, _, _ in books],
        "chapter": [f"/books/{book_id}/read/{rng.randint(1, max(1, n))}" for book_id, _, n in books],
        "browse value": values,
        "browse lists": lists,
        "search": [_search_url(q) for q in queries],
        "_queries": queries,
    }


def _get(conn: http.client.HTTPConnection, path: str) -> tuple[int, float]:
    started = time.perf_counter()
    conn.request("GET", path, headers={"Accept-Language": "en"})
    response = conn.getresponse()
    response.read()
    return response.status, (time.perf_counter() - started) * 1000


def single_client(port: int, repeats: int = 5) -> list[tuple[str, dict, int, list[float]]]:
    """The search bench's query set through HTTP, one request at a time: one warm-up, then `repeats`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    results = []
    try:
        for query, filters in search_bench.QUERIES:
            path = _search_url(query, filters)
            status, _ = _get(conn, path)
            runs, statuses = [], {status}
            for _ in range(repeats):
                status, ms = _get(conn, path)
                runs.append(ms)
                statuses.add(status)
            results.append((query, filters, max(statuses), runs))
    finally:
        conn.close()
    return results


def wrk(port: int, paths: list[str], root: Path, name: str, seconds: int, connections: int) -> dict:
    listing = root / f"{name.replace(' ', '-')}.txt"
    listing.write_text("\n".join(paths) + "\n", encoding="utf-8")
    result = subprocess.run(
        [shutil.which("wrk") or "wrk", "-t", str(THREADS), "-c", str(connections), "-d", f"{seconds}s",
         "--timeout", "10s", "-s", str(SCRIPT), f"http://127.0.0.1:{port}"],
        env={**os.environ, "BENCH_SCALE_PATHS": str(listing)},
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def _warm(port: int, paths: list[str]) -> None:
    """Every list page once and a few of each other kind: an error here is a bug, not load."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        for path in paths:
            status, _ = _get(conn, path)
            if status != 200:
                raise RuntimeError(f"{path} answered {status} before any load")
    finally:
        conn.close()


def chosen_scenarios(environ) -> list[str]:
    """The names BENCH_SCALE_ONLY asks for (all when unset), in SCENARIOS order."""
    names = [name.strip() for name in environ.get("BENCH_SCALE_ONLY", "").split(",") if name.strip()]
    known = [name for name, *_ in SCENARIOS]
    unknown = set(names) - set(known)
    if unknown:
        raise RuntimeError(
            f"BENCH_SCALE_ONLY: no scenario {', '.join(sorted(unknown))}; scenarios: {', '.join(known)}"
        )
    return [name for name in known if not names or name in names]


def run(data: Path, books: int, seconds: int, connections: int, root: Path, environ=None) -> dict:
    if shutil.which("wrk") is None:
        raise RuntimeError("wrk is not installed: run `make setup` (scripts/setup.sh installs it)")
    root.mkdir(parents=True, exist_ok=True)
    scenarios = chosen_scenarios(os.environ if environ is None else environ)
    database = data / "catalogue.db"
    db = open_database(database)
    db.execute("PRAGMA synchronous = NORMAL")
    search_bench.fill(db, books)
    counts = db.execute(
        "SELECT (SELECT count(*) FROM books), (SELECT count(*) FROM chapters), "
        "(SELECT count(DISTINCT name) FROM book_authors)"
    ).fetchone()
    db.close()
    scenario_urls = urls(database)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env["ACCESSIBLE_LIB_DATA_DIR"] = str(data)
    forget_all(data)  # `serve` does it too: no run carried by the pages the last one rendered
    server, port = start_server(env, root / "server.log")
    try:
        warm = ["/", *scenario_urls["browse lists"], *scenario_urls["browse value"][:20]]
        _warm(port, warm + scenario_urls["book"][:20] + scenario_urls["chapter"][:20])
        environ = os.environ if environ is None else environ
        with quiet_window(environ):  # only the timed part
            load_average = [os.getloadavg()[0]]
            single = single_client(port) if "search" in scenarios else []
            load = {}
            for name in scenarios:
                load[name] = wrk(port, scenario_urls[name], root, name, seconds, connections)
                load_average.append(os.getloadavg()[0])
    finally:
        stop_server(server)
    return {
        "books": counts[0],
        "chapters": counts[1],
        "authors": counts[2],
        "database_mb": database.stat().st_size / 1e6,
        "urls": {name: len(scenario_urls[name]) for name in scenarios},
        "queries": len(scenario_urls["_queries"]),
        "single": single,
        "load": load,
        "processes": env.get("ACCESSIBLE_LIB_WEB_PROCESSES") or str(os.cpu_count() or 1),
        "seconds": seconds,
        "connections": connections,
        "load_average": load_average,
    }


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def _verdict(met: bool) -> str:
    return "**met**" if met else "**missed**"


def _single_lines(single: list) -> list[str]:
    """The one-client search timings' table and verdicts."""
    lines = [
        "### One client: the search bench's query set through HTTP",
        "",
        "Each query once to warm, then 5 timed requests, one at a time, on one keep-alive connection.",
        "",
        "| query | filters | status | p50 ms | max ms |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    every = []
    statuses_ok = True
    for query, filters, status, runs in single:
        every += runs
        statuses_ok &= status == 200
        shown = ", ".join(f"{k}={v}" for k, v in filters.items())
        lines.append(f"| `{query}` | {shown} | {status} | {statistics.median(runs):.1f} | {max(runs):.1f} |")
    p95, worst = _percentile(every, 0.95), max(every)
    lines += [
        "",
        f"All requests: p50 {_percentile(every, 0.5):.1f} ms, p95 {p95:.1f} ms, max {worst:.1f} ms. "
        f"Target p95 under 50 ms: {_verdict(p95 < 50)}; no query over 200 ms: {_verdict(worst <= 200)}"
        + ("" if statuses_ok else " (some answered other than 200)")
        + ".",
        "",
    ]
    return lines


def section(figures: dict, books: int, data: Path) -> list[str]:
    f = figures
    lines = [
        f"## Catalogue at scale ({books:,} books)",
        "",
        f"Command: `BENCH_ONLY=scale BENCH_BOOKS={books} BENCH_SCALE_DATA={data} make bench` "
        "(`accessible_lib.bench.scale`; wrk script `accessible_lib/bench/wrk/spread.lua`).",
        f"Input: the search bench's synthetic catalogue, {f['books']:,} books, {f['chapters']:,} chapters, "
        f"{f['authors']:,} authors, database {f['database_mb']:,.0f} MB (filled once by `bench.search.fill`, "
        "reused). Served by `accessible-lib serve` as `make run` starts it "
        f"({f['processes']} web processes); load from wrk on the same machine ({THREADS} threads, "
        f"{f['connections']} connections, {f['seconds']} s per scenario, 10 s timeout), each request a URL "
        "drawn at random from the scenario's list; the search mix is "
        f"{f['queries']:,} distinct queries from the catalogue's own titles, authors and chapter words, "
        "with the worst cases (`the`, `的`, `monster`, `creat*`, ...). A search counts, ranks and lists at "
        f"most {Settings.search_count_cap:,} books (`ACCESSIBLE_LIB_SEARCH_COUNT_CAP`, the default) and says "
        '"more than" past it.',
        "",
    ]
    if f["single"]:
        lines += _single_lines(f["single"])
    lines += [
        f"### {f['connections']} clients at once",
        "",
        "The machine's one-minute load average (2 cores) before the timed part and after each scenario: "
        + ", ".join(f"{v:.1f}" for v in f.get("load_average", []))
        + ". Above about 2 (the server and wrk themselves) it counts other work on the shared machine, "
        "which slows every figure here.",
        "",
        "| scenario | URLs | requests | requests/s | p50 ms | p90 ms | p99 ms | max ms | errors "
        "(connect/read/write/timeout) | non-2xx | target | verdict |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |",
    ]
    missed = []
    for name, covers, p99_target, rate_target in SCENARIOS:
        if name not in f["load"]:  # BENCH_SCALE_ONLY
            continue
        w = f["load"][name]
        rate = w["requests"] / w["seconds"]
        errors = w["connect"] + w["read"] + w["write"] + w["timeout"] + w["non2xx"]
        ms = {k: w[k] / 1000 for k in ("p50", "p90", "p99", "max")}
        met = errors == 0 and ms["p99"] < p99_target and (rate_target is None or rate >= rate_target)
        target = f"no errors, p99 < {p99_target:,} ms" + (f", ≥ {rate_target:,} req/s" if rate_target else "")
        if not met:
            missed.append(name)
        lines.append(
            f"| {name} ({covers}) | {f['urls'][name]:,} | {w['requests']:,} | {rate:,.0f} | "
            f"{ms['p50']:.1f} | {ms['p90']:.1f} | {ms['p99']:.1f} | {ms['max']:.1f} | "
            f"{w['connect']}/{w['read']}/{w['write']}/{w['timeout']} | {w['non2xx']:,} | {target} | "
            f"{_verdict(met)} |"
        )
    lines += [
        "",
        "Targets under load: "
        + ("all **met**." if not missed else f"**missed** for {', '.join(missed)}; the others met."),
        "",
    ]
    return lines


def run_section(environ: dict | None = None, bench_dir: Path | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    books = int(environ.get("BENCH_BOOKS", "") or 150_000)
    seconds = int(environ.get("BENCH_SCALE_SECONDS", "") or SECONDS)
    connections = int(environ.get("BENCH_SCALE_CONNECTIONS", "") or CONNECTIONS)
    bench_dir = bench_dir or Path("var") / "bench"
    data = Path(environ.get("BENCH_SCALE_DATA", "") or bench_dir / "scale-data")
    root = bench_dir / "scale"
    shutil.rmtree(root, ignore_errors=True)
    figures = run(data, books, seconds, connections, root, environ)
    (root / "figures.json").write_text(json.dumps(figures, indent=1), encoding="utf-8")
    return section(figures, books, data)


def main() -> None:
    print("\n".join(run_section()), file=sys.stdout)


if __name__ == "__main__":
    main()
