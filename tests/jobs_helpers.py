"""Real worker processes for the job tests: started as `accessible-lib worker`, stopped by process group."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from accessible_lib import catalogue
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.storage import storage_for
from accessible_lib.settings import CHECKOUT, Settings

from .conftest import make_book

ACCESSIBLE_LIB = Path(sys.executable).parent / "accessible-lib"
PLUGIN = "tests.jobs_plugin"
# How long a test waits for a worker to do something. Waits end as soon as it is done, so this is only
# reached when something is broken: far above the seconds it takes, with room for a busy machine.
WAIT = 120


def worker_env(data_dir: Path, **settings: object) -> dict[str, str]:
    """The environment of a worker: this checkout importable (for the test plugin), settings as variables."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(CHECKOUT), env.get("PYTHONPATH")]))
    env["ACCESSIBLE_LIB_DATA_DIR"] = str(data_dir)
    env["ACCESSIBLE_LIB_PLUGINS"] = PLUGIN
    for name, value in settings.items():
        env[f"ACCESSIBLE_LIB_{name.upper()}"] = str(value)
    return env


def start_worker(env: dict[str, str], log_path: Path, *, workers: int = 1) -> subprocess.Popen:
    """A worker in a process group of its own, so that a test can kill it with all its children."""
    log = log_path.open("ab")
    try:
        return subprocess.Popen(
            [str(ACCESSIBLE_LIB), "worker", "--workers", str(workers)],
            env=env,
            cwd=CHECKOUT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    finally:
        log.close()


def kill_group(process: subprocess.Popen, sig: int = signal.SIGKILL) -> None:
    try:
        os.killpg(process.pid, sig)
    except ProcessLookupError:
        pass
    process.wait(timeout=60)


def stop_worker(process: subprocess.Popen) -> None:
    """SIGINT first (Huey stops after the running task), the whole group killed if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # leftover children, if any
    except ProcessLookupError:
        pass
    process.wait(timeout=60)


@contextmanager
def running_worker(env: dict[str, str], log_path: Path, *, workers: int = 1) -> Iterator[subprocess.Popen]:
    process = start_worker(env, log_path, workers=workers)
    try:
        yield process
    finally:
        stop_worker(process)


def wait_for(
    condition: Callable[[], object], *, timeout: float, what: str, log_path: Path | None = None
) -> object:
    """Poll until `condition()` is truthy; fail with the worker's log when it never is."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            log = log_path.read_text(errors="replace")[-4000:] if log_path and log_path.exists() else ""
            raise AssertionError(f"timed out after {timeout} s waiting for {what}\n--- worker log ---\n{log}")
        time.sleep(0.05)


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(ACCESSIBLE_LIB), *args], env=env, cwd=CHECKOUT, capture_output=True, text=True, timeout=WAIT
    )


def add_books(settings: Settings) -> dict[str, int]:
    db = open_database(settings.database_path)
    try:
        english = make_book(
            "Moby-Dick",
            [("Loomings", "Call me Ishmael.\n\nThe whale was white."), ("The Carpet-Bag", "A shirt or two.")],
            authors=["Herman Melville"],
            language="en",
        )
        chinese = make_book(
            "红楼梦", [("第一回", "此开卷第一回也。")], authors=["曹雪芹"], language="zh-Hans"
        )
        return {"en": catalogue.add_book(db, english), "zh": catalogue.add_book(db, chinese)}
    finally:
        db.close()


def edition(settings: Settings, edition_id: int) -> dict:
    db = open_database(settings.database_path, migrate=False)
    try:
        return store.get_edition(db, edition_id)
    finally:
        db.close()


def assert_published_whole(settings: Settings, row: dict) -> None:
    """Every recorded file is in the storage with the recorded size and checksum."""
    storage = storage_for(settings)
    assert row["storage_key"] == str(row["id"])
    assert storage.exists(row["storage_key"])
    assert row["files"], "a done edition lists its files"
    for record in row["files"]:
        data = (storage.path(row["storage_key"]) / record["name"]).read_bytes()
        assert len(data) == record["size"] and data
        assert hashlib.sha256(data).hexdigest() == record["sha256"]
    assert row["total_bytes"] == sum(f["size"] for f in row["files"])
