"""A worker on another machine: what one worker makes per hour, and what its upload costs per hour of audio.

The figures docs/scaling.md plans with. Everything is real and on loopback: a redis-server, the web app as
`accessible-lib serve` (one process) with its own data directory, and an `accessible-lib worker` with
another, which gets only the Redis URL, the web app's URL and the key. A slice of War and Peace is requested
as an MP3 edition with the default options (the default engine), as staff would; the worker builds it on its
own disk and uploads it (jobs/uploader.py). Then the same files are uploaded once more from this process
alone, so that the upload's own time and CPU (client and web app) are measured apart from the conversion.

BENCH_REMOTE_CHARS=N: the slice (default 320,000 characters, the audio section's).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from ..settings import CHECKOUT, Settings
from .audio import WAR_AND_PEACE, _descendants
from .server import free_port
from .worker import _slice

SECRET = "bench-remote-worker-shared-key"
TIMEOUT = 1800
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def tree_cpu_seconds(root: int) -> float:
    """User + system time of a process and its live descendants, with the children it has waited for."""
    total = 0
    for pid in _descendants(root):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(value) for value in fields[11:15])  # utime stime cutime cstime
    return total / CLOCK_TICKS


def _start(args: list[str], env: dict, log: Path) -> subprocess.Popen:
    with log.open("ab") as out:
        return subprocess.Popen(
            args, env=env, cwd=CHECKOUT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _wait_until(check, what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        time.sleep(0.1)


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


def section(data_dir: Path, environ: dict | None = None) -> list[str]:
    from ..db import open_database
    from ..editions import store
    from ..editions.storage import storage_for
    from ..importer import IMPORTED, import_paths
    from ..jobs.queue import EditionQueue, request_and_enqueue
    from ..jobs.reporters import HttpReporter
    from ..jobs.uploader import UploadStorage

    environ = os.environ if environ is None else environ
    lines = ["## Remote conversion: one machine's throughput and the cost of its upload", ""]
    redis = shutil.which("redis-server")
    if not WAR_AND_PEACE.exists() or not redis:
        return lines + ["War and Peace or redis-server is not here: not measured.", ""]
    limit = int(environ.get("BENCH_REMOTE_CHARS", "320000") or 0)
    root = data_dir / "remote"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    source = _slice(WAR_AND_PEACE, limit, root) if limit else WAR_AND_PEACE
    base = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    redis_port, web_port = free_port(), free_port()
    redis_url = f"redis://127.0.0.1:{redis_port}/0"
    web_url = f"http://127.0.0.1:{web_port}"
    web_env = {
        **base,
        "ACCESSIBLE_LIB_DATA_DIR": str(root / "web"),
        "ACCESSIBLE_LIB_REDIS_URL": redis_url,
        "ACCESSIBLE_LIB_SECRET_KEY": SECRET,
        "ACCESSIBLE_LIB_PORT": str(web_port),
        "ACCESSIBLE_LIB_WEB_PROCESSES": "1",
    }
    worker_env = {
        **base,
        "ACCESSIBLE_LIB_DATA_DIR": str(root / "worker"),
        "ACCESSIBLE_LIB_REDIS_URL": redis_url,
        "ACCESSIBLE_LIB_REPORT_URL": web_url,
        "ACCESSIBLE_LIB_SECRET_KEY": SECRET,
    }
    settings = Settings.from_env(web_env)
    db = open_database(settings.database_path)
    [result] = list(import_paths(db, settings, [source]))
    if result.status != IMPORTED:
        raise RuntimeError(f"{source} was not imported: {result.reason}")
    chapters, characters = db.execute(
        "SELECT count(*), sum(length(text)) FROM chapters WHERE book_id = ?", [result.book_id]
    ).fetchone()
    command = str(Path(sys.executable).parent / "accessible-lib")
    processes = [
        _start(
            [redis, "--port", str(redis_port), "--bind", "127.0.0.1", "--save", "", "--dir", str(root)],
            base,
            root / "redis.log",
        )
    ]
    try:
        web = _start([command, "serve"], web_env, root / "web.log")
        processes.append(web)
        _wait_until(lambda: _answers(web_url + "/"), "the web app")
        worker = _start([command, "worker", "--workers", "1"], worker_env, root / "worker.log")
        processes.append(worker)
        log = root / "worker.log"
        _wait_until(lambda: "consumer started" in log.read_text(errors="replace"), "the worker to start")

        # 1. End to end: the request, the conversion on the worker's disk, the upload, the publication.
        load_before = Path("/proc/loadavg").read_text().split()[0]
        worker_cpu_before = tree_cpu_seconds(worker.pid)
        started = time.monotonic()
        edition_id = request_and_enqueue(db, EditionQueue(settings), result.book_id, "mp3", {}, "bench")
        while (row := store.get_edition(db, edition_id))["status"] not in (store.DONE, store.FAILED):
            if time.monotonic() - started > TIMEOUT or worker.poll() is not None:
                raise RuntimeError(f"the edition was not built; see {root / 'worker.log'}")
            time.sleep(0.1)
        finished = time.monotonic()
        worker_cpu = tree_cpu_seconds(worker.pid) - worker_cpu_before
        load_after = Path("/proc/loadavg").read_text().split()[0]
        if row["status"] != store.DONE:
            raise RuntimeError(f"the edition failed: {row['error']}")
        hours = sum(f.get("seconds") or 0 for f in row["files"]) / 3600
        total_mb = row["total_bytes"] / 1e6
        end_to_end = finished - started

        # 2. The upload alone: the same files, from this process, into an attempt of another edition.
        other, _ = store.request_edition(db, result.book_id, "txt", {})
        claim = HttpReporter(web_url, SECRET).claim(other, lease_seconds=600)
        client_settings = Settings.from_env({**worker_env, "ACCESSIBLE_LIB_DATA_DIR": str(root / "client")})
        uploader = UploadStorage(client_settings)
        published = storage_for(settings).path(row["storage_key"])
        server_before, cpu_before, wall_before = (
            tree_cpu_seconds(web.pid),
            time.process_time(),
            time.monotonic(),
        )
        uploader.upload(published, other, claim.token, row["files"])
        server_sent, cpu_sent, wall_sent = tree_cpu_seconds(web.pid), time.process_time(), time.monotonic()
        committed = uploader.commit(other, claim.token, storage_key=str(other), files=row["files"])
        server_after, wall_after = tree_cpu_seconds(web.pid), time.monotonic()
        if not committed:
            raise RuntimeError("the second upload was not committed")
    finally:
        for process in reversed(processes):
            _stop(process)
        db.close()

    send_s, commit_s = wall_sent - wall_before, wall_after - wall_sent
    client_cpu = cpu_sent - cpu_before
    server_send, server_commit = server_sent - server_before, server_after - server_sent
    what = "the whole book" if source == WAR_AND_PEACE else f"its first {chapters} chapters"
    per_hour = 1 / hours
    lines += [
        "Command: `BENCH_ONLY=remote make bench` (`accessible_lib.bench.remote`; BENCH_REMOTE_CHARS=N for "
        "another slice).",
        f"Input: `tests/corpus/text/en/war-and-peace.txt`, {what} ({chapters} chapters, {characters:,} "
        "characters), requested as an MP3 edition with the default options (default engine). A real "
        "redis-server, `accessible-lib serve` (1 process) and `accessible-lib worker --workers 1` on "
        "loopback, three data directories; the worker has only the Redis URL, the web app's URL and the key, "
        "and uploads in the default 8 MiB chunks. The upload alone: the same files sent again from the "
        "benchmark process (one thread) into another edition's attempt; CPU of the web app is its process "
        "tree's, of the client its own.",
        "",
        f"Load average (1 min) when the request was made: {load_before}; when the edition was done: "
        f"{load_after} (the machine is shared: wall times under load are longer than the CPU allows).",
        "",
        "| request to published, upload included | audio | realtime factor | edition | worker CPU | "
        "worker CPU per hour of audio |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {end_to_end:.1f} s | {hours:.2f} h | {hours * 3600 / end_to_end:.0f}x | {total_mb:.1f} MB "
        f"({len(row['files'])} files) | {worker_cpu:.1f} s | {worker_cpu / hours:.1f} s |",
        "",
        "| the upload alone | send | commit (checks every sha256, publishes) | MB/s | client CPU | web app "
        "CPU, send | web app CPU, commit |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {total_mb:.1f} MB | {send_s:.2f} s | {commit_s:.2f} s | {total_mb / (send_s + commit_s):.0f} | "
        f"{client_cpu:.2f} s | {server_send:.2f} s | {server_commit:.2f} s |",
        f"| per hour of audio ({total_mb * per_hour:.1f} MB) | {send_s * per_hour:.3f} s | "
        f"{commit_s * per_hour:.3f} s | | {client_cpu * per_hour:.3f} s | {server_send * per_hour:.3f} s | "
        f"{server_commit * per_hour:.3f} s |",
        "",
    ]
    return lines
