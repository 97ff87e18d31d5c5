"""Text to Unicode braille through liblouis (Debian's binding), one paragraph at a time.

What this adds to a bare liblouis call:
- Chinese text is prepared by braille.chinese (simplified characters, braille words separated by blanks,
  polyphones read by word), and the blanks the table itself puts before closing punctuation are removed.
- A character the table lacks never reaches the output as a liblouis escape (`\\x4eec` or 8-dot cells):
  it is translated by the language's fallback table (zhcn-g1 for Chinese; Chinese characters inside
  English text by zhcn-cbs), and when no table has it, written as PLACEHOLDER and counted.
- liblouis is not thread-safe: every call goes through one process-wide lock.
English text (all ASCII) goes straight to liblouis in one call: the common case costs nothing extra.
"""

from __future__ import annotations

import ctypes
import functools
import re
import threading
from dataclasses import dataclass

import louis

from . import chinese
from .tables import BrailleError, resolve_table

_LOCK = threading.Lock()
_MODE = louis.dotsIO | louis.ucBrl
BLANK = "\u2800"
# Not text: controls, lone surrogates, noncharacters, and invisible format characters (soft hyphen,
# zero-width spaces and joiners, direction marks, BOM), which liblouis would write as ⠤, a blank or an escape.
_CONTROL = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x84\x86-\x9f\xad\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff"
    "\ud800-\udfff\ufffe\uffff]"
)
PLACEHOLDER = "\u283f\u283f"  # ⠿⠿: a character no table has; counted in Translation.placeholders
FALLBACKS = {"zh": ("zhcn-g1.ctb",), "en": ("zhcn-cbs.ctb", "zhcn-g1.ctb")}


@louis.LogCallback
def _quiet(level: int, message: bytes) -> None:
    """liblouis warns while compiling zhcn-cbs ("Duplicate emphasis class"): nothing for a reader."""


louis.registerLogCallback(_quiet)
louis.setLogLevel(louis.LOG_ERROR)


@dataclass(frozen=True)
class Translation:
    braille: str  # Unicode braille, U+2800-U+283F only; U+2800 between words
    placeholders: int = 0  # characters no table had, written as PLACEHOLDER


def translate(text: str, table: str, *, segment_words: bool = True) -> Translation:
    """One paragraph of text (whitespace is collapsed) in braille with the named table.

    `segment_words` writes Chinese with blanks between braille words (分词连写); False leaves the characters
    as liblouis writes them.
    """
    spec = resolve_table(table)
    if text.isascii() and spec.language != "zh" and _tidy_ascii(text):  # the common case, as it is
        with _LOCK:
            return Translation(_translate_string(tuple(spec.files), text).replace(" ", BLANK))
    text = " ".join(_CONTROL.sub("", text).split())
    if not text:
        return Translation("")
    files = tuple(spec.files)
    if text.isascii() and spec.language != "zh":
        with _LOCK:
            return Translation(_translate_string(files, text).replace(" ", BLANK))
    if spec.language == "zh" or chinese.HAN.search(text):
        text = _prepare_chinese(text, segment_words)
    fallbacks = FALLBACKS.get(spec.language, FALLBACKS["en"])
    pieces: list[str] = []
    placeholders = 0
    for run, run_files in _runs(text, files, fallbacks):
        if run_files is None:
            pieces.append(PLACEHOLDER * len(run))
            placeholders += len(run)
        else:
            chinese_run = spec.language == "zh" or run_files != files
            pieces.append(_translate_run(run, run_files, tidy=chinese_run, spaced=segment_words))
    return Translation(_join(pieces), placeholders)


_ASCII_CONTROL = re.compile("[\x00-\x1f\x7f]")


def _tidy_ascii(text: str) -> bool:
    """Whether ASCII text is already as `translate` would make it (no controls, single spaces, none at the
    ends), as nearly every paragraph of a book is: checking is a third of the cost of tidying."""
    return bool(text) and text[0] != " " != text[-1] and "  " not in text and not _ASCII_CONTROL.search(text)


