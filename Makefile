# bench: make install | smoke | test | lint | docs
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
# Model families installed into the main environment (mace and fairchem need their own), the
# dask executor, the torch-sim engine and the tools.
EXTRAS ?= chgnet,sevenn,orb,dask,torch-sim,dev,docs
# Reference data: ../shared/data when it sits beside the checkout, else $BENCH_DATA or the
# user cache (filled from upstream when online).
SHARED_DATA := $(abspath $(CURDIR)/../shared/data)
ifneq ($(wildcard $(SHARED_DATA)),)
export BENCH_DATA ?= $(SHARED_DATA)
endif
MODEL  ?= chgnet
SUBSET ?= mdr-smoke
OUT    ?= runs
# make table2: every model that runs here (or MODELS=a,b) on these subsets; exits 1 when a
# requested model cannot run (ALLOW_MISSING=1 accepts that)
MODELS ?=
PHONON_SUBSET  ?= mdr-smoke
ELASTIC_SUBSET ?= elastic-smoke
WORKERS ?= 2
comma := ,

.PHONY: install smoke table2 speed-gpu results-dev results-cv-sample results-lattice results-full results-site test test-fast lint docs format clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

install: $(BIN)/python
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	@$(BIN)/bench models

# The small default job: one model on the smoke subset; resumes if interrupted.
smoke:
	$(BIN)/bench run --model $(MODEL) --task phonons --subset $(SUBSET) --out $(OUT)

# Orb-v3 Table 2: run (resuming) and write results/table2.md, .csv, parity plots, outliers,
# and the static site results/site (index.html: the table, parity plots, material pages).
TABLE2_COMMAND = make table2 $(if $(MODELS),MODELS=$(MODELS) )PHONON_SUBSET=$(PHONON_SUBSET) ELASTIC_SUBSET=$(ELASTIC_SUBSET)
table2:
	$(BIN)/bench table --run $(if $(MODELS),--models $(MODELS)) --runs $(OUT) --out results \
		--phonon-subset $(PHONON_SUBSET) --elastic-subset $(ELASTIC_SUBSET) --workers $(WORKERS) \
		$(if $(ALLOW_MISSING),--allow-missing )--command-line "$(TABLE2_COMMAND)"
	$(BIN)/bench report --runs $(OUT) --out results/site --phonon-subset $(PHONON_SUBSET) \
		--elastic-subset $(ELASTIC_SUBSET) --command-line "$(TABLE2_COMMAND)"

# Families whose pins clash with the main environment get their own (.envs/<name>): make
# env-mace, make env-fairchem (what each installs: its [families.<name>] table in the catalogue).
env-%: $(BIN)/python
	$(BIN)/bench env create $*

# results/dev: CHGNet and 7net-0 on the larger offline subsets (mdr-50, elastic-dev; hours on
# 2 cores, resuming), equigrad on mdr-smoke for every model that runs here, and CHGNet's Cv on
# the MatCalc binaries with supercells of at most 256 atoms (results/dev/cv-binary-le256).
DEV_MODELS ?= chgnet,7net-0
EQUIGRAD_MODELS ?= chgnet 7net-0 7net-l3i5 7net-mf-0
results-dev:
	for m in $(EQUIGRAD_MODELS); do \
		$(BIN)/bench run --task equigrad --model $$m --subset mdr-smoke --out $(OUT) --quiet; done
	# a random-weight orb-v3 direct model (orb is not invariant by construction)
	$(BIN)/python tests/families/build_orb.py direct $(OUT)/orb-v3-direct-random.ckpt
	$(BIN)/bench run --task equigrad --model orb-v3-direct-20 --subset mdr-smoke --out $(OUT) \
		--checkpoint $(OUT)/orb-v3-direct-random.ckpt --quiet
	$(BIN)/bench table --run --models $(DEV_MODELS) --runs $(OUT) --out results/dev \
		--phonon-subset mdr-50 --elastic-subset elastic-dev --equigrad-subset mdr-smoke \
		--workers $(WORKERS) --quiet --command-line "make results-dev"
	# MatCalc's Cv binaries whose 20 Å supercell fits this machine (datasets/subsets)
	$(BIN)/bench run --model chgnet --subset cv-binary-le256 --workers $(WORKERS) --out $(OUT) --quiet
	$(BIN)/bench table --runs $(OUT) --out results/dev/cv-binary-le256 \
		--phonon-subset cv-binary-le256 --elastic-subset elastic-dev --command-line "make results-dev"

