"""Speech engines, audio encoding and DAISY / EPUB 3 Media Overlay builders.

A library of its own: it never imports `accessible_lib`. Its engines arrive with the audio-editions issue.
"""
