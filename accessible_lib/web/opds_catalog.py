"""What the OPDS feeds say about the catalogue, whatever their syntax: which books, their files, their
rights and their accessibility.

Why one module for both OPDS 2.0 (JSON) and 1.2 (Atom): a reading app should find the same books, files and
accessibility claims through either, and both must agree with the site's own pages, so both read the
catalogue and search through the functions the HTML pages use and only the serialisation differs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import quote, urlencode

from sqlite_utils import Database
from starlette.requests import Request

from .. import access, browsing, catalogue, i18n, search
from ..editions import formats, store
from ..i18n import gettext
from ..ingest.errors import N_
from .helpers import db_for, not_found, page_number
from .listen import LISTEN

OPDS_JSON = "application/opds+json"
OPDS_PUBLICATION = "application/opds-publication+json"
OPDS_AUTHENTICATION = "application/opds-authentication+json"
ATOM_NAVIGATION = "application/atom+xml;profile=opds-catalog;kind=navigation"
ATOM_ACQUISITION = "application/atom+xml;profile=opds-catalog;kind=acquisition"
OPENSEARCH = "application/opensearchdescription+xml"
ACQUISITION = "http://opds-spec.org/acquisition"
OPEN_ACCESS = "http://opds-spec.org/acquisition/open-access"

# Browse facets as feeds: the site's /browse facets, in the order a reading app lists them.
FACET_TITLES = {
    "subjects": N_("Subjects"),
    "authors": N_("Authors"),
    "languages": N_("Languages"),
    "formats": N_("Formats"),
}
AUDIO = {"mp3", "daisy202", "epub3-mo"}
BRAILLE = {"brf", "pef"}
TEXT = {"html", "txt", "epub3-mo"}


@dataclass
class Acquisition:
    href: str
    media_type: str
    title: str
    size: int | None = None
    authenticate: bool = False  # eligible-only: the app must sign the reader in first (OPDS Authentication)

    @property
    def rel(self) -> str:
        return ACQUISITION if self.authenticate else OPEN_ACCESS


@dataclass
class Entry:
    """One book as a feed shows it."""

    id: int
    title: str
    subtitle: str | None
    authors: list[str]
    language: str | None
    added_at: str | None
    description: str | None = None
    subjects: list[str] = field(default_factory=list)
    acquisitions: list[Acquisition] = field(default_factory=list)
    accessibility: dict = field(default_factory=dict)
    rights_status: str = access.PUBLIC_DOMAIN


def search_books(request: Request, db: Database, query: str, page: int, **filters) -> tuple:
    """(results, their summaries in rank order) for both feeds' searches, with the site search's rights:
    withdrawn books are not found, nor restricted ones by their text, nor other libraries' records."""
    settings = request.state.settings
    results = search.search(
        db,
        query,
        page=page,
        per_page=settings.page_size,
        prefix_fallback=True,  # apps' readers type as the site's do: `whal` finds the whale books
        time_limit_ms=settings.search_time_limit_ms,
        hidden=access.HIDDEN_STATUSES,
        text_hidden=access.text_hidden_statuses(request),
        local_only=True,
        count_cap=settings.search_count_cap,
        **filters,
    )
    return results, catalogue.summaries_for(db, [hit.book_id for hit in results.hits])


def search_title(query: str, results: search.SearchResults) -> str:
    """A search feed's title; past the count cap it says "more than" the books counted, as the page does,
    because the feed's count of items is left out then (it would not be the number of matches)."""
    if not query:
        return gettext("Search")
    if results.more:
        return gettext(
            "Search results for “%(query)s”: more than %(count)s books", query=query, count=results.total
        )
    return gettext("Search results for “%(query)s”", query=query)


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def facet_title(facet: str, value: str, locale: str) -> str:
    """A facet value as readers know it: a language's name, a format's label; other values as stored."""
    if facet == "languages":
        return i18n.language_name(value, locale)
    if facet == "formats":
        fmt = formats.FORMATS.get(value)
        return gettext(fmt.label) if fmt else value
    return value


def value_path(value: str) -> str:
    return quote(value, safe="")


