"""Edition formats for the job tests: a slow one (to be killed mid-way), a flaky one (to be retried) and a big
one (to be killed mid-upload).

Workers load this module through ACCESSIBLE_LIB_PLUGINS=tests.jobs_plugin, exactly as a real plugin format
would be loaded; the test process imports it too, so that requests can name these formats. The converters
write real files through runner.OutputFile and report real progress, like the built-in ones.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from accessible_lib.editions import formats
from accessible_lib.editions.formats import EditionFormat, Option
from accessible_lib.editions.runner import OutputFile, Progress

SLOW = EditionFormat(
    name="test-slow",
    label="Slow text (tests)",
    purpose="for tests that stop a worker mid-job",
    media_type="text/plain; charset=utf-8",
    extension=".txt",
    options=(
        Option("steps", "int", 10, "Steps, each writing every chapter once.", minimum=1),
        Option("delay", "float", 0.1, "Seconds each step sleeps.", minimum=0),
    ),
    converter="tests.jobs_plugin:convert_slow",
)
FLAKY = EditionFormat(
    name="test-flaky",
    label="Flaky text (tests)",
    purpose="for tests of retries",
    media_type="text/plain; charset=utf-8",
    extension=".txt",
    options=(
        Option("counter", "str", "", "A file counting the attempts made so far."),
        Option("failures", "int", 2, "How many attempts fail before one succeeds.", minimum=0),
    ),
    converter="tests.jobs_plugin:convert_flaky",
)
BIG = EditionFormat(
    name="test-big",
    label="Big file (tests)",
    purpose="for tests that stop a worker while it uploads",
    media_type="application/octet-stream",
    extension=".bin",
    options=(Option("kilobytes", "int", 1024, "Size of the file, in KiB.", minimum=1),),
    converter="tests.jobs_plugin:convert_big",
)
TEST_FORMATS = (SLOW, FLAKY, BIG)
for _fmt in TEST_FORMATS:
    formats.register(_fmt)


def convert_slow(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    steps = options["steps"]
    with OutputFile(workspace, "slow.txt", SLOW.media_type) as output:
        for step in range(steps):
            time.sleep(options["delay"])
            for chapter in book["chapters"]:
                output.write(f"{step}: {chapter['title']}\n{chapter['text']}\n\n".encode())
            output.flush()
            progress((step + 1) / steps, f"Step {step + 1} of {steps}")
    return [output.record()]


class FlakyFailure(RuntimeError):
    pass


def convert_flaky(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    counter = Path(options["counter"])
    attempt = int(counter.read_text()) + 1 if counter.exists() else 1
    counter.write_text(str(attempt))
    progress(0.5, "Trying")
    if attempt <= options["failures"]:
        raise FlakyFailure(f"The test converter refused attempt {attempt}: the source was unreadable.")
    with OutputFile(workspace, "flaky.txt", FLAKY.media_type) as output:
        output.write(f"{book['title']} after {attempt} attempts\n".encode())
    return [output.record()]


def convert_big(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    """Bytes that differ all the way through (a run of equal bytes would hide a chunk written at the wrong
    offset), the same for the same book, so every attempt makes the same file."""
    seed = hashlib.sha256(book["title"].encode()).digest()
    left = options["kilobytes"] * 1024
    counter = 0
    with OutputFile(workspace, "big.bin", BIG.media_type) as output:
        while left > 0:
            block = b"".join(
                hashlib.sha256(seed + (counter + i).to_bytes(8, "big")).digest() for i in range(1024)
            )
            counter += 1024
            output.write(block[:left])
            left -= len(block)
        progress(1.0, "Written")
    return [output.record()]
