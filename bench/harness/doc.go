// Package harness is fleetgraph's end-to-end benchmark harness: it starts
// the vendor simulator (`fleetgraph sim`), the gateway under test
// (fleetgraph, or Hive Gateway over GraphQL Mesh's composition of Run:ai's
// OpenAPI document) and redis-server as separate processes on free
// 127.0.0.1 ports, drives them with vegeta in a closed loop, and measures
// each run from the outside: latency percentiles and throughput from the
// load generator, CPU time and peak RSS of each process tree from /proc,
// upstream calls from the simulator's /_sim/stats counters.
//
// Every process it starts runs in its own process group and is stopped by
// its PID. cmd/fgbench drives it; BENCHMARKS.md is written from its
// Results.
package harness
