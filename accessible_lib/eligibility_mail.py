"""The mail that tells a reader their application was decided, in the reader's own language.

Why it says so little: mail crosses servers the library does not control, and without an SMTP server it is
written to the log. So it names no disability and no reason for a denial (a reviewer's reason may speak of
the reader's condition); it says approved or not, until when, and links to the account page, which only
the signed-in reader sees, for the rest. Sent from the staff review page and from `readers approve|deny`.
"""

from __future__ import annotations

from gettext import NullTranslations

from . import eligibility, i18n, mail, readers
from .i18n import gettext
from .settings import Settings


def decision(
    account: readers.ReaderAccount, application: eligibility.Application, *, base_url: str
) -> mail.Mail:
    """The mail, in the catalogue active when called (see `send_decision`)."""
    site = gettext("Accessible Library")
    lines = [gettext("Hello %(name)s,", name=account.name)]
    if application.status == eligibility.APPROVED:
        subject = gettext("Your application at %(site)s is approved", site=site)
        if application.decided_until:
            lines.append(
                gettext(
                    "Your application to read books for print-disabled readers is approved until %(date)s. "
                    "You may read them now when you are signed in.",
                    date=application.decided_until[:10],
                )
            )
        else:
            lines.append(
                gettext(
                    "Your application to read books for print-disabled readers is approved. You may read "
                    "them now when you are signed in."
                )
            )
    else:
        subject = gettext("Your application at %(site)s was not approved", site=site)
        lines.append(
            gettext(
                "Your application to read books for print-disabled readers was not approved. The reason, and "
                "how to apply again, are on your account page:"
            )
        )
    lines.append(base_url.rstrip("/") + "/account")
    return mail.Mail(account.email, subject, "\n\n".join(lines))


def send_decision(
    settings: Settings,
    account: readers.ReaderAccount,
    application: eligibility.Application,
    *,
    base_url: str,
    catalogues: dict[str, NullTranslations] | None = None,
) -> bool:
    """Send the mail in the reader's language; False when it could not be sent (the decision stands)."""
    catalogues = catalogues if catalogues is not None else i18n.load_catalogues()
    token = i18n.activate(catalogues.get(account.locale) or i18n.current())
    try:
        message = decision(account, application, base_url=base_url)
        site = gettext("Accessible Library")
    finally:
        i18n._current.reset(token)
    try:
        mail.send(settings, message, base_url=base_url, from_name=site)
    except mail.MailError:
        return False
    return True
