"""Shared fixtures: real SQLite files in tmp_path, the real app, a client over it."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from accessible_lib import catalogue, create_app
from accessible_lib.db import open_database
from accessible_lib.ingest.model import Chapter, IngestedBook, TocEntry
from accessible_lib.settings import Settings

from .mail_server import mailbox  # noqa: F401 (a real SMTP server for tests that send mail)

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings.from_env({}, data_dir=tmp_path / "data")


@pytest.fixture
def db(settings: Settings):
    database = open_database(settings.database_path)
    yield database
    database.close()


@pytest.fixture
def app(settings: Settings):
    return create_app(settings)


@pytest.fixture
def client(app):
    with TestClient(app) as test_client:
        yield test_client


def make_book(title: str, chapters: list[tuple[str, str]], **fields) -> IngestedBook:
    """A small book built in memory; each chapter is (title, plain text)."""
    built = []
    for chapter_title, text in chapters:
        paragraphs = [p for p in text.split("\n\n") if p.strip()]
        html = "".join(f"<p>{p}</p>" for p in paragraphs)
        built.append(Chapter(title=chapter_title, html=html, text="\n\n".join(paragraphs)))
    fields.setdefault("checksum", hashlib.sha256(repr((title, chapters, fields)).encode()).hexdigest())
    fields.setdefault("source_name", f"{title}.txt")
    fields.setdefault("source_format", "txt")
    toc = [TocEntry(title=t, level=1, chapter_index=i) for i, (t, _) in enumerate(chapters)]
    return IngestedBook(title=title, chapters=built, toc=toc, **fields)


@pytest.fixture
def sample_library(db) -> dict[str, int]:
    """An English and a Chinese book, added through the real catalogue code."""
    english = make_book(
        "Moby-Dick",
        [
            ("Loomings", "Call me Ishmael. Some years ago I thought I would sail.\n\nThe whale was white."),
            ("The Carpet-Bag", "I stuffed a shirt or two into my old carpet-bag."),
            ("The Spouter-Inn", "Entering that gable-ended Spouter-Inn, you found yourself in a wide hall."),
        ],
        authors=["Herman Melville"],
        language="en",
        subjects=["Whaling", "Sea stories"],
    )
    chinese = make_book(
        "红楼梦",
        [
            ("第一回 甄士隐梦幻识通灵", "此开卷第一回也。作者自云：因曾历过一番梦幻之后。"),
            ("第二回 贾夫人仙逝扬州城", "诗云：一局输赢料不真，香销茶尽尚逡巡。"),
        ],
        authors=["曹雪芹"],
        language="zh-Hans",
        subjects=["古典小说"],
    )
    return {"en": catalogue.add_book(db, english), "zh": catalogue.add_book(db, chinese)}


# Seconds one xdist worker spends on each of the longest modules (`--durations=60` summed per module, `make
# test`'s options, 2 cores, Orca's tests running alongside). Only the order matters: it need not be exact.
LONGEST_MODULES = {
    "tests/test_browser_axe.py": 210,
    "tests/test_audio_corpus.py": 170,
    "tests/test_braille_editions.py": 150,
    "tests/test_long_book_editions.py": 140,
    "tests/test_browser_staff.py": 125,
    "tests/test_security.py": 35,
    "tests/voices/test_epub3mo.py": 30,
    "tests/test_jobs.py": 25,
}


def pytest_collection_modifyitems(config, items):
    """On xdist workers, hand out the longest modules first, then those marked slow, then the rest; among
    equals, the module with most tests first.

    `make test` keeps each module on one worker (`--dist loadfile --no-loadscope-reorder`) and gives a worker
    the next module in this order when it is nearly done. xdist's own order (most tests first) left the
    long modules with few tests (the axe crawls, the long book) for last, when one worker ran them while
    the other sat idle; longest first, the short modules fill in at the end. A plain `pytest` run keeps
    the usual order.
    """
    if not hasattr(config, "workerinput"):
        return
    counts: dict[str, int] = {}
    slow: set[str] = set()
    for item in items:
        module = item.nodeid.partition("::")[0]
        counts[module] = counts.get(module, 0) + 1
        if item.get_closest_marker("slow"):
            slow.add(module)

    def cost(item) -> tuple[int, bool, int]:
        module = item.nodeid.partition("::")[0]
        return (-LONGEST_MODULES.get(module, 0), module not in slow, -counts[module])

    items.sort(key=cost)  # stable: a module's tests stay together and in their order


def hold_every_turn(client, limiter_name: str, turns: int) -> tuple:
    """Take every turn of one of the app's page limiters (`search_turns`, `chapter_turns`), after checking
    it has `turns` (the setting); returns it and the holders, for `release_on_behalf_of`. The app must have
    started (a page already asked for)."""
    limiter = client.app_state[limiter_name]
    assert limiter.total_tokens == turns
    holders = [object() for _ in range(turns)]
    for holder in holders:
        client.portal.call(limiter.acquire_on_behalf_of, holder)
    return limiter, holders
