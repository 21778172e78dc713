# Spirit Analytics: the two commands a new user needs.
#   make run    start the engine on its demo data (pg-wire on 127.0.0.1:5433, HTTP on :8080)
#   make test   run every test (lint, unit, SQL contract, real clients)

SHELL := /bin/bash
# One persistent target dir outside the checkout, shared by CI runs and local builds.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/spirit/target
CARGO ?= cargo
SPIRIT := $(CARGO_TARGET_DIR)/debug/spirit
DATA_DIR ?= ./data
# The plugins' native unit tests and lints: the host toolchain, its own target dir.
PLUGINS_NATIVE_TARGET ?= $(HOME)/.cache/spirit/plugins-native

.PHONY: run test build lint setup setup-test plugins-check bench

# The bundled plugins go into the data dir's plugins directory, which the engine loads and watches.
run: setup build
	SPIRIT_PLUGINS_OUT=$(DATA_DIR)/plugins scripts/build-plugins.sh
	$(SPIRIT) serve --data-dir $(DATA_DIR)

test: setup-test lint plugins-check
	scripts/build-plugins.sh
	$(CARGO) build --locked --workspace --all-targets
	$(CARGO) test --locked --workspace

# The benchmark suite against DuckDB and PostgreSQL; writes docs/benchmarks.md.
bench: setup-test
	scripts/bench.sh $(SCALES)

plugins-check:
	cd plugins && CARGO_TARGET_DIR=$(PLUGINS_NATIVE_TARGET) $(CARGO) clippy --locked --workspace --all-targets -- -D warnings
	cd plugins && CARGO_TARGET_DIR=$(PLUGINS_NATIVE_TARGET) $(CARGO) test --locked --workspace
	CARGO_TARGET_DIR=$(PLUGINS_NATIVE_TARGET) $(CARGO) test --locked --manifest-path sdk/rust/Cargo.toml --all-features

# Always the whole workspace: building one package would resolve other dependency features and
# recompile DataFusion instead of reusing the test build.
build:
	$(CARGO) build --locked --workspace

lint:
	$(CARGO) fmt --all --check
	cd plugins && $(CARGO) fmt --all --check
	cd sdk/rust && $(CARGO) fmt --check
	$(CARGO) clippy --locked --workspace --all-targets -- -D warnings

setup:
	@scripts/setup.sh

setup-test:
	@scripts/setup.sh --test
