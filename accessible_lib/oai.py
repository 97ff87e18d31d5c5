"""The catalogue as an OAI-PMH repository sees it: items, their datestamps, sets and resumption tokens.

Why a module apart from the web endpoint (web/oai.py): the questions here ("which records changed in this
set since Monday, after this cursor?") are catalogue queries, and a harvester, a bench or a command can ask
them without a request. The endpoint only turns arguments into calls and answers into XML.

Which books: our own ones (a record harvested from another library is left out, so records do not travel
in circles through union catalogues). A withdrawn book is reported as deleted: its record is no longer
available, exactly as a deleted one, and it comes back when its rights do. An eligible-only book keeps its
record: the catalogue record is public, only the content is not (as on the book page and in OPDS).

Paging is by a cursor, not an offset: each page asks for the records after the last (datestamp, id) sent,
in that order. A record that changes during a harvest moves to the end and is sent again, never skipped,
and a page costs the same at record 140,000 as at record 1. The cursor and the request travel in the
resumption token itself, signed with the secret key, so a token outlives a restart of the server (or
another of its processes answering) and cannot be forged to reach around the request it continues.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime

from itsdangerous import BadSignature, Signer
from sqlite_utils import Database

from . import access
from .book_names import authors_for, subjects_for

DATESTAMP = "%Y-%m-%dT%H:%M:%SZ"
GRANULARITY = "YYYY-MM-DDThh:mm:ssZ"
LANGUAGE_SET = "lang"
SUBJECT_SET = "subject"
# setSpec as OAI-PMH allows it: unreserved URI characters, levels separated by ":".
_SET_SPEC = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+(:[A-Za-z0-9\-_.!~*'()]+)*$")
_KEPT = re.compile(r"[A-Za-z0-9\-.!*'()]")  # a subject's characters that stand for themselves in its setSpec
_ESCAPE = re.compile(r"~([0-9A-F]{2})")
_PRIMARY_LANGUAGE = re.compile(r"^[a-z]{2,3}$")
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_SECOND = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
_TOKEN_SALT = "accessible-lib.oai.resumption"
TOKEN_VERSION = 1


def now_datestamp() -> str:
    return datetime.now(UTC).strftime(DATESTAMP)


# --- Identifiers ---


def identifier(repository: str, book_id: int) -> str:
    """The OAI identifier of a book: `oai:{repository}:book:{id}`."""
    return f"oai:{repository}:book:{book_id}"


def book_id_of(repository: str, oai_identifier: str) -> int | None:
    """The book an identifier of this repository names, or None (another repository's, or no book's)."""
    prefix = f"oai:{repository}:book:"
    if not oai_identifier.startswith(prefix):
        return None
    number = oai_identifier[len(prefix) :]
    if not number.isascii() or not number.isdigit() or len(number) > 18 or number.startswith("0"):
        return None
    return int(number)


# --- Sets ---


def subject_spec(subject: str) -> str:
    """A subject's setSpec: its letters and digits as they are, a space as "_", anything else (Chinese,
    ":" and so on) as "~" and the hex of each UTF-8 byte. Readable for English subjects, and reversible
    for every subject, so a set names exactly one subject without a lookup table to keep."""
    out = []
    for char in subject:
        if char == " ":
            out.append("_")
        elif _KEPT.fullmatch(char):
            out.append(char)
        else:
            out.extend(f"~{byte:02X}" for byte in char.encode())
    return f"{SUBJECT_SET}:{''.join(out)}"


def _subject_from(encoded: str) -> str | None:
    if not encoded or any(c not in "_~" and not _KEPT.fullmatch(c) for c in encoded):
        return None
    raw = bytearray()
    index = 0
    while index < len(encoded):
        char = encoded[index]
        if char == "~":
            match = _ESCAPE.match(encoded, index)
            if not match:
                return None
            raw.append(int(match.group(1), 16))
            index = match.end()
            continue
        raw.extend(b" " if char == "_" else char.encode())
        index += 1
    try:
        subject = raw.decode()
    except UnicodeDecodeError:
        return None
    return subject if subject_spec(subject) == f"{SUBJECT_SET}:{encoded}" else None


def language_spec(language: str | None) -> str | None:
    primary = (language or "").split("-")[0].lower()
    return f"{LANGUAGE_SET}:{primary}" if _PRIMARY_LANGUAGE.match(primary) else None


@dataclass(frozen=True)
class SetFilter:
    kind: str  # LANGUAGE_SET or SUBJECT_SET
    value: str  # a primary language subtag, or a subject as stored


def valid_set_spec(spec: str) -> bool:
    return bool(_SET_SPEC.match(spec))


def parse_set(spec: str) -> SetFilter | None:
    """The filter a setSpec of this repository stands for, or None when it names no set we have."""
    kind, _, rest = spec.partition(":")
    if kind == LANGUAGE_SET and _PRIMARY_LANGUAGE.match(rest):
        return SetFilter(LANGUAGE_SET, rest)
    if kind == SUBJECT_SET:
        subject = _subject_from(rest)
        if subject is not None:
            return SetFilter(SUBJECT_SET, subject)
    return None


def item_sets(language: str | None, subjects: list[str]) -> list[str]:
    """The setSpecs of an item: its language's and one per subject."""
    specs = [language_spec(language)] if language_spec(language) else []
    return specs + [subject_spec(s) for s in subjects]


