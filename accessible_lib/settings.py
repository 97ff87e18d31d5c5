"""Every setting in one list, read from `ACCESSIBLE_LIB_*` environment variables.

One list (name, default, help) so that the README, `accessible-lib settings` and the test that checks the
README cannot drift apart.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields
from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent
PREFIX = "ACCESSIBLE_LIB_"


@dataclass(frozen=True)
class Setting:
    name: str
    default: object
    help: str
    secret: bool = False  # never printed (`accessible-lib settings` says only whether it is set)


SETTINGS: list[Setting] = [
    Setting("data_dir", str(CHECKOUT / "var"), "Directory for the database and every generated file."),
    Setting(
        "content_dir",
        str(CHECKOUT / "content"),
        "Books that `accessible-lib import` with no path imports; `make run` does so each time it starts.",
    ),
    Setting("host", "127.0.0.1", "Address `accessible-lib serve` listens on."),
    Setting("port", 8000, "Port `accessible-lib serve` listens on."),
    Setting("debug", False, "Show tracebacks in error pages. Never in production."),
    Setting("default_locale", "en", "Interface language when the browser asks for none we have."),
    Setting("page_size", 20, "Items per page in search results and browse lists."),
    Setting("max_file_bytes", 100 * 1024 * 1024, "Largest source file accepted for import, in bytes."),
    Setting("max_zip_entries", 5000, "Most entries an EPUB may hold."),
    Setting(
        "max_uncompressed_bytes",
        200 * 1024 * 1024,
        "Largest total uncompressed size of an EPUB's entries, in bytes.",
    ),
    Setting(
        "max_compression_ratio",
        100,
        "Highest uncompressed/compressed size ratio of one EPUB entry (zip bombs go far higher).",
    ),
    Setting("search_time_limit_ms", 2000, "A search that takes longer is stopped with a clear message."),
    Setting(
        "search_count_cap",
        500,
        "Matching books a search counts exactly, ranks and lists; past it the page says 'more than' this "
        "number and its filters count the first ones found. Collecting, counting and faceting cost about "
        "3 microseconds a book found: at 1,000 that was a fifth of a common word's search (docs/scaling.md).",
    ),
    Setting(
        "secret_key",
        "",
        "Signs staff session cookies. Empty: a random key is made once and kept in the data directory.",
        secret=True,
    ),
    Setting(
        "redis_url",
        "",
        "Empty: the job queue is a SQLite file in the data directory. A redis:// URL: jobs go through Redis, "
        "so workers can run on several machines.",
    ),
    Setting(
        "workers", 0, "Worker processes `make run` and `accessible-lib worker` start; 0 means one per core."
    ),
    Setting(
        "web_processes",
        0,
        "Web server processes `make run` and `accessible-lib serve` start, sharing one catalogue; "
        "0 means one per core. A process that dies is replaced.",
    ),
    Setting(
        "page_cache_mb",
        64,
        "Memory each web process may keep rendered home, browse and book pages in, for visitors who have "
        "not signed in (made again when the catalogue changes); 0 turns the cache off.",
    ),
    Setting(
        "lease_seconds", 60, "A running job renews its lease this often (x1/3); an expired lease is requeued."
    ),
    Setting("max_attempts", 3, "Attempts before an edition is marked failed."),
    Setting("retry_backoff_seconds", 30, "Wait before the first retry; doubled for each later one."),
    Setting(
        "report_url",
        "",
        "Empty: workers write job state to the catalogue directly. The web app's URL (e.g. "
        "http://library:8000): a worker without the catalogue reports there, signed with the secret key.",
    ),
    Setting(
        "audio_back_matter",
        True,
        "Audio editions read Project Gutenberg's header and licence at the end of the book; false leaves "
        "them out of audio (they stay in the text editions).",
    ),
    Setting(
        "trusted_proxies",
        "",
        "Comma-separated addresses or networks (e.g. 127.0.0.1 or 10.0.0.0/8) of reverse proxies whose "
        "X-Forwarded-Proto and X-Forwarded-For headers are believed: the scheme decides the cookies' Secure "
        "flag, the address the throttles. Empty: no proxy is trusted.",
    ),
    Setting(
        "braille_jobs_per_hour",
        10,
        "New braille editions one reader or one network address may have made per hour from the book page; "
        "editions already made or queued are served without counting.",
    ),
    Setting(
        "plugins",
        "",
        "Comma-separated Python modules that workers and `editions request` import at start, e.g. extra "
        "edition formats.",
    ),
    Setting(
        "public_url",
        "",
        "The library's address as readers reach it (e.g. https://library.example.org), for links in mails. "
        "Empty: the address of the request that sends the mail.",
    ),
    Setting(
        "smtp_url",
        "",
        "Mail server for account mails: smtp://user:password@host:587 (STARTTLS when offered) or "
        "smtps://user:password@host:465. Empty: mails are written to the log instead of sent.",
    ),
    Setting("mail_from", "", "Sender address of account mails. Empty: library@ the public address's host."),
    Setting(
        "default_rights",
        "public-domain",
        "Rights status of imported books unless the import says otherwise: public-domain, open-licence, "
        "eligible-only (only eligible readers may read them) or withdrawn.",
    ),
    Setting(
        "max_evidence_bytes",
        10 * 1024 * 1024,
        "Largest evidence file (a professional's statement: PDF, JPEG or PNG) a reader may upload, in bytes.",
    ),
    Setting(
        "accel_redirect",
        "",
        "With nginx in front: the internal location (e.g. /_protected/) whose alias is the editions "
        "directory (DATA_DIR/editions/). Once the app has checked a reader's rights it answers an edition "
        "download with X-Accel-Redirect and nginx sends the file (ranges, ETag, 304). Empty: the app sends "
        "files itself.",
    ),
    Setting(
        "log_format",
        "text",
        "text: log lines for a person at a terminal. json: one JSON object a line (time, level, logger, "
        "message, request id), for a log collector.",
    ),
    Setting(
        "metrics_token",
        "",
        "Empty: /metrics answers only requests from this machine (loopback, not forwarded by a proxy). Set: "
        "/metrics answers any address that sends it as `Authorization: Bearer TOKEN`, and no other.",
        secret=True,
    ),
    Setting(
        "oai_page_size",
        100,
        "Records (or identifiers, or sets) in one OAI-PMH list response at /oai; a resumption token brings "
        "the next page.",
    ),
    Setting(
        "harvest_max_response_bytes",
        20 * 1024 * 1024,
        "Largest single response `accessible-lib harvest` accepts from another library (one OAI-PMH or OPDS "
        "page), in bytes; a bigger one stops the harvest and changes nothing.",
    ),
    Setting(
        "harvest_request_timeout_seconds",
        30,
        "Longest a harvest waits for one page from another library, from asking to the last byte.",
    ),
    Setting(
        "harvest_time_limit_seconds",
        6 * 3600,
        "Longest one harvest of one library may take; past it the harvest stops and changes nothing.",
    ),
    Setting(
        "harvest_max_pages",
        100_000,
        "Most pages (OAI-PMH resumption tokens, OPDS next links) one harvest follows; more is taken for an "
        "endless loop.",
    ),
    Setting(
        "index_merge_records",
        10_000,
        "An import, Calibre import or harvest that adds, changes or deletes at least this many books merges "
        "the search indexes afterwards, so each word is looked up once rather than once per piece "
        "(docs/scaling.md).",
    ),
    Setting(
        "shared_editions",
        False,
        "For a worker with a report URL: true when its editions directory is the web app's own (a shared "
        "mount), so it publishes there; false: it uploads each edition's files to the web app over signed, "
        "checksummed, resumable HTTP and the web app publishes them.",
    ),
    Setting(
        "upload_chunk_bytes",
        8 * 1024 * 1024,
        "Bytes a worker uploading an edition sends in one signed request (at most 32 MiB): a failure costs "
        "at most this much again.",
    ),
    Setting(
        "library_name",
        "",
        "How this library is named in the statistics, and at its parent library (e.g. Hangzhou City "
        'Library). Empty: the host name of the public address, or "this library".',
    ),
    Setting(
        "parent_url",
        "",
        "The parent library's address (e.g. https://province.example.org): once a day this library sends "
        "it its daily statistics, its members' included, signed with parent_key. Empty: none is sent.",
    ),
    Setting(
        "parent_key",
        "",
        "The key shared with the parent library, which signs what is sent to it.",
        secret=True,
    ),
    Setting(
        "member_keys",
        "",
        "Member libraries whose statistics this library takes (POST /internal/rollup): comma-separated "
        "name=key pairs, each the member's library_name and its parent_key. Empty: none is taken.",
        secret=True,
    ),
    Setting(
        "sentence_cache_mb",
        2048,
        "Largest size of the spoken-sentence cache (DATA_DIR/sentence-cache/), in MB: sentences spoken for "
        "instant listening or an audio edition are kept (the least recently used go first) so none is "
        "spoken twice with the same voice and rate. 0: no cache.",
    ),
    Setting(
        "listen_capacity",
        0,
        "Chapters streamed at once by instant listening (/books/ID/read/N/audio); a listener past it is "
        "told the server is busy and when to try again. 0: 25 per CPU core.",
    ),
    Setting(
        "listen_engines",
        0,
        "Speech engines that instant listening shares between its streams (each a process): at most this "
        "many sentences are spoken at once. 0: one per CPU core.",
    ),
    Setting(
        "chapters_at_once",
        4,
        "Chapter pages one web process renders at once; the others wait their turn, first come, first "
        "served. More lets pages interleave, so each takes longer (docs/scaling.md).",
    ),
    Setting(
        "searches_at_once",
        2,
        "Search pages and OPDS search feeds one web process makes at once (the searches themselves run one "
        "at a time); the others wait their turn, first come, first served (docs/scaling.md).",
    ),
]


HIDDEN = "********"
_SECRET_QUERY_NAMES = {"password", "passwd", "pass", "secret", "token", "key", "api_key", "apikey"}


def mask_url_secrets(value: str) -> str:
    """`value` with any password in a URL's userinfo (redis://:pw@host, smtp://user:pw@host) or secret-named
    query parameter (redis://host?password=pw) replaced, so that a URL can be shown or logged."""
    from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

    try:
        parts = urlsplit(value)
        password = parts.password
    except ValueError:
        return HIDDEN if "@" in value else value  # too broken to parse: show nothing that might be a secret
    if not parts.scheme or not parts.netloc:
        return value
    netloc = parts.netloc
    if password is not None:
        userinfo, _, hostport = netloc.rpartition("@")
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}:{HIDDEN}@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in _SECRET_QUERY_NAMES for name, _ in pairs):
            query = urlencode(
                [(n, HIDDEN if n.lower() in _SECRET_QUERY_NAMES else v) for n, v in pairs], safe="*"
            )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def display_value(setting: Setting, value: object) -> str:
    """A setting's value as `accessible-lib settings` prints it: a secret only says whether it is set, and a
    password inside any URL is masked (the Redis URL today, the SMTP URL, any a plug-in adds)."""
    if setting.secret:
        return HIDDEN if value else ""
    return mask_url_secrets(value) if isinstance(value, str) else str(value)


