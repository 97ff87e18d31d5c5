"""What survives of a book's XHTML: semantic elements only, links rewritten, notes linked both ways."""

from __future__ import annotations

from bs4 import BeautifulSoup
from lxml import html as lxml_html

from accessible_lib.ingest.allow_list import allow_listed
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


def test_blank_paragraphs_are_dropped_and_their_ids_survive() -> None:
    html, text, _ = clean(
        '<p>Before</p><p><span id="linked"></span></p><p><br/>\n</p><p><a id="Illustration20"/></p>'
        '<p id="own">\u00a0 </p><p><em> </em></p><p><img src="../images/a.png" alt=""/></p>'
        '<ul><li></li></ul><p>After <a href="#linked">link</a> <a href="#own">own</a></p>',
        image_map={"OEBPS/images/a.png": "img-1.png"},
    )
    assert html == (
        '<p>Before</p><span id="x-linked"></span><span id="x-Illustration20"></span>'
        '<span id="x-own"></span><p><img src="resource:img-1.png" alt=""></p><ul><li></li></ul>'
        '<p>After <a href="#x-linked">link</a> <a href="#x-own">own</a></p>'
    )
    assert text == "Before\n\nAfter link own"


def test_line_breaks_at_the_ends_of_a_paragraph_are_dropped() -> None:
    html, text, _ = clean("<p><br/>\n One<br/>two <br/></p><div><br/>Three<br/>\n</div>")
    assert html == "<p>\n One<br>two </p><p>Three\n</p>"
    assert text == "One\ntwo\n\nThree"


def test_print_page_markers_become_labelled_empty_spans() -> None:
    html, text, _ = clean(
        '<p>One <span epub:type="pagebreak" id="p7" title="7">7</span> two'
        '<span role="doc-pagebreak" id="p8" title="8"/> three'
        '<span class="x-ebookmaker-pageno" title="[26]" id="pg29"><a id="Page_26" title="[26]"></a></span>'
        ' four<a id="Page_27" title="[27]"></a> five<span class="pagenum">[Pg xii]</span> six</p>'
    )
    assert html == (
        '<p>One <span role="doc-pagebreak" id="x-p7" title="7"></span> two'
        '<span role="doc-pagebreak" id="x-p8" title="8"></span> three'
        '<span role="doc-pagebreak" id="x-pg29" title="26"></span> four'
        '<span role="doc-pagebreak" id="x-Page_27" title="27"></span> five'
        '<span role="doc-pagebreak" id="x-page-xii" title="xii"></span> six</p>'
    )
    assert text == "One two three four five six"


def test_a_marker_keeps_the_ids_links_point_to() -> None:
    html, _, _ = clean(
        '<p>a<span class="x-ebookmaker-pageno" title="[3]" id="pg3"><a id="Page_3" title="[3]"/></span></p>'
        '<p>b<span class="x-ebookmaker-pageno" title="[4]" id="pg4"><a id="Page_4" title="[4]"/></span></p>'
        '<p id="page-5">c<span epub:type="pagebreak" title="5"/></p>'
        '<p><a href="#Page_3">3</a> <a href="#pg4">4</a> <a href="#Page_4">4</a></p>'
    )
    assert '<span role="doc-pagebreak" id="x-Page_3" title="3"></span>' in html
    assert '<span role="doc-pagebreak" id="x-pg4" title="4"></span><span id="x-Page_4"></span>' in html
    assert '<p id="x-page-5">c<span role="doc-pagebreak" id="x-page-5-2" title="5"></span></p>' in html


def test_a_page_marker_is_kept_out_of_a_heading_or_link_name() -> None:
    html, text, _ = clean(
        '<h2>Chapter <span epub:type="pagebreak" id="p9" title="9"/>One</h2>'
        '<p><a href="#p9">See <span epub:type="pagebreak" id="p10">10</span>page</a></p>'
    )
    assert html.startswith('<span role="doc-pagebreak" id="x-p9" title="9"></span><h2>Chapter One</h2>')
    assert '<p><span role="doc-pagebreak" id="x-p10" title="10"></span><a href="#x-p9">See page</a>' in html
    assert "9" not in text and "10" not in text


def test_things_that_only_look_like_page_markers_are_left_alone() -> None:
    html, text, _ = clean(
        '<p><a id="page-top" title="Top">Top</a> <span class="pagenum">see the map</span>'
        ' <a id="Page_2" title="[2]" href="#fn">2</a> <span epub:type="pagebreak"/></p><p id="fn">x</p>'
    )
    assert "doc-pagebreak" not in html
    assert text == "Top see the map 2\n\nx"


def test_a_page_label_cannot_inject_markup() -> None:
    html, text, _ = clean('<p>a<span epub:type="pagebreak" title="&quot;&gt;&lt;b&gt;x"/>b</p>')
    parsed = lxml_html.fragment_fromstring(html, create_parent="div")
    assert [element.tag for element in parsed.iter()] == ["div", "p", "span"]
    assert parsed.find(".//span").get("title") == '"><b>x'
    assert text == "ab"


def test_the_allow_list_is_enforced_on_our_own_output() -> None:
    """nh3 removes whatever the structural clean-up might let through: elements, attributes, URLs."""
    markup = (
        '<p id="a" lang="fr" onclick="f()" style="x" class="c">Hi<script>evil()</script>'
        '<a href="javascript:alert(1)" onmouseover="g()">js</a> <a href="https://example.org/">web</a>'
        ' <a href="chapter:2#x-s" role="doc-noteref">2</a> <a href="#x-here">here</a>'
        '<img src="resource:img-1.png" alt="A cat" onerror="h()"><img src="http://example.org/t.png" alt="">'
        '<span role="doc-pagebreak" title="7" id="x-p7"></span><iframe src="x">frame</iframe>'
        '<td colspan="2" bgcolor="red">cell</td><!-- a comment --><marquee>moving</marquee></p>'
    )
    soup = BeautifulSoup(allow_listed(markup), "html.parser")
    paragraph = soup.p
    assert paragraph.attrs == {"id": "a", "lang": "fr"}
    assert not soup.find_all(["script", "iframe", "marquee"]) and "evil" not in soup.get_text()
    assert soup.get_text() == "Hijs web 2 herecellmoving"
    links = {link.get_text(): link.attrs for link in soup.find_all("a")}
    assert links == {
        "js": {},
        "web": {},
        "2": {"href": "chapter:2#x-s", "role": "doc-noteref"},
        "here": {"href": "#x-here"},
    }
    assert [img.attrs for img in soup.find_all("img")] == [
        {"src": "resource:img-1.png", "alt": "A cat"},
        {"alt": ""},
    ]
    assert soup.find("span").attrs == {"role": "doc-pagebreak", "title": "7", "id": "x-p7"}
    assert "comment" not in str(soup)
