# Two commands for a newcomer:
#   make lab    install into .venv and open the series in JupyterLab
#   make test   install into .venv (with the test tools) and run every test
# Extra JupyterLab options pass through, e.g. make lab LAB_ARGS="--no-browser --port 8899".

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB_ARGS ?=

.PHONY: lab test lint format bench execute lab-check clean

# Stamp files record what is installed, so a second run reinstalls nothing.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-lab
	$(BIN)/python -m pip install -e ".[test]"
	touch $@

lab: $(VENV)/.installed-lab
	$(BIN)/jupyter lab notebooks/01_concept.ipynb $(LAB_ARGS)

# The notebooks run under nbval in several numerical worlds (scripts/run_worlds.py): the
# machine as it is, and other BLAS kernels and numpy SIMD settings, side by side.
test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python -m pytest tests
	$(BIN)/python scripts/run_worlds.py

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check rnn_lesson tests benchmarks

format: $(VENV)/.installed-test
	$(BIN)/ruff format rnn_lesson tests benchmarks
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-lab
	$(BIN)/python benchmarks/bench_training.py

# Re-execute every notebook in place, top to bottom, to commit it with fresh outputs.
execute: $(VENV)/.installed-test
	$(BIN)/python -m jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False notebooks/*.ipynb

# Every notebook, and the explorer of notebook 05, in a real JupyterLab in headless Chromium
# (scripts/check_in_lab.py; CI runs it after `make test`). Installs Chromium from the system's
# packages when it is missing, and Playwright into its own venv, which drives that Chromium
# (never `playwright install`: it would download browsers of its own).
LABCHECK_VENV ?= .venv-labcheck
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Playwright alone in its own venv, so that .venv stays exactly what pyproject.toml lists.
$(LABCHECK_VENV)/.installed:
	test -x $(LABCHECK_VENV)/bin/python || $(PYTHON) -m venv $(LABCHECK_VENV)
	$(LABCHECK_VENV)/bin/python -m pip install playwright
	touch $@

# Chromium is looked for on every run (a stamp file would not notice it was removed).
lab-check: $(VENV)/.installed-lab $(LABCHECK_VENV)/.installed
	command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium \
		|| { $(SUDO) apt-get update \
			&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	$(LABCHECK_VENV)/bin/python scripts/check_in_lab.py --lab-python $(BIN)/python

clean:
	rm -rf $(VENV) $(LABCHECK_VENV) .pytest_cache .ruff_cache *.egg-info
