"""A book's language as a BCP 47 tag, guessed from its text or cleaned up from its metadata.

Screen readers choose their voice from `lang`, so a Chinese book marked "en" is read as gibberish. Chinese
needs the script too ("zh-Hans" or "zh-Hant"): the same voice reads both, but braille and search differ.
langdetect cannot tell the scripts apart reliably, so Han-heavy text is judged by counting characters that
exist in only one of the two scripts.
"""

from __future__ import annotations

import re

from babel import Locale
from hanzidentifier import helpers as _hanzi
from langdetect import DetectorFactory, LangDetectException, detect

DetectorFactory.seed = 0  # langdetect is random by default: the same book would get different answers

SAMPLE_CHARS = 5000

_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f]")
_LETTER = re.compile(r"[^\W\d_]")
_TRADITIONAL_ONLY = frozenset(_hanzi.TRADITIONAL_CHARACTERS - _hanzi.SIMPLIFIED_CHARACTERS)
_SIMPLIFIED_ONLY = frozenset(_hanzi.SIMPLIFIED_CHARACTERS - _hanzi.TRADITIONAL_CHARACTERS)

# ISO 639-2 codes seen in old metadata (MARC, some EPUBs) mapped to their two-letter forms.
_THREE_LETTER = {
    "eng": "en",
    "chi": "zh",
    "zho": "zh",
    "fre": "fr",
    "fra": "fr",
    "ger": "de",
    "deu": "de",
    "spa": "es",
    "ita": "it",
    "jpn": "ja",
    "kor": "ko",
    "rus": "ru",
    "por": "pt",
    "lat": "la",
    "grc": "grc",
    "dut": "nl",
    "nld": "nl",
    "ara": "ar",
}
_KNOWN_LANGUAGES = frozenset(code for code in Locale("en").languages if "_" not in code)
_HANS_REGIONS = {"cn", "sg", "my", "hans"}
_HANT_REGIONS = {"tw", "hk", "mo", "hant"}
_TAG = re.compile(r"^[a-z]{2,3}(-[a-z0-9]{1,8})*$")
# Names of languages that metadata sometimes holds instead of a code ("English", "Chinese").
_NAMES = {
    "english": "en",
    "chinese": "zh",
    "french": "fr",
    "german": "de",
    "spanish": "es",
    "italian": "it",
    "japanese": "ja",
    "latin": "la",
    "russian": "ru",
    "portuguese": "pt",
    "dutch": "nl",
}


def chinese_script(text: str) -> str | None:
    """ "zh-Hans" or "zh-Hant" by which script's own characters occur more; None when no Han text."""
    simplified = traditional = 0
    for char in text:
        if char in _SIMPLIFIED_ONLY:
            simplified += 1
        elif char in _TRADITIONAL_ONLY:
            traditional += 1
    if simplified == traditional == 0:
        return "zh-Hans" if _HAN.search(text) else None
    return "zh-Hant" if traditional > simplified else "zh-Hans"


def detect_language(text: str) -> str | None:
    """Guess the BCP 47 tag of `text`; None when it has too little text to tell."""
    sample = text[:SAMPLE_CHARS]
    letters = _LETTER.findall(sample)
    if not letters:
        return None
    han = sum(1 for char in letters if _HAN.match(char))
    # Kana mark Japanese, which also uses Han characters; leave that to langdetect.
    kana = sum(1 for char in letters if "\u3040" <= char <= "\u30ff")
    if han >= 0.3 * len(letters) and kana < 0.1 * han:
        return chinese_script(sample)
    try:
        found = detect(sample)
    except LangDetectException:
        return None
    if found in {"zh-cn", "zh-tw"}:
        return chinese_script(sample)
    return normalise_language_tag(found)


def normalise_language_tag(tag: str | None) -> str | None:
    """A clean BCP 47 tag from what metadata holds ("zh_CN", "chi", "en-us", "English"); None for junk."""
    if not tag:
        return None
    cleaned = tag.strip().replace("_", "-").lower()
    if cleaned in _NAMES:
        cleaned = _NAMES[cleaned]
    if not _TAG.match(cleaned) or cleaned in {"und", "mul", "zxx", "xx"}:
        return None
    primary, *rest = cleaned.split("-")
    primary = _THREE_LETTER.get(primary, primary)
    if primary not in _KNOWN_LANGUAGES:
        return None  # a code no one has registered is junk, not a language
    if primary == "zh":
        if any(part in _HANT_REGIONS for part in rest):
            return "zh-Hant"
        return "zh-Hans"
    parts = [primary]
    for part in rest:
        if len(part) == 4 and part.isalpha():
            parts.append(part.title())  # script: Latn, Cyrl
        elif len(part) == 2 and part.isalpha() or len(part) == 3 and part.isdigit():
            parts.append(part.upper())  # region: US, GB, 419
        else:
            parts.append(part)
    return "-".join(parts)
