# The two commands a new user runs: `make demo` and `make test`.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-fast explore lab bench fuzz loadtest constraints clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# every install takes its versions from constraints.txt (the ones the studies were recorded with), so
# a new machine prints the notebooks' numbers; a changed constraints.txt reinstalls
$(STAMP): $(BIN)/python pyproject.toml constraints.txt
	@echo "Installing simstatus and its test tools into $(VENV): once, a few minutes on a new machine"
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --progress-bar on -c constraints.txt -e '.[test]'
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

# hypothesis hunting for bugs: profile `explore` (tests/conftest.py), many more random examples and
# the example database, where `make test` (profile `ci`) is derandomized and bounded
explore: $(STAMP)
	HYPOTHESIS_PROFILE=explore $(BIN)/python -m pytest -p no:cacheprovider tests/test_properties.py \
		tests/test_resolver.py tests/test_servicegroup.py

# JupyterLab on notebooks/ (the `notebook` extra, installed once into .venv)
NOTEBOOK_STAMP := $(VENV)/.installed-notebook

$(NOTEBOOK_STAMP): $(STAMP)
	@echo "Installing JupyterLab (the notebook extra) into $(VENV): once, a minute or two"
	$(BIN)/python -m pip install --progress-bar on -c constraints.txt -e '.[notebook]'
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
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[load]'
	touch $(LOAD_STAMP)

loadtest: $(LOAD_STAMP)
	$(BIN)/python loadtest/run.py --users $(LOAD_USERS) --run-time $(LOAD_TIME)

# mutation testing (mutmut, the `mutate` extra) of the core rooms, each against its own fast tests, in
# copies under mutants/; prints each room's score and survivors (docs/testing.md). Not in CI: minutes
# per room. One room or a few: make mutate ROOMS="resolver servicegroup"
.PHONY: mutate
MUTATE_STAMP := $(VENV)/.installed-mutate
ROOMS ?=

$(MUTATE_STAMP): $(STAMP)
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[mutate]'
	touch $(MUTATE_STAMP)

mutate: $(MUTATE_STAMP)
	$(BIN)/python mutate/run.py $(ROOMS)

# refresh constraints.txt: the newest releases pyproject.toml's lower bounds allow, with every extra,
# installed into a scratch venv (not .venv, which holds the old file's versions) and frozen; then run
# `make test` and re-record any notebook whose pinned output moved
constraints:
	@# a scratch folder of its own (mktemp), removed at the end: nothing of the user's is touched
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/simstatus-constraints.XXXXXX") && \
	$(PYTHON) -m venv "$$tmp/venv" && \
	"$$tmp/venv/bin/python" -m pip install --quiet --upgrade pip && \
	"$$tmp/venv/bin/python" -m pip install --quiet -e '.[test,calibrate,notebook,load,mutate]' && \
	{ sed -n '/^# Made /q;/^#/p' constraints.txt; \
	  echo "# Made $$(date +%F) with Python $$("$$tmp/venv/bin/python" -c 'import platform; print(platform.python_version())') on $$(uname -s) $$(uname -m) by \`make constraints\`: \`pip freeze"; \
	  echo "# --exclude-editable\`, sorted, of a scratch venv with every extra at the newest versions allowed."; \
	  "$$tmp/venv/bin/python" -m pip freeze --exclude-editable | LC_ALL=C sort -f -t= -k1,1; } > "$$tmp/constraints.txt" && \
	mv "$$tmp/constraints.txt" constraints.txt; status=$$?; rm -rf "$$tmp"; exit $$status

clean:
	[ ! -x $(BIN)/python ] || $(BIN)/python -m simstatus.outdir clear runs/demo  # only what simstatus wrote
	rm -rf $(VENV) build *.egg-info
