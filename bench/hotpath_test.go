package bench_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/cache"
	"github.com/fleetgraph/fleetgraph/fleet"
	runaisource "github.com/fleetgraph/fleetgraph/fleet/runai"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// A dashboard of 100 nodes encodes every node, pool and cluster ID once and
// decodes every ID argument: these run per object of every answer.

func BenchmarkIDEncode(b *testing.B) {
	for b.Loop() {
		_ = runaisource.NodeID{Backend: "runai-prod", Cluster: "6328d463-ae34-48cf-b116-859449e0687d", Node: "c1-default-node-01"}.Encode()
	}
}

func BenchmarkIDDecode(b *testing.B) {
	id := runaisource.NodeID{Backend: "runai-prod", Cluster: "6328d463-ae34-48cf-b116-859449e0687d", Node: "c1-default-node-01"}.Encode()
	for b.Loop() {
		if _, err := ids.Decode(id, ids.KindNode); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCursorRoundTrip(b *testing.B) {
	for b.Loop() {
		if _, err := ids.DecodeCursor(ids.Cursor(4711)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkQuantityParse is the parsing fleet's (unexported) resources()
// does for every resource of every ModelArts node: resource.ParseQuantity
// and AsApproximateFloat64 on the vendor's strings. The mapping function
// itself is reachable only through a query (BenchmarkQueryModelArtsNodes).
func BenchmarkQuantityParse(b *testing.B) {
	in := []string{"192", "1536Gi", "8", "2048Mi", "1500m", "1912Mi"}
	for b.Loop() {
		for _, s := range in {
			q, err := resource.ParseQuantity(s)
			if err != nil {
				b.Fatal(err)
			}
			_ = q.AsApproximateFloat64()
			_ = q.Value()
		}
	}
	b.ReportMetric(float64(len(in)), "quantities/op")
}

// BenchmarkSummarize is fleetSummary's aggregation over 10 000 nodes.
func BenchmarkSummarize(b *testing.B) {
	nodes := make([]*model.Node, 10000)
	alloc := map[*model.Node]int{}
	types := []string{"NVIDIA-A100-SXM4-80GB", "NVIDIA-H100-80GB-HBM3", "Ascend-snt9"}
	for i := range nodes {
		t := types[i%len(types)]
		nodes[i] = &model.Node{Name: fmt.Sprintf("node-%d", i), Provider: model.ProviderRunai, Status: model.NodeStatusReady, GpuType: &t, GpuCount: 8}
		alloc[nodes[i]] = i % 9
	}
	for b.Loop() {
		_ = fleet.Summarize(nodes, alloc)
	}
}

// keyStore records the generation fields a write advances and answers
// nothing: what an invalidation costs to build, without Redis.
type keyStore struct {
	cache.Noop
	mu   sync.Mutex
	keys int
}

func (s *keyStore) Advance(_ context.Context, _ string, gens map[string]string) error {
	s.mu.Lock()
	s.keys += len(gens)
	s.mu.Unlock()
	return nil
}

// BenchmarkCacheKeys invalidates 100 node listings, for a backend with
// service credentials and for a pass-through one: one generation field per
// listing (kind:key), whatever the callers' scopes (the generation fences
// them all, cache/fence.go).
func BenchmarkCacheKeys(b *testing.B) {
	for _, pass := range []bool{false, true} {
		name := "svc"
		if pass {
			name = "passthrough"
		}
		b.Run(name, func(b *testing.B) {
			rc, err := runai.New(runai.Config{Name: "runai-a", BaseURL: "http://127.0.0.1:1", PassThrough: pass,
				ClientID: map[bool]string{false: "id"}[pass], ClientSecret: map[bool]string{false: "secret"}[pass]})
			if err != nil {
				b.Fatal(err)
			}
			reg, err := fleet.NewRegistry(runaisource.New(rc))
			if err != nil {
				b.Fatal(err)
			}
			if pass {
				reg.SetPassThrough("runai-a")
			}
			store := &keyStore{}
			c := fleet.NewCache(store, fleet.DefaultCachePolicy(), nil)
			ctx := backends.WithCredentials(context.Background(), backends.Credentials{RunAIBearer: strings.Repeat("t", 220)})
			kk := make([]string, 100)
			for i := range kk {
				kk[i] = fmt.Sprintf("rnodes:6328d463-ae34-48cf-b116-%012d", i)
			}
			for b.Loop() {
				if err := fleet.Invalidate(ctx, c, reg, "runai-a", kk...); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(store.keys)/float64(b.N), "keys/op")
		})
	}
}

// memStore is an in-memory cache.Store: the cache path without Redis
// (generations from cache.Noop: constant, nothing is written).
type memStore struct {
	cache.Noop
	mu sync.Mutex
	m  map[string][]byte
}

func (s *memStore) GetMany(_ context.Context, keys []string) (map[string][]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string][]byte, len(keys))
	for _, k := range keys {
		if v, ok := s.m[k]; ok {
			out[k] = v
		}
	}
	return out, nil
}

func (s *memStore) SetMany(_ context.Context, entries []cache.Entry) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range entries {
		s.m[e.Key] = e.Value
	}
	return nil
}

func (s *memStore) Delete(_ context.Context, keys ...string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range keys {
		delete(s.m, k)
	}
	return nil
}

// BenchmarkNodeMetricsBatchWarm is one dashboard's metrics fields: 100
// nodes x 2 aliased fields through one request's loaders, answered by a
// warm in-memory cache. It covers building the metrics batch keys (range
// alignment, sorted types, key string, credential scope) and decoding the
// cached series. Each op includes the loader's batch window (1 ms), which
// is wall time, not CPU: read allocs/op, and ns/op minus 1 ms.
func BenchmarkNodeMetricsBatchWarm(b *testing.B) {
	e := newInProcess(b, false)
	reg := e.gw.Registry
	svc := fleet.NewService(reg, fleet.ServiceOptions{})
	c := fleet.NewCache(&memStore{m: map[string][]byte{}}, fleet.DefaultCachePolicy(), nil)
	fl := e.ra.Fleet()
	var nodes []*model.Node
	for _, n := range fl.Nodes {
		nodes = append(nodes, &model.Node{Provider: model.ProviderRunai, Backend: "runai-bench", VendorID: n.ID, Name: n.Name})
	}
	if len(nodes) > 100 {
		nodes = nodes[:100]
	}
	end := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	req := func(want string) fleet.MetricsRequest {
		return fleet.MetricsRequest{Want: fleet.SortTypes([]string{want}), All: fleet.SortTypes([]string{"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION"}),
			Start: end.Add(-time.Hour), End: end, Samples: 20}
	}
	ctx := backends.WithCredentials(context.Background(), backends.Credentials{RunAIBearer: e.token})
	load := func() {
		lctx := fleet.WithLoaders(ctx, fleet.NewLoaders(reg, c))
		var wg sync.WaitGroup
		for _, n := range nodes {
			for _, t := range []string{"CPU_UTILIZATION", "CPU_MEMORY_UTILIZATION"} {
				wg.Go(func() {
					if _, err := svc.NodeMetrics(lctx, n, req(t)); err != nil {
						b.Error(err)
					}
				})
			}
		}
		wg.Wait()
	}
	load() // fill the cache
	e.resetCounters()
	c0 := cpuTime()
	for b.Loop() {
		load()
	}
	reportCPU(b, c0)
	if n := e.upstream(); n != 0 {
		b.Fatalf("warm batches went upstream %d times", n)
	}
	b.ReportMetric(float64(len(nodes)*2), "fields/op")
}
