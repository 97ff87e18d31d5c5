"""Looking up a download id: who a personal copy was made for, when, of which file, and its checksum.

A copy of a restricted book found where it should not be carries its download id on the title page and in
its metadata; staff type it here (or run `accessible-lib downloads lookup ID`). A GET form: looking up
changes nothing, and the address can be kept in a case file.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from ..editions import download_log, formats
from ..i18n import gettext
from .helpers import db_for
from .render import render
from .staff_session import StaffContext, staff_page


def lookup(request: Request, staff: StaffContext) -> Response:
    raw = (request.query_params.get("id") or "").strip()[:100]
    errors, found, status = [], None, 200
    if raw:
        if download_log.normalise_id(raw) is None:
            errors.append(
                {"field_id": "id", "message": gettext("A download id is 12 digits, such as 4821-9930-1174.")}
            )
            status = 400
        else:
            found = download_log.lookup(db_for(request), raw)
            if found is None:
                errors.append({"field_id": "id", "message": gettext("No download has this id.")})
                status = 404
    if found and found.get("format") in formats.FORMATS:
        found["format_label"] = gettext(formats.FORMATS[found["format"]].label)
    context = staff.page(query=raw, errors=errors, download=found)
    return render(request, "staff_downloads.html", context, status=status)


lookup_page = staff_page(lookup)
