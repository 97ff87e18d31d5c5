"""The liblouis project's own YAML specs: every case of every file runs, most through *our* layer.

lou_checkyaml (tests/braille/test_translate.py) proves the installed tables are liblouis 3.24.0's; this
proves our layer (whitespace, escapes, placeholders, the English fast path, Chinese polyphones and
punctuation blanks) leaves liblouis' result alone where it should, and that no spec file is skipped:
- a forward case of a table we offer goes through our `translate` (Chinese with `segment_words=False`: the
  specs have no word spacing), a backward case through our `back_translate`, compared as Unicode braille
  (a spec without `display:` writes braille in the table's own ASCII display; liblouis' charToDots reads it);
- what our paragraph model does not take (typeforms, input whose whitespace we collapse, liblouis' escapes
  for undefined characters, which we replace) and tables we do not offer go to liblouis directly, with the
  spec's display, as lou_checkyaml runs them; cursor and position checks (inputPos) stay lou_checkyaml's.
A case liblouis marks `xfail` must still fail: one that passes means the spec or our layer changed.
The two dictionary harnesses (about 200,000 words) run whole, in half a minute.
"""

from __future__ import annotations

import ctypes
import functools
import re
import unicodedata
from dataclasses import dataclass
from pathlib import Path

import louis
import pytest
import yaml

from braille.tables import TABLES
from braille.translate import BLANK, back_translate, translate

SPECS = Path(__file__).parent.parent / "corpus" / "braille-specs"
# liblouis' file names (and the aliases its specs use) for the tables we offer
OURS = {table.files[0]: name for name, table in TABLES.items()} | {
    "en_US.tbl": "en-us-g2",
    "zh_CHN.tbl": "zh-chn",
}
UNICODE_DISPLAYS = {"unicode-without-blank.dis", "unicode.dis"}
# liblouis writes a character or cell its table lacks as an escape (\x4e00/, \456/); ours never does.
LOUIS_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]+|[0-9]+)/")


class _PairsLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):
    """liblouis specs repeat keys (`table:`/`tests:` blocks in order): keep mappings as ordered pairs."""


_PairsLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    lambda loader, node: [
        (loader.construct_object(key, deep=True), loader.construct_object(value, deep=True))
        for key, value in node.value
    ],
)


@dataclass(frozen=True)
class Case:
    """One test of a spec: a check in one direction, or a forward and a backward one (`bothDirections`)."""

    spec: str
    files: tuple[str, ...]  # liblouis table files, display first when the spec names one
    ours: str | None  # our table's name, when the case can go through our layer
    directions: tuple[str, ...]  # ("forward",), ("backward",) or both
    text: str
    braille: str  # in the spec's display
    typeform: tuple[int, ...] | None
    xfail: bool


def _unescape(value: str) -> str:
    """liblouis' escapes in spec strings, as lou_checkyaml reads them: \\\\, \\xhhhh, \\yhhhhh, \\s..."""
    simple = {"\\": "\\", "e": "\x1b", "f": "\f", "n": "\n", "r": "\r", "s": " ", "t": "\t", "v": "\v"}
    out, index = [], 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            code = value[index + 1]
            width = {"x": 4, "y": 5, "z": 8}.get(code)
            if width and re.fullmatch(r"[0-9a-fA-F]+", value[index + 2 : index + 2 + width] or "-"):
                out.append(chr(int(value[index + 2 : index + 2 + width], 16)))
                index += 2 + width
                continue
            if code in simple:
                out.append(simple[code])
                index += 2
                continue
        out.append(char)
        index += 1
    return "".join(out)


def _find_table(query: list[tuple[str, object]]) -> str:
    """The table liblouis' own table query (metadata such as `system: cmn-traditional`) resolves to."""
    fields = dict(query)
    if "__assert-match" in fields:
        return str(fields["__assert-match"]).strip()
    find = louis.liblouis.lou_findTable
    find.restype, find.argtypes = ctypes.c_char_p, [ctypes.c_char_p]
    found = find(" ".join(f"{key}:{value}" for key, value in fields.items()).encode())
    assert found, f"no installed table matches {fields}"
    return Path(found.decode()).name


def _typeform(files: tuple[str, ...], text: str, spec: list[tuple[str, str]]) -> tuple[int, ...]:
    """A spec's typeform ({italic: '  ++  '}) as liblouis' per-character emphasis bits."""
    marks = [0] * len(text)
    for name, pattern in spec:
        # the binding's getTypeformForEmphClass refers to an undefined name (_is_py3): call liblouis itself
        bit = louis.liblouis.lou_getTypeformForEmphClass(",".join(files).encode(), name.encode())
        for index, mark in enumerate(str(pattern)[: len(text)]):
            if mark != " ":
                marks[index] |= bit
    return tuple(marks)


