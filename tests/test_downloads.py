"""Finished editions on the book page, and downloads with the right headers and byte ranges."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

import pytest
from bs4 import BeautifulSoup

from accessible_lib import catalogue
from accessible_lib.editions import store
from accessible_lib.editions.storage import storage_for

from .conftest import make_book

CONTENT = bytes(range(256)) * 40  # 10,240 bytes, every byte value, so ranges are easy to check


@pytest.fixture
def finished(db, settings):
    """A Chinese book with a finished plain-text edition published through the real storage."""
    book_id = catalogue.add_book(
        db, make_book("红楼梦 第一卷", [("第一回", "此开卷第一回也。")], language="zh-Hans")
    )
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    (workspace / "book.txt").write_bytes(CONTENT)
    storage.publish(workspace, str(edition_id))
    files = [
        {
            "name": "book.txt",
            "media_type": "text/plain; charset=utf-8",
            "size": len(CONTENT),
            "sha256": hashlib.sha256(CONTENT).hexdigest(),
        }
    ]
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=files)
    return {"book_id": book_id, "edition_id": edition_id, "url": f"/editions/{edition_id}/files/book.txt"}


def test_book_page_lists_the_finished_edition(client, finished):
    soup = BeautifulSoup(client.get(f"/books/{finished['book_id']}").text, "html.parser")
    link = soup.find("a", href=finished["url"])
    assert link is not None
    assert link.get_text() == "Download TXT file, 10 KB"
    assert "Plain text" in link.find_parent("ul").find_parent("li").get_text()


def test_download_headers(client, finished):
    response = client.get(finished["url"])
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-type"].startswith("text/plain")
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] and response.headers["last-modified"]
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;")
    assert 'filename="book-' in disposition  # an ASCII fallback for a Chinese title
    utf8 = disposition.split("filename*=UTF-8''")[1]
    assert unquote(utf8) == "红楼梦 第一卷.txt"
    again = client.get(finished["url"], headers={"if-none-match": response.headers["etag"]})
    assert again.status_code == 304


def test_single_range_resumes_a_download(client, finished):
    response = client.get(finished["url"], headers={"range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response.content == CONTENT[1000:2000]
    assert response.headers["content-range"] == f"bytes 1000-1999/{len(CONTENT)}"
    tail = client.get(finished["url"], headers={"range": "bytes=-100"})
    assert tail.status_code == 206 and tail.content == CONTENT[-100:]
    open_ended = client.get(finished["url"], headers={"range": "bytes=10000-"})
    assert open_ended.content == CONTENT[10000:]


def test_multiple_ranges_come_as_multipart(client, finished):
    response = client.get(finished["url"], headers={"range": "bytes=0-9, 100-109"})
    assert response.status_code == 206
    assert response.headers["content-type"].startswith("multipart/byteranges; boundary=")
    assert CONTENT[0:10] in response.content and CONTENT[100:110] in response.content
    assert f"Content-Range: bytes 100-109/{len(CONTENT)}".lower() in response.text.lower()


def test_invalid_ranges(client, finished):
    beyond = client.get(finished["url"], headers={"range": f"bytes={len(CONTENT) + 10}-"})
    assert beyond.status_code == 416
    assert beyond.headers["content-range"] == f"bytes */{len(CONTENT)}"
    malformed = client.get(finished["url"], headers={"range": "bytes=abc"})
    # Starlette's FileResponse answers a Range it cannot parse with 400 (RFC 9110 allows it to): no bytes
    # of the file, no 500.
    assert malformed.status_code == 400
    assert CONTENT[:10] not in malformed.content


def test_only_finished_files_are_served(client, db, finished):
    assert client.get(f"/editions/{finished['edition_id']}/files/other.txt").status_code == 404
    assert client.get(f"/editions/{finished['edition_id']}/files/..%2F..%2Fcatalogue.db").status_code == 404
    assert client.get("/editions/9999/files/book.txt").status_code == 404
    queued, _ = store.request_edition(db, finished["book_id"], "html", {})
    assert client.get(f"/editions/{queued}/files/book.zip").status_code == 404


def test_if_modified_since(client, finished):
    first = client.get(finished["url"])
    later = client.get(finished["url"], headers={"if-modified-since": first.headers["last-modified"]})
    assert later.status_code == 304 and later.content == b""
    older = client.get(finished["url"], headers={"if-modified-since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert older.status_code == 200


def test_download_names_are_safe():
    from accessible_lib.web.downloads import download_name

    assert download_name('A/B: "C"?', ".zip", "book-1") == ("A B C.zip", "A-B-C.zip")
    assert download_name("红楼梦", ".txt", "book-2") == ("红楼梦.txt", "book-2.txt")
    assert download_name("..", ".txt", "book-3") == ("book-3.txt", "book-3.txt")
