"""Reading preferences through the real app and a real SQLite file: the form, saving to a cookie and to the
account, sign-in bringing the account's choices to a new browser, and bad values refused with nothing
changed. Pages are parsed with BeautifulSoup; what a browser makes of the choices is in
tests/test_browser_preferences.py.
"""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from starlette.testclient import TestClient

from accessible_lib import personal_data, readers, reading_prefs

PASSWORD = "correct horse battery"
EMAIL = "ann@example.org"


def soup(response) -> BeautifulSoup:
    return BeautifulSoup(response.text, "html5lib")


def token_on(client: TestClient, path: str = "/preferences") -> str:
    form = soup(client.get(path)).find("form", action="/preferences")
    return form.find("input", attrs={"name": "csrf_token"})["value"]


def save(client: TestClient, action: str = "save", **choices: str):
    data = {"csrf_token": token_on(client), "action": action, **choices}
    return client.post("/preferences", data=data, follow_redirects=False)


def html_data(response) -> dict[str, str]:
    """The data- attributes on <html>, where the choices are applied to a page."""
    html = soup(response).find("html")
    return {name: value for name, value in html.attrs.items() if name.startswith("data-")}


def checked(response) -> dict[str, str]:
    """{field name: the value of its checked radio button} on the preferences form."""
    form = soup(response).find("form", action="/preferences")
    return {radio["name"]: radio["value"] for radio in form.find_all("input", type="radio", checked=True)}


def sign_in(client: TestClient):
    page = soup(client.get("/account/sign-in"))
    token = page.find("form", action="/account/sign-in").find("input", attrs={"name": "csrf_token"})["value"]
    data = {"csrf_token": token, "email": EMAIL, "password": PASSWORD, "next": "/"}
    response = client.post("/account/sign-in", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    return response


def test_the_page_offers_every_choice_as_a_labelled_radio_in_a_fieldset_and_is_linked_from_every_page(client):
    home = soup(client.get("/"))
    link = home.find("header").find("a", href="/preferences")
    assert link is not None and link.get_text(strip=True) == "Reading preferences"
    page = soup(client.get("/preferences"))
    assert page.find("h1").get_text(strip=True) == "Reading preferences"
    form = page.find("form", action="/preferences")
    assert form["method"] == "post"
    legends = [fieldset.find("legend").get_text(strip=True) for fieldset in form.find_all("fieldset")]
    assert legends == [
        "Text size",
        "Colours",
        "Font",
        "Space between lines",
        "Space between letters",
        "Space between words",
        "Line length",
    ]
    for preference in reading_prefs.PREFERENCES:
        values = [radio["value"] for radio in form.find_all("input", attrs={"name": preference.name})]
        assert tuple(values) == preference.choices
        for value in values:
            label = form.find("label", attrs={"for": f"{preference.name}-{value}"})
            assert label is not None and label.get_text(strip=True), (preference.name, value)
    assert form.find("label", attrs={"for": "text_size-400"}).get_text(strip=True) == "400%"
    assert "yellow text on black" in form.find("label", attrs={"for": "theme-contrast"}).get_text()
    buttons = {b["value"]: b.get_text(strip=True) for b in form.find_all("button")}
    assert buttons == {"save": "Save", "preview": "Preview without saving", "reset": "Reset to defaults"}
    assert checked(client.get("/preferences")) == reading_prefs.DEFAULTS
    assert html_data(client.get("/")) == {}, "no choice made: the page is as the stylesheet says"


def test_saving_sets_a_cookie_that_every_page_applies_and_reset_forgets_it(client):
    response = save(client, text_size="400", theme="contrast", font="dyslexic", letter_spacing="wide")
    assert response.status_code == 303 and response.headers["location"] == "/preferences?done=saved"
    cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith("reading_prefs=")]
    assert len(cookie) == 1 and "HttpOnly" in cookie[0] and "Max-Age=31536000" in cookie[0], cookie
    assert '"' not in cookie[0].split(";")[0], "the value needs no quoting"
    expected = {
        "data-text-size": "400",
        "data-theme": "contrast",
        "data-font": "dyslexic",
        "data-letter-spacing": "wide",
    }
    done = client.get("/preferences?done=saved")
    assert html_data(done) == expected
    assert soup(done).find("div", role="status").get_text(strip=True) == (
        "Your reading preferences are saved. Every page now uses them."
    )
    assert soup(done).find("title").get_text().startswith("Saved:")
    assert checked(done)["text_size"] == "400" and checked(done)["theme"] == "contrast"
    assert html_data(client.get("/search")) == expected
    assert html_data(client.get("/no-such-page")) == expected, "the error page too"

    reset = save(client, action="reset", text_size="200")
    assert reset.status_code == 303 and reset.headers["location"] == "/preferences?done=reset"
    assert html_data(client.get("/")) == {}
    assert checked(client.get("/preferences")) == reading_prefs.DEFAULTS


def test_preview_shows_the_page_with_the_choices_and_keeps_nothing(client):
    save(client, theme="sepia")
    preview = save(client, action="preview", theme="dark", text_size="200")
    assert preview.status_code == 200
    assert html_data(preview) == {"data-theme": "dark", "data-text-size": "200"}
    assert checked(preview)["theme"] == "dark"
    assert "not saved yet" in soup(preview).find("div", role="status").get_text()
    assert not [h for h in preview.headers.get_list("set-cookie") if h.startswith("reading_prefs=")]
    assert html_data(client.get("/")) == {"data-theme": "sepia"}


@pytest.mark.parametrize(
    ("field", "value", "message", "message_zh"),
    [
        ("text_size", "900", "Choose one of the text sizes on the list.", "请从列表中选择一种文字大小。"),
        ("theme", "purple", "Choose one of the colour themes on the list.", "请从列表中选择一种配色。"),
        ("font", "Comic Sans", "Choose one of the fonts on the list.", "请从列表中选择一种字体。"),
        ("line_length", "", "Choose one of the line lengths on the list.", "请从列表中选择一种行宽。"),
    ],
)
def test_a_value_the_form_never_offered_is_refused_translated_and_nothing_changes(
    client, field, value, message, message_zh
):
    save(client, theme="sepia")
    before = client.cookies.get("reading_prefs")
    response = save(client, **{"word_spacing": "wide", field: value})
    assert response.status_code == 400
    summary = soup(response).find(class_="error-summary")
    assert summary["role"] == "alert"
    links = [(a["href"], a.get_text(strip=True)) for a in summary.find_all("a")]
    target = f"{field}-{reading_prefs.BY_NAME[field].default}"
    assert links == [(f"#{target}", message)]
    page = soup(response)
    assert page.find("input", id=target) is not None, "the summary links to a real field"
    fieldset = page.find("fieldset", id=f"field-{field}")
    assert page.find(id=fieldset["aria-describedby"]).get_text(strip=True).endswith(message)
    assert page.find("title").get_text().startswith("Error:")
    assert not [h for h in response.headers.get_list("set-cookie") if h.startswith("reading_prefs=")]
    assert client.cookies.get("reading_prefs") == before
    assert html_data(client.get("/")) == {"data-theme": "sepia"}, "nothing changed"

    client.cookies.set("locale", "zh_Hans")
    chinese = save(client, **{"word_spacing": "wide", field: value})
    assert chinese.status_code == 400
    assert soup(chinese).find(class_="error-summary").find("a").get_text(strip=True) == message_zh


def test_a_form_without_its_token_is_refused_and_changes_nothing(client):
    response = client.post("/preferences", data={"theme": "dark", "action": "save"}, follow_redirects=False)
    assert response.status_code == 403
    assert not [h for h in response.headers.get_list("set-cookie") if h.startswith("reading_prefs=")]
    assert html_data(client.get("/")) == {}


def test_a_tampered_cookie_applies_only_choices_the_stylesheet_knows(client):
    client.cookies.set("reading_prefs", 'theme:dark.text_size:9000.font:"x"onload=1.evil:1')
    assert html_data(client.get("/")) == {"data-theme": "dark"}
    assert reading_prefs.parse("x" * 400) == reading_prefs.DEFAULTS


