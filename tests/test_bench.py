"""The benchmarks' fairness and verdicts: the raw baselines get one equal part per core, and a target is
said to be missed when the figures miss it."""

from __future__ import annotations

import re
from pathlib import Path

from accessible_lib.bench.audio import equal_parts, summary, verdict
from accessible_lib.bench.braille import raw_translate

WAR_AND_PEACE = Path(__file__).parent / "corpus" / "text" / "en" / "war-and-peace.txt"


def test_equal_parts_cut_at_paragraph_breaks_with_equal_characters() -> None:
    text = WAR_AND_PEACE.read_text(encoding="utf-8")[:200_000]
    paragraphs = set(text.split("\n\n"))
    for count in (1, 2, 3, 4):
        parts = equal_parts(text, count)
        assert len(parts) == count
        assert "\n\n".join(parts) == text  # nothing lost, nothing moved
        assert all(set(part.split("\n\n")) <= paragraphs for part in parts)  # whole paragraphs
        sizes = [len(part) for part in parts]
        assert max(sizes) - min(sizes) < 0.05 * len(text) / count
    assert equal_parts("one\n\ntwo", 4) == ["one", "two"]  # never an empty part


def test_verdicts_are_computed_from_the_figures() -> None:
    assert verdict(1.25, 1.25) == "met" and verdict(1.26, 1.25) == "missed"
    assert verdict(0.8, 0.8, at_most=False) == "met" and verdict(0.79, 0.8, at_most=False) == "missed"
    raw = {"seconds": 100.0}
    rows = [
        {"format": "mp3", "engine": "pyttsx3", "seconds": 140.0},
        {"format": "mp3", "engine": "libespeak", "seconds": 107.0},
    ]
    assert summary(raw, rows) == (
        "Time target (at most 1.25x the raw pipeline): **missed** by mp3 with pyttsx3 (1.40x)."
    )
    assert "met by every pipeline" in summary(raw, rows[1:])


def test_raw_braille_runs_one_lou_translate_per_part() -> None:
    run = raw_translate("The whale was white.\nCall me Ishmael.\n" * 50, parts=2)
    assert run["parts"] == 2 and run["seconds"] > 0 and run["cpu_seconds"] >= 0


def test_the_stamping_section_runs_on_a_tiny_book(tmp_path: Path) -> None:
    """The whole section (build, real server, sign-in, downloads, checks) on the first chapter only."""
    from accessible_lib.bench.stamping import section

    environ = {
        "BENCH_STAMPING_CHARS": "2000",
        "BENCH_STAMPING_ROUNDS": "2",
        "BENCH_STAMPING_ENGINE": "espeak",
    }
    lines = section(tmp_path, environ)
    text = "\n".join(lines)
    assert lines[0] == "## Stamping: personalised downloads of War and Peace in MP3"
    assert "its first 1 chapters" in text or "its first 2 chapters" in text
    assert re.search(
        r"Personalised at \d+\.\d\dx the unstamped throughput: target at least 0.8x, \*\*(met|missed)\*\*",
        text,
    )
    assert "matched the bytes received in 2 of 2" in text


def test_the_remote_section_runs_on_a_tiny_slice(tmp_path: Path) -> None:
    """Redis, the web app and a worker with their own data directories, the first chapter end to end, then
    the upload alone: every figure docs/scaling.md uses is in the table."""
    from accessible_lib.bench.remote import section

    lines = section(tmp_path, {"BENCH_REMOTE_CHARS": "2000"})
    text = "\n".join(lines)
    assert lines[0] == "## Remote conversion: one machine's throughput and the cost of its upload"
    assert re.search(
        r"\| [\d.]+ s \| [\d.]+ h \| \d+x \| [\d.]+ MB \(\d+ files\) \| [\d.]+ s \| [\d.]+ s \|", text
    )
    assert re.search(r"\| per hour of audio \([\d.]+ MB\) \| [\d.]+ s \| [\d.]+ s \| \| [\d.]+ s \|", text)


def test_the_load_section_runs_wrk_against_the_served_default_library(tmp_path: Path) -> None:
    from accessible_lib.bench.load import section

    lines = section(tmp_path, {"BENCH_LOAD_SECONDS": "2", "BENCH_LOAD_CONNECTIONS": "10"})
    row = next(line for line in lines if re.match(r"\| [\d,]+ \|", line))
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    assert int(cells[0].replace(",", "")) > 0  # requests were answered
    assert cells[6] == "0/0/0/0" and cells[7] == "0"  # a few clients on the default library: no errors
    assert lines[-2] == "Target: no errors with 10 clients for 2 s: **met**."
