"""Harvested records in the search indexes (issue 12, part 5): the presence index (`book_words`,
search_presence.py) and capped counts serve them as they serve local books, and the harvest's faster
paths (a new record indexed without first being forgotten, `modified_at` written with the row, the staged
JSON hashed as it is) keep the catalogue as the slower ones left it.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import asdict
from pathlib import Path

from accessible_lib import access, search
from accessible_lib.db import open_database
from accessible_lib.harvest import harvest
from accessible_lib.harvest.record import Record, fingerprint
from accessible_lib.settings import Settings

from .test_harvest import FeedServer, OaiRepository, feeds, oai_record  # noqa: F401 (feeds: a fixture)

READER = {"hidden": access.HIDDEN_STATUSES}  # what the search page passes for a reader


def presence(db, word: str) -> set[int]:
    return {r[0] for r in db.execute("SELECT rowid FROM book_words WHERE book_words MATCH ?", [word])}


def found(db, query: str, **options) -> dict[str, int]:
    results = search.search(db, query, **READER, **options)
    return {hit.title: hit.book_id for hit in results.hits}


def book_id(db, remote_id: str) -> int:
    return db.execute("SELECT id FROM books WHERE remote_id = ?", [remote_id]).fetchone()[0]


def test_the_presence_index_follows_harvested_records(tmp_path: Path, feeds: FeedServer) -> None:  # noqa: F811
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    repository = OaiRepository(
        [
            oai_record("oai:h:1", "Lantern Keeper", "Odile Marchbanks", description="A zephyrine diary."),
            oai_record("oai:h:2", "Harbour Songs", "Ann Lee", description="Songs of quillwort and salt."),
            oai_record("oai:h:3", "红楼梦", "曹雪芹", language="zh-Hans"),
        ]
    )
    feeds.routes["/oai"] = repository
    db = open_database(settings.database_path)
    try:
        harvest(db, settings, feeds.url + "/oai")
        first, second = book_id(db, "oai:h:1"), book_id(db, "oai:h:2")
        # A word only in a harvested record's description is in book_words, and the search finds it there.
        assert presence(db, "zephyrine") == {first}
        assert found(db, "zephyrine") == {"Lantern Keeper": first}
        assert found(db, "marchbanks diary") == {"Lantern Keeper": first}  # author and text: two words
        assert presence(db, "红") == {book_id(db, "oai:h:3")}
        assert list(found(db, "红楼")) == ["红楼梦"]

        # Changed at the source: the old word is forgotten, the new one found; deleted: no longer found.
        repository.records = [
            oai_record("oai:h:1", "Lantern Keeper", "Odile Marchbanks", description="A bellwether diary."),
            oai_record("oai:h:2", deleted=True),
        ]
        repository.date = "2026-12-02T09:00:00Z"
        counts = harvest(db, settings, feeds.url + "/oai").counts
        assert counts == {"added": 0, "updated": 1, "deleted": 1, "unchanged": 0}
        assert presence(db, "zephyrine") == set() and found(db, "zephyrine") == {}
        assert found(db, "bellwether") == {"Lantern Keeper": first}
        assert found(db, "quillwort") == {}
        assert second not in {hit.book_id for hit in search.search(db, "harbour songs", **READER).hits}
        # Indexed once each: a book_fts row and a book_words row per record, none left over.
        for table in ("book_fts_docsize", "book_words_docsize"):
            assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 3
    finally:
        db.close()


def test_counts_of_harvested_records_are_capped(tmp_path: Path, feeds: FeedServer) -> None:  # noqa: F811
    """Past the cap a common word among harvested records says "more than", as for local books."""
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    records = [oai_record(f"oai:h:{n}", f"Atlas {n}", "Ann Lee", subject="Maps") for n in range(30)]
    feeds.routes["/oai"] = OaiRepository(records)
    db = open_database(settings.database_path)
    try:
        assert harvest(db, settings, feeds.url + "/oai").counts["added"] == 30
        capped = search.search(db, "atlas", count_cap=10, **READER)
        assert (capped.total, capped.more) == (10, True)
        exact = search.search(db, "atlas", count_cap=30, **READER)
        assert (exact.total, exact.more) == (30, False)
    finally:
        db.close()


def test_a_harvested_row_carries_its_datestamp_and_a_full_reharvest_changes_nothing(
    tmp_path: Path,
    feeds: FeedServer,  # noqa: F811
) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    records = [oai_record(f"oai:h:{n}", f"Atlas {n}", "Ann Lee") for n in range(4)]
    feeds.routes["/oai"] = OaiRepository(records)
    db = open_database(settings.database_path)
    try:
        harvest(db, settings, feeds.url + "/oai")
        stamps = {r[0] for r in db.execute("SELECT modified_at FROM books")}
        assert len(stamps) <= 2 and all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", s) for s in stamps)
        fts_rows = db.execute("SELECT count(*) FROM book_fts").fetchone()[0]
        again = harvest(db, settings, feeds.url + "/oai", full=True).counts
        assert again == {"added": 0, "updated": 0, "deleted": 0, "unchanged": 4}
        assert db.execute("SELECT count(*) FROM book_fts").fetchone()[0] == fts_rows == 4
    finally:
        db.close()


def test_the_fingerprint_is_the_one_earlier_harvests_stored() -> None:
    """Catalogues harvested before keep their hashes: a record unchanged at its source stays unchanged."""
    record = Record(
        "oai:h:1", title="红楼梦", authors=["曹雪芹", "高鹗"], subjects=["小说"],
        identifiers=[["isbn", "9787020002207"], ["url", "https://example.org/1"]],
    )  # fmt: skip
    before = json.dumps(asdict(record), ensure_ascii=False, sort_keys=True)
    assert record.to_json() == before
    assert fingerprint(record.to_json()) == hashlib.sha256(before.encode()).hexdigest()
    assert Record.from_json(record.to_json()) == record


def test_a_beginning_marks_the_words_it_begins_in_every_harvested_hit(
    tmp_path: Path,
    feeds: FeedServer,  # noqa: F811
) -> None:
    """Harvested records have no chapters: each hit's snippet is of its record, made for the whole page
    in one statement when the query has a beginning (`res*`), and the same as one made hit by hit."""
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    words = ["resolve", "restless", "resin", "rest", "research"]
    records = [
        oai_record(f"oai:h:{n}", f"Atlas {n}", "Ann Lee", description=f"A {word} of maps number {n}.")
        for n, word in enumerate(words * 3)
    ]
    records.append(oai_record("oai:h:99", "Atlas 99", "Ann Lee", description="Nothing of that here."))
    feeds.routes["/oai"] = OaiRepository(records)
    db = open_database(settings.database_path)
    try:
        harvest(db, settings, feeds.url + "/oai")
        results = search.search(db, "res*", per_page=20, **READER)
        assert results.total == 15
        for hit in results.hits:
            marked = re.findall(r"<mark>(\w+)</mark>", str(hit.snippet))
            assert marked and all(word.lower().startswith("res") for word in marked), hit.snippet
        whole = search.search(db, "restless", **READER)  # no beginning: one statement a hit
        marked = [re.findall(r"<mark>(\w+)</mark>", str(hit.snippet)) for hit in whole.hits]
        assert marked == [["restless"]] * 3
    finally:
        db.close()


def test_a_beginning_is_asked_in_each_record_as_the_words_fts5_matches_there() -> None:
    """The porter stemmer stems a beginning too (`res*` is `re*`): the words asked for are the ones
    FTS5 itself matches, found with the index's own tokenizer, not the ones spelled with the beginning."""
    from accessible_lib.search_hits import _begun

    texts = {1: ["A Regular Résumé", None, "Ann Lee"], 2: ["Rest and resin", "Dreams"]}
    assert _begun(texts, ['"res" *', '"dream" *']) == {
        '"res" *': ["regular", "resin", "rest", "résumé"],
        '"dream" *': ["dreams"],
    }
