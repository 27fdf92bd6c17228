# The course's commands. Nothing needs activating: every target uses the venv's bin/ directly.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV ?= .venv
SUBMITTED ?= autograder/samples/submitted
GRADES ?= build/grades
TIMEOUT ?= 30
NOTEBOOK_TIMEOUT ?= 600
MEMORY ?= 2G
SANDBOX ?= on
SCHEDULER ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
PORT ?= 8888
PYTEST_ARGS ?=

BIN := $(abspath $(VENV))/bin
# nbgrader runs `alembic` and `jupyter` as subprocesses: they must come from the venv.
export PATH := $(BIN):$(PATH)
# nbgrader finds autograder/nbgrader_config.py through this.
export JUPYTER_CONFIG_PATH := $(abspath autograder)
STAMP := $(VENV)/.installed

.PHONY: help env lab test release grade bench clean chromium bubblewrap

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'
	@echo "  variables: SUBMITTED=$(SUBMITTED) GRADES=$(GRADES) TIMEOUT=$(TIMEOUT) NOTEBOOK_TIMEOUT=$(NOTEBOOK_TIMEOUT)"
	@echo "             MEMORY=$(MEMORY) JOBS=$(JOBS) SCHEDULER=$(SCHEDULER) SANDBOX=$(SANDBOX) PORT=$(PORT)"

env: $(STAMP) ## create the virtual environment (.venv) if it is missing or out of date

$(STAMP): requirements.txt autograder/pyproject.toml
	@test -n "$(PYTHON)" || { echo "error: no python3.11 or python3 on PATH; install Python 3.11" >&2; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet -r requirements.txt
	$(BIN)/pip install --quiet --no-deps --no-build-isolation -e autograder
	@# Build matplotlib's font cache now: its first-run notice goes to stderr, which would zero a graded cell.
	$(BIN)/python -c "import matplotlib.pyplot"
	touch $@

lab: env ## open JupyterLab on the learners' notebooks in course/
	@# Jupyter refuses to run as root without --allow-root (containers, CI, this kind of machine).
	jupyter lab --ServerApp.root_dir=course --port=$(PORT) $(if $(filter 0,$(shell id -u)),--allow-root)

test: env chromium bubblewrap ## run every check of the course (what CI runs)
	python -m pytest autograder/tests $(PYTEST_ARGS)

# The browser test drives Debian's Chromium (Playwright's own browser download does not work here).
# Where it cannot be installed (not root, no apt), test_browser.py skips with a warning.
chromium: ## install Debian's Chromium for the browser test, if it is missing
	@if [ ! -x /usr/bin/chromium ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else \
	    echo "!!! /usr/bin/chromium is missing and cannot be installed here (needs root and apt-get):" >&2; \
	    echo "!!! the browser test (autograder/tests/test_browser.py) will be SKIPPED." >&2; \
	  fi; \
	fi

# Grading runs each student's code in a sandbox made with bubblewrap (tconv/grader/sandbox.py).
bubblewrap: ## install bubblewrap for the grading sandbox, if it is missing
	@if ! command -v bwrap >/dev/null; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq bubblewrap; \
	  else \
	    echo "!!! bwrap (bubblewrap) is missing and cannot be installed here (needs root and apt-get):" >&2; \
	    echo "!!! install it (sudo apt-get install bubblewrap), or grade with SANDBOX=off only where" >&2; \
	    echo "!!! learner code may run with your rights." >&2; \
	  fi; \
	fi

release: env ## regenerate course/ and the sample submissions from solutions/
	python -m tconv.release

grade: env $(if $(filter on,$(SANDBOX)),bubblewrap) ## grade SUBMITTED=<dir or .zip> into GRADES=<dir>, each notebook in a sandbox
	python -m tconv.grading --submitted "$(SUBMITTED)" --grades "$(GRADES)" --timeout $(TIMEOUT) \
	  --notebook-timeout $(NOTEBOOK_TIMEOUT) --memory $(MEMORY) --jobs $(JOBS) --sandbox $(SANDBOX) \
	  $(if $(SCHEDULER),--scheduler "$(SCHEDULER)")

bench: env ## time notebook execution against grading, seconds per notebook
	python autograder/benchmarks/bench_grading.py

clean: ## remove build/ (grades, gradebooks, screenshots); keeps .venv
	rm -rf build
