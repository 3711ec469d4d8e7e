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

# A second, small venv with the lowest transformers (and hub, tokenizers, safetensors) that pyproject.toml declares:
# `test-floor` loads a checkpoint saved by .venv through trust_remote_code in it (.ci/transformers_floor.py).
FLOOR_VENV := .venv-floor
FLOOR_STAMP := $(FLOOR_VENV)/.installed

.PHONY: install install-floor demo test test-floor clean

install: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)" 2>&1 | $(QUIET_PIP)
	$(BIN)/python -m pip install -q -e ".[all,test]" 2>&1 | $(QUIET_PIP)
	touch $(STAMP)

$(FLOOR_STAMP): .ci/floor-requirements.txt
	test -x $(FLOOR_VENV)/bin/python || $(PYTHON) -m venv $(FLOOR_VENV)
	$(FLOOR_VENV)/bin/python -m pip install -q "$(TORCH_SPEC)" 2>&1 | $(QUIET_PIP)
	$(FLOOR_VENV)/bin/python -m pip install -q -r .ci/floor-requirements.txt 2>&1 | $(QUIET_PIP)
	touch $(FLOOR_STAMP)

install-floor: $(FLOOR_STAMP)

demo: install
	$(BIN)/python -m rs_retrieval.hub_scripts.demo --out outputs/demo

# The floor check runs before pytest so that pytest's summary stays the last line.
test: install install-floor
	$(BIN)/ruff check .
	$(BIN)/python .ci/transformers_floor.py $(FLOOR_VENV)/bin/python
	$(BIN)/python -m pytest -n 2 -q tests

test-floor: install install-floor
	$(BIN)/python .ci/transformers_floor.py $(FLOOR_VENV)/bin/python

clean:
	rm -rf $(VENV) $(FLOOR_VENV) outputs .pytest_cache
