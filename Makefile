# logloupe chores. `make run` and `make test` work on a fresh clone (they set up .venv first).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
LOUPE  := $(VENV)/bin/loupe
export MALLOC_MMAP_THRESHOLD_ ?= 268435456
export MALLOC_TRIM_THRESHOLD_ ?= 1073741824

.PHONY: install run migrate test lint fmt bench loadtest signatures clean

$(VENV)/.installed: pyproject.toml setup.py app/_native.c app/_hsscan.c
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

# Create .venv and install logloupe with its test tools; then byte-compile app/: the editable
# install leaves that to the first import, which PYTHONDONTWRITEBYTECODE=1 turns into a compile
# of ~90 modules on every `loupe` run (~0.12 s); a stale .pyc is ignored, never used
install: $(VENV)/.installed
	@$(PY) -m compileall -q app

# Create or upgrade the database (SQLite in ./data unless LOUPE_DATABASE_URL is set)
migrate: install
	$(LOUPE) migrate

# Serve web + embedded worker on http://127.0.0.1:8000 (LOUPE_HOST/LOUPE_PORT/LOUPE_DATA_DIR override)
run: migrate
	$(LOUPE) serve

# Lint the signature library, then run the whole test suite
test: install
	$(LOUPE) signatures lint
	$(PY) -m pytest -q

# Static checks: formatting, lint, types
lint: install
	$(VENV)/bin/ruff format --check app tests
	$(VENV)/bin/ruff check app tests
	$(VENV)/bin/mypy

# Reformat and autofix
fmt: install
	$(VENV)/bin/ruff format app tests
	$(VENV)/bin/ruff check --fix app tests

# Time `loupe analyze` against `gzip -dc | rg` and `gzip -dc` alone on a generated bundle
# (BENCH_SIZES="1024 4096" adds the size checks), then a streamed 1 GiB upload to `loupe serve`,
# then the stored analysis of the 1 GiB bundle (data-dir bytes, log viewer near the end, re-run,
# memory), then an analysis of 10,000 findings, then the log search
BENCH_SIZES ?= 1024
BENCH_REPEAT ?= 3
bench: install
	@command -v rg >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ripgrep >/dev/null; } \
	  || { echo "make bench needs ripgrep (rg) as its baseline: install the ripgrep package" >&2; exit 1; }
	status=0; \
	$(PY) bench/run.py --sizes $(BENCH_SIZES) --repeat $(BENCH_REPEAT) || status=1; \
	$(PY) bench/upload_bench.py || status=1; \
	$(PY) bench/store_bench.py --repeat $(BENCH_REPEAT) || status=1; \
	$(PY) bench/findings_bench.py || status=1; \
	$(PY) bench/search_bench.py --mib 1024 || status=1; \
	$(PY) bench/calls_bench.py --size-mib $(firstword $(BENCH_SIZES)) || status=1; \
	exit $$status

# Load and fault test of the team topology on loopback (local PostgreSQL + its own redis-server); prints figures
loadtest: install
	$(PY) loadtest/loadtest.py

# List the signature library
signatures: install
	$(LOUPE) signatures list

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
