"""Keeping a job's lease alive while it converts, and telling the catalogue how far it has got.

The lease is how the catalogue knows a job is alive: a worker killed with SIGKILL stops renewing, its lease
expires, and the periodic recovery queues the edition again. A worker that finds its lease lost (it was too
slow to renew, and another attempt has started) must stop at once and publish nothing: the converter's next
progress call raises runner.Stop.
"""

from __future__ import annotations

import logging
import threading
import time

from ..editions.runner import Stop
from .reporters import Reporter

log = logging.getLogger(__name__)

# Progress is shown live to staff: report a change at most this often, however long the lease.
REPORT_EVERY_SECONDS = 2.0


class LeaseKeeper:
    """A thread that renews the lease every lease_seconds/3 (sooner when there is progress to report).

    Use `progress` as the converter's progress callback; use `still_held()` just before publishing.
    """

    def __init__(
        self,
        reporter: Reporter,
        edition_id: int,
        token: str,
        *,
        lease_seconds: float,
        report_every: float = REPORT_EVERY_SECONDS,
    ):
        self.reporter = reporter
        self.edition_id = edition_id
        self.token = token
        self.lease_seconds = lease_seconds
        self.renew_every = lease_seconds / 3
        self.tick = min(self.renew_every, report_every)
        self.lost = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()
        self._started_at = time.monotonic()
        self._fraction = 0.0
        self._step: str | None = None
        self._changed = False
        self._last_renewal = time.monotonic()
        self._thread = threading.Thread(target=self._run, name=f"lease-{edition_id}", daemon=True)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._stopped.set()
        self._thread.join()

    def progress(self, fraction: float, step: str) -> None:
        """The converter's callback: records where it is; raises Stop once the lease is lost."""
        if self.lost.is_set():
            raise Stop("the lease on this edition was lost; another attempt has it")
        with self._lock:
            self._fraction = min(max(float(fraction), 0.0), 1.0)
            self._step = step
            self._changed = True

    def eta_seconds(self) -> int | None:
        """Time left at the speed measured so far; None until there is any progress to measure."""
        with self._lock:
            fraction = self._fraction
        if fraction <= 0:
            return None
        elapsed = time.monotonic() - self._started_at
        return round(elapsed * (1 - fraction) / fraction)

    def renew(self) -> bool:
        """Renew now, with the latest progress; False (and `lost` set) when the lease is gone."""
        eta = self.eta_seconds()
        with self._lock:
            percent = min(int(self._fraction * 100), 99)  # 100 only when the edition is complete
            step = self._step
            self._changed = False
        held = self.reporter.renew(
            self.edition_id,
            self.token,
            lease_seconds=self.lease_seconds,
            progress=percent,
            step=step,
            eta_seconds=eta,
        )
        self._last_renewal = time.monotonic()
        if not held:
            self.lost.set()
        return held

    def still_held(self) -> bool:
        """Check the lease right before publishing, so a stale attempt cannot replace a newer one's files.

        A fresh renewal guarantees lease_seconds in which no other attempt may start; the rename that
        follows takes milliseconds.
        """
        return not self.lost.is_set() and self.renew()

    def _run(self) -> None:
        while not self._stopped.wait(self.tick):
            due = time.monotonic() - self._last_renewal >= self.renew_every - 0.01
            if not (due or self._changed):
                continue
            try:
                if not self.renew():
                    log.warning("edition %s: lease lost, stopping this attempt", self.edition_id)
                    return
            except Exception:  # a network blip: try again next tick; the lease outlives a few misses
                log.exception("edition %s: could not renew the lease", self.edition_id)
