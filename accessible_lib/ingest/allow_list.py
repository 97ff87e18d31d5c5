"""What a chapter may keep: the elements and attributes of the reader's HTML, and nh3 enforcing them.

The clean-up in `sanitize` builds its output from these sets; nh3 (ammonia, a well-kept sanitiser) then
holds the output to the same list, so a mistake in the clean-up cannot let a script, an event handler or an
outside URL through. Kept apart from the clean-up so that the list can be read, and reviewed, on its own.
"""

from __future__ import annotations

import nh3

# Elements kept as they are (after their attributes are filtered).
KEEP = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "dl", "dt", "dd",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td", "blockquote", "pre",
    "code", "em", "strong", "i", "b", "u", "s", "sub", "sup", "small", "abbr", "cite", "q",
    "br", "hr", "figure", "figcaption", "img", "a", "section",
    # Also semantic, and needed for real books: ruby annotations in Chinese and Japanese text.
    "ruby", "rt", "rp", "rb", "dfn", "kbd", "samp", "var", "mark", "del", "ins", "bdi", "bdo",
}  # fmt: skip
AS_SECTION = {"article", "aside", "nav"}
# Dropped together with everything inside them.
DROP = {
    "script", "style", "link", "meta", "iframe", "object", "embed", "head", "title", "base",
    "input", "button", "select", "textarea", "option", "optgroup", "datalist", "output",
    "audio", "video", "source", "track", "template", "frame", "frameset", "applet", "param",
    "map", "area", "noembed", "noframes", "colgroup", "col", "math", "svg",
}  # fmt: skip
BLOCK = {
    "h1", "h2", "h3", "h4", "h5", "h6", "p", "ul", "ol", "li", "dl", "dt", "dd", "table",
    "caption", "tr", "blockquote", "pre", "hr", "figure", "figcaption", "section", "div",
}  # fmt: skip
DIV_LIKE = {"div", "header", "footer", "main", "hgroup", "address", "center", "details", "summary"}
# Kept attributes beyond id/lang/dir, per element.
ATTRIBUTES = {
    "th": {"scope", "colspan", "rowspan", "headers"},
    "td": {"colspan", "rowspan", "headers"},
    "abbr": {"title"},
    "dfn": {"title"},
    "ol": {"start", "reversed"},
    "bdo": {"dir"},
}
# The allow-list nh3 enforces on our output: the elements above, those the clean-up makes (span, div,
# aside), and per element what it may carry, including the attributes the clean-up sets itself.
ALLOWED_TAGS = KEEP | {"span", "div", "aside"}
ALLOWED_ATTRIBUTES = {
    "*": {"id", "lang", "dir"},
    **{tag: set(names) for tag, names in ATTRIBUTES.items()},
    "a": {"href", "role", "aria-label"},
    "img": {"src", "alt"},
    "span": {"role", "aria-label", "title"},
    "div": {"role"},
    "aside": {"role"},
    "section": {"role"},
}
URL_SCHEMES = {"chapter", "resource"}  # another chapter of the book; a file kept with the book


def allow_listed(markup: str) -> str:
    """`markup` with only the allowed elements, attributes and URLs; anything else removed by nh3.

    nh3 writes a no-break space as `&nbsp;`, an entity only HTML knows; it goes back to the character, as
    the clean-up wrote it, so that the markup stays readable as XML too (a literal "&nbsp;" in the text
    comes out of nh3 as `&amp;nbsp;` and is left alone).
    """
    cleaned = nh3.clean(
        markup,
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP - ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=URL_SCHEMES,
        link_rel=None,
        strip_comments=True,
    )
    return cleaned.replace("&nbsp;", "\u00a0")
