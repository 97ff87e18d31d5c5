"""Reading preferences in the real Chromium: what a low-vision, dyslexic or motor-impaired reader meets.

On the home, book, chapter and preferences pages: axe finds nothing in any theme; WCAG 1.4.12 text spacing
(the bookmarklet's values, and the site's own "wide" spacing) loses no text; Chromium's forced-colors
emulation gives system colours and a visible focus; 400% text at 1280 px never scrolls sideways; every
target is at least 24 by 24 CSS pixels or spaced as WCAG 2.5.8 allows; visible labels are in the
accessible names (2.5.3); nothing can be dragged and nothing moves when reduced motion is asked for. The
form itself is used with JavaScript switched off, as a reader would.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page

from accessible_lib import reading_prefs

from .browser_conftest import chromium, focus_indicator_problem, focused, new_context  # noqa: F401
from .live_server import LiveServer, live_server
from .test_browser_axe import AXE_OPTIONS, axe_problems, reflow_problems

pytestmark = [pytest.mark.browser, pytest.mark.slow]

BOOKS = ("epub/en/alice-pg19033-nyu-epub3.epub", "text/zh/zh-changhenge-bai-juyi.txt")
THEMES = ("auto", "light", "dark", "contrast", "sepia")
TARGET = 24  # CSS pixels, WCAG 2.5.8
# The text-spacing bookmarklet's values (WCAG 1.4.12), with !important so nothing on the page wins.
SPACING_CSS = """
* { line-height: 1.5 !important; letter-spacing: 0.12em !important; word-spacing: 0.16em !important; }
p { margin-bottom: 2em !important; }
"""


@pytest.fixture(scope="module")
def library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, list[str]]]:
    """The app over an English EPUB (images, contents) and a Chinese poem; the paths of the pages to check."""
    with live_server(tmp_path_factory.mktemp("prefs") / "data", files=BOOKS) as (server, books):
        english, chinese = books[BOOKS[0]], books[BOOKS[1]]
        paths = [
            "/",
            f"/books/{english}",
            f"/books/{english}/read/2",
            f"/books/{chinese}/read/1",
            "/preferences",
        ]
        yield server, paths


def context_with(browser: Browser, server: LiveServer, prefs: dict[str, str], **options) -> BrowserContext:
    """A fresh profile whose preferences cookie holds `prefs`, as a save on /preferences leaves it."""
    context = new_context(browser, server, options.pop("locale", "en"), **options)
    value = reading_prefs.encode({**reading_prefs.DEFAULTS, **prefs})
    if value:
        context.add_cookies([{"name": reading_prefs.COOKIE, "value": value, "url": server.url + "/"}])
    return context


def visit(page: Page, url: str) -> None:
    response = page.goto(url, wait_until="load")
    assert response is not None and response.status == 200, url
    page.evaluate("document.fonts.ready")


@pytest.mark.parametrize("theme", THEMES)
def test_every_theme_passes_axe_on_every_kind_of_page(chromium, library, theme):  # noqa: F811
    server, paths = library
    axe = Axe()
    # The device's own scheme is the opposite of the theme's where it can be: the reader's choice wins.
    # "auto" follows the device: dark here, since the light scheme is what the site crawl checks.
    scheme = "light" if theme in ("dark", "contrast") else "dark"
    context = context_with(chromium, server, {"theme": theme}, color_scheme=scheme)
    problems = []
    try:
        page = context.new_page()
        for path in paths:
            visit(page, server.url + path)
            assert page.evaluate("document.documentElement.dataset.theme") == (
                None if theme == "auto" else theme
            )
            problems += axe_problems(axe, page, path, AXE_OPTIONS, f" ({theme} theme)")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_the_largest_text_with_the_dyslexia_font_and_widest_spacing_passes_axe_in_both_languages(
    chromium,  # noqa: F811
    library,
):
    server, paths = library
    axe = Axe()
    prefs = {
        "text_size": "400",
        "font": "dyslexic",
        "line_height": "wider",
        "letter_spacing": "wider",
        "word_spacing": "wider",
        "line_length": "short",
    }
    problems = []
    for locale in ("en", "zh_Hans"):
        context = context_with(chromium, server, prefs, locale=locale)
        try:
            page = context.new_page()
            for path in paths:
                visit(page, server.url + path)
                problems += axe_problems(
                    axe, page, path, AXE_OPTIONS, f" (everything at its largest, {locale})"
                )
            family = page.evaluate("getComputedStyle(document.body).fontFamily")
            assert family.startswith('"OpenDyslexic"') or family.startswith("OpenDyslexic"), family
            assert page.evaluate("document.fonts.check('16px OpenDyslexic')"), "the font file loaded"
        finally:
            context.close()
    assert not problems, "\n".join(problems)


def test_auto_follows_the_device_and_a_chosen_theme_overrides_it(chromium, library):  # noqa: F811
    server, _ = library
    background = "getComputedStyle(document.body).backgroundColor"
    for prefs, scheme, expected in (
        ({}, "dark", "rgb(18, 18, 18)"),
        ({}, "light", "rgb(255, 255, 255)"),
        ({"theme": "light"}, "dark", "rgb(255, 255, 255)"),
        ({"theme": "contrast"}, "light", "rgb(0, 0, 0)"),
        ({"theme": "sepia"}, "dark", "rgb(244, 236, 216)"),
    ):
        context = context_with(chromium, server, prefs, color_scheme=scheme)
        try:
            page = context.new_page()
            visit(page, server.url + "/")
            assert page.evaluate(background) == expected, (prefs, scheme)
            if prefs.get("theme") == "contrast":
                assert page.evaluate("getComputedStyle(document.body).color") == "rgb(255, 255, 0)"
        finally:
            context.close()


# Text that a reader must see: elements that hold text of their own, visible, not the skip link (off screen
# until focused) or text hidden for screen readers only (clipped on purpose).
TEXT_ELEMENTS_JS = """() => [...document.body.querySelectorAll("*")].filter((el) => {
  if (el.closest(".skip-link, .visually-hidden, .shelf-hidden, script, style, template")) return false;
  const own = [...el.childNodes].some((n) => n.nodeType === 3 && n.textContent.trim());
  const box = el.getBoundingClientRect();
  // checkVisibility: not inside a closed <details>, whose content keeps its boxes but is not drawn.
  return own && box.width > 0 && box.height > 0 && el.checkVisibility({visibilityProperty: true});
})"""

LOST_TEXT_JS = (
    """() => {
  const texts = ("""
    + TEXT_ELEMENTS_JS
    + """)();
  const clipped = [];
  const describe = (el) => el.outerHTML.slice(0, 160);
  for (const el of texts) {
    // Text cut off by its own box, or by any ancestor that hides overflow.
    for (let box = el; box && box !== document.body; box = box.parentElement) {
      const style = getComputedStyle(box);
      const hidesX = ["hidden", "clip"].includes(style.overflowX);
      const hidesY = ["hidden", "clip"].includes(style.overflowY);
      if ((hidesX && box.scrollWidth > box.clientWidth + 1)
          || (hidesY && box.scrollHeight > box.clientHeight + 1)) {
        clipped.push("clipped by " + describe(box));
        break;
      }
    }
    if (el.scrollWidth > el.clientWidth + 1 && getComputedStyle(el).display !== "inline"
        && !["auto", "scroll"].includes(getComputedStyle(el).overflowX)) {
      clipped.push("wider than its box: " + describe(el));
    }
  }
  // Lines of different elements drawn over each other (an ancestor's box holds its children's: not counted).
  const rects = [];
  for (const el of texts) {
    for (const r of el.getClientRects()) if (r.width > 1 && r.height > 1) rects.push([el, r]);
  }
  const overlapping = [];
  for (let i = 0; i < rects.length && overlapping.length < 5; i++) {
    for (let j = i + 1; j < rects.length; j++) {
      const [a, ra] = rects[i], [b, rb] = rects[j];
      if (a === b || a.contains(b) || b.contains(a)) continue;
      const x = Math.min(ra.right, rb.right) - Math.max(ra.left, rb.left);
      const y = Math.min(ra.bottom, rb.bottom) - Math.max(ra.top, rb.top);
      if (x > 2 && y > 2) { overlapping.push(describe(a) + "  OVER  " + describe(b)); break; }
    }
  }
  return {
    clipped: clipped.slice(0, 5),
    overlapping,
    scrollWidth: document.documentElement.scrollWidth,
    width: window.innerWidth,
    count: texts.length,
  };
}"""
)


def lost_text(page: Page, label: str) -> list[str]:
    found = page.evaluate(LOST_TEXT_JS)
    assert found["count"] > 10, f"{label}: too little text found to check"
    problems = [f"{label}: {what}" for what in found["clipped"] + found["overlapping"]]
    if found["scrollWidth"] > found["width"]:
        problems.append(f"{label}: scrolls sideways ({found['scrollWidth']} > {found['width']})")
    return problems


@pytest.mark.parametrize("width", [1280, 320])
def test_wcag_text_spacing_loses_no_text(chromium, library, width):  # noqa: F811
    server, paths = library
    problems = []
    for prefs, how in (
        ({}, "bookmarklet spacing"),
        (
            {"line_height": "wide", "letter_spacing": "wide", "word_spacing": "wide"},
            "the site's wide spacing",
        ),
    ):
        # The bookmarklet's style is added as a reader's extension or user stylesheet adds it: past the CSP.
        viewport = {"width": width, "height": 900}
        context = context_with(chromium, server, prefs, viewport=viewport, bypass_csp=not prefs)
        try:
            page = context.new_page()
            for path in paths:
                visit(page, server.url + path)
                if not prefs:
                    page.add_style_tag(
                        content=SPACING_CSS
                    )  # Playwright's own channel: not blocked by the CSP
                    applied = page.evaluate(
                        "getComputedStyle(document.querySelector('main p')).letterSpacing"
                    )
                    assert applied != "normal", "the bookmarklet's spacing was not applied"
                problems += lost_text(page, f"{path} at {width} px, {how}")
        finally:
            context.close()
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "prefs", [{"text_size": "400"}, {"text_size": "400", "font": "dyslexic", "line_length": "full"}]
)
def test_400_percent_text_at_1280_px_never_scrolls_sideways(chromium, library, prefs):  # noqa: F811
    server, paths = library
    context = context_with(chromium, server, prefs)
    problems = []
    try:
        page = context.new_page()
        for path in [*paths, "/search?q=the", "/browse"]:
            visit(page, server.url + path)
            size = page.evaluate("getComputedStyle(document.documentElement).fontSize")
            assert size == "72px", f"{path}: 400% of the standard 18 px is 72 px, not {size}"
            found = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
            if found[0] > found[1]:
                problems.append(f"{path}: scrollWidth {found[0]} > {found[1]} at 400% text")
    finally:
        context.close()
    assert not problems, "\n".join(problems)


SYSTEM_COLOUR_JS = """(name) => {
  const probe = document.createElement("span");
  probe.style.color = name;  // the CSS object model, which the Content-Security-Policy allows
  document.body.append(probe);
  const value = getComputedStyle(probe).color;
  probe.remove();
  return value;
}"""


def test_forced_colors_uses_system_colours_and_keeps_the_focus_visible(chromium, library):  # noqa: F811
    server, paths = library
    # A theme of the site's own is chosen: forced colours must still win over it.
    context = context_with(chromium, server, {"theme": "sepia"}, forced_colors="active")
    try:
        page = context.new_page()
        for path in paths:
            visit(page, server.url + path)
            assert page.evaluate("matchMedia('(forced-colors: active)').matches"), "not emulated"
            canvas_text = page.evaluate(SYSTEM_COLOUR_JS, "CanvasText")
            canvas = page.evaluate(SYSTEM_COLOUR_JS, "Canvas")
            assert page.evaluate("getComputedStyle(document.body).color") == canvas_text, path
            background = page.evaluate("getComputedStyle(document.body).backgroundColor")
            assert background in (canvas, "rgba(0, 0, 0, 0)"), (path, background)
            heading = page.evaluate("getComputedStyle(document.querySelector('h1')).color")
            assert heading == canvas_text, (path, heading)
            # Keyboard focus on each of the first stops: an outline, never only a shadow or a background.
            page.locator("body").press("Tab")
            for _ in range(6):
                page.keyboard.press("Tab")
                info = focused(page)
                problem = focus_indicator_problem(info)
                assert problem is None, f"{path}: {problem}"
                assert info["outlineStyle"] != "none" and info["outlineWidth"] != "0px", (path, info)
        # The preferences form: a radio button with the focus shows it too.
        visit(page, server.url + "/preferences")
        page.focus("#theme-sepia")
        page.keyboard.press("ArrowDown")  # moves within the group, as a keyboard user does
        info = focused(page)
        assert info["id"] != "theme-sepia" and info["outlineStyle"] != "none", info
    finally:
        context.close()


TARGETS_JS = """() => {
  const selector = "a[href], button, input:not([type=hidden]), select, textarea, summary, "
    + "[tabindex]:not([tabindex='-1'])";
  const visible = (el) => {
    const box = el.getBoundingClientRect();
    return box.width > 0 && box.height > 0 && el.checkVisibility({visibilityProperty: true})
      && !el.closest(".skip-link, .visually-hidden, .shelf-hidden");
  };
  const els = [...document.querySelectorAll(selector)].filter(visible);
  // A link inside a sentence is exempt (WCAG 2.5.8 "inline"): its block holds other text than its own.
  const inline = (el) => {
    if (el.tagName !== "A" || getComputedStyle(el).display !== "inline") return false;
    const block = el.closest("p, li, dd, dt, td, th, figcaption, blockquote, h1, h2, h3, h4, h5, h6");
    return block && block.innerText.replace(el.innerText, "").trim().length > 0;
  };
  const small = [];
  const boxes = els.map((el) => el.getBoundingClientRect());
  els.forEach((el, i) => {
    const box = boxes[i];
    if (box.width >= 24 - 0.01 && box.height >= 24 - 0.01) return;
    if (inline(el)) return;
    // The spacing exception: a 24 px circle centred on the target meets no other target.
    const cx = box.left + box.width / 2, cy = box.top + box.height / 2;
    const clear = boxes.every((other, j) => {
      if (j === i || els[j].contains(el) || el.contains(els[j])) return true;
      const dx = Math.max(other.left - cx, 0, cx - other.right);
      const dy = Math.max(other.top - cy, 0, cy - other.bottom);
      return Math.hypot(dx, dy) >= 12;
    });
    const size = Math.round(box.width) + "x" + Math.round(box.height);
    if (!clear) small.push(el.outerHTML.slice(0, 160) + " " + size);
  });
  return {count: els.length, small};
}"""


@pytest.mark.parametrize("prefs", [{}, {"text_size": "200", "theme": "contrast"}])
def test_every_target_is_at_least_24_css_pixels_or_spaced(chromium, library, prefs):  # noqa: F811
    server, paths = library
    context = context_with(chromium, server, prefs)
    problems = []
    try:
        page = context.new_page()
        for path in paths:
            visit(page, server.url + path)
            found = page.evaluate(TARGETS_JS)
            assert found["count"] > 5, path
            problems += [
                f"{path}: target smaller than 24x24 and too close to another: {s}" for s in found["small"]
            ]
    finally:
        context.close()
    assert not problems, "\n".join(problems)


NO_DRAG_OR_TIMER_JS = """() => ({
  draggable: [...document.querySelectorAll("[draggable=true]")].map((el) => el.outerHTML.slice(0, 120)),
  refresh: document.querySelectorAll("meta[http-equiv=refresh i]").length,
  animations: document.getAnimations().length,
})"""


def test_labels_are_in_accessible_names_nothing_drags_times_out_or_moves(chromium, library):  # noqa: F811
    server, paths = library
    axe = Axe()
    names = {"runOnly": {"type": "rule", "values": ["label-content-name-mismatch", "label", "button-name"]}}
    context = context_with(chromium, server, {}, reduced_motion="reduce")
    problems = []
    try:
        page = context.new_page()
        for path in paths:
            visit(page, server.url + path)
            problems += axe_problems(axe, page, path, {**names, "resultTypes": ["violations"]})
            found = page.evaluate(NO_DRAG_OR_TIMER_JS)
            assert found == {"draggable": [], "refresh": 0, "animations": 0}, (path, found)
    finally:
        context.close()
    assert not problems, "\n".join(problems)


def test_the_form_works_without_javascript_and_every_page_then_uses_the_choices(chromium, library):  # noqa: F811
    server, paths = library
    context = context_with(chromium, server, {}, java_script_enabled=False)
    try:
        page = context.new_page()
        visit(page, server.url + "/")
        page.get_by_role("link", name="Reading preferences").click()  # the header link, by its visible label
        page.wait_for_load_state("load")
        page.get_by_label("400%").check()
        page.get_by_label("High contrast: yellow text on black").check()
        page.get_by_label("Wide", exact=True).first.check()  # the first "Wide": letter spacing
        page.get_by_role("button", name="Save").click()
        page.wait_for_load_state("load")
        assert page.url.endswith("/preferences?done=saved&back=%2F"), "the way back to the home page"
        notice = page.locator("#notice")
        assert notice.locator("p").first.inner_text().strip() == (
            "Your reading preferences are saved. Every page now uses them."
        )
        assert notice.get_by_role("link", name="Back to the page you were on").get_attribute("href") == "/"
        assert page.locator("#theme-contrast").is_checked()
        for path in paths[1:3]:
            visit(page, server.url + path)
            assert page.evaluate("getComputedStyle(document.documentElement).fontSize") == "72px"
            assert page.evaluate("getComputedStyle(document.body).backgroundColor") == "rgb(0, 0, 0)"
            spacing = page.evaluate("getComputedStyle(document.querySelector('main p')).letterSpacing")
            size = float(
                page.evaluate("parseFloat(getComputedStyle(document.querySelector('main p')).fontSize)")
            )
            assert abs(float(spacing.removesuffix("px")) - 0.12 * size) < 0.5, (spacing, size)
        visit(page, server.url + "/preferences")
        page.get_by_role("button", name="Reset to defaults").click()
        page.wait_for_load_state("load")
        assert page.evaluate("document.documentElement.dataset.textSize") is None
        assert page.locator("#text_size-100").is_checked()
    finally:
        context.close()


@pytest.mark.parametrize("locale", ["en", "zh_Hans"])
def test_the_error_summary_and_the_saved_confirmation_pass_axe_and_reflow(chromium, library, locale):  # noqa: F811
    """Pages the crawl of tests/test_browser_axe.py cannot reach, being answers to a POST: the form with its
    error summary (a value changed under the form, as a forged or outdated form would send) and the
    confirmation, in the standard and the high-contrast theme."""
    server, _ = library
    axe = Axe()
    problems = []
    for theme in ("auto", "contrast"):
        context = context_with(chromium, server, {"theme": theme}, locale=locale)
        try:
            page = context.new_page()
            visit(page, server.url + "/preferences")
            page.evaluate("document.querySelector('#font-dyslexic').value = 'comic'")
            page.locator("#font-dyslexic").check()
            page.locator("button[value=save]").click()
            page.wait_for_load_state("load")
            summary = page.locator("#error-summary")
            assert summary.is_visible() and page.evaluate("document.activeElement.id") == "error-summary"
            page.locator("#error-summary a").click()
            assert page.evaluate("document.activeElement.id") == "font-sans", "the link leads to the field"
            problems += axe_problems(axe, page, "/preferences", AXE_OPTIONS, f" (error summary, {theme})")
            problems += reflow_problems(page, "/preferences (error summary)")
            page.locator("#font-dyslexic").check()
            page.locator("button[value=save]").click()
            page.wait_for_load_state("load")
            assert page.evaluate("document.activeElement.id") == "notice", "the confirmation has the focus"
            info = focused(page)
            assert focus_indicator_problem(info) is None, info
            problems += axe_problems(axe, page, "/preferences?done=saved", AXE_OPTIONS, f" ({theme})")
            problems += reflow_problems(page, "/preferences?done=saved")
        finally:
            context.close()
    assert not problems, "\n".join(problems)
