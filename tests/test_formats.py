"""The edition format registry and option checking."""

from __future__ import annotations

from pathlib import Path

import pytest

from accessible_lib.editions import formats
from accessible_lib.editions.formats import EditionFormat, Option, OptionError, normalise_options
from accessible_lib.editions.runner import load_converter, run_conversion


@pytest.fixture
def voiced():
    """A format with one option of every kind, removed again after the test."""
    fmt = EditionFormat(
        name="test-voiced",
        label="Test voiced",
        purpose="for tests",
        media_type="application/zip",
        extension=".zip",
        options=(
            Option("voice", "str", "en-us", "Voice", choices=("en-us", "cmn")),
            Option("rate", "int", 175, "Words per minute", minimum=80, maximum=450),
            Option("pitch", "float", 1.0, "Pitch", minimum=0.5, maximum=2.0),
            Option("numbered", "bool", False, "Number the pages"),
        ),
    )
    formats.register(fmt)
    yield fmt
    del formats.FORMATS[fmt.name]


def test_html_and_txt_are_registered_without_options() -> None:
    html = formats.get_format("html")
    txt = formats.get_format("txt")
    assert (html.label, html.purpose) == ("Web pages (HTML)", "for reading offline in any browser")
    assert (txt.label, txt.purpose) == ("Plain text", "for any device, braille notetakers and text readers")
    assert (html.extension, html.media_type) == (".zip", "application/zip")
    assert txt.extension == ".txt" and txt.media_type.startswith("text/plain")
    assert html.options == () and txt.options == ()
    assert formats.FORMATS["html"] is html
    assert normalise_options(html, {}) == {}
    for fmt in (html, txt):
        assert callable(load_converter(fmt))


def test_unknown_format_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        formats.get_format("pdf")


def test_options_for_a_format_without_options_are_refused() -> None:
    with pytest.raises(ValueError, match="takes no options") as caught:
        normalise_options(formats.get_format("txt"), {"voice": "en-us"})
    assert isinstance(caught.value, OptionError)
    assert "voice" in str(caught.value)


def test_defaults_fill_missing_options(voiced: EditionFormat) -> None:
    assert normalise_options(voiced, {}) == {"voice": "en-us", "rate": 175, "pitch": 1.0, "numbered": False}


def test_strings_from_forms_become_typed_values(voiced: EditionFormat) -> None:
    got = normalise_options(voiced, {"voice": " cmn ", "rate": "200", "pitch": "1.5", "numbered": "yes"})
    assert got == {"voice": "cmn", "rate": 200, "pitch": 1.5, "numbered": True}
    assert normalise_options(voiced, {"numbered": "off", "rate": 90.0})["numbered"] is False


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ({"voice": "klingon"}, "must be one of: en-us, cmn"),
        ({"rate": "fast"}, "needs a whole number"),
        ({"rate": 12.5}, "needs a whole number"),
        ({"rate": True}, "needs a whole number"),
        ({"rate": "79"}, "at least 80"),
        ({"rate": 451}, "at most 450"),
        ({"pitch": "high"}, "needs a number"),
        ({"pitch": 3}, "at most 2.0"),
        ({"numbered": "maybe"}, "needs yes or no"),
        ({"voice": 5}, "needs text"),
        ({"speed": 1}, "has no option speed; its options are: voice, rate, pitch, numbered"),
    ],
)
def test_bad_values_are_refused_with_a_reason(voiced: EditionFormat, raw: dict, words: str) -> None:
    with pytest.raises(ValueError) as caught:
        normalise_options(voiced, raw)
    assert words in str(caught.value)
    assert caught.value.translated() == str(caught.value)  # no locale active: English


def test_registering_a_different_format_under_a_taken_name_fails(voiced: EditionFormat) -> None:
    assert formats.register(voiced) is voiced  # the same definition again is harmless
    other = EditionFormat("test-voiced", "Other", "for other tests", "text/plain", ".txt")
    with pytest.raises(ValueError, match="already registered"):
        formats.register(other)
    assert formats.get_format("test-voiced") is voiced


def test_option_kind_is_checked() -> None:
    with pytest.raises(ValueError, match="kind must be one of"):
        Option("cells", "integer", 40, "Cells per line")


def test_runner_refuses_unknown_formats_and_formats_without_converter(voiced, tmp_path: Path) -> None:
    book = {"title": "x", "chapters": [], "toc": [], "resources": []}
    with pytest.raises(KeyError):
        run_conversion(book, "pdf", {}, tmp_path, lambda fraction, step: None)
    with pytest.raises(ValueError, match="at most 450"):
        run_conversion(book, "test-voiced", {"rate": 1000}, tmp_path, lambda fraction, step: None)
    with pytest.raises(LookupError, match="names no converter"):
        run_conversion(book, "test-voiced", {}, tmp_path, lambda fraction, step: None)
