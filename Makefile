# Developer and CI entry points. `make test` sets up everything the suite needs (venv, Debian packages).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# CI gets a JUnit report; tests/ci_guard.py also reads CI to refuse skipped integration tests.
JUNIT := $(if $(filter true,$(CI)),--junitxml=test-artifacts/junit.xml)

.PHONY: venv deps test demo bench lint clean

venv: $(STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstalls only when pyproject.toml changed since the last install.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $@

deps:
	./scripts/system-deps.sh

# pytest exits with 5 when it collected nothing: say so, since make only reports "Error 5".
test: venv deps
	@status=0; $(BIN)/pytest $(JUNIT) $(PYTEST_ARGS) || status=$$?; \
	if [ $$status -eq 5 ]; then echo "make test: pytest collected no tests (exit status 5)" >&2; fi; \
	exit $$status

demo: venv
	$(BIN)/aiguilleur demo

# Stops at the first failing bench; files starting with "_" are helpers, not benches.
bench: venv
	@found=0; for f in bench/[!_]*.py; do \
	    [ -e "$$f" ] || continue; found=1; \
	    echo "== $$f"; $(BIN)/python "$$f" || exit $$?; \
	done; \
	if [ $$found -eq 0 ]; then echo "make bench: no bench yet (bench/*.py)"; fi

lint: venv
	$(BIN)/ruff check src tests bench
	$(BIN)/ruff format --check src tests bench
	$(BIN)/mypy

clean:
	rm -rf test-artifacts .pytest_cache .mypy_cache .ruff_cache .hypothesis build dist
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
