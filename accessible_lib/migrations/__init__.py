"""The catalogue schema as named migrations, applied in order and never edited once released.

sqlite-utils records which ones have run and applies the rest in the order they were registered, so the
order of the imports below is the schema's history: never reorder them (tests/test_migrations.py holds
the order). Add a new migration at the end of the last module, or in a new module imported last; keep
each module under 20 KB.
"""

from __future__ import annotations

# isort: off
from . import catalogue  # noqa: F401  m001-m006
from . import readers  # noqa: F401  m007-m013
from . import sharing  # noqa: F401  m014-m017
from . import reading  # noqa: F401  m018-m023
from . import scale  # noqa: F401  m026 onwards

# isort: on
from ._registry import migrations
from .readers import m012_security

__all__ = ["migrations", "m012_security"]
