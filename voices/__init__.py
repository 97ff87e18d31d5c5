"""Speech engines, audio encoding and DAISY / EPUB 3 Media Overlay builders.

A library of its own: it never imports `accessible_lib`. Engines behind one Protocol (`engine.py`), text made
ready for speech (`text.py`, `numbers.py`, `chinese.py`, `runs.py`), and the MP3, DAISY 2.02 and EPUB 3
builders.
"""
