"""Harvesting an OAI-PMH 2.0 repository: ListRecords in `oai_dc`, incremental `from` the last run.

Resumption tokens are followed until the source gives none; the same token twice, or more pages than the
`harvest_max_pages` setting, is an endless loop and stops the harvest. `noRecordsMatch` is an empty harvest,
not an error; any other OAI-PMH error stops it with the source's own words.
"""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlencode

from lxml import etree

from ..i18n import gettext
from .fetch import HarvestError, Limits, get, parse_xml
from .record import MAX_LONG_TEXT, Record, identifier_pair, language, text, texts, web_url

OAI = "http://www.openarchives.org/OAI/2.0/"
OAI_DC = "http://www.openarchives.org/OAI/2.0/oai_dc/"
DC = "http://purl.org/dc/elements/1.1/"
ACCEPT = "text/xml, application/xml;q=0.9"
NS = {"o": OAI, "oai_dc": OAI_DC, "dc": DC}


def is_oai(root: etree._Element) -> bool:
    return root.tag == f"{{{OAI}}}OAI-PMH"


def _request(base: str, limits: Limits, **params: str) -> etree._Element:
    separator = "&" if "?" in base else "?"
    root = parse_xml(get(base + separator + urlencode(params), limits, ACCEPT).body)
    if not is_oai(root):
        raise HarvestError(gettext("The source did not answer with an OAI-PMH response."))
    return root


def _errors(root: etree._Element) -> list[tuple[str, str]]:
    return [(e.get("code") or "", text(e.text) or "") for e in root.findall("o:error", NS)]


def identify(base: str, limits: Limits) -> dict:
    """The repository's name and datestamp granularity (a day, or a second)."""
    root = _request(base, limits, verb="Identify")
    errors = _errors(root)
    if errors:
        raise _oai_error(errors[0])
    return {
        "name": text(root.findtext("o:Identify/o:repositoryName", namespaces=NS)),
        "granularity": text(root.findtext("o:Identify/o:granularity", namespaces=NS)) or "YYYY-MM-DD",
    }


def _oai_error(error: tuple[str, str]) -> HarvestError:
    code, message = error
    return HarvestError(
        gettext(
            "The source answered with the OAI-PMH error %(code)s: %(message)s", code=code, message=message
        )
    )


def list_records(base: str, limits: Limits, since: str | None) -> Iterator[tuple[list[Record], str]]:
    """Each page of records, with the response date of the first page (where the next run starts)."""
    params = {"verb": "ListRecords", "metadataPrefix": "oai_dc"}
    if since:
        params["from"] = since
    seen_tokens: set[str] = set()
    first_date = None
    pages = 0
    while True:
        pages += 1
        limits.count_page(pages)
        root = _request(base, limits, **params)
        first_date = first_date or text(root.findtext("o:responseDate", namespaces=NS))
        errors = _errors(root)
        if errors:
            if errors[0][0] == "noRecordsMatch":
                yield [], first_date or ""
                return
            raise _oai_error(errors[0])
        listing = root.find("o:ListRecords", NS)
        if listing is None:
            raise HarvestError(gettext("The source's answer to ListRecords holds no ListRecords element."))
        yield [_record(r) for r in listing.findall("o:record", NS)], first_date or ""
        token = text(listing.findtext("o:resumptionToken", namespaces=NS), 5000)
        if not token:
            return
        if token in seen_tokens:
            raise HarvestError(
                gettext(
                    "The source sent the same resumption token twice; the harvest stopped to avoid a loop."
                )
            )
        seen_tokens.add(token)
        params = {"verb": "ListRecords", "resumptionToken": token}


def _record(element: etree._Element) -> Record:
    header = element.find("o:header", NS)
    identifier = text(header.findtext("o:identifier", namespaces=NS), 2000) if header is not None else None
    if not identifier:
        raise HarvestError(gettext("The source sent a record without an identifier."))
    if header.get("status") == "deleted":
        return Record(identifier, deleted=True)
    dc = element.find("o:metadata/oai_dc:dc", NS)
    if dc is None:
        raise HarvestError(
            gettext(
                "The source sent the record %(identifier)s without Dublin Core metadata.",
                identifier=identifier,
            )
        )

    def values(name: str) -> list[str]:
        return [e.text or "" for e in dc.findall(f"dc:{name}", NS)]

    titles = texts(values("title"))
    identifiers = texts(values("identifier"), 2000)
    links = [u for u in (web_url(i) for i in identifiers) if u]
    languages = [lang for lang in (language(v) for v in values("language")) if lang]
    dates = texts(values("date"), 40)
    return Record(
        identifier,
        title=titles[0] if titles else identifier,
        subtitle=titles[1] if len(titles) > 1 else None,
        authors=texts(values("creator")),
        subjects=texts(values("subject")),
        description=(texts(values("description"), MAX_LONG_TEXT) or [None])[0],
        publisher=(texts(values("publisher")) or [None])[0],
        date=dates[0] if dates else None,
        language=languages[0] if languages else None,
        remote_url=links[0] if links else None,
        rights_statement=(texts(values("rights"), 2000) or [None])[0],
        identifiers=[p for p in (identifier_pair(i) for i in identifiers) if p],
    )
