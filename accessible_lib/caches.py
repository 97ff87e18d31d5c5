"""The caches of the braille library go in the data directory, never in the system's temporary directory.

braille/ never imports accessible_lib, so it is told where: every process that may translate Chinese to
braille (the web app, a job worker, `accessible-lib convert`) calls `use_data_dir` before it does, and the
braille edition's worker processes are handed the same directory when they start. Scratch files of the
speech engines and of braille page layout go in each edition's workspace, itself in the data directory.
"""

from __future__ import annotations

from braille import chinese

from .settings import Settings


def use_data_dir(settings: Settings) -> None:
    chinese.set_cache_dir(settings.cache_dir)
