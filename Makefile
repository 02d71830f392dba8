# ipabs — the two quick-start commands are `make demo` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
SCENARIO ?= scenarios/ganzhou_pledge_2026.toml
PATHS  ?= 100000

.PHONY: demo test test-fast app bench lint browser-deps install install-dev clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q -U pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e .
	touch $@

$(VENV)/.installed-dev: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -q -e '.[dev,distributed]'
	touch $@ $(VENV)/.installed

install: $(VENV)/.installed
install-dev: $(VENV)/.installed-dev

## demo: run the default scenario end to end (deterministic base case + Monte Carlo), print the summary, write out/demo
demo: $(VENV)/.installed
	$(BIN)/ipabs run $(SCENARIO) --paths $(PATHS) --out out/demo

## test: the whole suite (unit, property, oracle, regression, CLI, app and a real-browser test)
test: $(VENV)/.installed-dev browser-deps
	$(BIN)/python -m pytest -q

test-fast: $(VENV)/.installed-dev
	$(BIN)/python -m pytest -q -m "not slow and not browser"

## browser-deps: Debian's chromium for the Playwright end-to-end test (no browser download)
browser-deps:
	@if ! command -v chromium >/dev/null 2>&1 || ! dpkg -s fonts-wqy-microhei >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -q && apt-get install -y -q chromium fonts-wqy-microhei) >/dev/null 2>&1 \
	    || echo "warning: could not install chromium; the browser test will fail"; \
	  else echo "warning: chromium missing and not root; install it with: sudo apt-get install chromium fonts-wqy-microhei"; fi; \
	fi

app: $(VENV)/.installed
	$(BIN)/streamlit run apps/streamlit_app.py --server.address 127.0.0.1 --browser.gatherUsageStats false

bench: $(VENV)/.installed-dev
	$(BIN)/python -m pytest benchmarks -q --benchmark-only --benchmark-columns=min,median,mean,rounds \
	  --benchmark-sort=name -p no:xdist -s
	$(BIN)/python benchmarks/cluster_scaling.py --quick --json out/bench/cluster_scaling.json

lint: $(VENV)/.installed-dev
	$(BIN)/ruff check src tests apps benchmarks scenarios

clean:
	rm -rf out .pytest_cache .benchmarks
