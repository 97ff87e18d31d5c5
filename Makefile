# The two commands a user needs: `make run` and `make test`. Both run the same idempotent setup first.
VENV := .venv
PY := $(VENV)/bin/python
# Empty: the ACCESSIBLE_LIB_HOST and ACCESSIBLE_LIB_PORT settings decide (make run HOST=0.0.0.0 overrides them).
HOST ?=
PORT ?=

.PHONY: setup run test bench lint format clean messages

setup:
	@sh scripts/setup.sh

run: setup
	$(VENV)/bin/accessible-lib import --skip-duplicates
	@sh scripts/run.sh "$(HOST)" "$(PORT)"

# Every test but Orca's on one worker per core and, beside them, the Orca tests one at a time (Orca allows one
# instance per machine; their report is printed after the others'). `--dist loadfile` keeps each test module on
# one worker, so its module fixtures (the audio and braille corpus editions) are built once; the longest modules
# start first (tests/conftest.py). The workers run under `nice`: the screen reader, whose timing the Orca tests
# check, gets the CPU whenever it asks, and the workers take the rest.
test: setup
	@status=0; orca_log=$$(mktemp); \
	$(PY) -m pytest -q -m orca -o cache_dir=.pytest_cache/orca >$$orca_log 2>&1 & orca=$$!; \
	nice -n 10 $(PY) -m pytest -q -n auto --dist loadfile --no-loadscope-reorder -m "not orca" || status=$$?; \
	wait $$orca || status=$$?; cat $$orca_log; rm -f $$orca_log; exit $$status

# BENCH_ONLY=audio,braille runs only those sections (import, search, audio, braille, worker, stamping, remote,
# load: 200 clients for 60 s on the reader pages, BENCH_LOAD_SECONDS and BENCH_LOAD_CONNECTIONS to change it);
# BENCH_AUDIO_CHARS=0 reads all of War and Peace aloud (about 30 minutes) instead of its first 320,000
# characters; BENCH_AUDIO_ENGINES=pyttsx3,libespeak measures only those speech engines. The worker section
# builds every format of the whole book through the queue and a real worker (about 20 minutes);
# BENCH_WORKER_CHARS=N and BENCH_WORKER_FORMATS=brf,pef make it a quick check.
# calibreweb: the same synthetic Calibre library (BENCH_CALIBRE_BOOKS, default 150,000) imported by import-calibre
# and served by us and by Calibre-Web (installed from PyPI into its own venv under var/bench), timed with wrk for
# BENCH_CALIBRE_SECONDS (default 20) per page at 1 and 50 clients; BENCH_CALIBRE_BOOKS=200 is a quick check.
bench: setup
	$(PY) -m accessible_lib.bench

lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: setup
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

clean:
	rm -rf $(VENV) var .pytest_cache

# Refresh the message catalogue after changing any user-visible string; then translate the new entries in
# accessible_lib/locales/zh_Hans/LC_MESSAGES/messages.po (tests/test_i18n.py fails while one is missing).
messages: setup
	$(VENV)/bin/pybabel extract -F babel.cfg -k N_ -k gettext -k ngettext:1,2 -k book_gettext:2 --no-location --sort-output \
		--ignore-dirs ".venv var tests" -o accessible_lib/locales/messages.pot .
	$(VENV)/bin/pybabel update -i accessible_lib/locales/messages.pot -d accessible_lib/locales -l zh_Hans \
		--no-fuzzy-matching --ignore-obsolete || $(VENV)/bin/pybabel init -i accessible_lib/locales/messages.pot \
		-d accessible_lib/locales -l zh_Hans
