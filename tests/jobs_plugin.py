"""Edition formats for the job tests: a slow one (to be killed mid-way) and a flaky one (to be retried).

Workers load this module through ACCESSIBLE_LIB_PLUGINS=tests.jobs_plugin, exactly as a real plugin format
would be loaded; the test process imports it too, so that requests can name these formats. The converters
write real files through runner.OutputFile and report real progress, like the built-in ones.
"""

from __future__ import annotations

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
TEST_FORMATS = (SLOW, FLAKY)
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
