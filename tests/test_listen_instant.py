"""Any chapter heard at once: GET /books/{id}/read/{n}/audio, spoken by the real espeak-ng while it streams.

Real engines, real lameenc, a real uvicorn server where a stream must stay open; the cache is checked by its
counters and files, never by timing.
"""

from __future__ import annotations

import io
import os
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path

import mutagen.mp3
import pytest
from bs4 import BeautifulSoup

from accessible_lib import access, catalogue
from accessible_lib.db import open_database
from accessible_lib.editions.audio import SAMPLE_RATE, Reader, sentence_key
from accessible_lib.rights import Rights, set_rights
from accessible_lib.settings import Settings
from voices.sentence_cache import SentenceCache, cache_key

from .conftest import make_book
from .live_server import start_server


def audio_url(book_id: int, position: int = 1) -> str:
    return f"/books/{book_id}/read/{position}/audio"


def listens(settings) -> int:
    """Chapters started through instant listening today, as the statistics count them."""
    from accessible_lib.db import open_database

    db = open_database(settings.database_path, migrate=False)
    try:
        row = db.execute("SELECT sum(count) FROM stats_daily WHERE metric = 'listen_instant'").fetchone()
    finally:
        db.close()
    return row[0] or 0


def service_of(client):
    return client.app_state["listening"]


def mp3_seconds(data: bytes) -> float:
    return mutagen.mp3.MP3(io.BytesIO(data)).info.length


@pytest.mark.parametrize("language", ["en", "zh"])
def test_a_chapter_streams_as_one_complete_mp3_of_its_spoken_length(client, sample_library, language) -> None:
    response = client.get(audio_url(sample_library[language]))
    assert response.status_code == 200
    assert response.headers["content-type"] == "audio/mpeg"
    service = service_of(client)
    assert service.stats["sentences_spoken"] >= 2  # the title and the text, each spoken
    assert service.last_seconds > 1.0
    # A CBR MP3 that mutagen reads whole: its length is the PCM's, give or take the encoder's padding.
    info = mutagen.mp3.MP3(io.BytesIO(response.content)).info
    assert info.bitrate == 64000 and info.channels == 1 and info.sample_rate == SAMPLE_RATE
    assert abs(info.length - service.last_seconds) < 0.25


def test_the_second_listener_gets_the_cached_chapter_and_sentences_are_reused(
    client, sample_library, settings
) -> None:
    url = audio_url(sample_library["en"])
    first = client.get(url)
    service = service_of(client)
    spoken = service.stats["sentences_spoken"]
    assert spoken >= 3 and service.stats["chapters_cached"] == 0
    sentence_files = list(settings.sentence_cache_dir.glob("*/*.pcm"))
    assert len(sentence_files) == spoken  # every spoken sentence kept, by its key
    second = client.get(url)
    assert second.status_code == 200 and second.content == first.content
    assert second.headers["content-length"] == str(len(first.content))  # a file: seekable, with ranges
    assert service.stats["chapters_cached"] == 1 and service.stats["sentences_spoken"] == spoken
    ranged = client.get(url, headers={"Range": "bytes=100-199"})
    assert ranged.status_code == 206 and ranged.content == first.content[100:200]
    # Without the whole chapter, its sentences still come from the cache: nothing is spoken again.
    for whole in settings.sentence_cache_dir.glob("*/*.mp3"):
        whole.unlink()
    third = client.get(url)
    assert third.content == first.content
    assert service.stats["sentences_spoken"] == spoken
    assert service.stats["sentences_cached"] == spoken
    # The statistics: three chapters started, the range that went on with one of them not counted.
    assert listens(settings) == 3


def test_a_voice_and_rate_make_other_audio_and_bad_ones_are_refused_clearly(client, sample_library) -> None:
    book = sample_library["en"]
    normal = client.get(audio_url(book))
    slow = client.get(audio_url(book), params={"voice": "en-gb", "rate": "100"})
    assert slow.status_code == 200
    assert mp3_seconds(slow.content) > mp3_seconds(normal.content) * 1.3
    for query, words in (
        ({"voice": "nonesuch"}, "There is no voice called “nonesuch”"),
        ({"rate": "fast"}, "from 80 to 450"),
        ({"rate": "1000"}, "from 80 to 450"),
    ):
        plain = client.get(audio_url(book), params=query)
        assert plain.status_code == 400 and plain.headers["content-type"].startswith("text/plain")
        assert words in plain.text
        page = client.get(audio_url(book), params=query, headers={"Accept": "text/html"})
        assert page.status_code == 400
        html = BeautifulSoup(page.text, "html5lib")
        assert html.find("h1").get_text(strip=True) == "This audio cannot be made"
        assert words in html.find("main").get_text()


