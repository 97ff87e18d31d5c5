"""The union catalogue at 1.5 million records: harvest them through the real harvest code, then search them.

Issue 12, part 5 asks the targets of item 1 of the issue to hold once other libraries' records are in the
catalogue: one client, search p95 under 50 ms and no query over 200 ms; 50 clients, p99 under 1 s over at
least 1,000 distinct queries at 200 or more searches a second.

The records come from a synthetic but realistic OAI-PMH feed served over HTTP by a small server this module
starts in a process of its own (`python -m accessible_lib.bench.harvest --serve PORT ...`): oai_dc records
with titles, creators, subjects, languages, dates, publishers, descriptions and identifiers, cut from the
same real texts as the search bench (tests/corpus/text), in pages of 100 records with resumption tokens,
as DSpace and EPrints send them. The catalogue is a union of several libraries of at most 250,000 records
each; every one is harvested with `harvest.harvest` (fetch, oai_dc parser, staging, store), the code
`accessible-lib harvest` runs. The harvest rate is measured on a fresh catalogue of
BENCH_HARVEST_RATE_RECORDS records (default 50,000) in a quiet window; the full catalogue is filled once,
outside it, and reused (BENCH_HARVEST_DIR, kept between runs).

BENCH_HARVEST_RECORDS (default 1,500,000) sets the size; small sizes work. BENCH_HARVEST_SECONDS (60) is
how long wrk runs. BENCH_QUIET_FILE, when set, is the shared machine's quiet-window file: the timed parts
wait for it to be free, hold it with the branch name BENCH_QUIET_NAME, and remove it when they end.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import time
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, quote, urlsplit

from .. import search
from ..db import open_database
from ..errors import UserError
from ..settings import CHECKOUT, Settings
from .search import ENGLISH_FIRST, ENGLISH_LAST, GIVEN, SUBJECTS_EN, SUBJECTS_ZH, SURNAMES
from .server import free_port, start_server, stop_server

RECORDS = 1_500_000
PER_SOURCE = 250_000
PAGE = 100
RATE_RECORDS = 50_000
WRK_SECONDS = 60
CONNECTIONS = 50
DISTINCT_QUERIES = 1_200
SINGLE_QUERIES = 300
QUIET_POLL_SECONDS = 15
DATESTAMP = "2026-01-01T00:00:00Z"
RESPONSE_DATE = "2026-01-02T00:00:00Z"
PUBLISHERS = ["Penguin", "人民文学出版社", "中华书局", "Oxford University Press", "Project Gutenberg"]
PUBLISHERS += ["上海古籍出版社", "Vintage", "商务印书馆", "Everyman's Library", "Dover"]
RIGHTS = "http://rightsstatements.org/vocab/NoC-US/1.0/"
# Readers rarely search for these alone; the query sets hold `the` and `的` on purpose, as the worst case,
# but drawing title words at random would make every fifth query one of them.
COMMON_WORDS = {"the", "and", "that", "with", "his", "her", "for", "was", "had", "which", "from", "this"}
COMMON_WORDS |= {"not", "but", "you", "all", "have", "were", "they", "are", "him", "she", "one", "would"}

# -- the feed ---------------------------------------------------------------------------------------


class Records:
    """Record `number` of library `source`, the same every time (seeded by both), cut from the real texts."""

    def __init__(self) -> None:
        corpus = CHECKOUT / "tests" / "corpus" / "text"
        self.texts = {
            language: [
                p.read_text(encoding="utf-8", errors="replace")
                for p in sorted(corpus.glob(f"{language}/*.txt"))
            ]
            for language in ("zh", "en")
        }

    def metadata(self, source: int, number: int) -> dict:
        rng = random.Random(source * 10_000_019 + number)
        chinese = rng.random() < 0.5
        text = rng.choice(self.texts["zh" if chinese else "en"])
        start = rng.randrange(0, max(1, len(text) - 400))
        passage = " ".join(text[start : start + 400].split())
        if chinese:
            title = "".join(ch for ch in passage[:40] if "\u4e00" <= ch <= "\u9fff")[: rng.randint(2, 8)]
            creators = [rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])]
            if number % 500 == 0:
                creators = ["鲁迅"]
            subjects = rng.sample(SUBJECTS_ZH, rng.randint(1, 3))
            language = rng.choice(["zh-Hans", "zh-Hans", "zh-Hant", "zh"])
            description = passage[:120]
        else:
            words = [w.strip(".,;:!?\"'()") for w in passage.split()[1:9]]
            title = " ".join(w for w in words[: rng.randint(2, 7)] if w).title()
            creators = [f"{rng.choice(ENGLISH_FIRST)} {rng.choice(ENGLISH_LAST)}"]
            if rng.random() < 0.2:
                creators.append(f"{rng.choice(ENGLISH_FIRST)} {rng.choice(ENGLISH_LAST)}")
            subjects = rng.sample(SUBJECTS_EN, rng.randint(1, 3))
            language = rng.choice(["en", "en", "en-GB", "eng"])
            description = passage[:300]
        return {
            "title": title or f"Record {number}",
            "creators": creators,
            "subjects": subjects,
            "language": language,
            "date": str(rng.randint(1600, 2025)),
            "publisher": rng.choice(PUBLISHERS),
            "description": description,
            "identifiers": [
                f"https://library{source}.example.org/record/{number}",
                f"urn:isbn:978{rng.randrange(10**9, 10**10)}",
            ],
        }

    def xml(self, source: int, number: int) -> str:
        m = self.metadata(source, number)
        e = escape
        fields = [f"<dc:title>{e(m['title'])}</dc:title>"]
        fields += [f"<dc:creator>{e(c)}</dc:creator>" for c in m["creators"]]
        fields += [f"<dc:subject>{e(s)}</dc:subject>" for s in m["subjects"]]
        fields += [
            f"<dc:description>{e(m['description'])}</dc:description>",
            f"<dc:publisher>{e(m['publisher'])}</dc:publisher>",
            f"<dc:date>{m['date']}</dc:date>",
            "<dc:type>Text</dc:type>",
            f"<dc:language>{m['language']}</dc:language>",
            f"<dc:rights>{RIGHTS}</dc:rights>",
        ]
        fields += [f"<dc:identifier>{e(i)}</dc:identifier>" for i in m["identifiers"]]
        return (
            f"<record><header><identifier>oai:library{source}.example.org:{number}</identifier>"
            f"<datestamp>{DATESTAMP}</datestamp><setSpec>books</setSpec></header><metadata>"
            '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">'
            + "".join(fields)
            + "</oai_dc:dc></metadata></record>"
        )


def _envelope(verb: str, body: str, request: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f'<responseDate>{RESPONSE_DATE}</responseDate><request verb="{verb}">{escape(request)}</request>'
        f"{body}</OAI-PMH>"
    ).encode()


def feed_handler(records: Records, sizes: list[int]):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # thousands of pages: no log line each
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            try:
                source = int(parts.path.rstrip("/").rsplit("library", 1)[1])
                size = sizes[source]
            except (IndexError, ValueError):
                self.send_error(404)
                return
            base = f"http://127.0.0.1:{self.server.server_port}{parts.path}"
            verb = params.get("verb", "")
            if verb == "Identify":
                body = (
                    f"<Identify><repositoryName>Library {source}</repositoryName><baseURL>{base}</baseURL>"
                    "<protocolVersion>2.0</protocolVersion><earliestDatestamp>2000-01-01T00:00:00Z"
                    "</earliestDatestamp><deletedRecord>persistent</deletedRecord>"
                    "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>"
                )
            elif verb == "ListRecords":
                if "resumptionToken" in params:
                    start = int(params["resumptionToken"].split("-")[1])
                elif params.get("from", "") > DATESTAMP:
                    self._answer(_envelope(verb, '<error code="noRecordsMatch">none since</error>', base))
                    return
                else:
                    start = 0
                end = min(size, start + PAGE)
                page = "".join(records.xml(source, n) for n in range(start, end))
                token = (
                    f'<resumptionToken completeListSize="{size}" cursor="{start}">{source}-{end}'
                    "</resumptionToken>"
                    if end < size
                    else f'<resumptionToken completeListSize="{size}" cursor="{start}"/>'
                )
                body = f"<ListRecords>{page}{token}</ListRecords>"
            else:
                body = '<error code="badVerb">only Identify and ListRecords here</error>'
            self._answer(_envelope(verb, body, base))

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(port: int, sizes: list[int]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), feed_handler(Records(), sizes))
    server.serve_forever()


@contextlib.contextmanager
def feed(sizes: list[int], log: Path):
    """The feed server in a process of its own, so serving pages does not share the harvester's GIL."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "accessible_lib.bench.harvest", "--serve", str(port)]
            + ["--sizes", ",".join(map(str, sizes))],
            cwd=CHECKOUT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/oai/library0?verb=Identify", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the feed server did not start; see {log}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/oai"
    finally:
        process.terminate()
        process.wait(timeout=10)


