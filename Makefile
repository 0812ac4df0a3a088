# fleetgraph — the two commands: `make run` (demo) and `make test` (what CI runs).
GO      ?= go
ARGS    ?=
# GORACE: skip the race detector's 1 s exit sleep in every test binary.
export GORACE = atexit_sleep_ms=0

.PHONY: run build test vet generate check-generate unit bench clean

## run: the gateway in demo mode (embedded simulators + Redis) on 127.0.0.1:8080; ARGS="--help" for flags
run:
	$(GO) run . $(ARGS)

## build: bin/fleetgraph
build:
	$(GO) build -o bin/fleetgraph .

## generate: regenerate gqlgen code from graph/schema/*.graphqls
generate:
	$(GO) tool gqlgen generate

## check-generate: fail when the committed generated code is stale
check-generate:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$$tmp" 2>/dev/null; \
	  (cd "$$tmp" && $(GO) tool gqlgen generate) && \
	  for d in graph resolvers; do \
	    diff -r -q "$$tmp/$$d" "$$d" >/dev/null || { diff -r "$$tmp/$$d" "$$d" | head -40; \
	      echo "generated code is stale: run 'make generate' and commit the result"; exit 1; }; \
	  done && echo "generated code is up to date"

## vet: go vet ./...
vet:
	$(GO) vet ./...

## test: check-generate + vet + every test under the race detector
test: check-generate vet
	$(GO) test -race -count=1 ./...

## bench: Go micro-benchmarks of the hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin
