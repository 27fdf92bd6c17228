# The course's commands. Nothing needs activating: every target uses the venv's bin/ directly.
SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Empty: the first of python3.11, python3.12, python3.13, python3 that runs and is 3.11 to 3.13
# (scripts/find_python.sh; it says which it chose, or what to install).
PYTHON ?=
VENV ?= .venv
SUBMITTED ?= autograder/samples/submitted
GRADES ?= build/grades
# Grading limits; empty: the grader's defaults (`python -m tconv.grader.grading --help` prints them).
TIMEOUT ?=
NOTEBOOK_TIMEOUT ?=
MEMORY ?=
# on: the strongest sandbox this machine allows (root, userns, landlock); or name one; off: none
SANDBOX ?= on
SCHEDULER ?=
SECRET ?=
JOBS ?= $(shell nproc 2>/dev/null || echo 1)
PORT ?= 8888
PYTEST_ARGS ?=
DEST ?=
EDITION ?= graded
REPO ?=
REF ?=
TORCH_INDEX ?=

BIN := $(abspath $(VENV))/bin
# nbgrader runs `alembic` and `jupyter` as subprocesses: they must come from the venv.
export PATH := $(BIN):$(PATH)
# nbgrader finds autograder/nbgrader_config.py through this.
export JUPYTER_CONFIG_PATH := $(abspath autograder)
export TORCH_INDEX
# matplotlib's font cache belongs to the venv: a cache shared in ~/.cache/matplotlib can list the
# font files of another, deleted venv, and then every plot warns on stderr (which zeroes a grade).
export MPLCONFIGDIR := $(abspath $(VENV))/matplotlib
STAMP := $(VENV)/.installed

.PHONY: help env lab test test-fast release grade bench publish formgrader export clean chromium bubblewrap system-packages

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-15s %s\n", $$1, $$2}'
	@echo "  variables: SUBMITTED=$(SUBMITTED) GRADES=$(GRADES) JOBS=$(JOBS) SCHEDULER=$(SCHEDULER)"
	@echo "             SANDBOX=$(SANDBOX) PORT=$(PORT) TIMEOUT=<s per cell> NOTEBOOK_TIMEOUT=<s> MEMORY=<e.g. 2G>"
	@echo "             (grading limits left empty: python -m tconv.grader.grading's defaults, see its --help)"
	@echo "             SECRET=<file> (the hidden cases' secret; default GRADES/secret-seed, made on first use)"
	@echo "             DEST=<dir> EDITION=$(EDITION) (or self-paced) REPO=<owner/name> REF=<tag> PYTHON=<python3.X>"

env: $(STAMP) ## create the virtual environment (.venv) if it is missing or out of date

$(STAMP): requirements.txt autograder/pyproject.toml scripts/course_env.py
	python=$$(scripts/find_python.sh $(PYTHON)) && "$$python" scripts/course_env.py install --venv $(VENV) \
	  --requirements requirements.txt --package autograder --editable --compile
	touch $@

lab: env ## open JupyterLab on the learners' notebooks in course/ (no instructor tools)
	$(BIN)/python scripts/course_env.py lab --venv $(VENV) --root course --port $(PORT)

test: ## run every check of the course, ruff first (what CI runs)
	@# the venv (pip) and the Debian packages (apt) are made side by side: neither waits for the other
	$(MAKE) --no-print-directory --jobs=2 --output-sync=target env system-packages
	ruff check .
	python -m pytest autograder/tests $(PYTEST_ARGS)

# Markers (pyproject.toml): batch, browser, publish from the fixtures a test waits for (conftest.py);
# slow by hand (kernels, sandboxes, venvs, training).
FAST := not batch and not browser and not publish and not slow
test-fast: env ## ruff, then the tests that need no grading batch, browser, learners' copy, kernel or sandbox
	ruff check .
	python -m pytest autograder/tests -m "$(FAST)" $(PYTEST_ARGS)

# The browser test drives Debian's Chromium (Playwright's own browser download does not work here);
# grading runs each student's code in a sandbox made with bubblewrap (tconv/grader/sandbox.py).
# Each target installs what is missing with apt-get, when it runs as root; where it cannot, it says
# what will not work. `system-packages` installs both with one `apt-get update` (make test).
NEED_chromium := $(if $(wildcard /usr/bin/chromium),,chromium)
NEED_bubblewrap := $(if $(shell command -v bwrap),,bubblewrap)
WITHOUT_chromium := the browser test (autograder/tests/test_browser.py) will be SKIPPED
WITHOUT_bubblewrap := grading falls back to its Landlock mode, which protects less (docs/grading.md: \
  'Grading without root'); sudo apt-get install bubblewrap gives the namespace modes
define apt_install
	@if [ -n "$(strip $(1))" ]; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    echo "+ apt-get install $(strip $(1))"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $(strip $(1)) >/dev/null; \
	  else :; \
	    $(foreach p,$(1),echo "!!! $(p) is missing and cannot be installed here (needs root and apt-get): $(WITHOUT_$(p))" >&2;) \
	  fi; \
	fi
endef

chromium: ## install Debian's Chromium for the browser test, if it is missing
	$(call apt_install,$(NEED_chromium))

bubblewrap: ## install bubblewrap for the grading sandbox, if it is missing
	$(call apt_install,$(NEED_bubblewrap))

system-packages: ## both of the above, with one apt-get update
	$(call apt_install,$(NEED_chromium) $(NEED_bubblewrap))

release: env ## regenerate course/ and the sample submissions from solutions/
	python -m tconv.grader.release

grade: env $(if $(filter-out off landlock,$(SANDBOX)),bubblewrap) ## grade SUBMITTED=<dir or .zip> into GRADES=<dir>, each notebook in a sandbox
	python -m tconv.grader.grading --submitted "$(SUBMITTED)" --grades "$(GRADES)" --jobs $(JOBS) \
	  --sandbox $(SANDBOX) $(if $(TIMEOUT),--timeout $(TIMEOUT)) \
	  $(if $(NOTEBOOK_TIMEOUT),--notebook-timeout $(NOTEBOOK_TIMEOUT)) \
	  $(if $(MEMORY),--memory $(MEMORY)) $(if $(SCHEDULER),--scheduler "$(SCHEDULER)") \
	  $(if $(SECRET),--secret-file "$(SECRET)")

bench: env ## time notebook execution against grading, seconds per notebook
	python autograder/benchmarks/bench_grading.py

publish: env ## build the learners' repository into DEST=<dir> (EDITION=graded|self-paced, REPO=owner/name, REF=tag)
	@test -n "$(DEST)" || { echo "error: give the folder to write: make publish DEST=../course-for-learners" >&2; exit 1; }
	python -m tconv.grader.publish --dest "$(DEST)" --edition "$(EDITION)" --repo "$(REPO)" --ref "$(REF)"

formgrader: env ## open nbgrader's Formgrader on the gradebook `make grade` wrote into GRADES=<dir>
	python -m tconv.grader.formgrader serve --grades "$(GRADES)" --port $(PORT)

export: env ## write GRADES/grades.csv again from the gradebook (after changes made in the Formgrader)
	python -m tconv.grader.formgrader export --grades "$(GRADES)"

clean: ## remove build/ (grades, gradebooks, screenshots); keeps .venv
	rm -rf build
