"""The pronunciation dictionary through the real catalogue, espeak-ng, liblouis and command line: entries are
checked, imported and exported as CSV, change what espeak-ng says and how Chinese braille reads a polyphone,
and change the lexicon key of only the sentences that contain them."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from click.testing import CliRunner

from accessible_lib import auth, catalogue, pronunciations
from accessible_lib.cli import main
from accessible_lib.editions.export import export_book
from accessible_lib.editions.runner import book_lexicon, run_conversion
from accessible_lib.settings import Settings
from braille import chinese as braille_chinese
from braille.pool import TranslationPool
from braille.translate import translate
from voices import lexicon
from voices.espeak_engine import phonemes
from voices.runs import speech_runs

from .conftest import make_book
from .test_staff import PASSWORD, USERNAME, sign_in, token_for

TOMATO = {"lang": "en", "written": "tomato", "reading": "t@m'A:toU", "kind": "phonemes"}


def test_the_starter_entries_come_from_the_old_table(db) -> None:
    rows = {row["written"]: row["reading"] for row in pronunciations.entries(db, lang="zh")}
    assert rows["何曾"] == "he2 ceng2" and rows["两只"] == "liang3 zhi1"
    assert pronunciations.lexicon_for(db, None).chinese_readings() == lexicon.active().chinese_readings()


@pytest.mark.parametrize(
    ("values", "field"),
    [
        ({"lang": "zh", "written": "何曾", "reading": "he2", "kind": "pinyin"}, "reading"),
        ({"lang": "zh", "written": "何曾", "reading": "he2 ceng9", "kind": "pinyin"}, "reading"),
        ({"lang": "zh", "written": "何曾", "reading": "he2 qqq2", "kind": "pinyin"}, "reading"),
        ({"lang": "en", "written": "tomato", "reading": "ZZ9}{", "kind": "phonemes"}, "reading"),
        ({"lang": "en", "written": "tomato", "reading": "tuh", "kind": "pinyin"}, "kind"),
        ({"lang": "", "written": "tomato", "reading": "tuh", "kind": "respelling"}, "lang"),
        ({"lang": "en", "written": "", "reading": "tuh", "kind": "respelling"}, "written"),
        (
            {"lang": "en", "written": "tomato", "reading": "tuh", "kind": "respelling", "book_id": "77"},
            "book_id",
        ),
    ],
)
def test_wrong_entries_are_refused_and_change_nothing(db, values, field) -> None:
    before = pronunciations.export_csv(db)
    entry_id, errors = pronunciations.save(db, values, by="tester")
    assert entry_id is None and field in errors and errors[field]
    assert pronunciations.export_csv(db) == before


def test_an_entry_changes_what_espeak_ng_says(db) -> None:
    sentence = "She grew a tomato."

    def said() -> str:
        with lexicon.use(pronunciations.lexicon_for(db, None)):
            (run,) = speech_runs(sentence, latin_voice="en-us")
        return phonemes(run.text, run.voice)

    before = said()
    entry_id, errors = pronunciations.save(db, TOMATO, by="tester")
    assert errors == {}
    after = said()
    assert "t@m'eIt#oU" in before and "t@m'A:t#oU" in after and before != after
    pronunciations.remove(db, entry_id)
    assert said() == before


def test_a_chinese_entry_changes_what_the_mandarin_voice_says(db) -> None:
    def said() -> str:
        with lexicon.use(pronunciations.lexicon_for(db, None)):
            (run,) = speech_runs("他去银行了。", latin_voice="en-us")
        return phonemes(run.text, run.voice)

    before = said()
    values = {"lang": "zh", "written": "银行", "reading": "yin2 xing2", "kind": "pinyin"}
    assert pronunciations.save(db, values, by="tester")[1] == {}
    assert said() != before


def test_a_chinese_entry_changes_the_braille_of_a_polyphone(db) -> None:
    text = "他去银行了。"
    try:
        braille_chinese.set_readings(pronunciations.braille_readings(db, None))
        before = translate(text, "zhcn-cbs").braille
        values = {"lang": "zh", "written": "银行", "reading": "yin2 xing2", "kind": "pinyin"}
        assert pronunciations.save(db, values, by="tester")[1] == {}
        braille_chinese.set_readings(pronunciations.braille_readings(db, None))
        after = translate(text, "zhcn-cbs").braille
    finally:
        braille_chinese.set_readings({})
    assert before != after
    assert translate(text, "zhcn-cbs").braille == before


def test_the_lexicon_key_changes_only_for_sentences_containing_the_entry(db) -> None:
    sentences = ["他何曾来过。", "今天下雨。", "两只手。", "I ate a tomato.", "Tomatoes are red."]
    before = [pronunciations.sentence_lexicon_key(db, s, "zh", None) for s in sentences]
    assert before[1] == "" and before[0] and before[2]
    row = next(r for r in pronunciations.entries(db) if r["written"] == "何曾")
    values = pronunciations.form_values(row) | {"reading": "he2 zeng1"}
    assert pronunciations.save(db, values, by="tester", entry_id=row["id"])[1] == {}
    pronunciations.save(db, TOMATO, by="tester")
    after = [pronunciations.sentence_lexicon_key(db, s, "zh", None) for s in sentences]
    changed = [s for s, b, a in zip(sentences, before, after, strict=True) if b != a]
    assert changed == ["他何曾来过。", "I ate a tomato."]  # "Tomatoes": the entry is for the whole word


def test_a_book_entry_applies_to_its_book_only_and_marks_its_editions_outdated(db) -> None:
    book = catalogue.add_book(db, make_book("Garden", [("One", "She grew a tomato.")], language="en"))
    other = catalogue.add_book(db, make_book("Sea", [("One", "She grew a tomato too.")], language="en"))
    now = "2026-01-01T00:00:00+00:00"
    for book_id in (book, other):
        for fmt in ("mp3", "html"):
            db["editions"].insert({"book_id": book_id, "format": fmt, "status": "done", "options_key": fmt,
                                   "queued_at": now, "updated_at": now})  # fmt: skip
    assert pronunciations.save(db, TOMATO | {"book_id": str(book)}, by="tester")[1] == {}
    outdated = {
        (r["book_id"], r["format"]) for r in db.query("SELECT * FROM editions WHERE outdated_at IS NOT NULL")
    }
    assert outdated == {(book, "mp3")}
    assert pronunciations.lexicon_for(db, book).matching("a tomato") != []
    assert pronunciations.lexicon_for(db, other).matching("a tomato") == []


def test_csv_round_trip_and_a_bad_csv_changes_nothing(db, tmp_path) -> None:
    pronunciations.save(db, TOMATO | {"note": 'as in Britain, with a comma, and "quotes"'}, by="tester")
    exported = pronunciations.export_csv(db)
    db.execute("DELETE FROM pronunciations")
    count, errors = pronunciations.import_csv(db, exported.encode(), by="tester")
    assert errors == [] and count == len(exported.splitlines()) - 1
    assert pronunciations.export_csv(db) == exported
    bad = "lang,written,reading,kind\nen,potato,puh-TAY-toh,respelling\nzh,何曾,he2,pinyin\n"
    count, errors = pronunciations.import_csv(db, bad.encode(), by="tester")
    assert count == 0 and [e.row for e in errors] == [3]
    assert pronunciations.export_csv(db) == exported


@pytest.fixture
def env(settings: Settings) -> dict[str, str]:
    return {"ACCESSIBLE_LIB_DATA_DIR": str(settings.data_dir)}


def test_the_command_line(env, db, tmp_path) -> None:
    run = CliRunner().invoke
    added = run(main, ["pronounce", "add", "en", "Tomato", "tuh-MAH-toh"], env=env)
    assert added.exit_code == 0, added.output
    listed = run(main, ["pronounce", "list", "--lang", "en"], env=env)
    assert (
        listed.exit_code == 0
        and "\ttomato\t" not in listed.output
        and "\tTomato\ttuh-MAH-toh\trespelling" in listed.output
    )
    wrong = run(main, ["pronounce", "add", "zh", "何曾", "he9"], env=env)
    assert wrong.exit_code == 1 and "tone number" in wrong.output
    exported = run(main, ["pronounce", "export"], env=env)
    assert exported.exit_code == 0 and exported.output.startswith("lang,written,reading,kind")
    bad = tmp_path / "bad.csv"
    bad.write_text("lang,written,reading,kind\nen,potato,[[x]],respelling\n", encoding="utf-8")
    refused = run(main, ["pronounce", "import", str(bad)], env=env)
    assert refused.exit_code == 1 and refused.output.startswith("Nothing was changed, because:\nRow 2:")
    good = tmp_path / "good.csv"
    good.write_text(exported.output, encoding="utf-8")
    assert run(main, ["pronounce", "import", str(good)], env=env).exit_code == 0
    entry_id = next(r["id"] for r in pronunciations.entries(db) if r["written"] == "Tomato")
    assert run(main, ["pronounce", "remove", str(entry_id)], env=env).exit_code == 0
    assert run(main, ["pronounce", "remove", str(entry_id)], env=env).exit_code == 1
    assert all(r["written"] != "Tomato" for r in pronunciations.entries(db))


# --- The staff pages ---


@pytest.fixture
def staff(db, client):
    auth.create_staff(db, USERNAME, PASSWORD)
    assert sign_in(client, USERNAME, PASSWORD).status_code == 303
    return client


def _form(client, **values) -> dict:
    return {"csrf_token": token_for(client), "whole_word": "yes", **values}


def test_staff_add_edit_listen_and_remove_an_entry(staff, db) -> None:
    page = BeautifulSoup(staff.get("/staff/pronunciations?lang=zh").text, "html.parser")
    assert page.find("th", string=None, attrs={"lang": "zh"}) is not None
    assert "何曾" in [a.get_text() for a in page.select("tbody th a")]
    added = staff.post(
        "/staff/pronunciations/new",
        data=_form(staff, lang="en", written="tomato", reading="tuh-MAH-toh", kind="respelling", note="UK"),
        follow_redirects=False,
    )
    assert added.status_code == 303 and added.headers["location"] == "/staff/pronunciations?done=added"
    row = next(r for r in pronunciations.entries(db) if r["written"] == "tomato")
    assert (row["reading"], row["whole_word"], row["created_by"]) == ("tuh-MAH-toh", 1, USERNAME)
    edit = BeautifulSoup(staff.get(f"/staff/pronunciations/{row['id']}").text, "html.parser")
    assert edit.find("input", id="reading")["value"] == "tuh-MAH-toh"
    saved = staff.post(
        f"/staff/pronunciations/{row['id']}",
        data=_form(staff, lang="en", written="tomato", reading="tuh-MAY-toh", kind="respelling"),
        follow_redirects=False,
    )
    assert saved.status_code == 303 and pronunciations.get(db, row["id"])["reading"] == "tuh-MAY-toh"
    heard = staff.get(f"/staff/pronunciations/{row['id']}/listen")
    assert heard.status_code == 200 and heard.headers["content-type"] == "audio/wav"
    assert heard.content[:4] == b"RIFF" and len(heard.content) > 10_000
    unsaved = pronunciations.export_csv(db)
    preview = staff.post(
        "/staff/pronunciations/listen",
        data=_form(staff, lang="zh", written="何曾", reading="he2 zeng1", kind="pinyin"),
    )
    # The form comes back, unsaved, with the sentence focused and a player whose source speaks the values.
    assert preview.status_code == 200 and pronunciations.export_csv(db) == unsaved
    page = BeautifulSoup(preview.text, "html.parser")
    assert page.find("input", id="reading")["value"] == "he2 zeng1"
    notice = page.find(id="sample-notice")
    assert notice.has_attr("autofocus") and notice["role"] == "status"
    assert notice.find(id="sample-text").get_text() == pronunciations.sample_sentence("zh", "何曾")
    player = page.find("audio", attrs={"aria-labelledby": "sample-heading"})
    assert player["src"].startswith("/staff/pronunciations/listen?")
    sample = staff.get(player["src"])
    assert sample.status_code == 200 and sample.headers["content-type"] == "audio/wav"
    assert sample.content[:4] == b"RIFF" and len(sample.content) > 10_000
    wrong = staff.get("/staff/pronunciations/listen?lang=zh&written=何曾&reading=he9&kind=pinyin")
    assert wrong.status_code == 400 and wrong.headers["content-type"].startswith("text/plain")
    removed = staff.post(
        f"/staff/pronunciations/{row['id']}/remove", data=_form(staff), follow_redirects=False
    )
    assert removed.status_code == 303 and pronunciations.get(db, row["id"]) is None


def test_staff_form_errors_are_summarised_and_linked_to_the_fields(staff, db) -> None:
    before = pronunciations.export_csv(db)
    response = staff.post(
        "/staff/pronunciations/new",
        data=_form(staff, lang="zh", written="何曾", reading="he9", kind="pinyin"),
    )
    assert response.status_code == 400
    page = BeautifulSoup(response.text, "html.parser")
    summary = page.find(id="error-summary")
    assert summary["role"] == "alert" and [a["href"] for a in summary.find_all("a")] == ["#reading"]
    reading = page.find("input", id="reading")
    assert "reading-error" in reading["aria-describedby"] and reading["aria-invalid"] == "true"
    assert reading["value"] == "he9"
    assert pronunciations.export_csv(db) == before
    refused = staff.post("/staff/pronunciations/new", data={"lang": "en", "written": "x", "reading": "y"})
    assert refused.status_code == 403 and pronunciations.export_csv(db) == before


def test_staff_csv_export_and_import(staff, db) -> None:
    exported = staff.get("/staff/pronunciations/export.csv?lang=zh")
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    text = exported.content.decode("utf-8-sig")
    assert text.startswith("lang,written,reading,kind") and "何曾" in text
    bad = "lang,written,reading,kind\nen,potato,puh-TAY-toh,respelling\nen,leek,,respelling\n"
    refused = staff.post(
        "/staff/pronunciations/import",
        data={"csrf_token": token_for(staff)},
        files={"csv_file": ("bad.csv", bad.encode(), "text/csv")},
    )
    assert refused.status_code == 400
    summary = BeautifulSoup(refused.text, "html.parser").find(id="error-summary")
    assert [li.get_text(strip=True) for li in summary.find_all("li")] == ["Row 3: Give the reading."]
    assert all(r["written"] != "potato" for r in pronunciations.entries(db))
    good = bad.replace("en,leek,,respelling\n", "")
    accepted = staff.post(
        "/staff/pronunciations/import",
        data={"csrf_token": token_for(staff)},
        files={"csv_file": ("good.csv", good.encode(), "text/csv")},
        follow_redirects=False,
    )
    assert accepted.status_code == 303 and accepted.headers["location"].endswith("imported=1")
    assert any(r["written"] == "potato" for r in pronunciations.entries(db))


# --- Editions: the entries travel with the book to the converters ---


def test_the_exported_book_carries_its_entries_to_speech_and_braille(db) -> None:
    book_id = catalogue.add_book(db, make_book("银行", [("一", "他去银行了。")], language="zh"))
    values = {"lang": "zh", "written": "银行", "reading": "yin2 xing2", "kind": "pinyin"}
    values["book_id"] = str(book_id)
    assert pronunciations.save(db, values, by="tester")[1] == {}
    book = export_book(db, book_id)
    assert {"lang": "zh", "written": "银行", "reading": "yin2 xing2", "kind": "pinyin", "whole_word": True,
            "case_sensitive": False} in book["pronunciations"]  # fmt: skip
    plain = translate("他去银行了。", "zhcn-cbs").braille
    with book_lexicon(book):
        (run,) = speech_runs("他去银行了。", latin_voice="en-us")
        assert run.text.startswith("ta1 qu4 yin2 xing2")
        assert translate("他去银行了。", "zhcn-cbs").braille != plain
        with TranslationPool(2) as pool:  # the children translate with the book's readings too
            (pooled,) = next(pool.map([[("他去银行了。", "zhcn-cbs")]]))
        assert pooled.braille != plain
    assert translate("他去银行了。", "zhcn-cbs").braille == plain
    assert speech_runs("他去银行了。", latin_voice="en-us")[0].text.startswith("ta1 qu4 yin2 hang2")


def test_an_entry_changes_the_audio_edition_spoken_on_several_threads(db, tmp_path, monkeypatch) -> None:
    from accessible_lib.editions import audio

    monkeypatch.setattr(audio, "default_streams", lambda: 2)  # chapters on pool threads, as on a big machine
    chapters = [("One", "She grew a tomato."), ("Two", "A tomato is red.")]
    book_id = catalogue.add_book(db, make_book("Garden", chapters, language="en"))

    def listen_files(name: str) -> list[str]:
        workspace = tmp_path / name
        workspace.mkdir()
        files = run_conversion(
            export_book(db, book_id), "mp3", {"engine": "espeak"}, workspace, lambda *_: None
        )
        return [f["sha256"] for f in files if f.get("role") == "listen"]

    before = listen_files("before")
    assert pronunciations.save(db, TOMATO, by="tester")[1] == {}
    after = listen_files("after")
    assert len(before) == len(after) == 2
    assert before[0] != after[0] and before[1] != after[1]
