"""libespeak-ng called directly, in the same supervised child process as the pyttsx3 engine.

Measured on 400 sentences of War and Peace, one stream (BENCHMARKS.md has the whole-book figures): the
pyttsx3 child spent 4.9 s of CPU where the `espeak-ng` program spends 3.6 s on the same text, and a call here
spends 3.6 s. pyttsx3's driver synthesises asynchronously, copies the audio through a Python callback that
walks every word event, writes a WAV file and polls for the end; here libespeak-ng runs in its synchronous
mode (`espeak_Synth` returns when the audio is complete, so there is nothing to wait for and no early
return) and the callback only keeps the samples.

Everything else is the pyttsx3 engine's, inherited: one child per engine and one request at a time, a time
limit per request, a crashed or hung child replaced, empty audio retried, text cut into short pieces, voices
checked against the library's own list. The binding is pyttsx3's (`pyttsx3.drivers._espeak`, a complete
ctypes declaration of the libespeak-ng API); its driver and run loop are not used.
"""

from __future__ import annotations

import ctypes
from typing import Any

from voices.pyttsx3_engine import Pyttsx3Engine, apply_settings, quiet_stdout, serve


class LibespeakEngine(Pyttsx3Engine):
    name = "libespeak"
    worker_module = "voices.libespeak_engine"


def worker_main() -> None:
    replies = quiet_stdout()
    from pyttsx3.drivers import _espeak as espeak

    sample_rate = espeak.Initialize(espeak.AUDIO_OUTPUT_SYNCHRONOUS, 1000)
    if sample_rate <= 0:
        raise SystemExit("libespeak-ng did not initialise")
    chunks: list[bytes] = []

    def keep(wav: Any, samples: int, events: Any) -> int:
        if samples > 0:
            chunks.append(ctypes.string_at(wav, samples * 2))
        return 0  # go on synthesising

    callback = espeak.t_espeak_callback(keep)  # held here: ctypes must not collect it while C calls it
    espeak.cSetSynthCallback(callback)

    def speak(request: dict[str, Any]) -> tuple[bytes, int]:
        apply_settings(espeak, request["voice"], request["rate"])
        chunks.clear()
        text = request["text"].encode("utf-8")
        flags = espeak.ENDPAUSE | espeak.CHARS_UTF8
        status = espeak.cSynth(text, len(text) + 1, 0, espeak.POS_CHARACTER, 0, flags, None, None)
        if status != espeak.EE_OK:
            raise RuntimeError(f"espeak_Synth returned {status}")
        return b"".join(chunks), sample_rate

    serve(replies, lambda: list_voices(espeak), speak)


def list_voices(espeak: Any) -> list[dict[str, Any]]:
    """The voices as the pyttsx3 engine lists them (id: the first language), so names mean the same."""
    voices = []
    for voice in espeak.ListVoices(None):
        language = (voice.languages or b"")[1:].decode("utf-8", "ignore")  # after the priority byte
        voice_id = language or voice.identifier.decode("utf-8").lower()
        voices.append({"id": voice_id, "name": voice.name.decode("utf-8"), "languages": [voice_id]})
    return voices


if __name__ == "__main__":
    worker_main()
