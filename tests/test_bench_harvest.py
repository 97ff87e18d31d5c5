"""The union-catalogue bench (accessible_lib.bench.harvest): its quiet window is taken and given back as
the shared machine's rules ask, and a tiny run goes through the real feed, harvest, search and wrk."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from accessible_lib.bench import harvest as bench_harvest


def test_the_quiet_window_waits_for_another_holder_and_removes_only_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    quiet = tmp_path / "QUIET"
    environ = {"BENCH_QUIET_FILE": str(quiet), "BENCH_QUIET_NAME": "union"}
    with bench_harvest.quiet_window(environ):
        assert quiet.read_text() == "union\n"
    assert not quiet.exists()

    # Held by someone else: wait (without writing it) until they let go, then hold it.
    monkeypatch.setattr(bench_harvest, "QUIET_POLL_SECONDS", 0.05)
    quiet.write_text("pages\n")
    threading.Timer(0.3, quiet.unlink).start()
    with bench_harvest.quiet_window(environ):
        assert quiet.read_text() == "union\n"
        quiet.write_text("pages\n")  # taken over meanwhile (by hand): not ours to remove
    assert quiet.read_text() == "pages\n"


def test_a_tiny_union_catalogue_is_harvested_searched_and_reported(tmp_path: Path) -> None:
    environ = {
        "BENCH_HARVEST_RECORDS": "300",
        "BENCH_HARVEST_RATE_RECORDS": "200",
        "BENCH_HARVEST_SECONDS": "1",
        "BENCH_HARVEST_DIR": str(tmp_path / "harvest"),
        **{k: v for k, v in os.environ.items() if k == "PATH"},
    }
    lines = bench_harvest.section(tmp_path, environ)
    text = "\n".join(lines)
    assert lines[0] == "## Union catalogue at 1.5 million records"
    assert "Catalogue: 300 harvested records held and 0 local books" in text
    assert "this run harvested 300 records into it" in text
    assert "Short of the size asked for" not in text  # 300 of 300 asked
    assert "200 records of one library in a fresh catalogue" in text

    # Measured again without filling: the catalogue says how it was filled, from its harvest runs.
    text = "\n".join(bench_harvest.section(tmp_path, {**environ, "BENCH_HARVEST_FILL": "0"}))
    assert "it was filled earlier by 1 complete harvest run (one a library) over" in text
