"""Translation on every core: one plain child process per core, each with its own liblouis.

liblouis is not thread-safe (translate.py holds one lock), so a long book is translated in child processes.
They are plain subprocesses (`python -m braille.pool`), not `multiprocessing`: edition jobs run inside Huey's
worker processes, which are daemonic, and a daemonic process may not start a `multiprocessing` pool
("daemonic processes are not allowed to have children").

The protocol is a JSON header line each way, followed by the batch's strings joined into one payload of
`size` bytes, cut again by their `lengths` (code points). A request is a batch (a chapter's paragraphs):
`{"segment": bool, "tables": [...], "lengths": [...], "size": n}` and the texts in UTF-8; the reply is
`{"ok": true, "lengths": [...], "placeholders": [...], "size": n}` and the braille in UTF-16-LE, or
`{"ok": false, "error": "..."}` and nothing. The texts and the braille are never JSON strings: escaping and
unescaping every character, and the braille as 3-byte UTF-8, cost War and Peace 0.3 G instructions in the
parent (callgrind), more than its pipe copies; joined, they are encoded and decoded at memory speed.

Two threads per child in the parent, one writing batches and one reading replies, so a child is never blocked
on a full pipe while the parent is; batches come back in the order they were given. The writer keeps the
child's next batch already in its pipe (IN_FLIGHT batches per child): a child that has answered goes straight
on, without waiting for a parent thread to get the GIL back from the layout (with one batch at a time, War and
Peace's children stood idle 6% of the time).

A child lives only as long as its stdin: when the parent exits, is killed, or closes the pool, the pipe
closes and the child ends after the batches in hand (a write to the closed pipe ends it too). Nothing is left
behind when a worker is killed mid-job, without signals or process groups.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future
from pathlib import Path

from . import chinese
from .tables import BrailleError
from .translate import Translation

_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)
Batch = list[tuple[str, str]]  # (text, table) pairs
IN_FLIGHT = 2  # batches written to a child and not yet answered: the one in hand and the next
READINGS_ENV = "ACCESSIBLE_BRAILLE_ZH_READINGS"  # chinese.set_readings in each child, as JSON


class PoolError(RuntimeError):
    """A child process died or answered nonsense; the message says which."""


class TranslationPool:
    """`processes` children translating batches in order: `for result in pool.map(batches)`."""

    def __init__(self, processes: int, *, segment_words: bool = True, python: str = sys.executable):
        self.segment_words = segment_words
        self._tasks: queue.Queue = queue.Queue()
        self._children: list[subprocess.Popen] = []
        self._threads: list[threading.Thread] = []
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
        env[READINGS_ENV] = json.dumps(chinese.readings(), ensure_ascii=False)  # the pronunciation dictionary
        try:
            for _ in range(max(1, processes)):
                child = subprocess.Popen(
                    # jieba's cache where this process keeps it (the data directory), not in /tmp
                    [
                        python,
                        "-m",
                        "braille.pool",
                        *([str(chinese.cache_dir())] if chinese.cache_dir() else []),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    stderr=subprocess.DEVNULL,
                    env=env,
                )
                self._children.append(child)
                answers: queue.Queue = queue.Queue()  # futures of the batches written, in order
                slots = threading.Semaphore(IN_FLIGHT)
                for target in (self._feed, self._collect):
                    thread = threading.Thread(target=target, args=(child, answers, slots), daemon=True)
                    thread.start()
                    self._threads.append(thread)
        except BaseException:
            self.close()
            raise

    @property
    def pids(self) -> list[int]:
        return [child.pid for child in self._children]

    def submit(self, batch: Batch) -> Future:
        future: Future = Future()
        self._tasks.put((future, batch))
        return future

    def map(self, batches: Iterable[Batch], *, ahead: int = IN_FLIGHT + 1) -> Iterator[list[Translation]]:
        """Each batch's translations, in order, with at most `ahead` batches per child in flight, so a
        whole book is never held in memory."""
        pending: deque[Future] = deque()
        limit = ahead * len(self._children)
        for batch in batches:
            pending.append(self.submit(batch))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def close(self) -> None:
        """Stop the children (closing their stdin ends them) and the threads; unanswered batches fail."""
        while True:
            try:
                future, _ = self._tasks.get_nowait()
            except queue.Empty:
                break
            future.cancel()
        for _ in self._children:
            self._tasks.put(None)  # one per writer; each tells its reader
        for child in self._children:
            _close(child.stdin)
        for child in self._children:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        for thread in self._threads:
            thread.join(timeout=5)
        for child in self._children:
            _close(child.stdout)

    def __enter__(self) -> TranslationPool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _feed(self, child: subprocess.Popen, answers: queue.Queue, slots: threading.Semaphore) -> None:
        """One child's writer: a batch into its pipe whenever it has fewer than IN_FLIGHT to answer."""
        assert child.stdin is not None
        try:
            while True:
                slots.acquire()
                if (task := self._tasks.get()) is None:
                    return
                future, batch = task
                if not future.set_running_or_notify_cancel():
                    slots.release()
                    continue
                try:
                    child.stdin.write(_framed(self.segment_words, batch))
                    child.stdin.flush()
                except (OSError, ValueError) as error:  # ValueError: the pool closed the pipe meanwhile
                    future.set_exception(PoolError(f"the braille process {child.pid} is gone: {error}"))
                    slots.release()
                    continue
                answers.put(future)
        finally:
            answers.put(None)

    def _collect(self, child: subprocess.Popen, answers: queue.Queue, slots: threading.Semaphore) -> None:
        """One child's reader: each reply to the future of its batch, in the order they were written."""
        while (future := answers.get()) is not None:
            try:
                future.set_result(self._reply(child))
            except BaseException as error:
                future.set_exception(error)
            slots.release()

    def _reply(self, child: subprocess.Popen) -> list[Translation]:
        assert child.stdout is not None
        try:
            line = child.stdout.readline()
        except (OSError, ValueError) as error:  # ValueError: the pool closed the pipe meanwhile
            raise PoolError(f"the braille process {child.pid} is gone: {error}") from error
        if not line:
            raise PoolError(f"the braille process {child.pid} exited (code {child.poll()})")
        reply = json.loads(line)
        if not reply.get("ok"):
            raise BrailleError(reply.get("error") or "the braille process failed")
        payload = child.stdout.read(reply["size"])
        if len(payload) != reply["size"]:
            raise PoolError(f"the braille process {child.pid} exited mid-reply (code {child.poll()})")
        braille = _cut(payload.decode(_REPLY_ENCODING, _ERRORS), reply["lengths"])
        return [Translation(b, p) for b, p in zip(braille, reply["placeholders"], strict=True)]


