# Two commands for a newcomer (README.md; the same without make is there too):
#   make lab    install into .venv and open the series in JupyterLab
#   make test   install into .venv (with the test tools) and run every test
# What they install and run: docs/development.md.
# Extra JupyterLab options pass through, e.g. make lab LAB_ARGS="--no-browser --port 8899".

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LAB_ARGS ?=

.PHONY: lab lab-ja translations japanese test arm-worlds lint format bench execute lab-check clean classroom classroom-check \
	classroom-venv classroom-deps classroom-teacher classroom-security-check classroom-kernel-race

# Stamp files record what is installed, so a second run reinstalls nothing.
$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# pip puts uv (https://docs.astral.sh/uv/) into the venv, and uv installs the rest: the same
# packages from PyPI, about four times faster than pip (JupyterLab brings ~100 of them).
# To install with pip alone: make lab INSTALL="$(VENV)/bin/python -m pip install"
# --compile-bytecode: uv, unlike pip, leaves compiling the packages to their first import.
# Where Python may not write .pyc files (PYTHONDONTWRITEBYTECODE, as on our CI machines)
# every kernel and pytest process would compile JupyterLab's, IPython's and matplotlib's
# sources again: about 3 s of CPU each, some 35 of them in `make test`. Compiling once at
# install takes about 10 s.
INSTALL ?= $(BIN)/uv pip install --compile-bytecode --python $(BIN)/python

$(BIN)/uv: | $(BIN)/python
	$(BIN)/python -m pip install --quiet uv

UV := $(if $(findstring /uv pip,$(INSTALL)),$(BIN)/uv)

# The package needs numpy, matplotlib, ipywidgets and threadpoolctl; JupyterLab is its extra
# `lab` (pyproject.toml). The tests need it too (tests/test_lab_settings.py checks the shipped
# settings with JupyterLab's own code), so `make test` installs both extras.
$(VENV)/.installed-lab: pyproject.toml | $(BIN)/python $(UV)
	$(INSTALL) -e ".[lab]"
	touch $@

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed-lab
	$(INSTALL) -e ".[lab,test]"
	touch $@

# JupyterLab settings shipped with the project (jupyterlab-settings/README.md): no pop-up asking
# every new user about "official Jupyter news" over the explorer's plot. JupyterLab reads them
# as its defaults from <sys.prefix>/share/jupyter/lab/settings/overrides.json (a venv's
# sys.prefix is the venv); a user's own settings still win. The installed file is its own
# stamp: it is copied again when the shipped one changes. classroom-venv and binder/postBuild
# install it too.
LAB_OVERRIDES := jupyterlab-settings/overrides.json
lab_overrides_in = $(1)/share/jupyter/lab/settings/overrides.json

$(call lab_overrides_in,$(VENV)): $(LAB_OVERRIDES) | $(VENV)/.installed-lab
	install -D -m 644 $< $@

lab: $(VENV)/.installed-lab $(call lab_overrides_in,$(VENV))
	$(BIN)/jupyter lab notebooks/01_concept.ipynb $(LAB_ARGS)

# The notebooks run under nbval in several numerical worlds (scripts/run_worlds.py): the
# machine as it is, and other BLAS kernels and numpy SIMD settings, side by side. The unit
# tests run beside them, as one more job that starts last, so that no core idles while the
# last worlds finish; they need no nbval (-p no:nbval: its plugin would load nbformat and
# jsonschema, 4 s of CPU for nothing). The README's route without make (a fresh venv filled
# by pip from PyPI, then notebook 01; tests/test_no_make_route.py) starts first, beside the
# worlds (--early): it spends most of its minute waiting for downloads.
PYTEST_UNIT := $(BIN)/python -m pytest -q -p no:cacheprovider -p no:nbval

test: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/python scripts/run_worlds.py \
		--early "$(PYTEST_UNIT) -m no_make_route tests/test_no_make_route.py" \
		--beside "$(PYTEST_UNIT) -m 'not no_make_route' tests"

# The ARM worlds (scripts/arm_world.py): every notebook on aarch64, under emulation, in an
# arm64 Debian built once under build/arm64/ (as root; about 13 times the native time).
#   make arm-worlds ARM_WORLDS=arm64-neon NOTEBOOKS="notebooks/03_bptt.ipynb"
ARM_WORLDS ?= arm64 arm64-neon
NOTEBOOKS ?=

arm-worlds: $(VENV)/.installed-test
	$(BIN)/python scripts/run_worlds.py $(addprefix --world ,$(ARM_WORLDS)) $(NOTEBOOKS)

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check rnn_lesson tests benchmarks

format: $(VENV)/.installed-test
	$(BIN)/ruff format rnn_lesson tests benchmarks
	$(BIN)/ruff check --fix .

bench: $(VENV)/.installed-lab
	$(BIN)/python benchmarks/bench_training.py