# --- Which books ---


def _local(db: Database) -> str:
    """SQL that keeps our own books: harvested ones (the union catalogue's `source_id`) are not ours to
    publish. Asked of the table, so this holds before and after that column exists."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(books)").fetchall()}
    return "source_id IS NULL" if "source_id" in columns else "1"


_WITHDRAWN = "rights_status IN ({})".format(", ".join(f"'{s}'" for s in access.HIDDEN_STATUSES))


def _set_sql(kind: str, set_filter: SetFilter | None) -> tuple[str, list]:
    """SQL (and its parameters) that keeps the items of a set: `kind` "books" or "tombstones"."""
    if set_filter is None:
        return "1", []
    if set_filter.kind == LANGUAGE_SET:
        return "(lower(language) = ? OR lower(language) LIKE ? || '-%')", [set_filter.value] * 2
    if kind == "books":
        return "id IN (SELECT book_id FROM book_subjects WHERE subject = ?)", [set_filter.value]
    return "EXISTS (SELECT 1 FROM json_each(subjects) WHERE value = ?)", [set_filter.value]


@dataclass
class Header:
    book_id: int
    datestamp: str
    deleted: bool
    language: str | None = None
    subjects: list[str] = field(default_factory=list)

    @property
    def sets(self) -> list[str]:
        return item_sets(self.language, self.subjects)


@dataclass(frozen=True)
class Query:
    """A list request, as a resumption token carries it: what was asked and where the last page ended."""

    prefix: str
    set_spec: str | None = None
    since: str | None = None  # `from`, as a second-granularity datestamp
    until: str | None = None
    after: tuple[str, int] | None = None  # the last (datestamp, book id) sent; ListSets: (sort key, 0)
    sent: int = 0  # records sent before this page: the token's `cursor`
    total: int | None = None  # how many the first page counted: the token's `completeListSize`


def _where(db: Database, query: Query) -> tuple[str, list, str, list]:
    set_filter = parse_set(query.set_spec) if query.set_spec else None
    books_where, books_params = [_local(db)], []
    stones_where, stones_params = ["1"], []
    for column, where, params, kind in (
        ("modified_at", books_where, books_params, "books"),
        ("deleted_at", stones_where, stones_params, "tombstones"),
    ):
        sql, values = _set_sql(kind, set_filter)
        where.append(sql)
        params.extend(values)
        if query.since:
            where.append(f"{column} >= ?")
            params.append(query.since)
        if query.until:
            where.append(f"{column} <= ?")
            params.append(query.until)
    return " AND ".join(books_where), books_params, " AND ".join(stones_where), stones_params


def list_headers(db: Database, query: Query, size: int) -> tuple[list[Header], bool, int]:
    """One page of item headers in (datestamp, id) order after the query's cursor: (headers, whether more
    follow, how many match the whole request). The count is made on the first page only (later pages
    carry it in their token): at 150,000 books it costs more than the page itself."""
    books_where, books_params, stones_where, stones_params = _where(db, query)
    after_books, after_stones, after_params = "", "", []
    if query.after is not None:
        after_books = " AND (modified_at, id) > (?, ?)"
        after_stones = " AND (deleted_at, book_id) > (?, ?)"
        after_params = list(query.after)
    rows = db.execute(
        f"""SELECT * FROM (
                SELECT id, modified_at AS datestamp, {_WITHDRAWN} AS deleted, language, NULL AS subjects
                FROM books WHERE {books_where}{after_books}
                ORDER BY modified_at, id LIMIT ?)
            UNION ALL
            SELECT * FROM (
                SELECT book_id, deleted_at, 1, language, subjects FROM oai_tombstones
                WHERE {stones_where}{after_stones} ORDER BY deleted_at, book_id LIMIT ?)
            ORDER BY datestamp, id LIMIT ?""",
        [*books_params, *after_params, size + 1, *stones_params, *after_params, size + 1, size + 1],
    ).fetchall()
    more = len(rows) > size
    rows = rows[:size]
    live = subjects_for(db, [r[0] for r in rows if r[4] is None])
    headers = [
        Header(
            book_id=r[0],
            datestamp=r[1],
            deleted=bool(r[2]),
            language=r[3],
            subjects=live[r[0]] if r[4] is None else _json_list(r[4]),
        )
        for r in rows
    ]
    total = query.total
    if total is None:
        total = db.execute(
            f"SELECT (SELECT count(*) FROM books WHERE {books_where}) "
            f"+ (SELECT count(*) FROM oai_tombstones WHERE {stones_where})",
            [*books_params, *stones_params],
        ).fetchone()[0]
    return headers, more, total


def _json_list(text: str | None) -> list[str]:
    try:
        values = json.loads(text or "[]")
    except ValueError:
        return []
    return sorted(v for v in values if isinstance(v, str)) if isinstance(values, list) else []


def get_header(db: Database, book_id: int) -> Header | None:
    """The header of one item: a book of ours, or a deleted one; None when there never was such a book."""
    row = db.execute(
        f"SELECT id, modified_at, {_WITHDRAWN}, language FROM books WHERE id = ? AND {_local(db)}",
        [book_id],
    ).fetchone()
    if row is not None:
        return Header(row[0], row[1], bool(row[2]), row[3], subjects_for(db, [book_id])[book_id])
    row = db.execute(
        "SELECT book_id, deleted_at, language, subjects FROM oai_tombstones WHERE book_id = ?", [book_id]
    ).fetchone()
    if row is not None:
        return Header(row[0], row[1], True, row[2], _json_list(row[3]))
    return None


def earliest_datestamp(db: Database) -> str:
    """The oldest datestamp of any item (a harvest `from` it gets everything); now in an empty catalogue."""
    row = db.execute(
        f"SELECT min(d) FROM (SELECT min(modified_at) AS d FROM books WHERE {_local(db)} "
        "UNION ALL SELECT min(deleted_at) FROM oai_tombstones)"
    ).fetchone()
    return row[0] if row and row[0] else now_datestamp()


@dataclass(frozen=True)
class SetInfo:
    spec: str
    key: str  # where it sorts in ListSets, and the cursor of the page that ends with it
    language: str | None = None  # a language set: its primary subtag, for its name
    subject: str | None = None


def list_sets(db: Database, after: str | None, size: int) -> tuple[list[SetInfo], bool]:
    """A page of the sets that have at least one of our visible books, after the cursor `after`: languages
    first, then subjects by name; and whether more follow. Subjects are read in index order from the
    cursor, so no page reads them all."""
    local = _local(db)
    languages = sorted(
        {
            spec
            for (language,) in db.execute(
                "SELECT language FROM (SELECT DISTINCT language FROM books) AS used WHERE EXISTS "
                f"(SELECT 1 FROM books WHERE language = used.language AND {local} AND NOT {_WITHDRAWN})"
            )
            if (spec := language_spec(language))
        }
    )
    found = [SetInfo(spec, "0" + spec, language=spec.partition(":")[2]) for spec in languages]
    found = [info for info in found if after is None or info.key > after]
    subject_after = after[1:] if after and after.startswith("1") else None
    subjects = db.execute(
        "SELECT DISTINCT subject FROM book_subjects WHERE (? IS NULL OR subject > ?) AND EXISTS "
        f"(SELECT 1 FROM books WHERE id = book_subjects.book_id AND {local} AND NOT {_WITHDRAWN}) "
        "ORDER BY subject LIMIT ?",
        [subject_after, subject_after, size + 1],
    ).fetchall()
    found += [SetInfo(subject_spec(s), "1" + s, subject=s) for (s,) in subjects]
    return found[:size], len(found) > size


# --- Dates ---


def parse_date(value: str, *, end: bool) -> tuple[str, str] | None:
    """A `from` or `until` argument as a second-granularity datestamp and its granularity ("day" or
    "second"), or None when it is neither form OAI-PMH allows. A day `until` means its last second."""
    if _DAY.match(value):
        try:
            datetime.strptime(value, "%Y-%m-%d")
        except ValueError:
            return None
        return value + ("T23:59:59Z" if end else "T00:00:00Z"), "day"
    if _SECOND.match(value):
        try:
            datetime.strptime(value, DATESTAMP)
        except ValueError:
            return None
        return value, "second"
    return None


# --- Resumption tokens ---


def _signer(secret: str) -> Signer:
    return Signer(secret, salt=_TOKEN_SALT)


def make_token(secret: str, verb: str, query: Query) -> str:
    """A token that holds the whole request and its cursor: base64url JSON, signed."""
    body = {
        "v": TOKEN_VERSION,
        "verb": verb,
        "p": query.prefix,
        "s": query.set_spec,
        "f": query.since,
        "u": query.until,
        "a": list(query.after) if query.after else None,
        "n": query.sent,
        "t": query.total,
    }
    packed = base64.urlsafe_b64encode(json.dumps(body, separators=(",", ":")).encode()).rstrip(b"=")
    return _signer(secret).sign(packed).decode()


def read_token(secret: str, verb: str, token: str) -> Query | None:
    """The request a token continues, or None for a token this repository did not make for this verb."""
    if len(token) > 2000 or not token.isascii():
        return None
    try:
        packed = _signer(secret).unsign(token.encode())
        body = json.loads(base64.urlsafe_b64decode(packed + b"=" * (-len(packed) % 4)))
    except (BadSignature, ValueError):
        return None
    if not isinstance(body, dict) or body.get("v") != TOKEN_VERSION or body.get("verb") != verb:
        return None
    after = body.get("a")
    sent = body.get("n")
    if after is not None and not (
        isinstance(after, list)
        and len(after) == 2
        and isinstance(after[0], str)
        and isinstance(after[1], int)
    ):
        return None
    total = body.get("t")
    if not isinstance(sent, int) or sent < 0 or not (total is None or isinstance(total, int) and total >= 0):
        return None
    texts = [body.get(k) for k in ("p", "s", "f", "u")]
    if not all(t is None or isinstance(t, str) for t in texts) or not isinstance(body.get("p"), str):
        return None
    return Query(
        prefix=body["p"],
        set_spec=body.get("s"),
        since=body.get("f"),
        until=body.get("u"),
        after=(after[0], after[1]) if after else None,
        sent=sent,
        total=total,
    )


# --- Records ---


def load_records(db: Database, book_ids: list[int]) -> dict[int, dict]:
    """What the metadata formats say of each book, for a page of books at once: its row, authors,
    subjects, identifiers and the formats it can be had in ("html" for reading online, then finished
    editions)."""
    if not book_ids:
        return {}
    marks = ",".join("?" * len(book_ids))
    cursor = db.execute(f"SELECT * FROM books WHERE id IN ({marks})", book_ids)
    columns = [c[0] for c in cursor.description]
    found = {row[0]: dict(zip(columns, row, strict=True)) for row in cursor.fetchall()}
    authors, subjects = authors_for(db, list(found)), subjects_for(db, list(found))
    for book in found.values():
        book.update(authors=authors[book["id"]], subjects=subjects[book["id"]], identifiers=[])
        book["formats"] = ["html"] if (book.get("chapter_count") or 0) > 0 else []
    for book_id, scheme, value in db.execute(
        f"SELECT book_id, scheme, value FROM book_identifiers WHERE book_id IN ({marks}) "
        "ORDER BY book_id, scheme, value",
        book_ids,
    ):
        found[book_id]["identifiers"].append((scheme, value))
    for book_id, fmt in db.execute(
        f"SELECT DISTINCT book_id, format FROM editions WHERE book_id IN ({marks}) AND status = 'done' "
        "ORDER BY book_id, format",
        book_ids,
    ):
        if fmt not in found[book_id]["formats"]:
            found[book_id]["formats"].append(fmt)
    return found