def _prepare_chinese(text: str, segment_words: bool) -> str:
    return chinese.prepare(chinese.simplified(text), segment_words=segment_words)


def _runs(text: str, files: tuple[str, ...], fallbacks: tuple[str, ...]):
    """(text, table files) runs: each character goes to the first table that has it; None for no table."""
    current: list[str] = []
    current_files: tuple[str, ...] | None = files
    for char in text:
        if char == " " or _known(files, char):
            char_files = files
        else:
            char_files = next(((f,) for f in fallbacks if _known((f,), char)), None)
        if char_files != current_files and current:
            yield "".join(current), current_files
            current = []
        current_files = char_files
        current.append(char)
    if current:
        yield "".join(current), current_files


_OUT = [ctypes.create_string_buffer(1 << 16)]  # reused: held under _LOCK, grown when a paragraph needs it


def _translate_string(files: tuple[str, ...], text: str) -> str:
    """`louis.translateString` without its per-call costs: it zero-fills a new output buffer eight times the
    input's size and copies all of it back, a tenth of War and Peace's translation time; here the buffer is
    reused and only the output is copied. The same liblouis call, the same result (checked on the whole
    book). Call it holding _LOCK."""
    data = text.encode(louis.conversionEncoding)
    length = len(data) // louis.wideCharBytes
    room = length * louis.outlenMultiplier
    if ctypes.sizeof(_OUT[0]) < room * louis.wideCharBytes:
        _OUT[0] = ctypes.create_string_buffer(room * louis.wideCharBytes)
    inlen, outlen = ctypes.c_int(length), ctypes.c_int(room)
    tables = _tables_string(files)
    if not louis.liblouis.lou_translateString(
        tables, data, ctypes.byref(inlen), _OUT[0], ctypes.byref(outlen), None, None, _MODE
    ):
        raise BrailleError(f"liblouis could not translate with {', '.join(files)}")
    return ctypes.string_at(_OUT[0], outlen.value * louis.wideCharBytes).decode(louis.conversionEncoding)


@functools.cache
def _tables_string(files: tuple[str, ...]) -> bytes:
    return ",".join(files).encode(louis.fileSystemEncoding)


@functools.lru_cache(maxsize=65536)
def _known(files: tuple[str, ...], char: str) -> bool:
    """Whether the table writes `char` as 6-dot braille rather than an escape."""
    with _LOCK:
        cells = louis.translateString(list(files), char, mode=_MODE)
    cells = cells.replace(" ", "").replace(BLANK, "")
    return bool(cells) and all("\u2800" < cell <= "\u283f" for cell in cells)


def _translate_run(run: str, files: tuple[str, ...], *, tidy: bool, spaced: bool = True) -> str:
    """One liblouis call; with `tidy` (Chinese), misread polyphones are rewritten and the blanks a Chinese
    table puts before closing punctuation (or after opening punctuation) are dropped, both found through
    the output-to-input position map."""
    with _LOCK:
        output, positions, _, _ = louis.translate(list(files), run, mode=_MODE)
    if not tidy:
        return output.replace(" ", BLANK)
    output, positions = chinese.fix_polyphones(run, output, positions, files[-1], spaced=spaced)
    cells = []
    last = len(output) - 1
    for index, cell in enumerate(output):
        if cell in (" ", BLANK):
            following = run[positions[index + 1]] if index < last else ""
            preceding = run[positions[index - 1]] if index else ""
            if following in chinese.CLOSING or preceding in chinese.OPENING or (cells and cells[-1] == BLANK):
                continue  # the table's blank beside punctuation, or a second blank where one is enough
            cell = BLANK
        cells.append(cell)
    return "".join(cells)


def _join(pieces: list[str]) -> str:
    return "".join(pieces).replace(" ", BLANK)


def back_translate(braille: str, table: str) -> str:
    """Braille (Unicode) back to text with the same table; lossy for contracted tables."""
    spec = resolve_table(table)
    with _LOCK:
        return louis.backTranslateString(list(spec.files), braille.replace(BLANK, " "))
