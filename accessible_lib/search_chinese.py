"""Chinese as readers type it: Traditional and Simplified fold together; titles and authors by pinyin.

Why these choices (see search.py for the index itself):

- Folding, not conversion. A reader types 論語 or 论语 and means the same book; a library holds 古文觀止 in
  Traditional and 论语 in Simplified. Every indexed text and every query goes through the same `fold`, which
  maps each Traditional character to one Simplified character, so the two spellings meet in the index. It is
  one character for one character on purpose: the index keeps the positions of the text as written, so a
  snippet can be shown in the book's own script (`unfold`), and the cost is one `str.translate`. Phrase-level
  conversion (OpenCC's 乾隆 versus 乾燥) would be more correct as *conversion*, but folding only needs the
  two sides to agree, and many-to-one (發 and 髮 both to 发) costs a little precision, never a match.
  The character table is OpenCC's own TSCharacters dictionary, shipped in `opencc-python-reimplemented`
  (already used by the braille code), read once; no hand-made table.
- Pinyin keys for titles and authors only. A reader without a Chinese input method types `lunyu`,
  `lun yu`, `lun2 yu3`, or just the initials `ly`. Each run of Han characters in a title or an author's
  name gets two keys in the `pinyin` column of `book_fts`: the whole run's pinyin as one word (`lunyu`) and,
  for two characters or more, its initials (`ly`). Syllables are not indexed one by one: `he`, `an`, `long`
  would then match English queries. A query of several Latin words, or with tone digits, is also tried
  joined (`lun2 yu3` -> `lunyu`) against that column only (`pinyin_alternative`). Chapter text gets no
  pinyin: at 150,000 books that would double the biggest index for a feature readers use on titles.
  `pypinyin` chooses each title's reading from its phrase dictionary (the most common reading).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from importlib import resources

_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f"
# The characters the search indexes treat one by one (chapter_fts) or in pairs (chapter_pairs): Han and kana.
CJK = "\u3040-\u30ff" + _HAN
_HAN_CHAR = re.compile(f"[{_HAN}]")
_HAN_RUN = re.compile(f"[{_HAN}]+")
# What a reader types as pinyin: letters, each syllable optionally followed by its tone digit.
_PINYIN_WORD = re.compile(r"^(?:[a-zü]+[0-5]?)+$")
_PINYIN_SPLIT = re.compile(r"[\s'’]+")
_TONES = re.compile("[0-5]")
MAX_PINYIN_TERMS = 8  # no title is more words of pinyin than this; longer queries are not pinyin
INVISIBLE = "\x02\x03\x04\u200b"  # snippet markers and the CJK separator: not text of the book
_INVISIBLE = re.compile(f"[{INVISIBLE}]")


@functools.cache
def _fold_table() -> dict[int, str]:
    """Traditional -> Simplified, one Han character to one, from OpenCC's character dictionary."""
    text = (resources.files("opencc") / "dictionary" / "TSCharacters.txt").read_text(encoding="utf-8")
    table = {}
    for line in text.splitlines():
        source, _, targets = line.partition("\t")
        target = targets.split(" ")[0].strip()
        if len(source) == 1 and len(target) == 1 and source != target and _HAN_CHAR.match(target):
            table[ord(source)] = target
    return table


@functools.cache
def _targets() -> frozenset[str]:
    """The characters some Traditional character folds to."""
    return frozenset(_fold_table().values())


def fold(text: str) -> str:
    """`text` with Traditional characters as Simplified ones; same length, everything else unchanged."""
    if text.isascii():  # O(1) in CPython: English text costs nothing
        return text
    return text.translate(_fold_table())


def unfold(shown: str, originals: Iterable[str | None]) -> str | None:
    """`shown` (a snippet of folded text, with markers) in the characters of the original it came from.

    The snippet's text without markers is found in the first original that holds it once folded; its
    characters replace the folded ones, markers stay where they were. None when no original holds it (the
    snippet came from the pinyin column, which is not text of the book). Folding keeps every character's
    place, so the snippet is a plain substring of the folded original: one `find`, where a pattern of the
    characters folding to each one cost a regular expression compiled per snippet (a millisecond each,
    a quarter of a search's time at 150,000 books). An original in Simplified holds the snippet as it is.
    """
    plain = _INVISIBLE.sub("", shown)
    if not plain:
        return shown
    for original in originals:
        if not original:
            continue
        if plain in original:
            return shown
        at = fold(original).find(plain)
        if at >= 0:
            written = original[at : at + len(plain)]
            changes = {}
            for folded, letter in zip(plain, written, strict=True):
                if folded != letter and changes.setdefault(folded, letter) != letter:
                    break  # one folded character from two originals here (发: 發, 髮): in turn
            else:
                return shown.translate(str.maketrans(changes))
            letters = iter(written)
            return "".join(c if c in INVISIBLE else next(letters) for c in shown)
    return None


