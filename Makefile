# Rollcall. `make run` starts a development server, `make test` runs every test.
# Neither needs a database set up by hand: without DATABASE_URL a private
# PostgreSQL is started from the server binaries on this machine.

SHELL := /bin/bash
GO    ?= go
BIN   := bin/rollcall
PORT  ?= 8080

.DEFAULT_GOAL := help

.PHONY: help
help: ## List the targets
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_\/-]+:.*## / {printf "  %-12s %s\n", $$1, $$2}' $(MAKEFILE_LIST)

.PHONY: build
build: ## Build bin/rollcall
	@if [ ! -x $(BIN) ]; then echo "Building $(BIN): the first build downloads Go modules and compiles for a few minutes; later builds take seconds."; else echo "Building $(BIN)"; fi
	@$(GO) build -o $(BIN) ./cmd/rollcall

.PHONY: run
run: build ## Development server with GraphiQL and demo data on http://localhost:$(PORT)/
	ROLLCALL_LOG_FORMAT=$${ROLLCALL_LOG_FORMAT:-text} PORT=$(PORT) ./$(BIN) dev

.PHONY: admin
admin: build ## Create an administrator and print a token: make admin EMAIL=you@district.org (uses make run's database without DATABASE_URL)
	@test -n "$(EMAIL)" || { echo "usage: make admin EMAIL=you@district.org"; exit 2; }
	@./$(BIN) admin create --email "$(EMAIL)"

.PHONY: test-deps
test-deps: ## Install what the tests use besides Go (graphql-http audit, graphql-ws client, Chromium)
	@tools/graphql-http-audit/install.sh
	@tools/graphql-ws-client/install.sh
	@tools/js-clients/install.sh
	@tools/install-browser.sh

.PHONY: test
test: build test-deps ## Run every test (starts a temporary PostgreSQL unless DATABASE_URL is set)
	@$(call go-test)

.PHONY: test-race
test-race: build test-deps ## Run every test under the race detector
	@$(call go-test,-race -timeout 30m)

# go-test runs `go test ./...` with extra flags $(1), against DATABASE_URL or
# a temporary PostgreSQL started for the run.
define go-test
	if [ -n "$$DATABASE_URL" ]; then \
		$(GO) test $(1) ./... ; \
	else \
		./$(BIN) with-temp-db -- $(GO) test $(1) ./... ; \
	fi
endef

.PHONY: bench
bench: ## Benchmarks: 1M-row imports against a private PostgreSQL (see docs/benchmarks.md)
	@tools/postgraphile-peer/install.sh
	$(GO) test ./internal/bench -run '^$$' -bench . -benchtime 1x -timeout 90m -v

.PHONY: generate
generate: ## Regenerate gqlgen code and schema.graphql from graph/schema/*.graphqls
	$(GO) generate ./...

.PHONY: lint
lint: ## gofmt, go vet, and a check that generated code is up to date
	@test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) generate ./... && git diff --exit-code -- graph/ schema.graphql

.PHONY: graphiql
graphiql: ## Rebuild the bundled GraphiQL assets from web/graphiql (needs npm)
	web/graphiql/build.sh

.PHONY: db/reset
db/reset: build ## Delete the development database in .data/ (stops it first)
	@if [ -f .data/pg/postmaster.pid ]; then \
		pgctl=$$(ls /usr/lib/postgresql/*/bin/pg_ctl 2>/dev/null | sort -V | tail -1); pgctl=$${pgctl:-pg_ctl}; \
		if [ "$$(id -u)" = 0 ]; then runuser -u postgres -- $$pgctl -D .data/pg stop -m fast; else $$pgctl -D .data/pg stop -m fast; fi; \
	fi
	rm -rf .data
