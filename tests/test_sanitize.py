"""What survives of a book's XHTML: semantic elements only, links rewritten, notes linked both ways."""

from __future__ import annotations

from accessible_lib.ingest.sanitize import clean_chapter
from tests.test_ingest_epub import xhtml

PATH = "OEBPS/text/ch1.xhtml"
HREFS = {PATH: 0, "OEBPS/text/ch2.xhtml": 1}


def clean(body: str, **options) -> tuple[str, str, str | None]:
    options.setdefault("href_map", HREFS)
    options.setdefault("path", PATH)
    return clean_chapter(xhtml(body).encode(), **options)


def test_dangerous_and_presentational_markup_is_removed() -> None:
    html, text, _ = clean(
        '<p class="c" style="x" onclick="f()">Hi <script>evil()</script><b onload="g()">there</b></p>'
        '<style>p{}</style><link rel="stylesheet" href="a.css"/><meta name="a" content="b"/>'
        '<iframe src="x.html">frame text</iframe><object data="a">obj</object><embed src="b"/>'
        '<form><label>Name <input name="n"/></label><select><option>o</option></select>'
        "<textarea>t</textarea><button>b</button></form>"
    )
    assert html == "<p>Hi <b>there</b></p>Name"
    assert text == "Hi there\n\nName"


def test_links_inside_the_book_are_rewritten_and_outside_ones_lose_their_target() -> None:
    html, _, _ = clean(
        '<p><a href="ch2.xhtml#s2">next</a> <a href="#here">here</a> <a href="ch2.xhtml">top</a>'
        ' <a href="https://example.org/">web</a> <a href="mailto:a@b.c">mail</a>'
        ' <a href="javascript:alert(1)">js</a> <a href="file:///etc/passwd">file</a>'
        ' <a href="../../../../etc/passwd">up</a> <a href="missing.xhtml">gone</a></p>'
        '<h2 id="here">Here</h2>'
    )
    assert '<a href="chapter:1#x-s2">next</a>' in html
    assert '<a href="#x-here">here</a>' in html and '<h2 id="x-here">' in html
    assert '<a href="chapter:1">top</a>' in html
    assert " web mail js file up gone</p>" in html
    assert html.count("<a ") == 3


def test_spans_and_divs_are_unwrapped_unless_they_carry_meaning() -> None:
    html, _, lang = clean(
        '<div><p><span>plain</span> <span xml:lang="fr">français</span> <span id="t">target</span>'
        ' <span id="u">untargeted</span></p><div>a line of verse</div></div>'
        '<p><a href="#t">to target</a></p>'
    )
    assert '<p>plain <span lang="fr">français</span> <span id="x-t">target</span>' in html
    assert " untargeted</p>" in html and 'id="x-u"' not in html
    assert "<p>a line of verse</p>" in html
    assert lang == "en"


def test_tables_keep_structure_attributes_only() -> None:
    html, text, _ = clean(
        '<table border="1"><caption>Cap</caption><tr><th scope="col" width="9">H</th>'
        '<th scope="bogus">G</th></tr><tr><td colspan="2" rowspan="x" bgcolor="red">D</td></tr></table>'
    )
    assert '<th scope="col">H</th><th>G</th>' in html
    assert '<td colspan="2">D</td>' in html and "border" not in html and "bgcolor" not in html
    assert "Cap" in text and "H G" in text


def test_images_are_rewritten_or_reduced_to_their_alt_text() -> None:
    images = {"OEBPS/images/a.png": "img-1.png"}
    html, text, _ = clean(
        '<p><img src="../images/a.png" alt="A rabbit" width="9"/><img src="../images/a.png"/>'
        '<img src="../images/none.png" alt="Not served"/><img src="http://x/y.png" alt=""/></p>',
        image_map=images,
    )
    assert '<img src="resource:img-1.png" alt="A rabbit"><img src="resource:img-1.png" alt="">' in html
    assert '<span role="img" aria-label="Not served">Not served</span>' in html
    assert "http" not in html and "width" not in html
    assert text == "[Image: A rabbit] [Image: Not served]"


def test_xhtml_self_closing_tags_and_html_entities() -> None:
    html, text, _ = clean('<p><a id="p1"/>One&nbsp;two&mdash;three</p><p>Four<br/>five</p>')
    assert "One\u00a0two—three" in html
    assert text == "One two—three\n\nFour\nfive"


def test_footnotes_get_roles_ids_and_back_links() -> None:
    html, text, _ = clean(
        '<p>Text<sup><a href="#fn1">1</a></sup> and<a epub:type="noteref" href="#fn2">*</a>.</p>'
        '<aside epub:type="footnote" id="fn1"><p>First note.</p></aside>'
        '<aside epub:type="footnote" id="fn2"><p>Second note.</p></aside>',
        backlink_label="Zurück",
    )
    assert '<a href="#x-fn1" role="doc-noteref" id="x-noteref-fn1">1</a>' in html
    assert '<a href="#x-fn2" role="doc-noteref" id="x-noteref-fn2">*</a>' in html
    assert (
        '<aside id="x-fn1" role="doc-footnote"><p>First note. '
        '<a href="#x-noteref-fn1" role="doc-backlink" aria-label="Zurück">↩</a></p></aside>'
    ) in html
    assert "↩" not in text


def test_a_superscript_number_to_a_plain_element_is_not_a_note() -> None:
    html, _, _ = clean('<p>x<sup><a href="#s">2</a></sup></p><p id="s">Section</p>')
    assert "doc-noteref" not in html and "doc-backlink" not in html


def test_unparseable_input_gives_empty_results() -> None:
    assert clean_chapter(b"", href_map={}) == ("", "", None)


def test_a_declared_legacy_encoding_is_honoured() -> None:
    raw = '<?xml version="1.0" encoding="gbk"?><html><body><p>红楼梦</p></body></html>'
    assert clean_chapter(raw.encode("gbk"), href_map={})[:2] == ("<p>红楼梦</p>", "红楼梦")
