# Set-up, run and test the MovieLens ranking TFX pipeline.
#   make run   [ARGS="--epochs 5 ..."]   creates .venv if needed, runs the pipeline
#   make test  [PYTEST_ARGS="-k e2e"]    creates .venv if needed, runs the tests
#   make bench                           the pipeline against the TFRS notebook
#   make bench-scale [ARGS="--sizes 100k,1m,5m --with-25m"]  cost against data size

PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP_INSTALL := $(PY) -m pip install --disable-pip-version-check --ignore-requires-python
STAMP := $(VENV)/.installed

# TFRS 0.7.7, TFT and TFMA need Keras 2 (tf_keras) in every process.
export TF_USE_LEGACY_KERAS := 1

.PHONY: setup browser run test bench bench-scale clean

setup: $(STAMP)

# Re-installs only when the pins or the package metadata change.
$(STAMP): setup.py requirements/base.in requirements/constraints.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP_INSTALL) -q pip==26.3 setuptools==84.2.1 wheel==0.48.0
	$(PIP_INSTALL) -q -r requirements/base.in -c requirements/constraints.txt
	$(PIP_INSTALL) --no-deps -e .
	$(PY) -m pip check
	touch $@

run: setup
	$(PY) -m pipeline.local_runner $(ARGS)

test: setup browser
	$(PY) -m pytest tests $(PYTEST_ARGS)

bench: setup
	$(PY) -m bench.compare $(ARGS)

bench-scale: setup
	$(PY) -m bench.scale $(ARGS)

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
