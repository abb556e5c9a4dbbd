# DIN Portal: `make run` starts the whole portal on the embedded default, `make test` runs
# the suite. Both create .venv and install what is missing first.

PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
	2>/dev/null && echo $$p && break; done)
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
MANAGE := $(BIN)/python manage.py
PORT ?= 8000
export PORT
# Type-checked in `make test`: every package of the product (tests and migrations excluded in
# pyproject.toml).
MYPY_PACKAGES := config portal dins callflows api sandbox

.PHONY: run test install messages lint format clean

install: $(INSTALLED)

$(INSTALLED): requirements.txt requirements-dev.txt
	@test -n "$(PYTHON)" || { echo "DIN Portal needs Python 3.11 or newer on PATH."; exit 1; }
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check --upgrade pip
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

messages: $(INSTALLED)
	@$(MANAGE) compile_catalogues

run: $(INSTALLED) messages
	$(MANAGE) migrate --noinput
	$(MANAGE) seed_demo
	$(MANAGE) publish_flows
	$(MANAGE) runportal --port $(PORT)

# mypy runs beside the tests (the suite keeps one core busy, mostly) and is reported after them;
# either failing fails the target.
test: $(INSTALLED) messages
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@$(BIN)/mypy $(MYPY_PACKAGES) > .mypy.out 2>&1 & typing=$$!; \
	$(BIN)/python -m pytest $(PYTEST_ARGS); tests=$$?; \
	wait $$typing; typed=$$?; echo "mypy $(MYPY_PACKAGES):"; cat .mypy.out; rm -f .mypy.out; \
	[ $$tests -eq 0 ] && [ $$typed -eq 0 ]

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy $(MYPY_PACKAGES)

format: $(INSTALLED)
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
	find locale -name '*.mo' -delete
