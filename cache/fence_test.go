package cache

import (
	"context"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

func TestGenerationsAreCreatedOnceAndNeverReused(t *testing.T) {
	t.Parallel()
	r, mr, _ := setup(t, RedisOptions{})
	ctx := context.Background()
	read := []GenRead{{Key: "gen:b", Fields: []string{"k1", "k2"}, Refine: []string{"k1:x"}}}
	first, err := r.Generations(ctx, read, "g0")
	if err != nil || !slices.Equal(first[0], []string{"g0", "g0", ""}) {
		t.Fatalf("first read: %v, %v; want the init value for fields, \"\" for the refinement", first, err)
	}
	again, _ := r.Generations(ctx, read, "other")
	if !slices.Equal(again[0], first[0]) {
		t.Fatalf("second read %v: a field that has a generation kept it", again[0])
	}
	if err := r.Advance(ctx, "gen:b", map[string]string{"k1:x": "g1"}); err != nil {
		t.Fatal(err)
	}
	if got, _ := r.Generations(ctx, read, "other"); !slices.Equal(got[0], []string{"g0", "g0", "g1"}) {
		t.Fatalf("after advancing k1:x: %v", got[0])
	}
	if ttl := mr.TTL("fleetgraph:v1:gen:b"); ttl <= 0 || ttl > genTTL {
		t.Fatalf("the generation hash has TTL %v, want (0, %v]", ttl, genTTL)
	}
	mr.Del("fleetgraph:v1:gen:b") // lost
	if got, _ := r.Generations(ctx, read, "g2"); !slices.Equal(got[0], []string{"g2", "g2", ""}) {
		t.Fatalf("after losing the hash: %v, want the new init value", got[0])
	}
}

// A write to one key of a kind fenced by key leaves the kind's other keys
// cached; a write to the whole kind (empty key) fences them all.
func TestInvalidateFencesByKeyWhereKeyed(t *testing.T) {
	t.Parallel()
	store, _, _ := setup(t, RedisOptions{})
	c := NewLayered(store, DefaultPolicy(), nil)
	c.FenceByKey(func() []string { return []string{"nodes"} })
	var fetches atomic.Int32
	spec := Spec[string, string]{
		Kind: "nodes", Backend: func(string) string { return "b" }, Key: func(k string) string { return k },
		TTL:     func(string) time.Duration { return time.Minute },
		Fetch:   func(_ context.Context, k string) (string, error) { fetches.Add(1); return "v-" + k, nil },
		Scope:   func(context.Context, string) string { return "svc" },
		StaleOK: func(error) bool { return false },
	}
	ctx := context.Background()
	load := func() int32 {
		before := fetches.Load()
		if vals, errs := Load(ctx, c, &Request{}, spec, []string{"c1", "c2"}); errs[0] != nil || errs[1] != nil || vals[1] != "v-c2" {
			t.Fatalf("load: %v %v", vals, errs)
		}
		return fetches.Load() - before
	}
	if n := load(); n != 2 {
		t.Fatalf("cold: %d fetches, want 2", n)
	}
	if n := load(); n != 0 {
		t.Fatalf("warm: %d fetches, want 0", n)
	}
	if err := c.Invalidate(ctx, nil, "b", "nodes:c1"); err != nil {
		t.Fatal(err)
	}
	if n := load(); n != 1 {
		t.Fatalf("after a write to c1: %d fetches, want 1 (c2 stays cached)", n)
	}
	if err := c.Invalidate(ctx, nil, "b", "nodes:"); err != nil {
		t.Fatal(err)
	}
	if n := load(); n != 2 {
		t.Fatalf("after a write to the whole kind: %d fetches, want 2", n)
	}
}