# Re-execute every notebook in place, top to bottom, to commit it with fresh outputs. The
# committed outputs come from one numerical world, the AVX2 machine's (scripts/run_worlds.py):
# on a machine with AVX-512 that world is made by switching numpy's AVX-512 code off, so the
# numbers the prose quotes do not change with the machine that executes the notebooks.
execute: $(VENV)/.installed-test
	eval "$$($(BIN)/python scripts/run_worlds.py --env-of avx2)" && OPENBLAS_NUM_THREADS=1 \
		$(BIN)/python -m jupyter nbconvert --to notebook --execute --inplace \
		--ExecutePreprocessor.record_timing=False notebooks/*.ipynb
	$(BIN)/python scripts/translate.py build

# The Japanese edition (README.ja.md, scripts/translate.py): notebooks/ja/ is built from the
# English notebooks and the catalogs translations/ja/*.po, one per notebook.
#   make translations   the catalogs follow the English: new cells added, changed ones fuzzy
#   make japanese       the catalogs and the English code and outputs -> notebooks/ja/
#   make lab-ja         make lab, opening the Japanese notebook 01
translations: $(VENV)/.installed-test
	$(BIN)/python scripts/translate.py update

japanese: $(VENV)/.installed-test
	$(BIN)/python scripts/translate.py build

lab-ja: $(VENV)/.installed-lab $(call lab_overrides_in,$(VENV))
	$(BIN)/jupyter lab notebooks/ja/01_concept.ipynb $(LAB_ARGS)

# Every notebook, and the explorer of notebook 06, in a real JupyterLab in headless Chromium
# (scripts/check_in_lab.py; CI runs it after `make test`). Installs Chromium from the system's
# packages when it is missing, and Playwright into its own venv, which drives that Chromium
# (never `playwright install`: it would download browsers of its own).
LABCHECK_VENV ?= .venv-labcheck
# Options for the script, e.g. LAB_CHECK_ARGS="--shots /tmp/shots" keeps the screenshots.
LAB_CHECK_ARGS ?=
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)

# Playwright alone in its own venv, so that .venv stays exactly what pyproject.toml lists.
$(LABCHECK_VENV)/.installed:
	test -x $(LABCHECK_VENV)/bin/python || $(PYTHON) -m venv $(LABCHECK_VENV)
	$(LABCHECK_VENV)/bin/python -m pip install playwright
	touch $@

# Chromium is looked for on every run (a stamp file would not notice it was removed).
lab-check: $(VENV)/.installed-lab $(call lab_overrides_in,$(VENV)) $(LABCHECK_VENV)/.installed
	command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium \
		|| { $(SUDO) apt-get update \
			&& $(SUDO) env DEBIAN_FRONTEND=noninteractive apt-get install -y chromium; }
	# a Japanese font, so that the screenshots of the Japanese notebook show its text
	test -n "$$(fc-list :lang=ja 2>/dev/null)" \
		|| { $(SUDO) apt-get update && $(SUDO) env DEBIAN_FRONTEND=noninteractive \
			apt-get install -y --no-install-recommends fonts-ipafont-gothic; }
	$(LABCHECK_VENV)/bin/python scripts/check_in_lab.py --lab-python $(BIN)/python $(LAB_CHECK_ARGS)

# A JupyterHub for a class (classroom/, docs/classroom.md): one login, server and kernel
# per student, each running as the student's own system account, so it needs root. The hub runs
# in classroom/.venv-hub, the students' servers in CLASSROOM_STUDENT_VENV, a venv of this project
# that every student account must be able to read (not under /root), built with a Python outside
# /root too (CLASSROOM_PYTHON). The proxy comes from npm into classroom/node_modules.
CLASSROOM_PYTHON ?= /usr/bin/python3
CLASSROOM_STUDENT_VENV ?= /srv/rnn-lesson/venv
# The notebooks a student's server copies into their home, beside the venv: root's alone.
CLASSROOM_NOTEBOOKS ?= $(dir $(CLASSROOM_STUDENT_VENV))notebooks
CLASSROOM_STATE ?= classroom/state
HUB_VENV := classroom/.venv-hub
N ?= 20
CLASSROOM_CHECK_ARGS ?=

$(HUB_VENV)/.installed: classroom/requirements-hub.txt
	test -x $(HUB_VENV)/bin/python || $(CLASSROOM_PYTHON) -m venv $(HUB_VENV)
	$(HUB_VENV)/bin/python -m pip install -r classroom/requirements-hub.txt
	touch $@

classroom/node_modules/.bin/configurable-http-proxy: classroom/package.json classroom/package-lock.json
	cd classroom && npm ci --no-audit --no-fund
	touch $@

classroom-deps: $(HUB_VENV)/.installed classroom/node_modules/.bin/configurable-http-proxy

# The students' environment: this project with its extra `lab` (JupyterLab, which the
# students' servers serve; installed, not editable, so the students need not read this clone)
# and the hub's JupyterHub version for jupyterhub-singleuser. Re-run after changing rnn_lesson.
classroom-venv: $(HUB_VENV)/.installed
	test -x $(CLASSROOM_STUDENT_VENV)/bin/python || $(CLASSROOM_PYTHON) -m venv $(CLASSROOM_STUDENT_VENV)
	$(CLASSROOM_STUDENT_VENV)/bin/python -m pip install -q ".[lab]" \
		"jupyterhub==$$($(HUB_VENV)/bin/python -c 'import jupyterhub; print(jupyterhub.__version__)')"
	$(CLASSROOM_STUDENT_VENV)/bin/python -m pip install -q --no-deps --force-reinstall .
	install -D -m 644 $(LAB_OVERRIDES) $(call lab_overrides_in,$(CLASSROOM_STUDENT_VENV))
	chmod -R a+rX,go-w $(CLASSROOM_STUDENT_VENV)
	rm -rf $(CLASSROOM_NOTEBOOKS).new && cp -R notebooks $(CLASSROOM_NOTEBOOKS).new
	find $(CLASSROOM_NOTEBOOKS).new -name .ipynb_checkpoints -prune -exec rm -rf {} +
	chown -R root:root $(CLASSROOM_NOTEBOOKS).new && chmod -R a+rX,go-w $(CLASSROOM_NOTEBOOKS).new
	rm -rf $(CLASSROOM_NOTEBOOKS) && mv $(CLASSROOM_NOTEBOOKS).new $(CLASSROOM_NOTEBOOKS)

# The teacher's password, asked twice; only its bcrypt hash is kept, in classroom/state. The
# hub writes the teacher's account from it at every start, before it answers anyone.
classroom-teacher: $(HUB_VENV)/.installed
	$(HUB_VENV)/bin/python classroom/set_teacher_password.py $(CLASSROOM_STATE)

# Start the hub for a class (docs/classroom.md, "A class on one server"):
#   make classroom CLASSROOM_TEACHER=<your hub name> CLASSROOM_CLASS_LIST=<file of names>
# listens on 127.0.0.1:8000. CLASSROOM_SIGNUP=closed once the class has signed up.
classroom: classroom-deps classroom-venv
	mkdir -p $(CLASSROOM_STATE) && chmod 700 $(CLASSROOM_STATE)
	CLASSROOM_STUDENT_VENV=$(CLASSROOM_STUDENT_VENV) CLASSROOM_NOTEBOOKS=$(CLASSROOM_NOTEBOOKS) \
		CLASSROOM_STATE_DIR=$(abspath $(CLASSROOM_STATE)) \
		$(HUB_VENV)/bin/python -m jupyterhub -f classroom/jupyterhub_config.py

# Kernels started at once: 20 processes standing for students' servers start 2 kernels each
# at the same moment, rounds alternately over TCP (jupyter's default, which races for ports)
# and over the transport the hub's config sets (IPC); fails if the config's setting loses a
# kernel. About 1 to 2 minutes on 2 cores; KERNEL_RACE_ARGS="--rounds 10" for more.
KERNEL_RACE_ARGS ?=

classroom-kernel-race: classroom-venv
	CLASSROOM_STUDENT_VENV=$(CLASSROOM_STUDENT_VENV) CLASSROOM_NOTEBOOKS=$(CLASSROOM_NOTEBOOKS) \
		$(CLASSROOM_STUDENT_VENV)/bin/python classroom/kernel_race.py $(KERNEL_RACE_ARGS)

# The kernel race, then the load test: N simulated students (default 20) on a hub on
# 127.0.0.1, then the security check: every attack of classroom/security_check.py tried
# against a classroom hub on 127.0.0.1. make classroom-check N=3
classroom-check: classroom-deps classroom-venv classroom-kernel-race
	CLASSROOM_STUDENT_VENV=$(CLASSROOM_STUDENT_VENV) CLASSROOM_NOTEBOOKS=$(CLASSROOM_NOTEBOOKS) \
		$(HUB_VENV)/bin/python classroom/load_test.py --students $(N) $(CLASSROOM_CHECK_ARGS)
	$(SECURITY_CHECK)

SECURITY_CHECK = CLASSROOM_STUDENT_VENV=$(CLASSROOM_STUDENT_VENV) \
	CLASSROOM_NOTEBOOKS=$(CLASSROOM_NOTEBOOKS) \
	$(HUB_VENV)/bin/python classroom/security_check.py $(SECURITY_CHECK_ARGS)

classroom-security-check: classroom-deps classroom-venv
	$(SECURITY_CHECK)

clean:
	rm -rf $(VENV) $(LABCHECK_VENV) $(HUB_VENV) classroom/node_modules .pytest_cache .ruff_cache \
		*.egg-info
