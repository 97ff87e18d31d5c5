"""braille.translate with the real liblouis: the issue's Chinese examples, no escapes ever, the project's
own YAML specs, and back-translation of a real book."""

from __future__ import annotations

import re
import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from difflib import SequenceMatcher
from pathlib import Path

import louis
import pytest
from pypinyin import Style, lazy_pinyin

from braille.tables import TABLES, BrailleError, default_table, installed_tables, resolve_table
from braille.translate import BLANK, PLACEHOLDER, back_translate, translate

CORPUS = Path(__file__).parent.parent / "corpus"
SPECS = sorted((CORPUS / "braille-specs").glob("*.yaml"))
CELLS = re.compile("^[\u2800-\u283f]*$")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("草地上的花是风吹开的。", "⠉⠖⠄⠙⠊⠀⠱⠦⠀⠙⠀⠓⠿⠁⠀⠱⠀⠋⠼⠀⠟⠺⠁⠅⠪⠁⠀⠙⠐⠆"),
        ("银行行长", "⠣⠂⠓⠦⠀⠓⠦⠌⠦⠄"),  # yín háng háng zhǎng, not xíng cháng
        ("第3次", "⠙⠊⠀⠼⠉⠀⠉⠆"),
        ("WCAG", "⠠⠠⠺⠉⠁⠛"),
    ],
)
def test_the_issues_chinese_examples(text: str, expected: str) -> None:
    assert translate(text, "zhcn-cbs").braille == expected


def test_word_spacing_can_be_turned_off() -> None:
    spaced = translate("草地上的花是风吹开的。", "zhcn-cbs").braille
    unspaced = translate("草地上的花是风吹开的。", "zhcn-cbs", segment_words=False).braille
    assert unspaced.count(BLANK) < spaced.count(BLANK)
    assert unspaced.replace(BLANK, "") == spaced.replace(BLANK, "")


def test_never_a_blank_before_closing_or_after_opening_punctuation() -> None:
    text = "“你好，”他说。我们去了北京、上海；然后（很快）回家！真的吗？"
    braille = translate(text, "zhcn-cbs").braille
    for closing in ("。", "，", "、", "；", "！", "？", "”", "）"):
        cells = louis.translateString(["zhcn-cbs.ctb"], closing, mode=louis.dotsIO | louis.ucBrl).strip()
        assert BLANK + cells not in braille, closing
    assert BLANK + BLANK not in braille


# GF 0019-2018 initials, to check braille against pypinyin without our code: g/j, k/q and h/x share a cell.
INITIAL_CELLS = dict(
    zip("b p m f d t n l g k h j q x zh ch sh r z c s".split(), "⠃⠏⠍⠋⠙⠞⠝⠇⠛⠅⠓⠛⠅⠓⠌⠟⠱⠚⠵⠉⠎", strict=True)
)


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("银行", "⠣⠂⠓⠦"),  # yín háng: the table is right and is left alone
        ("行长", "⠓⠦⠌⠦⠄"),  # háng zhǎng: the table writes xíng cháng
        ("重新", "⠟⠲⠓⠣⠁"),  # chóng xīn
        ("长大", "⠌⠦⠄⠙⠔"),  # zhǎng dà
        ("音乐", "⠣⠁⠾"),  # yīn yuè
        ("行走", "⠓⠡⠂⠵⠷⠄"),  # xíng zǒu
        ("快乐", "⠅⠽⠇⠢⠆"),  # kuài lè
        ("长城", "⠟⠦⠟⠼"),  # cháng chéng
        ("否极泰来", "⠏⠊⠄⠛⠊⠂⠞⠪⠆⠇⠪⠂"),  # pǐ jí tài lái: the table writes fǒu
        ("百里", "⠃⠪⠄⠇⠊⠄"),  # bǎi lǐ: the table writes bó
        ("阿房宫", "⠢⠁⠏⠦⠛⠲⠁"),  # ē páng gōng: the table writes ā fáng
        ("盛饭", "⠟⠼⠋⠧⠆"),  # chéng fàn: the table writes shèng
    ],
)
def test_polyphones_are_written_as_pypinyin_reads_them(word: str, expected: str) -> None:
    braille = translate(word, "zhcn-cbs", segment_words=False).braille
    assert braille == expected
    initials = [i for i in lazy_pinyin(word, style=Style.INITIALS, strict=False) if i in INITIAL_CELLS]
    cells = iter(braille)
    assert all(INITIAL_CELLS[i] in cells for i in initials), (word, initials)  # in order, as pypinyin reads


def test_only_misread_words_are_rewritten() -> None:
    """Where the table's reading agrees with pypinyin (tones aside), its own cells stay, with its tone
    omissions and abbreviations; so does a tone-only disagreement (zhcn-g1's 1只 zhī; pypinyin says zhǐ)."""
    right = ("句子", "好客", "海浪", "你好", "真的", "今天的天气不错", "中国是发展中国家")
    cases = [("zhcn-cbs", text) for text in right]
    for table, text in [*cases, ("zhcn-g1", "1只"), ("zhcn-g1", "阿胶")]:
        raw = louis.translateString([f"{table}.ctb"], text, mode=louis.dotsIO | louis.ucBrl)
        assert translate(text, table, segment_words=False).braille == raw.replace(" ", BLANK), text