def _statuses(db: Database, book_ids: list[int]) -> dict[int, str]:
    """Each book's rights status; a catalogue from before the rights column has only public-domain books.
    A record harvested from another library counts as withdrawn here: our feeds never list it."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(books)").fetchall()}
    if "rights_status" not in columns or not book_ids:
        return {}
    marks = ",".join("?" * len(book_ids))
    harvested = "source_id IS NOT NULL" if "source_id" in columns else "0"
    rows = db.execute(
        f"SELECT id, rights_status, {harvested} FROM books WHERE id IN ({marks})", book_ids
    ).fetchall()
    return {
        book_id: access.WITHDRAWN if other else access.rights_status({"rights_status": status})
        for book_id, status, other in rows
    }


def entries(request: Request, db: Database, books: list[dict]) -> list[Entry]:
    """Feed entries for catalogue summaries; withdrawn books are left out."""
    ids = [b["id"] for b in books]
    statuses = _statuses(db, ids)
    details = _details(db, ids)
    shown = []
    for book in books:
        status = statuses.get(book["id"], access.PUBLIC_DOMAIN)
        if status == access.WITHDRAWN:
            continue
        shown.append(_entry(request, db, {**details.get(book["id"], {}), **book}, status))
    return shown


def _details(db: Database, book_ids: list[int]) -> dict[int, dict]:
    """Description and subjects, which list summaries leave out and feed entries show, for a page at once."""
    if not book_ids:
        return {}
    marks = ",".join("?" * len(book_ids))
    found: dict[int, dict] = {
        row[0]: {"description": row[1], "subjects": []}
        for row in db.execute(f"SELECT id, description FROM books WHERE id IN ({marks})", book_ids)
    }
    for book_id, subject in db.execute(
        f"SELECT book_id, subject FROM book_subjects WHERE book_id IN ({marks}) ORDER BY subject", book_ids
    ):
        found[book_id]["subjects"].append(subject)
    return found


def entry_for(request: Request, db: Database, book_id: int) -> Entry | None:
    """One book with its subjects and description, or None when it is not in the catalogue or withdrawn."""
    book = catalogue.get_book(db, book_id)
    if book is None:
        return None
    status = _statuses(db, [book_id]).get(book_id, access.PUBLIC_DOMAIN)
    if status == access.WITHDRAWN:
        return None
    book["chapter_count"] = len(book["chapters"])
    return _entry(request, db, book, status)


def _entry(request: Request, db: Database, book: dict, status: str) -> Entry:
    editions = store.editions_for_book(db, book["id"], status=store.DONE)
    locked = status == access.ELIGIBLE_ONLY
    base = base_url(request)
    acquisitions = []
    read_online = f"/books/{book['id']}/read/1" if book.get("chapter_count") else f"/books/{book['id']}"
    acquisitions.append(Acquisition(base + read_online, "text/html", gettext("Read online"), None, locked))
    for edition in editions:
        fmt = formats.FORMATS.get(edition["format"])
        label = gettext(fmt.label) if fmt else edition["format"]
        for f in edition["files"]:
            if f.get("role") == LISTEN:  # the player's chapter files; the edition's package holds them all
                continue
            href = f"{base}/editions/{edition['id']}/files/{value_path(f['name'])}"
            acquisitions.append(Acquisition(href, f["media_type"], label, f.get("size") or None, locked))
    done = {"html"} | {edition["format"] for edition in editions}
    return Entry(
        id=book["id"],
        title=book["title"],
        subtitle=book.get("subtitle"),
        authors=book.get("authors") or [],
        language=book.get("language"),
        added_at=book.get("added_at"),
        description=book.get("description"),
        subjects=book.get("subjects") or [],
        acquisitions=acquisitions,
        accessibility=accessibility(done, has_contents=bool(book.get("chapter_count"))),
        rights_status=status,
    )


def accessibility(done_formats: set[str], *, has_contents: bool = True) -> dict:
    """The schema.org / EPUB Accessibility claims the book's editions justify (a11y.schema.json's keys).

    Every book reads online as HTML with headings, so it is always textual and sufficient as text; each
    finished audio or braille edition adds its access mode as another sufficient way to read the whole book.
    """
    modes = ["textual"]
    sufficient = [["textual"]]
    features = ["readingOrder", "structuralNavigation", "displayTransformability", "unlocked"]
    if has_contents:
        features.insert(0, "tableOfContents")
    summary = [gettext("Readable online as text with headings and a table of contents.")]
    if done_formats & AUDIO:
        modes.append("auditory")
        sufficient.append(["auditory"])
        summary.append(gettext("Also as an audio book read by a speech synthesiser."))
    if "epub3-mo" in done_formats:
        features.append("synchronizedAudioText")
        summary.append(gettext("The EPUB 3 edition highlights the text as it is read aloud."))
    if done_formats & BRAILLE:
        modes.append("tactile")
        sufficient.append(["tactile"])
        features.append("braille")
        summary.append(gettext("Also in braille, ready to emboss or read on a braille display."))
    return {
        "accessMode": modes,
        "accessModeSufficient": sufficient,
        "feature": features,
        "hazard": ["none"],
        "summary": " ".join(summary),
    }


def facet_books_page(request: Request) -> tuple[str, str, catalogue.Page, str]:
    """(facet, value, the page of its books, the feed's title) for /opds[/v1.2]/{facet}/{value}: both feeds
    answer 404 alike for an unknown facet and for a value with no books of our own."""
    facet = request.path_params["facet"]
    value = request.path_params["value"]
    if facet not in FACET_TITLES:
        raise not_found()
    page = browsing.books_for_facet(
        db_for(request), facet, value, page_number(request), request.state.settings.page_size, local=True
    )
    if page.total == 0:
        raise not_found()
    return facet, value, page, facet_title(facet, value, request.scope.get("locale", "en"))


def page_links(path: str, page: catalogue.Page, params: dict | None = None) -> list[tuple[str, str]]:
    """(rel, href) for first, previous, next and last pages of a paginated feed; `params` are kept."""
    params = {k: v for k, v in (params or {}).items() if v}

    def href(number: int) -> str:
        query = {**params, **({"page": str(number)} if number > 1 else {})}
        return path + ("?" + urlencode(query) if query else "")

    links = [("first", href(1))]
    if page.number > 1:
        links.append(("previous", href(min(page.number - 1, page.count))))
    if page.number < page.count:
        links.append(("next", href(page.number + 1)))
    links.append(("last", href(page.count)))
    return links
