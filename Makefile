# Set-up, run and test the MovieLens ranking TFX pipeline.
#   make run   [ARGS="--epochs 5 ..."]   creates .venv if needed, runs the pipeline
#   make test  [PYTEST_ARGS="-k e2e"]    creates .venv if needed, runs the tests (2 at a time)
#   make bench                           the pipeline against the TFRS notebook
#   make bench-scale [ARGS="--sizes 100k,1m,5m --with-25m"]  cost against data size
#   make bench-replay [ARGS="--weeks 4"]  MovieLens 100k week by week, warm vs cold
#   make flink-up / make flink-down      a local Flink cluster for --beam-engine flink

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
# The TFX stack (requirements/pick_stack.py): tfx-1.21 on Python 3.10-3.13
# with glibc >= 2.39, else tfx-1.16 on Python 3.11. STACK=... forces one.
STACK ?= $(shell $(PYTHON) requirements/pick_stack.py)
ifeq ($(STACK),)
$(error no TFX stack fits $(PYTHON); see the message above)
endif
export STACK
# TFX 1.16's libraries declare Python < 3.11; the TFX 1.21 stack needs no override.
PIP_FLAGS := --disable-pip-version-check $(if $(filter tfx-1.16,$(STACK)),--ignore-requires-python)
PIP_INSTALL := $(PY) -m pip install $(PIP_FLAGS)
STAMP := $(VENV)/.installed-$(STACK)
# BROWSER= skips installing Chromium (the report's browser test then skips).
BROWSER ?= browser
# Which tests: make test TESTS="tests/test_cli.py" PYTEST_ARGS="-m \"not e2e\"".
TESTS ?= tests
# pytest-xdist processes, one test file each at a time (a pipeline run keeps
# about one core busy); TEST_WORKERS=0 runs the tests in pytest's own process.
TEST_WORKERS ?= 2

.PHONY: setup browser run test bench bench-scale bench-replay flink-up flink-down clean

setup: $(STAMP)

# Re-installs only when the pins or the package metadata change; a venv of
# the other stack is made anew.
$(STAMP): setup.py requirements/$(STACK).in requirements/$(STACK).txt
	@echo "make setup: the $(STACK) stack ($$($(PYTHON) --version), $$($(PYTHON) -c 'import os; print(os.confstr("CS_GNU_LIBC_VERSION"))'))"
	if ls $(VENV)/.installed-* >/dev/null 2>&1 && [ ! -f $@ ]; then rm -rf $(VENV); fi
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -q pip==26.3 setuptools==84.2.1 wheel==0.48.0
	$(PIP_INSTALL) -q -r requirements/$(STACK).in -c requirements/$(STACK).txt
	$(PIP_INSTALL) --no-deps -e .
	$(PY) -m pip check
	touch $@

run: setup
	$(PY) -m pipeline.local_runner $(ARGS)

test: setup $(BROWSER)
	$(PY) -m pytest -n $(TEST_WORKERS) --dist loadfile $(TESTS) $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.compare $(ARGS)

bench-scale: setup
	$(PY) -m bench.scale $(ARGS)

bench-replay: setup
	$(PY) -m bench.replay $(ARGS)

# A Flink cluster on this machine (flink/cluster.py; root, Java 17, Maven):
# JobManager, two TaskManagers with a Beam worker pool each, Beam's job server.
flink-up: setup
	$(PY) -m flink.cluster up

flink-down:
	$(if $(wildcard $(PY)),$(PY),$(PYTHON)) -m flink.cluster down

# Debian's Chromium and its driver, for the report's browser test.
browser:
	@if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then :; \
	elif [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	  apt-get update -qq && \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null; \
	else \
	  echo "note: apt-get install chromium chromium-driver to run the report's browser test"; \
	fi

clean:
	rm -rf runs .pytest_cache
