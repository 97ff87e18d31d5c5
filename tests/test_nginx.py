"""nginx in front of the app: the documented site file, run by a real nginx over TLS, sends edition files.

The app (uvicorn on a loopback port, tests/live_server.py) runs with `accel_redirect` on and nginx as its
trusted proxy; nginx (tests/nginx_front.py) is a process of this test, never the system's service, and its
server blocks are docs/deploy/nginx-accessible-lib.conf itself, so the configuration the README shows is the
one tested.

What is checked through nginx: the whole file and its headers, sent by nginx and not by Python (nginx's own
ETag, an empty body from the app); a resumed download (Range with If-Range: 206 and the right bytes, a stale
validator: the whole file again); 304; the 403 page for a reader without rights; the internal location and
path tricks refused; personal copies of restricted books, which stay streamed by the app, still resuming;
http sent to https; cookies marked Secure because the forwarded scheme is believed.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote, unquote

import httpx2
import pytest
from bs4 import BeautifulSoup

from accessible_lib import catalogue, readers
from accessible_lib.db import open_database
from accessible_lib.editions import store
from accessible_lib.editions.storage import storage_for
from accessible_lib.settings import PREFIX, SETTINGS, Settings
from accessible_lib.web.accel_redirect import accel_response, location
from accessible_lib.web.headers import SECURITY_HEADERS

from .conftest import make_book
from .live_server import start_server
from .nginx_front import CHECKOUT, DEPLOY, SITE, running_nginx
from .test_accounts import PASSWORD, csrf_of

UNITS = [DEPLOY / "accessible-lib-web.service", DEPLOY / "accessible-lib-worker.service"]
ACCEL = "/_protected/"
CONTENT = bytes(range(256)) * 4096 * 3  # 3 MiB, every byte value: a slice shows where it came from
SMALL = "此开卷第一回也。作者自云：因曾历过一番梦幻之后。\n".encode() * 200
READER_NAME = "Robin Reader"


def publish(db, settings: Settings, book_id: int, name: str, content: bytes) -> dict:
    """A finished txt edition holding `content`, published through the real storage as a worker does."""
    edition_id, _ = store.request_edition(db, book_id, "txt", {})
    token = store.claim(db, edition_id, lease_seconds=60)
    storage = storage_for(settings)
    workspace = storage.new_workspace()
    (workspace / name).write_bytes(content)
    storage.publish(workspace, str(edition_id))
    record = {
        "name": name,
        "media_type": "text/plain; charset=utf-8",
        "size": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
    }
    assert store.complete(db, edition_id, token, storage_key=str(edition_id), files=[record])
    path = (storage.path(str(edition_id)) / name).resolve()
    return {"edition_id": edition_id, "url": f"/editions/{edition_id}/files/{name}", "path": path}


@pytest.fixture(scope="module")
def front(tmp_path_factory: pytest.TempPathFactory):
    """The app behind a real nginx: a public Chinese book, a restricted book, two readers."""
    root = tmp_path_factory.mktemp("nginx")
    settings = Settings.from_env(
        {}, data_dir=root / "data", accel_redirect=ACCEL, trusted_proxies="127.0.0.1"
    )
    db = open_database(settings.database_path)
    public = catalogue.add_book(
        db, make_book("红楼梦 第一卷", [("第一回", "此开卷第一回也。")], language="zh-Hans")
    )
    restricted = catalogue.add_book(
        db,
        make_book(
            "Atlas eligible-only", [("Maps", "Nine silver compasses.")], language="en", rights="eligible-only"
        ),
    )
    files = {"public": publish(db, settings, public, "book.txt", CONTENT)}
    files["restricted"] = publish(db, settings, restricted, "book.txt", SMALL)
    other = catalogue.add_book(db, make_book("Loomings", [("One", "Call me Ishmael.")], language="en"))
    files["unusual"] = publish(db, settings, other, "书 1%?.txt", SMALL)  # a plug-in's format may name so
    readers.add_reader(db, "reader@example.org", READER_NAME, PASSWORD, role="reader")
    readers.add_reader(db, "eligible@example.org", READER_NAME, PASSWORD, role="eligible")
    db.close()

    live = start_server(settings)
    try:
        app_port = int(live.url.rsplit(":", 1)[1])
        with running_nginx(root / "nginx", app_port=app_port, editions=settings.editions_dir) as nginx:
            yield {
                "settings": settings,
                "app": live.url,
                "https": nginx.https,
                "http": nginx.http,
                "tls": nginx.tls,
                "acme": nginx.acme,
                "files": files,
            }
    finally:
        live.stop()


def client(front: dict) -> httpx2.Client:
    return httpx2.Client(base_url=front["https"], verify=front["tls"], trust_env=False, timeout=30)


def nginx_etag(path: Path) -> str:
    """The ETag nginx's static module makes: file mtime and size in hexadecimal."""
    info = path.stat()
    return f'"{int(info.st_mtime):x}-{info.st_size:x}"'


