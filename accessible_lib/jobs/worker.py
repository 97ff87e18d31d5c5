"""Running a worker: Huey's consumer with one process per core, periodic recovery switched on.

Processes, not threads: converters call native libraries (liblouis, espeak-ng) that are not thread-safe and
are CPU-bound. Before taking any task the worker brings back the work that a killed predecessor took with it.
"""

from __future__ import annotations

import logging
import os

from ..settings import Settings
from .config import load_plugins
from .queue import EditionQueue
from .reporters import reporter_for

log = logging.getLogger(__name__)


def worker_count(settings: Settings, requested: int | None = None) -> int:
    return requested or settings.workers or os.cpu_count() or 1


def run_worker(settings: Settings, *, workers: int | None = None) -> None:
    """Run until SIGINT or SIGTERM (Huey's consumer handles both: SIGINT finishes running tasks first)."""
    plugins = load_plugins(settings)
    queue = EditionQueue(settings)
    count = worker_count(settings, workers)
    log.info("worker: %d processes, queue %s, plugins %s", count, _describe(settings), plugins or "none")
    try:
        result = reporter_for(settings).recover()
        log.info("worker start-up recovery: %s", result)
    except Exception:  # the web app may not be up yet; the periodic check runs again within a minute
        log.exception("worker start-up recovery failed; the periodic check will try again")
    consumer = queue.huey.create_consumer(
        workers=count,
        worker_type="process",
        periodic=True,
        scheduler_interval=1,
        initial_delay=0.1,
        max_delay=1.0,
    )
    consumer.run()


def _describe(settings: Settings) -> str:
    if settings.redis_url:
        return "redis"
    return str(settings.queue_path)
