"""pyttsx3 (over libespeak-ng) as a speech engine, kept in a child process it cannot take down with it.

pyttsx3 2.99 has defects that each end a long job (docs/TOOLCHAIN.md): `runAndWait()` can return before the
WAV is complete, long unpunctuated input segfaults the process, its cached engine hangs when shared,
espeak-ng sometimes returns an empty utterance under load, and an unknown voice is silently ignored. So:

- the engine lives in a child process started with `python -m voices.pyttsx3_engine`, one engine per child
  and one request at a time (a lock in the parent). A plain subprocess rather than `multiprocessing` because
  edition jobs run in Huey's daemonic worker processes, which `multiprocessing` does not allow to have
  children;
- every request has a time limit; a child that times out, crashes or dies is killed and replaced, and the
  request is retried on the new child;
- the child waits for espeak-ng to finish (`_espeak.Synchronize()`, then the driver's speaking flag) before
  reading the file, and empty audio is retried;
- text is cut at sentence and clause boundaries into short pieces, well below the length that overflows the
  `len(text) * 10` buffer and before the buffer concatenation turns quadratic;
- the child's standard output is /dev/null ("Audio saved to ..." prints); replies go over a private pipe;
- voice names are checked against the engine's own list before anything is spoken.
"""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import tempfile
import threading
import time
import wave
import weakref
from collections.abc import Callable
from typing import Any, BinaryIO

from voices.engine import Audio, SpeechError, Voice, check_rate, child_env, join_audio, resolve_voice
from voices.text import split_for_synthesis

_WORD = re.compile(r"\w")


class _WorkerLost(Exception):
    """The child timed out, crashed or closed its pipe: it must be replaced."""


