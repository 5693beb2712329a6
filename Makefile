# greeter: `make run` serves it, `make test` tests it. Everything a target needs is installed by
# make itself into the project's folders: .venv for Python tools, tests/clients/typescript/
# node_modules for the TypeScript client's, target/ for Rust.

CARGO  ?= cargo
PYTHON ?= python3
VENV   := .venv
# Extra arguments for `make run`, e.g. make run ARGS="--port 9000 --io-delay 250ms".
ARGS   ?=

PY_TOOLS   := $(VENV)/.installed
NODE_DIR   := tests/clients/typescript
NODE_TOOLS := $(NODE_DIR)/node_modules/.installed

.DEFAULT_GOAL := help
.PHONY: help run build test lint openapi clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: ## Build (release) and serve on http://127.0.0.1:8000 (ARGS="..." passes flags).
	$(CARGO) run --release --locked -- $(ARGS)

build: ## Build the release binary: target/release/greeter.
	$(CARGO) build --release --locked

test: $(PY_TOOLS) $(NODE_TOOLS) ## Run every test (installs the tools the tests use into the project).
	@if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --locked --no-fail-fast; \
	else \
		echo "cargo-nextest not found: running cargo test instead"; \
		$(CARGO) test --locked --no-fail-fast; \
	fi

lint: ## Check formatting and clippy warnings.
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

openapi: ## Regenerate openapi/openapi.json (3.1) and openapi/openapi-3.0.json from the code.
	$(CARGO) build --quiet --locked
	target/debug/greeter openapi --spec-version 3.1 > openapi/openapi.json.tmp
	target/debug/greeter openapi --spec-version 3.0 > openapi/openapi-3.0.json.tmp
	mv openapi/openapi.json.tmp openapi/openapi.json
	mv openapi/openapi-3.0.json.tmp openapi/openapi-3.0.json
	@echo "wrote openapi/openapi.json and openapi/openapi-3.0.json"

$(PY_TOOLS): tests/requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
	touch $@

$(NODE_TOOLS): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund
	touch $@

clean: ## Remove build output and the tool folders.
	$(CARGO) clean
	rm -rf $(VENV) $(NODE_DIR)/node_modules