def test_the_chinese_page_is_translated(client):
    client.cookies.set("locale", "zh_Hans")
    page = soup(client.get("/preferences"))
    assert page.find("h1").get_text(strip=True) == "阅读设置"
    assert page.find("header").find("a", href="/preferences").get_text(strip=True) == "阅读设置"
    assert page.find("legend").get_text(strip=True) == "文字大小"
    assert page.find("button", value="reset").get_text(strip=True) == "恢复默认设置"


def test_a_signed_in_reader_saves_to_the_account_and_a_new_browser_gets_them_at_sign_in(app, client, db):
    reader_id = readers.add_reader(db, EMAIL, "Ann Lee", PASSWORD)
    sign_in(client)
    assert save(client, text_size="300", theme="contrast", line_length="short").status_code == 303
    assert reading_prefs.for_reader(db, reader_id) == "text_size:300.theme:contrast.line_length:short"
    exported = personal_data.export(db, reader_id)
    assert "text_size:300" in str(exported), "the reader's export includes them"

    with TestClient(app) as other:  # another device, which had chosen sepia before signing in
        save(other, theme="sepia")
        response = sign_in(other)
        cookie = [h for h in response.headers.get_list("set-cookie") if h.startswith("reading_prefs=")]
        assert cookie and cookie[0].startswith(
            "reading_prefs=text_size:300.theme:contrast.line_length:short;"
        )
        assert html_data(other.get("/")) == {
            "data-text-size": "300",
            "data-theme": "contrast",
            "data-line-length": "short",
        }, "the account wins over the browser's cookie at sign-in"
        assert save(other, action="reset").status_code == 303
        assert reading_prefs.for_reader(db, reader_id) == "", "saved as the defaults"
        assert html_data(other.get("/")) == {}


def test_an_account_without_preferences_adopts_the_browsers_at_sign_in(client, db):
    reader_id = readers.add_reader(db, EMAIL, "Ann Lee", PASSWORD)
    assert reading_prefs.for_reader(db, reader_id) is None
    save(client, word_spacing="wider", font="dyslexic")
    sign_in(client)
    assert reading_prefs.for_reader(db, reader_id) == "font:dyslexic.word_spacing:wider"
    assert html_data(client.get("/")) == {"data-font": "dyslexic", "data-word-spacing": "wider"}


def test_the_dyslexia_font_and_its_licence_are_served_from_this_site(client):
    css = client.get("/static/reading.css")
    assert css.status_code == 200 and "OpenDyslexic" in css.text
    font = client.get("/static/fonts/opendyslexic-latin-400-normal.woff2")
    assert font.status_code == 200 and font.headers["content-type"] == "font/woff2"
    assert font.content[:4] == b"wOF2"
    assert "SIL OPEN FONT LICENSE" in client.get("/static/fonts/OFL.txt").text


def test_the_confirmation_leads_back_to_the_page_the_reader_came_from_on_this_site_only(client):
    page = soup(client.get("/preferences", headers={"Referer": "http://testserver/search?q=whale"}))
    form = page.find("form", action="/preferences")
    assert form.find("input", attrs={"name": "back"})["value"] == "/search?q=whale"
    token = form.find("input", attrs={"name": "csrf_token"})["value"]
    data = {"csrf_token": token, "action": "save", "theme": "dark", "back": "/search?q=whale"}
    response = client.post("/preferences", data=data, follow_redirects=False)
    assert response.headers["location"] == "/preferences?done=saved&back=%2Fsearch%3Fq%3Dwhale"
    notice = soup(client.get(response.headers["location"])).find(id="notice")
    link = notice.find("a")
    assert link["href"] == "/search?q=whale" and link.get_text(strip=True) == "Back to the page you were on"

    for hostile in ("//evil.example/", "https://evil.example/", "/\\evil.example", "/preferences?done=saved"):
        data["back"] = hostile
        response = client.post("/preferences", data=data, follow_redirects=False)
        assert response.headers["location"] == "/preferences?done=saved", hostile
    other_site = soup(client.get("/preferences", headers={"Referer": "https://evil.example/books/1"}))
    assert other_site.find("input", attrs={"name": "back"}) is None
