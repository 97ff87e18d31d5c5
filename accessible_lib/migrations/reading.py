"""Reading and listening: reading preferences, statistics and pronunciations (m018-m023)."""

from __future__ import annotations

from sqlite_utils import Database

from ._registry import migrations


@migrations()
def m018_reading_prefs(db: Database) -> None:
    """Reading preferences kept in the reader's account (issue 13, part 4): text size, theme, spacing, line
    length and font, in the compact form of `reading_prefs.encode` ("text_size:200.theme:contrast"). A column,
    not a table: one short value per reader, read at sign-in, exported and deleted with the account.
    NULL: never saved (the browser's cookie is kept at sign-in); "": saved as the defaults."""
    db["readers"].add_column("reading_prefs", str)


@migrations()
def m020_stats(db: Database) -> None:
    """Statistics (issue 14, parts 1 and 2), as daily counts only: no column names a reader (see stats.py).

    `stats_daily`: this library's figures, one row per day, metric and key (a query, a format), added to by
    an UPSERT. `stats_salts` and `stats_seen`: today's salt and the salted digests of the readers already
    counted as active today, deleted once the day is over. `stats_members`: the daily figures member
    libraries sent (rollup.py), replaced whole for each day they send again. `rollup_state`: how far this
    library's own sending to its parent has got, and when to try again after a failure."""
    db["stats_daily"].create(
        {"day": str, "metric": str, "key": str, "count": int},
        pk=("day", "metric", "key"),
        not_null={"day", "metric", "key", "count"},
        defaults={"key": "", "count": 0},
    )
    db["stats_daily"].create_index(["metric", "day"])
    db["stats_salts"].create({"day": str, "salt": str}, pk="day", not_null={"salt"})
    db["stats_seen"].create({"day": str, "digest": str}, pk=("day", "digest"))
    db["stats_members"].create(
        {"member": str, "day": str, "metric": str, "key": str, "value": float, "received_at": str},
        pk=("member", "day", "metric", "key"),
        not_null={"value", "received_at"},
    )
    db["stats_members"].create_index(["day"])
    db["rollup_state"].create(
        {
            "id": int,  # always 1: one parent
            "accepted_through": str,  # the last day the parent accepted; everything after it is sent again
            "failures": int,  # failed attempts in a row, for the backoff
            "next_attempt_at": float,  # unix time; none before it after a failure
            "last_error": str,
            "last_sent_at": str,
        },
        pk="id",
    )


@migrations()
def m023_pronunciations(db: Database) -> None:
    """The pronunciation dictionary (issue 13, part 3): readings that every speech engine and Chinese braille
    use instead of their own guesses. book_id NULL: every book. Seeded with the table voices/chinese.py held
    before (何曾, 落下, 只 after a number), so speech does not change the day the dictionary arrives."""
    # A copy of voices.chinese.READINGS as it was, not an import: a released migration never changes.
    numbers = {"一": "yi4", "两": "liang3", "三": "san1", "四": "si4", "五": "wu3", "六": "liu4", "七": "qi1",
               "八": "ba1", "九": "jiu3", "十": "shi2", "几": "ji3", "半": "ban4", "每": "mei3"}  # fmt: skip
    starter = {"何曾": "he2 ceng2", "落下": "luo4 xia4"} | {n + "只": f"{p} zhi1" for n, p in numbers.items()}
    db.execute(
        """CREATE TABLE pronunciations (
            id INTEGER PRIMARY KEY,
            lang TEXT NOT NULL,
            written TEXT NOT NULL,
            reading TEXT NOT NULL,
            kind TEXT NOT NULL CHECK (kind IN ('pinyin', 'respelling', 'phonemes')),
            whole_word INTEGER NOT NULL DEFAULT 1,
            case_sensitive INTEGER NOT NULL DEFAULT 0,
            book_id INTEGER REFERENCES books(id) ON DELETE CASCADE,
            note TEXT NOT NULL DEFAULT '',
            created_by TEXT NOT NULL DEFAULT '',
            created_at TEXT NOT NULL,
            updated_by TEXT NOT NULL DEFAULT '',
            updated_at TEXT NOT NULL
        )"""
    )
    db.execute(
        "CREATE UNIQUE INDEX pronunciations_unique ON pronunciations (lang, written, IFNULL(book_id, 0))"
    )
    now = "strftime('%Y-%m-%dT%H:%M:%SZ', 'now')"
    for written, reading in starter.items():
        db.execute(
            f"""INSERT INTO pronunciations (lang, written, reading, kind, note, created_by, created_at,
                updated_by, updated_at) VALUES ('zh', ?, ?, 'pinyin', 'starter', 'migration', {now},
                'migration', {now})""",
            [written, reading],
        )
