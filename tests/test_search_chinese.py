"""Chinese as readers type it (issue 12, part 2), on the default library (content/) as `make run` imports it:
pinyin and initials for titles and authors, Traditional and Simplified folded together both ways."""

from __future__ import annotations

import itertools
import re
import shutil

import pytest

from accessible_lib import catalogue, search, search_chinese
from accessible_lib.db import open_database
from accessible_lib.settings import Settings

from .conftest import make_book
from .default_library import import_default_library


@pytest.fixture(scope="module")
def default_library(tmp_path_factory) -> tuple[Settings, dict[str, int]]:
    return import_default_library(tmp_path_factory.mktemp("default") / "data")


@pytest.fixture
def settings(default_library) -> Settings:
    """conftest's `db` and `client` open the imported default library."""
    return default_library[0]


@pytest.fixture
def books(default_library) -> dict[str, int]:
    return default_library[1]


def titles(results: search.SearchResults) -> list[str]:
    return [hit.title for hit in results.hits]


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("lunyu", "论语"),
        ("lun yu", "论语"),
        ("lun2 yu3", "论语"),
        ("Lun Yu", "论语"),
        ("lun2yu3", "论语"),
        ("chibifu", "赤壁赋"),
        ("chi bi fu", "赤壁赋"),
        ("cbf", "赤壁赋"),
        ("gwgz", "古文觀止"),
        ("guwenguanzhi", "古文觀止"),
        ("changhenge", "长恨歌"),
        ("doueyuan", "窦娥冤"),
    ],
)
def test_pinyin_and_initials_find_a_title(db, query, title):
    assert titles(search.search(db, query))[:1] == [title]


def test_initials_find_an_authors_works(db, books):
    by_su_shi = {
        book_id
        for (book_id,) in db.execute("SELECT book_id FROM book_authors WHERE name = '苏轼'").fetchall()
    }
    assert by_su_shi == {books["赤壁赋"]}
    assert {hit.book_id for hit in search.search(db, "ss").hits} == by_su_shi
    assert {hit.book_id for hit in search.search(db, "sushi").hits} == by_su_shi
    assert {hit.book_id for hit in search.search(db, "su shi").hits} == by_su_shi


def test_a_pinyin_match_shows_no_pinyin_as_its_snippet(db):
    [hit] = search.search(db, "lunyu").hits
    assert hit.title == "论语"
    assert "lunyu" not in hit.snippet and "ly" not in hit.snippet


def test_pinyin_is_not_matched_in_the_text_of_chapters(db):
    """Pinyin keys are for titles and authors: 天下 is in the text of four books, but `tianxia` in none."""
    assert search.search(db, "天下").total == 4
    assert search.search(db, "tianxia").total == 0


def test_pinyin_ranks_below_an_exact_match(default_library, tmp_path):
    # Books are added: to a copy of the module's library (every path in it is relative to its data dir).
    shutil.copytree(default_library[0].data_dir, tmp_path / "data")
    settings, books = Settings.from_env({}, data_dir=tmp_path / "data"), default_library[1]
    db = open_database(settings.database_path)
    try:
        exact = catalogue.add_book(
            db, make_book("Lunyu", [("One", "An English study of the Analects.")], language="en")
        )
        initials = catalogue.add_book(db, make_book("CBF", [("One", "Letters.")], language="en"))
        assert [hit.book_id for hit in search.search(db, "lunyu").hits] == [exact, books["论语"]]
        assert [hit.book_id for hit in search.search(db, "cbf").hits] == [initials, books["赤壁赋"]]
    finally:
        db.close()


@pytest.mark.parametrize(
    ("query", "title"),
    [
        ("論語", "论语"),  # Traditional finds a Simplified title
        ("论语", "论语"),
        ("古文观止", "古文觀止"),  # Simplified finds a Traditional title
        ("古文觀止", "古文觀止"),
        ("竇娥冤", "窦娥冤"),
        ("長恨歌", "长恨歌"),
    ],
)
def test_traditional_and_simplified_titles_fold_together(db, query, title):
    assert titles(search.search(db, query))[:1] == [title]


def test_authors_fold_together(db, books):
    assert books["赤壁赋"] in {hit.book_id for hit in search.search(db, "蘇軾").hits}
    assert books["窦娥冤"] in {hit.book_id for hit in search.search(db, "關漢卿").hits}


