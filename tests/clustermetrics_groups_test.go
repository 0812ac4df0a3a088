package tests

import (
	"slices"
	"strings"
	"testing"

	"github.com/fleetgraph/fleetgraph/app"
)

// Cluster.metrics with groupBy and nodePool (Run:ai 2.23 on), and
// WORKLOADS_COUNT at cluster level: fields share a call only with the same
// grouping and filter, and where the vendor has neither they are refused
// before any call.

type groupedSeries struct {
	Type   string
	Labels []struct{ Key, Value string }
	Points []struct{ Value float64 }
}

func (s groupedSeries) label(name string) string {
	for _, l := range s.Labels {
		if l.Key == name {
			return l.Value
		}
	}
	return ""
}

const groupedClusterMetrics = `query($s: DateTime!, $e: DateTime!) { clusters(provider: RUNAI) { vendorId nodePools { name }
	byPool: metrics(types: [GPU_UTILIZATION, WORKLOADS_COUNT], start: $s, end: $e, samples: 6, groupBy: NODE_POOL) { type labels { key value } points { value } }
	byPoolCPU: metrics(types: [CPU_UTILIZATION], start: $s, end: $e, samples: 6, groupBy: NODE_POOL) { type labels { key value } points { value } }
	total: metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 6) { type labels { key value } points { value } }
	one: metrics(types: [GPU_UTILIZATION], start: $s, end: $e, samples: 6, nodePool: "default") { type labels { key value } points { value } } } }`

func TestClusterMetricsGroupedByNodePoolOn223(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: threeClusters("2.23"), configure: func(c *app.Config) { c.RunAI[0].APIVersion = "2.23" }})
	e.resetCounters()
	var data struct {
		Clusters []struct {
			VendorID          string
			NodePools         []struct{ Name string }
			ByPool, ByPoolCPU []groupedSeries
			Total, One        []groupedSeries
		}
	}
	e.query(t, groupedClusterMetrics, map[string]any{"s": aomStart, "e": aomEnd}).mustData(t, &data)
	if len(data.Clusters) != 3 {
		t.Fatalf("%d clusters", len(data.Clusters))
	}
	// Three option sets per cluster (grouped, total, one pool): three
	// calls each; the two grouped fields share theirs.
	if got, want := e.ra.Control().Count(raClusterMetrics), int64(3*len(data.Clusters)); got != want {
		t.Errorf("%s called %d times, want %d", raClusterMetrics, got, want)
	}
	for _, c := range data.Clusters {
		var pools []string
		for _, p := range c.NodePools {
			pools = append(pools, p.Name)
		}
		slices.Sort(pools)
		for _, typ := range []string{"GPU_UTILIZATION", "WORKLOADS_COUNT"} {
			var got []string
			for _, s := range c.ByPool {
				if s.Type == typ && len(s.Points) > 0 {
					got = append(got, s.label("nodePool"))
				}
			}
			slices.Sort(got)
			if !slices.Equal(got, pools) {
				t.Errorf("cluster %s %s by node pool: groups %v, want its pools %v", c.VendorID, typ, got, pools)
			}
		}
		if len(c.ByPoolCPU) != len(pools) || c.ByPoolCPU[0].Type != "CPU_UTILIZATION" || c.ByPoolCPU[0].label("nodePool") == "" {
			t.Errorf("cluster %s CPU by node pool: %+v", c.VendorID, c.ByPoolCPU)
		}
		if len(c.Total) != 1 || len(c.Total[0].Labels) != 0 || len(c.Total[0].Points) == 0 {
			t.Errorf("cluster %s total: %+v", c.VendorID, c.Total)
		}
		if len(c.One) != 1 || len(c.One[0].Points) == 0 {
			t.Errorf("cluster %s nodePool default: %+v", c.VendorID, c.One)
		}
	}
}

func TestClusterMetricsOptionsRefusedBeforeAnyCall(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, version, query, field, says string
	}{
		{"groupBy on 2.22", "2.22", `{ clusters(provider: RUNAI) { metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", groupBy: NODE_POOL) { type } } }`,
			"groupBy", "2.23"},
		{"nodePool on 2.22", "2.22", `{ clusters(provider: RUNAI) { metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", nodePool: "default") { type } } }`,
			"nodePool", "2.23"},
		{"WORKLOADS_COUNT on 2.22", "2.22", `{ clusters(provider: RUNAI) { metrics(types: [WORKLOADS_COUNT], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z") { type } } }`,
			"types", "WORKLOADS_COUNT"},
		{"a nodePool that is no name", "2.23", `{ clusters(provider: RUNAI) { metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", nodePool: "Not_A_Name") { type } } }`,
			"nodePool", "Kubernetes name"},
		{"an empty nodePool", "2.23", `{ clusters(provider: RUNAI) { metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", nodePool: "") { type } } }`,
			"nodePool", "node-pool name"},
		{"groupBy on ModelArts", "2.23", `{ clusters(provider: MODELARTS) { metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:00Z", end: "2026-11-25T11:00:00Z", groupBy: NODE_POOL) { type } } }`,
			"groupBy", "ShowPoolMonitor"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{runai: threeClusters(tc.version), configure: func(c *app.Config) { c.RunAI[0].APIVersion = tc.version }})
			e.resetCounters()
			r := e.query(t, tc.query, nil)
			if len(r.Errors) == 0 {
				t.Fatalf("no error: %s", r.Data)
			}
			for _, er := range r.Errors {
				if er.Extensions["code"] != "BAD_USER_INPUT" || er.Extensions["field"] != tc.field || !strings.Contains(er.Message, tc.says) {
					t.Fatalf("error %+v, want BAD_USER_INPUT on %s saying %q", er, tc.field, tc.says)
				}
			}
			if n := e.ra.Control().Count(raClusterMetrics) + e.ma.Control().Count(maPoolMonitor); n != 0 {
				t.Fatalf("%d cluster metrics calls", n)
			}
		})
	}
}
