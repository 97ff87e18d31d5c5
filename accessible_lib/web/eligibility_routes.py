"""The routes of eligibility (issue 11, part 2), reader and staff side, in one list for `web.routes()`.

Kept apart from `account_routes` and `staff_routes` so the accounts, staff and eligibility pages can grow
without editing one another's lists; the staff pages still go through the staff guard (`staff_page`).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


async def _review_or_decide(request: Request) -> Response:
    from . import staff_eligibility

    if request.method == "POST":
        return await staff_eligibility.decide_page(request)
    return await staff_eligibility.review_page(request)


def eligibility_routes() -> list[Route]:
    from . import account_data, account_eligibility, organisation, staff_eligibility

    return [
        Route(
            "/account/eligibility",
            account_eligibility.eligibility_page,
            methods=["GET", "POST"],
            name="eligibility",
        ),
        Route(
            "/account/eligibility/evidence/{application_id:int}",
            account_eligibility.own_evidence,
            name="own_evidence",
        ),
        Route(
            "/account/organisation",
            organisation.organisation_page,
            methods=["GET", "POST"],
            name="organisation",
        ),
        Route(
            "/account/organisation/csv",
            organisation.organisation_csv,
            methods=["POST"],
            name="organisation_csv",
        ),
        Route("/account/export", account_data.export_page, name="account_export"),
        Route("/account/delete", account_data.delete_page, methods=["GET", "POST"], name="account_delete"),
        Route("/staff/eligibility", staff_eligibility.queue_page, name="staff_eligibility"),
        Route("/staff/eligibility/log", staff_eligibility.view_log_page, name="staff_evidence_log"),
        Route(
            "/staff/eligibility/{application_id:int}",
            _review_or_decide,
            methods=["GET", "POST"],
            name="staff_application",
        ),
        Route(
            "/staff/eligibility/{application_id:int}/evidence",
            staff_eligibility.download_page,
            name="staff_evidence",
        ),
        Route(
            "/staff/organisations",
            staff_eligibility.organisations_page,
            methods=["GET", "POST"],
            name="staff_organisations",
        ),
    ]