def test_text_folds_together_and_snippets_keep_the_books_own_script(db, books):
    """古文觀止 is written in Traditional characters, 论语 in Simplified: each is found by a sentence typed in
    the other script, and its snippet shows the sentence as the book writes it."""
    traditional = search.search(db, "秦灭周祀")  # the book has 秦滅周祀
    assert [hit.book_id for hit in traditional.hits] == [books["古文觀止"]]
    assert "<mark>秦滅周祀</mark>" in traditional.hits[0].snippet
    assert traditional.hits[0].chapter_position is not None
    simplified = search.search(db, "三以天下讓")  # the book has 三以天下让
    assert [hit.book_id for hit in simplified.hits] == [books["论语"]]
    assert "<mark>三以天下让</mark>" in simplified.hits[0].snippet


def test_a_title_is_shown_as_written_in_its_snippet(db):
    """The metadata index holds folded text too; the snippet is put back into the record's script."""
    [traditional] = search.search(db, "古文观止").hits
    assert (str(traditional.snippet), traditional.chapter_position) == ("<mark>古文觀止</mark>", None)
    [simplified] = search.search(db, "論語").hits
    assert str(simplified.snippet) == "<mark>论语</mark>"


def test_fold_is_one_character_for_one():
    assert search_chinese.fold("古文觀止 竇娥冤 論語 蘇軾") == "古文观止 窦娥冤 论语 苏轼"
    assert search_chinese.fold("Moby Dick") == "Moby Dick"
    table = search_chinese._fold_table()
    assert len(table) > 2500  # OpenCC's dictionary, not a handful of characters
    assert all(len(chr(source)) == len(target) == 1 for source, target in table.items())


def test_unfold_puts_back_the_original_characters():
    shown = "\x02秦\u200b灭\u200b周\u200b祀\x03，\u200b并"
    assert (
        search_chinese.unfold(shown, [None, "序：秦滅周祀，並海內"])
        == "\x02秦\u200b滅\u200b周\u200b祀\x03，\u200b並"
    )
    assert search_chinese.unfold("\x02lunyu\x03 ly", ["论语"]) is None


def test_pinyin_alternative():
    assert search_chinese.pinyin_alternative("lun2 yu3") == "lunyu"
    assert search_chinese.pinyin_alternative("Lun Yu") == "lunyu"
    assert search_chinese.pinyin_alternative("xi'an") == "xian"
    assert search_chinese.pinyin_alternative("lü3 xing2") == "lvxing"
    assert search_chinese.pinyin_alternative("lunyu") is None  # one word already meets the pinyin column
    assert search_chinese.pinyin_alternative("红楼") is None
    assert search_chinese.pinyin_alternative("whale 2000") is None
    assert search_chinese.pinyin_alternative("a b c d e f g h i") is None  # too many words


def test_pinyin_keys():
    assert search_chinese.pinyin_keys(["论语", None]) == "lunyu ly"
    assert search_chinese.pinyin_keys(["古文觀止"]) == "guwenguanzhi gwgz"
    assert search_chinese.pinyin_keys(["女"]) == "nv nu"
    assert search_chinese.pinyin_keys(["Moby Dick"]) == ""


@pytest.mark.parametrize("run", ["重庆银行", "长城", "音乐会", "嗯哼", "曾国藩", "单于", "行长", "覺"])
def test_pinyin_initials_are_pypinyins_first_letters(run):
    """The initials are taken from the one pinyin pass: the same as pypinyin's FIRST_LETTER style gives
    (heteronyms included), for a run met the first time and again (from the cache)."""
    from pypinyin import Style, lazy_pinyin

    whole = "".join(lazy_pinyin(run, errors="ignore"))
    initials = "".join(lazy_pinyin(run, style=Style.FIRST_LETTER, errors="ignore"))
    expected = [whole, whole.replace("v", "u")] + ([initials] if len(run) > 1 else [])
    for _ in range(2):
        assert search_chinese.pinyin_keys([run]) == " ".join(dict.fromkeys(expected))


