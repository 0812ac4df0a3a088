package runaisim

import (
	"maps"
	"net/http"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// The tenant-wide node routes of 2.23 on (upstreams-2.md d.1), registered
// through Server.from: a 2.22 simulator answers them 404.

// nodeFieldsSince223: from 2.23 both node listings (tenant-wide and per
// cluster) and their counts also filter and sort by clusterUuid.
var nodeFieldsSince223 = func() map[string]field[runai.Node] {
	f := maps.Clone(nodeFields)
	f["clusterUuid"] = field[runai.Node]{get: func(n runai.Node) string { return n.ClusterUUID }}
	return f
}()

// nodeFieldsOf returns the filterBy and sortBy fields of the served version.
func (s *Server) nodeFieldsOf() map[string]field[runai.Node] {
	if s.since(Version223) {
		return nodeFieldsSince223
	}
	return nodeFields
}

// listTenantNodes is GET /api/v1/nodes: every cluster's nodes, cluster by
// cluster in creation order unless sortBy says otherwise, paged by offset
// and limit (default 50, 1..500). The document declares no 400; the
// simulator answers a bad parameter with the vendor's 400 body as the
// per-cluster listing does.
func (s *Server) listTenantNodes(w http.ResponseWriter, r *http.Request) {
	nodes, ok := s.selectTenantNodes(w, r)
	if !ok {
		return
	}
	paged, err := page(r.URL.Query(), nodes)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]runai.Node{"nodes": paged})
}

// countTenantNodes is GET /api/v1/nodes/count: filterBy and search only.
func (s *Server) countTenantNodes(w http.ResponseWriter, r *http.Request) {
	if nodes, ok := s.selectTenantNodes(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]int{"count": len(nodes)})
	}
}

// selectTenantNodes answers 400 itself and returns false, or returns the
// tenant's nodes after filterBy, search and sortBy.
func (s *Server) selectTenantNodes(w http.ResponseWriter, r *http.Request) ([]runai.Node, bool) {
	q := r.URL.Query()
	qu, err := parseQuery(q, s.nodeFieldsOf())
	if err != nil {
		writeBadRequest(w, err)
		return nil, false
	}
	var nodes []runai.Node
	for _, n := range s.fleet.allNodes() {
		if search(q, n.dto.Name) {
			nodes = append(nodes, n.dto)
		}
	}
	return qu.apply(nodes), true
}
