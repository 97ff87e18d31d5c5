"""The pronunciation dictionary: entries staff add so every engine, and Chinese braille, say a word right.

The same checks serve the staff pages and the `accessible-lib pronounce` commands. Entries leave the catalogue
as plain data (`lexicon_for`, `braille_readings`): voices/ and braille/ never import accessible_lib.

Re-rendering only what changed rests on `sentence_lexicon_key`: the audio cache keys a sentence by the entries
that match in that sentence alone, so changing the entry for 何曾 changes the key of the sentences containing
何曾 and of no other; `mark_affected` marks the editions of the books that contain it outdated.
"""

from __future__ import annotations

import csv
import functools
import io
import re
import subprocess
from datetime import UTC, datetime

from sqlite_utils import Database

from voices import espeak_engine
from voices.lexicon import KINDS, PHONEMES, PINYIN, RESPELLING, Entry, Lexicon

from .csv_upload import RowError, read_rows
from .i18n import gettext

CSV_COLUMNS = ("lang", "written", "reading", "kind", "whole_word", "case_sensitive", "book_id", "note")
MAX_CSV_BYTES = 1024 * 1024
MAX_CSV_ROWS = 10_000
MAX_WRITTEN = 100
MAX_READING = 300
MAX_NOTE = 1000
_LANG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})*$")
_SYLLABLE = re.compile(r"^([a-zü]+)([1-5])$")
_TEXT_FORMATS = ("html", "txt")
_BRAILLE_FORMATS = ("brf", "pef")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def is_chinese(lang: str) -> bool:
    return lang.lower().split("-")[0] == "zh"


@functools.cache
def _syllables() -> frozenset[str]:
    """Every toneless syllable pypinyin knows (its character dictionary), e.g. "zhi", "lü"."""
    from pypinyin import Style
    from pypinyin.constants import PINYIN_DICT
    from pypinyin.style import convert as convert_style

    found = set()
    for readings in PINYIN_DICT.values():
        for reading in readings.split(","):
            found.add(convert_style(reading, Style.NORMAL, strict=False))
    return frozenset(found)


def _pinyin_problem(reading: str, written: str) -> str | None:
    syllables = reading.lower().replace("v", "ü").split()
    for syllable in syllables:
        match = _SYLLABLE.match(syllable)
        if not match or match.group(1) not in _syllables():
            return gettext(
                "“%(syllable)s” is not a pinyin syllable with a tone number from 1 to 5, such as zhi1.",
                syllable=syllable,
            )
    if len(syllables) != len(written):
        return gettext("Give one syllable for each character: %(count)d.", count=len(written))
    return None


def check(values: dict[str, str | None]) -> tuple[Entry | None, int | None, str, dict[str, str]]:
    """(entry, book id or None, note, errors by field name) from form or CSV values; entry None on error."""
    get = {name: (values.get(name) or "").strip() for name in CSV_COLUMNS}
    errors: dict[str, str] = {}
    lang, written, reading, kind = get["lang"], get["written"], get["reading"], get["kind"]
    if not _LANG.match(lang):
        errors["lang"] = gettext("Give a language code, such as zh or en.")
    if not written:
        errors["written"] = gettext("Give the word as it is written.")
    elif len(written) > MAX_WRITTEN or "\n" in written:
        errors["written"] = gettext("The written form is at most %(limit)d characters.", limit=MAX_WRITTEN)
    if kind not in KINDS:
        errors["kind"] = gettext("Choose pinyin, respelling or phonemes.")
    elif "lang" not in errors and (kind == PINYIN) != is_chinese(lang):
        errors["kind"] = gettext("Chinese readings are pinyin; other languages use a respelling or phonemes.")
    if not reading:
        errors["reading"] = gettext("Give the reading.")
    elif len(reading) > MAX_READING or "\n" in reading:
        errors["reading"] = gettext("The reading is at most %(limit)d characters.", limit=MAX_READING)
    elif "kind" not in errors and "written" not in errors and "lang" not in errors:
        problem = _reading_problem(kind, reading, written, lang)
        if problem:
            errors["reading"] = problem
    flags = {}
    for name, default in (("whole_word", True), ("case_sensitive", False)):
        raw = get[name].lower()
        if raw in ("", "0", "1", "true", "false", "yes", "no", "on", "off"):
            flags[name] = default if raw == "" else raw in ("1", "true", "yes", "on")
        else:
            errors[name] = gettext("Give yes or no.")
    book_id = None
    if get["book_id"]:
        if not get["book_id"].isdigit() or not 0 < int(get["book_id"]) < 2**62:
            errors["book_id"] = gettext("The book id must be a number.")
        else:
            book_id = int(get["book_id"])
    if len(get["note"]) > MAX_NOTE:
        errors["note"] = gettext("The note is at most %(limit)d characters.", limit=MAX_NOTE)
    if errors:
        return None, book_id, get["note"], errors
    if kind == PINYIN:
        reading = " ".join(reading.lower().replace("ü", "v").split())
    entry = Entry(lang, written, reading, kind, flags["whole_word"], flags["case_sensitive"])
    return entry, book_id, get["note"], {}


