# Two entry points: `make demo` and `make test`. Both install into .venv first.
PYTHON ?= python3.11
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
# The CPU build of torch lies on disk on our machines; other specs pull GBs of CUDA wheels.
TORCH_SPEC ?= torch==2.13.0
# pip on our machines is configured with local package folders, some absent; its notes about them are noise.
SHELL := bash
.SHELLFLAGS := -o pipefail -c
QUIET_PIP := sed -u "/^WARNING: Location 'file:.* is ignored/d"

.PHONY: install demo test clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)" 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q -e ".[all,test]" 2>&1 | $(QUIET_PIP)
	touch $(STAMP)

demo: install
	$(BIN)/python -m rs_retrieval.hub_scripts.demo --out outputs/demo

test: install
	$(BIN)/python -m pytest -n 2 -q tests

clean:
	rm -rf $(VENV) outputs .pytest_cache
