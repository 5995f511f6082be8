# Two commands matter: `make demo` (the main job) and `make test` (everything CI runs).
# Both create .venv and install the project into it on first use.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint bench clean

$(STAMP): pyproject.toml setup.py collector/_wire.c
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[all,test]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/inferwatch demo

test: $(STAMP)
	$(BIN)/ruff check .
	INFERWATCH_REQUIRE_COMPILED=1 $(BIN)/python -m pytest -q

# Every benchmark prints a table and writes benchmarks/results/<name>.json (see benchmarks/README.md).
bench: $(STAMP)
	$(BIN)/python benchmarks/agent_overhead.py
	$(BIN)/python benchmarks/agent_bandwidth.py
	$(BIN)/python benchmarks/collector_ingest.py
	$(BIN)/python benchmarks/regression_engine.py
	$(BIN)/python benchmarks/regression_detection.py
	$(BIN)/python benchmarks/query_latency.py
	$(BIN)/python benchmarks/dashboard_latency.py

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
