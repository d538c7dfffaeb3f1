# Everything the project needs is installed by these targets; a fresh clone needs only python3, make and node.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
INSTALLED := $(VENV)/.installed
LAYERS := build/layers/.built

.PHONY: venv lock layers browser local demo outbox ses-event preview test lint typecheck unit synth bench lifetimes-venv clean console

venv: $(INSTALLED)

# requirements.lock pins every dependency to the exact version the tests run and the layers ship.
$(INSTALLED): pyproject.toml requirements.lock
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet --constraint requirements.lock -e '.[science,offline,plots,infra,dev]'
	touch $@

# After changing dependencies in pyproject.toml: resolve them once, then pin what was installed.
lock:
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet -e '.[science,offline,plots,infra,dev]'
	{ sed -n '/^#/p' requirements.lock; $(BIN)/python -m pip freeze --exclude-editable; } > requirements.lock.new
	mv requirements.lock.new requirements.lock
	touch pyproject.toml

# Lambda layers (runtime dependencies for linux/arm64), built with pip's --platform: no Docker.
layers: $(LAYERS)

$(LAYERS): $(INSTALLED) pyproject.toml requirements.lock infra/build_layers.py
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

# Inject an SES event (AWS's format) for an email the running local stack sent, e.g.
# make ses-event ARGS="bounce --to ann@example.com" (bounce|complaint|delivery|open|click; --transient).
ses-event: $(INSTALLED)
	$(BIN)/python -m infra.local.ses_feedback $(ARGS)

# Preview an email template with a sample person: make preview ARGS="welcome --locale fr".
preview: $(INSTALLED)
	$(BIN)/python -m shared.messaging.preview $(ARGS)

lint: $(INSTALLED)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(INSTALLED)
	$(BIN)/mypy shared functions infra

# The test command (.ci/run calls exactly this): lint, types, unit + integration (moto) + infra + browser tests.
# node_modules: the browser tests load @segment/analytics-next from it (npm devDependency).
test: $(INSTALLED) $(LAYERS) browser node_modules/.bin/cdk
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy shared functions infra
	$(BIN)/python -m pytest -q -n 2 $(PYTEST_ARGS)

node_modules/.bin/cdk: package.json
	npm install --no-audit --no-fund --loglevel=error
	touch $@

synth: $(INSTALLED) $(LAYERS) node_modules/.bin/cdk
	PATH="$(CURDIR)/$(BIN):$$PATH" node_modules/.bin/cdk synth --quiet $(CDK_ARGS)

# Publish the console's pages and config.json to the deployed stack (after cdk deploy; the console is on by default).
console: $(INSTALLED)
	$(BIN)/python -m infra.publish_console $(ARGS)

bench: $(INSTALLED)
	$(BIN)/python -m benchmarks $(ARGS)

# lifetimes 0.11.3 in its own pinned environment (the reference the scoring benchmark and fixtures use).
lifetimes-venv: build/lifetimes-venv/.installed

build/lifetimes-venv/.installed: benchmarks/lifetimes_ref/requirements.txt
	$(PYTHON) -m venv --clear build/lifetimes-venv
	build/lifetimes-venv/bin/python -m pip install --quiet -r benchmarks/lifetimes_ref/requirements.txt
	touch $@

clean:
	rm -rf build cdk.out .pytest_cache .mypy_cache .ruff_cache
