"""The OAI-PMH 2.0 endpoint, /oai: how other libraries harvest this catalogue's records.

All six verbs, in GET and in POST (application/x-www-form-urlencoded), as the protocol requires of every
repository. The catalogue questions are in accessible_lib/oai.py and the record formats in oai_formats.py;
this module checks the arguments exactly as the protocol says (an unknown, repeated or missing argument is
badArgument, a resumption token comes alone, `from` and `until` share one granularity), and answers every
problem with an OAI-PMH error in XML, never an HTML page or a traceback: a harvester reads the code.

A POST here changes nothing and reads no session: it is another spelling of the same read-only GET, which
OAI-PMH allows for long requests, so it takes no CSRF token (csrf.read_only_protocol says why). Responses
are built with lxml, never by pasting strings, so a title with "&" or "<" stays well-formed.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlsplit

from lxml import etree
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from .. import auth, i18n, oai
from ..i18n import gettext
from ..mail import sender
from . import csrf
from .helpers import db_for
from .oai_formats import FORMATS, Context

OAI_NS = "http://www.openarchives.org/OAI/2.0/"
OAI_IDENTIFIER = "http://www.openarchives.org/OAI/2.0/oai-identifier"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
PATH = "/oai"
MEDIA_TYPE = "text/xml; charset=utf-8"
MAX_BODY_BYTES = 64 * 1024  # a POSTed request is a few arguments; a resumption token is under 1 KB
# Each verb's required and optional arguments, besides `verb`; a resumption token replaces them all.
ARGUMENTS = {
    "Identify": (set(), set()),
    "ListMetadataFormats": (set(), {"identifier"}),
    "ListSets": (set(), set()),
    "GetRecord": ({"identifier", "metadataPrefix"}, set()),
    "ListIdentifiers": ({"metadataPrefix"}, {"from", "until", "set"}),
    "ListRecords": ({"metadataPrefix"}, {"from", "until", "set"}),
}
RESUMABLE = {"ListSets", "ListIdentifiers", "ListRecords"}
_PREFIX = re.compile(r"^[A-Za-z0-9\-_.!~*'()]+$")
_DOMAIN = re.compile(r"^[a-zA-Z][a-zA-Z0-9\-]*(\.[a-zA-Z][a-zA-Z0-9\-]*)+$")
_EMAIL = re.compile(r"^\S+@(\S+\.)+\S+$")
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
# An identifier echoed in the response's request element must be a URI (the schema's anyURI): a scheme,
# then URI characters or %-escapes; any other character beyond ASCII is allowed as in an IRI.
_URI = re.compile(
    r"^[A-Za-z][A-Za-z0-9+.\-]*:(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?]|%[0-9A-Fa-f]{2}|[^\x00-\x7f])*$"
)


class OAIError(Exception):
    """An OAI-PMH error condition: its code from the protocol and a message for the harvester's people."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


# --- Where this repository is ---


def site_url(request: Request) -> str:
    """The library's address: the `public_url` setting, else the address the request came to."""
    configured = request.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def repository_identifier(request: Request) -> str:
    """The host name in every OAI identifier, `oai:{this}:book:{id}`: the public address's host, so the
    identifiers stay the same however the server is reached once `public_url` is set."""
    return urlsplit(site_url(request)).hostname or "localhost"


def admin_email(request: Request) -> str:
    address = sender(request.state.settings, site_url(request))
    return address if _EMAIL.match(address) else f"{address}.localdomain"


# --- Arguments ---


async def _arguments(request: Request) -> list[tuple[str, str]]:
    if request.method != "POST":
        return parse_qsl(request.url.query, keep_blank_values=True)
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise OAIError(
            "badArgument",
            gettext("A POST request must send its arguments as application/x-www-form-urlencoded."),
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
        raise OAIError("badArgument", gettext("The request is too long."))
    body = bytearray()
    async for chunk in request.stream():
        body.extend(chunk)
        if len(body) > MAX_BODY_BYTES:
            raise OAIError("badArgument", gettext("The request is too long."))
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True, strict_parsing=bool(body))
    except (UnicodeDecodeError, ValueError) as exc:
        raise OAIError("badArgument", gettext("The request's arguments could not be read.")) from exc


def _xml_text(value: str) -> bool:
    """Whether XML 1.0 can carry `value` (an attribute of the echoed request, or words of an error)."""
    return not _NOT_XML.search(value)


