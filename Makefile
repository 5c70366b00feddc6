# Two commands on a fresh machine (Python 3.11+, make): `make run` and `make test`.
# Each installs what it needs into .venv from this repository's own pyproject.toml.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
PORT   ?= 3000

.PHONY: install run local demo test unit functional e2e lint clean build bench layer-arm64

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is required")'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

## The main job: the RFC scenario played and checked on a fresh local stack, which then keeps
## serving, with the dev console at http://127.0.0.1:$(PORT)/_console (Ctrl-C stops it).
run: $(STAMP)
	$(BIN)/parity demo --keep-running --port $(PORT)

## The local stack alone, empty but for the seeded company.
local: $(STAMP)
	$(BIN)/parity local --port $(PORT)

## The scenario only: exits 0 when every step passed, 1 at the first miss.
demo: $(STAMP)
	$(BIN)/parity demo

## Every test tier, plus the template lint.
test: $(STAMP) lint
	$(BIN)/python -m pytest

unit: $(STAMP)
	$(BIN)/python -m pytest tests/unit

functional: $(STAMP)
	$(BIN)/python -m pytest tests/functional

e2e: $(STAMP)
	$(BIN)/python -m pytest tests/e2e

lint: $(STAMP)
	$(BIN)/cfn-lint template.yaml

## The project's own packaging: the layer (layers/shared/Makefile, as `sam build` runs it) and each function, shipping
## bytecode (unchecked-hash .pyc, so no source stat on import). The layer here is built for this machine
## (LAYER_ARCH=native): the bench imports it. What deploys is arm64: `make layer-arm64` (or `sam build`).
build: $(STAMP)
	rm -rf build/layer build/functions
	$(MAKE) --no-print-directory -f layers/shared/Makefile build-SharedLayer ARTIFACTS_DIR=$(CURDIR)/build/layer PYTHON=$(CURDIR)/$(BIN)/python LAYER_ARCH=native
	mkdir -p build/functions && for f in functions/*/; do cp -r "$$f" build/functions/; done
	find build/functions -name __pycache__ -prune -exec rm -rf {} +
	$(BIN)/python -m compileall -q -f --invalidation-mode unchecked-hash build/functions

## The deployable layer (arm64, CPython 3.12 wheels) into build/layer-arm64, as `sam build` makes it.
layer-arm64: $(STAMP)
	rm -rf build/layer-arm64
	$(MAKE) --no-print-directory -f layers/shared/Makefile build-SharedLayer ARTIFACTS_DIR=$(CURDIR)/build/layer-arm64 PYTHON=$$(python3.12 -c 'import sys; print(sys.executable)' 2>/dev/null || echo $(CURDIR)/$(BIN)/python) LAYER_ARCH=arm64

## The performance budgets (issue #7): one table, also written to .bench/results.json.
bench: $(STAMP) build
	$(BIN)/parity bench

clean:
	rm -rf $(VENV) .pytest_cache .hypothesis .aws-sam build .bench
