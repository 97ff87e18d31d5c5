"""The Huey tasks: build one edition, and the periodic check that brings lost work back.

A build claims the edition (a lease), converts into a private workspace while a thread renews the lease and
reports progress, publishes the workspace by atomic rename, then marks the edition done. A worker on another
machine uploads the workspace instead, and the web app publishes it as it marks the edition done
(jobs/uploader.py). If the worker dies at any point before the rename, nothing is visible and the lease
expires; if it dies after, the next attempt publishes again over it. A failure is retried with exponential
backoff, then the edition is `failed` with the exception's message (never a traceback) for staff to act on.
"""

from __future__ import annotations

import errno
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from huey import Huey, crontab
from huey.api import TaskWrapper

from ..caches import use_data_dir
from ..editions.runner import Stop, run_conversion
from ..editions.storage import Storage
from ..i18n import gettext
from ..settings import Settings
from .lease import LeaseKeeper
from .reporters import Reporter, reporter_for
from .uploader import Transient, UploadRefused, UploadStorage, worker_storage

log = logging.getLogger(__name__)

SKIPPED, DONE, LOST, RETRY, FAILED = "skipped", "done", "lost", "retry", "failed"


@dataclass(frozen=True)
class EditionTasks:
    build_edition: TaskWrapper
    check_leases: TaskWrapper
    harvest_source: TaskWrapper | None = None


def retry_delay(settings: Settings, attempt: int) -> float:
    """Seconds before attempt `attempt + 1`: retry_backoff_seconds, doubled after each failure."""
    return settings.retry_backoff_seconds * 2 ** (attempt - 1)


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}


def failure_message(exc: BaseException) -> str:
    """What staff read: the converter's own words, one line; never a traceback. A full disk is said in
    words staff can act on, not as "[Errno 28]" and a path inside a workspace that no longer exists."""
    if isinstance(exc, OSError) and exc.errno in _DISK_FULL:
        return gettext(
            "The disk is full: the edition could not be written, and nothing of it was kept. "
            "Free some space on the server, then make the edition again."
        )
    message = " ".join(str(exc).split())
    if isinstance(exc, KeyError) and message:
        message = gettext("Missing or unknown: %(name)s", name=message)
    return message or gettext(
        "The conversion stopped with an error that gave no explanation (%(kind)s).", kind=type(exc).__name__
    )


def build(
    settings: Settings,
    edition_id: int,
    payload: dict,
    *,
    reporter: Reporter,
    storage: Storage | UploadStorage,
    reschedule: Callable[[float], None],
) -> str:
    """One attempt at one edition; returns what became of it (SKIPPED, DONE, LOST, RETRY or FAILED)."""
    use_data_dir(settings)
    claim = reporter.claim(edition_id, lease_seconds=settings.lease_seconds)
    if claim is None:
        return SKIPPED  # done already, running elsewhere, or a duplicate task for a retry not yet due
    key = payload.get("storage_key") or str(edition_id)
    uploading = isinstance(storage, UploadStorage)
    workspace = storage.new_workspace()
    published = False
    try:
        with LeaseKeeper(reporter, edition_id, claim.token, lease_seconds=settings.lease_seconds) as lease:
            try:
                files = run_conversion(
                    _with_previous(payload["book"], storage, key),
                    payload["format"],
                    payload["options"],
                    workspace,
                    lease.progress,
                )
            except Stop:
                log.warning("edition %s attempt %s stopped: lease lost", edition_id, claim.attempt)
                return LOST
            except Exception as exc:
                log.exception("edition %s attempt %s failed", edition_id, claim.attempt)
                return _failed(settings, reporter, edition_id, claim.token, claim.attempt, exc, reschedule)
            if not lease.still_held():
                log.warning(
                    "edition %s attempt %s finished after losing its lease", edition_id, claim.attempt
                )
                return LOST
            if uploading:
                try:
                    storage.upload(workspace, edition_id, claim.token, files, lease.progress)
                except Stop:
                    log.warning(
                        "edition %s attempt %s: lease lost while uploading", edition_id, claim.attempt
                    )
                    return LOST
                except (UploadRefused, Transient) as exc:
                    log.exception("edition %s attempt %s: upload refused", edition_id, claim.attempt)
                    return _failed(
                        settings, reporter, edition_id, claim.token, claim.attempt, exc, reschedule
                    )
            else:
                storage.publish(workspace, key)
                published = True
        if uploading:
            # The web app checks and publishes what was uploaded, and records the edition done, in one step.
            try:
                if storage.commit(edition_id, claim.token, storage_key=key, files=files):
                    return DONE
            except (UploadRefused, Transient) as exc:
                log.exception("edition %s attempt %s: commit refused", edition_id, claim.attempt)
                return _failed(settings, reporter, edition_id, claim.token, claim.attempt, exc, reschedule)
        elif reporter.complete(edition_id, claim.token, storage_key=key, files=files):
            return DONE
        # Only if this process stalled for a whole lease between the check and here; the newer attempt
        # publishes whole files again over these, and only its record counts.
        return LOST
    finally:
        if not published:
            storage.discard(workspace)


def _with_previous(book: dict, storage, key: str) -> dict:
    """The book with the directory of this edition's current publication, when it is on this machine: an
    audio edition's rebuild appends to its archive instead of writing it anew (voices.zip_append)."""
    if isinstance(storage, UploadStorage) or not storage.exists(key):
        return book
    return {**book, "previous_files": str(storage.path(key).resolve())}


def _failed(
    settings: Settings,
    reporter: Reporter,
    edition_id: int,
    token: str,
    attempt: int,
    exc: Exception,
    reschedule: Callable[[float], None],
) -> str:
    message = failure_message(exc)
    if attempt >= settings.max_attempts:
        reporter.fail(edition_id, token, error=message, retry_at=None)
        return FAILED
    delay = retry_delay(settings, attempt)
    if reporter.fail(edition_id, token, error=message, retry_at=time.time() + delay):
        reschedule(delay)
    return RETRY


def register_tasks(huey: Huey, settings: Settings) -> EditionTasks:
    """Register the tasks on `huey`; each process's own settings (lease, storage, reporting) apply when they
    run, whoever enqueued them."""

    # Huey's own retries cover only a failure to report (the web app restarting); a conversion's failures
    # are handled above, with the edition's state.
    @huey.task(retries=3, retry_delay=10, name="build_edition")
    def build_edition(edition_id: int, payload: dict) -> str:
        return build(
            settings,
            edition_id,
            payload,
            reporter=reporter_for(settings),
            storage=worker_storage(settings),
            reschedule=lambda delay: build_edition.schedule((edition_id, payload), delay=delay),
        )

    @huey.periodic_task(crontab(minute="*"), name="check_leases")
    def check_leases() -> dict[str, list[int]]:
        """Every minute: the work that a killed worker took with it comes back (coleifer/huey#559)."""
        result = reporter_for(settings).recover()
        if result.get("requeued") or result.get("enqueued"):
            log.info("recovery: %s", result)
        storage = worker_storage(settings)
        if isinstance(storage, UploadStorage):  # the web app sweeps its own disk; this worker's is here
            storage.sweep()
        return result

    from .stats_tasks import register_stats_task

    register_stats_task(huey, settings)  # statistics: forget the past days' digests, send to the parent
    from .marks_tasks import register_marks_task

    register_marks_task(huey, settings)  # chapters without their marks, filled when the queue is empty
    from .harvest_tasks import register_harvest_task

    return EditionTasks(build_edition, check_leases, register_harvest_task(huey, settings))