def test_a_reader_who_may_not_read_the_book_gets_no_audio(client, sample_library, db) -> None:
    book = sample_library["en"]
    set_rights(db, book, Rights(access.WITHDRAWN))
    db.conn.commit()
    response = client.get(audio_url(book))
    assert response.status_code in (403, 404)
    assert response.headers["content-type"].startswith("text/html")
    assert service_of(client).stats["streams"] == 0 and service_of(client).stats["sentences_spoken"] == 0


def test_a_chapter_past_the_end_is_a_clear_404(client, sample_library) -> None:
    response = client.get(audio_url(sample_library["en"], 9), headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert BeautifulSoup(response.text, "html5lib").find("h1").get_text(strip=True) == "There is no chapter 9"


def test_the_chapter_page_offers_a_player_for_this_chapter(client, sample_library) -> None:
    page = BeautifulSoup(client.get(f"/books/{sample_library['zh']}/read/2").text, "html5lib")
    section = page.find("section", attrs={"data-listen-now": True})
    assert section.find("h2").get_text(strip=True) == "Listen to this chapter"
    audio = section.find("audio")
    assert audio.has_attr("controls") and audio["src"] == audio_url(sample_library["zh"], 2)
    assert section.find("a", href=audio_url(sample_library["zh"], 2)) is not None  # no-JS: open it
    assert section.find(attrs={"role": "status"}) is not None


def test_editions_and_listening_share_one_key_and_the_reader_reads_the_cache(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path / "cache", 10 * 1024 * 1024)
    reader = Reader({"rate": 175}, tmp_path, cache=cache)
    try:
        first = reader.speak("Call me Ishmael.", "en")
        again = reader.speak("Call me Ishmael.", "en")
    finally:
        reader.close()
    assert first.pcm == again.pcm and cache.hits == 1 and cache.misses == 1
    key = sentence_key("Call me Ishmael.", "en", None, 175, "libespeak")
    assert key == cache_key("Call me Ishmael.", "lang:en", 175, "", engine="libespeak")
    assert cache.path(key).read_bytes() == first.pcm
    # Another pronunciation dictionary version is another key: the sentence is spoken anew.
    assert cache_key("Call me Ishmael.", "lang:en", 175, "v2", engine="libespeak") != key


def test_the_cache_evicts_the_least_recently_used_beyond_its_bound(tmp_path: Path) -> None:
    cache = SentenceCache(tmp_path, 3000)
    keys = [cache_key(f"sentence {n}", "en", 175) for n in range(4)]
    for number, key in enumerate(keys[:3]):
        cache.put(key, bytes(1000))
        stamp = time.time() - 100 + number
        os.utime(cache.path(key), (stamp, stamp))
    assert cache.size() == 3000  # at its bound: nothing evicted yet
    assert cache.get(keys[0]) is not None  # used now: the most recent
    cache.put(keys[3], bytes(1000))  # one more: the least recently used goes
    assert cache.size() <= 3000
    assert not cache.path(keys[1]).exists()
    assert all(cache.path(key).exists() for key in (keys[0], keys[2], keys[3]))


def test_past_capacity_a_listener_is_told_to_come_back_later(tmp_path: Path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path / "data", listen_capacity=1)
    settings.data_dir.mkdir(parents=True)
    db = open_database(settings.database_path)
    # Long enough (distinct sentences, so none comes from the cache) to be still speaking when asked again.
    text = " ".join(f"This is sentence {n} of a long chapter, read aloud." for n in range(1, 400))
    book = catalogue.add_book(db, make_book("Long", [("The long one", text)], language="en"))
    db.close()
    live = start_server(settings)
    try:
        host, port = live.url.removeprefix("http://").split(":")
        first = socket.create_connection((host, int(port)), timeout=30)
        first.sendall(f"GET {audio_url(book)} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        head = first.recv(4096)
        assert head.startswith(b"HTTP/1.1 200") and b"audio/mpeg" in head
        for accept, kind in (("audio/*", "text/plain"), ("text/html", "text/html")):
            request = urllib.request.Request(live.url + audio_url(book), headers={"Accept": accept})
            with pytest.raises(urllib.error.HTTPError) as refused:
                urllib.request.urlopen(request, timeout=30)
            assert refused.value.code == 503
            assert refused.value.headers["Retry-After"] == "10"
            assert refused.value.headers["Content-Type"].startswith(kind)
            assert "try again in 10 seconds" in refused.value.read().decode()
        first.close()
        # The slot comes back when the listener leaves: a new listener is served again.
        deadline = time.monotonic() + 60
        while True:
            request = urllib.request.Request(live.url + audio_url(book), headers={"Accept": "audio/*"})
            try:
                with urllib.request.urlopen(request, timeout=60) as served:
                    assert served.status == 200 and served.read(1000)
                break
            except urllib.error.HTTPError as error:
                assert error.code == 503 and time.monotonic() < deadline
                time.sleep(0.5)
    finally:
        live.stop()


def test_a_chapter_of_a_built_mp3_edition_is_heard_without_speaking_again(client, sample_library, db) -> None:
    """The MP3 edition's builder writes the sentence cache with the keys the listening route reads: after
    the edition, listening to any of its chapters speaks nothing (and the editions read what it spoke)."""
    from accessible_lib.editions.audio import convert_mp3
    from accessible_lib.editions.export import export_book

    book = sample_library["zh"]
    workspace = Path(client.app_state["settings"].data_dir) / "build"
    workspace.mkdir()
    convert_mp3(export_book(db, book), {"rate": 175}, workspace, lambda fraction, step: None)
    service = service_of(client)
    for position in (1, 2):
        response = client.get(audio_url(book, position))
        assert response.status_code == 200 and mp3_seconds(response.content) > 1.0
    assert service.stats["sentences_spoken"] == 0
    assert service.stats["sentences_cached"] >= 4  # two chapters, each its title and text


def test_a_head_request_speaks_nothing_and_holds_no_place(client, sample_library) -> None:
    response = client.head(audio_url(sample_library["en"]))
    assert response.status_code == 200 and response.headers["content-type"] == "audio/mpeg"
    service = service_of(client)
    assert service.stats["streams"] == 0 and service.stats["sentences_spoken"] == 0
    assert service.streaming == 0
    client.get(audio_url(sample_library["en"]))
    assert service.stats["streams"] == 1 and service.streaming == 0  # given back when the stream ended


def test_a_head_request_says_when_the_library_is_busy(tmp_path: Path) -> None:
    """What the chapter page's script asks after its player failed, to tell the listener why."""
    from starlette.testclient import TestClient

    from accessible_lib import create_app

    settings = Settings.from_env({}, data_dir=tmp_path / "data", listen_capacity=1)
    with TestClient(create_app(settings)) as busy:
        db = open_database(settings.database_path)
        book = catalogue.add_book(db, make_book("Short", [("One", "A short chapter.")], language="en"))
        db.close()
        service = service_of(busy)
        assert service.admit()  # the one place, taken as a stream takes it
        refused = busy.head(audio_url(book))
        assert refused.status_code == 503 and refused.headers["retry-after"] == "10"
        assert busy.get(audio_url(book)).status_code == 503
        service.release()
        assert busy.head(audio_url(book)).status_code == 200
        assert service.stats["sentences_spoken"] == 0


def test_a_book_entry_changes_the_cache_key_of_the_sentences_it_occurs_in_only(tmp_path: Path) -> None:
    from voices import lexicon

    reader = Reader({"rate": 175}, tmp_path, cache=SentenceCache(tmp_path / "cache", 1024 * 1024))
    try:
        plain = [reader.key(text, "en") for text in ("Call me Ishmael.", "The whale sang.")]
        entry = lexicon.Entry("en", "Ishmael", "ISH-mail", "respelling")
        with lexicon.use([*lexicon.starter_entries(), entry]):
            with_entry = [reader.key(text, "en") for text in ("Call me Ishmael.", "The whale sang.")]
    finally:
        reader.close()
    assert with_entry[0] != plain[0]  # spoken with the entry: never the cached audio without it
    assert with_entry[1] == plain[1]  # a sentence without the word keeps its audio


def test_a_book_entry_is_heard_at_once_as_the_edition_speaks_it(client, db, settings) -> None:
    """Instant listening speaks with the book's own entries: the streamed sentence is stored under the key an
    edition of the book gives it, with the very audio the edition's reader makes with those entries."""
    from accessible_lib import pronunciations
    from accessible_lib.editions.export import export_book
    from accessible_lib.editions.runner import book_lexicon
    from accessible_lib.editions.sentence_audit import sentence_audio

    book_id = catalogue.add_book(db, make_book("Garden", [("One", "She grew a tomato.")], language="en"))
    entry = {"lang": "en", "written": "tomato", "reading": "t@m'A:toU", "kind": "phonemes"}
    assert pronunciations.save(db, {**entry, "book_id": str(book_id)}, by="tester")[1] == {}
    response = client.get(audio_url(book_id))
    assert response.status_code == 200 and service_of(client).stats["sentences_spoken"] == 2
    book = export_book(db, book_id)
    cache = SentenceCache(settings.sentence_cache_dir, 1 << 30)
    sentences = sentence_audio(book, {}, cache, settings)  # keyed as the MP3 edition keys them
    (tomato,) = [s for s in sentences if "tomato" in s.speech]
    streamed = cache.get(tomato.key)
    assert streamed is not None, "the stream kept the sentence under the edition's key"
    with book_lexicon(book):
        reader = Reader({}, None)
        try:
            edition = reader.synthesize(tomato.speech, "en").pcm
        finally:
            reader.close()
    plain = Reader({}, None)
    try:
        starter = plain.synthesize(tomato.speech, "en").pcm  # the starter readings: without the entry
    finally:
        plain.close()
    assert streamed == edition and streamed != starter
