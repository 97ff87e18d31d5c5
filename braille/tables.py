"""The braille tables readers and staff choose from, by a short name, and the default for each language.

The names are liblouis' own file names without `.ctb`, so a transcriber who knows liblouis recognises them,
and any other installed table can be asked for by its file name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

TABLE_DIR = Path(os.environ.get("LOUIS_TABLEPATH", "/usr/share/liblouis/tables").split(",")[0])


class BrailleError(ValueError):
    """A table that does not exist or text that cannot be translated; the message is for the user."""


@dataclass(frozen=True)
class Table:
    name: str
    label: str  # English; the web app translates it
    language: str  # "en" or "zh": which text the table is for
    files: tuple[str, ...]
    contracted: bool = False


TABLES: dict[str, Table] = {
    table.name: table
    for table in (
        Table(
            "en-ueb-g2",
            "English, Unified English Braille, grade 2 (contracted)",
            "en",
            ("en-ueb-g2.ctb",),
            True,
        ),
        Table(
            "en-ueb-g1", "English, Unified English Braille, grade 1 (uncontracted)", "en", ("en-ueb-g1.ctb",)
        ),
        Table("en-us-g2", "English, US EBAE grade 2 (contracted)", "en", ("en-us-g2.ctb",), True),
        Table("zhcn-cbs", "Chinese, national common braille (GF 0019-2018)", "zh", ("zhcn-cbs.ctb",)),
        Table("zhcn-g1", "Chinese, current braille with tones", "zh", ("zhcn-g1.ctb",)),
        Table("zh-chn", "Chinese, current braille without tones", "zh", ("zh-chn.ctb",)),
    )
}
DEFAULTS = {"en": "en-ueb-g2", "zh": "zhcn-cbs"}


def default_table(lang: str | None) -> str:
    """The table for text in `lang` (a BCP 47 tag); English for anything we have no table for."""
    primary = (lang or "en").split("-")[0].lower()
    return DEFAULTS.get(primary, DEFAULTS["en"])


def installed_tables() -> list[str]:
    """Every translation table liblouis has here, by name (file name without .ctb/.utb)."""
    if not TABLE_DIR.is_dir():
        return []
    return sorted(p.stem for p in TABLE_DIR.iterdir() if p.suffix in {".ctb", ".utb"})


def resolve_table(name: str) -> Table:
    """The named table: one of ours, or any installed liblouis table by its file name."""
    name = (name or "").strip()
    if name in TABLES:
        return TABLES[name]
    stem = name.removesuffix(".ctb").removesuffix(".utb")
    if stem and "/" not in stem and stem in installed_tables():
        file = next(f"{stem}{s}" for s in (".ctb", ".utb") if (TABLE_DIR / f"{stem}{s}").exists())
        language = "zh" if stem.startswith(("zh", "zhcn", "zh-")) else stem.split("-")[0]
        return Table(stem, stem, language, (file,), contracted="g2" in stem)
    raise BrailleError(f"There is no braille table called {name!r}.")
