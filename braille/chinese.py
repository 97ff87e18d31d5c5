"""Chinese text made ready for liblouis: braille words, simplified characters, and readings fixed.

liblouis' Chinese tables translate character by character, so on their own they fall short of how Chinese
braille is written (facts from the tables and their tests, see docs/TOOLCHAIN.md):
- Words are separated by blanks (分词连写, GB/T 15720): the text is segmented with jieba, corrected by a
  braille-word dictionary (zh_words.txt), and words are joined with spaces, never before closing or after
  opening punctuation.
- Traditional characters are missing from the simplified tables: OpenCC converts them first (們 -> 们).
- Polyphones the table reads wrongly (行长 as xing chang) are rewritten after translation from pypinyin's
  reading by word, and only those: see `fix_polyphones`.
"""

from __future__ import annotations

import functools
import logging
import re
import threading
from collections import Counter, defaultdict
from pathlib import Path

from .tables import TABLE_DIR

WORDS_FILE = Path(__file__).with_name("zh_words.txt")
HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
# Punctuation that closes (no blank before it) and that opens (no blank after it), full and half width.
CLOSING = set("。，、；：？！…）》」』】〕〉”’.,;:?!)]}%")
OPENING = set("（《「『【〔〈“‘([{")
_LOCK = threading.Lock()
_cache_dir: Path | None = None  # set_cache_dir; None: jieba's default, the system temporary directory


def set_cache_dir(directory: str | Path | None) -> None:
    """Where jieba keeps its dictionary cache (built once, about 1 s; loaded later in a fraction of that).

    The application passes a directory of its own, so nothing is written to the system temporary directory;
    a process pool passes it on to its workers (it is the initializer of braille workers). Takes effect
    before the first Chinese text is segmented in this process.
    """
    global _cache_dir
    _cache_dir = None if directory is None else Path(directory)


def cache_dir() -> Path | None:
    return _cache_dir


@functools.cache
def _segmenter():
    """A private jieba tokenizer with the braille-word dictionary applied (jieba's globals stay untouched)."""
    import jieba

    jieba.setLogLevel(logging.ERROR)
    tokenizer = jieba.Tokenizer()
    if _cache_dir is not None:
        _cache_dir.mkdir(parents=True, exist_ok=True)
        tokenizer.tmp_dir = str(_cache_dir)
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


def prepare(text: str, *, segment_words: bool = True) -> str:
    """`text` with a blank between braille words (none before closing or after opening punctuation), or
    unchanged when `segment_words` is False (its own spaces kept)."""
    if not segment_words:
        return text
    out: list[str] = []
    for word in words(text):
        if out and not (word[0] in CLOSING or out[-1][-1] in OPENING):
            out.append(" ")
        out.append(word)
    return "".join(out)


# Polyphones. The tables carry GF 0019-2018's word-level rules (tones omitted by word: 句子 ⠛⠬⠵, 好客
# ⠓⠖⠆⠅⠢; the abbreviation 的 ⠙), which replacing characters before translation would lose, while pypinyin
# reads polyphones by word better (行长 háng zhǎng, where zhcn-cbs writes xíng cháng). So a paragraph is
# translated once and a word is rewritten only when its cells cannot be read as pypinyin's syllables,
# tones aside (a tone-only difference, such as 1只 zhī where pypinyin says zhǐ, stays as the table has
# it). The rewrite spells each syllable as the table spells unambiguous characters of the same reading.

TONES = frozenset("\u2801\u2802\u2804\u2806")  # ⠁⠂⠄⠆: a tone cell closes a syllable
_BLANKS = " \u2800"
_HAN_RUN = re.compile(r"[\u4e00-\u9fff]+")
_SIGN = re.compile(r"^sign\s+\\x([0-9a-fA-F]{4,5})\s+([0-9-]+)\s*$")


def _cells(dots: str) -> str:
    return "".join(
        chr(0x2800 + sum(1 << (int(d) - 1) for d in group if d != "0")) for group in dots.split("-")
    )


def _toneless(reading: str) -> str:
    return reading.rstrip("012345")


def _untoned(cells: str) -> str:
    return cells[:-1] if len(cells) > 1 and cells[-1] in TONES else cells


@functools.cache
def _polyphones() -> frozenset[str]:
    from pypinyin.constants import PINYIN_DICT

    return frozenset(chr(code) for code, readings in PINYIN_DICT.items() if "," in readings)


@functools.lru_cache(maxsize=8192)
def _default_reading(char: str) -> str:
    from pypinyin import Style, lazy_pinyin

    return lazy_pinyin(char, style=Style.TONE3, neutral_tone_with_five=True)[0]


@functools.cache
def spellings(table_file: str) -> tuple[dict[str, frozenset[str]], dict[str, str], dict[str, str]]:
    """What the table's single-character signs teach: toneless syllable -> its spellings without a tone
    cell, toned reading -> the table's usual spelling, character -> its own sign. Only characters with one
    reading teach a syllable. Empty for a table that is not written this way (not a Chinese table)."""
    from pypinyin import Style
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.style import convert as convert_style

    path = TABLE_DIR / table_file
    signs: dict[str, str] = {}
    if table_file.startswith("zh") and path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _SIGN.match(line)
            if match:
                signs.setdefault(chr(int(match[1], 16)), _cells(match[2]))
    allowed: dict[str, set[str]] = defaultdict(set)
    usual: dict[str, Counter] = defaultdict(Counter)
    for char, cells in signs.items():
        readings = PINYIN_DICT.get(ord(char), ",")
        if "\u4e00" <= char <= "\u9fff" and "," not in readings:
            reading = convert_style(readings, Style.TONE3, strict=False, neutral_tone_with_five=True)
            usual[reading][cells] += 1
            allowed[_toneless(reading)].add(_untoned(cells))
    best = {reading: counter.most_common(1)[0][0] for reading, counter in usual.items()}
    return {syllable: frozenset(found) for syllable, found in allowed.items()}, best, signs


