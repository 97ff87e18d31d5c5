"""The statistics page for staff: what readers search for (and fail to find), read, hear and download, and
how fast editions are made, per day, with member libraries side by side when this library has any.

A GET form, like the download look-up: choosing a range changes nothing and the address can be kept. Every
chart (web/charts.py) is followed by a table of the same figures, and the CSV gives all of them. Only
daily counts exist to show (stats.py), so no page here can show what one reader did.
"""

from __future__ import annotations

import io
import re
from datetime import date, timedelta

from starlette.requests import Request
from starlette.responses import Response

from .. import rollup, stats, stats_report
from ..editions import formats
from ..i18n import gettext
from .charts import bar_chart
from .helpers import db_for
from .render import render
from .staff_session import StaffContext, staff_page

DEFAULT_DAYS = 30
MAX_DAYS = 366
TOP_QUERIES = 20
CHARTED = (
    stats.SEARCHES,
    stats.SEARCH_EMPTY,
    stats.READS,
    stats.LISTEN_EDITION,
    stats.DOWNLOADS,
    stats.ACTIVE_READERS,
    stats.NEW_READERS,
    stats.EDITIONS_MADE,
    stats.AUDIO_SECONDS,
    stats.BRAILLE_PAGES,
    stats.EDITION_FAILURES,
    stats.QUEUE_DEPTH,
    stats.QUEUE_WAIT_SECONDS,
)
_ISO_DAY = re.compile(r"\A\d{4}-\d{2}-\d{2}\Z")
_CJK = re.compile(r"[\u3000-\u9fff\uf900-\ufaff]")


def parse_range(raw_from: str, raw_to: str, *, today: date | None = None) -> tuple[date, date, list[dict]]:
    """The range asked for (the last 30 days when none is), and the errors of a range that is not one."""
    today = today or stats.today()
    errors = []
    end = _parse_day(raw_to, "to", errors) if raw_to else today
    start = _parse_day(raw_from, "from", errors) if raw_from else None
    if errors:
        return today, today, errors
    start = start or end - timedelta(days=DEFAULT_DAYS - 1)
    if start > end:
        errors.append(
            {"field_id": "from", "message": gettext("The first day must not be after the last day.")}
        )
    elif (end - start).days + 1 > MAX_DAYS:
        errors.append(
            {"field_id": "from", "message": gettext("Choose at most %(days)d days at a time.", days=MAX_DAYS)}
        )
    return start, end, errors


def _parse_day(raw: str, field: str, errors: list[dict]) -> date | None:
    try:
        if _ISO_DAY.match(raw):
            return date.fromisoformat(raw)
    except ValueError:
        pass
    message = (
        gettext("Enter the first day as a date, such as 2026-01-31.")
        if field == "from"
        else gettext("Enter the last day as a date, such as 2026-01-31.")
    )
    errors.append({"field_id": field, "message": message})
    return None


def query_lang(text: str) -> str | None:
    """The language to mark a reader's query with, when its script says it: Chinese or plain ASCII."""
    if _CJK.search(text):
        return "zh-Hans"
    return "en" if text.isascii() else None


def _label(metric: str) -> str:
    return gettext(stats.LABELS[metric])


def _format_label(name: str) -> str:
    known = formats.FORMATS.get(name)
    return gettext(known.label) if known else name


def _decision_label(status: str) -> str:
    return {"approved": gettext("Approved"), "denied": gettext("Refused")}.get(status, status)


def report_for(request: Request, start: date, end: date) -> stats_report.Report:
    """The figures, with this process's pending counts added first: staff who just searched see it."""
    settings = request.state.settings
    db = db_for(request)
    request.state.pending_counts.flush(db)
    return stats_report.build_report(
        db,
        start,
        end,
        library=rollup.library_name(settings),
        editions_dir=settings.editions_dir,
    )


def _context(report: stats_report.Report) -> dict:
    days = report.days
    total = report.total
    columns = [
        {"name": name, "figures": figures}
        for name, figures in report.columns(gettext("This library"), gettext("Total"))
    ]
    summary = [
        {
            "label": _label(metric),
            "values": [
                stats_report.number(stats_report.shown_total(c["figures"], metric, days)) for c in columns
            ],
        }
        for metric in stats.SUMMARY
    ]
    charts = [
        bar_chart(
            f"chart-{metric.replace('_', '-')}",
            _label(metric),
            _label(metric),
            days,
            stats_report.daily_series(total, metric, days),
        )
        for metric in CHARTED
    ]

    def keyed(metric: str, label, limit: int | None = None) -> list[dict]:
        return [
            {"key": label(key), "lang": None, "value": stats_report.number(v)}
            for key, v in stats_report.by_key(total, metric, limit)
        ]

    queries = [
        {"key": key, "lang": query_lang(key), "value": stats_report.number(value)}
        for key, value in stats_report.by_key(total, stats.SEARCH_QUERY, TOP_QUERIES)
    ]
    empty = [
        {"key": key, "lang": query_lang(key), "value": stats_report.number(value)}
        for key, value in stats_report.by_key(total, stats.SEARCH_EMPTY, TOP_QUERIES)
    ]
    return {
        "columns": columns,
        "summary": summary,
        "charts": charts,
        "queries": queries,
        "empty_queries": empty,
        "downloads": keyed(stats.DOWNLOADS, _format_label),
        "editions": keyed(stats.EDITIONS_MADE, _format_label),
        "failures": keyed(stats.EDITION_FAILURES, _format_label),
        "decisions": keyed(stats.ELIGIBILITY_DECISIONS, _decision_label),
        "has_members": bool(report.members),
    }


def stats_view(request: Request, staff: StaffContext) -> Response:
    raw_from = (request.query_params.get("from") or "").strip()[:20]
    raw_to = (request.query_params.get("to") or "").strip()[:20]
    start, end, errors = parse_range(raw_from, raw_to)
    values = {"from": raw_from or start.isoformat(), "to": raw_to or end.isoformat()}
    context = staff.page(errors=errors, values=values, library=rollup.library_name(request.state.settings))
    if errors:
        return render(request, "staff_stats.html", context, status=400)
    context.update(_context(report_for(request, start, end)))
    context["rollup"] = rollup.status(db_for(request), request.state.settings)
    context.update(
        start=start.isoformat(), end=end.isoformat(), csv_href=f"/staff/stats.csv?from={start}&to={end}"
    )
    return render(request, "staff_stats.html", context)


def stats_csv(request: Request, staff: StaffContext) -> Response:
    start, end, errors = parse_range(
        (request.query_params.get("from") or "").strip()[:20],
        (request.query_params.get("to") or "").strip()[:20],
    )
    if errors:
        return Response(
            "\n".join(e["message"] for e in errors) + "\n",
            status_code=400,
            media_type="text/plain; charset=utf-8",
        )
    out = io.StringIO()
    stats_report.write_csv(report_for(request, start, end), out, gettext("This library"))
    return Response(
        out.getvalue().encode("utf-8-sig"),  # the byte order mark tells Excel the file is UTF-8 (Chinese)
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="statistics-{start}-{end}.csv"',
            "Cache-Control": "no-store",
        },
    )


stats_page = staff_page(stats_view)
stats_csv_page = staff_page(stats_csv)
