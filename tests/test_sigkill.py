"""A worker killed with SIGKILL mid-job: nothing half-made is visible, and the job comes back and completes.

Huey does not redeliver a task whose worker was killed (coleifer/huey#559); the edition's lease does. This
kills a real `accessible-lib worker` process group while it converts, then starts a new worker, whose
start-up recovery finds the expired lease and queues the edition again.
"""

from __future__ import annotations

import hashlib
import json
import signal

from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.storage import PUBLISHED_DIR, storage_for
from accessible_lib.settings import Settings

from .jobs_helpers import (
    WAIT,
    add_books,
    edition,
    kill_group,
    run_cli,
    running_worker,
    start_worker,
    wait_for,
    worker_env,
)

LEASE = 2  # seconds: a short lease so the dead worker's is found expired quickly


def test_sigkill_mid_job_leaves_nothing_partial_and_the_job_completes(tmp_path):
    env = worker_env(tmp_path / "data", lease_seconds=LEASE)
    settings = Settings.from_env(env)
    book_id = add_books(settings)["en"]
    log_path = tmp_path / "worker.log"
    storage = storage_for(settings)

    requested = run_cli(
        env,
        "editions",
        "request",
        str(book_id),
        "--format",
        "test-slow",
        "--option",
        "steps=40",
        "--option",
        "delay=0.1",
        "--json",
    )
    assert requested.returncode == 0, requested.stderr
    edition_id = json.loads(requested.stdout)["edition_id"]
    key = str(edition_id)

    worker = start_worker(env, log_path, workers=1)
    try:
        running = wait_for(
            lambda: (
                (row := edition(settings, edition_id))["status"] == store.RUNNING
                and (row["progress"] or 0) > 0
                and row
            ),
            timeout=WAIT,
            what="the slow edition to run with progress",
            log_path=log_path,
        )
        assert running["progress"] < 100
        workspaces = [p for p in settings.editions_dir.iterdir() if p.name.startswith(".work-")]
        assert workspaces and any(w.iterdir() for w in workspaces), "the job is writing its workspace"
    finally:
        kill_group(worker, signal.SIGKILL)
    assert worker.returncode == -signal.SIGKILL

    # Nothing partial is visible: not done, no files recorded, nothing published under the key.
    row = edition(settings, edition_id)
    assert row["status"] == store.RUNNING and row["files"] == [] and row["storage_key"] is None
    assert not storage.exists(key)
    assert not storage.path(key).exists() and not storage.path(key).is_symlink()
    assert not (settings.editions_dir / PUBLISHED_DIR).exists() or not any(
        (settings.editions_dir / PUBLISHED_DIR).iterdir()
    )

    # The dead worker's lease runs out; the edition's own state brings the job back.
    db = open_database(settings.database_path, migrate=False)
    try:
        wait_for(lambda: edition_id in store.expired_leases(db), timeout=WAIT, what="the lease to expire")
    finally:
        db.close()
    with running_worker(env, log_path, workers=1):
        done = wait_for(
            lambda: (r := edition(settings, edition_id))["status"] == store.DONE and r,
            timeout=WAIT,
            what="the edition to be rebuilt by the new worker",
            log_path=log_path,
        )
    assert done["attempts"] == 2 and done["error"] is None and storage.exists(key)
    (record,) = done["files"]
    data = (storage.path(key) / record["name"]).read_bytes()
    assert len(data) == record["size"]
    assert hashlib.sha256(data).hexdigest() == record["sha256"]
    # Whole: all 40 steps of every chapter, not the killed attempt's few.
    assert data.decode().count("Loomings") == 40 and data.decode().startswith("0: Loomings")