def pinyin_keys(texts: Iterable[str | None]) -> str:
    """The pinyin column of a book: each Han run's pinyin as one word, and its initials when it has two
    characters or more; ü is written v as input methods do, and also u."""
    runs = [run for text in texts if text and not text.isascii() for run in _HAN_RUN.findall(fold(text))]
    if not runs:
        return ""
    keys: dict[str, None] = {}
    for run in runs:
        whole, initials = _run_pinyin(run)
        if not whole:
            continue
        keys[whole] = None
        keys[whole.replace("v", "u")] = None
        if len(run) > 1:
            keys[initials] = None
    return " ".join(keys)


@functools.lru_cache(maxsize=1 << 16)
def _run_pinyin(run: str) -> tuple[str, str]:
    """One Han run's pinyin and initials. pypinyin was a third of a harvest's time (every record's title
    and authors), so: one pass, not a second in the FIRST_LETTER style (which gives each syllable's first
    letter, the same as taking it here), and names met again (authors of many records) from a cache."""
    syllables = _pinyin().lazy_pinyin(run, errors="ignore")
    return "".join(syllables), "".join(s[0] for s in syllables if s)


@functools.cache
def _pinyin():
    """pypinyin's own converter, remembering each word's reading: pypinyin stayed the largest single cost
    of a harvest even with `_run_pinyin`'s cache, as a title is rarely met twice but its words are.

    pypinyin cuts a run into words from its phrase dictionary, then reads each word on its own: a word's
    reading does not depend on its neighbours (`DefaultConverter.convert` is given the word alone), so a
    word met again (surnames, 中国, 出版社) is read from this cache instead of converted again, which was
    three quarters of pypinyin's time (a regular expression per syllable to strip its tone). Cutting stays
    pypinyin's, so the keys are the ones `lazy_pinyin` gives (tests/test_search_chinese.py compares them
    over the library's titles and authors). Bounded: the cache holds at most 65,536 words.
    """
    from pypinyin.converter import DefaultConverter  # its dictionaries take 0.1 s to load: only when needed
    from pypinyin.core import Pinyin

    class WordMemo(DefaultConverter):
        def __init__(self) -> None:
            super().__init__()
            self._read = functools.lru_cache(maxsize=1 << 16)(self._read_word)

        def _read_word(self, words, style, heteronym, errors, strict) -> tuple[tuple[str, ...], ...]:
            return tuple(map(tuple, super().convert(words, style, heteronym, errors, strict)))

        def convert(self, words, style, heteronym, errors, strict, **kwargs) -> list[list[str]]:
            if kwargs or not isinstance(errors, str):  # not asked here: pypinyin's own path, uncached
                return super().convert(words, style, heteronym, errors, strict, **kwargs)
            return [list(readings) for readings in self._read(words, style, heteronym, errors, strict)]

    return Pinyin(WordMemo())


def pinyin_alternative(query: str) -> str | None:
    """The query as one pinyin word (`lun2 yu3`, `Lun Yu`, `xi'an` -> `lunyu`, `lunyu`, `xian`) when it
    looks like pinyin split into words or with tone digits; None otherwise (one plain word needs no
    alternative: it already meets the pinyin column like any other word)."""
    words = [w for w in _PINYIN_SPLIT.split(query.strip().lower()) if w]
    if not words or len(words) > MAX_PINYIN_TERMS or not all(_PINYIN_WORD.match(w) for w in words):
        return None
    joined = "".join(words)
    if len(words) == 1 and not _TONES.search(joined):
        return None
    joined = _TONES.sub("", joined).replace("ü", "v")
    return joined or None


def may_be_folded(shown: str) -> bool:
    """Whether `shown` holds a character that some Traditional one folds to, so `unfold` may change it."""
    return not shown.isascii() and not _targets().isdisjoint(shown)
