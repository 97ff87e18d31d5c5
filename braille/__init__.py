"""liblouis translation and BRF/PEF page layout.

A library of its own: it never imports `accessible_lib`.
Its translators arrive with the braille-editions issue.
"""
