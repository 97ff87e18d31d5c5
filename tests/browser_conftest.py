"""Fixtures for the tests that drive Debian's Chromium through Playwright: a live server and a browser.

A test module imports the fixtures it uses from here (tests/conftest.py is loaded by every test). A missing
Chromium or Playwright makes these tests fail, never skip: an accessibility check that silently does not
run is worse than none.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from accessible_lib import i18n

from .live_server import LiveServer, live_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
LOCALES = ("en", "zh_Hans")
DESKTOP = {"width": 1280, "height": 1024}


# Module scope, not session: each test module imports these fixtures, which makes one fixture per module,
# and Playwright's sync API allows one instance at a time.
@pytest.fixture(scope="module")
def live_library(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, dict[str, int]]]:
    """The real app on a loopback port over the corpus library; the book ids by corpus path."""
    with live_server(tmp_path_factory.mktemp("live") / "data") as running:
        yield running


@pytest.fixture(scope="module")
def live(live_library: tuple[LiveServer, dict[str, int]]) -> LiveServer:
    return live_library[0]


@pytest.fixture(scope="module")
def chromium() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()


def new_context(browser: Browser, live: LiveServer, locale: str, **options: object) -> BrowserContext:
    """A fresh browser profile whose interface-language cookie is `locale`, as the language link sets it."""
    assert locale in i18n.BY_CODE, locale
    options.setdefault("viewport", DESKTOP)
    context = browser.new_context(**options)
    context.set_default_timeout(60_000)  # only reached when something is broken: room for a busy machine
    context.add_cookies([{"name": i18n.COOKIE, "value": locale, "url": live.url + "/"}])
    return context


@pytest.fixture
def page(chromium: Browser, live: LiveServer) -> Iterator[Page]:
    """A page in a fresh English context at desktop size."""
    context = new_context(chromium, live, "en")
    try:
        yield context.new_page()
    finally:
        context.close()


FOCUSED_JS = """() => {
  const el = document.activeElement;
  if (!el || el === document.body || el === document.documentElement) return null;
  const style = getComputedStyle(el);
  const box = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(),
    id: el.id,
    href: el.getAttribute("href"),
    text: (el.innerText || el.value || "").trim(),
    html: el.outerHTML.slice(0, 300),
    outlineStyle: style.outlineStyle,
    outlineWidth: style.outlineWidth,
    boxShadow: style.boxShadow,
    inViewport: box.bottom > 0 && box.right > 0 && box.top < innerHeight && box.left < innerWidth
      && box.width > 0 && box.height > 0,
  };
}"""


def focused(page: Page) -> dict | None:
    """What has the keyboard focus, with the computed styles that show it; None for the page itself."""
    return page.evaluate(FOCUSED_JS)


def focus_indicator_problem(info: dict | None) -> str | None:
    """Why a sighted keyboard user could not see where the focus is, or None when they can."""
    if info is None:
        return "nothing has the focus"
    outline = info["outlineStyle"] != "none" and info["outlineWidth"] not in ("0px", "")
    shadow = info["boxShadow"] not in ("none", "")
    if not (outline or shadow):
        return f"no visible focus indicator (outline and box-shadow are none) on {info['html']}"
    if not info["inViewport"]:
        return f"the focused element is off screen: {info['html']}"
    return None
