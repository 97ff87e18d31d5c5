"""The schema's history is the registration order of its migrations, spread over several modules: a fresh
catalogue must be built in exactly the order existing catalogues were, whatever the modules' import order."""

from __future__ import annotations

from accessible_lib.db import open_database
from accessible_lib.migrations import migrations

HISTORY = [
    "m001_catalogue",
    "m002_search",
    "m003_edition_jobs",
    "m004_staff",
    "m005_chapter_audio_files",
    "m006_chapters_from_contents",
    "m007_readers",
    "m007_reader_passkeys",
    "m008_rights",
    "m009_identifiers",
    "m010_downloads",
    "m011_shelf",
    "m012_security",
    "m013_eligibility",
    "m014_calibre",
    "m015_search_fold",
    "m016_oai",
    "m017_harvest",
    "m018_reading_prefs",
    "m020_stats",
    "m023_pronunciations",
    "m026_scale",
    "m027_harvest_jobs",
    "m029_search",
    "m028_pages",
    "m030_zh_pairs",
    "m031_chapter_marks",
    "m032_search",
]


def test_released_migrations_keep_their_order():
    names = [m.name for m in migrations._migrations]
    assert names[: len(HISTORY)] == HISTORY
    assert len(set(names)) == len(names)


def test_a_fresh_catalogue_records_every_migration_in_order(tmp_path):
    db = open_database(tmp_path / "catalogue.db")
    applied = [row["name"] for row in db.query("select name from _sqlite_migrations order by id")]
    assert applied == [m.name for m in migrations._migrations]
    assert applied[: len(HISTORY)] == HISTORY
