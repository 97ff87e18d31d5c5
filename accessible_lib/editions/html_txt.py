"""The two editions every book gets first: web pages in a zip, and plain text.

Both stream: each chapter is turned into its output and written before the next is read, so memory holds the
exported book and one chapter's output, whatever the book's length. Sizes and checksums are counted while
writing (`runner.OutputFile`).

The web pages are made to be read offline with a screen reader or magnification: one page per chapter with
the chapter title as its only h1, previous/next/contents links at the top and bottom, and a small stylesheet
that keeps the reader's own font size and colours. Navigation words are in the book's language when the
interface has it (a Chinese book gets Chinese links), and otherwise marked with their own `lang`, so a screen
reader never reads English words with a Chinese voice.
"""

from __future__ import annotations

import base64
import html
import re
import zipfile
from pathlib import Path

from ..chapter_markup import fit_chapter, same_text
from ..i18n import BY_CODE, book_catalogue, book_gettext, gettext
from ..ingest.errors import N_
from .export import edition_identifier, source_identifier
from .runner import OutputFile, Progress

_SAFE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")
_UNCOMPRESSED = {"image/jpeg", "image/png", "image/gif", "image/webp"}  # already compressed

STYLE = """\
/* Keeps the reader's font size, font and colours; only spacing and width are set. */
html { line-height: 1.6; }
body { margin: 0 auto; padding: 1em; max-width: 40em; }
img { max-width: 100%; height: auto; }
a:focus { outline: 3px solid; outline-offset: 2px; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: 0.5em 1.5em; }
nav ol ol { padding-left: 1.5em; }
[role="doc-pagebreak"] { display: inline; }
@media (prefers-color-scheme: dark) {
  html { background: #121212; color: #eee; }
  a { color: #9cf; }
  a:visited { color: #d9b3ff; }
}
@media print { nav { display: none; } }
"""


