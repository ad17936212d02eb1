# bench: make install | smoke | test | lint
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Model families installed into the main environment (mace and fairchem need their own).
EXTRAS ?= chgnet,sevenn,dev
# Reference data: ../shared/data when it sits beside the checkout, else $BENCH_DATA or the
# user cache (filled from upstream when online).
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export BENCH_DATA ?= $(SHARED_DATA)
endif
MODEL  ?= chgnet
SUBSET ?= mdr-smoke
OUT    ?= runs

.PHONY: install smoke test test-fast lint format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@$(BIN)/bench models | head -6

# The small default job: one model on the smoke subset; resumes if interrupted.
smoke:
	$(BIN)/bench run --model $(MODEL) --task phonons --subset $(SUBSET) --out $(OUT)

test:
	$(BIN)/python -m pytest -q

test-fast:
	$(BIN)/python -m pytest -q -m "not slow"

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache
