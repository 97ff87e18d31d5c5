"""The two job settings proposed with this package: where a worker reports, and which plugins it loads.

They are read through these functions so that the rest of the package does not care whether the lead has
added them to settings.SETTINGS yet (`report_url`, `plugins`); until then they come from the environment.
"""

from __future__ import annotations

import importlib
import os

from ..settings import PREFIX, Settings


def _extra(settings: Settings, name: str) -> str:
    value = getattr(settings, name, None)
    if value is None:
        value = os.environ.get(PREFIX + name.upper(), "")
    return str(value).strip()


def report_url(settings: Settings) -> str:
    """The web app's base URL for a worker that must not open the catalogue; empty: open it directly."""
    return _extra(settings, "report_url")


def plugin_modules(settings: Settings) -> list[str]:
    return [name.strip() for name in _extra(settings, "plugins").split(",") if name.strip()]


def load_plugins(settings: Settings) -> list[str]:
    """Import the plugin modules (extra edition formats register themselves when imported)."""
    names = plugin_modules(settings)
    for name in names:
        importlib.import_module(name)
    return names
