"""Turn book text into sentences a speech engine reads naturally.

Audio editions are synchronised sentence by sentence (DAISY SMIL, EPUB 3 Media Overlays), so each sentence
keeps two forms: the text shown to the reader, unchanged, and the text spoken, where "Dr." became "Doctor",
"1851" became "eighteen fifty-one" and, in Chinese, "第3次" became "第三次" (the pinyin converter and the
Mandarin voice know nothing of Arabic numerals, and espeak-ng reads "£5" as "pound five").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from voices.numbers import chinese_number, chinese_numerals, english_cardinal, english_ordinal, english_year

HAN = r"\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HAN_RE = re.compile(f"[{HAN}]")

# Sentence ends. Chinese terminators are unambiguous in any language; closing quotes and brackets stay with
# the sentence they close ("他说：“好。”然后" splits after "”").
_CLOSERS = re.escape("\"'”’」』）》〉】)]")
_ZH_END = re.compile(f"[。！？；]+[{_CLOSERS}]*|…+[{_CLOSERS}]*|(?:[!?]+|\\.{{3,}})[{_CLOSERS}]*(?=[{HAN}])")
_EN_END = re.compile(f"[.!?…]+[{_CLOSERS}]*(?=\\s+[\"'“‘(\\[]*[A-Z0-9])")

# Words ending in a period that do not end a sentence when followed by a capital (Mr. Smith, St. Paul).
_NO_BREAK_AFTER = {
    "mr", "mrs", "ms", "dr", "st", "prof", "capt", "gen", "col", "lt", "sgt", "rev", "hon", "mt", "messrs",
    "jr", "sr", "e.g", "i.e", "vs", "no", "vol", "ch", "fig", "p", "pp", "cf", "ft",
}  # fmt: skip


@dataclass(frozen=True)
class Sentence:
    display: str
    speech: str


def is_chinese(lang: str | None) -> bool:
    return bool(lang) and lang.lower().split("-")[0] in {"zh", "cmn", "yue", "lzh", "wuu"}


def image_words(lang: str | None, alt: str) -> str:
    """How an image is announced, spoken or in braille, in the book's language rather than the interface's."""
    return f"图片：{alt}" if is_chinese(lang) else f"Image: {alt}"


def has_han(text: str) -> bool:
    return _HAN_RE.search(text) is not None


def split_sentences(text: str, lang: str = "en") -> list[str]:
    """Split a paragraph into sentences; blank lines always break, single newlines break only in Chinese
    (where a line is a verse or a paragraph) and are hard wrapping in English."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text):
        lines = block.splitlines() if is_chinese(lang) else [re.sub(r"\s*\n\s*", " ", block)]
        for line in lines:
            out.extend(_split_line(line))
    return out


def _split_line(line: str) -> list[str]:
    cuts = {m.end() for m in _ZH_END.finditer(line)}
    for m in _EN_END.finditer(line):
        word = re.search(r"([\w.]+)\.$", line[: m.start() + 1])
        if m.group().startswith(".") and word:
            stem = word.group(1).lower()
            if stem in _NO_BREAK_AFTER or re.fullmatch(r"[a-z]", stem):  # initials: "J. K. Rowling"
                continue
        cuts.add(m.end())
    pieces, start = [], 0
    for cut in sorted(cuts):
        pieces.append(line[start:cut])
        start = cut
    pieces.append(line[start:])
    return [p.strip() for p in pieces if p.strip()]


def split_for_synthesis(text: str, max_chars: int = 400) -> list[str]:
    """Cut text into pieces no longer than `max_chars`, at the strongest boundary available.

    Engines misbehave on long input (pyttsx3 segfaults on 15,000 unpunctuated characters and slows down
    quadratically), so long text is cut at sentence ends, then clauses, then spaces, and only as a last resort
    in the middle of a run of letters.
    """
    text = text.strip()
    pieces: list[str] = []
    while len(text) > max_chars:
        window = text[: max_chars + 1]
        cut = 0
        for pattern in (r"[.!?。！？；…][\"'”’」』）)\]]*\s*", r"[,;:，、：；—]\s*", r"\s+"):
            ends = [m.end() for m in re.finditer(pattern, window) if 0 < m.end() <= max_chars]
            if ends:
                cut = ends[-1]
                break
        cut = cut or max_chars
        pieces.append(text[:cut].strip())
        text = text[cut:].strip()
    if text:
        pieces.append(text)
    return [p for p in pieces if p]


# --- English ----------------------------------------------------------------------------------------------

_ABBREVIATIONS = [
    (r"\bMr\.", "Mister"), (r"\bMrs\.", "Missus"), (r"\bMs\.", "Miz"), (r"\bDr\.", "Doctor"),
    (r"\bProf\.", "Professor"), (r"\bCapt\.", "Captain"), (r"\bGen\.", "General"), (r"\bCol\.", "Colonel"),
    (r"\bLt\.", "Lieutenant"), (r"\bSgt\.", "Sergeant"), (r"\bRev\.", "Reverend"), (r"\bMt\.", "Mount"),
    (r"\bJr\.", "Junior"), (r"\bSr\.", "Senior"), (r"\bSt\.(?=\s+[A-Z])", "Saint"), (r"\bSt\.", "Street"),
    (r"\be\.g\.", "for example"), (r"\bi\.e\.", "that is"), (r"\betc\.", "et cetera"),
    (r"\bvs\.", "versus"), (r"\bNo\.(?=\s*\d)", "number"), (r"\bapprox\.", "approximately"),
    (r"&", " and "),
]  # fmt: skip
_CURRENCIES = {"£": ("pound", "pounds", "penny", "pence"), "$": ("dollar", "dollars", "cent", "cents"),
               "€": ("euro", "euros", "cent", "cents")}  # fmt: skip