def _readable(cells: str, word: str, syllables: list[str], table_file: str) -> bool:
    """Whether `cells` split into one spelling per syllable, in order, each with or without a tone cell;
    blanks the table puts inside a word (after the abbreviation 你 ⠝) are ignored."""
    allowed, _, signs = spellings(table_file)
    cells = cells.replace(" ", "").replace("\u2800", "")
    reachable = {0}
    for char, syllable in zip(word, syllables, strict=True):
        options = set(allowed.get(_toneless(syllable), ()))
        sign = signs.get(char)
        if sign and _toneless(_default_reading(char)) == _toneless(syllable):
            options.add(_untoned(sign))  # the table's own sign, abbreviations included (的 ⠙)
        reachable = {start + len(o) for start in reachable for o in options if cells.startswith(o, start)}
        reachable |= {end + 1 for end in reachable if end < len(cells) and cells[end] in TONES}
        if not reachable:
            return False
    return len(cells) in reachable


_READINGS: dict[str, list[str]] = {}
_READINGS_RE: list[re.Pattern[str]] = []


def set_readings(readings: dict[str, str]) -> None:
    """Use these readings (written form -> tone-numbered pinyin, from the pronunciation dictionary) for
    polyphones instead of pypinyin's, in this process. braille/ never reads the catalogue: the caller passes
    the entries in; an empty dict goes back to pypinyin alone."""
    _READINGS.clear()
    _READINGS.update({word: reading.split() for word, reading in readings.items() if word})
    _READINGS_RE[:] = [re.compile("|".join(map(re.escape, sorted(_READINGS, key=len, reverse=True))))]
    rewritten.cache_clear()


def readings() -> dict[str, str]:
    """The readings set_readings was given, to hand on to a child process (braille.pool)."""
    return {word: " ".join(syllables) for word, syllables in _READINGS.items()}


def _syllables(word: str) -> list[str]:
    """pypinyin's reading of a word, except where the readings given to set_readings say otherwise."""
    from pypinyin import Style, lazy_pinyin

    def plain(part: str) -> list[str]:
        return lazy_pinyin(part, style=Style.TONE3, neutral_tone_with_five=True) if part else []

    if not _READINGS:
        return plain(word)
    syllables: list[str] = []
    start = 0
    for match in _READINGS_RE[0].finditer(word):
        syllables += plain(word[start : match.start()]) + _READINGS[match.group()]
        start = match.end()
    return syllables + plain(word[start:])


@functools.lru_cache(maxsize=65536)
def rewritten(word: str, cells: str, table_file: str) -> str | None:
    """The word's cells from pypinyin's reading when the table's `cells` contradict it; None otherwise."""
    if not any(char in _polyphones() for char in word):
        return None
    syllables = _syllables(word)
    if len(syllables) != len(word) or _readable(cells, word, syllables, table_file):
        return None
    best = spellings(table_file)[1]
    if not all(syllable in best for syllable in syllables):
        return None  # a reading no unambiguous character teaches: keep the table's
    return "".join(best[syllable] for syllable in syllables)


def fix_polyphones(
    text: str, output: str, positions: list[int], table_file: str, *, spaced: bool
) -> tuple[str, list[int]]:
    """One liblouis result (`output` and its output-to-input `positions` for `text`) with each misread
    polyphonic word rewritten. With `spaced`, each run of Han characters is one braille word already;
    otherwise the runs are segmented here."""
    if not any(char in _polyphones() for char in text) or not spellings(table_file)[1]:
        return output, positions
    cells, owners = list(output), list(positions)
    where: dict[int, list[int]] = defaultdict(list)  # input position -> its output cells, in one pass
    for index, owner in enumerate(owners):
        where[owner].append(index)
    edits = []
    for run in _HAN_RUN.finditer(text):
        start = run.start()
        for word in [run.group()] if spaced else words(run.group()):
            edit = _word_edit(text, cells, where, start, start + len(word), word, table_file)
            if edit:
                edits.append(edit)
            start += len(word)
    for first, length, new in reversed(edits):
        cells[first : first + length] = new
        owners[first : first + length] = [owners[first]] * len(new)
    return "".join(cells), owners


def _word_edit(text, cells, where, start, end, word, table_file) -> tuple[int, int, str] | None:
    """(first cell, cell count, new cells) for a word the table misreads; None otherwise."""
    if not any(char in _polyphones() for char in word) or start not in where:
        return None
    if end < len(text) and end not in where:
        return None  # a table rule spans the word's edge: its cells are not the word's alone
    index = [k for position in range(start, end) for k in where.get(position, ())]
    if index[-1] - index[0] + 1 != len(index):
        return None
    raw = "".join(cells[k] for k in index)
    body = raw.strip(_BLANKS)
    if not body or max(body) > "\u283f":
        return None  # an escape: translate.py sends that character to a fallback table
    new = rewritten(word, body, table_file)
    if not new:
        return None
    return index[0] + len(raw) - len(raw.lstrip(_BLANKS)), len(body), new
