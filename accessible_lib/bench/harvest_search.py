"""The union-catalogue bench's searches: query sets drawn from the harvested records, one client timed
through `search.search`, and fifty clients through wrk against the real server. Used by harvest.py.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from .. import search
from ..errors import UserError
from .load import SCRIPT
from .search import SUBJECTS_EN, SUBJECTS_ZH
from .server import start_server, stop_server

CONNECTIONS = 50
# Readers rarely search for these alone; the query sets hold `the` and `的` on purpose, as the worst case,
# but drawing title words at random would make every fifth query one of them.
COMMON_WORDS = {"the", "and", "that", "with", "his", "her", "for", "was", "had", "which", "from", "this"}
COMMON_WORDS |= {"not", "but", "you", "all", "have", "were", "they", "are", "him", "she", "one", "would"}


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


def run_wrk(data: Path, root: Path, queries: list[str], seconds: int) -> dict:
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed: run `make setup` (scripts/setup.sh installs it)")
    paths = [f"/search?q={quote(q)}" for q in queries]
    (root / "paths.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
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
             "-s", str(SCRIPT), base],
            env={**env, "BENCH_WALK_PATHS": str(root / "paths.txt")},
            capture_output=True,
            text=True,
            check=True,
        )  # fmt: skip
    finally:
        stop_server(server)
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    figures["processes"] = os.cpu_count() or 1
    return figures
