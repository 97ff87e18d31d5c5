"""The `accessible-lib` command, through click's runner and once as a real process."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from accessible_lib.cli import main
from accessible_lib.db import open_database
from accessible_lib.settings import SETTINGS

CORPUS = Path(__file__).parent / "corpus"
CHIBIFU = CORPUS / "text" / "zh" / "zh-chibifu-su-shi.txt"
RAVEN = CORPUS / "epub" / "en" / "pg17192-poe-the-raven-epub2.epub"
CHECKOUT = Path(__file__).parent.parent


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def shelf(tmp_path: Path) -> Path:
    folder = tmp_path / "shelf"
    folder.mkdir()
    shutil.copyfile(CHIBIFU, folder / "chibifu.txt")
    shutil.copyfile(RAVEN, folder / "raven.epub")
    (folder / "broken.txt").write_bytes(b"\x00\xff\x00binary" * 20)
    return folder


def _books(data_dir: Path) -> list[str]:
    db = open_database(data_dir / "catalogue.db")
    try:
        return [row[0] for row in db.execute("SELECT title FROM books ORDER BY title")]
    finally:
        db.close()


def test_import_summary_and_exit_code(env: dict[str, str], shelf: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", str(shelf)], env=env)
    assert result.exit_code == 1  # one file was rejected
    assert "2 imported, 0 duplicates, 1 rejected" in result.output
    assert f"{shelf / 'broken.txt'}: The file holds binary data, not text." in result.output
    assert _books(tmp_path / "data") == ["The Raven", "赤壁赋"]


def test_import_without_a_path_imports_the_content_dir(
    env: dict[str, str], shelf: Path, tmp_path: Path
) -> None:
    (shelf / "broken.txt").unlink()
    result = CliRunner().invoke(main, ["import"], env={**env, "ACCESSIBLE_LIB_CONTENT_DIR": str(shelf)})
    assert result.exit_code == 0, result.output
    assert "2 imported, 0 duplicates, 0 rejected" in result.output
    assert _books(tmp_path / "data") == ["The Raven", "赤壁赋"]


def test_duplicates_are_not_rejections(env: dict[str, str], tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(CHIBIFU)], env=env).exit_code == 0
    again = runner.invoke(main, ["import", str(CHIBIFU)], env=env)
    assert again.exit_code == 0
    assert "0 imported, 1 duplicate, 0 rejected" in again.output
    quiet = runner.invoke(main, ["import", "--skip-duplicates", str(CHIBIFU)], env=env)
    assert quiet.exit_code == 0
    assert "duplicate" not in quiet.output


def test_import_json(env: dict[str, str], shelf: Path) -> None:
    result = CliRunner().invoke(main, ["import", "--json", str(shelf)], env=env)
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [(Path(r["path"]).name, r["status"]) for r in records] == [
        ("broken.txt", "rejected"),
        ("chibifu.txt", "imported"),
        ("raven.epub", "imported"),
    ]
    keys = {"path", "status", "book_id", "title", "language", "chapter_count", "reason"}
    assert all(set(r) == keys for r in records)
    assert records[1]["title"] == "赤壁赋" and records[1]["language"] == "zh-Hans"


def test_skip_duplicates_in_json(env: dict[str, str]) -> None:
    runner = CliRunner()
    runner.invoke(main, ["import", "--json", str(CHIBIFU)], env=env)
    result = runner.invoke(main, ["import", "--json", "--skip-duplicates", str(CHIBIFU)], env=env)
    assert result.exit_code == 0
    assert result.stdout == ""


def test_rights_option(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["import", "--rights", "restricted", str(CHIBIFU)], env=env)
    assert result.exit_code == 0
    db = open_database(tmp_path / "data" / "catalogue.db")
    try:
        assert db.execute("SELECT rights FROM books").fetchone()[0] == "restricted"
    finally:
        db.close()
    bad = CliRunner().invoke(main, ["import", "--rights", "secret", str(CHIBIFU)], env=env)
    assert bad.exit_code == 2


def test_settings_lists_every_setting(env: dict[str, str], tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["settings"], env=env)
    assert result.exit_code == 0
    for setting in SETTINGS:
        assert f"ACCESSIBLE_LIB_{setting.name.upper()}=" in result.output
        assert setting.help in result.output
    assert f"ACCESSIBLE_LIB_DATA_DIR={tmp_path / 'data'}" in result.output


def test_real_process_import_json(env: dict[str, str], shelf: Path) -> None:
    executable = Path(sys.executable).parent / "accessible-lib"
    if not executable.exists():
        executable = CHECKOUT / ".venv" / "bin" / "accessible-lib"
    completed = subprocess.run(
        [str(executable), "import", "--json", str(shelf)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 1, completed.stderr
    records = [json.loads(line) for line in completed.stdout.splitlines()]
    assert [r["status"] for r in records] == ["rejected", "imported", "imported"]
    again = subprocess.run(
        [str(executable), "import", "--json", str(shelf / "chibifu.txt")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert again.returncode == 0
    assert json.loads(again.stdout)["status"] == "duplicate"


def _segments(data_dir: Path, tables: tuple[str, ...]) -> dict[str, int]:
    db = open_database(data_dir / "catalogue.db")
    try:
        return {t: db.execute(f"SELECT count(DISTINCT segid) FROM {t}_idx").fetchone()[0] for t in tables}
    finally:
        db.close()


@pytest.mark.parametrize("merge_books, segments_left", [(1, "one"), (10_000, "several")])
def test_a_large_import_merges_the_search_indexes(
    env: dict[str, str], shelf: Path, tmp_path: Path, merge_books: int, segments_left: str
) -> None:
    """An import of at least `index_merge_records` books leaves each search index in one segment
    (search_index.merge_after); a smaller one leaves FTS5's segments, one or more a book, as they are."""
    env = {**env, "ACCESSIBLE_LIB_INDEX_MERGE_RECORDS": str(merge_books)}
    runner = CliRunner()
    assert runner.invoke(main, ["import", str(shelf / "raven.epub")], env=env).exit_code == 0
    assert runner.invoke(main, ["import", str(shelf / "chibifu.txt")], env=env).exit_code == 0
    counts = _segments(tmp_path / "data", ("book_fts", "book_words", "chapter_fts"))
    if segments_left == "one":
        assert counts == {"book_fts": 1, "book_words": 1, "chapter_fts": 1}
    else:
        assert min(counts.values()) > 1, counts
    assert _books(tmp_path / "data") == ["The Raven", "赤壁赋"]
