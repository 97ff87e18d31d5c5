"""The speech-engine interface every output builder codes against.

Builders (MP3, DAISY, EPUB 3 Media Overlays) need two things from an engine: PCM audio and its exact
duration. Durations come from sample counts, never from decoding an encoded file, so `Audio` carries raw
16-bit mono PCM and derives its duration from the number of samples. Engines are looked up by name so the
command line and the edition options can choose one (`--engine espeak`) without importing engine modules.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

SAMPLE_WIDTH = 2  # bytes per sample: 16-bit signed little-endian, mono
MIN_RATE = 80  # espeak-ng's own limits for words per minute
MAX_RATE = 450
DEFAULT_RATE = 175
_PACKAGE_ROOT = str(Path(__file__).resolve().parent.parent)


class SpeechError(RuntimeError):
    """Speech could not be produced for a piece of text, even after retries on a fresh engine."""


class UnknownVoiceError(ValueError):
    """A voice name the engine does not have: engines must refuse it rather than silently use a default."""


@dataclass(frozen=True)
class Voice:
    id: str
    name: str
    languages: tuple[str, ...]


@dataclass(frozen=True)
class Audio:
    """Raw 16-bit mono little-endian PCM; duration is exact because it is counted, not measured."""

    pcm: bytes
    sample_rate: int

    def __post_init__(self) -> None:
        if len(self.pcm) % SAMPLE_WIDTH:
            raise ValueError("PCM length must be a whole number of 16-bit samples")
        if self.sample_rate <= 0:
            raise ValueError("sample rate must be positive")

    @property
    def samples(self) -> int:
        return len(self.pcm) // SAMPLE_WIDTH

    @property
    def duration(self) -> float:
        return self.samples / self.sample_rate

    @classmethod
    def silence(cls, seconds: float, sample_rate: int) -> Audio:
        return cls(b"\x00\x00" * round(seconds * sample_rate), sample_rate)


def join_audio(parts: Iterable[Audio], sample_rate: int | None = None) -> Audio:
    """Concatenate clips of one sample rate (mixing rates would silently change pitch and timing)."""
    parts = list(parts)
    rate = sample_rate or (parts[0].sample_rate if parts else 22050)
    for part in parts:
        if part.sample_rate != rate:
            raise ValueError(f"cannot join audio at {part.sample_rate} Hz with audio at {rate} Hz")
    return Audio(b"".join(part.pcm for part in parts), rate)


@runtime_checkable
class SpeechEngine(Protocol):
    name: str

    def voices(self) -> list[Voice]: ...

    def synthesize(self, text: str, *, voice: str, rate: int) -> Audio: ...

    def close(self) -> None: ...


ENGINES: dict[str, str] = {
    "pyttsx3": "voices.pyttsx3_engine:Pyttsx3Engine",
    "espeak": "voices.espeak_engine:EspeakEngine",
    "libespeak": "voices.libespeak_engine:LibespeakEngine",
}
# libespeak-ng through pyttsx3's own binding, synchronously: the same audio as pyttsx3's driver at less CPU
# and wall time. The driver copies every utterance through a Python callback that walks each word event,
# writes a WAV file and polls for its end; on a slice of War and Peace that made the whole pipeline 1.61x
# the raw `espeak-ng | lame` pipeline's time, against 1.18x here (BENCHMARKS.md; the target is 1.25x).
DEFAULT_ENGINE = "libespeak"


def engine_by_name(name: str = DEFAULT_ENGINE, **options: object) -> SpeechEngine:
    """Build an engine from its command-line name; imported lazily so unused engines cost nothing."""
    try:
        target = ENGINES[name]
    except KeyError:
        raise ValueError(f"unknown speech engine {name!r}; known: {', '.join(sorted(ENGINES))}") from None
    module_name, class_name = target.split(":")
    engine_class = getattr(importlib.import_module(module_name), class_name)
    return engine_class(**options)


NO_SOUND_SERVER = "unix:/nonexistent/accessible-lib-no-sound-server"


def silent_env() -> dict[str, str]:
    """The environment for a process that runs espeak-ng, which never plays sound here.

    Starting, libespeak-ng opens its audio layer (pcaudiolib, then PulseAudio) even when it only hands
    samples back, and libpulse then writes a cookie in ~/.config/pulse and, with no XDG_RUNTIME_DIR, a
    directory in $TMPDIR. Named a sound server that cannot exist, it writes nothing: speech leaves no file
    behind. The name is a socket path, not a host name: `PULSE_SERVER=none` made libpulse look "none" up in
    the DNS, which took up to 5 s per espeak-ng process where the resolver does not answer (measured: 20
    runs of `espeak-ng --stdout` 15.9 s with `none`, 0.47 s with the socket path).
    """
    return {**os.environ, "PULSE_SERVER": NO_SOUND_SERVER}


def child_env() -> dict[str, str]:
    """The environment for a `python -m voices.<module>` child: silent (`silent_env`), and this checkout
    first on its path, so the child runs the same code wherever the job's working directory is."""
    env = silent_env()
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [_PACKAGE_ROOT, env.get("PYTHONPATH")]))
    return env


def check_rate(rate: int) -> int:
    if not isinstance(rate, int) or not MIN_RATE <= rate <= MAX_RATE:
        raise ValueError(f"rate must be {MIN_RATE} to {MAX_RATE} words per minute, not {rate!r}")
    return rate


def _key(name: str) -> str:
    return re.sub(r"[\s_]+", " ", name.strip().lower())


def resolve_voice(name: str, voices: Sequence[Voice]) -> str:
    """Map what a user typed (voice id or display name) to a voice id, refusing unknown names.

    espeak-ng falls back to its default voice when given a name it does not know, so a typo in `--voice` would
    otherwise produce a whole book in the wrong language without any error.
    """
    wanted = _key(name)
    for voice in voices:
        if wanted == _key(voice.id) or wanted == _key(voice.name):
            return voice.id
    sample = ", ".join(sorted(v.id for v in voices)[:12])
    raise UnknownVoiceError(f"unknown voice {name!r}; available voices include {sample} ...")
