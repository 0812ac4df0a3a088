package harness

// The same minimum and floor for a Run:ai control plane of 2.23 or later
// (apiVersion "2.23"/"2.24"), where the gateway lists the tenant's nodes in
// one listing (GET /api/v1/nodes) instead of one per cluster. Scenario (d)
// runs cold dashboards against a 2.23 simulator too (`fleetgraph sim
// --runai-version 2.23`, the gateway configured apiVersion "2.23": no probe).

// MinUpstreamOf is MinUpstream for the Run:ai API version ("" = 2.22).
func MinUpstreamOf(version string, q Query, f Fleet) int {
	if Tenantwide(version) {
		return MinUpstream223(q, f)
	}
	return MinUpstream(q, f)
}

// FloorRoundTripsOf is FloorRoundTrips for the Run:ai API version.
func FloorRoundTripsOf(version string, q Query, f Fleet) int {
	if Tenantwide(version) {
		return FloorRoundTrips223(q, f)
	}
	return FloorRoundTrips(q, f)
}

// Tenantwide says whether version lists nodes tenant-wide (2.23 on).
func Tenantwide(version string) bool { return version != "" && version != "2.22" }

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
