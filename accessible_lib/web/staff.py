"""The staff area: its routes, and the dashboard that links to everything staff can do.

Every /staff page goes through the guard in `staff_session`; the page modules are one per area
(`staff_login`, `staff_upload`, `staff_books`, `staff_jobs`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from .. import catalogue
from ..editions import store
from .helpers import db_for
from .render import render
from .staff_session import StaffContext, staff_page


def dashboard(request: Request, staff: StaffContext) -> Response:
    db = db_for(request)
    counts = dict(db.execute("SELECT status, count(*) FROM editions GROUP BY status").fetchall())
    context = staff.page(
        recent=catalogue.recent_books(db, limit=20, staff=True),  # withdrawn books too: staff edit them
        book_count=catalogue.book_count(db, staff=True),
        job_counts={status: counts.get(status, 0) for status in store.STATUSES},
    )
    return render(request, "staff_dashboard.html", context)


dashboard_page = staff_page(dashboard)


def _pronunciation_routes(pages) -> list[Route]:
    base = "/staff/pronunciations"
    return [
        Route(base, pages.staff_list_page, name="staff_pronunciations"),
        Route(f"{base}/new", pages.staff_new_page, methods=["GET", "POST"], name="staff_pronunciation_new"),
        Route(f"{base}/export.csv", pages.staff_export_page, name="staff_pronunciations_export"),
        Route(
            f"{base}/import", pages.staff_import_page, methods=["POST"], name="staff_pronunciations_import"
        ),
        Route(
            f"{base}/listen",
            pages.staff_listen_page,
            methods=["GET", "POST"],
            name="staff_pronunciation_listen",
        ),
        Route(
            f"{base}/{{entry_id:int}}",
            pages.staff_edit_page,
            methods=["GET", "POST"],
            name="staff_pronunciation",
        ),
        Route(
            f"{base}/{{entry_id:int}}/remove",
            pages.staff_remove_page,
            methods=["POST"],
            name="staff_pronunciation_remove",
        ),  # fmt: skip
        Route(
            f"{base}/{{entry_id:int}}/listen", pages.staff_listen_entry_page, name="staff_pronunciation_play"
        ),
    ]


def staff_routes() -> list[Route]:
    from . import (
        braille,
        staff_admin,
        staff_attach,
        staff_books,
        staff_downloads,
        staff_jobs,
        staff_login,
        staff_pronunciations,
        staff_rights,
        staff_sources,
        staff_stats,
        staff_upload,
    )

    return [
        Route("/staff", dashboard_page, name="staff"),
        Route("/staff/login", staff_login.login_page, methods=["GET", "POST"], name="staff_login"),
        Route("/staff/logout", staff_login.logout, methods=["POST"], name="staff_logout"),
        Route("/staff/upload", staff_upload.upload_page, methods=["GET", "POST"], name="staff_upload"),
        Route(
            "/staff/books/{book_id:int}/edit",
            staff_books.edit_book_page,
            methods=["GET", "POST"],
            name="staff_edit_book",
        ),
        Route(
            "/staff/books/{book_id:int}/editions",
            staff_books.request_edition_page,
            methods=["POST"],
            name="staff_request_edition",
        ),
        Route("/staff/rights", staff_rights.staff_rights_page, methods=["GET", "POST"], name="staff_rights"),
        *_pronunciation_routes(staff_pronunciations),
        Route(
            "/staff/books/{book_id:int}/file",
            staff_attach.attach_file_page,
            methods=["POST"],
            name="staff_attach_file",
        ),
        Route("/staff/jobs", staff_jobs.job_list_page, name="staff_jobs"),
        Route("/staff/downloads", staff_downloads.lookup_page, name="staff_downloads"),
        Route("/staff/sources", staff_sources.sources_page, methods=["GET", "POST"], name="staff_sources"),
        Route(
            "/staff/sources/{source_id:int}/harvest",
            staff_sources.harvest_now_page,
            methods=["POST"],
            name="staff_harvest_now",
        ),
        Route("/staff/sources/{source_id:int}.json", staff_sources.job_json_page, name="staff_source_json"),
        Route("/staff/stats", staff_stats.stats_page, name="staff_stats"),
        Route("/staff/stats.csv", staff_stats.stats_csv_page, name="staff_stats_csv"),
        Route("/staff/braille", braille.translate_page, methods=["GET", "POST"], name="staff_braille"),
        Route("/staff/jobs/{edition_id:int}.json", staff_jobs.job_json_page, name="staff_job_json"),
        Route("/staff/jobs/{edition_id:int}", staff_jobs.job_status_page, name="staff_job"),
        # For administrators only (staff_admin checks): staff accounts and the effective settings.
        Route("/staff/accounts", staff_admin.accounts_page, methods=["GET", "POST"], name="staff_accounts"),
        Route(
            "/staff/accounts/{account_id:int}/remove",
            staff_admin.remove_page,
            methods=["GET", "POST"],
            name="staff_account_remove",
        ),
        Route(
            "/staff/accounts/{account_id:int}/admin",
            staff_admin.set_admin_page,
            methods=["POST"],
            name="staff_account_admin",
        ),
        Route("/staff/settings", staff_admin.settings_page, name="staff_settings"),
    ]
