# fleetgraph — the two commands: `make run` (demo) and `make test` (what CI runs).
GO      ?= go
ARGS    ?=
# GORACE: skip the race detector's 1 s exit sleep in every test binary.
export GORACE = atexit_sleep_ms=0

.PHONY: run build test vet generate check-generate unit bench clean

## run: the gateway in demo mode (embedded simulators + Redis) on 127.0.0.1:8080; ARGS="--help" for flags
# The binary is built, then exec'd: `go run` exits 1 when interrupted even
# after the gateway drained and exited 0 (make said "Error 1" on Ctrl-C).
run: build
	exec bin/fleetgraph $(ARGS)

## build: bin/fleetgraph
build:
	$(GO) build -o bin/fleetgraph .

## generate: regenerate gqlgen code from graph/schema/*.graphqls
generate:
	$(GO) run ./internal/cmd/gqlgen

## check-generate: fail when the committed generated code is stale
check-generate:
	@tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && \
	  git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$$tmp" 2>/dev/null; \
	  (cd "$$tmp" && $(GO) run ./internal/cmd/gqlgen) && \
	  for d in graph resolvers; do \
	    diff -r -q "$$tmp/$$d" "$$d" >/dev/null || { diff -r "$$tmp/$$d" "$$d" | head -40; \
	      echo "generated code is stale: run 'make generate' and commit the result"; exit 1; }; \
	  done && echo "generated code is up to date"

## vet: go vet ./...
vet:
	$(GO) vet ./...

## test: check-generate + vet + every test under the race detector, then the skipped tests and why
# testsummary runs go test -json, prints what plain go test prints and ends
# with the skipped tests (real Redis, Chromium, -short, ...) and their
# reasons; it exits with go test's status.
test: check-generate vet
	$(GO) build -o bin/testsummary ./internal/cmd/testsummary
	bin/testsummary -go $(GO) -- -race -count=1 ./...

## bench: Go micro-benchmarks of the hot paths
bench:
	$(GO) test -run '^$$' -bench . -benchmem ./...

clean:
	rm -rf bin

# --- Benchmarks: bench/, written up in BENCHMARKS.md -------------------------
# The harness (bench/cmd/fgbench) starts the simulator, the gateways and
# redis-server as separate processes on free 127.0.0.1 ports and stops each
# by its PID; results go to bench/results/*.json, BENCHMARKS.md is generated
# from them. BENCH_ARGS passes flags (e.g. BENCH_ARGS="-duration 10s -c 16").
FGBENCH    ?= $(GO) run ./bench/cmd/fgbench
BENCH_ARGS ?=

.PHONY: bench-load bench-compare bench-soak bench-budget bench-report bench-profile

# bench (above) also runs the end-to-end load run, first.
bench: bench-load

## bench-load: bench/ micro-benchmarks (kept for the report) and the end-to-end scenarios (a)-(d)
bench-load:
	$(FGBENCH) micro -benchtime 500ms
	$(FGBENCH) load $(BENCH_ARGS)
	$(FGBENCH) report

## bench-compare: fleetgraph vs Hive Gateway over the same simulator (npm installs into bench/hive/node_modules)
bench-compare:
	$(FGBENCH) compare $(BENCH_ARGS)
	$(FGBENCH) report

## bench-soak: 200 clients for 5 minutes on the dashboard, RSS sampled
bench-soak:
	$(FGBENCH) soak $(BENCH_ARGS)
	$(FGBENCH) report

## bench-budget: 3 replicas on one Redis under a simulator limit of 600 calls/min: lookups' latency alone and in a dashboard storm, throttled answers, stale dashboards
bench-budget:
	$(FGBENCH) budget $(BENCH_ARGS)
	$(FGBENCH) report

## bench-report: regenerate BENCHMARKS.md from bench/results
bench-report:
	$(FGBENCH) report

## bench-profile: CPU profiles of the gateway under the warm and cold dashboards and a cold 1 000-node one, kept for the report
bench-profile:
	$(FGBENCH) profile -scenario dashboard-warm $(BENCH_ARGS)
	$(FGBENCH) profile -scenario dashboard-cold $(BENCH_ARGS)
	$(FGBENCH) profile -scenario scale-1000 $(BENCH_ARGS)
	$(FGBENCH) report
