package bench_test

import (
	"runtime/metrics"
	"testing"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// goroutinesCreated reads the runtime's count of goroutines ever created.
func goroutinesCreated() uint64 {
	s := []metrics.Sample{{Name: "/sched/goroutines-created:goroutines"}}
	metrics.Read(s)
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// benchQuery measures whole responses: parse, validate, resolve through the
// loaders (and cache), marshal. It reports the goroutines each response
// starts (gqlgen marshals every element of a list of objects in a goroutine
// of its own) and the upstream calls it makes.
func benchQuery(b *testing.B, cached bool, q harness.Query) {
	e := newInProcess(b, cached)
	req := body(q)
	size := e.query(b, req) // warm the cache, the connection pool, the parsed-query cache
	e.resetCounters()
	g0, c0 := goroutinesCreated(), cpuTime()
	b.ReportAllocs()
	for b.Loop() {
		e.query(b, req)
	}
	reportCPU(b, c0)
	b.ReportMetric(float64(goroutinesCreated()-g0)/float64(b.N), "goroutines/op")
	b.ReportMetric(float64(e.upstream())/float64(b.N), "upstream/op")
	b.SetBytes(int64(size))
}

// Scenario (a): one node-pool list (10 Run:ai pools), from the cache.
func BenchmarkQueryPoolsWarm(b *testing.B) {
	benchQuery(b, true, harness.PoolsQuery)
}

// Scenario (b) warm: the 100-node dashboard (10 pools, 100 nodes, 2 series
// of 20 points each) answered from the cache: the gateway's own cost.
func BenchmarkQueryDashboardWarm(b *testing.B) {
	benchQuery(b, true, harness.DashboardQuery)
}

// Scenario (b) uncached: the same dashboard with no cache, every call going
// to the in-process simulator (104 calls per op, no added latency).
func BenchmarkQueryDashboardNoCache(b *testing.B) {
	benchQuery(b, false, harness.DashboardQuery)
}

// The ModelArts node listing with parsed resources: 100 nodes, each
// resource parsed as a Kubernetes quantity (fleet's resources()), uncached
// so the mapping runs on every op.
func BenchmarkQueryModelArtsNodesNoCache(b *testing.B) {
	benchQuery(b, false, harness.Query{Name: "modelarts-nodes", Fleetgraph: `{ nodes(first: 500, filter: {provider: MODELARTS}) {
		edges { node { id name status gpuType capacity { cpuCores memoryBytes gpus all { name value } } } } } }`})
}
