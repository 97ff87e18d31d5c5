"""A pronunciation dictionary as plain data, so every engine and the Chinese reader share one set of entries.

The catalogue keeps the entries (accessible_lib/pronunciations.py); voices/ never imports it, so whoever
synthesises a book builds a `Lexicon` from that book's entries and makes it active with `use(...)` for the
duration. Without one, `STARTER` is active: the readings the code held before the dictionary existed, so
speech is the same as ever when no catalogue is involved.

Chinese entries are tone-numbered pinyin that replace pypinyin's choice for the written form. Other languages
are applied to the text the Latin voice reads: a respelling replaces the written form's text, and espeak-ng
phonemes are inserted as `[[...]]`, which espeak-ng reads as phoneme input (docs/TOOLCHAIN.md).
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

PINYIN = "pinyin"
RESPELLING = "respelling"
PHONEMES = "phonemes"
KINDS = (PINYIN, RESPELLING, PHONEMES)


@dataclass(frozen=True)
class Entry:
    lang: str
    written: str
    reading: str
    kind: str
    whole_word: bool = True
    case_sensitive: bool = False

    @property
    def chinese(self) -> bool:
        return self.lang.lower().split("-")[0] == "zh"

    def pattern(self) -> re.Pattern[str]:
        body = re.escape(self.written)
        if self.whole_word and not self.chinese:
            body = rf"(?<!\w){body}(?!\w)"
        return re.compile(body, 0 if self.case_sensitive or self.chinese else re.IGNORECASE)

    def replacement(self) -> str:
        return f"[[{self.reading}]]" if self.kind == PHONEMES else self.reading

    def identity(self) -> list:
        return [self.lang, self.written, self.reading, self.kind, self.whole_word, self.case_sensitive]


@dataclass(frozen=True)
class Lexicon:
    entries: tuple[Entry, ...] = ()
    _compiled: dict = field(default_factory=dict, compare=False, repr=False)

    def chinese_readings(self) -> dict[str, str]:
        """Written form -> "syllable syllable ..." for the Chinese entries."""
        return {e.written: e.reading for e in self.entries if e.chinese}

    def chinese_pattern(self) -> re.Pattern[str] | None:
        """One alternation, longest written form first, so 两只 wins over a shorter overlapping entry."""
        if "zh" not in self._compiled:
            words = sorted(self.chinese_readings(), key=len, reverse=True)
            self._compiled["zh"] = re.compile("|".join(map(re.escape, words))) if words else None
        return self._compiled["zh"]

    def _latin(self) -> list[tuple[Entry, re.Pattern[str]]]:
        if "latin" not in self._compiled:
            latin = sorted((e for e in self.entries if not e.chinese), key=lambda e: -len(e.written))
            self._compiled["latin"] = [(e, e.pattern()) for e in latin]
        return self._compiled["latin"]

    def apply_latin(self, text: str, voice: str) -> str:
        """Text for a non-Chinese voice with each entry of that voice's language replaced by its reading."""
        language = voice.lower().split("-")[0]
        for entry, pattern in self._latin():
            if entry.lang.lower().split("-")[0] == language:
                text = pattern.sub(lambda _m, e=entry: e.replacement(), text)
        return text

    def matching(self, text: str) -> list[Entry]:
        """The entries whose written form occurs in `text` (each language's own matching rules)."""
        found = [e for e, pattern in self._latin() if pattern.search(text)]
        found += [e for e in self.entries if e.chinese and e.written in text]
        return found

    def sentence_key(self, text: str) -> str:
        """A short hash of the entries that match in this one sentence; "" when none does.

        Part of a sentence's audio cache key: an entry added, changed or removed changes the key of exactly
        the sentences that contain its written form, so only they are synthesised again. Pass the speech
        text (after voices.text normalisation, what synthesize_speech receives): "2只" is "两只" by then.
        Over-inclusive by design: an entry of another language that occurs in the text still counts.
        """
        found = sorted(e.identity() for e in self.matching(text))
        if not found:
            return ""
        return hashlib.sha256(json.dumps(found, ensure_ascii=False).encode()).hexdigest()[:16]


def starter_entries() -> list[Entry]:
    """The readings pypinyin 0.55 gets wrong in the corpus books: the dictionary's first entries."""
    from voices.chinese import READINGS

    return [Entry("zh", written, reading, PINYIN) for written, reading in READINGS.items()]


_ACTIVE: contextvars.ContextVar[Lexicon | None] = contextvars.ContextVar("lexicon", default=None)
_STARTER: list[Lexicon] = []


def active() -> Lexicon:
    lexicon = _ACTIVE.get()
    if lexicon is not None:
        return lexicon
    if not _STARTER:
        _STARTER.append(Lexicon(tuple(starter_entries())))
    return _STARTER[0]


@contextlib.contextmanager
def use(entries: Lexicon | Iterable[Entry]) -> Iterator[Lexicon]:
    """Speak with these entries (and only these) inside the block."""
    lexicon = entries if isinstance(entries, Lexicon) else Lexicon(tuple(entries))
    token = _ACTIVE.set(lexicon)
    try:
        yield lexicon
    finally:
        _ACTIVE.reset(token)
