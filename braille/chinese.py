"""Chinese text made ready for liblouis: braille words, simplified characters, and readings fixed.

liblouis' Chinese tables translate character by character, so on their own they fall short of how Chinese
braille is written (facts from the tables and their tests, see TOOLCHAIN.md):
- Words are separated by blanks (分词连写, GB/T 15720): the text is segmented with jieba, corrected by a
  braille-word dictionary (zh_words.txt), and words are joined with spaces, never before closing or after
  opening punctuation.
- Traditional characters are missing from the simplified tables: OpenCC converts them first (們 -> 们).
- Polyphones the table reads wrongly (行长 as xing chang): pypinyin, which reads by word, gives each
  polyphonic character's reading, and the character is replaced by an unambiguous homophone before
  translation (行 read háng -> 航), so the table writes the right syllable with its own rules.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from pathlib import Path

WORDS_FILE = Path(__file__).with_name("zh_words.txt")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
# Punctuation that closes (no blank before it) and that opens (no blank after it), full and half width.
CLOSING = set("。，、；：？！…）》」』】〕〉”’.,;:?!)]}%")
OPENING = set("（《「『【〔〈“‘([{")
_LOCK = threading.Lock()
COMMON = 1000  # occurrences in jieba's dictionary: a character at least this common is in every table


@functools.cache
def _segmenter():
    """A private jieba tokenizer with the braille-word dictionary applied (jieba's globals stay untouched)."""
    import jieba

    jieba.setLogLevel(logging.ERROR)
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    for line in WORDS_FILE.read_text(encoding="utf-8").splitlines():
        parts = line.split("#", 1)[0].split()
        for part in parts:
            if len(part) > 1:
                tokenizer.add_word(part)
        for _ in range(3):  # drop the words that straddle the wanted ones until the line comes out right
            found = tokenizer.lcut("".join(parts), HMM=False)
            if found == parts:
                break
            for word in found:
                if word not in parts and len(word) > 1:
                    tokenizer.del_word(word)
    return tokenizer


@functools.cache
def _converter():
    from opencc import OpenCC

    return OpenCC("t2s")


def simplified(text: str) -> str:
    """Traditional characters (and phrases) as simplified ones; other text unchanged."""
    return _converter().convert(text)


def words(text: str) -> list[str]:
    """The braille words of `text`: jieba's words, corrected by the dictionary; spaces dropped."""
    with _LOCK:  # jieba's tokenizer caches are not meant for concurrent use
        return [word for word in _segmenter().lcut(text, HMM=True) if word.strip()]


def spaced(text: str) -> str:
    """`text` with a space between braille words, none before closing or after opening punctuation."""
    out: list[str] = []
    for word in words(text):
        if out and not (word[0] in CLOSING or out[-1][-1] in OPENING):
            out.append(" ")
        out.append(word)
    return "".join(out)


@functools.cache
def _polyphones() -> dict[str, list[str]]:
    from pypinyin.constants import PINYIN_DICT

    return {chr(code): readings.split(",") for code, readings in PINYIN_DICT.items() if "," in readings}


@functools.cache
def _homophones() -> dict[str, str]:
    """An unambiguous character for each reading (tone-numbered pinyin), to stand in for a polyphone.

    The most common character wins: pypinyin's dictionary lists characters in code-point order, so the
    choice prefers the basic CJK block and, within it, characters jieba's dictionary counts most often.
    """
    from pypinyin.constants import PINYIN_DICT

    frequency = _segmenter().FREQ
    best: dict[str, tuple[int, str]] = {}
    for code, readings in PINYIN_DICT.items():
        if "," in readings or not 0x4E00 <= code <= 0x9FFF:
            continue
        char = chr(code)
        count = frequency.get(char, 0)
        if count < COMMON:  # a rare character may be missing from the braille table
            continue
        reading = _tone3(readings)
        if count > best.get(reading, (0, ""))[0]:
            best[reading] = (count, char)
    return {reading: char for reading, (_, char) in best.items()}


def _tone3(reading: str) -> str:
    from pypinyin import Style
    from pypinyin.style import convert as convert_style

    return convert_style(reading, Style.TONE3, strict=False, neutral_tone_with_five=True)


def _reading_fixed(char: str, reading: str, polyphones: dict, homophones: dict) -> str:
    """A common homophone of the reading the character has in its word; the character itself when there
    is none. The table then writes the syllable pypinyin chose, whatever reading it would have guessed."""
    return homophones.get(reading, char) if char in polyphones else char


def prepare(text: str, *, segment_words: bool = True) -> str:
    """Segment once, fix each word's polyphones, and join the words: with a blank between braille words
    (none before closing or after opening punctuation), or without when `segment_words` is False."""
    out: list[str] = []
    for word in _fixed_words(text):
        if segment_words and out and not (word[0] in CLOSING or out[-1][-1] in OPENING):
            out.append(" ")
        out.append(word)
    return "".join(out)


def fix_readings(text: str) -> str:
    """Replace each polyphonic character by a homophone of the reading pypinyin gives it in its word."""
    return "".join(_fixed_words(text))


def _fixed_words(text: str) -> list[str]:
    found = words(text)
    polyphones = _polyphones()
    if not any(char in polyphones for char in text):
        return found
    from pypinyin import Style, lazy_pinyin

    homophones = _homophones()
    out = []
    for word in found:
        if not any(char in polyphones for char in word) or not HAN.search(word):
            out.append(word)
            continue
        readings = lazy_pinyin(word, style=Style.TONE3, neutral_tone_with_five=True, errors=lambda s: list(s))
        if len(readings) != len(word):  # pypinyin kept a non-Han run whole: leave the word alone
            out.append(word)
            continue
        fixed = (_reading_fixed(c, r, polyphones, homophones) for c, r in zip(word, readings, strict=True))
        out.append("".join(fixed))
    return out
