# ttfuse: `make run` (the main job) and `make test` (everything) work on a fresh machine with only Python.
PY ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast conformance lint format bench clean-venv install docs

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11) on PATH"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	@echo "== installing ttfuse and its dependencies into $(VENV) (torch==2.13.0 CPU)"
	$(BIN)/python -m pip install -q -e ".[test,models]"
	$(BIN)/python -m pip install -q --no-deps boltz==2.2.1
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m ttfuse bench --quick
	$(BIN)/python -m ttfuse cache --namespace bench stats

conformance: $(STAMP)
	bash conformance/setup_venv.sh
	$(BIN)/python -m pytest tests/conformance

# everything, slow tests included (CI): lint first (seconds); conformance runs in one process (its summary counts
# what it compared); the rest on both cores
test: $(STAMP) lint
	bash conformance/setup_venv.sh
	$(BIN)/python -m pytest tests/conformance
	$(BIN)/python -m pytest tests -n 2 --ignore=tests/conformance
	$(BIN)/python -m pytest bench --benchmark-disable
	$(BIN)/python tools/docs_check.py

# every python / shell block of README.md and docs/*.md runs, every relative link resolves (tools/docs_check.py)
docs: $(STAMP)
	$(BIN)/python tools/docs_check.py

# the quick tier (under 3 minutes on an idle 2-core machine): no conformance, no test marked slow, 30 random programs
test-fast: $(STAMP)
	TTFUSE_CONFORMANCE=0 TTFUSE_FUZZ_EXAMPLES=$${TTFUSE_FUZZ_EXAMPLES:-30} $(BIN)/python -m pytest tests -x -n 2 -m "not slow"

bench: $(STAMP)
	$(BIN)/python -m pytest bench --benchmark-only

LINTED := ttfuse tests bench models tools

lint: $(STAMP)
	$(BIN)/ruff check $(LINTED)
	$(BIN)/ruff format --check $(LINTED)

format: $(STAMP)
	$(BIN)/ruff format $(LINTED)

clean-venv:
	rm -rf $(VENV)
