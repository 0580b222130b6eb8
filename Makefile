# Two commands set everything up on a fresh machine:
#   make demo   -> builds .venv, installs qlatent with all extras, runs `qlatent demo`
#   make test   -> builds .venv if needed, runs the default test suite (< 10 min on 2 cores)
#                  and the Ray executor's tests on a local Ray
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow test-cluster bench lint docs clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	# torch first and pinned: an unpinned torch would pull the CUDA build.
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e '.[chem,dev,cluster]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/qlatent demo

# The default suite on two workers, then the Ray executor's tests in one process (one local
# Ray for all of them). --dist loadgroup: the tests that share an expensive fixture (marked
# xdist_group) run on one worker, so it is built once.
test: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q
	$(BIN)/python -m pytest -q -p no:xdist -m cluster

test-slow: $(STAMP)
	$(BIN)/python -m pytest -n 2 --dist loadgroup -q -m slow

# The Ray executor's tests alone (a local Ray; the cluster extra is part of the .venv).
test-cluster: $(STAMP)
	$(BIN)/python -m pytest -q -p no:xdist -m cluster

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
