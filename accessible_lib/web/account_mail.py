"""The mails reader accounts send, in the interface language of the request that causes them.

Why every case has a mail: the pages never say whether an address has an account (so they cannot be used to
find out who reads here); the mail, which only the owner of the address reads, says what to do instead.
Links are absolute (the `public_url` setting, else the request's own address) and plain text, so every
mail program and screen reader shows them the same way.
"""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from .. import mail
from ..errors import UserError
from ..i18n import gettext


def base_url(request: Request) -> str:
    configured = request.state.settings.public_url
    return (configured or str(request.base_url)).rstrip("/")


def link(request: Request, path: str) -> str:
    return base_url(request) + path


def _site() -> str:
    return gettext("Accessible Library")


def _mail(to: str, subject: str, *paragraphs: str) -> mail.Mail:
    """Every account mail ends alike: whoever did not ask for it may ignore it, and nothing changes."""
    ignore = gettext("If you did not ask for this, you can ignore this mail: nothing will change.")
    return mail.Mail(to, subject, "\n\n".join([*paragraphs, ignore]))


def verify_address(request: Request, to: str, name: str, token: str) -> mail.Mail:
    return _mail(
        to,
        gettext("Confirm your email address for %(site)s", site=_site()),
        gettext("Hello %(name)s,", name=name),
        gettext("To finish creating your account at %(site)s, open this link:", site=_site()),
        link(request, f"/account/verify/{token}"),
        gettext("The link works for 3 days. Then you can sign in with your email and password."),
    )


def already_registered(request: Request, to: str, name: str) -> mail.Mail:
    return _mail(
        to,
        gettext("You already have an account at %(site)s", site=_site()),
        gettext("Hello %(name)s,", name=name),
        gettext(
            "Someone asked to create an account at %(site)s with this email address, "
            "but you already have one.",
            site=_site(),
        ),
        gettext("To sign in, go to:"),
        link(request, "/account/sign-in"),
        gettext("If you have forgotten your password, you can choose a new one here:"),
        link(request, "/account/reset"),
    )


def reset_password(request: Request, to: str, name: str, token: str) -> mail.Mail:
    return _mail(
        to,
        gettext("Choose a new password for %(site)s", site=_site()),
        gettext("Hello %(name)s,", name=name),
        gettext("To choose a new password for your account at %(site)s, open this link:", site=_site()),
        link(request, f"/account/reset/{token}"),
        gettext("The link works once, for 1 hour."),
    )


def no_account(request: Request, to: str) -> mail.Mail:
    return _mail(
        to,
        gettext("No account at %(site)s", site=_site()),
        gettext("Hello,"),
        gettext(
            "Someone asked to reset the password of an account at %(site)s with this email address, "
            "but there is no account with this address.",
            site=_site(),
        ),
        gettext("If it was you, you may have signed up with another address. To create an account, go to:"),
        link(request, "/account/sign-up"),
    )


def confirm_new_address(request: Request, to: str, name: str, token: str) -> mail.Mail:
    return _mail(
        to,
        gettext("Confirm your new email address for %(site)s", site=_site()),
        gettext("Hello %(name)s,", name=name),
        gettext(
            "To use this address for your account at %(site)s from now on, open this link:", site=_site()
        ),
        link(request, f"/account/email/confirm/{token}"),
        gettext("The link works once, for 1 day. Until then your account keeps its old address."),
    )


def address_taken(request: Request, to: str) -> mail.Mail:
    return _mail(
        to,
        gettext("Your email address at %(site)s", site=_site()),
        gettext("Hello,"),
        gettext(
            "Someone asked to move an account at %(site)s to this email address, but another account "
            "already uses it, so nothing was changed.",
            site=_site(),
        ),
        gettext("To sign in with this address, go to:"),
        link(request, "/account/sign-in"),
    )


async def deliver(request: Request, message: mail.Mail) -> None:
    """Send, or raise a UserError saying the mail could not be sent (nothing about the account)."""
    settings = request.state.settings
    try:
        await run_in_threadpool(mail.send, settings, message, base_url=base_url(request), from_name=_site())
    except mail.MailError:
        raise UserError(
            gettext("The library could not send the mail just now. Try again in a few minutes."),
            title=gettext("The mail could not be sent"),
            status=503,
        ) from None