def _reading_problem(kind: str, reading: str, written: str, lang: str) -> str | None:
    if kind == PINYIN:
        return _pinyin_problem(reading, written)
    if kind == PHONEMES:
        voice = "en-us" if lang.lower().split("-")[0] == "en" else lang.lower()
        try:
            known = espeak_engine.known_phonemes(reading, voice)
        except (OSError, subprocess.SubprocessError):
            return gettext("espeak-ng could not check these phonemes for this language.")
        if not known:
            return gettext("espeak-ng does not know these phonemes; check them with espeak-ng -x.")
        return None
    if kind == RESPELLING and ("[[" in reading or "]]" in reading):
        return gettext("A respelling is written in letters; choose phonemes for espeak-ng phonemes.")
    return None


def _book_problem(db: Database, book_id: int | None) -> str | None:
    if book_id is not None and db.execute("SELECT 1 FROM books WHERE id = ?", [book_id]).fetchone() is None:
        return gettext("There is no book %(id)d.", id=book_id)
    return None


def _duplicate(db: Database, entry: Entry, book_id: int | None, other_than: int | None = None) -> bool:
    row = db.execute(
        "SELECT id FROM pronunciations WHERE lang = ? AND written = ? AND IFNULL(book_id, 0) = ? "
        "AND id IS NOT ?",
        [entry.lang, entry.written, book_id or 0, other_than],
    ).fetchone()
    return row is not None


def save(
    db: Database,
    values: dict[str, str | None],
    *,
    by: str,
    entry_id: int | None = None,
) -> tuple[int | None, dict[str, str]]:
    """Add (or, with entry_id, change) one entry: (its id, {}) or (None, errors by field)."""
    entry, book_id, note, errors = check(values)
    if entry is None:
        return None, errors
    problem = _book_problem(db, book_id)
    if problem:
        return None, {"book_id": problem}
    if _duplicate(db, entry, book_id, entry_id):
        return None, {
            "written": gettext("There is already an entry for this word in this language and scope.")
        }
    if entry_id is not None and get(db, entry_id) is None:
        return None, {"": gettext("There is no such entry.")}
    with db.conn:
        entry_id = _write(db, entry, book_id, note, by=by, entry_id=entry_id)
    return entry_id, {}


def _write(
    db: Database, entry: Entry, book_id: int | None, note: str, *, by: str, entry_id: int | None
) -> int:
    """Insert or update a checked entry, marking the editions it changes; the caller holds the transaction."""
    before = get(db, entry_id) if entry_id is not None else None
    row = {
        "lang": entry.lang,
        "written": entry.written,
        "reading": entry.reading,
        "kind": entry.kind,
        "whole_word": int(entry.whole_word),
        "case_sensitive": int(entry.case_sensitive),
        "book_id": book_id,
        "note": note,
        "updated_by": by,
        "updated_at": _now(),
    }
    if entry_id is None:
        entry_id = (
            db["pronunciations"].insert(row | {"created_by": by, "created_at": row["updated_at"]}).last_pk
        )
    else:
        db["pronunciations"].update(entry_id, row)
    if before:
        mark_affected(db, before)
    mark_affected(db, get(db, entry_id))
    return entry_id


