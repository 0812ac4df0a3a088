package runaisim

import (
	"net/http"
	"net/url"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// nodeFields are the filterBy and sortBy fields of the nodes listing.
var nodeFields = map[string]field[runai.Node]{
	"name":     {get: func(n runai.Node) string { return n.Name }},
	"status":   {get: func(n runai.Node) string { return n.Status }},
	"nodePool": {get: func(n runai.Node) string { return n.NodePool }},
	"gpuType": {get: func(n runai.Node) string {
		if n.GPUInfo == nil {
			return ""
		}
		return n.GPUInfo.GPUType
	}},
	"nvLinkDomainUid": {get: func(n runai.Node) string { return deref(n.NvLinkDomainUID) }},
	"nvLinkCliqueId":  {get: func(n runai.Node) string { return deref(n.NvLinkCliqueID) }},
}

// listNodes is GET /api/v1/clusters/{clusterUuid}/nodes.
func (s *Server) listNodes(w http.ResponseWriter, r *http.Request) {
	nodes, ok := s.selectNodes(w, r)
	if !ok {
		return
	}
	q := r.URL.Query()
	if name := q.Get("nodeName"); name != "" {
		// The deprecated form: one node by name, alone.
		for _, p := range []string{"filterBy", "sortBy", "sortOrder", "offset", "limit", "search"} {
			if q.Has(p) {
				writeError(w, http.StatusBadRequest, "Bad request - nodeName cannot be used together with "+p)
				return
			}
		}
		out := []runai.Node{}
		for _, n := range nodes {
			if n.Name == name {
				out = append(out, n)
			}
		}
		writeJSON(w, http.StatusOK, map[string][]runai.Node{"nodes": out})
		return
	}
	paged, err := page(q, nodes)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]runai.Node{"nodes": paged})
}

// countNodes is GET /api/v1/clusters/{clusterUuid}/nodes/count.
func (s *Server) countNodes(w http.ResponseWriter, r *http.Request) {
	if nodes, ok := s.selectNodes(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]int{"count": len(nodes)})
	}
}

// selectNodes answers 404 or 400 itself and returns false, or returns the
// cluster's nodes after filterBy, search and sortBy.
func (s *Server) selectNodes(w http.ResponseWriter, r *http.Request) ([]runai.Node, bool) {
	sims, ok := s.fleet.clusterNodes(r.PathValue("clusterUuid"))
	if !ok {
		writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
		return nil, false
	}
	q := r.URL.Query()
	qu, err := parseQuery(q, s.nodeFieldsOf())
	if err != nil {
		writeBadRequest(w, err)
		return nil, false
	}
	nodes := make([]runai.Node, 0, len(sims))
	for _, n := range sims {
		if search(q, n.dto.Name) {
			nodes = append(nodes, n.dto)
		}
	}
	return qu.apply(nodes), true
}

// search is the free-text search: a case-insensitive substring of name.
func search(q url.Values, name string) bool {
	term := q.Get("search")
	return term == "" || strings.Contains(strings.ToLower(name), strings.ToLower(term))
}
