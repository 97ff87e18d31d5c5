"""Handing an edition file to nginx once the app has decided it may go out (`accel_redirect` setting).

A DAISY book or a whole MP3 edition is hundreds of megabytes; a Python worker streaming it to a reader on a
slow line is held for the whole download. With nginx in front, the app checks the reader's rights, records
the download and names the file, then answers with `X-Accel-Redirect`: nginx sends the bytes from its
`internal` location (an `alias` of the editions directory that no client can ask for), with its own
sendfile, byte ranges, If-Range, ETag and 304s. The app's Content-Type, Content-Disposition and
Cache-Control are passed on by nginx as they are.

Only a file inside the editions directory is ever named, by its resolved path, so the redirect can neither
leave that directory nor change edition halfway: the publication the link pointed to when the rights were
checked is the one nginx sends, even if the edition is republished a moment later.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from starlette.responses import Response

from ..settings import Settings

PASSED_ON = ("content-disposition", "cache-control")  # nginx copies these (and Content-Type) to the client


def location(settings: Settings) -> str:
    """The internal location as a path prefix with both slashes ("/_protected/"); "" when off."""
    prefix = settings.accel_redirect.strip().strip("/")
    return f"/{prefix}/" if prefix else ""


def accel_response(settings: Settings, path: Path, media_type: str, headers: dict) -> Response | None:
    """The X-Accel-Redirect answer for `path`, or None when the app must send the file itself (the setting is
    off, or the file is not under the editions directory nginx knows)."""
    prefix = location(settings)
    if not prefix:
        return None
    try:
        relative = path.resolve().relative_to(settings.editions_dir.resolve())
    except ValueError:
        return None
    target = prefix + quote(relative.as_posix(), safe="/")
    kept = {k: v for k, v in headers.items() if k.lower() in PASSED_ON}
    return Response(b"", media_type=media_type, headers={**kept, "X-Accel-Redirect": target})
