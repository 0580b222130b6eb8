# Two commands set everything up on a fresh machine:
#   make demo   -> builds .venv, installs qlatent with all extras, runs `qlatent demo`
#   make test   -> builds .venv if needed, runs the default test suite (< 10 min on 2 cores)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow test-cluster bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch would pull the CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[chem,dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qlatent demo

test: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n 2 -q -m slow

# The Ray executor's tests: installs the cluster extra (Ray) and starts a local Ray.
test-cluster: $(STAMP)
	$(BIN)/pip install --quiet -e '.[chem,dev,cluster]'
	$(BIN)/python -m pytest -q -m cluster

bench: $(STAMP)
	$(BIN)/python benchmarks/sampler.py

# The documentation site (mkdocs + API reference from the docstrings) into site/.
docs: $(STAMP)
	$(BIN)/pip install --quiet -e '.[chem,dev,docs]'
	$(BIN)/mkdocs build --strict

lint: $(STAMP)
	$(BIN)/ruff check src tests benchmarks

clean:
	rm -rf $(VENV) build site src/*.egg-info
