"""The benchmarks behind `make bench`: import, search at scale, audio and braille editions.

`python -m accessible_lib.bench` runs them all and writes BENCHMARKS.md; each section's module also runs
alone.
"""
