"""Chinese is read as word-aware tone-numbered pinyin by the Mandarin voice, and never by the English voice.

Phonemes are checked with the real `espeak-ng -x`: in its notation tones are pitch contours (1 = 55, 2 = 35,
3 = 21 or 214, 4 = 51) and the fragments below are the syllables a Mandarin speaker expects.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from voices.chinese import CHINESE_VOICE, pinyin_text, to_pinyin
from voices.runs import speech_runs
from voices.text import has_han, prepare_sentences

CORPUS_ZH = Path(__file__).parent.parent / "corpus" / "text" / "zh"
SYLLABLE = re.compile(r"^[a-z]+[1-5]$")

POLYPHONES = [
    ("银行行长", "yin2 hang2 hang2 zhang3", ["i35n", "X'a35N", "X'a35N", "ts.'a21"]),
    ("重新", "chong2 xin1", ["ts.h'ong35", "S;'i55n"]),
    ("长大", "zhang3 da4", ["ts.'a21N", "t'A51"]),
    ("音乐", "yin1 yue4", ["i55n", "'yE51"]),
    ("快乐", "kuai4 le4", ["kh'uai51", "l'@51"]),
    ("长城", "chang2 cheng2", ["ts.h'A35N", "ts.h'@35N"]),
    ("行走", "xing2 zou3", ["S;'i35N", "ts'ou21"]),
]


def phonemes(text: str, voice: str = CHINESE_VOICE) -> str:
    result = subprocess.run(
        ["espeak-ng", "-x", "-q", "-v", voice, "--stdin"],
        input=text,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout


@pytest.mark.parametrize(("word", "pinyin", "fragments"), POLYPHONES)
def test_polyphones_get_the_right_syllables_and_tones(word, pinyin, fragments):
    assert " ".join(to_pinyin(word)) == pinyin
    sent = pinyin_text(word)
    assert not has_han(sent)
    spoken = phonemes(sent).split()
    assert len(spoken) == len(fragments), spoken
    for syllable, fragment in zip(spoken, fragments, strict=True):
        assert fragment in syllable, (word, spoken)
    assert "(en)" not in " ".join(spoken)


@pytest.mark.parametrize(
    ("text", "pinyin"),
    [
        ("他何曾说过", "ta1 he2 ceng2 shuo1 guo4"),
        ("树叶落下来", "shu4 ye4 luo4 xia4 lai2"),
        ("两只手", "liang3 zhi1 shou3"),
        ("一只猫和三只狗", "yi4 zhi1 mao1 he2 san1 zhi1 gou3"),
        ("只有丢三落四", "zhi2 you3 diu1 san1 la4 si4"),  # pypinyin's own zhǐ (in sandhi) and là stay
    ],
)
def test_readings_pypinyin_gets_wrong_are_corrected(text, pinyin):
    assert " ".join(to_pinyin(text)) == pinyin
    assert pinyin_text(text) == pinyin


def test_espeak_alone_would_misread_and_spell_in_english():
    """Why characters are never sent: the plain `cmn` voice switches to English on 银行行长 (espeak-ng
    1.51). If a later espeak-ng reads it right, this test says so and the reason can be revisited."""
    assert "(en)" in phonemes("银行行长", "cmn")


def test_neutral_tone_is_five_and_understood():
    assert to_pinyin("你好吗") == ["ni2", "hao3", "ma5"]
    assert "(en)" not in phonemes(pinyin_text("你好吗"))


MIXED = "他说：“我在Google工作了3年，用Python写代码。”然后去了银行。The end 结束。"


def test_mixed_text_switches_voice_per_script():
    runs = speech_runs(prepare_sentences(MIXED, "zh")[0].speech, latin_voice="en-us")
    assert [run.chinese for run in runs] == [True, False, True, False, True]
    assert [run.text for run in runs if not run.chinese] == ["Google", "Python"]
    for run in runs:
        assert not has_han(run.text)
        assert run.voice == (CHINESE_VOICE if run.chinese else "en-us")
    assert "san1 nian2" in runs[2].text  # 3年 read as a Chinese numeral, not "three"


def _check_runs(text: str, lang: str) -> list[str]:
    chinese = []
    for sentence in prepare_sentences(text, lang):
        for run in speech_runs(sentence.speech, latin_voice="en-us"):
            assert not has_han(run.text), run
            if run.chinese:
                words = [w for w in re.split(r"[\s,.;:!?]+", run.text) if w]
                assert all(SYLLABLE.match(w) for w in words), run.text
                chinese.append(run.text)
    return chinese


def test_an_english_book_quoting_chinese():
    chinese = _check_runs("The sign read 银行 (bank). In 2024年 he saw 长城 for the 3rd time.", "en")
    assert chinese[0].startswith("yin2 hang2")
    assert "er4 ling2 er4 si4 nian2" in " ".join(chinese)


@pytest.mark.parametrize("path", sorted(CORPUS_ZH.glob("*.txt")), ids=lambda p: p.stem)
def test_corpus_lines_reach_the_mandarin_voice_as_pinyin_only(path):
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()][:12]
    chinese = _check_runs("\n".join(lines), "zh")
    assert chinese
    output = phonemes("\n".join(chinese))
    assert "(en)" not in output  # no syllable fell back to English spelling
