"""One harvested record, whatever protocol brought it: the fields a catalogue record here can hold.

Every text is cut to a length a record can reasonably have, so a hostile source cannot fill the catalogue
with one giant title; what is kept is still a valid record.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

MAX_TEXT = 500  # a title, an author, a subject
MAX_LONG_TEXT = 20_000  # a description
MAX_VALUES = 50  # authors, subjects, identifiers of one record
_LANGUAGE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{1,8})*$")


@dataclass
class Record:
    remote_id: str
    deleted: bool = False
    title: str = ""
    subtitle: str | None = None
    authors: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    description: str | None = None
    publisher: str | None = None
    date: str | None = None
    language: str | None = None
    remote_url: str | None = None
    rights_statement: str | None = None
    identifiers: list[list[str]] = field(default_factory=list)  # [scheme, value]

    def to_json(self) -> str:
        # vars(), not dataclasses.asdict: the same dict (every field, sorted), without asdict's deep copy
        # of each list, a third of the harvest's time in Python at a million records.
        return json.dumps(vars(self), ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Record:
        return cls(**json.loads(text))


def fingerprint(record_json: str) -> str:
    """What tells an unchanged record from a changed one: a hash of its JSON as `to_json` writes it (a
    staged record's JSON is that already, so applying it need not encode it again)."""
    return hashlib.sha256(record_json.encode()).hexdigest()


def text(value: object, limit: int = MAX_TEXT) -> str | None:
    """A value as one clean line of text, or None: whitespace collapsed, control characters gone."""
    if value is None:
        return None
    if not isinstance(value, str):
        value = str(value)
    if not value.isprintable():  # rare: the character by character pass only where there is one to drop
        value = "".join(c if c.isprintable() or c.isspace() else " " for c in value)
    value = " ".join(value.split())
    return value[:limit] or None


def texts(values: list[object], limit: int = MAX_TEXT) -> list[str]:
    seen: dict[str, None] = {}
    for value in values:
        cleaned = text(value, limit)
        if cleaned:
            seen.setdefault(cleaned, None)
        if len(seen) >= MAX_VALUES:
            break
    return list(seen)


def language(value: object) -> str | None:
    """A language tag as the catalogue keeps them (`en`, `zh-Hans`), or None when it is not one."""
    cleaned = text(value, 35)
    if not cleaned or not _LANGUAGE.match(cleaned):
        return None
    first, *rest = cleaned.split("-")
    return "-".join([first.lower(), *rest])


def web_url(value: object) -> str | None:
    cleaned = text(value, 2000)
    return cleaned if cleaned and cleaned.lower().startswith(("http://", "https://")) else None


def identifier_pair(value: str) -> list[str] | None:
    """An identifier the book page can show (ISBN, DOI, web address), as [scheme, value]."""
    lowered = value.lower()
    for prefix, scheme in (("urn:isbn:", "isbn"), ("isbn:", "isbn"), ("doi:", "doi"), ("urn:doi:", "doi")):
        if lowered.startswith(prefix):
            return [scheme, value[len(prefix) :].strip()]
    if web_url(value):
        return ["url", value]
    return None
