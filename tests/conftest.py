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
