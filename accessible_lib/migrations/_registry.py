"""The one list of migrations every module of this package adds to, in the order they are imported."""

from __future__ import annotations

from sqlite_utils import Migrations

migrations = Migrations("accessible_lib")
