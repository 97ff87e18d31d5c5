"""The formats an edition can be made in, registered by name with the options each one accepts.

One registry serves the staff form, `accessible-lib convert`, the queue and the book page, so a format added
later (audio, braille) appears everywhere by registering itself once. Labels, purposes and option help are
English msgids, translated where they are shown. The converter is named by a dotted path and imported only
when a conversion runs, so reading the registry never loads a speech or braille engine.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from voices.engine import DEFAULT_ENGINE

from ..i18n import TranslatableError
from ..ingest.errors import N_

KINDS = ("str", "int", "float", "bool")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Option:
    """One setting of a format: `kind` is one of KINDS; `choices` limits the values of any kind."""

    name: str
    kind: str
    default: object
    help: str  # msgid
    choices: tuple | None = None
    minimum: float | None = None
    maximum: float | None = None
    # For values no list can hold (any installed braille table): raises OptionError for a bad value.
    validate: Callable[[object], None] | None = field(default=None, compare=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"option {self.name}: kind must be one of {', '.join(KINDS)}")


@dataclass(frozen=True)
class EditionFormat:
    name: str
    label: str  # msgid: "Web pages (HTML)"
    purpose: str  # msgid: what the edition is for, "for reading offline in any browser"
    media_type: str  # of the file a download gives
    extension: str  # with its dot: ".zip"
    options: tuple[Option, ...] = ()
    # "package.module:function" converting an exported book; see editions.runner for its signature.
    converter: str = field(default="", compare=False)

    def option(self, name: str) -> Option | None:
        return next((option for option in self.options if option.name == name), None)


class OptionError(TranslatableError, ValueError):
    """Options that a format does not accept. `str()` is English; `translated()` follows the interface."""


FORMATS: dict[str, EditionFormat] = {}


def register(fmt: EditionFormat) -> EditionFormat:
    """Add a format; registering the same definition twice is harmless, a different one under a taken name
    is a mistake."""
    existing = FORMATS.get(fmt.name)
    if existing is not None and existing != fmt:
        raise ValueError(f"another edition format is already registered as {fmt.name!r}")
    FORMATS[fmt.name] = fmt
    return fmt


def get_format(name: str) -> EditionFormat:
    """The format registered as `name`; KeyError for any other name."""
    return FORMATS[name]


def normalise_options(fmt: EditionFormat, raw: Mapping[str, object]) -> dict:
    """Every option of `fmt` with a checked value: given values converted, defaults for the rest.

    Values may come as strings (a form, the command line) or already typed (JSON). The result is what the
    edition is keyed on, so the same request always gives the same dict.
    """
    known = {option.name for option in fmt.options}
    unknown = sorted(str(name) for name in raw if name not in known)
    if unknown:
        if fmt.options:
            raise OptionError(
                N_("The %(format)s format has no option %(name)s; its options are: %(known)s."),
                format=fmt.name,
                name=", ".join(unknown),
                known=", ".join(option.name for option in fmt.options),
            )
        raise OptionError(
            N_("The %(format)s format takes no options (given: %(name)s)."),
            format=fmt.name,
            name=", ".join(unknown),
        )
    values = {}
    for option in fmt.options:
        value = _convert(option, raw[option.name]) if option.name in raw else option.default
        _check(option, value)
        values[option.name] = value
    return values


def _convert(option: Option, value: object) -> object:
    try:
        if option.kind == "bool":
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in _TRUE:
                return True
            if text in _FALSE:
                return False
            raise ValueError(text)
        if option.kind == "int":
            if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                raise ValueError(value)
            return int(str(value).strip()) if isinstance(value, str) else int(value)
        if option.kind == "float":
            if isinstance(value, bool):
                raise ValueError(value)
            return float(str(value).strip()) if isinstance(value, str) else float(value)
        if not isinstance(value, str):
            raise ValueError(value)
        return value.strip()
    except (TypeError, ValueError):
        raise OptionError(_NEEDS[option.kind], name=option.name, value=value) from None


_NEEDS = {
    "str": N_("The option %(name)s needs text, not “%(value)s”."),
    "int": N_("The option %(name)s needs a whole number, not “%(value)s”."),
    "float": N_("The option %(name)s needs a number, not “%(value)s”."),
    "bool": N_("The option %(name)s needs yes or no, not “%(value)s”."),
}


def _check(option: Option, value: object) -> None:
    if option.validate is not None:
        option.validate(value)
    if option.choices is not None and value not in option.choices:
        raise OptionError(
            N_("The option %(name)s must be one of: %(choices)s."),
            name=option.name,
            choices=", ".join(str(choice) for choice in option.choices),
        )
    if option.minimum is not None and value < option.minimum:
        raise OptionError(
            N_("The option %(name)s must be at least %(minimum)s."), name=option.name, minimum=option.minimum
        )
    if option.maximum is not None and value > option.maximum:
        raise OptionError(
            N_("The option %(name)s must be at most %(maximum)s."), name=option.name, maximum=option.maximum
        )


HTML = register(
    EditionFormat(
        name="html",
        label=N_("Web pages (HTML)"),
        purpose=N_("for reading offline in any browser"),
        media_type="application/zip",
        extension=".zip",
        converter="accessible_lib.editions.html_txt:convert_html",
    )
)
TXT = register(
    EditionFormat(
        name="txt",
        label=N_("Plain text"),
        purpose=N_("for any device, braille notetakers and text readers"),
        media_type="text/plain; charset=utf-8",
        extension=".txt",
        converter="accessible_lib.editions.html_txt:convert_txt",
    )
)

# --- Audio: read aloud by a speech engine (voices/) ---

_AUDIO_OPTIONS = (
    Option(
        "voice",
        "str",
        "",
        N_("Speech voice, for example en-gb; leave empty to choose by the book's language"),
    ),
    Option("rate", "int", 175, N_("Speaking rate in words per minute"), minimum=80, maximum=450),
    Option("engine", "str", DEFAULT_ENGINE, N_("Speech engine"), choices=("libespeak", "pyttsx3", "espeak")),
    Option(
        "footnotes",
        "str",
        "chapter",
        N_("Where footnotes are read: at the end of the chapter, or after the paragraph that refers to them"),
        choices=("chapter", "paragraph"),
    ),
)


def _audio_format(name: str, label: str, purpose: str, media_type: str, extension: str) -> EditionFormat:
    """The audio formats differ only in what they are called and what they are packed as."""
    converter = f"accessible_lib.editions.audio:convert_{name.replace('-', '_')}"
    return register(
        EditionFormat(name, label, purpose, media_type, extension, _AUDIO_OPTIONS, converter=converter)
    )


MP3 = _audio_format("mp3", N_("MP3 audio"), N_("for phones and MP3 players"), "application/zip", ".zip")
DAISY202 = _audio_format(
    "daisy202", N_("DAISY 2.02 audio book"), N_("for DAISY players"), "application/zip", ".zip"
)
EPUB3_MO = _audio_format(
    "epub3-mo",
    N_("EPUB 3 with read-aloud audio"),
    N_("for reading apps that highlight the text as it is read"),
    "application/epub+zip",
    ".epub",
)


# --- Braille: liblouis translation and page layout (braille/) ---


def _braille_table(value: object) -> None:
    """Empty chooses by the book's language; otherwise one of ours or any table liblouis has here."""
    if not value:
        return
    from braille.tables import BrailleError, resolve_table

    try:
        resolve_table(str(value))
    except BrailleError:
        raise OptionError(N_("There is no braille table called %(name)s."), name=value) from None


BRAILLE_OPTIONS = (
    Option(
        "table",
        "str",
        "",
        N_("Braille table, for example en-ueb-g2 or zhcn-cbs; leave empty to choose by the book's language"),
        validate=_braille_table,
    ),
    Option("cells", "int", 40, N_("Cells per line"), minimum=20, maximum=60),
    Option("lines", "int", 25, N_("Lines per page"), minimum=10, maximum=50),
    Option("word_spacing", "bool", True, N_("Chinese text: a blank between braille words")),
)
BRF = register(
    EditionFormat(
        "brf",
        N_("Braille (BRF)"),
        N_("for braille embossers and notetakers, in North American ASCII braille"),
        "application/x-brf",
        ".brf",
        BRAILLE_OPTIONS,
        converter="accessible_lib.editions.braille_edition:convert_brf",
    )
)
PEF = register(
    EditionFormat(
        "pef",
        N_("Braille (PEF)"),
        N_("for embossers and braille software that read the Portable Embosser Format"),
        "application/x-pef+xml",
        ".pef",
        BRAILLE_OPTIONS,
        converter="accessible_lib.editions.braille_edition:convert_pef",
    )
)
