"""The long book through the queue: War and Peace in every format, built by a real `accessible-lib worker`.

What readers and staff get is an edition made by a queue worker, not by `convert`: this builds each format
of the whole book the way a staff request does (`request_and_enqueue`, the app's queue, a worker process
with one Huey process, whose converters use every core themselves) and times it from the request to the
finished edition. Each result is opened: the files recorded, the chapters found in the output. The three
audio formats of the whole book take several minutes each (the default engine), which is why `make test`
builds them from a slice (tests/test_long_book_editions.py) and this builds them whole.

BENCH_WORKER_CHARS=N takes the first chapters up to N characters (for a quick check of this code);
BENCH_WORKER_FORMATS=brf,pef builds only those formats.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

from ..settings import CHECKOUT, Settings
from .audio import WAR_AND_PEACE

FORMATS = ("html", "txt", "brf", "pef", "mp3", "daisy202", "epub3-mo")
_CHAPTER_PAGE = re.compile(r"(.*/)?chapter-\d+\.html")
TIMEOUT = 3 * 3600  # seconds for one edition


def _slice(path: Path, characters: int, work: Path) -> Path:
    text = path.read_text(encoding="utf-8")
    cut = text.find("\nCHAPTER ", characters)
    if cut < 0:
        return path
    sliced = work / f"{path.stem}-first-{characters}.txt"
    sliced.write_text(text[:cut], encoding="utf-8")
    return sliced


def contents(fmt: str, path: Path) -> str:
    """What the output holds, as a reader's software would find it: chapters or pages."""
    if fmt == "txt":
        return f"{path.stat().st_size / 1e6:.1f} MB of text"
    if fmt == "brf":
        pages = path.read_bytes().count(b"\f") + 1
        return f"{pages:,} pages"
    if fmt == "pef":
        return f"{path.read_bytes().count(b'<page>'):,} pages"
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    if fmt == "html":
        pages = sum(bool(_CHAPTER_PAGE.fullmatch(n)) for n in names)
        return f"{pages} chapter pages"
    if fmt == "mp3":
        return f"{sum(n.endswith('.mp3') for n in names)} chapter MP3s"
    return f"{sum(n.endswith('.smil') for n in names)} chapter SMIL files"


def section(data_dir: Path, environ: dict | None = None) -> list[str]:
    from ..db import open_database
    from ..editions import formats, store
    from ..editions.storage import storage_for
    from ..importer import IMPORTED, import_paths
    from ..jobs.queue import EditionQueue, request_and_enqueue

    environ = os.environ if environ is None else environ
    lines = ["## Every format of the long book through the queue and a real worker", ""]
    if not WAR_AND_PEACE.exists():
        return lines + [f"{WAR_AND_PEACE} is not here: not measured.", ""]
    limit = int(environ.get("BENCH_WORKER_CHARS", "0") or 0)
    chosen = [f.strip() for f in environ.get("BENCH_WORKER_FORMATS", "").split(",") if f.strip()]
    chosen = chosen or list(FORMATS)
    root = data_dir / "worker"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    source = _slice(WAR_AND_PEACE, limit, root) if limit else WAR_AND_PEACE
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSIBLE_LIB_")}
    env["ACCESSIBLE_LIB_DATA_DIR"] = str(root / "data")
    settings = Settings.from_env(env)
    db = open_database(settings.database_path)
    [result] = list(import_paths(db, settings, [source]))
    if result.status != IMPORTED:
        raise RuntimeError(f"{source} was not imported: {result.reason}")
    chapters, characters = db.execute(
        "SELECT count(*), sum(length(text)) FROM chapters WHERE book_id = ?", [result.book_id]
    ).fetchone()
    queue = EditionQueue(settings)
    log_path = root / "worker.log"
    rows = []
    with log_path.open("ab") as log:
        worker = subprocess.Popen(
            [str(Path(sys.executable).parent / "accessible-lib"), "worker", "--workers", "1"],
            env=env,
            cwd=CHECKOUT,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        for name in chosen:
            options = formats.normalise_options(formats.get_format(name), {})
            started = time.monotonic()
            edition_id = request_and_enqueue(db, queue, result.book_id, name, options, requested_by="bench")
            while True:
                row = store.get_edition(db, edition_id)
                if row["status"] in (store.DONE, store.FAILED):
                    break
                if time.monotonic() - started > TIMEOUT or worker.poll() is not None:
                    raise RuntimeError(f"{name}: not built; see {log_path}")
                time.sleep(0.5)
            seconds = time.monotonic() - started
            rows.append((name, seconds, row))
    finally:
        _stop(worker)
    storage = storage_for(settings)
    what = "the whole book" if source == WAR_AND_PEACE else f"its first {chapters} chapters"
    lines += [
        "Command: `make bench` (`accessible_lib.bench.worker`; BENCH_ONLY=worker for only this).",
        f"Input: `tests/corpus/text/en/war-and-peace.txt`, {what} ({chapters} chapters, {characters:,} "
        "characters of chapter text), imported into a fresh catalogue; each format requested with its "
        "default options (as the staff page does), one after another, built by `accessible-lib worker "
        "--workers 1` (the converters use every core themselves). Seconds: from the request to the "
        "finished edition, queue included.",
        "",
        "| format | status | seconds | files | size | what the output holds |",
        "| --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for name, seconds, row in rows:
        if row["status"] != store.DONE or not row["files"]:
            why = f"failed: {row['error']}" if row["status"] != store.DONE else "done, but no files recorded"
            lines.append(f"| {name} | {why} | {seconds:.0f} | | | |")
            continue
        main = storage.path(row["storage_key"]) / row["files"][0]["name"]
        lines.append(
            f"| {name} | done | {seconds:.0f} | {len(row['files'])} | {row['total_bytes'] / 1e6:.1f} MB | "
            f"{contents(name, main)} |"
        )
    db.close()
    failed = [name for name, _, row in rows if row["status"] != store.DONE or not row["files"]]
    lines += [
        "",
        "Every format was built." if not failed else f"**Not built**: {', '.join(failed)}.",
        "",
    ]
    return lines


def _stop(worker: subprocess.Popen) -> None:
    if worker.poll() is None:
        os.killpg(worker.pid, signal.SIGINT)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(worker.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    worker.wait()


def main() -> None:
    print("\n".join(section(CHECKOUT / "var" / "bench")))


if __name__ == "__main__":
    main()
