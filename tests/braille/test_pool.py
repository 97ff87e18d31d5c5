"""braille.pool with real child processes and the real liblouis: the same braille as in-process translation,
in order; a pool inside a daemonic process (where Huey runs jobs); no child outlives its owner."""

from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from braille.pool import TranslationPool
from braille.tables import BrailleError
from braille.translate import PLACEHOLDER, translate

ROOT = Path(__file__).resolve().parent.parent.parent
BATCHES = [
    [("Call me Ishmael.", "en-ueb-g2"), ("The whale was white.", "en-ueb-g1")],
    [("银行行长", "zhcn-cbs"), ("赤壁 😀 之下。", "zhcn-cbs")],
    [],
    *([(f"Chapter {n}: the people of the house were there.", "en-ueb-g2")] for n in range(20)),
]


def test_batches_come_back_in_order_as_in_process_translation() -> None:
    expected = [[translate(text, table) for text, table in batch] for batch in BATCHES]
    with TranslationPool(2) as pool:
        assert len(set(pool.pids)) == 2
        assert list(pool.map(iter(BATCHES))) == expected
    assert expected[1][1].placeholders == 1 and PLACEHOLDER in expected[1][1].braille  # the emoji, counted


def test_a_bad_table_fails_its_batch_and_the_pool_goes_on() -> None:
    with TranslationPool(1) as pool:
        with pytest.raises(BrailleError, match="no braille table"):
            pool.submit([("text", "no-such-table")]).result(timeout=60)
        assert pool.submit([("text", "en-ueb-g1")]).result(timeout=60) == [translate("text", "en-ueb-g1")]


def _in_daemon(results: multiprocessing.Queue) -> None:
    try:
        with TranslationPool(2) as pool:
            results.put([t.braille for [t] in pool.map([[("War and Peace", "en-ueb-g2")]] * 3)])
    except Exception as error:  # the test shows it
        results.put(f"{type(error).__name__}: {error}")


def test_a_pool_works_inside_a_daemonic_process() -> None:
    """Huey's process workers are daemonic; multiprocessing refused them children ("daemonic processes
    are not allowed to have children"), which failed every braille edition of a long book."""
    context = multiprocessing.get_context("spawn")
    results = context.Queue()
    process = context.Process(target=_in_daemon, args=(results,), daemon=True)
    process.start()
    try:
        assert results.get(timeout=120) == [translate("War and Peace", "en-ueb-g2").braille] * 3
    finally:
        process.join(timeout=30)


OWNER = """
import sys, time
from braille.pool import TranslationPool
pool = TranslationPool(2)
print(*pool.pids, flush=True)
pool.submit([("x", "en-ueb-g2")]).result()
print("ready", flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_children_end_when_their_owner_is_killed() -> None:
    owner = subprocess.Popen(
        [sys.executable, "-c", OWNER],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        pids = [int(pid) for pid in owner.stdout.readline().split()]
        assert owner.stdout.readline().strip() == "ready"
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        owner.send_signal(signal.SIGKILL)
        owner.wait(timeout=30)
        owner.stdout.close()
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_alive(pid) for pid in pids), "a braille child outlived the process that started it"


def test_children_keep_jiebas_cache_where_their_owner_does(tmp_path: Path, monkeypatch) -> None:
    """The children segment Chinese with jieba: its cache goes to the owner's cache directory (the data
    directory in the app), and nothing is written to the system's temporary directory."""
    from braille import chinese

    scratch = tmp_path / "tmp"
    scratch.mkdir()
    cache = tmp_path / "cache"
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr(chinese, "_cache_dir", cache)  # as set_cache_dir leaves it, restored afterwards
    with TranslationPool(1) as pool:
        [translation] = pool.submit([("银行行长在长城上。", "zhcn-cbs")]).result(timeout=120)
    assert translation.braille and translation.placeholders == 0
    assert (cache / "jieba.cache").is_file()
    assert list(scratch.iterdir()) == []