class Pyttsx3Engine:
    name = "pyttsx3"

    def __init__(
        self,
        *,
        timeout: float = 20.0,
        seconds_per_char: float = 0.02,
        max_chars: int = 400,
        retries: int = 2,
        python: str = sys.executable,
        workdir: str | os.PathLike[str] | None = None,
    ) -> None:
        """`workdir` is where the child writes each utterance's WAV before reading it back (pyttsx3 speaks
        to a file only); None means the system temporary directory."""
        self.timeout = timeout
        self.seconds_per_char = seconds_per_char
        self.max_chars = max_chars
        self.retries = retries
        self.python = python
        self.workdir = None if workdir is None else os.fspath(workdir)
        self.restarts = 0  # children replaced after a crash, hang or empty audio (for logs and tests)
        self._lock = threading.Lock()
        self._state: dict[str, Any] = {"proc": None}
        self._buffer = bytearray()
        self._voices: list[Voice] | None = None
        self._finalizer = weakref.finalize(self, _stop_worker, self._state)

    # --- public interface ----------------------------------------------------------------------------------

    def voices(self) -> list[Voice]:
        if self._voices is None:
            with self._lock:
                header, _ = self._request_with_retries({"op": "voices"}, self.timeout)
            self._voices = [Voice(v["id"], v["name"], tuple(v["languages"])) for v in header["voices"]]
        return list(self._voices)

    def synthesize(self, text: str, *, voice: str, rate: int) -> Audio:
        voice_id = resolve_voice(voice, self.voices())
        check_rate(rate)
        clips = [self._speak(piece, voice_id, rate) for piece in split_for_synthesis(text, self.max_chars)]
        if not clips:
            return Audio(b"", 22050)
        return join_audio(clips)

    def close(self) -> None:
        with self._lock:
            _stop_worker(self._state)

    def __enter__(self) -> Pyttsx3Engine:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    @property
    def worker_pid(self) -> int | None:
        """The current child's process id (None before the first request), for supervisors and tests."""
        proc = self._state["proc"]
        return proc.pid if proc is not None and proc.poll() is None else None

    # --- one piece of text ---------------------------------------------------------------------------------

    def _speak(self, piece: str, voice: str, rate: int) -> Audio:
        request = {"op": "speak", "text": piece, "voice": voice, "rate": rate}
        limit = self.timeout + self.seconds_per_char * len(piece)
        with self._lock:
            for attempt in range(self.retries + 1):
                header, pcm = self._request_with_retries(request, limit)
                audio = Audio(pcm, header["sample_rate"])
                if audio.samples or not _WORD.search(piece):
                    return audio
                if attempt:  # a second empty result: start from a fresh libespeak-ng
                    self._replace_worker()
        raise SpeechError(f"no audio for {piece[:40]!r} after {self.retries + 1} attempts")

    def _request_with_retries(self, request: dict[str, Any], limit: float) -> tuple[dict[str, Any], bytes]:
        error: Exception | None = None
        for _ in range(self.retries + 1):
            try:
                header, payload = self._request(request, limit)
            except _WorkerLost as lost:
                error = lost
                self._replace_worker()
                continue
            if not header.get("ok"):
                raise SpeechError(f"{self.name} failed: {header.get('error')}")
            return header, payload
        raise SpeechError(f"{self.name} worker failed {self.retries + 1} times: {error}") from error

    # --- the child process ---------------------------------------------------------------------------------

    worker_module = "voices.pyttsx3_engine"  # run as the child: `python -m voices.pyttsx3_engine`

    def _worker(self) -> subprocess.Popen[bytes]:
        proc = self._state["proc"]
        if proc is None or proc.poll() is not None:
            if proc is not None:
                self.restarts += 1
            env = child_env()
            proc = subprocess.Popen(
                [self.python, "-m", self.worker_module, *([self.workdir] if self.workdir else [])],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                env=env,
            )
            self._state["proc"] = proc
            self._buffer.clear()
        return proc

    def _replace_worker(self) -> None:
        _stop_worker(self._state, graceful=False)
        self._state["proc"] = None
        self.restarts += 1

    def _request(self, request: dict[str, Any], limit: float) -> tuple[dict[str, Any], bytes]:
        proc = self._worker()
        assert proc.stdin is not None and proc.stdout is not None
        deadline = time.monotonic() + limit
        try:
            proc.stdin.write(json.dumps(request).encode("utf-8") + b"\n")
            proc.stdin.flush()
        except (BrokenPipeError, OSError) as error:
            raise _WorkerLost(f"could not write to the worker: {error}") from error
        fd = proc.stdout.fileno()
        line = self._read_until_newline(fd, deadline)
        header = json.loads(line)
        payload = self._read_exact(fd, header.get("bytes", 0), deadline)
        return header, payload

    def _fill(self, fd: int, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
            raise _WorkerLost("the worker did not answer in time")
        chunk = os.read(fd, 1 << 20)
        if not chunk:
            raise _WorkerLost("the worker exited")
        self._buffer += chunk

    def _read_until_newline(self, fd: int, deadline: float) -> bytes:
        while (end := self._buffer.find(b"\n")) < 0:
            self._fill(fd, deadline)
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        return line

    def _read_exact(self, fd: int, size: int, deadline: float) -> bytes:
        while len(self._buffer) < size:
            self._fill(fd, deadline)
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data


def _stop_worker(state: dict[str, Any], graceful: bool = True) -> None:
    proc: subprocess.Popen[bytes] | None = state.get("proc")
    state["proc"] = None
    if proc is None:
        return
    if graceful and proc.poll() is None and proc.stdin is not None:
        try:
            proc.stdin.close()
            proc.wait(timeout=2)
        except (OSError, subprocess.TimeoutExpired):
            pass
    if proc.poll() is None:
        proc.kill()
    proc.wait()
    for stream in (proc.stdin, proc.stdout):
        if stream is not None:
            try:
                stream.close()
            except OSError:
                pass


# --- inside the child -------------------------------------------------------------------------------------


def worker_main() -> None:
    """The pyttsx3 child: pyttsx3's own API (`save_to_file`, `runAndWait`) over its espeak driver."""
    replies = quiet_stdout()
    import pyttsx3
    from pyttsx3.drivers import _espeak

    engine = pyttsx3.init("espeak")
    driver = engine.proxy._driver
    _poll_faster(sys.modules[type(driver).__module__])
    workdir = tempfile.mkdtemp(prefix="voices-pyttsx3-", dir=sys.argv[1] if len(sys.argv) > 1 else None)
    path = os.path.join(workdir, "piece.wav")
    try:
        speak = lambda request: _speak_to_pcm(engine, driver, _espeak, path, request)  # noqa: E731
        serve(replies, lambda: _list_voices(engine), speak)
    finally:
        if os.path.exists(path):
            os.unlink(path)
        os.rmdir(workdir)


def quiet_stdout() -> BinaryIO:
    """The original stdout, for replies; fd 1 itself now goes to /dev/null (pyttsx3's "Audio saved to"
    prints, and anything libespeak-ng writes), so nothing but replies reaches the parent's pipe."""
    replies = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - lives as long as the process
    return replies


def serve(
    replies: BinaryIO,
    voices: Callable[[], list[dict[str, Any]]],
    speak: Callable[[dict[str, Any]], tuple[bytes, int]],
) -> None:
    """Answer requests, one JSON line each, with a JSON line plus raw PCM, until stdin closes."""

    def reply(header: dict[str, Any], payload: bytes = b"") -> None:
        replies.write(json.dumps({**header, "bytes": len(payload)}).encode("utf-8") + b"\n")
        replies.write(payload)
        replies.flush()

    for line in sys.stdin.buffer:
        request = json.loads(line)
        try:
            if request["op"] == "voices":
                reply({"ok": True, "voices": voices()})
            else:
                pcm, sample_rate = speak(request)
                reply({"ok": True, "sample_rate": sample_rate}, pcm)
        except Exception as error:  # reported to the parent, which decides; the child stays usable
            reply({"ok": False, "error": f"{type(error).__name__}: {error}"})


class _FastPollClock:
    """The `time` module as pyttsx3's espeak driver sees it, with its run loop's poll shortened to 1 ms."""

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, 0.001))

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)


