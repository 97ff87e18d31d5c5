"""Numbers as words, in English and in Chinese characters.

Written out here rather than left to espeak-ng because its readings are wrong for books: it reads 1851 as "one
thousand eight hundred and fifty one" rather than as a year, and the Mandarin pinyin voice cannot read Arabic
numerals at all once the text has become pinyin.
"""

from __future__ import annotations

_ONES = [
    "zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
]  # fmt: skip
_TENS = ["", "", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_SCALES = [(10**12, "trillion"), (10**9, "billion"), (10**6, "million"), (1000, "thousand")]
_ORDINAL_WORDS = {
    "one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth", "nine": "ninth",
    "twelve": "twelfth",
}  # fmt: skip


def _below_thousand(n: int) -> str:
    hundreds, rest = divmod(n, 100)
    words = []
    if hundreds:
        words.append(f"{_ONES[hundreds]} hundred")
    if rest:
        if hundreds:
            words.append("and")
        if rest < 20:
            words.append(_ONES[rest])
        else:
            tens, ones = divmod(rest, 10)
            words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    return " ".join(words)


def english_cardinal(n: int) -> str:
    """British reading, "one hundred and five"; negative numbers read "minus"."""
    if n < 0:
        return "minus " + english_cardinal(-n)
    if n < 1000:
        return _ONES[n] if n < 20 else _below_thousand(n)
    words = []
    for value, name in _SCALES:
        if n >= value:
            count, n = divmod(n, value)
            words.append(f"{english_cardinal(count)} {name}")
    if n:
        words.append(("and " if n < 100 else "") + _below_thousand(n))
    return " ".join(words)


def english_ordinal(n: int) -> str:
    words = english_cardinal(n)
    head, sep, last = words.rpartition(" ")
    hyphen_head, hyphen, last = last.rpartition("-")
    if last in _ORDINAL_WORDS:
        last = _ORDINAL_WORDS[last]
    elif last.endswith("y"):
        last = last[:-1] + "ieth"
    else:
        last += "th"
    return head + sep + hyphen_head + hyphen + last


def english_year(year: int, *, plural: bool = False) -> str:
    """1851 → "eighteen fifty-one", 1905 → "nineteen oh five", 2005 → "two thousand and five"; with `plural`,
    the decade: 1850s → "eighteen fifties"."""
    century, rest = divmod(year, 100)
    if 2000 <= year < 2010:
        words = english_cardinal(year)
    elif rest == 0:
        words = f"{english_cardinal(century)} hundred"
    elif rest < 10:
        words = f"{english_cardinal(century)} oh {_ONES[rest]}"
    else:
        words = f"{english_cardinal(century)} {english_cardinal(rest)}"
    if plural:
        words = words[:-1] + "ies" if words.endswith("y") else words + "s"
    return words


_ZH_DIGITS = "零一二三四五六七八九"
_ZH_YEAR_DIGITS = "〇一二三四五六七八九"
_ZH_SMALL_UNITS = ["千", "百", "十", ""]
_ZH_BIG_UNITS = ["", "万", "亿", "万亿"]


def chinese_numerals(digits: str) -> str:
    """Digit by digit, as years and telephone numbers are read: 2024 → 二〇二四."""
    return "".join(_ZH_YEAR_DIGITS[int(d)] for d in digits)


def _zh_group(n: int) -> str:
    out, zero = "", False
    for digit, unit in zip(f"{n:04d}", _ZH_SMALL_UNITS, strict=True):
        if digit == "0":
            zero = bool(out)
            continue
        if zero:
            out += "零"
            zero = False
        out += _ZH_DIGITS[int(digit)] + unit
    return out


def chinese_number(value: int | str) -> str:
    """Cardinal reading with 万/亿 grouping: 105 → 一百零五, 12 → 十二, 20000 → 两万.

    Strings with a leading zero or more than 16 digits (codes, long serials) are read digit by digit.
    """
    text = str(value)
    if len(text) > 16 or (len(text) > 1 and text.startswith("0")):
        return "".join(_ZH_DIGITS[int(d)] for d in text)
    n = int(text)
    if n == 0:
        return "零"
    groups = []
    while n:
        n, group = divmod(n, 10000)
        groups.append(group)
    out, need_zero = "", False
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if group == 0:
            need_zero = bool(out)
            continue
        if out and (need_zero or group < 1000):
            out += "零"
        out += _zh_group(group) + _ZH_BIG_UNITS[index]
        need_zero = False
    if out.startswith("一十"):
        out = out[1:]
    if out.startswith("二") and out[1:2] in {"千", "万", "亿"}:
        out = "两" + out[1:]
    return out
