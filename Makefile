# Herald: `make run` starts the platform, `make test` runs the whole suite.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: install run test lint format asyncapi openapi bench bench-quick eval-sentiment faults fuzz clean lock

# Every install takes its versions from constraints.txt (pyproject.toml only gives ranges), so
# `make run`, `make test`, CI and the image run the same packages.
$(STAMP): pyproject.toml constraints.txt
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	$(PY) -m deploy.runner $(if $(REPLICAS),--replicas "$(REPLICAS)")

# The console's build type-checks it and the TypeScript client (tsc) before the suite, whose
# tests/console/ drive it in chromium.
test: $(STAMP) console
	$(PY) -m pytest -m "not faults" --timeout 240 $(PYTEST_ARGS)

# Schemathesis against the running platform for longer than `make test` does: FUZZ_EXAMPLES
# per operation (default 100), FUZZ_SEED to explore other inputs; report in the test's tmp dir.
fuzz: $(STAMP)
	HERALD_FUZZ_EXAMPLES=$${FUZZ_EXAMPLES:-100} HERALD_FUZZ_SEED=$${FUZZ_SEED:-20261123} \
		$(PY) -m pytest tests/gateway/test_schemathesis.py -p no:randomly --timeout 7200 \
		$(PYTEST_ARGS)

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy shared

format: $(STAMP)
	$(VENV)/bin/ruff format .

asyncapi: $(STAMP)
	$(PY) -m shared.asyncapi docs/asyncapi.yaml

openapi: $(STAMP)
	$(PY) -m services.gateway.openapi_cli docs/openapi.json

# The TypeScript client's types from the merged OpenAPI, built from every service's app in
# this process (nothing needs to run).
client: $(STAMP)
	$(PY) -m services.gateway.openapi_cli --offline docs/openapi.json
	cd clients/typescript && npm ci --no-audit --no-fund && npm run generate && npm run build

# The web console (npm ci and vite build, when missing or stale), served by the gateway at /console.
console: $(STAMP)
	$(PY) -m deploy.console

# PROFILE=1 profiles every benchmark; PROFILE="ingest e2e" only those (py-spy flame graphs in
# bench/results/profile-<benchmark>-<process>.svg).
bench: $(STAMP)
	$(PY) -m bench $(if $(PROFILE),--profile $(filter-out 1 yes true,$(PROFILE)))

bench-quick: $(STAMP)
	$(PY) -m bench --quick

# Accuracy and macro-F1 of the inbox's sentiment per language on tests/data/sentiment/, beside
# VADER alone; written to bench/results/sentiment.json.
eval-sentiment: $(STAMP)
	$(PY) -m bench.bench_sentiment

# Every fault scenario at full size; the summary at the end gives each one's lost, duplicated,
# late and recovered counts and its time to recover. (`make test` runs tests/faults/test_smoke.py.)
faults: $(STAMP)
	HERALD_FAULT_POSTS=$${HERALD_FAULT_POSTS:-1000} $(PY) -m pytest tests/faults -m faults \
		--timeout 1500 $(PYTEST_ARGS)

# Moves every package to the newest version pyproject.toml allows and pins the result.
lock:
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade --upgrade-strategy eager -e '.[dev]'
	{ sed -n '/^#/p' constraints.txt; $(PY) -m pip freeze --exclude-editable; } > constraints.txt.new
	mv constraints.txt.new constraints.txt
	@touch $(STAMP)

clean:
	rm -rf $(VENV) .run .pytest_cache .ruff_cache .mypy_cache console/dist console/node_modules \
		clients/typescript/dist clients/typescript/node_modules