_NUMBER = r"\d{1,3}(?:,\d{3})+|\d+"


def _int(digits: str) -> int:
    return int(digits.replace(",", ""))


def _money(m: re.Match[str]) -> str:
    one, many, sub_one, sub_many = _CURRENCIES[m["sign"]]
    whole = _int(m["whole"])
    words = f"{english_cardinal(whole)} {one if whole == 1 else many}"
    if m["cents"] and int(m["cents"]):
        cents = int(m["cents"])
        words += f" and {english_cardinal(cents)} {sub_one if cents == 1 else sub_many}"
    return words


def _digits_words(digits: str) -> str:
    return " ".join(english_cardinal(int(d)) for d in digits)


def _plain_number(m: re.Match[str]) -> str:
    text = m.group()
    if "," not in text and len(text) > 1 and text.startswith("0") or len(text.replace(",", "")) > 15:
        return _digits_words(text.replace(",", ""))
    return english_cardinal(_int(text))


def normalize_english(text: str) -> str:
    """Expand what espeak-ng reads badly: titles, Latin abbreviations, money, ordinals, years, decimals."""
    for pattern, words in _ABBREVIATIONS:
        text = re.sub(pattern, words, text)
    text = re.sub(rf"(?P<sign>[£$€])\s?(?P<whole>{_NUMBER})(?:\.(?P<cents>\d\d))?(?!\d)", _money, text)
    text = re.sub(r"\b(\d+)(?:st|nd|rd|th)\b", lambda m: english_ordinal(int(m[1])), text)
    text = re.sub(rf"({_NUMBER})(?:\.(\d+))?\s?%", lambda m: _decimal(m[1], m[2]) + " percent", text)
    text = re.sub(
        r"(?<![\d,.])(1[1-9]\d\d|20\d\d)(s?)(?![\d%]|[,.]\d)",
        lambda m: english_year(int(m[1]), plural=bool(m[2])),
        text,
    )
    text = re.sub(rf"(?<![\d.])({_NUMBER})\.(\d+)", lambda m: _decimal(m[1], m[2]), text)
    text = re.sub(rf"(?<![\d.]){_NUMBER}", _plain_number, text)
    return re.sub(r"[ \t]{2,}", " ", text).strip()


def _decimal(whole: str, fraction: str | None) -> str:
    words = english_cardinal(_int(whole))
    return f"{words} point {_digits_words(fraction)}" if fraction else words


# --- Chinese ----------------------------------------------------------------------------------------------


def _zh_number(m: re.Match[str]) -> str:
    whole, fraction, percent = m["whole"].replace(",", ""), m["fraction"], m["percent"]
    year = re.match(r"\s*年", m.string[m.end() :]) is not None
    if year and len(whole) >= 3 and not fraction:
        return chinese_numerals(whole)
    spoken = chinese_number(whole)
    if fraction:
        spoken += "点" + chinese_numerals(fraction)
    return "百分之" + spoken if percent else spoken


_ZH_NUMBER = re.compile(r"(?P<whole>\d{1,3}(?:,\d{3})+|\d+)(?:\.(?P<fraction>\d+))?(?P<percent>\s?[%％])?")


def normalize_chinese(text: str, *, every_number: bool = True) -> str:
    """Read Arabic numerals as Chinese: 第3次 → 第三次, 2024年 → 二〇二四年, 3.5 → 三点五, 50% → 百分之五十.

    With `every_number` false (a non-Chinese book), only numbers touching a Han character are converted.
    """
    text = re.sub(r"[０-９]", lambda m: chr(ord(m.group()) - 0xFEE0), text)
    text = re.sub(r"(\d+)\s*/\s*(\d+)", lambda m: f"{chinese_number(m[2])}分之{chinese_number(m[1])}", text)

    def convert(m: re.Match[str]) -> str:
        before, after = text[max(m.start() - 1, 0) : m.start()], text[m.end() : m.end() + 1]
        if every_number or has_han(before + after):
            return _zh_number(m)
        return m.group()

    return _ZH_NUMBER.sub(convert, text)


def speech_text(sentence: str, lang: str = "en") -> str:
    if is_chinese(lang):
        return normalize_english(normalize_chinese(sentence))
    if has_han(sentence):
        sentence = normalize_chinese(sentence, every_number=False)
    return normalize_english(sentence)


def prepare_sentences(text: str, lang: str = "en") -> list[Sentence]:
    """Each sentence of `text` with the form to display and the form to speak."""
    return [Sentence(s, speech_text(s, lang)) for s in split_sentences(text, lang)]
