"""The union-catalogue bench's feed: a synthetic but realistic OAI-PMH repository served over HTTP.

oai_dc records with titles, creators, subjects, languages, dates, publishers, descriptions and identifiers,
cut from the same real texts as the search bench (tests/corpus/text), in pages of PAGE records with
resumption tokens, as DSpace and EPrints send them; record `number` of library `source` is the same every
time. The server runs in a process of its own (`python -m accessible_lib.bench.harvest_feed --serve PORT`),
so serving pages does not share the harvester's GIL. Used by harvest.py.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import random
import subprocess
import sys
import time
from html import escape
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..settings import CHECKOUT
from .search import ENGLISH_FIRST, ENGLISH_LAST, GIVEN, SUBJECTS_EN, SUBJECTS_ZH, SURNAMES
from .server import free_port

PER_SOURCE = 250_000
PAGE = 100
DATESTAMP = "2026-01-01T00:00:00Z"
RESPONSE_DATE = "2026-01-02T00:00:00Z"
PUBLISHERS = ["Penguin", "人民文学出版社", "中华书局", "Oxford University Press", "Project Gutenberg"]
PUBLISHERS += ["上海古籍出版社", "Vintage", "商务印书馆", "Everyman's Library", "Dover"]
RIGHTS = "http://rightsstatements.org/vocab/NoC-US/1.0/"


class Records:
    """Record `number` of library `source`, the same every time (seeded by both), cut from the real texts."""

    def __init__(self) -> None:
        corpus = CHECKOUT / "tests" / "corpus" / "text"
        self.texts = {
            language: [
                p.read_text(encoding="utf-8", errors="replace")
                for p in sorted(corpus.glob(f"{language}/*.txt"))
            ]
            for language in ("zh", "en")
        }

    def metadata(self, source: int, number: int) -> dict:
        rng = random.Random(source * 10_000_019 + number)
        chinese = rng.random() < 0.5
        text = rng.choice(self.texts["zh" if chinese else "en"])
        start = rng.randrange(0, max(1, len(text) - 400))
        passage = " ".join(text[start : start + 400].split())
        if chinese:
            title = "".join(ch for ch in passage[:40] if "\u4e00" <= ch <= "\u9fff")[: rng.randint(2, 8)]
            creators = [rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(["", *GIVEN])]
            if number % 500 == 0:
                creators = ["鲁迅"]
            subjects = rng.sample(SUBJECTS_ZH, rng.randint(1, 3))
            language = rng.choice(["zh-Hans", "zh-Hans", "zh-Hant", "zh"])
            description = passage[:120]
        else:
            words = [w.strip(".,;:!?\"'()") for w in passage.split()[1:9]]
            title = " ".join(w for w in words[: rng.randint(2, 7)] if w).title()
            creators = [f"{rng.choice(ENGLISH_FIRST)} {rng.choice(ENGLISH_LAST)}"]
            if rng.random() < 0.2:
                creators.append(f"{rng.choice(ENGLISH_FIRST)} {rng.choice(ENGLISH_LAST)}")
            subjects = rng.sample(SUBJECTS_EN, rng.randint(1, 3))
            language = rng.choice(["en", "en", "en-GB", "eng"])
            description = passage[:300]
        return {
            "title": title or f"Record {number}",
            "creators": creators,
            "subjects": subjects,
            "language": language,
            "date": str(rng.randint(1600, 2025)),
            "publisher": rng.choice(PUBLISHERS),
            "description": description,
            "identifiers": [
                f"https://library{source}.example.org/record/{number}",
                f"urn:isbn:978{rng.randrange(10**9, 10**10)}",
            ],
        }

    def xml(self, source: int, number: int) -> str:
        m = self.metadata(source, number)
        e = escape
        fields = [f"<dc:title>{e(m['title'])}</dc:title>"]
        fields += [f"<dc:creator>{e(c)}</dc:creator>" for c in m["creators"]]
        fields += [f"<dc:subject>{e(s)}</dc:subject>" for s in m["subjects"]]
        fields += [
            f"<dc:description>{e(m['description'])}</dc:description>",
            f"<dc:publisher>{e(m['publisher'])}</dc:publisher>",
            f"<dc:date>{m['date']}</dc:date>",
            "<dc:type>Text</dc:type>",
            f"<dc:language>{m['language']}</dc:language>",
            f"<dc:rights>{RIGHTS}</dc:rights>",
        ]
        fields += [f"<dc:identifier>{e(i)}</dc:identifier>" for i in m["identifiers"]]
        return (
            f"<record><header><identifier>oai:library{source}.example.org:{number}</identifier>"
            f"<datestamp>{DATESTAMP}</datestamp><setSpec>books</setSpec></header><metadata>"
            '<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" '
            'xmlns:dc="http://purl.org/dc/elements/1.1/">'
            + "".join(fields)
            + "</oai_dc:dc></metadata></record>"
        )


def _envelope(verb: str, body: str, request: str) -> bytes:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        f'<responseDate>{RESPONSE_DATE}</responseDate><request verb="{verb}">{escape(request)}</request>'
        f"{body}</OAI-PMH>"
    ).encode()


def feed_handler(records: Records, sizes: list[int]):
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # thousands of pages: no log line each
            pass

        def do_GET(self) -> None:
            parts = urlsplit(self.path)
            params = {k: v[0] for k, v in parse_qs(parts.query).items()}
            try:
                source = int(parts.path.rstrip("/").rsplit("library", 1)[1])
                size = sizes[source]
            except (IndexError, ValueError):
                self.send_error(404)
                return
            base = f"http://127.0.0.1:{self.server.server_port}{parts.path}"
            verb = params.get("verb", "")
            if verb == "Identify":
                body = (
                    f"<Identify><repositoryName>Library {source}</repositoryName><baseURL>{base}</baseURL>"
                    "<protocolVersion>2.0</protocolVersion><earliestDatestamp>2000-01-01T00:00:00Z"
                    "</earliestDatestamp><deletedRecord>persistent</deletedRecord>"
                    "<granularity>YYYY-MM-DDThh:mm:ssZ</granularity></Identify>"
                )
            elif verb == "ListRecords":
                if "resumptionToken" in params:
                    start = int(params["resumptionToken"].split("-")[1])
                elif params.get("from", "") > DATESTAMP:
                    self._answer(_envelope(verb, '<error code="noRecordsMatch">none since</error>', base))
                    return
                else:
                    start = 0
                end = min(size, start + PAGE)
                page = "".join(records.xml(source, n) for n in range(start, end))
                token = (
                    f'<resumptionToken completeListSize="{size}" cursor="{start}">{source}-{end}'
                    "</resumptionToken>"
                    if end < size
                    else f'<resumptionToken completeListSize="{size}" cursor="{start}"/>'
                )
                body = f"<ListRecords>{page}{token}</ListRecords>"
            else:
                body = '<error code="badVerb">only Identify and ListRecords here</error>'
            self._answer(_envelope(verb, body, base))

        def _answer(self, body: bytes) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/xml; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


def serve(port: int, sizes: list[int]) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", port), feed_handler(Records(), sizes))
    server.serve_forever()


@contextlib.contextmanager
def feed(sizes: list[int], log: Path):
    """The feed server in a process of its own, so serving pages does not share the harvester's GIL."""
    port = free_port()
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "accessible_lib.bench.harvest_feed", "--serve", str(port)]
            + ["--sizes", ",".join(map(str, sizes))],
            cwd=CHECKOUT,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        import urllib.request

        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/oai/library0?verb=Identify", timeout=2)
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"the feed server did not start; see {log}") from None
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/oai"
    finally:
        process.terminate()
        process.wait(timeout=10)


def source_sizes(records: int) -> list[int]:
    count = max(1, math.ceil(records / PER_SOURCE))
    return [min(PER_SOURCE, records - i * PER_SOURCE) for i in range(count)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--serve", type=int, required=True, help="serve the synthetic feed on this port")
    parser.add_argument("--sizes", default=str(PER_SOURCE))
    args = parser.parse_args()
    serve(args.serve, [int(s) for s in args.sizes.split(",")])


if __name__ == "__main__":
    main()