@pytest.mark.parametrize("table", ["zhcn-cbs", "zhcn-g1", "zh-chn", "en-ueb-g2"])
def test_missing_characters_never_give_escapes(table: str) -> None:
    for text in ("堃", "喆", "們", "堃喆們的書", "Mixed 中文 text 們", "emoji 😀 \u0007 control"):
        result = translate(text, table)
        assert CELLS.match(result.braille), (table, text, result.braille)
        assert "\\" not in result.braille


def test_invisible_characters_are_dropped_not_written() -> None:
    """liblouis writes a soft hyphen as ⠤ and a zero-width space as a blank; a BOM becomes a placeholder."""
    assert translate("co\u00adoperate", "en-ueb-g2") == translate("cooperate", "en-ueb-g2")
    assert translate("a\u200bb\u2060c", "en-ueb-g1").braille == translate("abc", "en-ueb-g1").braille
    assert translate("\ufeff\u200e行长", "zhcn-cbs") == translate("行长", "zhcn-cbs")
    assert translate("x\x85y", "en-ueb-g1").braille == translate("x y", "en-ueb-g1").braille  # NEL: a break


def test_traditional_is_converted_and_a_last_resort_is_counted() -> None:
    assert translate("們", "zhcn-cbs").braille == translate("们", "zhcn-cbs").braille
    assert translate("堃", "zhcn-cbs").placeholders == 0  # zhcn-g1 has it
    result = translate("书 😀 😀", "zhcn-cbs")
    assert result.placeholders == 2 and result.braille.count(PLACEHOLDER) == 2


def test_english_is_liblouis_unchanged() -> None:
    text = "The WCAG say: 1,234 readers can't wait!"
    direct = louis.translateString(["en-ueb-g2.ctb"], text, mode=louis.dotsIO | louis.ucBrl)
    assert translate(text, "en-ueb-g2").braille == direct.replace(" ", BLANK)
    assert translate(text, "en-ueb-g1").braille != translate(text, "en-ueb-g2").braille


def test_tables_by_name_and_defaults() -> None:
    assert default_table("zh-Hans") == "zhcn-cbs" and default_table("en-US") == "en-ueb-g2"
    assert default_table(None) == "en-ueb-g2"
    assert set(TABLES) >= {"en-ueb-g1", "en-ueb-g2", "en-us-g2", "zhcn-cbs", "zhcn-g1", "zh-chn"}
    assert "de-g2" in installed_tables()
    assert resolve_table("de-g2").files == ("de-g2.ctb",)
    assert translate("Straße", "de-g2").braille
    for bad in ("", "../../etc/passwd", "no-such-table", "en-ueb-g2.ctb/x"):
        with pytest.raises(BrailleError):
            resolve_table(bad)


def test_liblouis_is_used_safely_from_many_threads() -> None:
    """The binding is not thread-safe; the lock must make concurrent edition jobs safe."""
    texts = [("草地上的花是风吹开的。", "zhcn-cbs"), ("The whale was white.", "en-ueb-g2")] * 200
    expected = {key: translate(*key).braille for key in set(texts)}
    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(lambda key: (key, translate(*key).braille), texts))
    assert all(braille == expected[key] for key, braille in results)


def test_long_paragraphs_are_translated_whole() -> None:
    text = " ".join(["The quick brown fox jumps over the lazy dog."] * 400)  # 18,000 characters
    braille = translate(text, "en-ueb-g2").braille
    assert braille.count("⠀⠋⠕⠭⠀") == 400


@pytest.mark.parametrize("spec", SPECS, ids=[s.name for s in SPECS])
def test_liblouis_own_specs_pass(spec: Path) -> None:
    """The liblouis project's YAML tests for the tables we offer, run by its own runner."""
    assert shutil.which("lou_checkyaml"), "lou_checkyaml (Debian liblouis-bin) is missing"
    completed = subprocess.run(["lou_checkyaml", spec.name], cwd=spec.parent, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]


def test_specs_cover_every_table_we_offer() -> None:
    text = "\n".join(spec.read_text(encoding="utf-8") for spec in SPECS)
    for table in TABLES.values():
        assert table.files[0] in text, table.name


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z]+", text.lower())


def _paragraphs() -> list[str]:
    source = (CORPUS / "text" / "en" / "pg84-frankenstein-with-pg-header.txt").read_text(encoding="utf-8")
    body = source[source.index("LETTER I.") :]
    return [" ".join(p.split()) for p in body.split("\n\n") if len(p.split()) > 5][:300]


def test_grade_1_back_translates_exactly() -> None:
    for paragraph in _paragraphs()[:100]:
        braille = translate(paragraph, "en-ueb-g1").braille
        assert _words(back_translate(braille, "en-ueb-g1")) == _words(paragraph)


@pytest.mark.parametrize("table", ["en-ueb-g2", "en-us-g2"])
def test_grade_2_back_translates_95_percent_of_words(table: str) -> None:
    """Words of the source found again, in order (difflib alignment), after a round trip through braille."""
    same = total = 0
    for paragraph in _paragraphs():
        source = _words(paragraph)
        back = _words(back_translate(translate(paragraph, table).braille, table))
        total += len(source)
        same += sum(
            block.size for block in SequenceMatcher(None, source, back, autojunk=False).get_matching_blocks()
        )
    assert total > 10_000 and same / total >= 0.95, f"{same / total:.1%} of {total} words"
