"""The default library (content/), imported as `make run` imports it, for tests of what readers find in it."""

from __future__ import annotations

from pathlib import Path

from accessible_lib.db import open_database
from accessible_lib.importer import IMPORTED, import_paths
from accessible_lib.settings import Settings

CONTENT = Path(__file__).parent.parent / "content"


def import_default_library(data_dir: Path) -> tuple[Settings, dict[str, int]]:
    """Settings for a new catalogue in `data_dir` holding every book of content/; the books' ids by title."""
    settings = Settings.from_env({}, data_dir=data_dir)
    db = open_database(settings.database_path)
    try:
        results = list(import_paths(db, settings, [CONTENT]))
    finally:
        db.close()
    assert results and all(r.status == IMPORTED for r in results), [r.reason for r in results]
    return settings, {r.title: r.book_id for r in results}
