"""`accessible-lib fill-marks` (cli/fill_marks.py): a catalogue whose chapters have no kept marks, as one made
before m031_chapter_marks, gets every chapter's row; run again it writes nothing; given book ids it fills
only those; `--after` goes on from a book id. Through click's runner on a real catalogue file."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from accessible_lib.cli import main
from accessible_lib.db import open_database

CORPUS = Path(__file__).parent / "corpus"
BOOKS = [
    CORPUS / "text" / "zh" / "zh-chibifu-su-shi.txt",
    CORPUS / "epub" / "en" / "pg17192-poe-the-raven-epub2.epub",
]


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Two imported books whose kept marks were then dropped, as in a catalogue made before they were kept."""
    env = {"ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data")}
    result = CliRunner().invoke(main, ["import", *map(str, BOOKS)], env=env)
    assert result.exit_code == 0, result.output
    with _db(env) as db:
        assert _kept(db) == _chapters(db) > 0  # imports keep their own books' marks
        db.execute("DELETE FROM chapter_marks")
    return env


class _db:
    def __init__(self, env: dict[str, str]) -> None:
        self.db = open_database(Path(env["ACCESSIBLE_LIB_DATA_DIR"]) / "catalogue.db")

    def __enter__(self):
        self.db.conn.execute("BEGIN")
        return self.db

    def __exit__(self, *exc) -> None:
        self.db.conn.commit()
        self.db.close()


def _kept(db, book_id: int | None = None) -> int:
    where, args = ("WHERE book_id = ?", [book_id]) if book_id else ("", [])
    return db.execute(f"SELECT count(*) FROM chapter_marks {where}", args).fetchone()[0]


def _chapters(db, book_id: int | None = None) -> int:
    where, args = ("WHERE book_id = ?", [book_id]) if book_id else ("", [])
    return db.execute(f"SELECT count(*) FROM chapters {where}", args).fetchone()[0]


def _book_ids(db) -> list[int]:
    return [row[0] for row in db.execute("SELECT id FROM books ORDER BY id")]


def test_every_chapter_is_kept_once(env: dict[str, str]) -> None:
    runner = CliRunner()
    first = runner.invoke(main, ["fill-marks", "--batch", "1"], env=env)
    assert first.exit_code == 0, first.output
    with _db(env) as db:
        total, ids = _chapters(db), _book_ids(db)
        assert _kept(db) == total
    assert len(first.output.splitlines()) == 2  # one line a batch of one book
    assert f"{total} chapters marked, last book {ids[-1]}" in first.output.splitlines()[-1]
    again = runner.invoke(main, ["fill-marks"], env=env)
    assert again.exit_code == 0, again.output
    assert "0 chapters marked" in again.output  # current rows are not written again


def test_given_books_and_after_fill_only_those(env: dict[str, str]) -> None:
    with _db(env) as db:
        first, second = _book_ids(db)
    runner = CliRunner()
    assert runner.invoke(main, ["fill-marks", str(second)], env=env).exit_code == 0
    with _db(env) as db:
        assert _kept(db, first) == 0 and _kept(db, second) == _chapters(db, second)
        db.execute("DELETE FROM chapter_marks")
    assert runner.invoke(main, ["fill-marks", "--after", str(first)], env=env).exit_code == 0
    with _db(env) as db:
        assert _kept(db, first) == 0 and _kept(db, second) == _chapters(db, second)
