package tests

import (
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// Run:ai control planes after 2.22 (issue 12, part 3): from 2.23 the
// gateway lists nodes once per control plane (GET /api/v1/nodes) instead
// of once per cluster, the version configured (apiVersion) or probed on
// first use (GET /api/v1/nodes/count).

const (
	raTenantNodes = "GET /api/v1/nodes"
	raNodesCount  = "GET /api/v1/nodes/count"
)

// threeClusters makes the per-cluster cost visible: 3 listings on 2.22, 1
// on 2.23. Two pools per cluster are GPU pools only (see gpuOnly).
func threeClusters(version string) runaisim.Options {
	return runaisim.Options{Clusters: 3, PoolsPerCluster: 2, NodesPerPool: 3, Version: version}
}

// withAPIVersion sets the Run:ai backend's apiVersion ("" = probe) and a
// Redis cache.
func withAPIVersion(version, redisAddr string) func(*app.Config) {
	return withRedis(redisAddr, func(c *app.Config) { c.RunAI[0].APIVersion = version })
}

// nodeCalls is what the Run:ai simulator counted for node listings and the
// probe.
type nodeCalls struct{ perCluster, tenant, probe int64 }

func runaiNodeCalls(e *env) nodeCalls {
	c := e.ra.Control()
	return nodeCalls{perCluster: c.Count(raNodes), tenant: c.Count(raTenantNodes), probe: c.Count(raNodesCount)}
}

// runaiDashboard is the dashboard (cache_test.go) over the Run:ai pools:
// the fleet summary (every cluster's nodes), each pool with its metrics, its
// nodes and theirs.
var runaiDashboard = strings.Replace(dashboard, "nodePools(first: 100)", "nodePools(filter: {provider: RUNAI}, first: 100)", 1)

const patchLabel = `mutation($id: ID!) { patchNodePool(id: $id, input: {labelValue: "relabelled"}) { id } }`

// firstRunAIPool is the ID of a Run:ai node pool.
func firstRunAIPool(t *testing.T, e *env) string {
	t.Helper()
	var data struct {
		NodePools struct {
			Edges []struct{ Node struct{ ID, Provider string } }
		}
	}
	e.query(t, `{ nodePools(first: 500) { edges { node { id provider } } } }`, nil).mustData(t, &data)
	for _, edge := range data.NodePools.Edges {
		if edge.Node.Provider == "RUNAI" {
			return edge.Node.ID
		}
	}
	t.Fatal("no Run:ai node pool")
	return ""
}

func TestRunAINodeListingByAPIVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sim, configured string
		cold                  nodeCalls // the dashboard's node listings and probe, cold
	}{
		{"2.22 configured", runaisim.Version222, "2.22", nodeCalls{perCluster: 3}},
		{"2.22 probed", runaisim.Version222, "", nodeCalls{perCluster: 3, probe: 1}},
		{"2.23 configured", runaisim.Version223, "2.23", nodeCalls{tenant: 1}},
		{"2.23 probed", runaisim.Version223, "", nodeCalls{tenant: 1, probe: 1}},
		{"2.24 configured", runaisim.Version224, "2.24", nodeCalls{tenant: 1}},
		// A 2.23 control plane configured as 2.22 keeps the per-cluster
		// listing (deprecated, still served): the reference answer.
		{"2.23 configured as 2.22", runaisim.Version223, "2.22", nodeCalls{perCluster: 3}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			mr := miniredis.RunT(t)
			e := newEnv(t, envOptions{runai: threeClusters(tc.sim), configure: withAPIVersion(tc.configured, mr.Addr())})

			cold := e.query(t, runaiDashboard, nil)
			var data map[string]any
			cold.mustData(t, &data)
			if got := runaiNodeCalls(e); got != tc.cold {
				t.Fatalf("cold dashboard: node listings %+v (per cluster %s, tenant %s, probe %s), want %+v; all: %v",
					got, raNodes, raTenantNodes, raNodesCount, tc.cold, e.ra.Control().Stats())
			}

			// The same nodes as the per-cluster listing of the same
			// control plane: a second gateway configured 2.22 over the
			// same simulator, with its own cache.
			ref := newEnv(t, envOptions{runai: threeClusters(tc.sim), configure: withAPIVersion("2.22", miniredis.RunT(t).Addr())})
			if want := ref.query(t, runaiDashboard, nil); string(want.Data) != string(cold.Data) {
				t.Fatalf("the answer differs from the per-cluster listing's: %s", firstDifference(string(want.Data), string(cold.Data)))
			}

			e.resetCounters()
			warm := e.query(t, runaiDashboard, nil)
			if n := e.upstreamCalls(); n != 0 || string(warm.Data) != string(cold.Data) {
				t.Fatalf("warm dashboard: %d upstream calls (Run:ai %v), want 0 and the cold answer", n, e.ra.Control().Stats())
			}

			// A write invalidates the node listing it changes (the
			// pool's nodes): the next dashboard lists them again, once,
			// and does not probe again.
			e.query(t, patchLabel, map[string]any{"id": firstRunAIPool(t, e)}).mustData(t, &data)
			e.resetCounters()
			e.query(t, runaiDashboard, nil).mustData(t, &data)
			want := tc.cold
			want.probe = 0
			if tc.cold.perCluster > 0 {
				want.perCluster = 1 // the written pool's cluster only
			}
			if got := runaiNodeCalls(e); got != want {
				t.Fatalf("dashboard after a write: node listings %+v, want %+v", got, want)
			}
		})
	}
}

