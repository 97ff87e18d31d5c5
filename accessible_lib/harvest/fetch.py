"""Fetching one page from another library within limits, and parsing it without trusting it.

Why our own few lines and not Sickle or another client: a harvest reads pages a stranger serves, so each
page must be cut off past a size, a slow server past a time, and XML parsed with no entity expansion, DTD or
network access. Sickle reads the whole response into memory through `requests` and parses it with lxml's
default parser, and offers none of these limits. The standard library's HTTP client streams the body, so we
count bytes as they come and stop at the limit, and a watchdog ends an exchange that outlives its time;
lxml parses with entities left unresolved and any DTD refused. Every failure is a `HarvestError` whose
message says what the source did wrong, translated.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from lxml import etree

from ..i18n import gettext
from ..settings import Settings

USER_AGENT = "accessible-lib harvester (+https://github.com/accessible-lib)"
CHUNK = 64 * 1024
MAX_REDIRECTS = 5
REDIRECTS = {301, 302, 303, 307, 308}


class HarvestError(Exception):
    """A harvest that must stop: the message, already translated, is what staff and the command line see."""

    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.message = message
        self.status = status  # the HTTP status, when the source answered with an error status


@dataclass
class Limits:
    """The limits of one harvest, from the settings; `deadline` is the end of the whole run."""

    max_bytes: int
    request_seconds: float
    max_pages: int
    deadline: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Limits:
        return cls(
            max_bytes=settings.harvest_max_response_bytes,
            request_seconds=float(settings.harvest_request_timeout_seconds),
            max_pages=settings.harvest_max_pages,
            deadline=time.monotonic() + settings.harvest_time_limit_seconds,
        )

    def count_page(self, pages: int) -> None:
        """Stop at one page more than the limit: so many pages is taken for an endless loop."""
        if pages > self.max_pages:
            raise HarvestError(
                gettext(
                    "The source sent more than %(pages)s pages; the harvest stopped, "
                    "taking it for an endless loop.",
                    pages=self.max_pages,
                )
            )

    def remaining(self) -> float:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise HarvestError(gettext("The harvest took longer than its time limit and was stopped."))
        return left


@dataclass
class Page:
    url: str  # after redirects
    media_type: str
    body: bytes


def check_url(url: str) -> str:
    """The URL, trimmed, when it is an http or https address; otherwise a HarvestError."""
    url = (url or "").strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HarvestError(gettext("Give the address of another library's OAI-PMH or OPDS 2.0 feed, "
                                   "starting with http:// or https://."))  # fmt: skip
    return url


def get(url: str, limits: Limits, accept: str) -> Page:
    """The body at `url`, or a HarvestError once it is bigger than the limit or slower than the timeouts.

    The time limit holds for the whole exchange, connection, headers and body, not for each read: a
    watchdog shuts the socket when it is up, so a server that sends one byte at a time is stopped too.
    Redirects are followed (a few, to http or https only)."""
    for _ in range(MAX_REDIRECTS + 1):
        budget = min(limits.request_seconds, limits.remaining())
        status, location, page = _exchange(url, limits, accept, budget)
        if location is None:
            if status >= 400:
                raise HarvestError(
                    gettext(
                        "The source answered %(url)s with HTTP status %(status)s.", url=url, status=status
                    ),
                    status,
                )
            return page
        url = urljoin(url, location)
        if urlsplit(url).scheme not in ("http", "https"):
            raise HarvestError(gettext("The source redirected to an address that is not http or https."))
    raise HarvestError(gettext("The source redirected more than %(count)s times.", count=MAX_REDIRECTS))


def _exchange(url: str, limits: Limits, accept: str, budget: float) -> tuple[int, str | None, Page | None]:
    """One request: (status, where it redirects or None, the page when it does not)."""
    parts = urlsplit(url)
    kind = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
    try:
        connection = kind(parts.hostname, parts.port, timeout=budget)
    except ValueError as error:  # a port that is not a number
        raise HarvestError(gettext("Could not reach %(url)s: %(reason)s", url=url, reason=error)) from None
    expired = threading.Event()

    def stop() -> None:
        expired.set()
        sock = connection.sock
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    watchdog = threading.Timer(budget, stop)
    watchdog.daemon = True
    watchdog.start()
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    response = None
    try:
        try:
            connection.request("GET", target, headers={"User-Agent": USER_AGENT, "Accept": accept})
            response = connection.getresponse()
        except (OSError, http.client.HTTPException) as error:
            if expired.is_set() or isinstance(error, TimeoutError):
                raise _too_slow(limits) from None
            raise HarvestError(
                gettext("Could not reach %(url)s: %(reason)s", url=url, reason=error)
            ) from None
        if response.status in REDIRECTS and response.getheader("Location"):
            return response.status, response.getheader("Location"), None
        if response.status >= 400:
            return response.status, None, None
        length = response.getheader("Content-Length") or ""
        if length.isdigit() and int(length) > limits.max_bytes:
            raise _too_big(limits)
        chunks, size = [], 0
        try:
            while chunk := response.read1(CHUNK):
                size += len(chunk)
                if size > limits.max_bytes:
                    raise _too_big(limits)
                chunks.append(chunk)
                if expired.is_set():
                    raise _too_slow(limits)
        except (OSError, http.client.HTTPException) as error:
            if expired.is_set() or isinstance(error, TimeoutError):
                raise _too_slow(limits) from None
            raise HarvestError(gettext("Could not read %(url)s: %(reason)s", url=url, reason=error)) from None
        if expired.is_set():  # the watchdog shut the socket: what came is cut short
            raise _too_slow(limits)
        media_type = (response.getheader("Content-Type") or "").split(";")[0].strip().lower()
        return response.status, None, Page(url, media_type, b"".join(chunks))
    finally:
        watchdog.cancel()
        if response is not None:
            response.close()
        connection.close()


def _too_big(limits: Limits) -> HarvestError:
    return HarvestError(
        gettext(
            "The source sent a page bigger than %(bytes)s bytes, the harvest's limit; nothing was changed.",
            bytes=f"{limits.max_bytes:,}",
        )
    )


def _too_slow(limits: Limits) -> HarvestError:
    return HarvestError(
        gettext(
            "The source did not send a page within %(seconds)s seconds; nothing was changed.",
            seconds=f"{limits.request_seconds:g}",
        )
    )


def _parser() -> etree.XMLParser:
    # No entity is expanded (billion laughs), no DTD loaded, nothing fetched from the network, and lxml's
    # default caps on text and depth stay on (huge_tree=False).
    return etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False, huge_tree=False
    )


_DOCTYPE = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*(?:<\?xml[^>]*\?>)?(?:\s|<!--.*?-->|<\?.*?\?>)*<!DOCTYPE", re.DOTALL
)


def parse_xml(body: bytes) -> etree._Element:
    """The document's root; a HarvestError for bad XML or for any DTD, which OAI-PMH never needs."""
    if _DOCTYPE.match(body[:65536]):
        raise _doctype()
    try:
        root = etree.fromstring(body, _parser())
    except etree.XMLSyntaxError as error:
        raise HarvestError(
            gettext("The source sent XML that is not well-formed: %(error)s", error=error)
        ) from None
    if root is None:
        raise HarvestError(gettext("The source sent an empty page."))
    tree = root.getroottree()
    if tree.docinfo.doctype or tree.docinfo.internalDTD is not None:
        raise _doctype()
    return root


def _doctype() -> HarvestError:
    return HarvestError(
        gettext("The source sent XML with a document type declaration (entities), which is refused.")
    )


def parse_json(body: bytes) -> object:
    try:
        return json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError, RecursionError) as error:
        raise HarvestError(
            gettext("The source sent JSON that cannot be read: %(error)s", error=error)
        ) from None
