"""`accessible-lib convert` and `accessible-lib jobs` as real processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from accessible_lib.cli.editions import output_name
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.formats import FORMATS
from accessible_lib.importer import IMPORTED, import_paths
from accessible_lib.ingest import ingest_file
from accessible_lib.ingest.errors import IngestError
from accessible_lib.settings import Settings

CHECKOUT = Path(__file__).parent.parent
CHIBIFU = CHECKOUT / "content" / "zh" / "zh-chibifu-su-shi.txt"
RAVEN = CHECKOUT / "content" / "en" / "pg17192-poe-the-raven-epub2.epub"
ALICE = CHECKOUT / "content" / "en" / "alice-pg19033-nyu-epub3.epub"
BROKEN = CHECKOUT / "tests" / "corpus" / "hostile" / "epubcheck-ocf" / "ocf-container-file-missing-fatal.epub"


def _executable() -> str:
    executable = Path(sys.executable).parent / "accessible-lib"
    if not executable.exists():
        executable = CHECKOUT / ".venv" / "bin" / "accessible-lib"
    return str(executable)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "ACCESSIBLE_LIB_DATA_DIR": str(tmp_path / "data")}


@pytest.fixture
def catalogue(tmp_path: Path) -> dict[str, int]:
    """Two books in the catalogue the command will open, imported by the real importer."""
    settings = Settings.from_env({}, data_dir=tmp_path / "data")
    db = open_database(settings.database_path)
    try:
        results = list(import_paths(db, settings, [CHIBIFU, ALICE]))
    finally:
        db.close()
    assert [r.status for r in results] == [IMPORTED, IMPORTED]
    return {"chibifu": results[0].book_id, "alice": results[1].book_id}


def _run(arguments: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [_executable(), *arguments], env=env, capture_output=True, text=True, timeout=180, check=False
    )


def _summary(stdout: str) -> dict[str, str]:
    lines = stdout.strip().splitlines()[1:]
    return dict(line.split(": ", 1) for line in lines)


def test_convert_ids_and_files_with_one_broken(
    env: dict[str, str], catalogue: dict[str, int], tmp_path: Path
) -> None:
    broken = tmp_path / "inbox" / "broken.epub"
    broken.parent.mkdir()
    shutil.copyfile(BROKEN, broken)
    with pytest.raises(IngestError) as rejected:
        ingest_file(broken, Settings.from_env({}))
    out = tmp_path / "out"
    completed = _run(
        [
            "convert",
            str(catalogue["alice"]),
            str(RAVEN),
            str(broken),
            str(catalogue["chibifu"]),
            "--format",
            "html",
            "--out",
            str(out),
        ],
        env,
    )
    assert completed.returncode == 1, completed.stderr
    assert completed.stdout.splitlines()[0] == "3 converted, 1 failed"
    summary = _summary(completed.stdout)
    assert summary[str(broken)] == rejected.value.translated()
    expected = {
        str(catalogue["alice"]): out / f"{catalogue['alice']}-alice-s-adventures-in-wonderland.zip",
        str(RAVEN): out / "pg17192-poe-the-raven-epub2-the-raven.zip",
        str(catalogue["chibifu"]): out / f"{catalogue['chibifu']}-赤壁赋.zip",
    }
    for source, path in expected.items():
        assert summary[source] == f"ok, {path}"
        with zipfile.ZipFile(path) as archive:
            assert archive.testzip() is None
            assert "index.html" in archive.namelist() and "chapter-001.html" in archive.namelist()
    assert sorted(out.iterdir()) == sorted(expected.values()), "no temporary files are left behind"
    assert "Chapter 1 of" in completed.stderr  # the progress bar names the step


def test_convert_to_text_succeeds_with_exit_zero(
    env: dict[str, str], catalogue: dict[str, int], tmp_path: Path
) -> None:
    out = tmp_path / "out"
    completed = _run(["convert", str(catalogue["chibifu"]), "--format", "txt", "--out", str(out)], env)
    assert completed.returncode == 0, completed.stderr
    target = out / f"{catalogue['chibifu']}-赤壁赋.txt"
    assert _summary(completed.stdout) == {str(catalogue["chibifu"]): f"ok, {target}"}
    text = target.read_text(encoding="utf-8")
    assert text.startswith("赤壁赋\n苏轼\n")
    assert "壬戌之秋" in text


def test_missing_books_and_files_fail_with_reasons(env: dict[str, str], tmp_path: Path) -> None:
    missing = tmp_path / "nowhere.epub"
    completed = _run(["convert", "999", str(missing), "--format", "txt", "--out", str(tmp_path / "o")], env)
    assert completed.returncode == 1
    assert _summary(completed.stdout) == {
        "999": "There is no book 999 in the catalogue.",
        str(missing): "There is no file at this path.",
    }


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--format", "pdf"], f"There is no format pdf; the formats are: {', '.join(sorted(FORMATS))}."),
        (["--format", "txt", "--voice", "en-us"], "The txt format takes no options (given: voice)."),
        (["--format", "txt", "--voice"], "The option --voice needs a value."),
    ],
)
def test_mistakes_in_the_command_exit_2(
    env: dict[str, str], tmp_path: Path, arguments: list[str], message: str
) -> None:
    out = tmp_path / "out"
    completed = _run(["convert", str(CHIBIFU), *arguments, "--out", str(out)], env)
    assert completed.returncode == 2
    assert message in completed.stderr
    assert not out.exists()


def test_output_names_are_safe() -> None:
    assert output_name("12", "Moby Dick; Or, The Whale", ".zip") == "12-moby-dick-or-the-whale.zip"
    assert output_name("7", "论语 / 学而: 第一", ".txt") == "7-论语-学而-第一.txt"
    assert output_name("x", "../../etc/passwd\x00", ".txt") == "x-etc-passwd.txt"
    long = output_name("1", "长" * 300, ".txt")
    assert len(long.encode()) <= 200 and long.endswith(".txt") and long.startswith("1-长")
    assert output_name("", "", ".zip") == "book.zip"


def test_jobs_lists_editions(env: dict[str, str], catalogue: dict[str, int], tmp_path: Path) -> None:
    empty = _run(["jobs"], env)
    assert empty.returncode == 0 and empty.stdout.strip() == "No editions."
    db = open_database(tmp_path / "data" / "catalogue.db")
    try:
        queued, _ = store.request_edition(db, catalogue["chibifu"], "txt", {})
        failed, _ = store.request_edition(db, catalogue["alice"], "html", {})
        token = store.claim(db, failed, lease_seconds=60)
        store.fail(db, failed, token, error="The disk is full.\nTry again later.", retry_at=None)
    finally:
        db.close()
    completed = _run(["jobs"], env)
    assert completed.returncode == 0, completed.stderr
    lines = completed.stdout.splitlines()
    assert lines[0].split() == ["ID", "Book", "Format", "Status", "Progress", "Step", "Attempts", "Error"]
    rows = {line.split()[0]: line for line in lines[1:]}
    assert set(rows) == {str(queued), str(failed)}
    assert (
        "赤壁赋" in rows[str(queued)]
        and "Waiting to start" in rows[str(queued)]
        and " txt " in rows[str(queued)]
    )
    assert "Failed" in rows[str(failed)] and "The disk is full. Try again later." in rows[str(failed)]
    assert lines[1].split()[0] == str(queued), "queued work is listed before failed work"
    only_failed = _run(["jobs", "--status", "failed"], env)
    assert [line.split()[0] for line in only_failed.stdout.splitlines()[1:]] == [str(failed)]
    assert _run(["jobs", "--status", "lost"], env).returncode == 2
    chinese = _run(["jobs"], {**env, "LANGUAGE": "", "LC_ALL": "", "LANG": "zh_CN.UTF-8"})
    assert chinese.returncode == 0, chinese.stderr
    header, *rows = chinese.stdout.splitlines()
    assert "状态" in header.split() and any("失败" in row for row in rows), chinese.stdout
