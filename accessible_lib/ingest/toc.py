"""A book's table of contents as a flat list of TocEntry, from the EPUB 3 nav or else the EPUB 2 NCX.

Read with our own parser rather than ebooklib's, because ebooklib drops the depth and the fragments a
screen-reader user navigates by, and fails on books that readers open happily. Entries that lead
nowhere in the spine are dropped and their children move up a level, so every entry can be followed.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from lxml import etree

from .model import TocEntry
from .sanitize import ID_PREFIX
from .xhtml import element_text, epub_types, local_name, parse_document, resolve_href, safe_xml_parser

# A TOC point: (title, href or None, children)
_Point = tuple[str, str | None, list]
_TITLE_ELEMENTS = {"a", "span", "p", "h1", "h2", "h3", "h4", "h5", "h6"}


def read_toc(
    entries: Mapping[str, bytes],
    href_map: Mapping[str, int],
    *,
    nav_path: str | None,
    ncx_path: str | None,
) -> list[TocEntry]:
    """The nested table of contents from the nav document at `nav_path`, else from the NCX.

    `href_map` maps the zip paths of spine documents to chapter indexes. Fragments come back with our
    id prefix, as the ids appear in the sanitised chapters.
    """
    toc: list[TocEntry] = []
    if nav_path is not None and nav_path in entries:
        root = parse_document(entries[nav_path])
        if root is not None:
            toc = list(_walk(_nav_points(root), 1, nav_path, href_map))
    if not toc and ncx_path is not None and ncx_path in entries:
        data = entries[ncx_path]
        root = etree.fromstring(data, safe_xml_parser()) if data.strip() else None
        if root is not None:
            toc = list(_walk(_ncx_points(root), 1, ncx_path, href_map))
    return toc


def _nav_points(root: etree._Element) -> list[_Point]:
    navs = [e for e in root.iter() if local_name(e) == "nav"]
    toc_navs = [n for n in navs if "toc" in epub_types(n) or n.get("role") == "doc-toc"] or navs[:1]
    if not toc_navs:
        return []
    lists = [e for e in toc_navs[0].iter() if local_name(e) in {"ol", "ul"}]
    return _list_points(lists[0]) if lists else []


def _list_points(list_element: etree._Element) -> list[_Point]:
    points: list[_Point] = []
    for item in list_element:
        if local_name(item) != "li":
            continue
        title, href, children = "", None, []
        for child in item:
            name = local_name(child)
            if name in {"ol", "ul"}:
                children.extend(_list_points(child))
            elif not title and name in _TITLE_ELEMENTS:
                title = element_text(child)
                link = child if name == "a" else next((e for e in child.iter() if local_name(e) == "a"), None)
                href = link.get("href") if link is not None else None
        points.append((title, href, children))
    return points


def _ncx_points(root: etree._Element) -> list[_Point]:
    nav_map = next((e for e in root.iter() if local_name(e) == "navmap"), None)
    return _ncx_children(nav_map) if nav_map is not None else []


def _ncx_children(parent: etree._Element) -> list[_Point]:
    points: list[_Point] = []
    for point in parent:
        if local_name(point) != "navpoint":
            continue
        title, href = "", None
        for child in point:
            name = local_name(child)
            if name == "navlabel" and not title:
                title = element_text(child)
            elif name == "content":
                href = child.get("src")
        points.append((title, href, _ncx_children(point)))
    return points


def _walk(points: list[_Point], level: int, base: str, href_map: Mapping[str, int]) -> Iterator[TocEntry]:
    """Flatten the tree; a point that leads nowhere in the spine is dropped, its children move up."""
    for title, href, children in points:
        target, fragment = resolve_href(href, base) if href else ("", None)
        chapter = href_map.get(target) if target else None
        if chapter is not None and title:
            yield TocEntry(
                title=title,
                level=level,
                chapter_index=chapter,
                fragment=ID_PREFIX + fragment if fragment else None,
            )
            yield from _walk(children, level + 1, base, href_map)
        else:
            yield from _walk(children, level, base, href_map)
