"""MP3 encoding in a child process per chapter, so chapters spoken at once are also encoded at once.

lameenc holds the GIL while it encodes (measured: four threads encoding took four times as long as one), so
in one Python process every chapter's encoding queued on one core, and encoding costs more CPU than speech
synthesis. A child per chapter encodes on whichever core is free, while the thread that feeds it waits for
the next sentence; a 1 MB pipe (about 23 s of speech) lets the two overlap.

Two children, the same libmp3lame 3.100 and the same settings: `lameenc`, PyPI's build of it run as
`python -m voices.lame_pipe` (the default: 4.6 s of CPU where Debian's `lame -q 7` took 6.2 s, for the same
34 minutes of speech and the same bytes, give or take a header), and the `lame` program, which also writes a
LAME/Xing header carrying the exact length. Encoding is over half of an audio edition's CPU.

The interface is Mp3Writer's: samples are counted as they are written, so clip times never depend on the MP3.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

from voices.pcm import CountingWriter, lame_encoder

LAME = "lame"
ENCODERS = ("lameenc", "lame")
_PIPE_SIZE = 1 << 20


def lame_available(program: str = LAME) -> bool:
    return shutil.which(program) is not None


class LamePipeWriter(CountingWriter):
    """Mono PCM in, an MP3 file out, encoded by a child (lameenc or `lame -r`) as the audio arrives."""

    def __init__(
        self,
        path: Path | str,
        sample_rate: int,
        *,
        bitrate: int = 64,
        quality: int = 7,
        encoder: str = "lameenc",
        program: str = LAME,
    ) -> None:
        self.path = Path(path)
        self.sample_rate = sample_rate
        self.samples = 0
        self._odd = b""
        env = None
        if encoder == "lameenc":
            command = [sys.executable, "-m", "voices.lame_pipe", f"--rate={sample_rate}"]
            command += [f"--bitrate={bitrate}", f"--quality={quality}", str(self.path)]
            from voices.engine import child_env  # here: the child itself needs none of it

            env = child_env()
        elif encoder == "lame":
            command = [program, "--silent", "-r", "-s", f"{sample_rate / 1000:g}", "--bitwidth", "16"]
            command += ["--signed", "--little-endian", "-m", "m", "-b", str(bitrate), "-q", str(quality)]
            command += ["-", str(self.path)]
        else:
            raise ValueError(f"unknown MP3 encoder {encoder!r}; known: {', '.join(ENCODERS)}")
        self._process = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            fcntl.fcntl(self._process.stdin.fileno(), fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
        except OSError:  # a lower /proc/sys/fs/pipe-max-size: the default pipe works, with less overlap
            pass
        self._closed = False

    @property
    def closed(self) -> bool:
        return self._closed

    def _emit(self, data: bytes) -> None:
        try:
            self._process.stdin.write(data)
        except BrokenPipeError:
            self._fail()

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
        raise RuntimeError(f"MP3 encoder failed ({self._process.returncode}): {message[-500:]}")

    def __enter__(self) -> LamePipeWriter:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def encode_stdin(path: str, rate: int, bitrate: int, quality: int) -> None:
    """The lameenc child: raw PCM from standard input to an MP3 file, a pipe's worth at a time."""
    encoder = lame_encoder(rate, bitrate, quality)
    encoded = False
    with open(path, "wb") as out:
        while chunk := os.read(0, _PIPE_SIZE):
            out.write(encoder.encode(chunk))
            encoded = True
        if encoded:  # lameenc refuses to flush an encoder that never encoded
            out.write(encoder.flush())


def main() -> None:
    parser = argparse.ArgumentParser(description="Encode 16-bit mono PCM from standard input as MP3.")
    parser.add_argument("--rate", type=int, required=True)
    parser.add_argument("--bitrate", type=int, default=64)
    parser.add_argument("--quality", type=int, default=7)
    parser.add_argument("path")
    args = parser.parse_args()
    try:
        encode_stdin(args.path, args.rate, args.bitrate, args.quality)
    except OSError as error:
        sys.exit(f"cannot write {args.path}: {error}")


if __name__ == "__main__":
    main()
