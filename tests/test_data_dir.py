"""Nothing is written outside the data directory, as the README promises: not even to the system's /tmp.

An import, a Chinese braille conversion (jieba segments the text: its dictionary cache) and an audio one
(pyttsx3 speaks to WAV files) run as real processes with TMPDIR, HOME and the working directory pointed
at one empty directory, which must stay empty.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

CHECKOUT = Path(__file__).parent.parent
CHIBIFU = CHECKOUT / "content" / "zh" / "zh-chibifu-su-shi.txt"


def _run(arguments: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    command = [str(Path(sys.executable).parent / "accessible-lib"), *arguments]
    done = subprocess.run(command, env=env, cwd=cwd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return done


@pytest.mark.slow
def test_import_and_conversions_write_nothing_outside_the_data_dir(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    data, out = tmp_path / "data", tmp_path / "out"
    env = {
        **os.environ,
        "ACCESSIBLE_LIB_DATA_DIR": str(data),
        "TMPDIR": str(elsewhere),
        "HOME": str(elsewhere),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    imported = json.loads(_run(["import", "--json", str(CHIBIFU)], env, elsewhere).stdout)
    book = str(imported["book_id"])
    _run(["convert", book, "--format", "brf", "--out", str(out)], env, elsewhere)
    _run(["convert", book, "--format", "mp3", "--out", str(out)], env, elsewhere)
    assert sorted(p.suffix for p in out.iterdir()) == [".brf", ".zip"]
    assert list(elsewhere.iterdir()) == []
    assert [p.name for p in (data / "cache").iterdir()] == ["jieba.cache"]
    assert not [p for p in out.rglob("*") if p.name.startswith(".")]  # no scratch left beside the output
