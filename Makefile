# Spirit Analytics: the two commands a new user needs.
#   make run    start the engine on its demo data (pg-wire on 127.0.0.1:5433)
#   make test   run every test (lint, unit, SQL contract, real clients)

SHELL := /bin/bash
# One persistent target dir outside the checkout, shared by CI runs and local builds.
export CARGO_TARGET_DIR ?= $(HOME)/.cache/spirit/target
CARGO ?= cargo
SPIRIT := $(CARGO_TARGET_DIR)/debug/spirit
DATA_DIR ?= ./data

.PHONY: run test build lint setup setup-test

run: setup build
	$(SPIRIT) serve --data-dir $(DATA_DIR)

test: setup-test lint
	scripts/build-plugins.sh
	$(CARGO) build --locked --workspace --all-targets
	$(CARGO) test --locked --workspace

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
