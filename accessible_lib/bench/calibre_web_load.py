"""The Calibre-Web bench's load: the pages both servers are asked for, each checked first, then walked by
wrk at 1 and at 50 clients inside the shared machine's quiet window (bench/calibre_web.py writes the
section). Kept apart from the section so each module holds one idea.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote, urlsplit

from lxml import html as lxml_html

from .load import SCRIPT

# A machine shared with other work names a file that marks a benchmark being timed (BENCH_QUIET_FILE, as
# in bench/harvest.py); no file named means a machine of one's own. BENCH_QUIET_NAME is what ours says.
QUIET = Path(os.environ["BENCH_QUIET_FILE"]) if os.environ.get("BENCH_QUIET_FILE") else None
BRANCH = os.environ.get("BENCH_QUIET_NAME") or "calibreweb"
CLIENTS = (1, 50)
TIMEOUT = "60s"  # far above any answer seen, so that slow answers are counted rather than dropped


def someone_elses_quiet() -> bool:
    if QUIET is None:
        return False
    try:
        return QUIET.read_text().strip() != BRANCH
    except (FileNotFoundError, NotADirectoryError):
        return False


def _get(url: str) -> tuple[int, str, str]:
    """Status, final URL (after redirects) and body of one GET."""
    request = urllib.request.Request(url, headers={"Accept-Language": "en"})
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return response.status, response.url, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, url, ""


def _page_text(body: str) -> str:
    return " ".join(lxml_html.fromstring(body).text_content().split()) if body.strip() else ""


def sample_books(library: Path, data: Path, count: int) -> list[tuple[int, int, str]]:
    """(Calibre id, our id, title) of `count` books picked at random, the same for both servers; our id is
    None for a book not imported yet."""
    calibre = sqlite3.connect(library / "metadata.db")
    rows = calibre.execute("SELECT id, uuid, title FROM books ORDER BY id").fetchall()
    calibre.close()
    by_uuid = {}
    if (data / "catalogue.db").exists():  # Calibre-Web can be measured before our import is done
        ours = sqlite3.connect(data / "catalogue.db")
        by_uuid = dict(ours.execute("SELECT book_uuid, book_id FROM calibre_books"))
        ours.close()
    picked = random.Random(7).sample(rows, min(count, len(rows)))
    return [(calibre_id, by_uuid.get(book_uuid), title) for calibre_id, book_uuid, title in picked]


def title_word(library: Path) -> str:
    """A word of five letters or more that is in some English titles: the commonest such word."""
    conn = sqlite3.connect(library / "metadata.db")
    counts: dict[str, int] = {}
    for (title,) in conn.execute("SELECT title FROM books"):
        for word in re.findall(r"[A-Za-z]{5,}", title):
            counts[word.lower()] = counts.get(word.lower(), 0) + 1
    conn.close()
    ranked = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return ranked[min(len(ranked) - 1, 20)][0] if ranked else "chapter"  # not the very commonest: a real word


def scenarios(books: list[tuple[int, int, str]], word: str) -> list[dict]:
    """Each scenario: a name, and for each server the paths walked in turn and a check of one answer."""
    queries = [("title word", word), ("author", "Mary Shelley"), ("`the`", "the")]
    found = [
        {
            "name": "home page",
            "ours": ["/"],
            "calibre-web": ["/"],
            "expect": lambda body: len(re.findall(r"/books?/\d+", body)) >= 10,
        },
        {
            "name": f"a book page ({len(books):,} books in turn)",
            "ours": [f"/books/{ours}" for _, ours, _ in books],
            "calibre-web": [f"/book/{calibre}" for calibre, _, _ in books],
            "titles": [title for _, _, title in books],
        },
    ]
    for label, query in queries:
        found.append(
            {
                "name": f"search, {label}: `{query}`" if label != "`the`" else "search: `the`",
                "ours": [f"/search?q={quote(query)}"],
                "calibre-web": [f"/search?query={quote(query)}"],  # answered by a redirect, followed below
                "expect": lambda body: "/book" in body,
            }
        )
    found.append(
        {
            "name": "the authors list",
            "ours": ["/browse/authors"],
            "calibre-web": ["/author"],
            "expect": lambda body: "Shelley" in body,
        }
    )
    return found


def resolve_and_check(base: str, scenario: dict, side: str) -> list[str]:
    """Each path answers 200 with what a reader came for (not a sign-in page), before any load; a
    redirect (Calibre-Web's search) is replaced by where it leads, so wrk times the page itself."""
    paths = []
    for i, path in enumerate(scenario[side]):
        status, url, body = _get(base + path)
        if status != 200 or "/login" in urlsplit(url).path:
            raise RuntimeError(f"{side} {path}: status {status}, ended at {url}")
        if "titles" in scenario:
            if i < 20 and scenario["titles"][i].split()[0] not in _page_text(body):
                raise RuntimeError(f"{side} {path}: the book's title is not on its page")
        elif not scenario["expect"](body):
            raise RuntimeError(f"{side} {path}: the page does not show what was asked for")
        final = urlsplit(url)
        paths.append(final.path + (f"?{final.query}" if final.query else ""))
    return paths


def run_wrk(base: str, paths: list[str], clients: int, seconds: int, work: Path) -> dict:
    (work / "paths.txt").write_text("\n".join(paths) + "\n", encoding="utf-8")
    result = subprocess.run(
        ["wrk", "-t", str(min(2, clients)), "-c", str(clients), "-d", f"{seconds}s", "--timeout", TIMEOUT,
         "-s", str(SCRIPT), base],
        env={**os.environ, "BENCH_WALK_PATHS": str(work / "paths.txt")},
        capture_output=True,
        text=True,
        check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


@contextmanager
def quiet_window():
    """The machine's QUIET file, ours while measuring: wait for anyone else's to go, then hold it."""
    if QUIET is None:
        yield
        return
    waited = time.monotonic()
    while True:
        try:
            fd = os.open(QUIET, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if time.monotonic() - waited > 3600:
                raise RuntimeError(f"{QUIET} was held by someone else for an hour") from None
            time.sleep(5)
            continue
        except FileNotFoundError:  # no shared notes folder: a machine of one's own
            yield
            return
        os.write(fd, f"{BRANCH}\n".encode())
        os.close(fd)
        break
    try:
        yield
    finally:
        try:
            if QUIET.read_text().strip() == BRANCH:
                QUIET.unlink()
        except FileNotFoundError:
            pass


def measure(side: str, base: str, cases: list[dict], seconds: int, work: Path, restart=None) -> dict:
    """Every scenario at each number of clients, one QUIET window per scenario (a few minutes at most, so
    the machine's windows stay short); every page checked and warmed first.

    A server that answers one request at a time still owes the requests wrk left waiting when it stopped;
    the next run must not be timed paying them. A fast server pays them at once (one more request waits
    for them); a slow one (`restart` given: at 150,000 books Calibre-Web's authors list takes many seconds
    an answer, so 49 waiting answers would hold a window for minutes) is restarted outside the window."""
    resolved = [resolve_and_check(base, case, side) for case in cases]
    figures = {}
    work.mkdir(parents=True, exist_ok=True)
    for case, paths in zip(cases, resolved, strict=True):
        with quiet_window():
            for clients in CLIENTS:
                print(f"  {side}: {case['name']}, {clients} clients", file=sys.stderr, flush=True)
                figures[(case["name"], clients)] = run_wrk(base, paths, clients, seconds, work)
                if restart is None or clients == 1:
                    _get(base + paths[0])
        if restart is not None:
            restart()
            _get(base + paths[0])  # warm again, outside the window
    return figures
