"""How the web app and the workers log: plain text for a person at a terminal, or one JSON object a line.

Why JSON: a library's systems staff ship logs to a collector (journald, Loki, Elasticsearch) that indexes
fields; a line of text has to be parsed back into them, and a message holding a newline breaks it in two.
With `ACCESSIBLE_LIB_LOG_FORMAT=json` every record is one object with the time, level, logger, message
and, during a request, the request id, so every line one request caused can be found together.

What is never logged: the access line (metrics.RequestMetrics) names the route template, never the path or
its query string, which may carry a mailed token (a password reset, an address confirmation); no header,
cookie or form field is logged at all.
"""

from __future__ import annotations

import logging
import sys
from contextvars import ContextVar
from typing import TextIO

from pythonjsonlogger.json import JsonFormatter

from .settings import Settings

FORMATS = ("text", "json")
QUIET_CLIENTS = ("httpx", "httpx2", "httpcore", "httpcore2", "urllib3")
TEXT_FORMAT = "%(asctime)s %(process)d %(name)s %(levelname)s %(message)s"

# The id of the request being served, for every record logged while serving it (threads included:
# run_in_threadpool copies the context).
request_id: ContextVar[str | None] = ContextVar("request_id", default=None)


class RequestIdFilter(logging.Filter):
    """Puts the current request id on each record (None outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = request_id.get()
        return True


def log_format(settings: Settings) -> str:
    """The configured format; an unknown value is refused, not silently treated as text."""
    value = str(settings.log_format).strip().lower() or "text"
    if value not in FORMATS:
        raise ValueError(f"ACCESSIBLE_LIB_LOG_FORMAT must be one of {', '.join(FORMATS)}, not {value!r}")
    return value


class LineFormatter(JsonFormatter):
    """One JSON object a line: the time in ISO 8601 UTC, and no terminal colour codes (uvicorn adds a
    coloured copy of some messages as `color_message`)."""

    def process_log_record(self, log_data: dict) -> dict:
        log_data.pop("color_message", None)
        return super().process_log_record(log_data)


def formatter(settings: Settings) -> logging.Formatter:
    if log_format(settings) == "json":
        return LineFormatter(
            "%(levelname)s %(name)s %(process)d %(message)s",
            rename_fields={"levelname": "level", "name": "logger"},
            timestamp="time",
            json_ensure_ascii=False,
        )
    return logging.Formatter(TEXT_FORMAT)


def configure_logging(settings: Settings, *, level: int = logging.INFO, stream: TextIO | None = None) -> None:
    """One handler on the root logger (to stderr unless `stream` says), in the configured format; uvicorn's
    loggers go through it too (its own access log is switched off by `serve`: the app writes a safer one)."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings))
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "huey"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
    # HTTP client libraries log each URL whole at INFO, query string and all: warnings only.
    for name in QUIET_CLIENTS:
        logging.getLogger(name).setLevel(logging.WARNING)
