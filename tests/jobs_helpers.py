"""Real worker processes for the job tests: started as `accessible-lib worker`, stopped by process group."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from accessible_lib.settings import CHECKOUT

ACCESSIBLE_LIB = Path(sys.executable).parent / "accessible-lib"
PLUGIN = "tests.jobs_plugin"


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
    process.wait(timeout=15)


def stop_worker(process: subprocess.Popen) -> None:
    """SIGINT first (Huey stops after the running task), the whole group killed if it lingers."""
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(process.pid, signal.SIGKILL)  # leftover children, if any
    except ProcessLookupError:
        pass
    process.wait(timeout=10)


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
        [str(ACCESSIBLE_LIB), *args], env=env, cwd=CHECKOUT, capture_output=True, text=True, timeout=60
    )
