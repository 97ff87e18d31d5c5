"""Sending this library's daily statistics to its parent library, and taking its members'.

A city library reports to its province, the province to the nation: each level sends its parent the daily
figures of stats.py, its own and its members' added together, so the nation sees each province including
its cities. What is sent is what the staff page shows, daily counts only, never anything about a reader.

Sending is idempotent and so can be retried without fear: the parent replaces a member's whole day each
time the day is sent. The sender remembers the last day the parent accepted (`rollup_state`) and each run
sends every day after it through yesterday (today too when asked, though a partial today never counts as
accepted: it is sent again, whole, tomorrow). A failed run waits before the next, doubling from a minute to
six hours, so a parent that is down for a week is not hammered and gets everything once it is back.

Each request is signed (jobs/signing.py: HMAC over timestamp, nonce, method, path and body) with the key
the two libraries share; the parent knows each member by its key (the member_keys setting), so a member
cannot send figures under another's name, and a signed request is taken once (its nonce is remembered, as
for workers' reports).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from urllib.parse import urlsplit

from sqlite_utils import Database

from . import stats, stats_report
from .i18n import gettext
from .jobs import signing
from .settings import Settings

log = logging.getLogger(__name__)

PATH = "/internal/rollup"
MAX_DAYS = 400  # days in one request: a parent that was away a year gets it in a few
FIRST_BACKOFF = 60.0
MAX_BACKOFF = 6 * 3600.0
MAX_NAME_CHARS = 200
MAX_ROWS = 200_000
MAX_KEYS_PER_DAY = 2000  # of one metric (queries): the rarest beyond this are left out of what is sent
BODY_BYTES = 1_000_000  # a request body; more days go in more requests


class BadRollup(ValueError):
    pass


def library_name(settings: Settings) -> str:
    if settings.library_name.strip():
        return settings.library_name.strip()
    host = urlsplit(settings.public_url).hostname if settings.public_url else None
    return host or ""


def member_keys(settings: Settings) -> dict[str, str]:
    """The member_keys setting as {name: key}; a pair without both is ignored."""
    members = {}
    for pair in settings.member_keys.split(","):
        name, _, key = pair.partition("=")
        if name.strip() and key.strip():
            members[name.strip()] = key.strip()
    return members


# --- The sending side ---


def _state(db: Database) -> dict:
    row = db.execute(
        "SELECT accepted_through, failures, next_attempt_at, last_error, last_sent_at FROM rollup_state "
        "WHERE id = 1"
    ).fetchone()
    keys = ("accepted_through", "failures", "next_attempt_at", "last_error", "last_sent_at")
    return dict(zip(keys, row, strict=True)) if row else dict.fromkeys(keys)


def _save_state(db: Database, **values: object) -> None:
    current = {**_state(db), **values}
    with db.conn:
        db.execute(
            "INSERT OR REPLACE INTO rollup_state (id, accepted_through, failures, next_attempt_at, "
            "last_error, last_sent_at) VALUES (1, ?, ?, ?, ?, ?)",
            [
                current["accepted_through"],
                current["failures"] or 0,
                current["next_attempt_at"],
                current["last_error"],
                current["last_sent_at"],
            ],
        )


def status(db: Database, settings: Settings) -> dict | None:
    """What staff need to know of the sending, or None without a parent: the last day the parent accepted
    and, after a failure, why and when the next try is (UTC)."""
    if not settings.parent_url:
        return None
    state = _state(db)
    next_at = state["next_attempt_at"]
    return {
        "parent": settings.parent_url,
        "accepted_through": state["accepted_through"],
        "error": state["last_error"] if state["failures"] else None,
        "next_attempt": datetime.fromtimestamp(next_at, UTC).strftime("%Y-%m-%d %H:%M") if next_at else None,
    }


def _first_day(db: Database) -> date | None:
    """The earliest day anything happened: where a library that never sent starts."""
    candidates = [
        row[0]
        for row in db.execute(
            "SELECT min(day) FROM stats_daily UNION ALL SELECT min(day) FROM stats_members "
            "UNION ALL SELECT min(substr(queued_at, 1, 10)) FROM editions "
            "UNION ALL SELECT min(substr(submitted_at, 1, 10)) FROM eligibility_applications"
        )
        if row[0]
    ]
    try:
        return date.fromisoformat(min(candidates)) if candidates else None
    except ValueError:
        return None


def payload(db: Database, settings: Settings, start: date, end: date) -> dict:
    """This library's figures and its members', added together, for each day from `start` to `end`."""
    own = stats_report.own_figures(db, start, end, settings.editions_dir)
    total = stats_report.add(own, *stats_report.members_figures(db, start, end).values())
    days: dict[str, list] = {day: [] for day in stats_report.days_between(start, end)}
    keys: dict[tuple[str, str], int] = {}
    # Largest first within each day and metric, so that a day with more queries than are sent loses the
    # rarest ones (a search made once), never the figures without a key.
    for (day, metric, key), value in sorted(
        total.items(), key=lambda item: (item[0][0], item[0][1], -item[1])
    ):
        if day not in days or not value:
            continue
        keys[(day, metric)] = keys.get((day, metric), 0) + 1
        if keys[(day, metric)] <= MAX_KEYS_PER_DAY:
            days[day].append([metric, key, value])
    return {"library": library_name(settings), "days": days}


def batches(data: dict, limit: int) -> list[tuple[str, bytes]]:
    """The payload cut into request bodies of whole days, each under `limit` bytes where a day allows:
    (the last day in it, the body). A parent takes a body of at most 2 MB."""
    out, current, size = [], {}, 0
    for day, figures in data["days"].items():
        day_size = len(json.dumps(figures, ensure_ascii=False).encode()) + 20
        if current and size + day_size > limit:
            out.append(_body(data, current))
            current, size = {}, 0
        current[day] = figures
        size += day_size
    if current:
        out.append(_body(data, current))
    return out


def _body(data: dict, days: dict) -> tuple[str, bytes]:
    body = json.dumps({"library": data["library"], "days": days}, ensure_ascii=False, sort_keys=True)
    return max(days), body.encode()


@dataclass(frozen=True)
class SendResult:
    sent: bool  # False: nothing due, or not yet time to retry
    accepted_through: str | None
    error: str | None = None
    days: int = 0


def send(
    db: Database,
    settings: Settings,
    *,
    include_today: bool = False,
    force: bool = False,
    now: float | None = None,
    timeout: float = 30.0,
    body_bytes: int = BODY_BYTES,
) -> SendResult:
    """Send the days after the last accepted one; `force` ignores the wait after a failure (on demand)."""
    if not settings.parent_url or not settings.parent_key:
        return SendResult(
            False,
            None,
            gettext("No parent library is set: set ACCESSIBLE_LIB_PARENT_URL and ACCESSIBLE_LIB_PARENT_KEY."),
        )
    now = time.time() if now is None else now
    state = _state(db)
    if not force and state["next_attempt_at"] and now < state["next_attempt_at"]:
        return SendResult(False, state["accepted_through"])
    today = datetime.fromtimestamp(now, UTC).date()
    end = today if include_today else today - timedelta(days=1)
    if state["accepted_through"]:
        start = date.fromisoformat(state["accepted_through"]) + timedelta(days=1)
    else:
        start = _first_day(db) or end
    start = max(start, end - timedelta(days=MAX_DAYS - 1))
    if start > end:
        return SendResult(False, state["accepted_through"])
    sent_at = datetime.fromtimestamp(now, UTC).isoformat(timespec="seconds")
    accepted, error, days = state["accepted_through"], None, 0
    for last_day, body in batches(payload(db, settings, start, end), body_bytes):
        error = _post(settings, body, timeout)
        if error is not None:
            break
        days += len(json.loads(body)["days"])
        # A partial today is sent, but never counted as accepted: tomorrow it goes again, whole.
        through = min(last_day, (today - timedelta(days=1)).isoformat())
        accepted = max(accepted or through, through)
        _save_state(db, accepted_through=accepted, last_sent_at=sent_at)
    if error is None:
        _save_state(db, failures=0, next_attempt_at=None, last_error=None, last_sent_at=sent_at)
        return SendResult(True, accepted, None, days)
    failures = (state["failures"] or 0) + 1
    wait = min(MAX_BACKOFF, FIRST_BACKOFF * 2 ** (failures - 1))
    _save_state(db, failures=failures, next_attempt_at=now + wait, last_error=error, last_sent_at=sent_at)
    log.warning("statistics not accepted by the parent library (attempt %s): %s", failures, error)
    return SendResult(False, accepted, error, days)


def _post(settings: Settings, body: bytes, timeout: float) -> str | None:
    """None when the parent accepted the body; otherwise why not, in a line for the log."""
    url = settings.parent_url.rstrip("/") + PATH
    headers = signing.sign(settings.parent_key, "POST", urlsplit(url).path, body)
    request = urllib.request.Request(
        url, data=body, method="POST", headers={**headers, "Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return gettext("the parent answered %(status)s", status=exc.code)
    except (OSError, ValueError) as exc:
        return gettext("the parent could not be reached: %(reason)s", reason=str(exc))
    return None if answer.get("ok") else gettext("the parent did not say it accepted the figures")


# --- The receiving side ---


def member_for(
    settings: Settings, headers, method: str, path: str, body: bytes
) -> tuple[str, signing.Signed] | None:
    """The member whose key signed this request, or None."""
    for name, key in member_keys(settings).items():
        signed = signing.verify(key, headers, method, path, body)
        if signed is not None:
            return name, signed
    return None


def _clean(data: object) -> dict[str, list[tuple[str, str, float]]]:
    if not isinstance(data, dict) or not isinstance(data.get("days"), dict):
        raise BadRollup("the body must be an object with days")
    clean, rows = {}, 0
    for day, figures in data["days"].items():
        try:
            date.fromisoformat(day)
        except (TypeError, ValueError):
            raise BadRollup(f"not a day: {str(day)[:20]}") from None
        if len(day) != 10 or not isinstance(figures, list):
            raise BadRollup(f"{day}: the figures must be a list")
        clean[day] = []
        for figure in figures:
            rows += 1
            if rows > MAX_ROWS:
                raise BadRollup("too many figures")
            if not (isinstance(figure, list) and len(figure) == 3):
                raise BadRollup(f"{day}: each figure is [metric, key, value]")
            metric, key, value = figure
            if not (isinstance(metric, str) and 0 < len(metric) <= 50 and isinstance(key, str)):
                raise BadRollup(f"{day}: a figure has no metric name")
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value < 1e15:
                raise BadRollup(f"{day}: {metric} is not a number")
            clean[day].append((metric, key[: stats.MAX_QUERY_CHARS], float(value)))
    if len(clean) > MAX_DAYS:
        raise BadRollup(f"more than {MAX_DAYS} days")
    return clean


def receive(db: Database, member: str, signed: signing.Signed, data: object) -> int:
    """Store a member's days, each replacing what it sent for that day before; the number of days. A
    request whose nonce was seen is refused (LookupError), so a captured one cannot undo a newer one."""
    days = _clean(data)
    received_at = datetime.now(UTC).isoformat(timespec="seconds")
    try:
        with db.conn:
            db.execute("DELETE FROM worker_nonces WHERE expires_at < ?", [time.time()])
            db.execute(
                "INSERT INTO worker_nonces (nonce, expires_at) VALUES (?, ?)",
                [signed.nonce, signed.remember_until],
            )
            for day, figures in days.items():
                db.execute("DELETE FROM stats_members WHERE member = ? AND day = ?", [member, day])
                merged: dict[tuple[str, str], float] = {}
                for metric, key, value in figures:
                    merged[(metric, key)] = merged.get((metric, key), 0) + value
                db.conn.executemany(
                    "INSERT INTO stats_members (member, day, metric, key, value, received_at) "
                    "VALUES (?, ?, ?, ?, ?, ?)",
                    [(member, day, m, k, v, received_at) for (m, k), v in merged.items()],
                )
    except sqlite3.IntegrityError:
        raise LookupError("this signed request was already received") from None
    return len(days)
