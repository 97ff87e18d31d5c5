"""Holding back abuse of the reader pages without a CAPTCHA (which shuts blind readers out).

Sign-in failures are counted three ways, each with `auth.LoginThrottle`: per (client address, account), per
account from any address (a guesser spreading over many addresses) and per address over any account (one
machine trying many accounts). Mails (sign-up, reset, change of email) are counted per recipient, so no
one can fill a stranger's mailbox, and per client address. Every limit only makes someone wait.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request

from ..auth import LoginThrottle

QUARTER_HOUR = 15 * 60
HOUR = 3600


def _only(kind: str, value: str) -> tuple[str, str]:
    """A key that counts one thing alone (an account, an address, a recipient): the value goes where the
    throttle expects the client address, the username part stays empty, so a throttle that also counts per
    address (as auth.LoginThrottle may) counts the same thing and no two keys share a count."""
    return f"{kind} {value}", ""


@dataclass
class ReaderLimits:
    sign_in: LoginThrottle = field(default_factory=lambda: LoginThrottle(5, QUARTER_HOUR))
    sign_in_account: LoginThrottle = field(default_factory=lambda: LoginThrottle(20, QUARTER_HOUR))
    sign_in_address: LoginThrottle = field(default_factory=lambda: LoginThrottle(20, QUARTER_HOUR))
    mail_recipient: LoginThrottle = field(default_factory=lambda: LoginThrottle(3, HOUR))
    mail_address: LoginThrottle = field(default_factory=lambda: LoginThrottle(20, HOUR))

    def sign_in_wait(self, address: str, email: str) -> float:
        return max(
            self.sign_in.wait_seconds(address, email),
            self.sign_in_account.wait_seconds(*_only("account", email)),
            self.address_wait(address),
        )

    def address_wait(self, address: str) -> float:
        """For sign-ins that name no account (a passkey): only the address counts."""
        return self.sign_in_address.wait_seconds(*_only("address", address))

    def sign_in_failed(self, address: str, email: str) -> None:
        self.sign_in.failed(address, email)
        self.sign_in_account.failed(*_only("account", email))
        self.address_failed(address)

    def address_failed(self, address: str) -> None:
        self.sign_in_address.failed(*_only("address", address))

    def sign_in_succeeded(self, address: str, email: str) -> None:
        # Only the pair is forgotten: a success from one address must not wipe what others tried.
        self.sign_in.succeeded(address, email)

    def mail_wait(self, address: str, recipient: str) -> float:
        return max(
            self.mail_recipient.wait_seconds(*_only("to", recipient)),
            self.mail_address.wait_seconds(*_only("from", address)),
        )

    def mail_sent(self, address: str, recipient: str) -> None:
        self.mail_recipient.failed(*_only("to", recipient))
        self.mail_address.failed(*_only("from", address))


def limits_for(request: Request) -> ReaderLimits:
    state = request.app.state
    limits = getattr(state, "reader_limits", None)
    if limits is None:
        limits = state.reader_limits = ReaderLimits()
    return limits
