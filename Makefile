# Two commands do everything: `make run` (the main job) and `make test` (every check).
# Each creates or refreshes .venv itself, re-installing only when pyproject.toml changed.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
ALGORITHM ?= algorithms/options_trading_bot.py

export QT_QPA_PLATFORM ?= offscreen

.PHONY: run test lint types pytest bench requirements docs clean

# The runtime install (what a trader needs to analyse and deploy).
$(VENV)/.stamp-run: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

# Everything: runtime, dashboard and development tools.
$(VENV)/.stamp-dev: pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@$(PY) -m pip install --quiet --disable-pip-version-check --upgrade pip
	@$(PY) -m pip install --quiet --disable-pip-version-check -e ".[ui,dev]"
	@touch $@ $(VENV)/.stamp-run

run: $(VENV)/.stamp-run
	@$(PY) scripts/deploy_with_nodes.py $(ALGORITHM) --analyze-only

test: lint types pytest

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

types: $(VENV)/.stamp-dev
	$(VENV)/bin/mypy
	$(VENV)/bin/mypy --config-file algorithms/mypy.ini algorithms

pytest: $(VENV)/.stamp-dev
	$(VENV)/bin/pytest

bench: $(VENV)/.stamp-dev
	$(PY) benchmarks/run_all.py

# requirements.txt is generated from pyproject.toml for `pip install -r requirements.txt` users.
requirements: $(VENV)/.stamp-run
	$(PY) scripts/generate_requirements.py > requirements.txt

# The guide's node table is generated from utils/node_catalog.py.
docs: $(VENV)/.stamp-run
	$(PY) scripts/generate_docs.py

clean:
	rm -rf $(VENV) build .mypy_cache .pytest_cache .ruff_cache .hypothesis
