"""Accessible editions of a book (HTML, plain text, later audio and braille), built by background jobs."""
