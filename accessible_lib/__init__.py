"""accessible-lib: an accessible digital library for blind, low-vision and print-disabled readers."""

from __future__ import annotations

from typing import Any

__all__ = ["create_app"]
__version__ = "0.1.0"


def __getattr__(name: str) -> Any:
    """`create_app` is imported when asked for, not with the package: a braille worker or the CLI importing
    one module of it would otherwise load the whole web app first (0.8 s of every worker's start)."""
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