# CHGNet's Cv on a seeded random 100 of MatCalc's 1,170 binaries (an unbiased estimate of
# the full set's MAE; about 1.5 h on 2 cores, resuming): results/dev/cv-binary-sample100
CV_MODEL ?= chgnet
results-cv-sample:
	$(BIN)/bench run --model $(CV_MODEL) --subset cv-binary-sample100 --workers $(WORKERS) --out $(OUT) --quiet
	$(BIN)/bench table --runs $(OUT) --out results/dev/cv-binary-sample100 \
		--phonon-subset cv-binary-sample100 --elastic-subset elastic-dev \
		--command-line "make results-cv-sample"

# results/dev/lattice.md: relaxed cells of CHGNet and 7net-0 on elastic-dev and mdr-50
results-lattice:
	for m in $(subst $(comma), ,$(DEV_MODELS)); do for s in elastic-dev mdr-50; do \
		$(BIN)/bench run --task lattice --model $$m --subset $$s --records $(RECORDS) --out $(OUT) \
			--quiet; done; done
	$(BIN)/bench table --runs $(OUT) --out $(OUT)/lattice-table --quiet \
		--command-line "make results-lattice"
	cp $(OUT)/lattice-table/lattice.md $(OUT)/lattice-table/lattice.csv results/dev/

# Full sets (MatCalc's 3,953 elastic and 1,170 Cv binaries) and MDR's 50 materials here
# (mdr-50: results/full/mdr-50), built up across sessions from the per-material records
# committed under results/records (append-only part files); each table's paired.csv says which
# model is better. `make results-full` rebuilds results/full from those records alone (no model runs);
# `make results-full RUN=1` first resumes the runs (FULL_MODELS; hours), adding new parts every
# 25 min (--push-every), ready to commit, then re-runs each run's failures once
# (--retry-failures: a worker killed by the machine, not the model, gets a second chance).
FULL_MODELS ?= chgnet
RECORDS ?= results/records
RUN ?=
results-full:
ifeq ($(RUN),1)
	for m in $(subst $(comma), ,$(FULL_MODELS)); do for retry in "" --retry-failures; do \
		$(BIN)/bench run --model $$m --task elasticity --subset elastic-full --records $(RECORDS) \
			--out $(OUT) --workers $(WORKERS) --push-every 25 --quiet $$retry || exit 1; \
		$(BIN)/bench run --model $$m --subset cv-binary-1170 --records $(RECORDS) \
			--out $(OUT) --workers $(WORKERS) --isolate --push-every 25 --quiet $$retry || exit 1; \
		$(BIN)/bench run --model $$m --subset mdr-50 --records $(RECORDS) \
			--out $(OUT) --workers $(WORKERS) --push-every 25 --quiet $$retry || exit 1; \
	done; done
endif
	$(BIN)/bench table --runs $(RECORDS) --out results/full --phonon-subset cv-binary-1170 \
		--elastic-subset elastic-full --recorded-only --quiet --command-line "make results-full"
	$(BIN)/bench table --runs $(RECORDS) --out results/full/mdr-50 --phonon-subset mdr-50 \
		--elastic-subset none --recorded-only --quiet --command-line "make results-full"
	$(BIN)/python -m bench.report.frontpage README.md results/README.md

# results/site: the committed site, from all committed records (the full sets first, then MDR's
# 50 here, the dev and smoke subsets; CHGNet's mdr-smoke force constants), and its three screenshots
# (needs chromium);
# `make results-site RUN=1` first resumes those two runs, which push to results/records.
results-site:
ifeq ($(RUN),1)
	$(BIN)/bench run --model chgnet --task phonons --subset mdr-smoke --records $(RECORDS) --push-artifacts \
		--out $(OUT) --quiet
	$(BIN)/bench run --model chgnet --task elasticity --subset elastic-smoke --records $(RECORDS) \
		--out $(OUT) --quiet
endif
	$(BIN)/bench report --runs $(RECORDS) --out results/site --command-line "make results-site"
	$(BIN)/python -m bench.report.browser results/site

# one GPU measured (bench speed gpu): exits 2 on a machine without a GPU
speed-gpu: $(BIN)/python
	$(BIN)/bench speed gpu --model $(MODEL) --out results/speed

# make test: every test (CI); make test-fast: the loop of minutes (markers: pyproject.toml)
test:
	$(BIN)/python -m pytest -q --durations=20

test-fast:
	$(BIN)/python -m pytest -q -m "not slow and not regression" --durations=20

lint:
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# The documentation site (docs/, mkdocs.yml) into site-docs/, every warning an error
docs:
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

format:
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

clean:
	rm -rf $(OUT) .pytest_cache .ruff_cache site-docs