def _checked(pairs: list[tuple[str, str]]) -> tuple[str, dict[str, str]]:
    """The verb and its arguments, once they are exactly what the protocol allows."""
    if any(not _xml_text(name) or not _xml_text(value) for name, value in pairs):
        raise OAIError("badArgument", gettext("The request's arguments could not be read."))
    verbs = [value for name, value in pairs if name == "verb"]
    if len(verbs) != 1 or verbs[0] not in ARGUMENTS:
        if len(verbs) > 1:
            raise OAIError("badVerb", gettext("The verb argument was given more than once."))
        if not verbs:
            raise OAIError("badVerb", gettext("The request has no verb argument."))
        raise OAIError("badVerb", gettext("That verb is not an OAI-PMH verb."))
    verb = verbs[0]
    args: dict[str, str] = {}
    for name, value in pairs:
        if name == "verb":
            continue
        if name in args:
            raise OAIError(
                "badArgument", gettext("The argument %(name)s was given more than once.", name=name)
            )
        args[name] = value
    required, optional = ARGUMENTS[verb]
    if "resumptionToken" in args:
        if verb not in RESUMABLE:
            raise OAIError(
                "badArgument",
                gettext("The verb %(verb)s takes no resumptionToken argument.", verb=verb),
            )
        if len(args) > 1:
            raise OAIError(
                "badArgument", gettext("A resumptionToken argument must be the only argument besides verb.")
            )
        return verb, args
    unknown = sorted(set(args) - required - optional)
    if unknown:
        raise OAIError(
            "badArgument",
            gettext(
                "The verb %(verb)s takes no argument %(name)s.", verb=verb, name=", ".join(unknown)[:100]
            ),
        )
    missing = sorted(required - set(args))
    if missing:
        raise OAIError(
            "badArgument",
            gettext("The verb %(verb)s needs the argument %(name)s.", verb=verb, name=", ".join(missing)),
        )
    if "metadataPrefix" in args and not _PREFIX.match(args["metadataPrefix"]):
        raise OAIError("badArgument", gettext("The metadataPrefix argument is not a metadata prefix."))
    if "identifier" in args and (not args["identifier"] or any(c.isspace() for c in args["identifier"])):
        raise OAIError("badArgument", gettext("The identifier argument is not an identifier."))
    if "set" in args and not oai.valid_set_spec(args["set"]):
        raise OAIError("badArgument", gettext("The set argument is not a setSpec."))
    return verb, args


def _dates(args: dict[str, str]) -> tuple[str | None, str | None]:
    parsed = {}
    for name in ("from", "until"):
        if name in args:
            value = oai.parse_date(args[name], end=name == "until")
            if value is None:
                raise OAIError(
                    "badArgument",
                    gettext(
                        "The %(name)s argument must be a date (YYYY-MM-DD) or a UTC time "
                        "(YYYY-MM-DDThh:mm:ssZ).",
                        name=name,
                    ),
                )
            parsed[name] = value
    if len({granularity for _, granularity in parsed.values()}) > 1:
        raise OAIError("badArgument", gettext("The from and until arguments must have the same granularity."))
    since = parsed["from"][0] if "from" in parsed else None
    until = parsed["until"][0] if "until" in parsed else None
    if since and until and since > until:
        raise OAIError("badArgument", gettext("The from argument is later than the until argument."))
    return since, until


def _format(prefix: str):
    found = FORMATS.get(prefix)
    if found is None:
        raise OAIError(
            "cannotDisseminateFormat",
            gettext(
                "This repository offers the metadata formats %(formats)s only.", formats=", ".join(FORMATS)
            ),
        )
    return found


# --- Responses ---


def _q(name: str) -> str:
    return f"{{{OAI_NS}}}{name}"


def _sub(parent: etree._Element, name: str, text: str | None = None, **attributes: str) -> etree._Element:
    element = etree.SubElement(parent, _q(name), {k: v for k, v in attributes.items() if v is not None})
    if text is not None:
        element.text = text
    return element