def _poll_faster(driver_module: Any) -> None:
    """pyttsx3's driver loop sleeps 10 ms between polls for the end of an utterance, so every sentence waited
    up to 10 ms more than its synthesis took: 2.0 s of 3.1 s for 200 sentences (cProfile), 8.2 s against
    5.3 s for 400 with a 1 ms poll. Waiting in `_espeak.Synchronize()` instead was slower still: libespeak-ng
    polls every 20 ms there."""
    driver_module.time = _FastPollClock()


def _list_voices(engine: Any) -> list[dict[str, Any]]:
    voices = []
    for voice in engine.getProperty("voices"):
        languages = [lang for lang in (voice.languages or []) if lang and lang != "Unknown"]
        voice_id = languages[0] if languages else voice.id
        voices.append({"id": voice_id, "name": voice.name, "languages": languages or [voice_id]})
    return voices


def _speak_to_pcm(
    engine: Any, driver: Any, espeak: Any, path: str, request: dict[str, Any]
) -> tuple[bytes, int]:
    if os.path.exists(path):
        os.unlink(path)
    espeak.Synchronize()  # nothing of the previous request may still be running when settings change
    apply_settings(espeak, request["voice"], request["rate"])
    engine.save_to_file(request["text"], path)
    engine.runAndWait()
    espeak.Synchronize()  # runAndWait can return early (pyttsx3 #219): wait for libespeak-ng itself
    while driver._speaking or not os.path.exists(path):
        time.sleep(
            0.002
        )  # the WAV is written by the callback at the end of the message; the parent times out
    with wave.open(path, "rb") as wav:
        return wav.readframes(wav.getnframes()), wav.getframerate()


def apply_settings(espeak: Any, voice: str, rate: int) -> None:
    """Set voice and rate directly and check them.

    Through pyttsx3's command queue (`engine.setProperty`) a setting was sometimes silently lost or applied a
    request late (its queue swallows the error): 21 of 60 alternating requests came back in the wrong voice
    or at the wrong rate. The voice is set by its espeak-ng file name, which is unambiguous, unlike "en-gb".
    """
    identifier = _identifiers(espeak)[voice]
    for _ in range(5):
        espeak.SetVoiceByName(identifier.encode("utf-8"))
        espeak.SetParameter(espeak.RATE, rate, 0)
        current = espeak.GetCurrentVoice()
        current_id = current.contents.identifier.decode("utf-8") if current else ""
        if current_id == identifier and espeak.GetParameter(espeak.RATE) == rate:
            return
        espeak.Synchronize()
    raise RuntimeError(f"libespeak-ng did not accept voice {voice!r} at rate {rate}")


_IDENTIFIERS: dict[str, str] = {}


def _identifiers(espeak: Any) -> dict[str, str]:
    if not _IDENTIFIERS:
        for voice in espeak.ListVoices(None):
            identifier = voice.identifier.decode("utf-8")
            language = (voice.languages or b"")[1:].decode("utf-8", "ignore")
            _IDENTIFIERS.setdefault(language or identifier.lower(), identifier)
    return _IDENTIFIERS


if __name__ == "__main__":
    worker_main()
