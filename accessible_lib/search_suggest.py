""" "Did you mean": a typing error in a word of a title or an author's name, corrected to the nearest word the
catalogue holds, offered when a search finds few books or none.

Why it works this way:

- The vocabulary is `search_words` (search.py fills it when it indexes a book's record): the words of titles
  and authors as written, lower-cased. Not FTS5's own vocabulary (fts5vocab): that holds porter stems
  ("happi"), which are no words to offer a reader, and the words of every description too.
- Candidates for a word are the words with the same first letter and a length within two of it: a range
  of the table's primary key, a few thousand words even at 150,000 books, so a correction costs
  milliseconds. Typing errors in the first letter are rare; they are not corrected.
- rapidfuzz's Damerau-Levenshtein distance picks the nearest: a swap of two letters (`frankenstien`) is
  one error, not two. One error is allowed in words of up to six letters, two in longer ones.
- Asked only when the search found fewer than FEW_RESULTS books, and the correction is offered only when
  searching for it finds more books than the words as typed: a word found in the text of a book but in
  no title is not "corrected" away from that book.
"""

from __future__ import annotations

from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import DamerauLevenshtein
from sqlite_utils import Database

from . import search

FEW_RESULTS = 3
MAX_CORRECTED = 4  # words corrected in one query; each is one small range scan and one fuzzy match


@dataclass
class Suggestion:
    query: str  # the query with its typing errors corrected
    results: search.SearchResults  # the first page of what the corrected query finds


def _max_edits(word: str) -> int:
    return 1 if len(word) <= 6 else 2


def _nearest(db: Database, word: str) -> str | None:
    """The catalogue's word nearest to `word`, within its allowed errors; None when it is a known word."""
    if db.execute("SELECT 1 FROM search_words WHERE word = ?", [word]).fetchone():
        return None
    first = word[0]
    candidates = [
        row[0]
        for row in db.execute(
            "SELECT word FROM search_words WHERE word >= ? AND word < ? AND length(word) BETWEEN ? AND ?",
            [first, chr(ord(first) + 1), len(word) - 2, len(word) + 2],
        )
    ]
    best = process.extractOne(
        word, candidates, scorer=DamerauLevenshtein.distance, score_cutoff=_max_edits(word)
    )
    return best[0] if best else None


def corrected(db: Database, query: str) -> str | None:
    """`query` with each unknown word of four letters or more replaced by the nearest known one, or None
    when nothing was changed."""
    changes = 0

    def replace(match) -> str:
        nonlocal changes
        word = match.group()
        if changes >= MAX_CORRECTED:
            return word
        nearest = _nearest(db, word.lower())
        if nearest is None:
            return word
        changes += 1
        return nearest

    text = search.SUGGEST_WORD.sub(replace, query[: search.MAX_QUERY_CHARS])
    return text if changes else None


def suggest(db: Database, query: str, results: search.SearchResults, **options) -> Suggestion | None:
    """What to offer instead of `results` (found for `query` with the search `options`), if anything.

    `options` are the same keywords `search.search` took, so the correction is searched with the same
    filters and the same reader's rights; it is always its first page.
    """
    if results.total >= FEW_RESULTS:
        return None
    better = corrected(db, query)
    if better is None:
        return None
    found = search.search(db, better, **{**options, "page": 1})
    if found.total <= results.total:
        return None
    return Suggestion(better, found)
