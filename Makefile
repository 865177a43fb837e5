# zendesk-sync — developer entry points. `make help` lists them.
SHELL := /usr/bin/env bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

# Go may live outside PATH in non-login shells.
export PATH := $(PATH):/usr/local/go/bin

GO       ?= go
BIN_DIR  ?= bin
WORKERS  ?= 1
CMDS     := ./worker ./starter ./zendesksim

# Simulator settings for `make sim` (override: make sim SIM_TICKETS=500).
SIM_ADDR    ?= 127.0.0.1:8090
SIM_SEED    ?= 1
SIM_TICKETS ?= 2000
SIM_EMAIL   ?= agent@example.com
SIM_TOKEN   ?= secret

.PHONY: help build test demo demo-stop bench soak vet fmt-check lint sim clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

build: ## build worker, starter and zendesksim into bin/
	$(GO) build -o $(BIN_DIR)/ $(CMDS)

test: ## every test: gofmt, go vet, go test ./... against local PostgreSQL (what .ci/run runs)
	./scripts/test.sh

demo: ## set up and start the whole stack locally, run the first sync, print the URLs (WORKERS=3: three workers)
	WORKERS="$(WORKERS)" ./scripts/demo.sh

demo-stop: ## stop what `make demo` started (PostgreSQL is left running)
	./scripts/demo-stop.sh

bench: ## run the benchmark (./bench)
	./scripts/bench.sh

soak: ## randomised convergence test: SOAK_MINUTES (3), SOAK_WORKERS (1|2), SOAK_SEED (replay)
	./scripts/soak.sh

vet: ## go vet ./...
	$(GO) vet ./...

fmt-check: ## fail when gofmt would change a file
	@files="$$(find . \( -path './.*' -o -path './vendor' \) -prune -o -type f -name '*.go' -print0 | xargs -0 -r gofmt -l)"; \
	if [ -n "$$files" ]; then echo "gofmt needed on:"; echo "$$files"; exit 1; fi; \
	echo "gofmt: clean"

lint: fmt-check vet ## fmt-check + vet

sim: ## run the Zendesk simulator in the foreground
	$(GO) run ./zendesksim -addr $(SIM_ADDR) -seed $(SIM_SEED) -tickets $(SIM_TICKETS) -email $(SIM_EMAIL) -token $(SIM_TOKEN)

clean: ## remove build output (not the demo state: see make demo-stop, then rm -rf .demo)
	rm -rf $(BIN_DIR)