def convert_html(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    chapters = book["chapters"]
    total = len(chapters)
    lang = book.get("language") or "und"
    words = _Words(lang)
    pages = [f"chapter-{index + 1:03d}.html" for index in range(total)]
    images = {r["name"]: _safe_name(r["name"], i) for i, r in enumerate(book["resources"])}
    progress(0.0, gettext("Starting"))
    with OutputFile(workspace, "book.zip", "application/zip") as output:
        with zipfile.ZipFile(output, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            archive.writestr(_entry("style.css"), STYLE)
            archive.writestr(_entry("index.html"), _index_page(book, pages, lang, words))
            for index in range(total):
                progress(index / (total + 1), _chapter_step(index, total))
                page = _chapter_page(book, index, pages, images, lang, words)
                archive.writestr(_entry(pages[index]), page.encode("utf-8"))
            progress(total / (total + 1), gettext("Adding images"))
            for resource in book["resources"]:
                data = base64.b64decode(resource["data"])
                stored = resource["media_type"] in _UNCOMPRESSED
                archive.writestr(_entry(f"images/{images[resource['name']]}", stored=stored), data)
    progress(1.0, gettext("Finished"))
    return [output.record()]


def convert_txt(book: dict, options: dict, workspace: Path, progress: Progress) -> list[dict]:
    chapters = book["chapters"]
    total = len(chapters)
    progress(0.0, gettext("Starting"))
    with OutputFile(workspace, "book.txt", "text/plain; charset=utf-8") as output:
        head = [book["title"]]
        if book.get("subtitle"):
            head.append(book["subtitle"])
        if book.get("authors"):
            head.append(", ".join(book["authors"]))
        output.write(_lines("\n".join(head)).encode("utf-8") + b"\n")
        output.write(_contents(book).encode("utf-8"))
        for index, chapter in enumerate(chapters):
            progress(index / max(total, 1), _chapter_step(index, total))
            title = _lines(chapter["title"] or "").strip() or _fallback_title(index)
            text = _without_leading_title(_lines(chapter["text"] or ""), title)
            output.write(f"\n\n{title}\n\n{text}\n".encode())
    progress(1.0, gettext("Finished"))
    return [output.record()]


def _contents(book: dict) -> str:
    """A contents list after the title, indented by level, so a braille notetaker or text reader can see the
    book's shape and search for a chapter title; in the book's language, like the rest of the file."""
    chapters = book["chapters"]
    if len(chapters) < 2:
        return ""
    lines = [book_gettext(book.get("language"), "Contents")]
    for index, chapter in enumerate(chapters):
        title = " ".join((chapter["title"] or "").split()) or _fallback_title(index)
        lines.append("  " * max(int(chapter.get("level") or 1), 1) + title)
    return "\n\n" + "\n".join(lines) + "\n"


def _entry(name: str, *, stored: bool = False) -> zipfile.ZipInfo:
    """A zip entry with a fixed date: the same book and options always give the same bytes and checksum."""
    info = zipfile.ZipInfo(name, date_time=(2000, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_STORED if stored else zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    return info


def _chapter_step(index: int, total: int) -> str:
    return gettext("Chapter %(number)d of %(total)d", number=index + 1, total=total)


def _fallback_title(index: int) -> str:
    return gettext("Chapter %(number)d", number=index + 1)


def _lines(text: str) -> str:
    """LF line ends, no trailing spaces, no runs of more than one blank line."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = "\n".join(line.rstrip() for line in text.split("\n"))
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


def _without_leading_title(text: str, title: str) -> str:
    """Chapter text often starts with its own heading; the title is already written just above."""
    first, _, rest = text.partition("\n\n")
    return rest if same_text(first, title) else text


# --- Web pages ---


class _Words:
    """Navigation words in the book's language when there is a catalogue for it, each with its real `lang`."""

    def __init__(self, book_lang: str):
        self.book_lang = book_lang
        code, self.translations = book_catalogue(book_lang)
        self.lang = BY_CODE[code].lang

    def __call__(self, message: str) -> str:
        """The word as HTML, wrapped in a span with its language when that differs from the page's."""
        text = self.translations.gettext(message)
        lang = self.lang if text != message else "en"
        if _primary(lang) == _primary(self.book_lang):
            return html.escape(text)
        return f'<span lang="{html.escape(lang)}">{html.escape(text)}</span>'

    def plain(self, message: str) -> str:
        """For attributes (aria-label), where no span can mark the language."""
        return self.translations.gettext(message)


def _primary(tag: str) -> str:
    return tag.split("-")[0].lower()


def _safe_name(name: str, index: int) -> str:
    if _SAFE_NAME.match(name) and not name.lower().endswith((".html", ".css")):
        return name
    suffix = re.sub(r"[^A-Za-z0-9]", "", Path(name).suffix)[:8]
    return f"image-{index + 1}" + (f".{suffix}" if suffix else "")


def _page(lang: str, title: str, body: str, meta: str = "") -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{html.escape(title)}</title>\n{meta}"
        '<link rel="stylesheet" href="style.css">\n</head>\n<body>\n'
        f"{body}\n</body>\n</html>\n"
    )


def _index_page(book: dict, pages: list[str], lang: str, words: _Words) -> str:
    parts = ["<main>", f"<h1>{html.escape(book['title'])}</h1>"]
    if book.get("subtitle"):
        parts.append(f'<p class="subtitle">{html.escape(book["subtitle"])}</p>')
    if book.get("authors"):
        parts.append(f'<p class="authors">{html.escape(", ".join(book["authors"]))}</p>')
    entries = [
        (entry["level"] or 1, entry["title"], _href(pages, entry["chapter_index"], entry.get("fragment")))
        for entry in book["toc"]
        if 0 <= entry["chapter_index"] < len(pages)
    ]
    if not entries:
        entries = [
            (chapter.get("level") or 1, chapter["title"] or _fallback_title(i), pages[i])
            for i, chapter in enumerate(book["chapters"])
        ]
    parts.append(f'<nav aria-labelledby="contents">\n<h2 id="contents">{words(N_("Contents"))}</h2>')
    parts.append(_nested_list(entries))
    parts.append("</nav>\n</main>")
    return _page(lang, book["title"], "\n".join(parts), _identifier_meta(book))


def _identifier_meta(book: dict) -> str:
    """Dublin Core in HTML (DCMI's convention): the edition's persistent identifier, and the book's as its
    source, so the pages found offline still lead back to the library's record."""
    lines = ['<link rel="schema.DC" href="http://purl.org/dc/elements/1.1/">\n']
    lines.append(f'<meta name="DC.identifier" content="{html.escape(edition_identifier(book))}">\n')
    if source := source_identifier(book):
        lines.append(f'<meta name="DC.source" content="{html.escape(source)}">\n')
    return "".join(lines)


def _href(pages: list[str], index: int, fragment: str | None) -> str:
    return f"{pages[index]}#{fragment}" if fragment else pages[index]


def _nested_list(entries: list[tuple[int, str, str]]) -> str:
    """An ordered list nested by level; a level that jumps (1 to 3) nests only one step deeper."""
    out: list[str] = []
    depth = 0
    for level, title, href in entries:
        item = f'<li><a href="{html.escape(href)}">{html.escape(title)}</a>'
        wanted = max(1, min(level, depth + 1))
        if wanted > depth:
            out.append("<ol>" * (wanted - depth))
        else:
            out.append("</li>")
            out.append("</ol></li>" * (depth - wanted))
        depth = wanted
        out.append(item)
    if depth:
        out.append("</li>" + "</ol></li>" * (depth - 1) + "</ol>")
    return "".join(out)


def _chapter_page(
    book: dict, index: int, pages: list[str], images: dict[str, str], lang: str, words: _Words
) -> str:
    chapters = book["chapters"]
    chapter = chapters[index]
    title = chapter["title"] or _fallback_title(index)
    page_lang = chapter.get("lang") or lang
    content = _fit_content(chapter["html"] or "", title, pages, images, words.plain(N_("Back to text")))
    links = []
    if index > 0:
        previous = chapters[index - 1]["title"] or _fallback_title(index - 1)
        links.append(
            f'<li><a rel="prev" href="{pages[index - 1]}">{words(N_("Previous chapter:"))} '
            f"{html.escape(previous)}</a></li>"
        )
    links.append(f'<li><a href="index.html">{words(N_("Contents"))}</a></li>')
    if index + 1 < len(chapters):
        following = chapters[index + 1]["title"] or _fallback_title(index + 1)
        links.append(
            f'<li><a rel="next" href="{pages[index + 1]}">{words(N_("Next chapter:"))} '
            f"{html.escape(following)}</a></li>"
        )
    items = "\n".join(links)
    top = html.escape(words.plain(N_("Book navigation")), quote=True)
    bottom = html.escape(words.plain(N_("End of chapter")), quote=True)
    body = (
        f'<nav aria-label="{top}">\n<ul>\n{items}\n</ul>\n</nav>\n'
        f"<main>\n<h1>{html.escape(title)}</h1>\n{content}\n</main>\n"
        f'<nav aria-label="{bottom}">\n<ul>\n{items}\n</ul>\n</nav>'
    )
    return _page(page_lang, f"{title} – {book['title']}", body)


def _fit_content(
    fragment: str, title: str, pages: list[str], images: dict[str, str], backlink_label: str
) -> str:
    """The stored chapter html fitted under the page's h1, as the online reader does, with the catalogue's
    link forms made relative to the zip; an image that is not in the edition becomes its alt text."""

    def link(href: str) -> str | None:
        if not href.startswith("chapter:"):
            return href
        position, _, anchor = href[len("chapter:") :].partition("#")
        if position.isdigit() and int(position) < len(pages):
            return _href(pages, int(position), anchor or None)
        return None

    def image(src: str) -> str | None:
        name = src[len("resource:") :] if src.startswith("resource:") else None
        return f"images/{images[name]}" if name in images else None

    return fit_chapter(fragment, title, link=link, image=image, backlink_label=backlink_label)
