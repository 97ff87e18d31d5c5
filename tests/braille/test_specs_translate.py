"""The liblouis project's own YAML specs run through *our* `translate`, not only through lou_checkyaml.

lou_checkyaml proves the installed tables are liblouis 3.24.0's; this proves our layer (whitespace,
escapes, placeholders, the English fast path, Chinese polyphones and punctuation blanks) leaves liblouis'
result alone where it should: every plain forward test of our tables, shown as Unicode braille, that
liblouis itself expects to pass. Chinese goes with `segment_words=False`: the specs have no word spacing.
Tests with typeforms, modes or cursor positions, inputs our paragraph model changes (leading, trailing or
repeated whitespace), liblouis' own backslash escapes, and specs shown in a table's own ASCII braille
(no `display:`) are left to lou_checkyaml.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from braille.translate import BLANK, translate

SPECS = Path(__file__).parent.parent / "corpus" / "braille-specs"
# liblouis' file names (and the aliases its specs use) for the tables we offer
OURS = {
    "en-ueb-g1.ctb": "en-ueb-g1",
    "en-ueb-g2.ctb": "en-ueb-g2",
    "en-us-g2.ctb": "en-us-g2",
    "en_US.tbl": "en-us-g2",
    "zhcn-cbs.ctb": "zhcn-cbs",
    "zhcn-g1.ctb": "zhcn-g1",
    "zh-chn.ctb": "zh-chn",
    "zh_CHN.tbl": "zh-chn",
}
UNICODE_DISPLAYS = {"unicode-without-blank.dis", "unicode.dis"}


class _PairsLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """liblouis specs repeat keys (`table:`/`tests:` blocks in order): keep mappings as ordered pairs."""


_PairsLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    lambda loader, node: [
        (loader.construct_object(key, deep=True), loader.construct_object(value, deep=True))
        for key, value in node.value
    ],
)


def _table_name(value) -> str | None:
    if isinstance(value, str):
        return OURS.get(value.strip())
    if isinstance(value, list):
        return OURS.get(str(dict(value).get("__assert-match", "")).strip())
    return None


def plain_forward_tests(spec: Path) -> list[tuple[str, str, str]]:
    """(table, text, expected Unicode braille) for each plain forward test of one of our tables."""
    cases = []
    display = table = None
    testmode = "forward"
    with spec.open(encoding="utf-8") as stream:
        pairs = yaml.load(stream, Loader=_PairsLoader)
    for key, value in pairs:
        if key == "display":
            display = str(value).strip()
        elif key == "table":
            table = _table_name(value)
        elif key == "flags":
            testmode = dict(value).get("testmode", "forward")
        elif (
            key == "tests"
            and table
            and display in UNICODE_DISPLAYS
            and testmode in ("forward", "bothDirections")
        ):
            for test in value:
                text, expected, *options = (str(test[0]), str(test[1]), *test[2:])
                if options and (len(options) > 1 or [k for k, v in options[0] if k != "xfail" or v]):
                    continue  # typeform, mode, cursor, or liblouis itself expects it to fail
                escaped = "\\" in text + expected or max(expected, default="") > "\u283f"
                if escaped or " ".join(text.split()) != text:
                    continue  # liblouis' own escapes (\\, \\x...) are for lou_checkyaml
                cases.append((table, text, expected.replace(" ", BLANK)))
    return cases


SMALL = [s for s in sorted(SPECS.glob("*.yaml")) if s.stat().st_size < 100_000]
LARGE = [s for s in sorted(SPECS.glob("*.yaml")) if s.stat().st_size >= 100_000]


def _check(spec: Path) -> int:
    cases = plain_forward_tests(spec)
    wrong = [
        (table, text, want, got)
        for table, text, want in cases
        if (got := translate(text, table, segment_words=False).braille) != want
    ]
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, e.g. {wrong[:3]}"
    return len(cases)


def test_small_specs_pass_through_our_translate() -> None:
    chinese = [case for spec in SMALL for case in plain_forward_tests(spec) if case[0].startswith("zh")]
    assert len(chinese) >= 40  # zhcn-cbs 32, zhcn-g1 10, zh-chn
    counted = sum(_check(spec) for spec in SMALL)
    assert counted > 640  # en-ueb-g1_harness, en-ueb-symbols_harness, en-ueb-g2_backward, en-us-g2, zh*


@pytest.mark.slow
@pytest.mark.parametrize("spec", LARGE, ids=[s.name for s in LARGE])
def test_large_specs_pass_through_our_translate(spec: Path) -> None:
    if spec.name.startswith(("en-ueb-g2-dictionary", "en-us-g2-dictionary")):
        assert _check(spec) > 30_000  # the dictionary harnesses: tens of thousands of words each
    else:
        _check(spec)
