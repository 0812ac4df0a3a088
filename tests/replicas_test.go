package tests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// replica builds one more gateway over e's simulators, its config edited by
// configure (nil: no shared cache): another replica behind the same Service.
func replica(t *testing.T, e *env, configure func(*app.Config)) *env {
	t.Helper()
	cfg := simConfig(e.raURL, e.maURL)
	cfg.RunAI[0].APIVersion = e.ra.Version()
	if configure != nil {
		configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gw, err := app.BuildWith(cfg, app.Options{Logger: quietLogger()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return &env{ra: e.ra, ma: e.ma, raURL: e.raURL, maURL: e.maURL, gw: newServer(t, gw)}
}

const (
	poolIDs        = `{ nodePools(first: 100) { edges { node { id name provider phase } } } }`
	raListPools    = "GET /api/v1/node-pools"
	settleAtOnce   = -1 // runaisim.Options.PhaseDelay: a written pool settles on the next read
	straddleMillis = 700
)

// queryNoFatal posts query and returns its data, nil on any error: for
// goroutines other than the test's.
func (e *env) queryNoFatal(query string) []byte {
	body, _ := json.Marshal(map[string]any{"query": query})
	resp, err := http.Post(e.gw.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		return nil
	}
	defer resp.Body.Close()
	var out gqlResponse
	if json.NewDecoder(resp.Body).Decode(&out) != nil || len(out.Errors) > 0 {
		return nil
	}
	return out.Data
}

type poolRef struct{ ID, Name, Provider, Phase string }

func decodePools(data []byte) ([]poolRef, bool) {
	var d struct {
		NodePools struct{ Edges []struct{ Node poolRef } }
	}
	if data == nil || json.Unmarshal(data, &d) != nil {
		return nil, false
	}
	out := make([]poolRef, len(d.NodePools.Edges))
	for i, ed := range d.NodePools.Edges {
		out[i] = ed.Node
	}
	return out, true
}

func listPools(t *testing.T, e *env) []poolRef {
	t.Helper()
	r := e.query(t, poolIDs, nil)
	if len(r.Errors) > 0 {
		t.Fatalf("pool list: %+v", r.Errors)
	}
	ps, ok := decodePools(r.Data)
	if !ok {
		t.Fatalf("pool list: %s", r.Data)
	}
	return ps
}

func hasPool(ps []poolRef, id string) bool {
	return slices.ContainsFunc(ps, func(p poolRef) bool { return p.ID == id })
}

// deletablePool is a Run:ai pool that deleteNodePool accepts (not a
// cluster's default pool), learnt from the vendor without any cache.
func deletablePool(t *testing.T, e *env) string {
	t.Helper()
	for _, p := range listPools(t, replica(t, e, nil)) {
		if p.Provider == "RUNAI" && p.Name != "default" {
			return p.ID
		}
	}
	t.Fatal("no deletable Run:ai pool listed")
	return ""
}

// raceReadAgainstDelete starts a pool-list read on reader whose Run:ai
// listing the vendor has computed (before the delete) but holds for a
// while, runs deleteNodePool of victim on writer meanwhile, and returns
// once the read is done. Counters are reset after.
func raceReadAgainstDelete(t *testing.T, reader, writer *env, victim string) {
	t.Helper()
	writer.resetCounters()
	if err := writer.ra.Control().SetFaults(simctl.Faults{ResponseDelayMs: straddleMillis, Routes: []string{raListPools}}); err != nil {
		t.Fatal(err)
	}
	done := make(chan []byte, 1)
	go func() { done <- reader.queryNoFatal(poolIDs) }()
	deadline := time.Now().Add(5 * time.Second)
	for writer.ra.Control().Count(raListPools) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the read never reached the vendor")
		}
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // the listing is computed: the vendor only holds it now
	writer.query(t, `mutation($id: ID!) { deleteNodePool(id: $id) { accepted } }`, map[string]any{"id": victim}).mustData(t, &struct{}{})
	var raced []poolRef
	select {
	case data := <-done:
		var ok bool
		if raced, ok = decodePools(data); !ok {
			t.Fatal("the raced read failed")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the raced read never finished")
	}
	if !hasPool(raced, victim) {
		t.Fatal("the raced read did not straddle the delete: the vendor answered after it")
	}
	writer.ra.Control().ClearFaults()
	writer.resetCounters()
}

// assertFenced fails when a replica of rs (A, B, ...) lists victim after
// a raced delete, or when they did not share one vendor listing.
func assertFenced(t *testing.T, victim string, rs ...*env) {
	t.Helper()
	for i, r := range rs {
		if hasPool(listPools(t, r), victim) {
			t.Fatalf("replica %c still lists the deleted pool: the raced read's pre-delete list was cached", 'A'+i)
		}
	}
	if n := rs[0].ra.Control().Count(raListPools); n != 1 {
		t.Fatalf("%d Run:ai pool listings for %d replicas after the write, want 1 (then shared)", n, len(rs))
	}
}

// A read that started before a write and ended after its invalidation must
// not leave its pre-write answer in the shared cache, on any replica: the
// write fences it (the generation in every key).
func TestReadRacingAWriteIsFenced(t *testing.T) {
	t.Parallel()
	for _, sameReplica := range []bool{false, true} {
		name := map[bool]string{false: "read on another replica", true: "read on the writer"}[sameReplica]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			mr := newMiniredis(t)
			cfg := withRedis(mr.Addr(), nil)
			a := newEnv(t, envOptions{runai: runaisim.Options{PoolsPerCluster: 2, PhaseDelay: settleAtOnce}, configure: cfg})
			b, c := replica(t, a, cfg), replica(t, a, cfg)
			reader := b
			if sameReplica {
				reader = a
			}
			victim := deletablePool(t, a)
			raceReadAgainstDelete(t, reader, a, victim)
			assertFenced(t, victim, a, b, c)
		})
	}
}