def remove(db: Database, entry_id: int) -> bool:
    row = get(db, entry_id)
    if row is None:
        return False
    with db.conn:
        db.execute("DELETE FROM pronunciations WHERE id = ?", [entry_id])
        mark_affected(db, row)
    return True


def get(db: Database, entry_id: int | None) -> dict | None:
    rows = list(db.query("SELECT * FROM pronunciations WHERE id = ?", [entry_id]))
    return rows[0] if rows else None


def entries(db: Database, *, lang: str = "", book_id: int | None = None) -> list[dict]:
    """Every entry, or those of one language and/or one book (which includes the entries for all books)."""
    sql, params = "SELECT * FROM pronunciations WHERE 1", []
    if lang:
        sql += " AND (lang = ? OR lang LIKE ?)"
        params += [lang, lang + "-%"]
    if book_id is not None:
        sql += " AND (book_id IS NULL OR book_id = ?)"
        params.append(book_id)
    return list(db.query(sql + " ORDER BY lang, written, IFNULL(book_id, 0)", params))


def form_values(row: dict) -> dict[str, str]:
    """An entry as the text fields of a form or a CSV row show it."""
    values = {name: "" if row.get(name) is None else str(row[name]) for name in CSV_COLUMNS}
    values["whole_word"] = "yes" if row["whole_word"] else "no"
    values["case_sensitive"] = "yes" if row["case_sensitive"] else "no"
    return values


def _entry(row: dict) -> Entry:
    return Entry(
        row["lang"],
        row["written"],
        row["reading"],
        row["kind"],
        bool(row["whole_word"]),
        bool(row["case_sensitive"]),
    )


def lexicon_for(db: Database, book_id: int | None) -> Lexicon:
    """The entries that apply to one book: those for all books, replaced by the book's own for a word."""
    chosen: dict[tuple[str, str], Entry] = {}
    for row in sorted(entries(db, book_id=book_id), key=lambda r: r["book_id"] is not None):
        chosen[(row["lang"], row["written"])] = _entry(row)
    return Lexicon(tuple(chosen.values()))


def braille_readings(db: Database, book_id: int | None) -> dict[str, str]:
    """Written form -> pinyin for braille.chinese.set_readings."""
    return lexicon_for(db, book_id).chinese_readings()


def sentence_lexicon_key(db: Database, text: str, lang: str, book_id: int | None) -> str:
    """The lexicon part of a sentence's audio cache key: a hash of the entries that match in this sentence.

    `text` is the speech text (after voices.text normalisation), `lang` the book's language (kept in the
    signature so a future rule may narrow entries by language; today every matching entry counts, which can
    only cause an extra re-synthesis, never a stale one). "" when no entry matches: adding an entry changes
    only the keys of the sentences that contain its written form. Build the Lexicon once per book with
    `lexicon_for` and call `Lexicon.sentence_key` in a loop; this is the one-off form.
    """
    del lang
    return lexicon_for(db, book_id).sentence_key(text)


def mark_affected(db: Database, row: dict | None) -> int:
    """Mark outdated the finished editions whose speech (or, for Chinese, braille) this entry changes: those
    of the books whose text contains the written form (of its one book, when it has one)."""
    if row is None:
        return 0
    unaffected = _TEXT_FORMATS if is_chinese(row["lang"]) else _TEXT_FORMATS + _BRAILLE_FORMATS
    marks = ",".join("?" * len(unaffected))
    sql = (
        f"UPDATE editions SET outdated_at = ? WHERE outdated_at IS NULL AND format NOT IN ({marks}) "
        "AND book_id IN (SELECT DISTINCT book_id FROM chapters WHERE instr(text, ?) > 0"
    )
    params: list = [_now(), *unaffected, row["written"]]
    if not row["case_sensitive"] and not is_chinese(row["lang"]):
        sql = sql.replace("instr(text, ?)", "instr(lower(text), lower(?))")
    if row["book_id"] is not None:
        sql += " AND book_id = ?"
        params.append(row["book_id"])
    return db.execute(sql + ")", params).rowcount


