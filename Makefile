# greeter: `make run` serves it, `make test` tests it. Everything a target needs is installed by
# make itself into the project's folders: .venv for Python tools, tests/clients/typescript/
# node_modules for the TypeScript client's, tests/browser/node_modules for the browser driver,
# tests/lint/node_modules for the OpenAPI linters, target/ for Rust; and the system packages the
# tests use (Chromium, nginx, HAProxy, Prometheus, podman: .ci/system-packages.txt) through apt-get,
# as root or with `sudo -n`.

CARGO  ?= cargo
PYTHON ?= python3
VENV   := .venv
# Extra arguments for `make run`, e.g. make run ARGS="--port 9000 --io-delay 250ms".
ARGS   ?=

PY_TOOLS   := $(VENV)/.installed
NODE_DIR   := tests/clients/typescript
NODE_TOOLS := $(NODE_DIR)/node_modules/.installed
BROWSER_DIR   := tests/browser
BROWSER_TOOLS := $(BROWSER_DIR)/node_modules/.installed
# The OpenAPI linters (Spectral with the OWASP ruleset, Redocly), pinned in tests/lint.
LINT_DIR      := tests/lint
LINT_TOOLS    := $(LINT_DIR)/node_modules/.installed
# The deployment linters (kubernetes-validate, checkov, yamllint) in their own venv.
DEPLOY_VENV   := $(LINT_DIR)/.venv
DEPLOY_TOOLS  := $(DEPLOY_VENV)/.installed
# The Kubernetes version the manifests are validated against (kubernetes-validate's schemas).
KUBERNETES_VERSION := 1.37.0
SCREENSHOT    := openapi/swagger-ui.png
# Benchmarks: oha (load), a bare actix-web reference, FastAPI and aiohttp in bench/.venv.
OHA         := target/tools/bin/oha
BENCH_VENV  := bench/.venv
BENCH_TOOLS := $(BENCH_VENV)/.installed
BARE        := bench/bare/Cargo.toml
# Fuzzing: cargo-fuzz is installed into target/tools; it needs a nightly toolchain.
CARGO_FUZZ   := target/tools/bin/cargo-fuzz
FUZZ_TARGETS := json_body name_in_path openapi30
FUZZ_SECONDS ?= 60
# The container image: a static binary (glibc linked in) on `scratch`, built by docker if
# present, else podman
VERSION        := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
IMAGE          := greeter:$(VERSION)
STATIC_TARGET  := x86_64-unknown-linux-gnu
# (a docker whose daemon does not answer does not count).
ENGINE         ?= $(shell docker info >/dev/null 2>&1 && command -v docker || command -v podman 2>/dev/null)
# Tests that skip (a tool missing on a developer's machine) list themselves here.
SKIPPED := target/skipped-tests.log

.DEFAULT_GOAL := help
.PHONY: help run build test lint openapi screenshot fuzz bench bench-smoke image clean

help: ## List the targets.
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F ':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

run: ## Build (release) and serve on http://127.0.0.1:8000 (ARGS="..." passes flags).
	$(CARGO) run --release --locked -- $(ARGS)

build: ## Build the release binary: target/release/greeter.
	$(CARGO) build --release --locked

test: $(PY_TOOLS) $(NODE_TOOLS) $(BROWSER_TOOLS) $(LINT_TOOLS) $(OHA) ## Run every test (installs what the tests use, system packages included).
	@.ci/install-system-packages
	@mkdir -p target; rm -f $(SKIPPED)
	@# The container test runs the image; it is built first, where an engine is installed.
	@if [ -n "$(ENGINE)" ]; then $(MAKE) --no-print-directory image; \
	else echo "no docker or podman: the container image is not built (its test will say so)"; fi
	@status=0; \
	if $(CARGO) nextest --version >/dev/null 2>&1; then \
		$(CARGO) nextest run --locked --no-fail-fast || status=$$?; \
	else \
		echo "cargo-nextest not found: running cargo test instead"; \
		$(CARGO) test --locked --no-fail-fast || status=$$?; \
	fi; \
	skipped=$$(cat $(SKIPPED) 2>/dev/null | wc -l); \
	sed 's/^/  skipped: /' $(SKIPPED) 2>/dev/null; \
	echo "$$skipped tests skipped (each names its reason above; under CI=true a skip fails)"; \
	exit $$status

lint: $(DEPLOY_TOOLS) ## Check formatting, clippy, the doc comments' links and the deployment files.
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc --locked --no-deps --quiet
	$(DEPLOY_VENV)/bin/yamllint --strict -d "{extends: default, rules: {line-length: {max: 120}, document-start: disable}}" deploy/kubernetes
	$(DEPLOY_VENV)/bin/kubernetes-validate --strict --quiet -k $(KUBERNETES_VERSION) \
		$$(ls deploy/kubernetes/*.yaml deploy/kubernetes/*/*.yaml | grep -v kustomization.yaml)
	$(DEPLOY_VENV)/bin/checkov --directory deploy/kubernetes --framework kubernetes \
		--skip-download --compact --quiet
	$(DEPLOY_VENV)/bin/hadolint --failure-threshold style deploy/container/Containerfile

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