def sign_in(browser: httpx2.Client, email: str) -> None:
    token = csrf_of(browser.get("/account/sign-in"))
    data = {"csrf_token": token, "email": email, "password": PASSWORD, "next": ""}
    response = browser.post("/account/sign-in", data=data)
    assert response.status_code == 303, response.text
    cookies = response.headers.get_list("set-cookie")
    assert cookies and all("secure" in c.lower() for c in cookies), "https through nginx gives Secure cookies"


def test_a_whole_file_is_sent_by_nginx_with_the_apps_headers(front) -> None:
    public = front["files"]["public"]
    with client(front) as browser:
        response = browser.get(public["url"])
    assert response.status_code == 200
    assert response.content == CONTENT
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["accept-ranges"] == "bytes"
    assert response.headers["etag"] == nginx_etag(public["path"]), "nginx's ETag: nginx sent the bytes"
    assert response.headers["last-modified"]
    assert response.headers["cache-control"] == "public, max-age=3600"
    disposition = response.headers["content-disposition"]
    assert disposition.startswith("attachment;") and 'filename="book-' in disposition
    assert unquote(disposition.split("filename*=UTF-8''")[1]) == "红楼梦 第一卷.txt"
    for name, value in SECURITY_HEADERS.items():
        assert response.headers[name] == value, f"{name} through nginx"
    assert response.headers["strict-transport-security"] == "max-age=63072000"
    with client(front) as browser:
        head = browser.head(public["url"])
    assert head.status_code == 200 and head.content == b""
    assert (
        head.headers["content-length"] == str(len(CONTENT))
        and head.headers["etag"] == response.headers["etag"]
    )


def test_a_file_name_nginx_must_decode(front) -> None:
    unusual = front["files"]["unusual"]
    with client(front) as browser:
        response = browser.get(quote(unusual["url"]))
    assert response.status_code == 200 and response.content == SMALL
    assert response.headers["etag"] == nginx_etag(unusual["path"])


def test_the_app_itself_only_names_the_file(front) -> None:
    """Asked directly, the app sends no byte of the file: only where nginx finds it, once rights allow."""
    public = front["files"]["public"]
    response = httpx2.get(front["app"] + public["url"], trust_env=False)
    assert response.status_code == 200 and response.content == b""
    relative = public["path"].relative_to(front["settings"].editions_dir.resolve())
    assert response.headers["x-accel-redirect"] == ACCEL + quote(relative.as_posix())
    assert relative.parts[0] == ".published", "the publication checked, not a key that may move"
    assert stat.S_IMODE(public["path"].parent.stat().st_mode) == 0o755, "nginx's own user may enter it"


