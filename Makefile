# Two commands set everything up on a fresh machine:
#   make demo   -> virtual environment, install (pinned), demo world, full pipeline, estimate table
#   make test   -> virtual environment, install with dev extras (pinned), whole test suite
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
UV_VERSION := 0.13.8
DEMO_DIR ?= demo

.PHONY: demo test venv lint bench clean

$(BIN)/uv:
	@echo "==> creating the virtual environment $(VENV) and installing uv $(UV_VERSION)"
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(VENV)/.installed: $(BIN)/uv pyproject.toml requirements.lock
	@echo "==> installing the $$(grep -c '==' requirements.lock) pinned packages of requirements.lock (core, airflow, geo and dev extras; first time: a few minutes)"
	$(BIN)/uv pip install --python $(BIN)/python --compile-bytecode -r requirements.lock
	@echo "==> installing spillover itself (editable)"
	$(BIN)/uv pip install --python $(BIN)/python --no-deps -e .
	touch $@

venv: $(VENV)/.installed

demo: venv
	$(BIN)/spillover demo --out $(DEMO_DIR)

test: venv
	@echo "==> running the test suite (one line per test)"
	$(BIN)/python -m pytest -v

lint: venv
	$(BIN)/ruff check spillover dags plugins tests benchmarks validation tools

bench: venv
	$(BIN)/python benchmarks/bench_pipeline.py

clean:
	rm -rf $(VENV) $(DEMO_DIR) .pytest_cache
