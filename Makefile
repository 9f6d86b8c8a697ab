# dce-jobs: `make run` (install + serve, with a local engine if none is reachable), `make test` (install + whole suite),
# `make image` (the image dce-jobs:<version>, built without network access in the build).
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed

.PHONY: run stop test test-unit bench lint image clean

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	scripts/install-system-deps engine
	scripts/run-local

stop:
	scripts/run-local --stop

test: $(STAMP)
	scripts/install-system-deps engine browser image
	$(VENV)/bin/lint-imports --no-cache
	$(PY) -m pytest -p no:cacheprovider

test-unit: $(STAMP)
	$(PY) -m pytest -p no:cacheprovider tests/unit tests/store

bench: $(STAMP)
	scripts/install-system-deps engine
	$(PY) -m bench

image: $(STAMP)
	scripts/install-system-deps engine image
	scripts/build-image

$(VENV)/.lint-installed: $(STAMP)
	$(PY) -m pip install -q -e '.[test,dev]'
	touch $@

lint: $(VENV)/.lint-installed
	$(PY) -m ruff check dce_jobs tests
	$(PY) -m mypy dce_jobs
	$(VENV)/bin/lint-imports --no-cache

clean:
	scripts/run-local --stop || true
	rm -rf $(VENV) build *.egg-info test-output
