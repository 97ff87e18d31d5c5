"""The espeak-ng command-line program as a speech engine.

Each call is a fresh process, so a crash or a hang costs one call, never the job; how its speed compares
with the other engines is measured in BENCHMARKS.md. The WAV comes back on a pipe: no file is written.
"""

from __future__ import annotations

import functools
import io
import re
import shutil
import subprocess
import wave

from voices.engine import Audio, SpeechError, Voice, check_rate, resolve_voice, silent_env

ESPEAK = "espeak-ng"
_WORD = re.compile(r"\w")


@functools.cache
def espeak_voices(program: str = ESPEAK) -> tuple[Voice, ...]:
    """Voices as `espeak-ng --voices` lists them; the id is what `-v` accepts (its Language column)."""
    listing = subprocess.run(
        [program, "--voices"], capture_output=True, text=True, check=True, env=silent_env()
    ).stdout
    voices = []
    for line in listing.splitlines()[1:]:
        fields = line.split()
        if len(fields) < 5:
            continue
        language, name, others = fields[1], fields[3].replace("_", " "), fields[5:]
        extra = tuple(re.sub(r"[()]|\s\d+$", "", f) for f in " ".join(others).split(")(")) if others else ()
        languages = tuple(dict.fromkeys((language, *(x.strip("() ").split()[0] for x in extra if x.strip()))))
        voices.append(Voice(id=language, name=name, languages=languages))
    return tuple(voices)


class EspeakEngine:
    """`espeak-ng -v VOICE -s RATE --stdout` with the text on standard input (never on the command line,
    where a leading "-" would be taken for an option and the length is limited)."""

    name = "espeak"

    def __init__(
        self, *, program: str = ESPEAK, timeout: float = 60.0, retries: int = 2, workdir: object = None
    ) -> None:
        """`workdir` is accepted, as every engine takes it, and unused: this engine writes no file."""
        if shutil.which(program) is None:
            raise SpeechError(f"{program} is not installed")
        self.program = program
        self.timeout = timeout
        self.retries = retries

    def voices(self) -> list[Voice]:
        return list(espeak_voices(self.program))

    def synthesize(self, text: str, *, voice: str, rate: int) -> Audio:
        voice_id = resolve_voice(voice, self.voices())
        check_rate(rate)
        audio = self._run(text, voice_id, rate)
        attempts = 0
        while audio.samples == 0 and _WORD.search(text) and attempts < self.retries:
            attempts += 1  # espeak-ng #2286: under load an utterance sometimes comes back empty
            audio = self._run(text, voice_id, rate)
        if audio.samples == 0 and _WORD.search(text):
            raise SpeechError(f"espeak-ng produced no audio for {text[:40]!r}")
        return audio

    def _run(self, text: str, voice: str, rate: int) -> Audio:
        try:
            done = subprocess.run(
                [self.program, "-b", "1", "-v", voice, "-s", str(rate), "--stdout", "--stdin"],
                input=text.encode("utf-8"),
                capture_output=True,
                timeout=self.timeout + len(text) / 100,
                check=True,
                env=silent_env(),
            )
        except subprocess.TimeoutExpired as error:
            raise SpeechError(f"espeak-ng took longer than {error.timeout:.0f} s") from error
        except subprocess.CalledProcessError as error:
            message = error.stderr.decode("utf-8", "replace").strip()
            raise SpeechError(f"espeak-ng failed ({error.returncode}): {message}") from error
        return read_wav(done.stdout)

    def close(self) -> None:
        """Nothing to release: every call is its own process."""


def read_wav(data: bytes) -> Audio:
    """A WAV as espeak-ng streams it: its header gives no length, so the frames are read to the end."""
    try:
        with wave.open(io.BytesIO(data), "rb") as wav:
            if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
                raise SpeechError(
                    f"expected 16-bit mono WAV, got {wav.getsampwidth() * 8}-bit x{wav.getnchannels()}"
                )
            return Audio(wav.readframes(2**31 - 1), wav.getframerate())
    except (wave.Error, EOFError) as error:
        raise SpeechError(f"espeak-ng wrote no readable WAV: {error}") from error


def phonemes(text: str, voice: str, program: str = ESPEAK) -> str:
    """What espeak-ng would say for `text`, as its phoneme mnemonics (`-q -x`): how a pronunciation entry is
    checked and heard to make a difference without producing audio."""
    done = subprocess.run(
        [program, "-q", "-x", "-v", voice, "--stdin"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
        env=silent_env(),
    )
    return " ".join(done.stdout.split())


def known_phonemes(reading: str, voice: str, program: str = ESPEAK) -> bool:
    """True when espeak-ng reads every character of `reading` as phoneme input for this voice.

    espeak-ng drops mnemonics it does not know without a word ("[[ZZ9}{]]" says "ZZ"), and adds only
    syllable marks ('#', stress, '_'), so the reading must survive as a subsequence of what it echoes.
    """
    wanted = "".join(reading.split())
    if not wanted or "]]" in wanted or "[[" in wanted:
        return False
    said = iter(phonemes(f"[[{reading}]]", voice, program).replace(" ", ""))
    return all(char in said for char in wanted)
