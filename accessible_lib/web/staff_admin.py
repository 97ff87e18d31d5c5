"""The administrators' pages: staff accounts (/staff/accounts) and the effective settings (/staff/settings).

Why a second guard on top of the staff one: every staff member may upload and edit, but only an
administrator may make, remove or promote accounts or see how the library is configured. A staff member who
is not one gets a clear 403 page, not the sign-in form (they are signed in; signing in again would not help).
Settings are shown read-only, masked as `accessible-lib settings` masks them: they are changed through the
environment and a restart, so that one place (the service's configuration) says what the library runs with.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from .. import auth, staff_accounts
from ..errors import UserError
from ..i18n import gettext
from ..settings import PREFIX, SETTINGS, display_value
from .helpers import db_for
from .render import render
from .staff_session import StaffContext, staff_page

DONE = {"added", "removed", "granted", "revoked"}
MISSING = staff_accounts.MISSING


def _require_admin(staff: StaffContext) -> None:
    if not staff.user.is_admin:
        raise UserError(
            gettext(
                "Only administrators can manage staff accounts and see the settings. "
                "Ask an administrator if you need this."
            ),
            title=gettext("This page is for administrators"),
            status=403,
            links=[{"href": "/staff", "text": gettext("Go to the staff dashboard")}],
        )


def _accounts_page(
    request: Request,
    staff: StaffContext,
    *,
    errors: list[dict] | None = None,
    username: str = "",
    admin: bool = False,
    status: int = 200,
) -> Response:
    done = request.query_params.get("done", "")
    context = staff.page(
        accounts=staff_accounts.list_accounts(db_for(request)),
        errors=errors or [],
        username=username,
        admin=admin,
        done=done if done in DONE else "",
        min_password=auth.MIN_PASSWORD_CHARS,
        me=staff.user.id,
    )
    return render(request, "staff_accounts.html", context, status=status)


def accounts(request: Request, staff: StaffContext) -> Response:
    """The list, and the form that adds an account."""
    _require_admin(staff)
    if request.method == "GET":
        return _accounts_page(request, staff)
    assert staff.form is not None
    username = str(staff.form.get("username") or "").strip()
    password = str(staff.form.get("password") or "")
    admin = staff.form.get("admin") == "1"
    errors = []
    try:
        auth.check_username(username)
    except auth.StaffError as error:
        errors.append({"field_id": "username", "message": error.translated()})
    try:
        auth.check_password(password)
    except auth.StaffError as error:
        errors.append({"field_id": "password", "message": error.translated()})
    if not errors:
        try:
            staff_accounts.create(db_for(request), username, password, admin=admin)
        except auth.StaffError as error:  # the name is taken
            errors.append({"field_id": "username", "message": error.translated()})
    if errors:
        return _accounts_page(request, staff, errors=errors, username=username, admin=admin, status=400)
    return RedirectResponse("/staff/accounts?done=added", status_code=303)


def _refused(error: auth.StaffError) -> UserError:
    return UserError(
        error.translated(),
        title=gettext("Nothing was changed"),
        status=409,
        links=[{"href": "/staff/accounts", "text": gettext("Go back to the staff accounts")}],
    )


def remove(request: Request, staff: StaffContext) -> Response:
    """GET asks first (a removal cannot be undone, and a button in a long table is easy to press by
    mistake); POST removes."""
    _require_admin(staff)
    if request.method == "GET":
        account = staff_accounts.get(db_for(request), request.path_params["account_id"])
        if account is None:
            raise _refused(auth.StaffError(MISSING))
        if account.id == staff.user.id:
            raise _refused(auth.StaffError(staff_accounts.OWN_ACCOUNT))
        return render(request, "staff_account_remove.html", staff.page(account=account))
    try:
        staff_accounts.remove(db_for(request), request.path_params["account_id"], acting_id=staff.user.id)
    except auth.StaffError as error:
        raise _refused(error) from None
    return RedirectResponse("/staff/accounts?done=removed", status_code=303)


def set_admin(request: Request, staff: StaffContext) -> Response:
    _require_admin(staff)
    assert staff.form is not None
    account_id = request.path_params["account_id"]
    grant = staff.form.get("admin") == "grant"
    if not grant and staff.form.get("admin") != "revoke":
        raise UserError(gettext("Choose whether to grant or revoke administrator."), status=400)
    db = db_for(request)
    if staff_accounts.get(db, account_id) is None:
        raise _refused(auth.StaffError(MISSING))
    try:
        staff_accounts.set_admin(db, account_id, grant, keep_token=staff.session.token)
    except auth.StaffError as error:
        raise _refused(error) from None
    if not grant and account_id == staff.user.id:
        return RedirectResponse("/staff", status_code=303)  # no longer an administrator: not their page
    return RedirectResponse(f"/staff/accounts?done={'granted' if grant else 'revoked'}", status_code=303)


def settings(request: Request, staff: StaffContext) -> Response:
    _require_admin(staff)
    current = request.state.settings
    rows = [
        {
            "name": PREFIX + setting.name.upper(),
            "value": display_value(setting, getattr(current, setting.name)),
            "help": setting.help,
        }
        for setting in SETTINGS
    ]
    return render(request, "staff_settings.html", staff.page(settings_rows=rows))


accounts_page = staff_page(accounts)
remove_page = staff_page(remove)
set_admin_page = staff_page(set_admin)
settings_page = staff_page(settings)
