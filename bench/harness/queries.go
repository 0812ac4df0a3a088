package harness

import (
	"encoding/json"
	"time"
)

// Query is one workload written for both systems: queries that fetch the
// same data from the same simulator.
type Query struct {
	Name string
	// Fleetgraph and Hive are the documents for each system.
	Fleetgraph, Hive string
	// Ranged queries take $from/$to: the last hour, sliding with the clock
	// (to the millisecond) as the built-in dashboard's does.
	Ranged bool
	// Fixed makes a ranged query's window the same on every request (the
	// hour before FixedTo): a dashboard that rounds its window, or a
	// report, which a whole-response cache keyed on variables can answer.
	Fixed bool
	// Paged fleetgraph documents take $pools and $nodes, the page sizes
	// (first) of the pool and node connections: the fleet's pool count and
	// nodes per pool, so that the document asks for everything and its
	// cost (which the gateway limits, counting list fields once per item
	// asked with first) is what the fleet really holds.
	Paged bool
}

// Body is the JSON request body for system at now over fleet f.
func (q Query) Body(system string, now time.Time, f Fleet) []byte {
	doc := q.Fleetgraph
	if system == SystemHive {
		doc = q.Hive
	}
	req := map[string]any{"query": doc}
	vars := map[string]any{}
	if q.Ranged {
		// To the millisecond, as the built-in dashboard sends it
		// (Date.toISOString()): no two requests share their variables.
		to := now.UTC().Truncate(time.Millisecond)
		if q.Fixed {
			to = FixedTo
		}
		vars["from"] = to.Add(-time.Hour).Format(isoMillis)
		vars["to"] = to.Format(isoMillis)
	}
	if q.Paged && system != SystemHive {
		vars["pools"] = min(max(f.Pools(), 1), 500)
		vars["nodes"] = min(max(f.NodesPerPool, 1), 500)
	}
	if len(vars) > 0 {
		req["variables"] = vars
	}
	b, _ := json.Marshal(req)
	return b
}

// The workloads.
var (
	// PoolsQuery is scenario (a): one node-pool list, the gateway's pure
	// overhead over one upstream listing.
	PoolsQuery = Query{
		Name:       "pools",
		Paged:      true,
		Fleetgraph: `query Pools($pools: Int!) { nodePools(first: $pools) { edges { node { id name phase } } } }`,
		Hive:       `{ get_nodepools(limit: 500) { ... on get_nodepools_200_response { nodepools { id name phase } } } }`,
	}

	// DashboardQuery is scenario (b): every pool, its nodes, and two metric
	// series per node over the last hour (20 samples). The two series are
	// CPU ones because every simulated node has them (a CPU-only pool has no
	// GPU series, which Run:ai answers with a 207 partial). fleetgraph asks
	// with two aliased fields, which it merges into one call per node; the
	// Hive document asks for both types in one field, its best case.
	DashboardQuery = Query{
		Name:   "dashboard",
		Ranged: true,
		Paged:  true,
		Fleetgraph: `query Dashboard($from: DateTime!, $to: DateTime!, $pools: Int!, $nodes: Int!) {
  nodePools(first: $pools) { edges { node { id name phase
    nodes(first: $nodes) { edges { node { id name status
      cpu: metrics(types: [CPU_UTILIZATION], start: $from, end: $to, samples: 20) { type points { timestamp value } }
      mem: metrics(types: [CPU_MEMORY_UTILIZATION], start: $from, end: $to, samples: 20) { type points { timestamp value } }
    } } } } } } }`,
		Hive: `query Dashboard($from: DateTime!, $to: DateTime!) {
  get_nodepools(limit: 500) { ... on get_nodepools_200_response { nodepools { id name phase
    nodes(limit: 500) { ... on Nodes { nodes { id name status
      metrics(metricType: [CPU_UTILIZATION, CPU_MEMORY_UTILIZATION], start: $from, end: $to, numberOfSamples: 20) {
        ... on MetricsResponse { measurements { type values { timestamp value } } } }
    } } } } } } }`,
	}
)

// isoMillis is JavaScript's Date.toISOString().
const isoMillis = "2006-01-02T15:04:05.000Z07:00"

// FixedTo is the end of a Fixed query's window: the minute this process
// started, so the window stays recent (a few minutes old) for a whole run.
var FixedTo = time.Now().UTC().Truncate(time.Minute)

// DashboardFixedQuery is the dashboard with the same variables on every
// request.
var DashboardFixedQuery = func() Query { q := DashboardQuery; q.Fixed = true; return q }()

// Queries by name.
var Queries = map[string]Query{PoolsQuery.Name: PoolsQuery, DashboardQuery.Name: DashboardQuery}

// pageSize is Run:ai's largest page; listings carry no total, so a listing
// ends with the first page shorter than the limit.
const pageSize = 500

// pages is how many offset/limit calls list n items: n/500 full pages and a
// short one (possibly empty) that says the listing is over.
func pages(n int) int { return n/pageSize + 1 }

// MinUpstream is the theoretical minimum of Run:ai calls for one cold
// (nothing cached) answer to q over f with a pass-through credential (no
// token call):
//
//	pools:     pages(pools)                                  one node-pool listing
//	dashboard: pages(pools) + sum over clusters pages(nodes) + nodes
//	           node pools carry their cluster's UUID, a node listing is per
//	           cluster, and the metrics API is per node (both series in one
//	           call with metricType=A,B); there is no bulk time-series API.
func MinUpstream(q Query, f Fleet) int {
	n := pages(f.Pools())
	if q.Name == DashboardQuery.Name {
		n += f.Clusters*pages(f.PoolsPerCluster*f.NodesPerPool) + f.Nodes()
	}
	return n
}

// FloorRoundTrips is the critical path of a cold answer in dependent
// upstream round trips: pools (paged sequentially), then node pages of the
// largest cluster (sequential: no total to fan out on), then the metrics
// calls (all in parallel).
func FloorRoundTrips(q Query, f Fleet) int {
	n := pages(f.Pools())
	if q.Name == DashboardQuery.Name {
		n += pages(f.PoolsPerCluster*f.NodesPerPool) + 1
	}
	return n
}
