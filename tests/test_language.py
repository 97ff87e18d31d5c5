"""Language tags for books: screen readers choose their voice from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessible_lib.ingest.language import chinese_script, detect_language, normalise_language_tag

CORPUS = Path(__file__).parent / "corpus" / "text"


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("zh-CN", "zh-Hans"),
        ("zh_cn", "zh-Hans"),
        ("chi", "zh-Hans"),
        ("zho", "zh-Hans"),
        ("zh-TW", "zh-Hant"),
        ("zh-HK", "zh-Hant"),
        ("zh-Hant-TW", "zh-Hant"),
        ("en-US", "en-US"),
        ("en_gb", "en-GB"),
        ("eng", "en"),
        ("fre", "fr"),
        ("English", "en"),
        ("EN", "en"),
        ("junk", None),
        ("xx", None),
        ("und", None),
        ("", None),
        ("12", None),
    ],
)
def test_normalise_language_tag(tag: str, expected: str | None) -> None:
    assert normalise_language_tag(tag) == expected


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("en/pg84-frankenstein-with-pg-header.txt", "en"),
        ("en/rip-van-winkle-lowercased-nopunct.txt", "en"),
        ("zh/zh-lunyu-simplified.txt", "zh-Hans"),
        ("zh/zh-changhenge-bai-juyi.txt", "zh-Hans"),
        ("zh/zh-guwenguanzhi-traditional.txt", "zh-Hant"),
    ],
)
def test_detect_language_of_real_books(name: str, expected: str) -> None:
    text = (CORPUS / name).read_text(encoding="utf-8-sig")
    assert detect_language(text) == expected


def test_detect_language_other_languages() -> None:
    french = "Il était une fois une petite fille de village, la plus jolie qu'on eût su voir."
    german = "Als Gregor Samsa eines Morgens aus unruhigen Träumen erwachte, fand er sich verwandelt."
    assert detect_language(french) == "fr"
    assert detect_language(german) == "de"


def test_detect_language_gives_none_without_letters() -> None:
    assert detect_language("") is None
    assert detect_language("12345 !!! --- 42") is None


def test_detect_language_is_repeatable() -> None:
    text = "short text"
    assert len({detect_language(text) for _ in range(5)}) == 1


def test_chinese_script_counts_script_specific_characters() -> None:
    assert chinese_script("这个国家的语言") == "zh-Hans"
    assert chinese_script("這個國家的語言") == "zh-Hant"
    assert chinese_script("hello") is None


def test_japanese_is_not_taken_for_chinese() -> None:
    text = "吾輩は猫である。名前はまだ無い。どこで生れたかとんと見当がつかぬ。何でも薄暗いじめじめした所で"
    assert detect_language(text) == "ja"