def _coerce(raw: str, default: object) -> object:
    if isinstance(default, bool):
        return raw.strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(default, int):
        return int(raw)
    return raw


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default=Path(str(SETTINGS[0].default)))
    content_dir: Path = field(default=Path(str(SETTINGS[1].default)))
    host: str = "127.0.0.1"
    port: int = 8000
    debug: bool = False
    default_locale: str = "en"
    page_size: int = 20
    max_file_bytes: int = 100 * 1024 * 1024
    max_zip_entries: int = 5000
    max_uncompressed_bytes: int = 200 * 1024 * 1024
    max_compression_ratio: int = 100
    search_time_limit_ms: int = 2000
    search_count_cap: int = 500
    secret_key: str = ""
    redis_url: str = ""
    workers: int = 0
    web_processes: int = 0
    page_cache_mb: int = 64
    lease_seconds: int = 60
    max_attempts: int = 3
    retry_backoff_seconds: int = 30
    report_url: str = ""
    audio_back_matter: bool = True
    trusted_proxies: str = ""
    braille_jobs_per_hour: int = 10
    plugins: str = ""
    public_url: str = ""
    smtp_url: str = ""
    mail_from: str = ""
    default_rights: str = "public-domain"
    max_evidence_bytes: int = 10 * 1024 * 1024
    accel_redirect: str = ""
    log_format: str = "text"
    metrics_token: str = ""
    oai_page_size: int = 100
    harvest_max_response_bytes: int = 20 * 1024 * 1024
    harvest_request_timeout_seconds: int = 30
    harvest_time_limit_seconds: int = 6 * 3600
    harvest_max_pages: int = 100_000
    index_merge_records: int = 10_000
    shared_editions: bool = False
    upload_chunk_bytes: int = 8 * 1024 * 1024
    library_name: str = ""
    parent_url: str = ""
    parent_key: str = ""
    member_keys: str = ""
    sentence_cache_mb: int = 2048
    listen_capacity: int = 0
    listen_engines: int = 0
    chapters_at_once: int = 4
    searches_at_once: int = 2

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for setting in SETTINGS:
            key = PREFIX + setting.name.upper()
            value = _coerce(environ[key], setting.default) if key in environ else setting.default
            values[setting.name] = value
        values.update(overrides)
        for name in ("data_dir", "content_dir"):
            values[name] = Path(str(values[name]))
        return cls(**values)

    @property
    def sentence_cache_dir(self) -> Path:
        return self.data_dir / "sentence-cache"

    @property
    def database_path(self) -> Path:
        return self.data_dir / "catalogue.db"

    @property
    def cache_dir(self) -> Path:
        """What a library rebuilds when it is missing (jieba's dictionary cache): kept to save time."""
        return self.data_dir / "cache"

    @property
    def editions_dir(self) -> Path:
        """Published edition files, one directory per edition, for the local storage backend."""
        return self.data_dir / "editions"

    @property
    def queue_path(self) -> Path:
        """Huey's SQLite queue when no Redis URL is set."""
        return self.data_dir / "queue.db"

    @property
    def evidence_dir(self) -> Path:
        """Readers' evidence of eligibility: outside every served directory, shown only to reviewing staff."""
        return self.data_dir / "evidence"

    @property
    def sources_dir(self) -> Path:
        """Originals of imported files, kept so that nothing a librarian brought in is ever lost."""
        return self.data_dir / "sources"


assert [f.name for f in fields(Settings)] == [s.name for s in SETTINGS], "settings list and class differ"
