"""How fast search is on a big catalogue: fill a database with synthetic books, then time typical queries.

The books are cut from the real texts in tests/corpus/text (Chinese classics, Frankenstein), so the
index holds real vocabulary with real frequencies: common characters like 的 and words like "the" occur in
nearly every chapter, which is what makes a search slow. Books go in through `catalogue.add_book`, one
transaction each, as an import does.

    python -m accessible_lib.bench.search --books 150000 --db /tmp/bench.db

An existing database at --db is reused when it already holds enough books, so queries can be re-timed.
"""

from __future__ import annotations

import argparse
import hashlib
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .. import catalogue, search, search_index
from ..db import open_database
from ..ingest.model import Chapter, IngestedBook
from ..settings import Settings

CORPUS = Path(__file__).resolve().parents[2] / "tests" / "corpus" / "text"

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾萧田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"  # noqa: E501
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯健俊帆帅旭宁龙林欣怡佳琪雪梅晨阳"  # noqa: E501
ENGLISH_FIRST = ["Mary", "John", "Jane", "Charles", "Emily", "George", "Anne", "Thomas", "Edith", "Henry"]
ENGLISH_LAST = ["Shelley", "Austen", "Dickens", "Bronte", "Eliot", "Hardy", "Wharton", "James", "Irving"]
SUBJECTS_ZH = ["古典小说", "诗词", "戏曲", "散文", "历史", "哲学", "神话", "传记", "笔记", "文论"]
SUBJECTS_EN = ["Fiction", "Poetry", "Drama", "Essays", "History", "Philosophy", "Science fiction"]
SUBJECTS_EN += ["Horror", "Gothic fiction", "Short stories", "Travel", "Biography", "Whaling"]

QUERIES: list[tuple[str, dict]] = [
    ("红楼", {}),
    ("鲁迅", {}),
    ("坟", {}),
    ("宝玉 黛玉", {}),
    ("明月", {"language": "zh"}),
    ("天下", {"subject": "历史"}),
    ("的", {}),  # in nearly every Chinese chapter: the worst case
    ("whales", {}),
    ("Frankenstein", {}),
    ("monster", {"language": "en"}),
    ('"the creature"', {}),
    ("creat*", {}),
    ("Shelley", {}),
    ("the", {}),  # in nearly every English chapter: the worst case
    ("the", {"page": 2000}),  # past the metadata matches: every matching chapter must be ranked
    ("Mary Shelley monster", {"subject": "Horror"}),
    ("nosuchwordanywhere", {}),
]


def _load_corpus() -> dict[str, list[str]]:
    texts: dict[str, list[str]] = {"zh": [], "en": []}
    for language in texts:
        for path in sorted((CORPUS / language).glob("*.txt")):
            if path.name == "war-and-peace.txt":  # kept out so the figures compare with earlier runs
                continue
            texts[language].append(path.read_text(encoding="utf-8", errors="replace"))
    return texts


