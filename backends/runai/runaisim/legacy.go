package runaisim

import (
	"encoding/json"
	"net/http"
	"strconv"

	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// The deprecated node-pool API (/v1/k8s/clusters/{clusterId}/node-pools) of
// older control planes, over the same pools as /api/v1/node-pools: its
// integer ids are the numbers of their string ids. It answers writes with no
// body (201 on create, 202 otherwise), an unknown cluster or pool with 404
// and the Error1 body ({code, message}, the shape of Error), and checks the
// cluster of the path before anything else.

// legacyCreateBody is NodePoolCreateRequest. The schema requires nothing;
// like the current API, the simulator requires name, labelKey and
// labelValue, and applies the same ranges and enums.
type legacyCreateBody struct {
	Name                  *string                  `json:"name"`
	OverProvisioningRatio *int                     `json:"overProvisioningRatio"`
	LabelKey              *string                  `json:"labelKey"`
	LabelValue            *string                  `json:"labelValue"`
	PlacementStrategy     *runai.PlacementStrategy `json:"placementStrategy"`
}

// legacyUpdateBody is UpdateNodePoolRequest.
type legacyUpdateBody struct {
	LabelKey              *string                  `json:"labelKey"`
	LabelValue            *string                  `json:"labelValue"`
	OverProvisioningRatio *int                     `json:"overProvisioningRatio"`
	PlacementStrategy     *runai.PlacementStrategy `json:"placementStrategy"`
}

// legacyLabelsBody is NodePoolLabelsRequest.
type legacyLabelsBody struct {
	LabelKey   *string `json:"labelKey"`
	LabelValue *string `json:"labelValue"`
}

// legacyView is p as NodePool1: an integer id, the phase as status, the
// node names as a JSON string, deletedAt left out while unset (the schema
// does not make it nullable).
func legacyView(p runai.NodePool) runai.LegacyNodePool {
	id, _ := strconv.Atoi(p.ID)
	names := []string{}
	if p.Status != nil && p.Status.Nodes != nil {
		names = p.Status.Nodes
	}
	nodes, _ := json.Marshal(names)
	var ps *runai.LegacyPlacementStrategy
	if p.PlacementStrategy != nil {
		ps = &runai.LegacyPlacementStrategy{CPU: deref(p.PlacementStrategy.CPU), GPU: deref(p.PlacementStrategy.GPU)}
	}
	ratio := defaultRatio
	if p.OverProvisioningRatio != nil {
		ratio = *p.OverProvisioningRatio
	}
	return runai.LegacyNodePool{
		ID: id, Name: p.Name, ClusterID: p.ClusterID, LabelKey: p.LabelKey, LabelValue: p.LabelValue,
		OverProvisioningRatio: ratio, PlacementStrategy: ps, Status: p.Phase, StatusMessage: p.PhaseMessage,
		Nodes: string(nodes), CreatedAt: p.CreatedAt, UpdatedAt: p.UpdatedAt, DeletedAt: p.DeletedAt,
		CreatedBy: p.CreatedBy, UpdatedBy: p.UpdatedBy, IsDefault: p.IsDefault,
	}
}

// legacyCluster answers 404 itself and returns false, or returns the
// cluster UUID of the path.
func (s *Server) legacyCluster(w http.ResponseWriter, r *http.Request) (string, bool) {
	id := r.PathValue("clusterId")
	if _, ok := s.fleet.cluster(id); !ok {
		writeError(w, http.StatusNotFound, statusMessage(http.StatusNotFound))
		return "", false
	}
	return id, true
}

// legacyTarget answers 404 or 400 itself and returns false, or returns the
// cluster UUID and the pool id (as the current API spells it) of the path.
func (s *Server) legacyTarget(w http.ResponseWriter, r *http.Request) (clusterID, id string, ok bool) {
	if clusterID, ok = s.legacyCluster(w, r); !ok {
		return "", "", false
	}
	n, err := strconv.Atoi(r.PathValue("id"))
	if err != nil || n < 0 {
		writeError(w, http.StatusBadRequest, "Bad request - id must be an integer, got "+strconv.Quote(r.PathValue("id")))
		return "", "", false
	}
	return clusterID, strconv.Itoa(n), true
}

// legacyListNodePools is GET /v1/k8s/clusters/{clusterId}/node-pools: the
// cluster's pools, a bare array, in creation order.
func (s *Server) legacyListNodePools(w http.ResponseWriter, r *http.Request) {
	clusterID, ok := s.legacyCluster(w, r)
	if !ok {
		return
	}
	out := []runai.LegacyNodePool{}
	for _, p := range s.fleet.allPools() {
		if p.ClusterID == clusterID {
			out = append(out, legacyView(p))
		}
	}
	writeJSON(w, http.StatusOK, out)
}

// legacyCreateNodePool is POST /v1/k8s/clusters/{clusterId}/node-pools:
// 201 without a body, 409 (declared here) on a name the cluster has.
func (s *Server) legacyCreateNodePool(w http.ResponseWriter, r *http.Request) {
	clusterID, ok := s.legacyCluster(w, r)
	if !ok {
		return
	}
	var lb legacyCreateBody
	if err := decodeBody(w, r, &lb); err != nil {
		writeFailure(w, err)
		return
	}
	b := createBody{Name: lb.Name, ClusterID: &clusterID, updateBody: updateBody{
		LabelKey: lb.LabelKey, LabelValue: lb.LabelValue,
		OverProvisioningRatio: lb.OverProvisioningRatio, PlacementStrategy: lb.PlacementStrategy,
	}}
	if err := b.validate(); err != nil {
		writeFailure(w, err)
		return
	}
	p := runai.NodePool{Name: *b.Name, ClusterID: clusterID}
	b.apply(&p, true)
	if _, err := s.fleet.createPool(p, subject(r)); err != nil {
		writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusCreated)
}

// legacyUpdateNodePool is PUT /v1/k8s/clusters/{clusterId}/node-pools/{id}:
// 202 without a body. The vendor's description sends callers to PATCH
// /api/v1/node-pools/{id} instead, so it behaves like that PATCH on its
// four fields: those the body leaves out keep their value.
func (s *Server) legacyUpdateNodePool(w http.ResponseWriter, r *http.Request) {
	var b legacyUpdateBody
	s.legacyPatch(w, r, &b, func() (updateBody, error) {
		return updateBody{
			LabelKey: b.LabelKey, LabelValue: b.LabelValue,
			OverProvisioningRatio: b.OverProvisioningRatio, PlacementStrategy: b.PlacementStrategy,
		}, nil
	})
}

// legacyUpdateNodePoolLabels is PUT .../node-pools/{id}/labels: 202
// without a body; labelKey and labelValue are both required.
func (s *Server) legacyUpdateNodePoolLabels(w http.ResponseWriter, r *http.Request) {
	var b legacyLabelsBody
	s.legacyPatch(w, r, &b, func() (updateBody, error) {
		switch {
		case b.LabelKey == nil:
			return updateBody{}, badf("Required parameter is missing: labelKey")
		case b.LabelValue == nil:
			return updateBody{}, badf("Required parameter is missing: labelValue")
		}
		return updateBody{LabelKey: b.LabelKey, LabelValue: b.LabelValue}, nil
	})
}

// legacyPatch decodes the body into b, turns it into a change with
// toUpdate and applies that as a PATCH.
func (s *Server) legacyPatch(w http.ResponseWriter, r *http.Request, b any, toUpdate func() (updateBody, error)) {
	clusterID, id, ok := s.legacyTarget(w, r)
	if !ok {
		return
	}
	if err := decodeBody(w, r, b); err != nil {
		writeFailure(w, err)
		return
	}
	u, err := toUpdate()
	if err == nil {
		err = u.validate()
	}
	if err != nil {
		writeFailure(w, err)
		return
	}
	if _, err := s.fleet.updatePool(clusterID, id, subject(r), func(p *runai.NodePool) { u.apply(p, false) }); err != nil {
		writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// legacyDeleteNodePool is DELETE .../node-pools/{id}: 202 without a body,
// the same deletion as DELETE /api/v1/node-pools/{id}.
func (s *Server) legacyDeleteNodePool(w http.ResponseWriter, r *http.Request) {
	clusterID, id, ok := s.legacyTarget(w, r)
	if !ok {
		return
	}
	if err := s.fleet.deletePool(clusterID, id, subject(r)); err != nil {
		writeFailure(w, err)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}