def source_sizes(records: int) -> list[int]:
    count = max(1, math.ceil(records / PER_SOURCE))
    return [min(PER_SOURCE, records - i * PER_SOURCE) for i in range(count)]


# -- harvesting ---------------------------------------------------------------------------------------


@contextlib.contextmanager
def quiet_window(environ):
    """Hold the shared machine's quiet-window file (when BENCH_QUIET_FILE names it) while timing."""
    path = environ.get("BENCH_QUIET_FILE")
    if not path:
        yield
        return
    quiet = Path(path)
    name = environ.get("BENCH_QUIET_NAME", "bench")
    while True:  # created only if absent (O_EXCL): two benches never both think they hold it
        try:
            fd = os.open(quiet, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            break
        except FileExistsError:
            print(f"  waiting for {quiet} to be free", file=sys.stderr, flush=True)
            time.sleep(QUIET_POLL_SECONDS)
    with os.fdopen(fd, "w") as out:
        out.write(name + "\n")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):  # removed only while it still holds our name
            if quiet.read_text().strip() == name:
                quiet.unlink()


def harvest_all(settings: Settings, base: str, libraries: list[tuple[int, int]], *, progress=True) -> dict:
    """Harvest each (library, size) not yet complete in this catalogue; records and seconds harvested."""
    from ..harvest import harvest, store

    db = open_database(settings.database_path)
    db.execute("PRAGMA synchronous = NORMAL")
    fetched, seconds = 0, 0.0
    try:
        for number, size in libraries:
            url = f"{base}/library{number}"
            try:  # the feed's port changes from run to run: the library is the same one
                with db.conn:
                    db.execute(
                        "UPDATE harvest_sources SET base_url = ? WHERE base_url LIKE ? AND base_url != ? "
                        "AND last_status = 'ok'",
                        [url, f"http://127.0.0.1:%/oai/library{number}", url],
                    )
            except sqlite3.IntegrityError:
                pass
            known = store.source_by_url(db, url)
            if known and known["last_status"] == store.OK and (known["record_count"] or 0) >= size:
                continue
            started = time.monotonic()
            result = harvest(db, settings, url, full=True)
            took = time.monotonic() - started
            fetched += size
            seconds += took
            if progress:
                print(
                    f"  library {number}: {size:,} records in {took:.0f} s ({size / took:.0f}/s), "
                    f"{result.counts}",
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        db.close()
    return {"records": fetched, "seconds": seconds}


def bench_settings(data: Path) -> Settings:
    return Settings.from_env({}, data_dir=data)


# -- searching ------------------------------------------------------------------------------------------


def query_set(db, count: int, seed: int) -> list[str]:
    """Distinct queries readers type: title words and phrases, authors, subjects, Chinese titles and names,
    pairs of words, prefixes, misspellings, drawn from the harvested records themselves, and a few common
    words on purpose (the worst case)."""
    rng = random.Random(seed)
    rows = db.execute(
        "SELECT b.title, (SELECT name FROM book_authors WHERE book_id = b.id AND position = 0) "
        "FROM books AS b WHERE b.source_id IS NOT NULL AND b.id % 97 = ? LIMIT 20000",
        [seed % 97],
    ).fetchall()
    queries: dict[str, None] = {}
    fixed = ["the", "的", "Shelley", "鲁迅", "monster", "红楼", "creat*", '"the creature"', "Horror"]
    fixed += ["frankenstien", "lun yu", "历史", "whaling", "nosuchwordanywhere"]
    for query in fixed:
        queries.setdefault(query, None)
    attempts = 0
    while len(queries) < count and attempts < count * 50:
        attempts += 1
        title, author = rng.choice(rows)
        kind = rng.random()
        latin = [w for w in title.split() if len(w) > 2 and w.lower() not in COMMON_WORDS]
        if kind < 0.30 and latin:
            query = rng.choice(latin).lower()
        elif kind < 0.45 and len(latin) >= 2:
            start = rng.randrange(len(latin) - 1)
            query = " ".join(latin[start : start + 2])
        elif kind < 0.55 and len(latin) >= 2:
            query = f'"{" ".join(title.split()[:2])}"'
        elif kind < 0.70 and not latin and title:
            start = rng.randrange(max(1, len(title) - 1))
            query = title[start : start + rng.randint(2, 4)]
        elif kind < 0.80 and author:
            query = author if rng.random() < 0.5 else author.split()[-1]
        elif kind < 0.88 and latin:
            word = rng.choice(latin)
            query = word[: max(3, len(word) - 2)].lower() + "*"
        elif kind < 0.94 and latin:
            word = rng.choice(latin).lower()
            query = f"{word} {rng.choice(SUBJECTS_EN).lower()}"
        else:
            query = rng.choice(SUBJECTS_EN + SUBJECTS_ZH)
        query = " ".join(query.split())
        if query:
            queries.setdefault(query, None)
    return list(queries)[:count]


def time_single(db, queries: list[str]) -> list[tuple[str, int, float]]:
    """One client: each query once to warm, then timed once: (query, books found, ms). A search stopped at
    the search time limit (the page says "Search stopped") counts with the time it took, found -1; a result
    past the count cap (the page says "more than") counts as the cap + 1."""
    timings = []
    for query in queries:
        try:
            results = search.search(db, query)
            found = results.total + results.more
        except UserError:  # stopped at the search time limit, as the search page would be
            found = -1
        started = time.perf_counter()
        try:
            search.search(db, query)
        except UserError:
            found = -1
        timings.append((query, found, (time.perf_counter() - started) * 1000))
    return timings


WRK_SCRIPT = """
local paths = {}
for line in io.lines(os.getenv("BENCH_HARVEST_PATHS")) do paths[#paths + 1] = line end
local counter = 0
init = function(args) counter = math.random(#paths) end
request = function()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], {["Accept-Language"] = "en"})
end
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    '{"requests": %d, "seconds": %f, "connect": %d, "read": %d, "write": %d, "status": %d, '
    .. '"timeout": %d, "p50": %d, "p90": %d, "p99": %d, "max": %d}\\n',
    summary.requests, summary.duration / 1e6, e.connect, e.read, e.write, e.status,
    e.timeout, latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
"""


def run_wrk(data: Path, root: Path, queries: list[str], seconds: int) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: run `make setup` (scripts/setup.sh installs it)")
    paths = [f"/search?q={quote(q)}" for q in queries]
    (root / "paths.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
    (root / "search.lua").write_text(WRK_SCRIPT, encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env["ACCESSIBLE_LIB_DATA_DIR"] = str(data)
    server, port = start_server(env, root / "server.log")
    try:
        import urllib.error
        import urllib.request

        base = f"http://127.0.0.1:{port}"
        try:  # the first search opens the index; `the` may well stop at the search time limit (503)
            with urllib.request.urlopen(base + paths[0], timeout=120) as response:
                response.read()
        except urllib.error.HTTPError:
            pass
        result = subprocess.run(
            [wrk, "-t", "2", "-c", str(CONNECTIONS), "-d", f"{seconds}s", "--timeout", "10s",
             "-s", str(root / "search.lua"), base],
            env={**env, "BENCH_HARVEST_PATHS": str(root / "paths.txt")},
            capture_output=True,
            text=True,
            check=True,
        )  # fmt: skip
    finally:
        stop_server(server)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["processes"] = os.cpu_count() or 1
    return figures


# -- the section -------------------------------------------------------------------------------------------


def _pct(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(fraction * len(ordered))) - 1)]


def _found(found: int) -> str:
    if found < 0:
        return "stopped at the time limit"
    if found > Settings.search_count_cap:
        return f"more than {Settings.search_count_cap:,} found"
    return f"{found:,} found"


def _verdict(ok: bool) -> str:
    return "**met**" if ok else "**missed**"


def section(data_dir: Path, environ: dict | None = None) -> list[str]:
    environ = os.environ if environ is None else environ
    records = int(environ.get("BENCH_HARVEST_RECORDS", "") or RECORDS)
    rate_records = min(records, int(environ.get("BENCH_HARVEST_RATE_RECORDS", "") or RATE_RECORDS))
    seconds = int(environ.get("BENCH_HARVEST_SECONDS", "") or WRK_SECONDS)
    root = Path(environ.get("BENCH_HARVEST_DIR", "") or data_dir / "harvest")
    root.mkdir(parents=True, exist_ok=True)
    sizes = source_sizes(records)
    rate_library = len(sizes)  # a library of its own, of rate_records, served beside the others
    rate_root = root / "rate"
    shutil.rmtree(rate_root, ignore_errors=True)
    rate_root.mkdir()
    with feed([*sizes, rate_records], root / "feed.log") as base:
        # The rate: a fresh catalogue, one library of rate_records over HTTP, in the quiet window.
        rate_settings = bench_settings(rate_root / "data")
        open_database(rate_settings.database_path).close()
        with quiet_window(environ):
            rate = harvest_all(rate_settings, base, [(rate_library, rate_records)])
        # The full catalogue: filled once (outside the quiet window), then reused by later runs.
        settings = bench_settings(root / "data")
        fill = {"records": 0, "seconds": 0.0}
        if environ.get("BENCH_HARVEST_FILL", "1") != "0":  # 0: measure what the catalogue holds already
            fill = harvest_all(settings, base, list(enumerate(sizes)))
    shutil.rmtree(rate_root, ignore_errors=True)
    db = open_database(settings.database_path, migrate=False)
    try:
        held = db.execute(
            "SELECT count(*) FROM books WHERE source_id IS NOT NULL AND harvest_deleted_at IS NULL"
        ).fetchone()[0]
        local = db.execute("SELECT count(*) FROM books WHERE source_id IS NULL").fetchone()[0]
        single_queries = query_set(db, SINGLE_QUERIES, seed=1)
        load_queries = query_set(db, DISTINCT_QUERIES, seed=2)
        db_bytes = sum(p.stat().st_size for p in (root / "data").glob("catalogue.db*"))
        if not fill["seconds"]:
            fill = earlier_fill(db)
        with quiet_window(environ):
            timings = time_single(db, single_queries)
    finally:
        db.close()
    with quiet_window(environ):
        load = run_wrk(root / "data", root, load_queries, seconds)
    settings_used = " ".join(
        f"{name}={environ[name]}"
        for name in sorted(environ)
        if name.startswith("BENCH_HARVEST_") and name != "BENCH_HARVEST_DIR"
    )
    return report(
        settings_used or f"BENCH_HARVEST_RECORDS={records}",
        records,
        held,
        local,
        sizes,
        rate,
        fill,
        db_bytes,
        timings,
        load,
        len(load_queries),
        seconds,
    )


def earlier_fill(db) -> dict:
    """How the catalogue was filled when this run harvested nothing: by how many complete harvest runs,
    and how many cut short, over what wall time from the first run's start to the last one's end (those
    cut short included: they applied part of their records, and a run started again finds those
    unchanged), whatever ran beside them."""
    first, last, runs, cut = db.execute(
        "SELECT (SELECT min(started_at) FROM harvest_runs), (SELECT max(finished_at) FROM harvest_runs), "
        "count(*), "
        "(SELECT count(*) FROM harvest_runs WHERE status != 'ok') FROM harvest_runs WHERE status = 'ok'"
    ).fetchone()
    if not runs:
        return {"records": 0, "seconds": 0.0}
    from datetime import datetime

    wall = (datetime.fromisoformat(last) - datetime.fromisoformat(first)).total_seconds()
    return {"records": 0, "seconds": 0.0, "earlier": {"runs": runs, "cut": cut, "wall": wall, "from": first}}


def report(
    command, records, held, local, sizes, rate, fill, db_bytes, timings, load, distinct, seconds
) -> list[str]:
    ms = [t for _, _, t in timings]
    p50, p95, worst = _pct(ms, 0.5), _pct(ms, 0.95), max(ms)
    slowest = sorted(timings, key=lambda t: -t[2])[:8]
    errors = load["connect"] + load["read"] + load["write"] + load["status"] + load["timeout"]
    per_second = load["requests"] / load["seconds"]
    p99 = load["p99"] / 1000
    rate_line = (
        f"{rate['records']:,} records of one library in a fresh catalogue in {rate['seconds']:.1f} s: "
        f"**{rate['records'] / rate['seconds']:,.0f} records/s**"
        if rate["seconds"]
        else "not measured"
    )
    fill_line = (
        f"this run harvested {fill['records']:,} records into it in {fill['seconds']:.0f} s "
        f"({fill['records'] / fill['seconds']:,.0f} records/s, outside the quiet window, with other work on "
        "the machine)"
        if fill["seconds"]
        else (
            f"it was filled earlier by {fill['earlier']['runs']} complete harvest "
            f"run{'s' if fill['earlier']['runs'] != 1 else ''} (one a library)"
            + (f" and {fill['earlier']['cut']} cut short" if fill["earlier"]["cut"] else "")
            + " over "
            f"{fill['earlier']['wall'] / 60:,.0f} minutes of wall time "
            f"from {fill['earlier']['from'][:16].replace('T', ' ')} UTC (untimed: on a shared machine, "
            "several runs at once, paused during other benchmarks' quiet windows), and reused here"
        )
        if fill.get("earlier")
        else "it was reused from an earlier run (nothing left to harvest)"
    )
    lines = [
        "## Union catalogue at 1.5 million records",
        "",
        f"Command: `BENCH_ONLY=harvest {command} make bench` (`accessible_lib.bench.harvest`).",
        f"Input: {records:,} synthetic oai_dc records (titles, creators, subjects, languages, dates, "
        "publishers, descriptions, identifiers cut from the real texts in `tests/corpus/text`) from "
        f"{len(sizes)} libraries of up to {PER_SOURCE:,} records, served by a local OAI-PMH server in pages "
        f"of {PAGE} with resumption tokens, and harvested over HTTP by `harvest.harvest` (the code of "
        "`accessible-lib harvest`: fetch, oai_dc parser, staging, store).",
        f"Catalogue: {held:,} harvested records held and {local:,} local books; database "
        f"{db_bytes / 1e9:,.2f} GB (with its WAL); {fill_line}.",
        *(
            [
                "",
                f"**Short of the size asked for**: the catalogue holds {held:,} harvested records, not "
                f"{records:,}. Filling it through the harvest over HTTP (at about the rate below, on a "
                "shared machine, paused during other benchmarks' quiet windows) did not finish in the time "
                f"there was, so the search figures below are for {held:,} records.",
            ]
            if held < records
            else []
        ),
        "",
        f"Harvest rate (timed in a quiet window): {rate_line}.",
        "",
        f"One client: {len(timings)} distinct queries drawn from the harvested titles, authors and subjects "
        "(words, phrases, prefixes, Chinese titles and names; the most common English words are not "
        "drawn, but `the`, `的`, `Horror` and a few other worst cases are in the set on purpose), each run "
        "once to warm, then timed once with `search.search` as the search page calls it.",
        "",
        "| p50 ms | p95 ms | max ms |",
        "| ---: | ---: | ---: |",
        f"| {p50:.1f} | {p95:.1f} | {worst:.1f} |",
        "",
        "Slowest queries: "
        + ", ".join(f"`{q}` ({_found(found)}) {t:.0f} ms" for q, found, t in slowest)
        + f". Stopped at the search time limit: {sum(found < 0 for _, found, _ in timings)}.",
        "",
        f"Fifty clients: wrk (2 threads, {CONNECTIONS} connections, {seconds} s, 10 s timeout) on the same "
        f"machine over {distinct:,} distinct `/search?q=` pages, served by `accessible-lib serve` as `make "
        f"run` starts it ({load['processes']} web processes).",
        "",
        "| searches | searches/s | p50 ms | p90 ms | p99 ms | max ms | errors |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {load['requests']:,} | {per_second:,.0f} | {load['p50'] / 1000:.0f} | {load['p90'] / 1000:.0f} | "
        f"{p99:.0f} | {load['max'] / 1000:.0f} | {errors} |",
        "",
        "Targets:",
        "",
        f"- one client, p95 under 50 ms: {p95:.1f} ms, {_verdict(p95 < 50)};",
        f"- one client, no query over 200 ms: slowest {worst:.1f} ms, {_verdict(worst <= 200)};",
        f"- 50 clients, p99 under 1 s: {p99:.0f} ms, {_verdict(p99 < 1000)};",
        f"- at least 200 searches/s: {per_second:,.0f}/s, {_verdict(per_second >= 200)};",
        f"- at least 1,000 distinct queries: {distinct:,}, {_verdict(distinct >= 1000)}; "
        f"errors: {errors}, {_verdict(errors == 0)}.",
        "",
    ]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, help="serve the synthetic feed on this port (used by the bench)")
    parser.add_argument("--sizes", default=str(PER_SOURCE))
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, [int(s) for s in args.sizes.split(",")])
        return
    print("\n".join(section(CHECKOUT / "var" / "bench")))


if __name__ == "__main__":
    main()