@functools.cache
def spec_cases(spec: Path) -> list[Case]:
    """Every test of one spec file. As in lou_checkyaml, `flags` apply to the next `tests` block only."""
    cases: list[Case] = []
    display = files = None
    testmode = "forward"
    with spec.open(encoding="utf-8") as stream:
        pairs = yaml.load(stream, Loader=_PairsLoader)
    for key, value in pairs:
        if key == "display":
            display = str(value).strip()
        elif key == "table":
            names = _find_table(value) if isinstance(value, list) else str(value).strip()
            files = tuple(name.strip() for name in names.split(","))
        elif key == "flags":
            testmode = dict(value).get("testmode", "forward")
        elif key == "tests":
            assert files, f"{spec.name}: tests before any table"
            ours = OURS.get(files[0]) if len(files) == 1 else None
            all_files = ((display,) if display else ()) + files
            directions = {"forward": ("forward",), "backward": ("backward",)}.get(
                testmode, ("forward", "backward")
            )
            for test in value:
                source, expected = _unescape(str(test[0])), _unescape(str(test[1]))
                text, braille = (expected, source) if testmode == "backward" else (source, expected)
                options = dict(pair for option in test[2:] for pair in option)
                typeform = _typeform(files, text, options["typeform"]) if "typeform" in options else None
                xfail = bool(options.get("xfail", False))
                cases.append(Case(spec.name, all_files, ours, directions, text, braille, typeform, xfail))
            testmode = "forward"
    return cases


def _display_to_unicode(case: Case, braille: str) -> str:
    """Braille written in the spec's display as Unicode braille, blank cells as U+2800."""
    if case.files[0] in UNICODE_DISPLAYS:
        return braille.replace(" ", BLANK)
    return louis.charToDots(list(case.files), braille, mode=louis.ucBrl).replace(" ", BLANK)


def through_our_layer(case: Case, direction: str) -> bool:
    """Whether our translate (forward) or back_translate (backward) takes the case as it is written."""
    if case.ours is None or case.typeform is not None or LOUIS_ESCAPE.search(case.braille + case.text):
        return False
    if direction == "backward":
        return True
    text = case.text
    return (
        " ".join(text.split()) == text  # we collapse whitespace: a paragraph is one line
        and not any(unicodedata.category(char) in {"Cc", "Cf"} for char in text)  # we drop controls
        and max(_display_to_unicode(case, case.braille), default="") <= "\u283f"  # 6-dot cells only
    )


def run(case: Case, direction: str) -> tuple[str, str]:
    """(what came out, what the spec expects) in one direction, in the same form."""
    if through_our_layer(case, direction):
        if direction == "forward":
            got = translate(case.text, case.ours, segment_words=False).braille
            return got, _display_to_unicode(case, case.braille)
        return back_translate(_display_to_unicode(case, case.braille), case.ours), case.text
    if direction == "forward":
        typeform = list(case.typeform) if case.typeform else None
        return louis.translateString(list(case.files), case.text, typeform=typeform), case.braille
    return louis.backTranslateString(list(case.files), case.braille), case.text


def check(cases: list[Case]) -> None:
    """Every case passes in each of its directions, or, marked xfail, fails in one of them."""
    wrong, passing_xfails = [], []
    for case in cases:
        results = [(direction, *run(case, direction)) for direction in case.directions]
        failed = [(direction, want, got) for direction, got, want in results if got != want]
        if case.xfail and not failed:
            passing_xfails.append((case.spec, case.text))
        elif failed and not case.xfail:
            wrong.append((case.spec, case.text, failed))
    assert not wrong, f"{len(wrong)} of {len(cases)} differ, e.g. {wrong[:3]}"
    assert not passing_xfails, f"{len(passing_xfails)} cases liblouis marks xfail pass: {passing_xfails[:3]}"


ALL = sorted(SPECS.glob("*.yaml"))
HARNESSES = [s for s in ALL if s.name.endswith("dictionary_harness.yaml")]
SMALL = [s for s in ALL if s not in HARNESSES]


@pytest.mark.parametrize("spec", SMALL, ids=[s.name for s in SMALL])
def test_every_case_of_a_spec_runs_and_passes(spec: Path) -> None:
    cases = spec_cases(spec)
    assert cases, f"{spec.name} yields no case"
    check(cases)


@pytest.mark.slow
def test_each_table_we_offer_has_cases_through_our_layer() -> None:
    """Forward cases through our translate for every table we offer, and backward ones for English."""
    cases = [case for spec in ALL for case in spec_cases(spec)]
    forward = {name: 0 for name in TABLES}
    backward = {name: 0 for name in TABLES}
    for case in cases:
        for direction in case.directions:
            if through_our_layer(case, direction):
                (forward if direction == "forward" else backward)[case.ours] += 1
    assert min(forward.values()) >= 9, forward  # zh-chn and zhcn-g1 have the fewest: 10 each
    assert forward["en-ueb-g2"] > 100_000 and forward["en-us-g2"] > 90_000, forward
    assert backward["en-ueb-g1"] and backward["en-ueb-g2"] and backward["en-us-g2"], backward


@pytest.mark.slow
@pytest.mark.parametrize("spec", HARNESSES, ids=[s.name for s in HARNESSES])
def test_dictionary_harness_whole(spec: Path) -> None:
    cases = spec_cases(spec)
    assert len(cases) > 90_000  # the dictionary harnesses: about 100,000 words each
    check(cases)