// A probe that decides nothing (here a 403) leaves 2.22 assumed (the
// per-cluster listing, which every version serves), and is not repeated on
// every request: it is tried again after a minute, and logged (fleet/runai's
// TestProbeRetriedAfterFailure).
func TestRunAIFailedProbeAssumes222(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: threeClusters(runaisim.Version223),
		configure: func(c *app.Config) { c.RunAI[0].APIVersion = "" }})
	if err := e.ra.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 403, Routes: []string{raNodesCount}}); err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	for range 2 {
		e.query(t, runaiDashboard, nil).mustData(t, &data)
	}
	// No cache here: each dashboard lists the 3 clusters.
	if got, want := runaiNodeCalls(e), (nodeCalls{perCluster: 6, probe: 1}); got != want {
		t.Fatalf("node listings %+v, want %+v (one probe, then 2.22 assumed)", got, want)
	}
}

// The metric types added after 2.22 (NVLink totals per node, WORKLOADS_COUNT
// per pool): one graph name whatever the version calls them, served where
// the control plane has them; elsewhere a BAD_USER_INPUT naming the type
// and the version, with no call, while a sibling field still answers.
const newMetricTypes = `{ nodes(filter: {provider: RUNAI}, first: 1) { edges { node {
	old: metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:05Z", end: "2026-11-25T11:00:05Z", samples: 6) { type }
	nvlink: metrics(types: [NVLINK_BANDWIDTH_TOTAL, NVLINK_BANDWIDTH_TOTAL_PER_GPU], start: "2026-11-25T10:00:05Z", end: "2026-11-25T11:00:05Z", samples: 6) { type labels { key value } points { value } } } } }
	nodePools(filter: {provider: RUNAI}, first: 1) { edges { node {
	old: metrics(types: [GPU_UTILIZATION], start: "2026-11-25T10:00:05Z", end: "2026-11-25T11:00:05Z", samples: 6) { type }
	workloads: metrics(types: [WORKLOADS_COUNT], start: "2026-11-25T10:00:05Z", end: "2026-11-25T11:00:05Z", samples: 6) { type points { value } } } } } }`

type seriesOut struct {
	Type   string
	Labels []struct{ Key, Value string }
	Points []struct{ Value float64 }
}

func TestRunAIMetricTypesByAPIVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, sim, configured   string
		nvlinkErr, workloadsErr string // "" = served; else in the error message
	}{
		{"2.22", runaisim.Version222, "2.22", "NVLINK_BANDWIDTH_TOTAL is not served by Run:ai API 2.22 (backend runai-a)", "WORKLOADS_COUNT is not served by Run:ai API 2.22 (backend runai-a)"},
		{"2.22 probed", runaisim.Version222, "", "not served by Run:ai API 2.22", "not served by Run:ai API 2.22"},
		{"2.23", runaisim.Version223, "2.23", "", ""},
		{"2.24", runaisim.Version224, "2.24", "", ""},
		{"2.23 probed", runaisim.Version223, "", `needs the Run:ai API version of backend runai-a configured (apiVersion "2.23" or "2.24")`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOptions{runai: threeClusters(tc.sim), configure: func(c *app.Config) { c.RunAI[0].APIVersion = tc.configured }})
			r := e.query(t, newMetricTypes, nil)
			var data struct {
				Nodes struct {
					Edges []struct {
						Node struct{ Old, Nvlink []seriesOut }
					}
				}
				NodePools struct {
					Edges []struct {
						Node struct{ Old, Workloads []seriesOut }
					}
				}
			}
			if err := jsonUnmarshal(r.Data, &data); err != nil {
				t.Fatal(err)
			}
			node, pool := data.Nodes.Edges[0].Node, data.NodePools.Edges[0].Node
			// The 2.22 types answer whatever the rest asked: one call each.
			if len(node.Old) != 1 || len(pool.Old) != 1 {
				t.Fatalf("the 2.22 fields: node %+v pool %+v, errors %+v", node.Old, pool.Old, r.Errors)
			}
			if n, p := e.ra.Control().Count(raNodeMetrics), e.ra.Control().Count(raPoolMetrics); n != 1 || p != 1 {
				t.Fatalf("%d node-metrics and %d pool-metrics calls, want 1 and 1 (the refused types are sent in none)", n, p)
			}
			errs := map[string]gqlError{}
			for _, g := range r.Errors {
				errs[g.Path[len(g.Path)-1].(string)] = g
			}
			check := func(field, want string, got []seriesOut, types ...string) {
				t.Helper()
				g, failed := errs[field]
				if want != "" {
					if !failed || g.Extensions["code"] != "BAD_USER_INPUT" || !contains(g.Message, want) || !contains(g.Message, types[0]) {
						t.Fatalf("%s: error %+v, want BAD_USER_INPUT with %q", field, g, want)
					}
					return
				}
				if failed {
					t.Fatalf("%s: unexpected error %+v", field, g)
				}
				seen := map[string]int{}
				for _, s := range got {
					seen[s.Type]++
					if len(s.Points) == 0 {
						t.Errorf("%s: series %s has no points", field, s.Type)
					}
				}
				for _, typ := range types {
					if seen[typ] == 0 {
						t.Fatalf("%s: no %s series in %+v", field, typ, got)
					}
				}
				if len(seen) != len(types) {
					t.Fatalf("%s: types %v, want exactly %v (graph names, not the vendor's)", field, seen, types)
				}
			}
			check("nvlink", tc.nvlinkErr, node.Nvlink, "NVLINK_BANDWIDTH_TOTAL", "NVLINK_BANDWIDTH_TOTAL_PER_GPU")
			check("workloads", tc.workloadsErr, pool.Workloads, "WORKLOADS_COUNT")
			if tc.nvlinkErr == "" {
				for _, s := range node.Nvlink {
					if s.Type == "NVLINK_BANDWIDTH_TOTAL_PER_GPU" && (len(s.Labels) != 1 || s.Labels[0].Key != "gpu") {
						t.Fatalf("per-GPU series without its gpu label: %+v", s)
					}
				}
			}
		})
	}
}
