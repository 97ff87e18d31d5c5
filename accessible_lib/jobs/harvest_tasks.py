"""The harvest task: another library's records brought in by a worker (harvest/jobs.py says why).

A harvest writes into the catalogue, so only a worker that may open it runs one. A worker that reports over
HTTP (ACCESSIBLE_LIB_REPORT_URL: another machine, no catalogue) puts the task back for a minute later, for
the worker beside the web app to take; the page keeps saying it waits for a worker meanwhile.
"""

from __future__ import annotations

import logging

from huey import Huey

from ..settings import Settings

log = logging.getLogger(__name__)

ELSEWHERE_DELAY_SECONDS = 60


def register_harvest_task(huey: Huey, settings: Settings):
    # No Huey retries: a failed harvest is kept on the source, with its reason, for staff to act on.
    @huey.task(name="harvest_source")
    def harvest_source(source_id: int, locale: str = "en") -> str:
        if settings.report_url:
            harvest_source.schedule((source_id, locale), delay=ELSEWHERE_DELAY_SECONDS)
            return "elsewhere"
        from ..harvest import jobs

        return jobs.run(settings, source_id, locale)

    return harvest_source
