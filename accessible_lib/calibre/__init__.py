"""Calibre libraries as a source of books: `accessible-lib import-calibre PATH` (issue 12, item 6).

Many libraries keep their collection in Calibre. Its records are the librarian's curated catalogue, so they
take precedence over what the files say of themselves; the files go through the same safe ingest as
`accessible-lib import`. `library` reads a library without ever writing to it; `sync` brings it into ours.
"""
