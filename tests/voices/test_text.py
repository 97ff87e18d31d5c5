"""Sentence segmentation and spoken forms for English and Chinese."""

from __future__ import annotations

import pytest

from voices.numbers import chinese_number, english_cardinal, english_ordinal, english_year
from voices.text import (
    Sentence,
    normalize_chinese,
    normalize_english,
    prepare_sentences,
    split_for_synthesis,
    split_sentences,
)


def test_english_sentences_keep_abbreviations_initials_and_decimals():
    text = (
        "Mr. Smith met Dr. Jones at St. Paul's, e.g. near the river. Pi is 3.14 exactly! "
        'J. K. Rowling said "Hello." Then she left?\nThis line was hard-wrapped.'
    )
    assert split_sentences(text, "en") == [
        "Mr. Smith met Dr. Jones at St. Paul's, e.g. near the river.",
        "Pi is 3.14 exactly!",
        'J. K. Rowling said "Hello."',
        "Then she left?",
        "This line was hard-wrapped.",
    ]


def test_chinese_sentences_keep_closing_quotes():
    assert split_sentences("他说：“好。”然后走了！你呢？我不知道；嗯……", "zh") == [
        "他说：“好。”",
        "然后走了！",
        "你呢？",
        "我不知道；",
        "嗯……",
    ]
    assert split_sentences("第一行诗\n第二行诗", "zh") == ["第一行诗", "第二行诗"]


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("Dr. Watson", "Doctor Watson"),
        ("Mr. and Mrs. Darcy", "Mister and Missus Darcy"),
        ("St. Paul lived on Baker St.", "Saint Paul lived on Baker Street"),
        ("In 1851 he left.", "In eighteen fifty-one he left."),
        ("the 1850s", "the eighteen fifties"),
        ("in 1905 and 2005 and 2024", "in nineteen oh five and two thousand and five and twenty twenty-four"),
        ("the 3rd and 21st day", "the third and twenty-first day"),
        ("It cost £5.", "It cost five pounds."),
        ("£1.01 or $3.50", "one pound and one penny or three dollars and fifty cents"),
        ("pi is 3.14", "pi is three point one four"),
        (
            "1,234,567 men",
            "one million two hundred and thirty-four thousand five hundred and sixty-seven men",
        ),
        ("50% off", "fifty percent off"),
        ("e.g. apples, i.e. fruit, etc.", "for example apples, that is fruit, et cetera"),
        ("No. 7", "number seven"),
    ],
)
def test_english_spoken_forms(text, spoken):
    assert normalize_english(text) == spoken


@pytest.mark.parametrize(
    ("text", "spoken"),
    [
        ("第3次", "第三次"),
        ("2024年", "二〇二四年"),
        ("3.5", "三点五"),
        ("10年", "十年"),
        ("105人", "一百零五人"),
        ("12,345元", "一万二千三百四十五元"),
        ("50%", "百分之五十"),
        ("1/3", "三分之一"),
        ("第２章", "第二章"),
    ],
)
def test_chinese_numbers_read_as_chinese(text, spoken):
    assert normalize_chinese(text) == spoken


def test_only_numbers_touching_chinese_are_converted_in_other_languages():
    assert prepare_sentences("In 2024 he wrote 2024年.", "en") == [
        Sentence("In 2024 he wrote 2024年.", "In twenty twenty-four he wrote 二〇二四年.")
    ]


def test_number_words():
    assert english_cardinal(0) == "zero"
    assert english_cardinal(1001) == "one thousand and one"
    assert english_ordinal(12) == "twelfth" and english_ordinal(40) == "fortieth"
    assert english_year(1900) == "nineteen hundred"
    assert chinese_number(10086) == "一万零八十六"
    assert chinese_number(100010000) == "一亿零一万"
    assert chinese_number("007") == "零零七"


def test_display_and_speech_forms():
    sentences = prepare_sentences("Dr. Who arrived in 1963. He stayed.", "en")
    assert [s.display for s in sentences] == ["Dr. Who arrived in 1963.", "He stayed."]
    assert sentences[0].speech == "Doctor Who arrived in nineteen sixty-three."


def test_split_for_synthesis_prefers_sentence_then_clause_then_space():
    text = "First sentence here. Second one, with a clause; and more words after it."
    pieces = split_for_synthesis(text, 30)
    assert pieces[0] == "First sentence here."
    assert all(len(piece) <= 30 for piece in pieces)
    assert " ".join(pieces) == text
    letters = "x" * 1000
    assert split_for_synthesis(letters, 400) == ["x" * 400, "x" * 400, "x" * 200]
    chinese = "银行行长说，" * 100
    assert all(len(p) <= 50 and p.endswith("，") for p in split_for_synthesis(chinese, 50))
