"""The README must describe every setting that exists, and no setting that does not."""

import re
from pathlib import Path

from accessible_lib.settings import PREFIX, SETTINGS

CHECKOUT = Path(__file__).resolve().parent.parent
README = (CHECKOUT / "README.md").read_text()


def test_every_setting_is_documented():
    documented = set(re.findall(r"`(ACCESSIBLE_LIB_[A-Z_]+)`", README))
    assert documented == {PREFIX + s.name.upper() for s in SETTINGS}


def test_the_two_commands_come_first():
    first_code_block = README.split("```")[1]
    assert "make run" in first_code_block and "make test" in first_code_block


def test_docs_and_code_refer_to_nothing_outside_the_checkout():
    """A user clones the project alone: what the code relies on, the benchmarks' books included, is in the
    repository."""
    texts = [
        CHECKOUT / "README.md",
        CHECKOUT / "Makefile",
        CHECKOUT / "BENCHMARKS.md",
        *CHECKOUT.glob("docs/*.md"),
    ]
    for folder in ("accessible_lib", "voices", "braille", "scripts", "templates", "tests"):
        texts += [
            p for p in (CHECKOUT / folder).rglob("*") if p.suffix in {".py", ".sh", ".html", ".js", ".md"}
        ]
    texts = [p for p in texts if p.name not in {"SOURCES.md", "test_docs.py"}]
    for path in texts:
        text = path.read_text(encoding="utf-8")
        assert "../shared" not in text, path
        for mention in re.findall(r"[\w./]*TOOLCHAIN\.md", text):
            assert mention.endswith("docs/TOOLCHAIN.md") or path.parent.name == "docs", (path, mention)
    assert (CHECKOUT / "docs" / "TOOLCHAIN.md").is_file()