def synthetic_book(number: int, rng: random.Random, texts: dict[str, list[str]]) -> IngestedBook:
    """A book of 2-6 chapters of 1-5 KB each, cut from a random place in a real text."""
    chinese = rng.random() < 0.5
    source = rng.choice(texts["zh" if chinese else "en"])
    chapters = []
    for i in range(rng.randint(2, 6)):
        size = rng.randint(400, 1700) if chinese else rng.randint(1000, 5000)  # ~1-5 KB either way
        start = rng.randrange(0, max(1, len(source) - size))
        text = source[start : start + size].strip()
        paragraphs = [p.strip() for p in text.splitlines() if p.strip()]
        chapters.append(
            Chapter(
                title=(f"第{i + 1}回" if chinese else f"Chapter {i + 1}"),
                html="".join(f"<p>{p}</p>" for p in paragraphs),
                text="\n\n".join(paragraphs),
            )
        )
    if chinese:
        start = rng.randrange(0, len(source) - 10)
        title = "".join(ch for ch in source[start : start + 12] if "\u4e00" <= ch <= "\u9fff")[:6]
        author = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])
        if number % 500 == 0:
            author = "鲁迅"
        language = rng.choice(["zh-Hans", "zh-Hans", "zh-Hant"])
        subjects = rng.sample(SUBJECTS_ZH, rng.randint(1, 3))
    else:
        words = [w.strip(".,;:!?\"'") for w in source[rng.randrange(0, len(source) - 200) :][:200].split()]
        title = " ".join(w for w in words[1:6] if w).title()
        author = f"{rng.choice(ENGLISH_FIRST)} {rng.choice(ENGLISH_LAST)}"
        language = "en"
        subjects = rng.sample(SUBJECTS_EN, rng.randint(1, 3))
    return IngestedBook(
        title=title or f"Book {number}",
        source_format="txt",
        checksum=hashlib.sha256(f"bench-{number}".encode()).hexdigest(),
        source_name=f"book-{number}.txt",
        authors=[author],
        language=language,
        subjects=subjects,
        description=chapters[0].text[:200],
        chapters=chapters,
    )


def fill(db, books: int, *, seed: int = 1, progress: bool = True) -> None:
    """Add synthetic books until the catalogue holds `books` of them."""
    texts = _load_corpus()
    have = db.execute("SELECT count(*) FROM books").fetchone()[0]
    rng = random.Random(seed + have)
    started = time.monotonic()
    for number in range(have, books):
        catalogue.add_book(db, synthetic_book(number, rng, texts))
        if progress and (number + 1) % 5000 == 0:
            rate = (number + 1 - have) / (time.monotonic() - started)
            print(f"  {number + 1} books, {rate:.0f} books/s", file=sys.stderr, flush=True)
    # As `accessible-lib import` leaves a catalogue after a large import: each index in one segment.
    search_index.merge_after(db, max(0, books - have), Settings.index_merge_records)


def time_queries(db, *, repeats: int = 5) -> list[tuple[str, dict, int, list[float]]]:
    """Each query once to warm the cache, then `repeats` timed runs; milliseconds."""
    results = []
    for query, filters in QUERIES:
        found = search.search(db, query, time_limit_ms=60_000, **filters).total
        runs = []
        for _ in range(repeats):
            started = time.perf_counter()
            search.search(db, query, time_limit_ms=60_000, **filters)
            runs.append((time.perf_counter() - started) * 1000)
        results.append((query, filters, found, runs))
    return results


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--books", type=int, default=10_000)
    parser.add_argument("--db", type=Path, help="database file (default: a new temporary one)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    path = args.db or Path(tempfile.mkdtemp(prefix="bench-search-")) / "catalogue.db"
    db = open_database(path)
    db.execute("PRAGMA synchronous = NORMAL")
    started = time.monotonic()
    fill(db, args.books)
    print(f"filled {path} to {args.books} books in {time.monotonic() - started:.0f} s", file=sys.stderr)
    chapters = db.execute("SELECT count(*), sum(length(CAST(text AS BLOB))) FROM chapters").fetchone()
    print(f"{args.books} books, {chapters[0]} chapters, {chapters[1] / 1e6:.0f} MB of chapter text")
    print(f"database file {path.stat().st_size / 1e6:.0f} MB")
    results = time_queries(db, repeats=args.repeats)
    every = []
    for query, filters, found, runs in results:
        every += runs
        shown = " ".join(f"{k}={v}" for k, v in filters.items())
        print(
            f"{query + ' ' + shown:<40} {found:>7} books  "
            f"p50 {statistics.median(runs):7.1f} ms  max {max(runs):7.1f} ms"
        )
    print(f"all queries: p50 {_percentile(every, 0.5):.1f} ms, p95 {_percentile(every, 0.95):.1f} ms")


if __name__ == "__main__":
    main()
