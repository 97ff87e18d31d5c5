"""A full disk during a conversion: the edition fails with words staff can act on, nothing half-written.

The disk is real: the worker runs in a mount namespace of its own (`unshare`, no privileges needed where
user namespaces are enabled, as on Debian) with a 64 KiB tmpfs over the editions directory, so its writes
fail with ENOSPC from the kernel, as on a full server. The catalogue and the queue stay on the test's disk,
where the failure is recorded.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from accessible_lib import catalogue
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.storage import storage_for
from accessible_lib.jobs.queue import EditionQueue, request_and_enqueue
from accessible_lib.settings import CHECKOUT, Settings

from .conftest import make_book
from .jobs_helpers import ACCESSIBLE_LIB, WAIT, edition, stop_worker, wait_for, worker_env

pytestmark = pytest.mark.slow

FULL = (
    "The disk is full: the edition could not be written, and nothing of it was kept. "
    "Free some space on the server, then make the edition again."
)


def start_worker_on_a_small_disk(env: dict[str, str], editions: Path, log_path: Path) -> subprocess.Popen:
    unshare = shutil.which("unshare")
    assert unshare, "unshare (util-linux) is needed to give the worker a small disk of its own"
    script = 'mount -t tmpfs -o size=64k tmpfs "$1" && exec "$2" worker --workers 1'
    with log_path.open("ab") as log:
        return subprocess.Popen(
            [unshare, "--user", "--map-root-user", "--mount", "sh", "-c", script, "sh", str(editions),
             str(ACCESSIBLE_LIB)],
            env=env,
            cwd=CHECKOUT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )  # fmt: skip


def test_a_full_disk_fails_the_edition_plainly_and_leaves_nothing_written(tmp_path: Path) -> None:
    env = worker_env(tmp_path / "data", max_attempts=1, lease_seconds=3)
    settings = Settings.from_env(env)
    db = open_database(settings.database_path)
    text = "\n\n".join(f"Paragraph {n}: the whale sang to the sea all night long." for n in range(6000))
    book_id = catalogue.add_book(db, make_book("Too Big For The Disk", [("One", text)]))
    settings.editions_dir.mkdir(parents=True, exist_ok=True)
    log_path = tmp_path / "worker.log"
    worker = start_worker_on_a_small_disk(env, settings.editions_dir, log_path)
    try:
        edition_id = request_and_enqueue(db, EditionQueue(settings), book_id, "txt", {})
        failed = wait_for(
            lambda: (row := edition(settings, edition_id))["status"] == store.FAILED and row,
            timeout=WAIT,
            what="the edition to fail on the full disk",
            log_path=log_path,
        )
        assert failed["error"] == FULL
        assert failed["files"] == [] and failed["storage_key"] is None
        # Nothing half-written on the full disk, as the worker sees it: no workspace, no edition.
        full_disk = Path(f"/proc/{worker.pid}/root") / str(settings.editions_dir).lstrip("/")
        assert worker.poll() is None, log_path.read_text()
        assert os.listdir(full_disk) == []
    finally:
        stop_worker(worker)
        db.close()
    assert not storage_for(settings).exists(str(edition_id))
    assert os.listdir(settings.editions_dir) == []  # and nothing on the test's own disk either