def _envelope(request: Request, echo: dict[str, str] | None) -> etree._Element:
    root = etree.Element(_q("OAI-PMH"), nsmap={None: OAI_NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", f"{OAI_NS} http://www.openarchives.org/OAI/2.0/OAI-PMH.xsd")
    _sub(root, "responseDate", oai.now_datestamp())
    _sub(root, "request", site_url(request) + PATH, **(echo or {}))
    return root


def _response(root: etree._Element) -> Response:
    body = etree.tostring(root, xml_declaration=True, encoding="utf-8", pretty_print=True)
    return Response(body, media_type=MEDIA_TYPE)


def _header(parent: etree._Element, repository: str, header: oai.Header) -> None:
    element = _sub(parent, "header", status="deleted" if header.deleted else None)
    _sub(element, "identifier", oai.identifier(repository, header.book_id))
    _sub(element, "datestamp", header.datestamp)
    for spec in header.sets:
        _sub(element, "setSpec", spec)


def _records(parent, request, headers: list[oai.Header], prefix: str | None, repository: str) -> None:
    """Headers alone (prefix None), or whole records: a deleted item's record is its header only."""
    if prefix is None:
        for header in headers:
            _header(parent, repository, header)
        return
    fmt = FORMATS[prefix]
    books = oai.load_records(db_for(request), [h.book_id for h in headers if not h.deleted])
    context = Context(site=site_url(request))
    for header in headers:
        record = _sub(parent, "record")
        _header(record, repository, header)
        book = books.get(header.book_id)
        if not header.deleted and book is not None:
            _sub(record, "metadata").append(fmt.build(book, context))


def _token_element(parent, token: str | None, total: int | None, sent: int) -> None:
    """The resumptionToken: the next page's, or an empty one on the last page of a list that had more."""
    if token is None and sent == 0:
        return
    _sub(
        parent,
        "resumptionToken",
        token or "",
        completeListSize=str(total) if total else None,
        cursor=str(sent),
    )


# --- Verbs ---


def identify(request: Request, root: etree._Element, args: dict[str, str]) -> None:
    element = _sub(root, "Identify")
    _sub(element, "repositoryName", gettext("Accessible Library"))
    _sub(element, "baseURL", site_url(request) + PATH)
    _sub(element, "protocolVersion", "2.0")
    _sub(element, "adminEmail", admin_email(request))
    _sub(element, "earliestDatestamp", oai.earliest_datestamp(db_for(request)))
    _sub(element, "deletedRecord", "persistent")
    _sub(element, "granularity", oai.GRANULARITY)
    repository = repository_identifier(request)
    if _DOMAIN.match(repository):
        description = _sub(element, "description")
        ns = {None: OAI_IDENTIFIER, "xsi": XSI}
        identifier = etree.SubElement(description, f"{{{OAI_IDENTIFIER}}}oai-identifier", nsmap=ns)
        identifier.set(
            f"{{{XSI}}}schemaLocation",
            f"{OAI_IDENTIFIER} http://www.openarchives.org/OAI/2.0/oai-identifier.xsd",
        )
        for name, text in (
            ("scheme", "oai"),
            ("repositoryIdentifier", repository),
            ("delimiter", ":"),
            ("sampleIdentifier", oai.identifier(repository, 1)),
        ):
            etree.SubElement(identifier, f"{{{OAI_IDENTIFIER}}}{name}").text = text


def _item(request: Request, identifier: str) -> oai.Header:
    book_id = oai.book_id_of(repository_identifier(request), identifier)
    header = oai.get_header(db_for(request), book_id) if book_id is not None else None
    if header is None:
        raise OAIError(
            "idDoesNotExist",
            gettext("This repository has no item with the identifier %(id)s.", id=identifier[:300]),
        )
    return header


def list_metadata_formats(request: Request, root: etree._Element, args: dict[str, str]) -> None:
    if "identifier" in args:
        _item(request, args["identifier"])  # every item, deleted ones too, can be had in every format
    element = _sub(root, "ListMetadataFormats")
    for fmt in FORMATS.values():
        entry = _sub(element, "metadataFormat")
        _sub(entry, "metadataPrefix", fmt.prefix)
        _sub(entry, "schema", fmt.schema)
        _sub(entry, "metadataNamespace", fmt.namespace)


def _set_name(info: oai.SetInfo, locale: str) -> str:
    if info.language is not None:
        return gettext("Books in %(language)s", language=i18n.language_name(info.language, locale))
    return gettext("Subject: %(subject)s", subject=info.subject)


def list_sets(request: Request, root: etree._Element, args: dict[str, str]) -> None:
    secret = auth.secret_key_for(request.state.settings)
    query = oai.Query(prefix="")
    if "resumptionToken" in args:
        query = oai.read_token(secret, "ListSets", args["resumptionToken"])
        if query is None or query.after is None:
            raise _bad_token()
    size = request.state.settings.oai_page_size
    sets, more = oai.list_sets(db_for(request), query.after[0] if query.after else None, size)
    if not sets:
        if query.after is not None:
            raise _bad_token()
        raise OAIError("noSetHierarchy", gettext("This repository has no sets yet: it holds no books."))
    element = _sub(root, "ListSets")
    locale = request.scope.get("locale") or "en"
    for info in sets:
        entry = _sub(element, "set")
        _sub(entry, "setSpec", info.spec)
        _sub(entry, "setName", _set_name(info, locale))
    token = None
    if more:
        following = oai.Query(prefix="", after=(sets[-1].key, 0), sent=query.sent + len(sets))
        token = oai.make_token(secret, "ListSets", following)
    _token_element(element, token, None, query.sent)


def _bad_token() -> OAIError:
    return OAIError(
        "badResumptionToken",
        gettext(
            "The resumption token is not one this repository gave, or its list has ended. "
            "Start the list again."
        ),
    )


def get_record(request: Request, root: etree._Element, args: dict[str, str]) -> None:
    _format(args["metadataPrefix"])
    header = _item(request, args["identifier"])
    element = _sub(root, "GetRecord")
    _records(element, request, [header], args["metadataPrefix"], repository_identifier(request))


def _list(request: Request, root: etree._Element, args: dict[str, str], verb: str) -> None:
    secret = auth.secret_key_for(request.state.settings)
    if "resumptionToken" in args:
        query = oai.read_token(secret, verb, args["resumptionToken"])
        if query is None or query.prefix not in FORMATS:
            raise _bad_token()
    else:
        since, until = _dates(args)  # a bad date is badArgument, whatever else is wrong
        _format(args["metadataPrefix"])
        query = oai.Query(prefix=args["metadataPrefix"], set_spec=args.get("set"), since=since, until=until)
    if query.set_spec is not None and oai.parse_set(query.set_spec) is None:
        raise OAIError(
            "noRecordsMatch", gettext("This repository has no set %(set)s.", set=query.set_spec[:200])
        )
    size = request.state.settings.oai_page_size
    headers, more, total = oai.list_headers(db_for(request), query, size)
    if not headers:
        if "resumptionToken" in args:
            raise _bad_token()
        raise OAIError("noRecordsMatch", gettext("No records match the request."))
    element = _sub(root, verb)
    prefix = query.prefix if verb == "ListRecords" else None
    _records(element, request, headers, prefix, repository_identifier(request))
    token = None
    if more:
        last = headers[-1]
        following = oai.Query(
            prefix=query.prefix,
            set_spec=query.set_spec,
            since=query.since,
            until=query.until,
            after=(last.datestamp, last.book_id),
            sent=query.sent + len(headers),
            total=total,
        )
        token = oai.make_token(secret, verb, following)
    _token_element(element, token, max(total, query.sent + len(headers)), query.sent)


VERBS = {
    "Identify": identify,
    "ListMetadataFormats": list_metadata_formats,
    "ListSets": list_sets,
    "GetRecord": get_record,
    "ListIdentifiers": lambda request, root, args: _list(request, root, args, "ListIdentifiers"),
    "ListRecords": lambda request, root, args: _list(request, root, args, "ListRecords"),
}


def _answer(request: Request, pairs: list[tuple[str, str]]) -> Response:
    try:
        verb, args = _checked(pairs)
    except OAIError as error:
        return _error(request, None, error)  # badVerb, badArgument: the request is echoed without arguments
    echo = _echo(verb, args)
    root = _envelope(request, echo)
    try:
        VERBS[verb](request, root, args)
    except OAIError as error:
        if error.code in ("badArgument", "badVerb"):
            return _error(request, None, error)
        return _error(request, echo, error)
    return _response(root)


def _echo(verb: str, args: dict[str, str]) -> dict[str, str]:
    """The request's arguments as the response's request element repeats them: each one only when it is
    valid there (an identifier that is no URI is not ours, idDoesNotExist, and cannot be echoed)."""
    echo = {"verb": verb}
    for name, value in args.items():
        valid = {
            "identifier": lambda v: bool(_URI.match(v)),
            "from": lambda v: oai.parse_date(v, end=False) is not None,
            "until": lambda v: oai.parse_date(v, end=True) is not None,
            "set": oai.valid_set_spec,
        }.get(name, lambda v: True)
        if valid(value):
            echo[name] = value
    return echo


def _error(request: Request, echo: dict[str, str] | None, error: OAIError) -> Response:
    root = _envelope(request, echo)
    _sub(root, "error", error.message, code=error.code)
    return _response(root)


@csrf.read_only_protocol
async def endpoint(request: Request) -> Response:
    """/oai, GET or POST: one OAI-PMH request, one XML answer (always 200, as the protocol has it)."""
    try:
        pairs = await _arguments(request)
    except OAIError as error:
        return _error(request, None, error)
    return await run_in_threadpool(_answer, request, pairs)
