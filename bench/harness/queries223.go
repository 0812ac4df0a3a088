package harness

// The same minimum and floor for a Run:ai control plane of 2.23 or later
// (apiVersion "2.23"/"2.24"), where the gateway lists the tenant's nodes in
// one listing (GET /api/v1/nodes) instead of one per cluster. The benchmarks
// run against 2.22 (`fleetgraph sim` default); these are arithmetic for the
// report, not measurements.

// MinUpstream223 is MinUpstream on 2.23: the node listing is
// pages(all nodes) once, not a sum over clusters.
//
//	dashboard: pages(pools) + pages(nodes) + nodes
func MinUpstream223(q Query, f Fleet) int {
	n := pages(f.Pools())
	if q.Name == DashboardQuery.Name {
		n += pages(f.Nodes()) + f.Nodes()
	}
	return n
}

// FloorRoundTrips223 is FloorRoundTrips on 2.23: the one tenant-wide
// listing's pages are sequential (no total to fan out on), where the
// per-cluster listings ran side by side, so the floor grows with the whole
// fleet rather than the largest cluster.
func FloorRoundTrips223(q Query, f Fleet) int {
	n := pages(f.Pools())
	if q.Name == DashboardQuery.Name {
		n += pages(f.Nodes()) + 1
	}
	return n
}
