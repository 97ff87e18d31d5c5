"""liblouis translation and BRF/PEF page layout.

A library of its own: it never imports `accessible_lib`. `translate` (text to Unicode braille, Chinese done
right), `tables` (the tables offered by name), `chinese` (word spacing, readings), and the page layout.
"""
