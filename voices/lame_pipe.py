"""MP3 encoding in a `lame` process, so chapters spoken at once are also encoded at once.

lameenc holds the GIL while it encodes (measured: four threads encoding took four times as long as one), so
in one Python process every chapter's encoding queued on one core, and encoding costs more CPU than speech
synthesis. A `lame` process per chapter encodes on whichever core is free, while the thread that feeds it
waits for the next sentence; a 1 MB pipe (about 23 s of speech) lets the two overlap.

The interface is Mp3Writer's: samples are counted as they are written, so clip times never depend on the MP3.
`lame` also writes a LAME/Xing header, from which players (and mutagen) take the exact length.
"""

from __future__ import annotations

import fcntl
import shutil
import subprocess
from pathlib import Path

BYTES_PER_SAMPLE = 2  # 16-bit signed little-endian mono PCM
LAME = "lame"
_PIPE_SIZE = 1 << 20


def lame_available(program: str = LAME) -> bool:
    return shutil.which(program) is not None


class LamePipeWriter:
    """Mono PCM in, an MP3 file out, encoded by a `lame -r` child as the audio arrives."""

    def __init__(
        self,
        path: Path | str,
        sample_rate: int,
        *,
        bitrate: int = 64,
        quality: int = 7,
        program: str = LAME,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.samples = 0
        self._odd = b""
        command = [program, "--silent", "-r", "-s", f"{sample_rate / 1000:g}", "--bitwidth", "16"]
        command += ["--signed", "--little-endian", "-m", "m", "-b", str(bitrate), "-q", str(quality)]
        self._process = subprocess.Popen(
            [*command, "-", str(self.path)], stdin=subprocess.PIPE, stderr=subprocess.PIPE
        )
        try:
            fcntl.fcntl(self._process.stdin.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:  # a lower /proc/sys/fs/pipe-max-size: the default pipe works, with less overlap
            pass
        self._closed = False

    def write(self, pcm: bytes) -> int:
        """Send `pcm` to the encoder and return the number of whole samples it added."""
        if self._closed:
            raise ValueError("write to a closed LamePipeWriter")
        data = self._odd + bytes(pcm)
        whole = len(data) - len(data) % BYTES_PER_SAMPLE
        self._odd = data[whole:]
        if whole:
            try:
                self._process.stdin.write(data[:whole])
            except BrokenPipeError:
                self._fail()
        added = whole // BYTES_PER_SAMPLE
        self.samples += added
        return added

    def write_silence(self, samples: int) -> int:
        return self.write(bytes(samples * BYTES_PER_SAMPLE))

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    def close(self) -> int:
        """Wait for the MP3 to be complete; returns the samples written (an odd byte is dropped)."""
        if not self._closed:
            self._closed = True
            try:
                self._process.stdin.close()
            except BrokenPipeError:
                pass
            self._process.wait()
            if self._process.returncode:
                self._fail()
            self._process.stderr.close()
        return self.samples

    def abort(self) -> None:
        """Stop encoding and remove the file: after an error or a stop."""
        self._closed = True
        self._process.kill()
        self._process.wait()
        self._close_pipes()
        self.path.unlink(missing_ok=True)

    def _close_pipes(self) -> None:
        for stream in (self._process.stdin, self._process.stderr):
            try:
                stream.close()
            except OSError:  # a broken pipe with data still buffered
                pass

    def _fail(self) -> None:
        self._closed = True
        self._process.kill()
        self._process.wait()
        message = self._process.stderr.read().decode("utf-8", "replace").strip()
        self._close_pipes()
        raise RuntimeError(f"lame failed ({self._process.returncode}): {message[-500:]}")

    def __enter__(self) -> LamePipeWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
