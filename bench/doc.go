// Package bench holds fleetgraph's benchmarks: the Go micro-benchmarks of
// the hot paths (this directory's *_test.go, `make bench`), the end-to-end
// harness (harness/: simulator, gateways, Redis as separate processes, load
// from vegeta) and its command (cmd/fgbench), which writes BENCHMARKS.md.
//
// Nothing here is imported by the gateway.
package bench
