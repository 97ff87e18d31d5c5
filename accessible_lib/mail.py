"""Sending mail: a real SMTP client (smtplib) configured by one URL, or the log when none is configured.

Why a URL: one setting says everything (smtp:// with STARTTLS when the server offers it, smtps:// for TLS
from the first byte, user and password percent-encoded), like the Redis URL. Without it a library still
works on a laptop: the mail, its link included, is written to the log with a line that says no SMTP server
is configured, so whoever runs the library can follow the link by hand. Never on stdout and never the
password of the URL.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import formataddr, make_msgid
from urllib.parse import unquote, urlsplit

from .settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 30


class MailError(Exception):
    """The mail server could not be reached or refused the message (details in the log, not the page)."""


@dataclass(frozen=True)
class Mail:
    to: str
    subject: str
    body: str  # plain text: read well by every mail program and screen reader


@dataclass(frozen=True)
class SmtpServer:
    host: str
    port: int
    tls: bool  # smtps://: TLS from the start
    username: str
    password: str

    @classmethod
    def from_url(cls, url: str) -> SmtpServer:
        parts = urlsplit(url)
        if parts.scheme not in {"smtp", "smtps"} or not parts.hostname:
            raise ValueError("ACCESSIBLE_LIB_SMTP_URL must look like smtp://user:password@host:587")
        tls = parts.scheme == "smtps"
        return cls(
            host=parts.hostname,
            port=parts.port or (465 if tls else 25),
            tls=tls,
            username=unquote(parts.username or ""),
            password=unquote(parts.password or ""),
        )


def sender(settings: Settings, base_url: str) -> str:
    if settings.mail_from:
        return settings.mail_from
    host = urlsplit(settings.public_url or base_url).hostname or "localhost"
    return f"library@{host}"


def build_message(mail: Mail, from_address: str, from_name: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = formataddr((from_name, from_address))
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Message-ID"] = make_msgid(domain=from_address.rpartition("@")[2] or None)
    message.set_content(mail.body)  # utf-8 when needed: Chinese mails arrive as written
    return message


def send(settings: Settings, mail: Mail, *, base_url: str, from_name: str) -> None:
    """Send `mail`, or write it to the log when no SMTP server is configured. Raises MailError."""
    from_address = sender(settings, base_url)
    if not settings.smtp_url:
        log.warning(
            "No SMTP server is configured (ACCESSIBLE_LIB_SMTP_URL is empty), so this mail was not sent; "
            "it is written here instead.\nTo: %s\nSubject: %s\n\n%s",
            mail.to,
            mail.subject,
            mail.body,
        )
        return
    message = build_message(mail, from_address, from_name)
    try:
        server = SmtpServer.from_url(settings.smtp_url)
        _deliver(server, message)
    except (OSError, smtplib.SMTPException, ValueError) as error:
        # The URL holds a password: log the host and the error only.
        host = urlsplit(settings.smtp_url).hostname
        log.error("Could not send a mail through the SMTP server at %s: %s", host, error)
        raise MailError(str(error)) from None


def _deliver(server: SmtpServer, message: EmailMessage) -> None:
    context = ssl.create_default_context()
    if server.tls:
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            server.host, server.port, timeout=TIMEOUT_SECONDS, context=context
        )
    else:
        client = smtplib.SMTP(server.host, server.port, timeout=TIMEOUT_SECONDS)
    with client:
        client.ehlo()
        if not server.tls and client.has_extn("starttls"):
            client.starttls(context=context)
            client.ehlo()
        if server.username:
            client.login(server.username, server.password)
        client.send_message(message)