def test_a_broken_download_resumes_with_range_and_if_range(front) -> None:
    public = front["files"]["public"]
    with client(front) as browser:
        first = browser.get(public["url"])
        etag = first.headers["etag"]
        assert browser.get(public["url"]).headers["etag"] == etag, "the same validator on every request"
        middle = len(CONTENT) // 2 + 12345
        resumed = browser.get(public["url"], headers={"range": f"bytes={middle}-", "if-range": etag})
        assert resumed.status_code == 206
        assert resumed.content == CONTENT[middle:]
        assert resumed.headers["content-range"] == f"bytes {middle}-{len(CONTENT) - 1}/{len(CONTENT)}"
        assert resumed.headers["etag"] == etag
        assert "filename*=UTF-8''" in resumed.headers["content-disposition"]
        stale = browser.get(public["url"], headers={"range": f"bytes={middle}-", "if-range": '"0-0"'})
        assert stale.status_code == 200 and stale.content == CONTENT, "a changed file starts again"
        both = browser.get(public["url"], headers={"range": "bytes=0-9, 100-109"})
        assert both.status_code == 206
        assert both.headers["content-type"].startswith("multipart/byteranges; boundary=")
        assert CONTENT[0:10] in both.content and CONTENT[100:110] in both.content
        beyond = browser.get(public["url"], headers={"range": f"bytes={len(CONTENT) + 10}-"})
        assert beyond.status_code == 416
        unchanged = browser.get(public["url"], headers={"if-none-match": etag})
        assert unchanged.status_code == 304 and unchanged.content == b""


def _refusal(response) -> str:
    assert response.status_code == 403
    assert b"Nine silver compasses" not in response.content and SMALL not in response.content
    return BeautifulSoup(response.text, "html.parser").find("h1").get_text()


def test_a_reader_without_rights_gets_the_403_page_through_nginx(front) -> None:
    restricted = front["files"]["restricted"]
    with client(front) as anonymous:
        assert _refusal(anonymous.get(restricted["url"])) == "This book is for eligible readers only"
    with client(front) as reader:
        sign_in(reader, "reader@example.org")
        assert _refusal(reader.get(restricted["url"])) == "This book is for eligible readers only"


def test_an_eligible_reader_gets_a_personal_copy_streamed_by_the_app(front) -> None:
    """Personal copies are made as they are sent (web/personal_downloads.py), so nginx only relays them."""
    restricted = front["files"]["restricted"]
    with client(front) as reader:
        sign_in(reader, "eligible@example.org")
        sent_on = reader.get(restricted["url"])
        assert sent_on.status_code == 303 and "dl=" in sent_on.headers["location"]
        link = sent_on.headers["location"]
        whole = reader.get(link)
        assert whole.status_code == 200 and SMALL in whole.content
        assert READER_NAME.encode() in whole.content
        etag = whole.headers["etag"]
        assert etag != nginx_etag(restricted["path"]) and "x-accel-redirect" not in whole.headers
        resumed = reader.get(link, headers={"range": "bytes=100-", "if-range": etag})
        assert resumed.status_code == 206 and resumed.content == whole.content[100:]


def test_the_internal_location_cannot_be_asked_for(front) -> None:
    public = front["files"]["public"]
    relative = public["path"].relative_to(front["settings"].editions_dir.resolve()).as_posix()
    key = str(public["edition_id"])
    with client(front) as browser:
        for path in (
            ACCEL + relative,
            ACCEL + f"{key}/book.txt",
            ACCEL + "../catalogue.db",
            "/_protected/%2e%2e/catalogue.db",
            f"/editions/{key}/files/..%2F..%2Fcatalogue.db",
            f"/editions/{key}/files/%2e%2e%2f%2e%2e%2fcatalogue.db",
        ):
            response = browser.get(path)
            assert response.status_code in {400, 404}, path
            assert response.content[:16] != b"SQLite format 3\x00" and response.content != CONTENT, path


