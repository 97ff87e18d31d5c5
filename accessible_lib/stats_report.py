"""Reading the statistics back (stats.py keeps them): the figures of a range of days, this library's and
its members', as the staff page, the CLI, the CSV and the roll-up to a parent library need them.

A figure is (day, metric, key) -> value. Most are the daily counts as kept; the editions' and eligibility's
are read here from the tables that already hold them, so that nothing is counted twice or drifts: editions
made and failed by the day they finished, hours of audio from their files' lengths, braille pages from the
published BRF (a page ends with a form feed), the queue at the end of each day and the wait of the
editions started on it, applications by the day they came and decisions by the day they were made.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlite_utils import Database

from .stats import (
    AUDIO_SECONDS,
    BRAILLE_PAGES,
    EDITION_FAILURES,
    EDITIONS_MADE,
    EDITIONS_STARTED,
    ELIGIBILITY_APPLICATIONS,
    ELIGIBILITY_DECISIONS,
    LEVELS,
    QUEUE_DEPTH,
    QUEUE_WAIT_SECONDS,
)

Figures = dict[tuple[str, str, str], float]  # (day, metric, key) -> value


def days_between(start: date, end: date) -> list[str]:
    return [(start + timedelta(days=n)).isoformat() for n in range((end - start).days + 1)]


def counted(db: Database, start: date, end: date) -> Figures:
    rows = db.execute(
        "SELECT day, metric, key, count FROM stats_daily WHERE day BETWEEN ? AND ?",
        [start.isoformat(), end.isoformat()],
    )
    return {(day, metric, key): value for day, metric, key, value in rows}


def derived(db: Database, start: date, end: date, editions_dir: Path | None = None) -> Figures:
    """The figures other tables already hold, per day: editions and eligibility."""
    first, last = start.isoformat(), end.isoformat()
    figures: Figures = defaultdict(float)
    for day, fmt, status, number in db.execute(
        "SELECT substr(finished_at, 1, 10) AS day, format, status, count(*) FROM editions "
        "WHERE status IN ('done', 'failed') AND day BETWEEN ? AND ? GROUP BY day, format, status",
        [first, last],
    ):
        figures[(day, EDITIONS_MADE if status == "done" else EDITION_FAILURES, fmt)] += number
    for day, seconds in db.execute(
        "SELECT substr(e.finished_at, 1, 10) AS day, sum(f.seconds) FROM editions e "
        "JOIN edition_files f ON f.edition_id = e.id WHERE e.status = 'done' AND f.seconds IS NOT NULL "
        "AND day BETWEEN ? AND ? GROUP BY day",
        [first, last],
    ):
        figures[(day, AUDIO_SECONDS, "")] += round(seconds or 0)
    if editions_dir is not None:
        for day, pages in _braille_pages(db, first, last, editions_dir):
            figures[(day, BRAILLE_PAGES, "")] += pages
    _queue(db, start, end, figures)
    for day, number in db.execute(
        "SELECT substr(submitted_at, 1, 10) AS day, count(*) FROM eligibility_applications "
        "WHERE day BETWEEN ? AND ? GROUP BY day",
        [first, last],
    ):
        figures[(day, ELIGIBILITY_APPLICATIONS, "")] += number
    for day, status, number in db.execute(
        "SELECT substr(decided_at, 1, 10) AS day, status, count(*) FROM eligibility_applications "
        "WHERE decided_at IS NOT NULL AND day BETWEEN ? AND ? GROUP BY day, status",
        [first, last],
    ):
        figures[(day, ELIGIBILITY_DECISIONS, status)] += number
    return dict(figures)


def _queue(db: Database, start: date, end: date, figures: Figures) -> None:
    """Waiting at the end of each day (queued by then, not yet started), and the wait of those started."""
    first, last = start.isoformat(), end.isoformat()
    for queued_at, started_at, status in db.execute(
        "SELECT queued_at, started_at, status FROM editions WHERE queued_at IS NOT NULL "
        "AND substr(queued_at, 1, 10) <= ? AND (started_at IS NULL OR substr(started_at, 1, 10) >= ? "
        "OR started_at < queued_at)",
        [last, first],
    ):
        if started_at and started_at < queued_at:
            started_at = None  # asked for again after an earlier attempt: waiting since queued_at
        if started_at is None and status != "queued":
            continue  # made before editions recorded when they started: nothing to tell
        queued_day = queued_at[:10]
        started_day = started_at[:10] if started_at else None
        for day in days_between(max(start, date.fromisoformat(queued_day)), end):
            if started_day is not None and day >= started_day:
                break
            figures[(day, QUEUE_DEPTH, "")] += 1
        if started_day is not None and first <= started_day <= last:
            try:
                wait = datetime.fromisoformat(started_at) - datetime.fromisoformat(queued_at)
            except ValueError:
                continue
            figures[(started_day, EDITIONS_STARTED, "")] += 1
            figures[(started_day, QUEUE_WAIT_SECONDS, "")] += max(0, round(wait.total_seconds()))


_pages_cache: dict[tuple[int, str], int] = {}


def _braille_pages(db: Database, first: str, last: str, editions_dir: Path):
    """Pages of the BRF editions finished in the range: a BRF page ends with a form feed. Read from the
    published file once per edition and remembered (an edition made again has a new finished_at)."""
    for edition_id, finished_at, storage_key, name in db.execute(
        "SELECT e.id, e.finished_at, e.storage_key, f.name FROM editions e JOIN edition_files f "
        "ON f.edition_id = e.id WHERE e.status = 'done' AND e.format = 'brf' AND f.name LIKE '%.brf' "
        "AND substr(e.finished_at, 1, 10) BETWEEN ? AND ?",
        [first, last],
    ):
        cache_key = (edition_id, finished_at)
        if cache_key not in _pages_cache:
            try:
                data = (editions_dir / storage_key / name).read_bytes()
            except (OSError, TypeError):
                continue
            _pages_cache[cache_key] = data.count(b"\f") + (0 if data.endswith(b"\f") or not data else 1)
        yield finished_at[:10], _pages_cache[cache_key]


def members_figures(db: Database, start: date, end: date) -> dict[str, Figures]:
    """What member libraries sent (rollup.py), by member name."""
    members: dict[str, Figures] = defaultdict(dict)
    for member, day, metric, key, value in db.execute(
        "SELECT member, day, metric, key, value FROM stats_members WHERE day BETWEEN ? AND ?",
        [start.isoformat(), end.isoformat()],
    ):
        members[member][(day, metric, key)] = value
    return dict(members)


def own_figures(db: Database, start: date, end: date, editions_dir: Path | None = None) -> Figures:
    figures = dict(counted(db, start, end))
    for index, value in derived(db, start, end, editions_dir).items():
        figures[index] = figures.get(index, 0) + value
    return figures


def add(*many: Figures) -> Figures:
    total: Figures = defaultdict(float)
    for figures in many:
        for index, value in figures.items():
            total[index] += value
    return dict(total)


@dataclass
class Report:
    """The figures of a date range: this library's, each member's, and their total."""

    start: date
    end: date
    library: str
    own: Figures
    members: dict[str, Figures] = field(default_factory=dict)

    @property
    def days(self) -> list[str]:
        return days_between(self.start, self.end)

    @property
    def total(self) -> Figures:
        return add(self.own, *self.members.values())

    def columns(self, own_name: str, total_name: str) -> list[tuple[str, Figures]]:
        """(name, figures) side by side: this library, each member, and (with members) the total."""
        own = (self.library or own_name, self.own)
        if not self.members:
            return [own]
        return [own, *sorted(self.members.items()), (total_name, self.total)]


def build_report(db: Database, start: date, end: date, *, library: str, editions_dir: Path | None) -> Report:
    return Report(
        start, end, library, own_figures(db, start, end, editions_dir), members_figures(db, start, end)
    )


def _sum(figures: Figures, metric: str, days: list[str]) -> float:
    chosen = set(days)
    return sum(v for (d, m, _), v in figures.items() if m == metric and d in chosen)


def metric_total(figures: Figures, metric: str, days: list[str]) -> float:
    """The range's figure: the sum of its days; the last day's for a level (queue depth); the average wait
    in minutes for the queue wait."""
    if metric in LEVELS:
        return _sum(figures, metric, days[-1:])
    if metric == QUEUE_WAIT_SECONDS:
        started = _sum(figures, EDITIONS_STARTED, days)
        return round(_sum(figures, QUEUE_WAIT_SECONDS, days) / started / 60, 1) if started else 0
    return _sum(figures, metric, days)


def daily_series(figures: Figures, metric: str, days: list[str]) -> list[float]:
    """One value a day, as the charts draw them (hours of audio in hours, the wait as an average)."""
    by_day: dict[str, float] = defaultdict(float)
    for (day, m, _), value in figures.items():
        if m == metric:
            by_day[day] += value
    if metric == QUEUE_WAIT_SECONDS:
        started: dict[str, float] = defaultdict(float)
        for (day, m, _), value in figures.items():
            if m == EDITIONS_STARTED:
                started[day] += value
        return [round(by_day[d] / started[d] / 60, 1) if started[d] else 0 for d in days]
    if metric == AUDIO_SECONDS:
        return [round(by_day[d] / 3600, 2) for d in days]
    return [by_day[d] for d in days]


def shown_total(figures: Figures, metric: str, days: list[str]) -> float:
    """The summary table's figure for `metric` over `days` (hours for audio)."""
    value = metric_total(figures, metric, days)
    if metric == AUDIO_SECONDS:
        return round(value / 3600, 2)
    return value


