"""Turning the bytes of a plain-text book into text without asking the librarian which encoding it is in.

Chinese texts in the wild come as UTF-8, GB2312/GBK/GB18030, Big5 and UTF-16, mostly without any label.
GB18030 decodes almost any byte string, so "it decoded" proves little: the candidates are scored by how many
of the most frequent Chinese characters the result contains, which a wrong guess scatters into rare ones.
"""

from __future__ import annotations

import codecs
import re

from charset_normalizer import from_bytes

from .errors import N_, IngestError

# The most frequent characters of modern and classical Chinese (simplified), then traditional forms of the
# frequent ones that differ. A right decoding is made mostly of these; a wrong one hardly ever is.
_FREQUENT_SIMPLIFIED = (
    "的一是不了在人有我他这个们中来上大为和国地到以说时要就出会可也你对生能而子那得于着下自之年过发后作"
    "里用道行所然家种事成方多经么去法学如都同现当没动面起看定天分还进好小部其些主样理心她本前开但因只从"
    "想实日军者意无力它与长把机十民第公此已工使情明性知全三又关点正业外将两高间由问很最重并物手应战向头"
    "文体政美相见被利什二等产或新己制身果加西斯月话合回特代内信表化老给世位次度门任常先海通教儿原东声提"
    "立及比员解水名真论处走义各入几口认条平系气题活尔更别打女变四神总何电数安少报才结反受目太量再感建务"
    "做接必场件计管期市直德资命山金指克许统区保至队形社便空决治展马科司五基眼书非则听白却界达光放强即像"
    "难且权思王象完设式色路记南品住告类求据程北边死张该交规万取拉格望觉术领共确传师观清今切院让识候带导"
    "争运笑飞风步改收根干造言联持组每济车亲极林服快办议往元英士证近失转夫令准布始怎呢存未远叫台单影具罗"
    "字爱击流备兵连调深商算质团集百需价花党华城石级整府离况亚请技际约示复病息究线似官火断精满支视消越器"
    "容照须九增研写称企八功吗包片史委乎查轻易早曾除农找装广显吧阿李标谈吃图念六引历首医局突专费号尽另周"
    "较注语仅考落青随选列武红响虽推势参希古众构房半节土投某案黑维革划敌致陈律足态护七兴派孩验责营星够章"
    "音跟志底站严巴例防族供效续施留讲型料终答紧黄绝奇察母京段依批群项故按河米围江织害斗双境客纪采举杀攻"
    "父苏密低朝友诉止细愿千值仍男钱破网热助倒育属坐帝限船脸职速刻乐否刚威毛状率甚独球般普怕弹校苦创假久"
    "错承印晚兰试股拿脑预谁益阳若哪微尼继送急血惊伤素药适波夜省初喜卫源食险待述陆习置居劳财环排福纳欢雷"
    "曰兮矣焉乎哉耶夫其之所以亦乃遂皆莫尚勿毋吾汝尔彼孰奚盖故且然则即虽若如"
)
_FREQUENT_TRADITIONAL = (
    "這個們來為國說時會對過發後裡從動現當沒點業與見無長開實經問關學還進種體義產頭將數麼應給電話機軍門親"
    "氣聽東車結書記論處題覺樣號變區選條總統計師間樂聲報權萬華張陳場員難術離歲響嗎帶藝邊戰聖雖認識調愛夢"
    "風飛龍馬鳥魚紅綠語讀詩詞寫雲讓樹錢買賣飯葉橋誰爾於歡觀讚齊亂鄉陽陰歸臨壽獨職聞謂謀請諸貴賢餘齒"
)
FREQUENT_CHINESE = frozenset(_FREQUENT_SIMPLIFIED + _FREQUENT_TRADITIONAL)
_CJK_PUNCTUATION = frozenset("，。、；：？！“”‘’「」『』（）《》〈〉…—・·．　")

_WESTERN_PUNCTUATION = frozenset("‘’“”–—…«»¡¿°£€§©®·\u00a0")

