"""One module per page area; `routes()` gathers them for the app factory."""

from __future__ import annotations

from starlette.routing import Route


def routes() -> list[Route]:
    from . import (
        books,
        braille,
        braille_status,
        browse,
        downloads,
        health,
        home,
        language,
        listen_audio,
        oai,
        opds1,
        opds2,
        readalong,
        reader,
        resolver,
        rollup_api,
        search,
        worker_api,
    )
    from .account import account_routes
    from .eligibility_routes import eligibility_routes
    from .preferences import preferences_routes
    from .shelf import shelf_routes
    from .staff import staff_routes

    return [
        Route("/", home.home, name="home"),
        Route("/search", search.search_page, name="search"),
        Route("/browse", browse.browse_index, name="browse"),
        Route("/browse/{facet}", browse.facet_page, name="browse_facet"),
        Route("/browse/{facet}/{value:path}", browse.facet_books, name="browse_books"),
        Route("/books/{book_id:int}", books.book_page, name="book"),
        Route("/books/{book_id:int}/read/{position:int}", reader.chapter_page, name="chapter"),
        Route(
            "/books/{book_id:int}/read/{position:int}/audio", listen_audio.chapter_audio, name="chapter_audio"
        ),
        Route(
            "/books/{book_id:int}/read/{position:int}/timings",
            readalong.chapter_timings,
            name="chapter_timings",
        ),
        Route("/books/{book_id:int}/resources/{name}", reader.resource, name="resource"),
        Route(
            "/books/{book_id:int}/read/{position:int}/braille", braille.chapter_page, name="braille_chapter"
        ),
        Route(
            "/books/{book_id:int}/braille",
            braille.request_download,
            methods=["GET", "POST"],
            name="braille_download",
        ),
        Route(
            "/books/{book_id:int}/braille/{edition_id:int}", braille_status.status_page, name="braille_status"
        ),
        Route("/books/{book_id:int}/braille/{edition_id:int}.json", braille_status.status_json),
        Route("/editions/{edition_id:int}/files/{name}", downloads.download, name="download"),
        Route("/language/{code}", language.choose_language, name="language"),
        Route("/id/{identifier:path}", resolver.resolve, name="identifier"),
        *account_routes(),
        *shelf_routes(),
        *eligibility_routes(),
        *preferences_routes(),
        # OPDS catalogues for reading apps; the facet routes come last, after the fixed names.
        Route("/opds", opds2.root, name="opds"),
        Route("/opds/new", opds2.new_arrivals, name="opds_new"),
        Route("/opds/search", opds2.search_feed, name="opds_search"),
        Route("/opds/authentication", opds2.authentication, name="opds_authentication"),
        Route("/opds/books/{book_id:int}", opds2.book, name="opds_book"),
        Route("/opds/v1.2", opds1.root, name="opds1"),
        Route("/opds/v1.2/new", opds1.new_arrivals),
        Route("/opds/v1.2/search", opds1.search_feed),
        Route("/opds/v1.2/opensearch.xml", opds1.opensearch, name="opensearch"),
        Route("/opds/v1.2/{facet}", opds1.facet_values),
        Route("/opds/v1.2/{facet}/{value:path}", opds1.facet_books),
        Route("/opds/{facet}", opds2.facet_values, name="opds_facet"),
        Route("/opds/{facet}/{value:path}", opds2.facet_books, name="opds_facet_books"),
        # OAI-PMH 2.0 for other libraries' harvesters: GET or POST, read-only either way.
        Route("/oai", oai.endpoint, methods=["GET", "POST"], name="oai"),
        *staff_routes(),
        # Workers on other machines report here, authenticated by an HMAC of the body (jobs/signing.py).
        *worker_api.routes(),
        # For the machines that run the library: a load balancer, systemd, Prometheus (web/health.py).
        *health.routes(),
        # Member libraries send their daily statistics here, signed with the key each shares (rollup.py).
        *rollup_api.routes(),
    ]
