# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast lab bench fuzz loadtest clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

$(STAMP): $(BIN)/python pyproject.toml
	@echo "Installing simstatus and its test tools into $(VENV): once, a few minutes on a new machine"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -e '.[test]'
	touch $(STAMP)

demo: $(STAMP)
	# a fresh study each time (an existing one would be resumed, not re-run): remove only what
	# simstatus wrote there (its manifest lists it); anything else in runs/demo stays
	$(BIN)/python -m simstatus.outdir clear runs/demo
	$(BIN)/simstatus compare data/scenarios/nfv-study.toml --set nova.service_down_time=15,30,60,120 \
		--replications 5 --out runs/demo

test: $(STAMP)
	$(BIN)/python -m pytest

# the quick loop while editing: tests/ without the tests marked slow (statistical and theory checks,
# kills, serve end to end, fuzzing, load) and without the notebooks; `make test` (and CI) runs all
test-fast: $(STAMP)
	$(BIN)/python -m pytest -m "not slow" tests

# JupyterLab on notebooks/ (the `notebook` extra, installed once into .venv)
NOTEBOOK_STAMP := $(VENV)/.installed-notebook

$(NOTEBOOK_STAMP): $(STAMP)
	@echo "Installing JupyterLab (the notebook extra) into $(VENV): once, a minute or two"
	$(BIN)/python -m pip install --progress-bar on -e '.[notebook]'
	touch $(NOTEBOOK_STAMP)

lab: $(NOTEBOOK_STAMP)
	$(BIN)/jupyter lab notebooks/

bench: $(STAMP)
	$(BIN)/simstatus bench

# schemathesis against api/openapi.json with many more examples than `make test` runs
fuzz: $(STAMP)
	SIMSTATUS_FUZZ_EXAMPLES=$${SIMSTATUS_FUZZ_EXAMPLES:-300} $(BIN)/python -m pytest -p no:cacheprovider \
		tests/test_schemathesis.py tests/test_api_hardening.py

# 64 concurrent loopback clients (locust, the `load` extra) against `simstatus serve` for a fixed
# time: reads, force-down/enable storms, clock advances; exits 1 on any error or inconsistent answer
LOAD_STAMP := $(VENV)/.installed-load
LOAD_USERS ?= 64
LOAD_TIME  ?= 30s

$(LOAD_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[load]'
	touch $(LOAD_STAMP)

loadtest: $(LOAD_STAMP)
	$(BIN)/python loadtest/run.py --users $(LOAD_USERS) --run-time $(LOAD_TIME)

clean:
	[ ! -x $(BIN)/python ] || $(BIN)/python -m simstatus.outdir clear runs/demo  # only what simstatus wrote
	rm -rf $(VENV) build *.egg-info