def test_the_migration_folds_and_keys_books_already_in_the_catalogue(tmp_path):
    from accessible_lib.migrations import migrations

    db = open_database(tmp_path / "old.db", migrate=False)
    try:
        migrations.apply(db, stop_before="m015_search_fold")
        with db.conn:  # a book the index does not know yet, as after an upgrade from an older index
            db.execute("INSERT INTO books (id, title, checksum, added_at) VALUES (7, '古文觀止', 'x', 'now')")
            db.execute("INSERT INTO book_authors (book_id, position, name) VALUES (7, 0, '吳楚材')")
            db.execute(
                "INSERT INTO chapters (book_id, position, title, text) VALUES (7, 1, '序', '秦滅周祀')"
            )
        migrations.apply(db)
        for query in ("古文观止", "gwgz", "wcc", "秦灭周祀"):
            assert [hit.book_id for hit in search.search(db, query).hits] == [7], query
        assert "<mark>秦滅周祀</mark>" in search.search(db, "秦灭周祀").hits[0].snippet
    finally:
        db.close()


def test_folding_changes_only_the_characters_search_text_looks_for():
    """search.search_text returns text without a CJK character untouched, without folding it: exact only
    while every character the fold table changes is one of those."""
    cjk = re.compile(f"[{search_chinese.CJK}]")
    assert all(cjk.match(chr(code)) for code in search_chinese._fold_table())
    english = "“Whales,” he said — café"
    assert search.search_text(english) is english
    assert search.search_text("“紅樓”") == "“红​楼”"


# Runs pypinyin reads in more than one way: heteronyms whose reading depends on the phrase (重庆 银行 行长
# 长城 音乐 单于 曾国藩), Traditional characters and Traditional-only words (覺 說 樂), characters with no
# pinyin in the Han ranges, a character outside the BMP, words repeated in different runs (so a reading is
# taken from the cache in a new context), mixed Latin and Chinese, punctuation, and empty or no Han at all.
HARD_CASES = [
    "重庆银行行长", "长城长", "音乐会乐", "嗯哼", "曾国藩曾经", "单于单位", "行长银行长行", "覺", "說樂",
    "重庆", "银行", "中国银行重庆分行", "了解了", "朝阳朝代", "women的朝阳", "Lu Xun 鲁迅 (1881-1936)",
    "《呐喊》·自序", "红楼梦：第一回", "〇", "㐀㐁", "\U00020000\U0002a6a5", "𠀀中", "女", "绿色", "略",
    "", "   ", "Moby Dick", "123", "—…！？", "古文觀止；吳楚材、吳調侯", "长恨歌 白居易", "𪚥",
]  # fmt: skip


def _library_texts() -> list[str]:
    """The default library's titles, authors and chapter titles, and the beginning of every line of its
    Chinese texts (the words titles are made of, in the contexts they come in)."""
    from accessible_lib.ingest import ingest_file

    from .default_library import CONTENT

    texts: list[str] = []
    for path in sorted(CONTENT.glob("*/*.txt")):
        book = ingest_file(path, Settings.from_env({}))
        texts += [book.title or "", *book.authors, *(chapter.title or "" for chapter in book.chapters)]
        if path.parent.name == "zh":
            texts += [line[:60] for line in path.read_text(encoding="utf-8").splitlines()]
    return texts


def _pinyin_keys_the_old_way(texts) -> str:
    """pinyin_keys as first written: pypinyin called on every run, once per style, nothing cached."""
    from pypinyin import Style, lazy_pinyin

    keys: dict[str, None] = {}
    for text in texts:
        for run in re.findall(f"[{search_chinese._HAN}]+", search_chinese.fold(text or "")):
            whole = "".join(lazy_pinyin(run, errors="ignore"))
            if not whole:
                continue
            keys[whole] = None
            keys[whole.replace("v", "u")] = None
            if len(run) > 1:
                keys["".join(lazy_pinyin(run, style=Style.FIRST_LETTER, errors="ignore"))] = None
    return " ".join(keys)


def test_pinyin_keys_are_pypinyins_over_the_library_and_hard_cases():
    """The keys of every title, author and line of the default library, and of the hard cases, are the
    ones pypinyin gives called directly, once per style (the cached, word-by-word path must not change a
    key), read in a fresh cache and again from a warm one, one text at a time and in pairs."""
    texts = [*HARD_CASES, *_library_texts()]
    assert len(texts) > 2000
    expected = [_pinyin_keys_the_old_way([text]) for text in texts]
    assert sum(1 for keys in expected if keys) > 1500  # the comparison is over real keys, not empties
    search_chinese._run_pinyin.cache_clear()
    search_chinese._pinyin.cache_clear()
    for _ in range(2):
        assert [search_chinese.pinyin_keys([text]) for text in texts] == expected
    for first, second in itertools.pairwise(texts):
        assert search_chinese.pinyin_keys([first, None, second]) == _pinyin_keys_the_old_way([first, second])
