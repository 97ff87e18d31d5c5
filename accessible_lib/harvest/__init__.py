"""The union catalogue: other libraries' records brought into this one (issue 12, part 5).

`harvest(db, settings, url)` finds out whether the address is an OAI-PMH repository or an OPDS 2.0 catalogue,
fetches its records within the harvest limits (fetch.py), stages them, and only then writes them into
`books` as records that link out to the library holding them (store.py). Every way a harvest can fail is a
`HarvestError` with a translated message; the source keeps it as its last error, and nothing else changes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlite_utils import Database

from .. import search_index
from ..i18n import gettext
from ..settings import Settings
from . import oai, opds, store
from .fetch import HarvestError, Limits, check_url, get, parse_json, parse_xml

__all__ = ["HarvestError", "HarvestResult", "harvest", "harvest_source", "register"]

DETECT_ACCEPT = "application/opds+json, application/json;q=0.9, text/xml;q=0.8, application/xml;q=0.8"


@dataclass
class HarvestResult:
    source_id: int
    name: str
    protocol: str
    pages: int
    incremental_from: str | None
    counts: dict = field(default_factory=dict)


def detect(url: str, limits: Limits) -> tuple[str, str | None]:
    """(protocol, the library's name as it gives it) for a feed address never harvested before."""
    try:
        page = get(url, limits, DETECT_ACCEPT)
    except HarvestError as error:
        if error.status is None:
            raise
        page = None  # an OAI-PMH base URL asked without a verb may answer an HTTP error: ask who it is
    if page is None or _start(page.body) not in (b"{", b"<"):
        separator = "&" if "?" in url else "?"
        page = get(f"{url}{separator}verb=Identify", limits, oai.ACCEPT)
    start = _start(page.body)
    if start == b"{":
        document = parse_json(page.body)
        if opds.is_opds(document):
            return store.OPDS, opds.title(document)
    elif start == b"<" and oai.is_oai(parse_xml(page.body)):
        return store.OAI, oai.identify(url, limits)["name"]
    raise HarvestError(
        gettext("The address %(url)s is neither an OAI-PMH repository nor an OPDS 2.0 catalogue.", url=url)
    )


def _start(body: bytes) -> bytes:
    return body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]


def register(db: Database, settings: Settings, url: str, name: str | None = None) -> dict:
    """The source at `url`, added when it is new (its protocol found out by asking it) or renamed."""
    url = check_url(url)
    known = store.source_by_url(db, url)
    if known is not None:
        return store.save_source(db, url, known["protocol"], _name(name) or known["name"], known["home_url"])
    protocol, given_name = detect(url, Limits.from_settings(settings))
    parts = urlsplit(url)
    home = f"{parts.scheme}://{parts.netloc}/"
    return store.save_source(db, url, protocol, _name(name) or _name(given_name) or parts.hostname, home)


def harvest(
    db: Database, settings: Settings, url: str, name: str | None = None, *, full: bool = False
) -> HarvestResult:
    """Harvest the feed at `url` into the catalogue: incrementally when it was harvested before (OAI-PMH
    `from` its last complete run), in full with `full`. Raises HarvestError, having changed nothing."""
    return harvest_source(db, settings, register(db, settings, url, name)["id"], full=full)


def harvest_source(db: Database, settings: Settings, source_id: int, *, full: bool = False) -> HarvestResult:
    """One run over a registered source; its outcome, or its error, is kept on the source for staff."""
    source = store.source(db, source_id)
    url = source["base_url"]
    limits = Limits.from_settings(settings)
    since = source["last_datestamp"] if source["protocol"] == store.OAI and not full else None
    run = store.start_run(db, source["id"], since)
    try:
        next_datestamp = None
        if source["protocol"] == store.OAI:
            granularity = oai.identify(url, limits)["granularity"]
            for records, response_date in oai.list_records(url, limits, since):
                store.stage(db, run, records)
                next_datestamp = _datestamp(response_date, granularity)
        else:
            for records in opds.walk(url, limits):
                store.stage(db, run, records)
        store.apply_run(
            db, run, complete_listing=source["protocol"] == store.OPDS, next_datestamp=next_datestamp
        )
    except HarvestError as error:
        store.fail_run(db, run, error.message)
        raise
    except BaseException:
        store.fail_run(db, run, gettext("The harvest stopped on an unexpected error; nothing was changed."))
        raise
    changed = sum(run.counts.get(name, 0) for name in ("added", "updated", "deleted"))
    search_index.merge_after(db, changed, settings.index_merge_records, records_only=True)
    return HarvestResult(source["id"], source["name"], source["protocol"], run.pages, since, run.counts)


def _name(name: str | None) -> str | None:
    name = " ".join((name or "").split())[:200]
    return name or None


def _datestamp(response_date: str, granularity: str) -> str | None:
    """Where the next run starts: this run's first response date, at the granularity the source accepts."""
    if not response_date:
        return None
    return response_date[:10] if granularity == "YYYY-MM-DD" else response_date
