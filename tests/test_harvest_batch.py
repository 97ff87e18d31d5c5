"""The harvest's batched apply (harvest/batch.py) leaves the catalogue and its search indexes as the
record-by-record path left them: the same rows and ids, and index rows equal to what `search.index_book`
writes for each book and to what a full rebuild of the index writes.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from accessible_lib import access, search
from accessible_lib.db import open_database
from accessible_lib.harvest import harvest, store
from accessible_lib.settings import Settings

from .test_harvest import FeedServer, OaiRepository, feeds, oai_record  # noqa: F401 (feeds: a fixture)

READER = {"hidden": access.HIDDEN_STATUSES}
QUERIES = ["lantern", "marchbanks", "红楼", "hongloumeng", "hlm", "曹雪芹", "maps", "zephyrine", "atlas 3",
           "鲁迅", "呐喊", "nahan", "lee", "diary", "quill*", "水浒", "古典小说", "石头记", "shitouji",
           "foghorn", "bellwether", "back again"]  # fmt: skip


def records(day: int) -> list[str]:
    """A feed of English and Chinese records, several authors and subjects (given out of order), one
    listed twice (changed in between: the second is the one kept), one deleted."""
    feed = [
        oai_record("oai:b:1", "Lantern Keeper", "Odile Marchbanks", description="A zephyrine diary."),
        oai_record("oai:b:2", "红楼梦", "曹雪芹", language="zh-Hans", subject="古典小说"),
        oai_record("oai:b:3", "Atlas 3", "Ann Lee", subject="Maps"),
        oai_record("oai:b:4", "呐喊", "鲁迅", language="zh-Hans", description="狂人日记 孔乙己"),
        oai_record("oai:b:5", "水浒传", "施耐庵", language="zh-Hant", publisher="中华书局"),
        oai_record("oai:b:3", "Atlas 3, second edition", "Ann Lee", subject="Maps"),
        oai_record("oai:b:6", deleted=True),
    ]
    for n in range(7, 30):
        feed.append(
            oai_record(
                f"oai:b:{n}",
                f"Quillwort Harbour {n}",
                f"Ann Lee {n}</dc:creator><dc:creator>Bo Li",  # two of each, the subjects not in order
                subject=["Zoology", "Botany", "Atlas"][n % 3] + "</dc:subject><dc:subject>Almanac",
                description=f"Notes of day {day}.",
            )
        )
    if day == 2:  # changed (a new title, a new description), deleted, and brought back
        feed[1] = oai_record("oai:b:2", "石头记", "曹雪芹", language="zh-Hans", subject="古典小说")
        feed[0] = oai_record(
            "oai:b:1", "Lantern Keeper", "Odile Marchbanks", description="A bellwether diary."
        )
        feed[3] = oai_record("oai:b:4", deleted=True)
        feed[6] = oai_record("oai:b:6", "Back Again", "Ann Lee")
    return feed


def index_state(db) -> dict:
    """Every row the record indexes hold, and what the search finds."""
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.words_vocab USING fts5vocab(main, book_words, instance)"
    )
    state = {
        "book_fts": db.execute("SELECT rowid, * FROM book_fts ORDER BY rowid").fetchall(),
        "book_pairs": db.execute("SELECT rowid, * FROM book_pairs ORDER BY rowid").fetchall(),
        "search_words": db.execute("SELECT word FROM search_words ORDER BY word").fetchall(),
        "book_words": db.execute("SELECT term, doc FROM temp.words_vocab ORDER BY term, doc").fetchall(),
    }
    for query in QUERIES:
        results = search.search(db, query, **READER)
        state[query] = (results.total, [(hit.book_id, hit.title) for hit in results.hits])
    return state


def catalogue_rows(db) -> tuple:
    return tuple(
        db.execute(f"SELECT {columns} FROM {table} ORDER BY 1, 2, 3").fetchall()
        for table, columns in (
            ("books", "id, remote_id, title, description, rights, rights_status, harvest_hash, checksum, "
                      "harvest_deleted_at IS NULL"),
            ("book_authors", "book_id, position, name, role"),
            ("book_subjects", "book_id, subject, 1"),
            ("book_identifiers", "book_id, scheme, value"),
        )
    )  # fmt: skip


def test_batched_indexes_equal_record_by_record_indexing_and_a_rebuild(
    tmp_path: Path,
    feeds: FeedServer,  # noqa: F811
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    repository = OaiRepository(records(1))
    feeds.routes["/oai"] = repository
    db = open_database(settings.database_path)
    try:
        first = harvest(db, settings, feeds.url + "/oai").counts
        assert first == {"added": 28, "updated": 1, "deleted": 0, "unchanged": 0}
        assert db.execute("SELECT title FROM books WHERE remote_id = 'oai:b:3'").fetchone()[0] == (
            "Atlas 3, second edition"
        )
        authors = "SELECT position, name FROM book_authors JOIN books ON id = book_id WHERE remote_id = ?"
        assert db.execute(authors, ["oai:b:7"]).fetchall() == [(0, "Ann Lee 7"), (1, "Bo Li")]
        for day in (1, 2):
            if day == 2:
                with db.conn:  # a chapter a librarian attached: that record is re-indexed on its own
                    book_id = db.execute("SELECT id FROM books WHERE remote_id = 'oai:b:1'").fetchone()[0]
                    db.execute(
                        "INSERT INTO chapters (book_id, position, title, text) VALUES (?, 1, 'Foghorn', ?)",
                        [book_id, "The foghorn sounded twice."],
                    )
                    search.index_book(db, book_id)
                repository.records = records(2)
                repository.date = "2026-12-02T09:00:00Z"
                again = harvest(db, settings, feeds.url + "/oai", full=True).counts
                # oai:b:3 is listed twice, each unlike the one before it: two changes; 23 changed notes.
                assert again == {"added": 1, "updated": 27, "deleted": 1, "unchanged": 1}
            batched = index_state(db)
            assert batched["book_fts"] and batched["book_pairs"] and batched["book_words"]
            db.close()  # indexed again on a fresh connection, as the harvest's own would be
            db = open_database(settings.database_path)
            for (book_id,) in db.execute("SELECT id FROM books ORDER BY id").fetchall():
                with db.conn:  # each book indexed again on its own, as the harvest did before batches
                    search.index_book(db, book_id)
            assert index_state(db) == batched
            db.close()
            db = open_database(settings.database_path)
            search.reindex_all(db)  # and from scratch
            assert index_state(db) == batched
            db.execute("INSERT INTO book_words (book_words) VALUES ('integrity-check')")
        assert {h.title for h in search.search(db, "bellwether", **READER).hits} == {"Lantern Keeper"}
        assert search.search(db, "zephyrine", **READER).hits == []  # its old description
        assert {h.title for h in search.search(db, "foghorn", **READER).hits} == {"Lantern Keeper"}
        for old_title in ("红楼梦", "hongloumeng", "hlm"):  # changed: found by its new title only
            assert search.search(db, old_title, **READER).hits == []
        assert {h.title for h in search.search(db, "shitouji", **READER).hits} == {"石头记"}
        assert search.search(db, "呐喊", **READER).hits == []  # deleted, and stays so
        assert search.search(db, "nahan", **READER).hits == []
        assert {h.title for h in search.search(db, "back again", **READER).hits} == {"Back Again"}
    finally:
        db.close()


@pytest.mark.parametrize("day", [1, 2])
def test_batches_of_any_size_write_the_same_catalogue(
    tmp_path: Path,
    feeds: FeedServer,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
    day: int,
) -> None:
    """One record a batch is the record-by-record path's order of writes; a whole feed in one batch must
    give the same rows, ids and index."""
    outcomes = []
    for size in (1, 7, 1000):
        monkeypatch.setattr(store, "BATCH", size)
        settings = Settings.from_env({}, data_dir=tmp_path / f"data-{size}")
        repository = OaiRepository(records(1))
        feeds.routes["/oai"] = repository
        db = open_database(settings.database_path)
        try:
            counts = [harvest(db, settings, feeds.url + "/oai").counts]
            if day == 2:
                repository.records = records(2)
                repository.date = "2026-12-02T09:00:00Z"
                counts.append(harvest(db, settings, feeds.url + "/oai", full=True).counts)
            outcomes.append((counts, catalogue_rows(db), index_state(db)))
        finally:
            db.close()
    assert outcomes[0] == outcomes[1] == outcomes[2]


@pytest.mark.parametrize("merge_records, segments_left", [(1, "one"), (10_000, "several")])
def test_a_large_harvest_merges_the_record_indexes(
    tmp_path: Path,
    feeds: FeedServer,  # noqa: F811
    merge_records: int,
    segments_left: str,
) -> None:
    """A run that changes at least `index_merge_records` records leaves each record index in one
    segment (search_index.merge_after); a smaller one leaves FTS5's segments as they are. Found the same."""
    env = {"ACCESSIBLE_LIB_INDEX_MERGE_RECORDS": str(merge_records)}
    settings = Settings.from_env(env, data_dir=tmp_path / "data")
    repository = OaiRepository(records(1))
    feeds.routes["/oai"] = repository
    db = open_database(settings.database_path)
    try:
        harvest(db, settings, feeds.url + "/oai")
        repository.records = records(2)
        repository.date = "2026-12-02T09:00:00Z"
        harvest(db, settings, feeds.url + "/oai", full=True)
        tables = ("book_fts", "book_words", "book_pairs")
        counts = {t: db.execute(f"SELECT count(DISTINCT segid) FROM {t}_idx").fetchone()[0] for t in tables}
        if segments_left == "one":
            assert counts == dict.fromkeys(tables, 1)
        else:
            assert min(counts.values()) > 1, counts
        assert {h.title for h in search.search(db, "bellwether", **READER).hits} == {"Lantern Keeper"}
        assert {h.title for h in search.search(db, "shitouji", **READER).hits} == {"石头记"}
        assert search.search(db, "呐喊", **READER).hits == []
    finally:
        db.close()
