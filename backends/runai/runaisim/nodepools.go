package runaisim

import (
	"net/http"
	"strconv"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// poolFields are the filterBy and sortBy fields of the node-pools listing.
var poolFields = map[string]field[runai.NodePool]{
	"name":                            {get: func(p runai.NodePool) string { return p.Name }},
	"clusterId":                       {get: func(p runai.NodePool) string { return p.ClusterID }},
	"phase":                           {get: func(p runai.NodePool) string { return p.Phase }},
	"createdAt":                       {get: func(p runai.NodePool) string { return rfc3339(p.CreatedAt) }, isTime: true},
	"updatedAt":                       {get: func(p runai.NodePool) string { return rfc3339(p.UpdatedAt) }, isTime: true},
	"gpuNetworkAccelerationDetection": {get: func(p runai.NodePool) string { return deref(p.GPUNetworkAccelerationDetection) }},
	"gpuNetworkAccelerationDetected": {get: func(p runai.NodePool) string {
		return strconv.FormatBool(p.Status != nil && p.Status.GPUNetworkAccelerationDetected)
	}},
	"gpuNetworkAccelerationLabelKey": {get: func(p runai.NodePool) string { return p.GPUNetworkAccelerationLabelKey }},
	"swapEnabled": {get: func(p runai.NodePool) string {
		return strconv.FormatBool(p.GPUResourceOptimization != nil && deref(p.GPUResourceOptimization.SwapEnabled))
	}},
	"nodeLevelSchedulerEnabled": {get: func(p runai.NodePool) string {
		return strconv.FormatBool(p.GPUResourceOptimization != nil && deref(p.GPUResourceOptimization.NodeLevelSchedulerEnabled))
	}},
}

// listNodePools is GET /api/v1/node-pools.
func (s *Server) listNodePools(w http.ResponseWriter, r *http.Request) {
	pools, ok := s.selectPools(w, r)
	if !ok {
		return
	}
	paged, err := page(r.URL.Query(), pools)
	if err != nil {
		writeBadRequest(w, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string][]runai.NodePool{"nodepools": paged})
}

// countNodePools is GET /api/v1/node-pools/count.
func (s *Server) countNodePools(w http.ResponseWriter, r *http.Request) {
	if pools, ok := s.selectPools(w, r); ok {
		writeJSON(w, http.StatusOK, map[string]int{"count": len(pools)})
	}
}

// getNodePool is GET /api/v1/node-pools/{nodepoolId}.
func (s *Server) getNodePool(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("nodepoolId")
	for _, p := range s.fleet.allPools() {
		if p.ID == id {
			writeJSON(w, http.StatusOK, p)
			return
		}
	}
	writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
}

// selectPools answers 400 itself and returns false, or returns the pools
// after filterBy and sortBy.
func (s *Server) selectPools(w http.ResponseWriter, r *http.Request) ([]runai.NodePool, bool) {
	qu, err := parseQuery(r.URL.Query(), poolFields)
	if err != nil {
		writeBadRequest(w, err)
		return nil, false
	}
	return qu.apply(s.fleet.allPools()), true
}
