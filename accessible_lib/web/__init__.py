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
        home,
        language,
        reader,
        search,
        worker_api,
    )
    from .account import account_routes
    from .eligibility_routes import eligibility_routes
    from .staff import staff_routes

    return [
        Route("/", home.home, name="home"),
        Route("/search", search.search_page, name="search"),
        Route("/browse", browse.browse_index, name="browse"),
        Route("/browse/{facet}", browse.facet_page, name="browse_facet"),
        Route("/browse/{facet}/{value:path}", browse.facet_books, name="browse_books"),
        Route("/books/{book_id:int}", books.book_page, name="book"),
        Route("/books/{book_id:int}/read/{position:int}", reader.chapter_page, name="chapter"),
        Route("/books/{book_id:int}/resources/{name}", reader.resource, name="resource"),
        Route(
            "/books/{book_id:int}/read/{position:int}/braille", braille.chapter_page, name="braille_chapter"
        ),
        Route("/books/{book_id:int}/braille", braille.request_download, name="braille_download"),
        Route(
            "/books/{book_id:int}/braille/{edition_id:int}", braille_status.status_page, name="braille_status"
        ),
        Route("/books/{book_id:int}/braille/{edition_id:int}.json", braille_status.status_json),
        Route("/editions/{edition_id:int}/files/{name}", downloads.download, name="download"),
        Route("/language/{code}", language.choose_language, name="language"),
        *account_routes(),
        *eligibility_routes(),
        *staff_routes(),
        # Workers on other machines report here, authenticated by an HMAC of the body (jobs/signing.py).
        *worker_api.routes(),
    ]