_REQUEST_ENCODING, _REPLY_ENCODING = "utf-8", "utf-16-le"  # text is mostly ASCII; braille is U+2800-U+283F
_ERRORS = "surrogatepass"  # a lone surrogate in a book's text reaches translate (which drops it) intact


def _framed(segment: bool, batch: Batch) -> bytes:
    """A request: its header line, then the texts joined."""
    texts = [text for text, _ in batch]
    payload = "".join(texts).encode(_REQUEST_ENCODING, _ERRORS)
    header = {
        "segment": segment,
        "tables": [table for _, table in batch],
        "lengths": [len(text) for text in texts],
        "size": len(payload),
    }
    return json.dumps(header).encode("ascii") + b"\n" + payload


def _cut(joined: str, lengths: list[int]) -> list[str]:
    """The strings that were joined into `joined`, by their lengths."""
    pieces, start = [], 0
    for length in lengths:
        pieces.append(joined[start : start + length])
        start += length
    if start != len(joined):
        raise PoolError(f"a batch of {start} characters came with {len(joined)}")
    return pieces


def _close(stream) -> None:
    if stream is not None:
        try:
            stream.close()
        except OSError:
            pass


# --- inside the child -------------------------------------------------------------------------------------


def worker_main() -> None:
    """Answer batches until stdin closes. Replies go to the original stdout; fd 1 itself goes to /dev/null,
    so nothing a library prints can corrupt the protocol."""
    from .translate import translate

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C to the worker's group: the worker decides
    if len(sys.argv) > 1:
        chinese.set_cache_dir(sys.argv[1])
    chinese.set_readings(json.loads(os.environ.get(READINGS_ENV) or "{}"))
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    requests = sys.stdin.buffer
    while line := requests.readline():
        request = json.loads(line)
        payload = requests.read(request["size"])
        if len(payload) != request["size"]:
            return  # the parent is gone mid-request
        try:
            texts = _cut(payload.decode(_REQUEST_ENCODING, _ERRORS), request["lengths"])
            done = [
                translate(text, table, segment_words=request["segment"])
                for text, table in zip(texts, request["tables"], strict=True)
            ]
            payload_out = "".join(t.braille for t in done).encode(_REPLY_ENCODING, _ERRORS)
            reply = {
                "ok": True,
                "lengths": [len(t.braille) for t in done],
                "placeholders": [t.placeholders for t in done],
                "size": len(payload_out),
            }
        except Exception as error:  # the parent raises it for the job; this process stays usable
            payload_out = b""
            reply = {"ok": False, "error": str(error) or type(error).__name__}
        try:
            replies.write(json.dumps(reply, ensure_ascii=False).encode("utf-8") + b"\n" + payload_out)
            replies.flush()
        except BrokenPipeError:  # the parent is gone
            return


if __name__ == "__main__":
    worker_main()