def test_plain_http_is_sent_to_https_but_for_certificate_challenges(front) -> None:
    response = httpx2.get(front["http"] + "/books/1?x=1", trust_env=False)
    assert response.status_code == 301
    assert response.headers["location"] == "https://127.0.0.1/books/1?x=1"
    challenge = front["acme"] / ".well-known" / "acme-challenge" / "token-1"
    challenge.parent.mkdir(parents=True, exist_ok=True)
    challenge.write_text("token-1.key")
    answer = httpx2.get(front["http"] + "/.well-known/acme-challenge/token-1", trust_env=False)
    assert answer.status_code == 200 and answer.text == "token-1.key", "certificate renewals still work"


def test_the_setting_off_leaves_downloads_to_the_app(tmp_path) -> None:
    settings = Settings.from_env({}, data_dir=tmp_path)
    inside = settings.editions_dir / "1" / "book.txt"
    assert location(settings) == "" and accel_response(settings, inside, "text/plain", {}) is None
    on = Settings.from_env({}, data_dir=tmp_path, accel_redirect="_protected")
    assert location(on) == ACCEL
    assert accel_response(on, tmp_path / "catalogue.db", "text/plain", {}) is None, "outside editions/"
    named = accel_response(on, settings.editions_dir / "a b" / "书.txt", "text/plain", {"X-Other": "1"})
    assert named.headers["x-accel-redirect"] == ACCEL + "a%20b/%E4%B9%A6.txt"
    assert "x-other" not in named.headers


# --- The documentation shows what is tested ---


def test_the_readme_shows_the_deploy_files_as_they_are() -> None:
    readme = (CHECKOUT / "README.md").read_text()
    blocks = [block.split("\n", 1)[1] for block in readme.split("```")[1::2]]
    for path in (SITE, *UNITS):
        assert path.read_text() in blocks, f"README does not show {path.relative_to(CHECKOUT)} as it is"


def test_the_deploy_files_agree_with_the_settings() -> None:
    site = SITE.read_text()
    body = re.search(r"client_max_body_size (\d+)m;", site)
    defaults = {s.name: s.default for s in SETTINGS}
    assert body and int(body[1]) * 1024 * 1024 > max(
        defaults["max_file_bytes"], defaults["max_evidence_bytes"]
    ), "nginx must let through every upload the app itself would accept"
    assert f"location ^~ {ACCEL} {{\n        internal;" in site
    names = {PREFIX + s.name.upper() for s in SETTINGS}
    for unit in UNITS:
        text = unit.read_text()
        for line in ("User=accessible-lib", "WorkingDirectory=", "Restart=on-failure"):
            assert line in text, (unit.name, line)
        for name in re.findall(r"^Environment=(\w+)=", text, flags=re.M):
            assert name in names, (unit.name, name)
    web = UNITS[0].read_text()
    assert f"Environment=ACCESSIBLE_LIB_ACCEL_REDIRECT={ACCEL}\n" in web
    assert "Environment=ACCESSIBLE_LIB_TRUSTED_PROXIES=127.0.0.1\n" in web


def test_systemd_accepts_the_units(tmp_path) -> None:
    """`systemd-analyze verify` reads each unit as systemd would, with this checkout as the program."""
    analyze = shutil.which("systemd-analyze")
    assert analyze, "systemd-analyze is missing: `make setup` installs Debian's systemd package"
    program = Path(sys.executable).parent / "accessible-lib"
    assert program.is_file()
    copies = []
    for unit in UNITS:
        text = unit.read_text()
        assert text.count("/srv/accessible-lib/app/.venv/bin/accessible-lib ") == 1, unit.name
        copy = tmp_path / unit.name
        copy.write_text(text.replace("/srv/accessible-lib/app/.venv/bin/accessible-lib ", f"{program} "))
        copies.append(str(copy))
    checked = subprocess.run(
        [analyze, "verify", "--man=no", *copies], capture_output=True, text=True, timeout=120
    )
    assert checked.returncode == 0 and not checked.stdout.strip() and not checked.stderr.strip(), (
        checked.stdout + checked.stderr
    )
