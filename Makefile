# Everything the project needs is installed by these targets; a fresh clone needs only python3, make and node.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAYERS := build/layers/.built

.PHONY: venv layers browser local demo outbox test lint typecheck unit synth bench clean

venv: $(INSTALLED)

$(INSTALLED): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[science,infra,dev]'
	touch $@

# Lambda layers (runtime dependencies for linux/arm64), built with pip's --platform: no Docker.
layers: $(LAYERS)

$(LAYERS): $(INSTALLED) pyproject.toml infra/build_layers.py
	$(BIN)/python -m infra.build_layers

# Headless Chromium for the browser tests: Debian's package (Playwright drives it; it never downloads one).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
		if [ "$$(id -u)" = 0 ]; then \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null; \
		else \
			echo "chromium is missing: run 'sudo apt-get install -y chromium'" >&2; exit 1; \
		fi; \
	}

# The main job: the whole stack on this machine, on moto. Ctrl-C stops it.
local: $(INSTALLED)
	$(BIN)/python -m infra.local $(ARGS)

# The scripted demo: starts the local stack, drives it end to end, prints what it did, exits 0.
demo: $(INSTALLED)
	$(BIN)/python -m infra.local --once $(ARGS)

# The emails the running local stack has sent (`make local` in another terminal), with links and headers.
outbox: $(INSTALLED)
	$(BIN)/python -m infra.local.outbox $(ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy shared

# The test command (.ci/run calls exactly this): lint, types, unit + integration (moto) + infra + browser tests.
test: $(INSTALLED) $(LAYERS) browser
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

node_modules/.bin/cdk: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

synth: $(INSTALLED) $(LAYERS) node_modules/.bin/cdk
	PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/cdk synth --quiet $(CDK_ARGS)

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks $(ARGS)

clean:
	rm -rf build cdk.out .pytest_cache .mypy_cache .ruff_cache