# The picture shows a server with API keys, so that "Authorize" is on it (a server without keys
# declares no scheme, and Swagger UI then shows no button).
SCREENSHOT_KEY := screenshot-key-0123456789abcdef

screenshot: $(BROWSER_TOOLS) ## Save a picture of /docs with GET / tried out (needs Chromium).
	$(CARGO) build --quiet --locked
	@mkdir -p target; rm -f target/screenshot.log
	@GREETER_API_KEYS=$(SCREENSHOT_KEY) target/debug/greeter --port 0 --io-delay 0s \
		2> target/screenshot.log & pid=$$!; \
	for _ in $$(seq 100); do grep -q 'listening on' target/screenshot.log && break; sleep 0.1; done; \
	url=$$(grep -o 'listening on http://[^ ]*' target/screenshot.log | cut -d' ' -f3); \
	cd $(BROWSER_DIR) && node check_docs.mjs "$$url/docs" --api-key $(SCREENSHOT_KEY) \
		--screenshot ../../$(SCREENSHOT); \
	status=$$?; kill $$pid; exit $$status

fuzz: $(CARGO_FUZZ) ## Fuzz the input parsing, FUZZ_SECONDS (60) per target (needs nightly).
	@for target in $(FUZZ_TARGETS); do \
		echo "== fuzzing $$target for $(FUZZ_SECONDS) s"; \
		PATH="$(CURDIR)/target/tools/bin:$$PATH" $(CARGO) +nightly fuzz run --fuzz-dir tests/fuzz \
			$$target -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

bench: $(BENCH_TOOLS) $(OHA) ## Benchmark greeter against bare actix-web, FastAPI and aiohttp (~15 min).
	$(CARGO) build --release --locked
	$(CARGO) build --release --locked --manifest-path $(BARE)
	$(BENCH_VENV)/bin/python bench/run.py --greeter target/release/greeter \
		--bare bench/bare/target/release/bare-actix --oha $(OHA)

bench-smoke: $(BENCH_TOOLS) $(OHA) ## The bench harness on small loads for a few seconds (run by CI).
	$(CARGO) build --locked
	$(CARGO) build --locked --manifest-path $(BARE)
	$(BENCH_VENV)/bin/python bench/run.py --smoke --greeter target/debug/greeter \
		--bare bench/bare/target/debug/bare-actix --oha $(OHA) --out target/bench-smoke

image: ## Build the container image greeter:VERSION (static binary on scratch; docker, else podman).
	@test -n "$(ENGINE)" || { echo "make image needs docker or podman"; exit 1; }
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --release --locked \
		--target $(STATIC_TARGET) --target-dir target/static
	rm -rf target/image && mkdir -p target/image
	cp target/static/$(STATIC_TARGET)/release/greeter target/image/greeter
	strip target/image/greeter
	printf 'greeter:x:10001:10001:greeter:/:/greeter\n' > target/image/passwd
	$(ENGINE) build $(if $(findstring podman,$(ENGINE)),--format docker) \
		--build-arg VERSION=$(VERSION) -f deploy/container/Containerfile -t $(IMAGE) target/image

$(OHA):
	$(CARGO) install oha --version 1.16.0 --locked --root target/tools

$(BENCH_TOOLS): bench/requirements.txt
	$(PYTHON) -m venv $(BENCH_VENV)
	$(BENCH_VENV)/bin/pip install --quiet --disable-pip-version-check -r bench/requirements.txt
	touch $@

$(CARGO_FUZZ):
	$(CARGO) install cargo-fuzz --version 0.13.2 --locked --root target/tools

$(NODE_TOOLS): $(NODE_DIR)/package.json $(NODE_DIR)/package-lock.json
	cd $(NODE_DIR) && npm ci --no-audit --no-fund
	touch $@

$(BROWSER_TOOLS): $(BROWSER_DIR)/package.json $(BROWSER_DIR)/package-lock.json
	cd $(BROWSER_DIR) && npm ci --no-audit --no-fund
	touch $@

$(DEPLOY_TOOLS): $(LINT_DIR)/requirements.txt
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_VENV)/bin/pip install --quiet --disable-pip-version-check -r $(LINT_DIR)/requirements.txt
	touch $@

$(LINT_TOOLS): $(LINT_DIR)/package.json $(LINT_DIR)/package-lock.json
	cd $(LINT_DIR) && npm ci --no-audit --no-fund
	touch $@

clean: ## Remove build output and the tool folders.
	$(CARGO) clean
	rm -rf $(VENV) $(BENCH_VENV) $(NODE_DIR)/node_modules $(BROWSER_DIR)/node_modules
