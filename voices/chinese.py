"""Chinese text as tone-numbered pinyin for espeak-ng's `cmn-latn-pinyin` voice.

espeak-ng 1.51 converts characters to sounds one by one and misreads polyphones (银行 as "yin xing", 长大 as
"chang da"). pypinyin chooses readings word by word from its phrase dictionary, and the `cmn-latn-pinyin`
voice reads tone-numbered syllables ("yin2 hang2") correctly, so Chinese is converted here and never handed
to espeak-ng as characters.
"""

from __future__ import annotations

import re
import unicodedata

from pypinyin import Style, lazy_pinyin

from voices.text import HAN

CHINESE_VOICE = "cmn-latn-pinyin"
HAN_RUN = re.compile(f"[{HAN}]+")

# Chinese punctuation as the ASCII marks espeak-ng pauses on; brackets and quotes only separate.
_PUNCTUATION = {
    "，": ", ", "、": ", ", "。": ". ", "．": ". ", "！": "! ", "？": "? ", "；": "; ", "：": ": ",
    "…": "... ", "—": ", ", "～": " ", "·": " ", "・": " ", "“": " ", "”": " ", "‘": " ", "’": " ",
    "「": " ", "」": " ", "『": " ", "』": " ", "《": " ", "》": " ", "〈": " ", "〉": " ", "（": ", ",
    "）": ", ", "【": " ", "】": " ", "〔": " ", "〕": " ", "〖": " ", "〗": " ", "〃": " ", "　": " ",
}  # fmt: skip
_PUNCTUATION_RE = re.compile("|".join(map(re.escape, _PUNCTUATION)))


def ascii_punctuation(text: str) -> str:
    """Replace CJK punctuation by ASCII equivalents so no voice reads a mark's name or ignores a pause."""
    text = _PUNCTUATION_RE.sub(lambda m: _PUNCTUATION[m.group()], text)
    text = "".join(unicodedata.normalize("NFKC", ch) if "\uff01" <= ch <= "\uff5e" else ch for ch in text)
    text = re.sub(r"\s*([,.;:!?])(?:\s*[,.;:])+", r"\1", text)  # "：“" became ":  " then ", " — keep one mark
    text = re.sub(r"\s+([,.;:!?])", r"\1", text)
    return re.sub(r"\s+", " ", text).strip()


# Words pypinyin 0.55 reads wrong, found in the corpus books: 何曾 "he2 zeng1", 落下 "la4 xia4" (là is
# "leave behind"; falling, luò, is far more common: 树叶落下来), and the measure word 只 after a number
# ("liang3 zhi3 shou3" for 两只手). Kept here rather than loaded into pypinyin's global phrase dictionary,
# which the braille library in the same process also reads.
_NUMBERS = {"一": "yi4", "两": "liang3", "三": "san1", "四": "si4", "五": "wu3", "六": "liu4", "七": "qi1",
            "八": "ba1", "九": "jiu3", "十": "shi2", "几": "ji3", "半": "ban4", "每": "mei3"}  # fmt: skip
# The starter pronunciation dictionary (voices/lexicon.py): the catalogue's first entries, and the
# active lexicon, not this table, is what `_pinyin` reads.
READINGS = {"何曾": "he2 ceng2", "落下": "luo4 xia4"} | {n + "只": f"{p} zhi1" for n, p in _NUMBERS.items()}


def _pinyin(text: str, errors) -> list[str]:
    """pypinyin word by word, except the written forms of the active lexicon's Chinese entries."""
    from voices.lexicon import active

    lexicon = active()
    pattern, readings = lexicon.chinese_pattern(), lexicon.chinese_readings()
    items: list[str] = []
    start = 0
    for match in [*(pattern.finditer(text) if pattern else ()), None]:
        end = match.start() if match else len(text)
        if end > start:
            part = text[start:end]
            items += lazy_pinyin(part, style=Style.TONE3, neutral_tone_with_five=True, tone_sandhi=True,
                                 errors=errors)  # fmt: skip
        if match:
            items += readings[match.group()].split()
            start = match.end()
    return items


def to_pinyin(han: str) -> list[str]:
    """Tone-numbered syllables (tone 5 for neutral), chosen word by word: 银行行长 → yin2 hang2 hang2 zhang3.

    Characters pypinyin does not know are dropped rather than passed on: the Mandarin voice would spell them.
    """
    return [s for s in _pinyin(han, lambda _chars: []) if s.strip()]


def pinyin_text(text: str) -> str:
    """A run of Chinese (characters and punctuation) as text for the `cmn-latn-pinyin` voice."""
    parts = []
    for item in _pinyin(text, _keep_non_han):
        parts.append(item if HAN_RUN.search(item) is None else "")
    text = ascii_punctuation(" ".join(parts))
    # Only syllables and pauses may reach the Mandarin voice: brackets become pauses; quotes, bullets and note
    # markers (②) would otherwise be read with English names.
    text = re.sub(r"[()\[\]]", ",", text)
    text = re.sub(r"[^a-z0-9 ,.;:!?]", " ", text)
    return ascii_punctuation(re.sub(r"^[\s,.;:!?]+", "", text))


def _keep_non_han(chars: str) -> list[str]:
    return [HAN_RUN.sub("", chars)]
