"""The whole hostile folder through the command a librarian runs: clear reasons, nothing half-imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from accessible_lib.db import open_database
from tests.test_hostile import EXPECTED

HOSTILE = Path(__file__).parent / "corpus" / "hostile"


@pytest.mark.slow
def test_import_command_over_every_hostile_file(tmp_path: Path) -> None:
    files = sorted(p for p in HOSTILE.rglob("*") if p.is_file())
    data_dir = tmp_path / "data"
    env = {
        **os.environ,
        "ACCESSIBLE_LIB_DATA_DIR": str(data_dir),
        "HOME": str(tmp_path),
        "TMPDIR": str(tmp_path),
    }
    command = [str(Path(sys.executable).parent / "accessible-lib"), "import", "--json", *map(str, files)]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
    assert "Traceback" not in done.stderr
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["path"] for r in results] == [str(f) for f in files]
    assert done.returncode == 1  # some files are rejected, and the exit code says so
    rejected = [r for r in results if r["status"] == "rejected"]
    imported = [r for r in results if r["status"] == "imported"]
    for result in rejected:
        assert result["reason"] and "\n" not in result["reason"] and result["book_id"] is None
    for result in results:
        name = str(Path(result["path"]).relative_to(HOSTILE))
        if Path(name).suffix != ".epub":  # .zip, .z01, loose XML: not a format the importer takes
            assert result["status"] == "rejected" and "not supported" in result["reason"], name
        else:
            assert result["status"] == EXPECTED[name][0], (name, result)
    db = open_database(data_dir / "catalogue.db")
    assert db.execute("SELECT count(*) FROM books").fetchone()[0] == len(imported)
    kept = sorted(p.name for p in (data_dir / "sources").iterdir())
    assert len(kept) == len(imported)  # an original is kept for each imported book and for nothing else
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data"]  # nothing written beside the data dir
