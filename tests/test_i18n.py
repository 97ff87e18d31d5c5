"""English and Simplified Chinese interfaces: complete catalogues, chosen by link, cookie or browser."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from bs4 import BeautifulSoup

from accessible_lib import i18n

ROOT = Path(__file__).resolve().parent.parent
PO = ROOT / "accessible_lib/locales/zh_Hans/LC_MESSAGES/messages.po"


def test_every_interface_string_has_a_chinese_translation(tmp_path):
    """Extract the strings from the code as it is now, so a new untranslated string fails here."""
    pot = tmp_path / "messages.pot"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "babel.messages.frontend",
            "extract",
            "-F",
            "babel.cfg",
            "-k",
            "N_",
            "-k",
            "gettext",
            "-k",
            "ngettext:1,2",
            "-k",
            "book_gettext:2",
            "--no-location",
            "--ignore-dirs",
            ".venv var tests",
            "-o",
            str(pot),
            ".",
        ],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    wanted = {m.id for m in read_catalogue(pot) if m.id}
    catalogue = read_catalogue(PO, "zh_Hans")
    translated = {
        m.id
        for m in catalogue
        if m.id and not m.fuzzy and (all(m.string) if isinstance(m.string, tuple) else m.string)
    }
    assert sorted(map(str, wanted - translated)) == []


def test_placeholders_survive_translation():
    for message in read_catalogue(PO, "zh_Hans"):
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        wanted = set(re.findall(r"%\(\w+\)[sd]", ids[-1]))
        for string in strings:
            assert set(re.findall(r"%\(\w+\)[sd]", string)) == wanted, message.id


def read_catalogue(path: Path, locale: str | None = None):
    with path.open("rb") as po_file:
        return read_po(po_file, locale=locale)


def lang_of(response) -> str:
    return BeautifulSoup(response.text, "html.parser").html["lang"]


def test_accept_language_chooses_the_interface(client):
    assert lang_of(client.get("/", headers={"accept-language": "zh-CN,zh;q=0.9"})) == "zh-Hans"
    assert lang_of(client.get("/", headers={"accept-language": "zh-TW"})) == "zh-Hans"
    assert lang_of(client.get("/", headers={"accept-language": "en-GB,en;q=0.8"})) == "en"
    assert lang_of(client.get("/", headers={"accept-language": "fr"})) == "en"
    assert lang_of(client.get("/")) == "en"
    # q-values decide, not the order in the header
    assert lang_of(client.get("/", headers={"accept-language": "en;q=0.1, zh-CN;q=0.9"})) == "zh-Hans"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("en;q=0.1, zh-CN;q=0.9", "zh_Hans"),
        ("zh-CN;q=0.2, en-US;q=0.8", "en"),
        ("fr, en;q=0.5, zh;q=0.4", "en"),  # French we lack; the next wanted we have
        ("fr, zh-TW;q=0.5, en;q=0.4", "zh_Hans"),  # Traditional readers get the one Chinese we have
        ("zh-Hant-HK", "zh_Hans"),
        ("ZH-hans", "zh_Hans"),
        ("en-GB,en;q=0.8", "en"),
        ("zh;q=0, en;q=0.1", "en"),  # q=0: not Chinese
        ("zh;q=0", "en"),  # nothing wanted that we have: the default
        ("*", "en"),
        ("de;q=abc, zh;q=0.3", "zh_Hans"),  # a broken weight counts as unwanted
        ("", "en"),
    ],
)
def test_accept_language_is_negotiated_by_q_value(header, expected):
    assert i18n.choose_locale(None, header, "en") == expected


def test_default_locale_applies_only_when_nothing_matches():
    assert i18n.choose_locale(None, "fr", "zh_Hans") == "zh_Hans"
    assert i18n.choose_locale(None, "en;q=0.5", "zh_Hans") == "en"
    assert i18n.choose_locale("en", "zh-CN", "zh_Hans") == "en"  # the cookie wins


def test_the_language_link_on_every_page_switches_and_is_remembered(client, sample_library):
    page = f"/books/{sample_library['en']}/read/2"
    soup = BeautifulSoup(client.get(page).text, "html.parser")
    switch = soup.find("a", attrs={"hreflang": "zh-Hans"})
    assert switch["lang"] == "zh-Hans" and switch.get_text() == "简体中文"
    response = client.get(switch["href"], follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == page
    # The test client keeps the cookie, like a browser: later pages stay in Chinese.
    chinese = BeautifulSoup(client.get("/").text, "html.parser")
    assert chinese.html["lang"] == "zh-Hans"
    assert chinese.find("a", class_="skip-link").get_text() == "跳到主要内容"
    assert chinese.h1.get_text() == "无障碍数字图书馆"
    back = chinese.find("a", attrs={"hreflang": "en"})
    client.get(back["href"])
    assert (
        lang_of(client.get("/", headers={"accept-language": "zh-CN"})) == "en"
    )  # the choice beats the header


def test_language_switch_never_redirects_off_site(client):
    for target in ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:alert(1)"]:
        response = client.get("/language/en", params={"next": target}, follow_redirects=False)
        assert response.headers["location"] == "/"
    assert client.get("/language/fr", follow_redirects=False).status_code == 404


def test_language_names_are_in_the_interface_language_and_an_unknown_tag_is_shown_as_written():
    # Remembered per (tag, interface language): the same tag is named differently in each interface.
    assert i18n.language_name("zh", "en") == "Chinese"
    assert i18n.language_name("zh", "zh") == "中文"
    assert i18n.language_name("zh", "en") == "Chinese"
    assert i18n.language_name("xx-bogus", "en") == "xx-bogus"  # babel knows no such locale: not an error
