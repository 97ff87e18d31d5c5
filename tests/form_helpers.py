"""Sending the site's POST forms from a TestClient as a browser would: with the page's CSRF token."""

from __future__ import annotations

from bs4 import BeautifulSoup


def csrf_token_on(client, path: str) -> str:
    """The CSRF token in the first form on `path` (fetching the page also sets the visitor's cookie)."""
    page = BeautifulSoup(client.get(path).text, "html.parser")
    return page.find("input", attrs={"name": "csrf_token"})["value"]


def ask_braille(client, book_id: int, options: dict, **kwargs):
    """The book page's "Get the braille edition" form, sent with `options` (table, cells, lines, format)."""
    page = BeautifulSoup(client.get(f"/books/{book_id}").text, "html.parser")
    form = page.find("form", action=f"/books/{book_id}/braille")  # not the header's sign-out form
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    kwargs.setdefault("follow_redirects", False)
    return client.post(f"/books/{book_id}/braille", data={"csrf_token": token, **options}, **kwargs)
