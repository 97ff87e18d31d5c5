"""The README must describe every setting that exists, and no setting that does not."""

import re
from pathlib import Path

from accessible_lib.settings import PREFIX, SETTINGS

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented():
    documented = set(re.findall(r"`(ACCESSIBLE_LIB_[A-Z_]+)`", README))
    assert documented == {PREFIX + s.name.upper() for s in SETTINGS}


def test_the_two_commands_come_first():
    first_code_block = README.split("```")[1]
    assert "make run" in first_code_block and "make test" in first_code_block
