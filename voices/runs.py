"""Mixed-script text as runs, each with the voice that can read it.

A Chinese book quotes English words and an English book quotes Chinese; one espeak-ng voice cannot read both
(the English voice spells Han characters by their code names and the Mandarin voice reads Latin letters as
pinyin or letter names). Han runs are converted to pinyin and read by the Mandarin voice; everything else
goes to the voice for the book's language (or English in a Chinese book). Whatever the book's language, no
Han character ever reaches an engine.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voices.chinese import CHINESE_VOICE, HAN_RUN, ascii_punctuation, pinyin_text
from voices.engine import Audio, SpeechEngine, join_audio
from voices.lexicon import active
from voices.text import is_chinese

DEFAULT_LATIN_VOICE = "en-us"
_WORD = re.compile(r"\w")
# Han characters with the punctuation between and after them: one run, so one utterance with natural pauses.
_CHINESE_RUN = re.compile(f"{HAN_RUN.pattern}(?:[^\\w]*{HAN_RUN.pattern})*[^\\w]*")


@dataclass(frozen=True)
class Run:
    text: str
    voice: str
    chinese: bool


def latin_voice_for(lang: str | None, available: set[str], chosen: str | None = None) -> str:
    """The voice for non-Han text: the one chosen for the edition, else the book's language, else English."""
    if chosen and chosen != CHINESE_VOICE:
        return chosen
    if lang and not is_chinese(lang):
        tag = lang.lower()
        for candidate in (tag, tag.split("-")[0], {"en": DEFAULT_LATIN_VOICE}.get(tag.split("-")[0])):
            if candidate in available:
                return candidate
    return DEFAULT_LATIN_VOICE


def speech_runs(speech: str, *, latin_voice: str, chinese_voice: str = CHINESE_VOICE) -> list[Run]:
    """Cut already-normalised speech text at script changes; punctuation stays with the run it follows."""
    runs: list[Run] = []
    position = 0
    for m in _CHINESE_RUN.finditer(speech):
        _add_other(runs, speech[position : m.start()], latin_voice)
        runs.append(Run(pinyin_text(m.group()), chinese_voice, True))
        position = m.end()
    _add_other(runs, speech[position:], latin_voice)
    return [run for run in runs if run.text]


def _add_other(runs: list[Run], text: str, voice: str) -> None:
    text = active().apply_latin(ascii_punctuation(text), voice)
    if not text:
        return
    if not _WORD.search(text) and runs:
        runs[-1] = Run(f"{runs[-1].text} {text}".strip(), runs[-1].voice, runs[-1].chinese)
        return
    runs.append(Run(text, voice, False))


def synthesize_speech(
    engine: SpeechEngine,
    speech: str,
    *,
    lang: str,
    rate: int,
    voice: str | None = None,
    chinese_voice: str = CHINESE_VOICE,
) -> Audio:
    """Speak one sentence's speech text, switching voice at each change of script."""
    available = {v.id for v in engine.voices()}
    latin = latin_voice_for(lang, available, voice)
    clips = []
    for run in speech_runs(speech, latin_voice=latin, chinese_voice=chinese_voice):
        if _WORD.search(run.text):
            clips.append(engine.synthesize(run.text, voice=run.voice, rate=rate))
    if not clips:
        return Audio.silence(0.3, 22050)
    return join_audio(clips)
