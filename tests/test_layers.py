"""The import rule of the developers' guide, checked on every module by import-linter's layer contract.

voices/ and braille/ are libraries of their own: the catalogue depends on them, never the other way round,
and braille/ never loads speech; ingest, and the chapter marks it keeps, never load the web app. The
contracts are in pyproject.toml ([tool.importlinter]).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_voices_and_braille_never_import_the_library_app() -> None:
    lint_imports = Path(sys.executable).parent / "lint-imports"
    done = subprocess.run([str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 kept, 0 broken" in done.stdout
