"""The caches of the braille library go in the data directory, never in the system's temporary directory.

braille/ never imports accessible_lib, so it is told where: every process that may translate Chinese to
braille (the web app, a job worker, `accessible-lib convert`) calls `use_data_dir` before it does, and the
braille edition's worker processes are handed the same directory when they start. Scratch files of the
speech engines and of braille page layout go in each edition's workspace, itself in the data directory.
"""

from __future__ import annotations

from braille import chinese
from voices.sentence_cache import SentenceCache

from .settings import Settings

_chosen: list[Settings] = []  # the settings of the last use_data_dir in this process


def use_data_dir(settings: Settings) -> None:
    chinese.set_cache_dir(settings.cache_dir)
    _chosen[:] = [settings]


def sentence_cache(settings: Settings | None = None) -> SentenceCache | None:
    """The spoken-sentence cache in the data directory (voices.sentence_cache), shared by the audio editions
    and the instant listening route; None when `sentence_cache_mb` is 0 or no process chose a data
    directory (a converter called on its own, as the benchmarks do, caches nothing)."""
    settings = settings or (_chosen[0] if _chosen else None)
    if settings is None or settings.sentence_cache_mb <= 0:
        return None
    return SentenceCache(settings.sentence_cache_dir, settings.sentence_cache_mb * 1024 * 1024)
