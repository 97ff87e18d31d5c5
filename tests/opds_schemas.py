"""Validating OPDS 2.0 documents offline against the published JSON Schemas in tests/corpus/schemas.

The OPDS schemas `$ref` the Readium Web Publication Manifest by absolute URL and back; a `referencing`
registry maps both URL prefixes to the local copies, and a `$ref` to a file that is not there fails the
validation instead of being fetched or skipped.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

from jsonschema import Draft7Validator, FormatChecker
from referencing import Registry, Resource
from referencing.exceptions import NoSuchResource

SCHEMAS = Path(__file__).parent / "corpus" / "schemas"
PREFIXES = {
    "https://readium.org/webpub-manifest/schema/": SCHEMAS / "webpub-manifest",
    "https://drafts.opds.io/schema/": SCHEMAS / "opds2",
}


def _load(path: Path) -> dict:
    """A schema with the ECMAScript named groups of its patterns, `(?<name>`, in Python's spelling."""
    text = path.read_text(encoding="utf-8")
    return json.loads(re.sub(r"\(\?<(?![=!])", "(?P<", text))


def _retrieve(uri: str) -> Resource:
    for prefix, folder in PREFIXES.items():
        if uri.startswith(prefix):
            path = folder / uri.removeprefix(prefix)
            if path.is_file():
                return Resource.from_contents(_load(path))
    raise NoSuchResource(ref=uri)


@cache
def validator(name: str):
    """A validator for opds2/`name` (feed, publication, authentication)."""
    schema = _load(SCHEMAS / "opds2" / f"{name}.schema.json")
    registry = Registry(retrieve=_retrieve)
    return Draft7Validator(schema, registry=registry, format_checker=FormatChecker())


def errors(name: str, document: dict) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator(name).iter_errors(document)
    ]
