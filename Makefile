# ttfuse: `make run` (the main job) and `make test` (everything) work on a fresh machine with only Python.
# ttfuse supports Python 3.10-3.12 (pyproject.toml); the main env is 3.11 with the CPU torch wheel, the conformance
# envs are 3.12 (the real ttnn wheel ships for 3.10 and 3.12 only): conformance/setup_venv.sh makes them.
PY ?= python3.11
VENV := .venv
VENV312 := conformance/.venv312full
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1)

.PHONY: run test test-fast conformance conformance312 smoke310 lint format bench clean-venv install docs profiler-venv

$(BIN)/python:
	@command -v $(PY) >/dev/null 2>&1 || { echo "need $(PY) (Python 3.11) on PATH"; exit 1; }
	$(PY) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	@echo "== installing ttfuse and its dependencies into $(VENV) (torch==2.13.0 CPU)"
	@# torch first, pinned: on 3.11 pip takes the CPU wheel on disk; `-e .` alone could pick a CUDA build from the registry
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e ".[test,models,symbiote]"
	$(BIN)/python -m pip install -q --no-deps boltz==2.2.1
	@rm -f $(VENV)/.installed-*; touch $@

install: $(STAMP)

run: $(STAMP)
	$(BIN)/python -m ttfuse bench --quick
	$(BIN)/python -m ttfuse cache --namespace bench stats --run last

conformance: $(STAMP)
	bash conformance/setup_venv.sh
	$(BIN)/python -m pytest tests/conformance

# ttnn 0.81.1, torch and ttfuse in one Python 3.12 process (the venv: ~2.5 min and 5.6 GB cold, the CUDA torch build):
# tests/conformance312, then the oracle suite with its commands run in process (~40 s)
conformance312:
	bash conformance/setup_venv.sh --full
	TTFUSE_REQUIRE_TTNN=1 $(VENV312)/bin/python -m pytest tests/conformance312
	TTFUSE_ORACLE=inprocess $(VENV312)/bin/python -m pytest tests/conformance

# Python 3.10 (not in `make test`: another CUDA torch, ~6.5 min and 4.8 GB cold): the package installs and a sample of
# the suite passes
VENV310 := .venv310
# a python3.10 that runs (a pyenv shim may exist without the version selected), else pyenv's newest 3.10
PY310 ?= $(shell for c in python3.10 $$(ls -d $${PYENV_ROOT:-$$HOME/.pyenv}/versions/3.10*/bin/python3.10 2>/dev/null | sort -V -r); do \
	$$c -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null && { echo $$c; break; }; done)
SMOKE310 := tests/test_packaging.py tests/test_jit.py tests/test_cache.py tests/test_capture.py tests/test_numerics.py
smoke310:
	@test -n "$(PY310)" || { echo "need Python 3.10 (python3.10 on PATH or pyenv install 3.10)"; exit 1; }
	test -x $(VENV310)/bin/python || $(PY310) -m venv $(VENV310)
	test -f $(VENV310)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1) || { \
		$(VENV310)/bin/python -m pip install -q torch==2.13.0 -e ".[test]" && \
		rm -f $(VENV310)/.installed-* && touch $(VENV310)/.installed-$(shell cat pyproject.toml | cksum | cut -d' ' -f1); }
	$(VENV310)/bin/python -m pytest $(SMOKE310) -x

# everything, slow tests included (CI): lint first (seconds); conformance runs in one process (its summary counts
# what it compared); the rest on both cores
test: $(STAMP) lint profiler-venv
	bash conformance/setup_venv.sh
	$(BIN)/python -m pytest tests/conformance
	$(MAKE) conformance312
	TTFUSE_REQUIRE_PROFILER_READERS=1 $(BIN)/python -m pytest tests -n 2 --ignore=tests/conformance --ignore=tests/conformance312
	$(BIN)/python -m pytest bench --benchmark-disable
	$(BIN)/python tools/docs_check.py

# tt-perf-report and ttnn-visualizer, the readers of the simulator's profiler output (docs/profiler.md), in a venv of
# their own (their pins would replace packages of .venv); tests/test_profiler_readers.py needs it
profiler-venv:
	bash tools/setup_profiler_venv.sh

# every python / shell block of README.md and docs/*.md runs, every relative link resolves (tools/docs_check.py)
docs: $(STAMP) profiler-venv
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
