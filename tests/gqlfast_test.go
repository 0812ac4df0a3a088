package tests

import (
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/internal/gqlfast"
)

// plainListsQuery reads every list of plain objects the generated fast path
// writes (internal/gqlfast): metric series with their labels and points
// (nested lists), fleet summary and accelerator groups, resource
// quantities; with aliases, __typename, a fragment, @include and @skip
// inside the nested lists.
const plainListsQuery = `query Plain($from: DateTime!, $to: DateTime!, $yes: Boolean!) {
  fleetSummary { byProvider { key nodes gpus } byGpuType { ...group } byAccelerator { __typename vendor model nodes readyGpus } }
  nodes(first: 20, filter: {provider: RUNAI}) { edges { node { id name
    capacity { all { name value quantity } }
    cpu: metrics(types: [CPU_UTILIZATION], start: $from, end: $to, samples: 12) { type points { timestamp value } }
    gpu: metrics(types: [GPU_UTILIZATION_PER_GPU, GPU_MEMORY_UTILIZATION_PER_GPU], start: $from, end: $to, samples: 6) {
      __typename kind: type
      labels { n: key value @include(if: $yes) }
      points { __typename t: timestamp ... on MetricPoint { v: value } value @skip(if: $yes) }
    }
  } } } }
fragment group on FleetSummaryGroup { key readyNodes allocatedGpus }`

// The fast path writes every list of plain objects byte for byte as gqlgen's
// own code does, nested lists included, and is taken: the same query
// answered with it off (gqlgen's marshalers) and on gives the same body.
func TestPlainListsFastPathMatchesGqlgen(t *testing.T) {
	e := newEnv(t, envOptions{})
	to := time.Now().UTC().Truncate(time.Minute)
	vars := map[string]any{"from": to.Add(-time.Hour).Format(time.RFC3339), "to": to.Format(time.RFC3339), "yes": true}
	answer := func(off bool) (string, int64) {
		gqlfast.SetOff(off)
		defer gqlfast.SetOff(false)
		n := gqlfast.Lists()
		r := e.query(t, plainListsQuery, vars)
		if len(r.Data) < 1000 { // nodes without GPUs answer their per-GPU series with an error
			t.Fatalf("errors %+v, data %.300s", r.Errors, r.Data)
		}
		return string(r.Data), gqlfast.Lists() - n
	}
	slow, slowLists := answer(true)
	fast, fastLists := answer(false)
	if slowLists != 0 {
		t.Errorf("with the fast path off, %d lists were written by it", slowLists)
	}
	// 20 nodes x (1 resource list + 1 or 2 metric lists) + 3 summary lists.
	if fastLists < 20*2+3 {
		t.Errorf("the fast path wrote %d lists, want at least %d: it stepped aside", fastLists, 20*2+3)
	}
	if !contains(fast, `"labels":[{"n":"gpu","value":`) || !contains(fast, `"points":[{"__typename":"MetricPoint","t":"`) {
		t.Fatalf("the answer lacks labelled series: %.600s", fast)
	}
	if fast != slow {
		i := 0
		for i < len(fast) && i < len(slow) && fast[i] == slow[i] {
			i++
		}
		t.Fatalf("fast path and gqlgen differ at byte %d:\nfast:   %.200s\ngqlgen: %.200s", i, fast[max(0, i-40):], slow[max(0, i-40):])
	}
}
