"""accessible-lib: an accessible digital library for blind, low-vision and print-disabled readers."""

from .app import create_app

__all__ = ["create_app"]
__version__ = "0.1.0"