def by_key(figures: Figures, metric: str, limit: int | None = None) -> list[tuple[str, float]]:
    """Keys of a metric (queries, formats) with their totals over the figures' days, largest first."""
    totals: dict[str, float] = defaultdict(float)
    for (_, m, key), value in figures.items():
        if m == metric:
            totals[key] += value
    ranked = sorted(totals.items(), key=lambda item: (-item[1], item[0]))
    return ranked[:limit] if limit else ranked


def number(value: float) -> str:
    """A figure as people read it: whole numbers without ".0"."""
    return str(int(value)) if float(value).is_integer() else f"{value:g}"


CSV_COLUMNS = ("library", "day", "metric", "key", "value")


def _cell(value: str) -> str:
    """A cell a spreadsheet shows as text: a query typed as "=HYPERLINK(...)" must not become a formula."""
    return "'" + value if value[:1] in ("=", "+", "-", "@", "\t", "\r") else value


def write_csv(report: Report, out, own_name: str) -> None:
    """One line per library, day, metric and key: this library's figures (under `own_name` when it has no
    name of its own), then each member's."""
    import csv

    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for name, figures in [(report.library or own_name, report.own), *sorted(report.members.items())]:
        for (day, metric, key), value in sorted(figures.items()):
            writer.writerow([_cell(name), day, metric, _cell(key), number(value)])