_BOMS = [
    (codecs.BOM_UTF32_LE, "utf-32-le"),  # before UTF-16 LE: its BOM starts with the same two bytes
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
]
_LEGACY_CHINESE = ("gb18030", "big5", "cp950")  # cp950: Big5 as Windows writes it
LEGACY_THRESHOLD = 0.3  # share of non-ASCII characters that must be frequent Chinese for a GB/Big5 guess
UTF16_THRESHOLD = 0.6  # share of characters that must look like ordinary text for a UTF-16 guess


def _strict(data: bytes, encoding: str) -> str | None:
    try:
        return data.decode(encoding)
    except (UnicodeDecodeError, LookupError):
        return None


def chinese_score(text: str) -> float:
    """Share of the non-ASCII characters that are frequent Chinese characters or Chinese punctuation."""
    non_ascii = [char for char in text if ord(char) > 127]
    if not non_ascii:
        return 0.0
    good = sum(1 for char in non_ascii if char in FREQUENT_CHINESE or char in _CJK_PUNCTUATION)
    return good / len(non_ascii)


def _plain_score(text: str) -> float:
    """Share of characters that ordinary text is made of: printable ASCII, whitespace, frequent Chinese."""
    if not text:
        return 0.0
    good = sum(
        1
        for char in text
        if (" " <= char <= "~")
        or char in "\n\r\t"
        or char in FREQUENT_CHINESE
        or char in _CJK_PUNCTUATION
        or ("\u00c0" <= char <= "\u024f")
    )
    return good / len(text)


_CONTROLS = re.compile("[\x00-\x08\x0e-\x1f]")  # below space, less \t \n \v \f \r: one C pass, not a loop


def _looks_binary(text: str) -> bool:
    controls = len(_CONTROLS.findall(text))
    return "\x00" in text or controls > max(2, len(text) // 1000)


def _looks_western(text: str) -> bool:
    """Mostly ASCII letters with a few accented ones, as in French or German; not Cyrillic in disguise."""
    accented = 0
    for char in text:
        if "\u00c0" <= char <= "\u00ff":
            accented += 1
        elif ord(char) > 127 and char not in _WESTERN_PUNCTUATION:
            return False
    letters = sum(1 for char in text if char.isalpha())
    return accented <= 0.3 * max(1, letters)


def decode_text(data: bytes) -> tuple[str, str]:
    """Return (text, encoding name) or raise IngestError when the bytes are not text we can read."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            text = _strict(data[len(bom) :], encoding)
            if text is None:
                raise IngestError(
                    N_("The file starts as %(encoding)s text but is not valid %(encoding)s."),
                    encoding=encoding.upper(),
                )
            return text, encoding
    if not data.strip():
        raise IngestError(N_("The file is empty."))
    has_nul = b"\x00" in data
    text = _strict(data, "utf-8")
    if text is not None and not has_nul:
        if _looks_binary(text):
            raise IngestError(N_("The file holds binary data, not text."))
        return text, "utf-8"

    if len(data) % 2 == 0:
        scored = []
        for encoding in ("utf-16-le", "utf-16-be"):
            text = _strict(data, encoding)
            if text is not None and not _looks_binary(text):
                scored.append((_plain_score(text), encoding, text))
        if scored:
            score, encoding, text = max(scored)
            if score >= UTF16_THRESHOLD and (has_nul or chinese_score(text) >= LEGACY_THRESHOLD):
                return text, encoding
    if has_nul:
        raise IngestError(N_("The file holds binary data, not text."))

    legacy = []
    for encoding in _LEGACY_CHINESE:
        text = _strict(data, encoding)
        if text is not None and not _looks_binary(text):
            legacy.append((chinese_score(text), encoding, text))
    if legacy:
        score, encoding, text = max(legacy)
        if score >= LEGACY_THRESHOLD:
            return text, encoding

    # Windows-1252 is the commonest legacy encoding of Western texts; charset-normalizer often calls it a
    # Central European code page and turns "crème" into "crčme".
    text = _strict(data, "cp1252")
    if text is not None and _looks_western(text):
        return text, "cp1252"

    best = from_bytes(data).best()
    if best is not None:
        text = str(best)
        if not _looks_binary(text):
            return text, best.encoding
    raise IngestError(
        N_("The file's text encoding could not be recognised. Save it as UTF-8 and import it again.")
    )
