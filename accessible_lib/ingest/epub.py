"""Reading an EPUB (2 or 3) into an IngestedBook: metadata, chapters in reading order, TOC and images.

The archive is checked by `safezip` first; everything here works on those checked bytes only. ebooklib
reads the metadata (it knows the many shapes OPF metadata comes in); the manifest, spine and table of
contents are read with our own safe parser, because ebooklib drops TOC depth and fragments, mislabels
cover documents and fails on books that readers open happily. Any failure on bad input becomes an
IngestError with a reason a librarian can act on.
"""

from __future__ import annotations

import io
import posixpath
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from ebooklib import epub as ebooklib_epub
from lxml import etree
from lxml import html as lxml_html

from ..settings import Settings
from . import sanitize, toc
from .boilerplate import mark_boilerplate
from .chapters import BOILERPLATE_IDS, Document, build_chapters
from .errors import N_, IngestError
from .language import chinese_script, detect_language, normalise_language_tag
from .model import IngestedBook, Resource, TocEntry
from .safezip import CheckedArchive, is_xml, read_checked_zip
from .xhtml import (
    NoteIndex,
    body_of,
    element_text,
    local_name,
    normalise_space,
    parse_document,
    safe_xml_parser,
    scan_document,
)

OPF = "http://www.idpf.org/2007/opf"
DC = "http://purl.org/dc/elements/1.1/"
CONTAINER = "urn:oasis:names:tc:opendocument:xmlns:container"
NCX = "http://www.daisy.org/z3986/2005/ncx/"
HTML_TYPES = {"application/xhtml+xml", "text/html", "application/x-dtbook+xml"}
MAX_IMAGE_BYTES = 10 * 1024 * 1024
# Raster images we serve, recognised by their first bytes, never by the name or declared type.
IMAGE_MAGIC = [
    (b"\xff\xd8\xff", "image/jpeg", ".jpg"),
    (b"\x89PNG\r\n\x1a\n", "image/png", ".png"),
    (b"GIF87a", "image/gif", ".gif"),
    (b"GIF89a", "image/gif", ".gif"),
]
_ISBN = re.compile(r"^(97[89]\d{10}|\d{9}[\dX])$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.IGNORECASE)
_RESOURCE = re.compile(r'src="resource:([^"]+)"')


@dataclass
class ManifestItem:
    id: str
    path: str  # zip path
    media_type: str
    properties: set[str] = field(default_factory=set)


@dataclass
class Package:
    opf_path: str
    root: etree._Element
    manifest: dict[str, ManifestItem]
    spine: list[ManifestItem]
    ncx: ManifestItem | None
    nav: ManifestItem | None


@dataclass
class _Document:
    path: str
    heading: str | None
    title: str | None


def read_epub(path: Path, settings: Settings, *, checksum: str, source_name: str) -> IngestedBook:
    """Read the EPUB at `path`, or raise IngestError saying why it cannot be imported."""
    archive = read_checked_zip(path, settings)
    try:
        return _read_book(archive, checksum=checksum, source_name=source_name)
    except IngestError:
        raise
    except (RecursionError, MemoryError):
        raise IngestError(N_("The EPUB is nested too deeply or too large to read.")) from None
    except Exception as error:  # noqa: BLE001 - any parser failure on hostile input is a rejection
        raise IngestError(
            N_("The EPUB could not be read (%(reason)s)."), reason=type(error).__name__
        ) from None


def _read_book(archive: CheckedArchive, *, checksum: str, source_name: str) -> IngestedBook:
    entries = archive.entries
    package = load_package(entries)
    dc, metas = _ebooklib_metadata(entries, package)
    documents = _scan_spine(package, entries)
    if not documents:
        raise IngestError(N_("The EPUB has no readable chapters."))
    href_map = {document.path: i for i, (document, _) in enumerate(documents)}
    notes = documents[0][1]
    contents = read_toc(package, entries, href_map)
    for entry in contents:
        if entry.fragment:  # an element the TOC points to keeps its id, even a bare <span>
            target = documents[entry.chapter_index][0].path
            notes.targets.setdefault(target, set()).add(entry.fragment[len(sanitize.ID_PREFIX) :])
    for document, _ in documents:  # Project Gutenberg's header and licence: where back matter is cut
        notes.targets.setdefault(document.path, set()).update(BOILERPLATE_IDS)
    image_map, images = _images(entries)
    book = IngestedBook(title="", source_format="epub", checksum=checksum, source_name=source_name)
    _fill_metadata(book, dc, metas)
    sanitised: list[Document] = []
    for index, (document, _) in enumerate(documents):
        markup, _text, lang = sanitize.clean_chapter(
            entries[document.path],
            href_map=href_map,
            path=document.path,
            chapter_index=index,
            image_map=image_map,
            notes=notes,
        )
        fallback = document.heading or document.title or str(index + 1)
        sanitised.append(Document(markup, lang, fallback, document.title))
    book.chapters, contents = build_chapters(mark_boilerplate(sanitised), contents)
    # Each chapter comes with its document's own language; _set_languages keeps it where it differs.
    raw_langs = [chapter.lang for chapter in book.chapters]
    for chapter in book.chapters:
        chapter.lang = None
    for entry in contents:
        if entry.fragment and f'id="{entry.fragment}"' not in book.chapters[entry.chapter_index].html:
            entry.fragment = None  # the target vanished (it was in something we removed)
    book.toc = contents
    _set_languages(book, dc, raw_langs)
    if not book.title:
        book.title = Path(source_name).stem or book.chapters[0].title
    used = set()
    for chapter in book.chapters:
        used.update(_RESOURCE.findall(chapter.html))
    book.resources = [resource for resource in images if resource.name in used]
    return book


def load_package(entries: dict[str, bytes]) -> Package:
    """Find the package document through container.xml and read its manifest and spine."""
    container = entries.get("META-INF/container.xml")
    if container is None:
        raise IngestError(N_("The EPUB has no META-INF/container.xml, so its contents cannot be found."))
    root = etree.fromstring(container, safe_xml_parser()) if container.strip() else None
    if root is None:
        raise IngestError(N_("The EPUB's META-INF/container.xml is not readable XML."))
    rootfiles = [e for e in root.iter() if local_name(e) == "rootfile"]
    rootfiles.sort(key=lambda e: e.get("media-type") != "application/oebps-package+xml")
    if not rootfiles or not rootfiles[0].get("full-path"):
        raise IngestError(N_("The EPUB's container.xml does not name a package document."))
    opf_path = _zip_path(rootfiles[0].get("full-path"), "")
    if opf_path is None or opf_path not in entries:
        raise IngestError(
            N_("The package document %(name)s named in container.xml is missing."),
            name=rootfiles[0].get("full-path"),
        )
    opf = etree.fromstring(entries[opf_path], safe_xml_parser()) if entries[opf_path].strip() else None
    if opf is None or local_name(opf) != "package":
        raise IngestError(N_("The package document %(name)s is not readable."), name=opf_path)
    manifest: dict[str, ManifestItem] = {}
    spine: list[ManifestItem] = []
    ncx_id = None
    for element in opf:
        name = local_name(element)
        if name == "manifest":
            for item in element:
                href, item_id = item.get("href"), item.get("id")
                path = _zip_path(href, opf_path) if href else None
                if local_name(item) == "item" and item_id and path:
                    manifest[item_id] = ManifestItem(
                        item_id,
                        path,
                        (item.get("media-type") or "").strip().lower(),
                        set((item.get("properties") or "").split()),
                    )
        elif name == "spine":
            ncx_id = element.get("toc")
            for itemref in element:
                item = manifest.get(itemref.get("idref") or "")
                if item is not None and local_name(itemref) == "itemref":
                    spine.append(item)
    ncx = manifest.get(ncx_id or "") or next(
        (i for i in manifest.values() if i.media_type == "application/x-dtbncx+xml"), None
    )
    nav = next((i for i in manifest.values() if "nav" in i.properties), None)
    return Package(opf_path, opf, manifest, spine, ncx, nav)


def _zip_path(href: str, base: str) -> str | None:
    """The zip entry a manifest href names, or None when it points outside the book."""
    parts = urlsplit(href.strip())
    if parts.scheme or parts.netloc or not parts.path or parts.path.startswith(("/", "\\")):
        return None
    path = posixpath.normpath(posixpath.join(posixpath.dirname(base), unquote(parts.path)))
    return None if path == ".." or path.startswith("../") else path


def _ebooklib_metadata(
    entries: dict[str, bytes], package: Package
) -> tuple[dict[str, list[tuple[str, dict]]], list[tuple[str | None, dict]]]:
    """Dublin Core values and <meta> elements, as ebooklib reads them; our own reading if it fails.

    ebooklib gets a fresh in-memory ZIP of the checked entries only (XML, with DOCTYPEs removed);
    other files are given to it empty, since we never use its copies of them.
    """
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as clean:
        for name, data in entries.items():
            clean.writestr(name, data if is_xml(name, data) else b"")
    try:
        book = ebooklib_epub.read_epub(buffer, {"ignore_ncx": True})
        dc = {k: [(v or "", dict(a)) for v, a in vs] for k, vs in book.metadata.get(DC, {}).items()}
        metas = [(v, dict(a)) for vs in book.metadata.get(OPF, {}).values() for v, a in vs]
        if dc:
            return dc, metas
    except Exception:  # noqa: BLE001 - ebooklib gives up on odd but harmless books; we do not
        pass
    return _own_metadata(package.root)


def _own_metadata(opf: etree._Element) -> tuple[dict, list]:
    dc: dict[str, list[tuple[str, dict]]] = {}
    metas: list[tuple[str | None, dict]] = []
    for element in opf.iter():
        if not isinstance(element.tag, str):
            continue
        if element.tag.startswith(f"{{{DC}}}"):
            text = "".join(element.itertext())
            dc.setdefault(local_name(element), []).append((text, dict(element.attrib)))
        elif local_name(element) == "meta":
            metas.append((element.text, dict(element.attrib)))
    return dc, metas


def _fill_metadata(book: IngestedBook, dc: dict, metas: list) -> None:
    refinements: dict[str, dict[str, str]] = {}
    for value, attrs in metas:
        refines, prop = attrs.get("refines", ""), attrs.get("property")
        if refines.startswith("#") and prop:
            refinements.setdefault(refines[1:], {}).setdefault(prop, normalise_space(value))

    def refined(attrs: dict, prop: str) -> str:
        return refinements.get(attrs.get("id", ""), {}).get(prop, "")

    titles = [(t, a) for t, a in dc.get("title", []) if normalise_space(t)]
    main = [t for t, a in titles if refined(a, "title-type") == "main"]
    plain = [t for t, a in titles if not refined(a, "title-type")]
    subtitles = [t for t, a in titles if refined(a, "title-type") == "subtitle"]
    book.title = normalise_space((main or plain or [t for t, _ in titles] or [""])[0])
    book.subtitle = normalise_space(subtitles[0]) if subtitles else None

    creators = []
    for position, (name, attrs) in enumerate(dc.get("creator", [])):
        role = attrs.get(f"{{{OPF}}}role") or attrs.get("opf:role") or refined(attrs, "role")
        seq = refined(attrs, "display-seq")
        order = int(seq) if seq.isdigit() else 10_000 + position
        if normalise_space(name):
            creators.append((order, normalise_space(name), role.lower()))
    creators.sort(key=lambda c: c[0])
    authors = [name for _, name, role in creators if role in ("", "aut")]
    book.authors = authors or [name for _, name, _ in creators]

    book.subjects = [normalise_space(s) for s, _ in dc.get("subject", []) if normalise_space(s)]
    descriptions = [d for d, _ in dc.get("description", []) if normalise_space(d)]
    book.description = _strip_html(descriptions[0]) if descriptions else None
    book.publisher = _first(dc, "publisher")
    dates = dc.get("date", [])
    published = [d for d, a in dates if (a.get(f"{{{OPF}}}event") or "") == "publication"]
    book.date = normalise_space(published[0]) if published else _first(dc, "date")
    book.rights_statement = _first(dc, "rights")
    book.identifiers = _identifiers(dc.get("identifier", []))


def _first(dc: dict, name: str) -> str | None:
    values = [normalise_space(v) for v, _ in dc.get(name, []) if normalise_space(v)]
    return values[0] if values else None


def _strip_html(value: str) -> str | None:
    """Descriptions often hold escaped HTML; the catalogue wants words."""
    if "<" not in value:
        return normalise_space(value) or None
    try:
        fragment = lxml_html.fragment_fromstring(value, create_parent="div")
        return normalise_space(fragment.text_content()) or None
    except (etree.ParserError, ValueError):
        return normalise_space(re.sub(r"<[^>]*>", " ", value)) or None


def _identifiers(values: list[tuple[str, dict]]) -> list[tuple[str, str]]:
    found: list[tuple[str, str]] = []
    for value, attrs in values:
        value = normalise_space(value)
        scheme = (attrs.get(f"{{{OPF}}}scheme") or attrs.get("opf:scheme") or "").lower()
        lowered = value.lower()
        for prefix, name in (("urn:isbn:", "isbn"), ("isbn:", "isbn"), ("urn:uuid:", "uuid")):
            if lowered.startswith(prefix):
                value, scheme = value[len(prefix) :].strip(), name
                break
        compact = re.sub(r"[\s-]", "", value).upper()
        if scheme == "isbn" or (not scheme and _ISBN.match(compact)):
            scheme, value = "isbn", compact
        elif _UUID.match(value):
            scheme, value = "uuid", value.lower()
        elif not scheme:
            scheme = "url" if lowered.startswith(("http://", "https://")) else "other"
        if value and (scheme, value) not in found:
            found.append((scheme, value))
    return found


def _scan_spine(package: Package, entries: dict[str, bytes]) -> list[tuple[_Document, NoteIndex]]:
    """Spine documents worth a chapter (some text or an image), and one note index for all of them."""
    notes = NoteIndex()
    documents: list[_Document] = []
    seen: set[str] = set()
    for item in package.spine:
        if item.path in seen or item.path not in entries:
            continue
        seen.add(item.path)
        if item.media_type not in HTML_TYPES and not item.path.lower().endswith(
            (".xhtml", ".html", ".htm", ".xht")
        ):
            continue
        root = parse_document(entries[item.path])
        if root is None:
            continue
        body = body_of(root)
        has_image = any(local_name(e) in {"img", "image"} for e in body.iter())
        if not element_text(body) and not has_image:
            continue
        scan_document(root, item.path, notes)
        documents.append(_Document(item.path, _first_heading(body), _title(root)))
    notes.finish()
    return [(document, notes) for document in documents]


def _first_heading(body: etree._Element) -> str | None:
    for element in body.iter():
        if local_name(element) in {"h1", "h2", "h3", "h4", "h5", "h6"}:
            text = element_text(element)
            if text:
                return text
    return None


def _title(root: etree._Element) -> str | None:
    for element in root.iter():
        if local_name(element) == "title":
            return element_text(element) or None
    return None


def read_toc(package: Package, entries: dict[str, bytes], href_map: dict[str, int]) -> list[TocEntry]:
    """The nested table of contents from the EPUB 3 nav, else from the EPUB 2 NCX."""
    return toc.read_toc(
        entries,
        href_map,
        nav_path=package.nav.path if package.nav else None,
        ncx_path=package.ncx.path if package.ncx else None,
    )


def _images(entries: dict[str, bytes]) -> tuple[dict[str, str], list[Resource]]:
    """Every raster image in the archive, under a safe name; SVG is left out (it can script)."""
    image_map: dict[str, str] = {}
    resources: list[Resource] = []
    for name, data in entries.items():
        if len(data) > MAX_IMAGE_BYTES:
            continue
        for magic, media_type, suffix in IMAGE_MAGIC:
            if data.startswith(magic):
                resource = f"img-{len(resources) + 1}{suffix}"
                image_map[name] = resource
                resources.append(Resource(resource, media_type, data))
                break
        else:
            if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
                resource = f"img-{len(resources) + 1}.webp"
                image_map[name] = resource
                resources.append(Resource(resource, "image/webp", data))
    return image_map, resources


def _set_languages(book: IngestedBook, dc: dict, raw_langs: list[str | None]) -> None:
    sample = "\n".join(chapter.text for chapter in book.chapters)[:20_000]
    declared = _first(dc, "language")
    language = normalise_language_tag(declared)
    if language == "zh-Hans" and (declared or "").strip().lower() == "zh":
        language = chinese_script(sample) or language  # plain "zh" says nothing about the script
    if language is None:
        own = [normalise_language_tag(lang) for lang in raw_langs if lang]
        language = detect_language(sample) or (own[0] if own else None)
    book.language = language
    for chapter, raw in zip(book.chapters, raw_langs, strict=True):
        lang = normalise_language_tag(raw)
        if lang and language and not _same_language(lang, language):
            chapter.lang = lang
        elif lang and not language:
            chapter.lang = lang


def _same_language(a: str, b: str) -> bool:
    a, b = a.lower(), b.lower()
    return a == b or a.startswith(b + "-") or b.startswith(a + "-")