def read_csv(db: Database, data: bytes) -> tuple[list[tuple[dict, Entry, int | None]], list[RowError]]:
    """Every row of a pronunciation CSV checked: (values, entry, book id) for each, or the errors."""
    rows, errors = read_rows(
        data,
        columns=CSV_COLUMNS,
        required=("lang", "written", "reading", "kind"),
        max_bytes=MAX_CSV_BYTES,
        max_rows=MAX_CSV_ROWS,
        columns_message=gettext(
            "The first line must name the columns %(columns)s (lang, written, reading and kind are "
            "required).",
            columns=", ".join(CSV_COLUMNS),
        ),
        too_many_message=gettext("Import at most %(limit)d entries at once.", limit=MAX_CSV_ROWS),
    )
    good: list[tuple[dict, Entry, int | None]] = []  # (values, entry, book id)
    seen: dict[tuple, int] = {}
    for number, values in rows:
        if isinstance(values, RowError):
            errors.append(values)
            continue
        entry, book_id, _note, problems = check(values)
        errors.extend(RowError(number, message) for message in problems.values())
        if entry is None:
            continue
        problem = _book_problem(db, book_id)
        if problem:
            errors.append(RowError(number, problem))
            continue
        key = (entry.lang, entry.written, book_id)
        if key in seen:
            errors.append(RowError(number, gettext("This word is already on row %(row)d.", row=seen[key])))
            continue
        seen[key] = number
        good.append((values, entry, book_id))
    if not good and not errors:
        errors.append(RowError(0, gettext("The file lists no entries.")))
    return good, errors


def import_csv(db: Database, data: bytes, *, by: str) -> tuple[int, list[RowError]]:
    """Add each entry of the CSV, or replace the entry for the same word, language and scope; nothing
    changes when any row is wrong."""
    good, errors = read_csv(db, data)
    if errors:
        return 0, errors
    with db.conn:
        for values, entry, book_id in good:
            existing = db.execute(
                "SELECT id FROM pronunciations WHERE lang = ? AND written = ? AND IFNULL(book_id, 0) = ?",
                [entry.lang, entry.written, book_id or 0],
            ).fetchone()
            note = (values.get("note") or "").strip()
            _write(db, entry, book_id, note, by=by, entry_id=existing[0] if existing else None)
    return len(good), []


def export_csv(db: Database, *, lang: str = "", book_id: int | None = None) -> str:
    """The entries as CSV with the columns import_csv reads, so an export imports unchanged."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in entries(db, lang=lang, book_id=book_id):
        writer.writerow(
            [row["lang"], row["written"], row["reading"], row["kind"], int(row["whole_word"]),
             int(row["case_sensitive"]), row["book_id"] or "", row["note"]]
        )  # fmt: skip
    return out.getvalue()


def sample_sentence(lang: str, written: str) -> str:
    """What the Listen button says: the word in a short sentence, so its sound is heard in context."""
    if is_chinese(lang):
        return f"这里读作：{written}。"
    return f"Here it is: {written}."


def listen(
    db: Database, values: dict[str, str | None], *, sample: str = ""
) -> tuple[bytes | None, dict[str, str]]:
    """A WAV of a sample sentence spoken at once with the default engine and this entry (checked, not
    saved) on top of the others of its scope: (the WAV, {}) or (None, errors by field)."""
    import wave

    from voices import lexicon
    from voices.engine import engine_by_name
    from voices.runs import synthesize_speech
    from voices.text import speech_text

    entry, book_id, _note, errors = check(values)
    if entry is None:
        return None, errors
    others = [
        e for e in lexicon_for(db, book_id).entries if (e.lang, e.written) != (entry.lang, entry.written)
    ]
    text = speech_text((sample.strip() or sample_sentence(entry.lang, entry.written))[:300], entry.lang)
    engine = engine_by_name()
    try:
        with lexicon.use([*others, entry]):
            audio = synthesize_speech(engine, text, lang=entry.lang, rate=175)
    finally:
        engine.close()
    out = io.BytesIO()
    with wave.open(out, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(audio.sample_rate)
        wav.writeframes(audio.pcm)
    return out.getvalue(), {}
