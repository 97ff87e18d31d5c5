"""Where a worker reports, and which plugin modules (extra edition formats) it loads."""

from __future__ import annotations

import importlib

from ..settings import Settings


def _extra(settings: Settings, name: str) -> str:
    return str(getattr(settings, name)).strip()


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
