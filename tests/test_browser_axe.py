"""Every page a reader can reach, checked in a real browser with axe-core, in both interface languages.

Static HTML checks cannot see contrast, reflow at 320 px, what the focus does, or what axe computes from the
accessibility tree; headless Chromium can. The crawl starts at `/` and follows every same-origin link, with
budgets so it stays fast: every browse page, but not every chapter of every book (the first chapters each
book links to), and lists up to their second page. A failure names the page, the rule and the offending
HTML, so it can be fixed without rerunning anything.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from dataclasses import dataclass, field
from urllib.parse import parse_qs, quote, urldefrag, urlsplit

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, Page

from accessible_lib import catalogue, i18n
from accessible_lib.db import open_database
from accessible_lib.editions import formats, store

from .browser_conftest import (  # noqa: F401 (fixtures)
    DESKTOP,
    LOCALES,
    chromium,
    focus_indicator_problem,
    focused,
    live,
    live_library,
    new_context,
)
from .live_server import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]

AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"]
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": AXE_TAGS}, "resultTypes": ["violations"]}
# The dark colour scheme changes only colours: check contrast again there, nothing else.
AXE_DARK_OPTIONS = {
    "runOnly": {"type": "rule", "values": ["color-contrast", "link-in-text-block"]},
    "resultTypes": ["violations"],
}
NARROW = {"width": 320, "height": 640}
# 200% zoom of a 1280x1024 window lays the page out in 640x512 CSS pixels.
ZOOMED = {"width": 640, "height": 512}
MAX_PAGES = 150  # per language; the library below needs about half of it
MAX_LIST_PAGE = 2  # page 2 of a list is rendered like page 9
BUDGETS = {"chapter": 3, "braille": 2, "browse-value": 3, "search": 8, "search-page": 2}
# A search with filters, one long enough to have a second page, one in Chinese; the empty search form;
# the error page.
SEEDS = ["/", "/search", "/search?q=whale", "/search?q=the", "/search?q=长恨歌", "/no-such-page"]
# A chapter past the end of a book: a 404 that names the chapter and links back to the book.
MISSING_CHAPTER = "/books/1/read/999"
SEEDS += [MISSING_CHAPTER]

OVERFLOW_JS = """(width) => {
  const wide = [];
  for (const el of document.body.querySelectorAll("*")) {
    const box = el.getBoundingClientRect();
    if (box.right > width + 1 && !el.closest(".skip-link")) {
      const inner = [...el.children].some((c) => c.getBoundingClientRect().right > width + 1);
      if (!inner) wide.push(el.outerHTML.slice(0, 200) + " (right edge " + Math.round(box.right) + "px)");
    }
  }
  return {scrollWidth: document.scrollingElement.scrollWidth, wide: wide.slice(0, 5)};
}"""

PAGE_FACTS_JS = """() => ({
  lang: document.documentElement.getAttribute("lang"),
  title: document.title.trim(),
  h1: [...document.querySelectorAll("h1")].map((h) => h.innerText.trim()),
  mains: document.querySelectorAll("main, [role=main]").length,
  ids: [...document.querySelectorAll("[id]")].map((e) => e.id),
  links: [...document.querySelectorAll("a[href]")].map((a) => a.href),
})"""


@dataclass
class Crawl:
    """What one crawl in one interface language saw."""

    locale: str
    visited: list[str] = field(default_factory=list)
    titles: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    fragments: dict[str, set[str]] = field(default_factory=dict)  # page -> ids its links point at
    ids: dict[str, set[str]] = field(default_factory=dict)


def budget_key(url: str, origin: str) -> str | None:
    """The budget a URL spends from, "" for unlimited, None when the crawl never visits it."""
    parts = urlsplit(url)
    if f"{parts.scheme}://{parts.netloc}" != origin:
        return None
    path = parts.path
    if path.startswith(("/static/", "/language/", "/editions/")) or "/resources/" in path:
        return None
    page = parse_qs(parts.query).get("page", ["1"])[0]
    if not page.isdigit() or int(page) > MAX_LIST_PAGE:
        return None
    segments = path.strip("/").split("/")
    if len(segments) == 4 and segments[0] == "books" and segments[2] == "read":
        return f"chapter:{segments[1]}"
    if len(segments) == 5 and segments[0] == "books" and segments[4] == "audio":
        return None  # a chapter's audio (instant listening), not a page, like the edition files above
    if len(segments) == 5 and segments[0] == "books" and segments[4] == "braille":
        return f"braille:{segments[1]}"
    if len(segments) >= 3 and segments[0] == "browse":
        return f"browse-value:{segments[1]}"
    if path == "/search" and parts.query:
        return "search-page" if "page" in parse_qs(parts.query) else "search"
    return ""


def axe_problems(axe: Axe, page: Page, url: str, options: dict, label: str = "") -> list[str]:
    """One problem per rule broken on the page, naming the first few offending elements."""
    found = []
    for violation in axe.run(page, options=options).response["violations"]:
        nodes = violation["nodes"]
        lines = [
            f"{url}{label}: axe {violation['id']} ({violation['impact']}), {len(nodes)} element(s): "
            f"{violation['help']} ({violation['helpUrl'].split('?')[0]})"
        ]
        for node in nodes[:3]:
            summary = " ".join((node.get("failureSummary") or "").split())
            html = " ".join(node["html"].split())
            lines.append(f"    at {node['target']}: {html[:240]}\n      {summary[:300]}")
        if len(nodes) > 3:
            lines.append(f"    ... and {len(nodes) - 3} more")
        found.append("\n".join(lines))
    return found


def skip_link_problems(page: Page, url: str) -> list[str]:
    """The first Tab stop must be a visible link to the main content, and its target must exist."""
    page.keyboard.press("Tab")
    info = focused(page)
    if info is None or info["tag"] != "a" or not (info["href"] or "").startswith("#"):
        return [f"{url}: the first Tab stop is not a skip link: {info and info['html']}"]
    problems = []
    target = info["href"][1:]
    inside_main = page.evaluate(
        "(id) => { const t = document.getElementById(id); return t ? !!t.closest('main') : null; }", target
    )
    if inside_main is None:
        problems.append(f"{url}: the skip link points at #{target}, which does not exist")
    elif not inside_main:
        problems.append(f"{url}: the skip link target #{target} is not the main landmark or inside it")
    indicator = focus_indicator_problem(info)
    if indicator:
        problems.append(f"{url}: skip link: {indicator}")
    return problems


def reflow_problems(page: Page, url: str) -> list[str]:
    problems = []
    for label, size in (("320 px wide", NARROW), ("200% zoom", ZOOMED)):
        page.set_viewport_size(size)
        found = page.evaluate(OVERFLOW_JS, size["width"])
        if found["scrollWidth"] > size["width"]:
            problems.append(
                f"{url}: scrolls sideways at {label}: scrollWidth {found['scrollWidth']} > "
                f"{size['width']}; widest elements: {found['wide']}"
            )
    page.set_viewport_size(DESKTOP)
    return problems


def check_page(axe: Axe, page: Page, url: str, crawl: Crawl) -> list[str]:
    """Visit `url`, check it, and return the same-origin links on it."""
    response = page.goto(url, wait_until="load")
    expected_status = 404 if url.endswith(("/no-such-page", MISSING_CHAPTER)) else 200
    status = response.status if response else None
    if status != expected_status:
        crawl.problems.append(f"{url}: HTTP {status}, expected {expected_status}")
    facts = page.evaluate(PAGE_FACTS_JS)
    want_lang = i18n.BY_CODE[crawl.locale].lang
    problems = crawl.problems
    if facts["lang"] != want_lang:
        problems.append(f"{url}: <html lang={facts['lang']!r}>, expected {want_lang!r}")
    if len(facts["h1"]) != 1:
        problems.append(f"{url}: {len(facts['h1'])} h1 elements, expected exactly one: {facts['h1']}")
    if facts["mains"] != 1:
        problems.append(f"{url}: {facts['mains']} main landmarks, expected exactly one")
    if not facts["title"]:
        problems.append(f"{url}: empty <title>")
    crawl.titles[page.url] = facts["title"]  # a redirected URL is the page it lands on
    crawl.ids[url] = set(facts["ids"])
    problems.extend(skip_link_problems(page, url))
    problems.extend(axe_problems(axe, page, url, AXE_OPTIONS))
    page.emulate_media(color_scheme="dark")
    problems.extend(axe_problems(axe, page, url, AXE_DARK_OPTIONS, " (dark colour scheme)"))
    page.emulate_media(color_scheme="light")
    problems.extend(reflow_problems(page, url))
    links = []
    for href in facts["links"]:
        target, fragment = urldefrag(href)
        if fragment:
            crawl.fragments.setdefault(target, set()).add(fragment)
        links.append(target)
    return links


def crawl_site(browser: Browser, server: LiveServer, locale: str, seeds: list[str]) -> Crawl:
    crawl = Crawl(locale)
    axe = Axe()
    context = new_context(browser, server, locale, color_scheme="light")
    page = context.new_page()
    # Seeds spelled as the browser spells links, so that a seed and a link to it count as one page.
    queue = deque(server.url + quote(seed, safe="/?=&%") for seed in seeds)
    seen = set(queue)
    spent: Counter[str] = Counter(filter(None, (budget_key(url, server.url) for url in queue)))
    try:
        while queue and len(crawl.visited) < MAX_PAGES:
            url = queue.popleft()
            crawl.visited.append(url)
            for link in check_page(axe, page, url, crawl):
                key = budget_key(link, server.url)
                if link in seen or key is None:
                    continue
                bucket = key.split(":")[0]
                if key and spent[key] >= BUDGETS[bucket]:
                    continue
                spent[key] += 1
                seen.add(link)
                queue.append(link)
    finally:
        context.close()
    for url, wanted in crawl.fragments.items():
        if url in crawl.ids:
            missing = sorted(wanted - crawl.ids[url])
            if missing:
                crawl.problems.append(f"{url}: links point at ids that are not on the page: {missing}")
    by_title: dict[str, list[str]] = {}
    for url, title in crawl.titles.items():
        by_title.setdefault(title, []).append(url)
    for title, urls in by_title.items():
        if len(urls) > 1:
            crawl.problems.append(f"{len(urls)} pages share the title {title!r}: {urls}")
    return crawl


def book_seeds(server: LiveServer, books: dict[str, int]) -> list[str]:
    """Every book page and its first two chapters: title pages, covers and contents pages differ most."""
    db = open_database(server.settings.database_path)
    try:
        counts = {book_id: len(catalogue.get_book(db, book_id)["chapters"]) for book_id in books.values()}
    finally:
        db.close()
    seeds = [braille_status_seed(server, min(counts))]
    for book_id, count in counts.items():
        seeds.append(f"/books/{book_id}")
        seeds.extend(f"/books/{book_id}/read/{n}" for n in range(1, min(count, 2) + 1))
    return seeds


def braille_status_seed(server: LiveServer, book_id: int) -> str:
    """The braille download form's answer (a POST, so not a link to crawl): a queued edition's status page."""
    db = open_database(server.settings.database_path)
    try:
        options = {"table": "en-ueb-g1", "cells": 32, "lines": 20}
        clean = formats.normalise_options(formats.get_format("pef"), options)
        edition_id, _ = store.request_edition(db, book_id, "pef", clean, requested_by="reader")
    finally:
        db.close()
    return f"/books/{book_id}/braille/{edition_id}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_reachable_page_passes_axe_and_the_page_checks(chromium, live_library, locale):  # noqa: F811
    server, books = live_library
    started = time.monotonic()
    crawl = crawl_site(chromium, server, locale, SEEDS + book_seeds(server, books))
    elapsed = time.monotonic() - started

    paths = [
        urlsplit(url).path + (f"?{urlsplit(url).query}" if urlsplit(url).query else "")
        for url in crawl.visited
    ]
    # The crawl must have seen what matters, or "no violations" would prove little.
    for book_id in books.values():
        assert f"/books/{book_id}" in paths
        assert any(p.startswith(f"/books/{book_id}/read/") for p in paths), f"no chapter of book {book_id}"
    assert any(p.startswith("/browse/") and "page=2" in p for p in paths), "no page 2 of a browse list"
    assert any(p.startswith("/search?") and "page=2" in p for p in paths), "no page 2 of search results"
    for facet in ("subjects", "authors", "languages", "formats"):
        assert f"/browse/{facet}" in paths
        assert any(p.startswith(f"/browse/{facet}/") for p in paths), f"no /browse/{facet}/VALUE page"
    # Every page links to signing in and up; signing in to the reset form (signed-in pages and forms with
    # their errors: tests/test_browser_accounts.py; eligibility, organisation and review pages:
    # tests/test_browser_eligibility.py, with these same checks in both languages).
    for path in ("/account/sign-in", "/account/sign-up", "/account/reset"):
        assert path in paths, f"the crawl never reached {path}"
    assert len(crawl.visited) < MAX_PAGES, "the crawl hit its page cap: raise it or tighten the budgets"

    report = "\n".join(crawl.problems)
    assert not crawl.problems, (
        f"{len(crawl.problems)} accessibility problems on {len(crawl.visited)} pages "
        f"({locale}, {elapsed:.0f} s):\n{report}"
    )


def test_language_link_switches_the_interface(chromium, live):  # noqa: F811
    """The crawl sets the cookie directly; this follows the real link a reader uses."""
    context = new_context(chromium, live, "en")
    try:
        page = context.new_page()
        page.goto(live.url + "/browse")
        assert page.evaluate("document.documentElement.lang") == "en"
        page.locator('.language-switch a[hreflang="zh-Hans"]').click()
        page.wait_for_load_state("load")
        assert urlsplit(page.url).path == "/browse"
        assert page.evaluate("document.documentElement.lang") == "zh-Hans"
        cookies = {c["name"]: c["value"] for c in context.cookies(live.url)}
        assert cookies[i18n.COOKIE] == "zh_Hans"
        page.locator('.language-switch a[hreflang="en"]').click()
        page.wait_for_load_state("load")
        assert urlsplit(page.url).path == "/browse"
        assert page.evaluate("document.documentElement.lang") == "en"
    finally:
        context.close()


SHELF_BOOK = "epub/en/pg2701-moby-dick-epub2.epub"
LISTENED_BOOK = "epub/en/alice-pg19033-nyu-epub3.epub"


def signed_in_reader(server: LiveServer, books: dict[str, int], locale: str) -> tuple[str, int]:
    """A reader with something on every part of their shelf: their session cookie's value, and the chapter
    of Moby-Dick (one with a few paragraphs) where they have a paragraph bookmark."""
    from accessible_lib import readers, sessions, shelf

    db = open_database(server.settings.database_path)
    try:
        reader = readers.add_reader(db, f"axe-{locale}@example.org", "Axe Reader", "a long enough password")
        moby, alice = books[SHELF_BOOK], books[LISTENED_BOOK]
        chapter = next(
            c["position"]
            for c in catalogue.get_book(db, moby)["chapters"]
            if catalogue.get_chapter(db, moby, c["position"])["html"].count("<p") >= 3
        )
        shelf.set_favourite(db, reader, moby, True)
        shelf.add_bookmark(db, reader, moby, chapter=chapter, paragraph=2, note="A note of my own")
        shelf.add_bookmark(db, reader, moby, chapter=chapter + 1)
        shelf.add_bookmark(db, reader, alice, audio_chapter=2, audio_seconds=3.0)
        shelf.record_visit(db, reader, moby, chapter)
        shelf.record_listening(db, reader, alice, None, 2, 3.0, 1.25)
        edition = db.execute("SELECT id, format FROM editions WHERE book_id = ? LIMIT 1", [alice]).fetchone()
        shelf.record_download(db, reader, alice, edition[0], edition[1], "book.txt")
        return sessions.start(db, sessions.READER, reader), chapter
    finally:
        db.close()


@pytest.mark.parametrize("locale", LOCALES)
def test_signed_in_readers_pages_pass_axe(chromium, live_library, locale):  # noqa: F811
    """The pages only a signed-in reader sees (the shelf, the bookmark form, chapters with their bookmarks
    and bookmark links, "Continue reading" and "Continue listening"), with the same checks as the crawl."""
    from accessible_lib.web.account_session import COOKIE

    server, books = live_library
    token, chapter = signed_in_reader(server, books, locale)
    moby = books[SHELF_BOOK]
    paths = [
        "/",
        f"/books/{moby}",
        f"/books/{books[LISTENED_BOOK]}",
        f"/books/{moby}/read/{chapter}",
        f"/books/{moby}/read/{chapter}?mark=1",
        f"/books/{moby}/read/{chapter}?shelf=bookmark-added",
        f"/books/{moby}/read/{chapter}/bookmark?paragraph=2",
        f"/books/{moby}/read/{chapter + 1}/bookmark",
        "/account/shelf",
        "/account/shelf?shelf=history-forgotten",
        "/account",
    ]
    crawl = Crawl(locale)
    context = new_context(chromium, server, locale, color_scheme="light")
    context.add_cookies([{"name": COOKIE, "value": token, "url": server.url + "/"}])
    page = context.new_page()
    try:
        axe = Axe()
        for path in paths:
            check_page(axe, page, server.url + path, crawl)
            assert "Axe Reader" in page.content(), f"{path}: not signed in"
    finally:
        context.close()
    assert not crawl.problems, "\n".join(crawl.problems)
