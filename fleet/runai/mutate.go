package runai

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

var detections = map[model.GpuNetworkAccelerationDetection]string{
	model.GpuNetworkAccelerationDetectionUse:     "Use",
	model.GpuNetworkAccelerationDetectionDontUse: "DontUse",
	model.GpuNetworkAccelerationDetectionAuto:    "Auto",
}

func placement(in *model.PlacementStrategyInput) *api.PlacementStrategy {
	if in == nil {
		return nil
	}
	lower := func(p *model.PlacementStrategy) *string {
		if p == nil {
			return nil
		}
		s := strings.ToLower(string(*p))
		return &s
	}
	return &api.PlacementStrategy{CPU: lower(in.CPU), GPU: lower(in.Gpu)}
}

func legacyPlacement(in *model.PlacementStrategyInput) *api.LegacyPlacementStrategy {
	p := placement(in)
	if p == nil {
		return nil
	}
	return &api.LegacyPlacementStrategy{CPU: deref(p.CPU), GPU: deref(p.GPU)}
}

func updateFields(in fleet.WriteFields) api.NodePoolUpdateFields {
	f := api.NodePoolUpdateFields{
		LabelKey: in.LabelKey, LabelValue: in.LabelValue, OverProvisioningRatio: in.OverProvisioningRatio,
		PlacementStrategy: placement(in.PlacementStrategy), GPUNetworkAccelerationLabelKey: in.GpuNetworkAccelerationLabelKey,
	}
	if d := in.GpuNetworkAccelerationDetection; d != nil {
		v := detections[*d]
		f.GPUNetworkAccelerationDetection = &v
	}
	if o := in.GpuResourceOptimization; o != nil {
		f.GPUResourceOptimization = &api.GPUResourceOptimization{
			SwapEnabled: o.SwapEnabled, CPUSwapMemorySize: o.CPUSwapMemorySize,
			ReservedGPUMemoryForSwapOperations: o.ReservedGpuMemoryForSwapOperations, NodeLevelSchedulerEnabled: o.NodeLevelSchedulerEnabled,
		}
	}
	return f
}

// runaiPoolsOfCluster lists the pools of one cluster straight from upstream
// (never from the cache: a write decides on it).
func (s *Source) runaiPoolsOfCluster(ctx context.Context, backend, cluster string) ([]*model.NodePool, error) {
	c := s.client(backend)
	if s.legacy[backend] {
		list, err := c.LegacyListNodePools(ctx, cluster)
		if err != nil {
			return nil, err
		}
		out := make([]*model.NodePool, len(list))
		for i := range list {
			out[i] = runaiLegacyNodePool(backend, cluster, &list[i])
		}
		return out, nil
	}
	list, err := c.ListNodePools(ctx, &api.NodePoolListOptions{FilterBy: []string{"clusterId==" + cluster}})
	if err != nil {
		return nil, err
	}
	out := make([]*model.NodePool, 0, len(list))
	for i := range list {
		if list[i].ClusterID == cluster {
			out = append(out, runaiNodePool(backend, &list[i]))
		}
	}
	return out, nil
}

// readBackRunAI finds the pool called name in cluster. writeErr is the
// failed write being reconciled (nil after a success without a body).
func (s *Source) readBackRunAI(ctx context.Context, backend, cluster, name string, writeErr error) (*model.NodePool, error) {
	rctx, cancel := fleet.ReadBackContext(ctx)
	defer cancel()
	pools, err := s.runaiPoolsOfCluster(rctx, backend, cluster)
	if err != nil {
		if writeErr == nil {
			return nil, err
		}
		return nil, &fleet.WriteError{Outcome: fleet.OutcomeUnknown, Err: writeErr}
	}
	for _, p := range pools {
		if p.Name == name {
			return p, nil
		}
	}
	if writeErr == nil {
		return nil, &fleet.NotFoundError{What: "node pool", Name: name}
	}
	return nil, &fleet.WriteError{Outcome: fleet.OutcomeNotApplied, Err: writeErr}
}

// CreateNodePool implements fleet.Source.
func (s *Source) CreateNodePool(ctx context.Context, id ids.ID, in model.CreateNodePoolInput) (*model.NodePool, error) {
	cluster := clusterIDOf(id)
	c := s.client(cluster.Backend)
	uuid := cluster.Cluster
	existing, err := s.runaiPoolsOfCluster(ctx, cluster.Backend, uuid)
	if err != nil {
		return nil, err
	}
	for _, p := range existing {
		if p.Name == in.Name {
			return nil, &fleet.ConflictError{Name: in.Name, Cluster: uuid}
		}
	}
	if s.legacy[cluster.Backend] {
		req := api.LegacyNodePoolCreate{Name: in.Name, LabelKey: *in.LabelKey, LabelValue: *in.LabelValue, PlacementStrategy: legacyPlacement(in.PlacementStrategy)}
		if in.OverProvisioningRatio != nil {
			req.OverProvisioningRatio = *in.OverProvisioningRatio
		}
		if err := c.LegacyCreateNodePool(ctx, uuid, req); err != nil {
			if !fleet.Ambiguous(err) {
				return nil, err
			}
			return s.readBackRunAI(ctx, cluster.Backend, uuid, in.Name, err)
		}
		return s.readBackRunAI(ctx, cluster.Backend, uuid, in.Name, nil) // 201 has no body
	}
	u := updateFields(fleet.CreateFields(in))
	f := api.NodePoolCreateFields{
		Name: in.Name, LabelKey: *in.LabelKey, LabelValue: *in.LabelValue, ClusterID: uuid,
		OverProvisioningRatio: u.OverProvisioningRatio, PlacementStrategy: u.PlacementStrategy,
		GPUNetworkAccelerationLabelKey: u.GPUNetworkAccelerationLabelKey, GPUNetworkAccelerationDetection: u.GPUNetworkAccelerationDetection,
		GPUResourceOptimization: u.GPUResourceOptimization,
	}
	p, err := c.CreateNodePool(ctx, f)
	if err != nil {
		if !fleet.Ambiguous(err) {
			return nil, err
		}
		return s.readBackRunAI(ctx, cluster.Backend, uuid, in.Name, err)
	}
	return runaiNodePool(cluster.Backend, p), nil
}

// UpdateNodePool implements fleet.Source.
func (s *Source) UpdateNodePool(ctx context.Context, eid ids.ID, in fleet.WriteFields, replace bool) (*model.NodePool, error) {
	id := poolIDOf(eid)
	c := s.client(id.Backend)
	cluster, poolID, name := id.Cluster, id.PoolID, id.Name
	if s.legacy[id.Backend] {
		return s.updateLegacy(ctx, id, in, replace)
	}
	var p *api.NodePool
	var err error
	if replace {
		p, err = c.UpdateNodePool(ctx, poolID, updateFields(in))
	} else {
		p, err = c.PatchNodePool(ctx, poolID, updateFields(in))
	}
	if err != nil {
		if errors.Is(err, backends.ErrNotFound) || !fleet.Ambiguous(err) {
			return nil, err
		}
		return nil, &fleet.WriteError{Outcome: fleet.OutcomeUnknown, Err: err}
	}
	if p == nil {
		return s.readBackRunAI(ctx, id.Backend, cluster, name, nil)
	}
	return runaiNodePool(id.Backend, p), nil
}

// updateLegacy: the deprecated API has only a full PUT, so a patch
// merges the given fields into the pool as it is.
func (s *Source) updateLegacy(ctx context.Context, id PoolID, in fleet.WriteFields, replace bool) (*model.NodePool, error) {
	c := s.client(id.Backend)
	cluster, name := id.Cluster, id.Name
	num, err := strconv.Atoi(id.PoolID)
	if err != nil {
		return nil, &fleet.InputError{Field: "id", Message: "names no pool of the deprecated API (its ids are integers)"}
	}
	if in.GpuNetworkAccelerationDetection != nil || in.GpuNetworkAccelerationLabelKey != nil || in.GpuResourceOptimization != nil {
		return nil, &fleet.InputError{Field: "input", Message: "this backend uses the deprecated node-pool API, which has only labelKey, labelValue, overProvisioningRatio and placementStrategy"}
	}
	req := api.LegacyNodePoolUpdate{PlacementStrategy: legacyPlacement(in.PlacementStrategy)}
	if !replace {
		current, err := c.LegacyListNodePools(ctx, cluster)
		if err != nil {
			return nil, err
		}
		found := false
		for _, p := range current {
			if p.ID == num {
				found = true
				req.LabelKey, req.LabelValue, req.OverProvisioningRatio = p.LabelKey, p.LabelValue, p.OverProvisioningRatio
				if req.PlacementStrategy == nil {
					req.PlacementStrategy = p.PlacementStrategy
				}
			}
		}
		if !found {
			return nil, &fleet.NotFoundError{What: "node pool", Name: name}
		}
	}
	if in.LabelKey != nil {
		req.LabelKey = *in.LabelKey
	}
	if in.LabelValue != nil {
		req.LabelValue = *in.LabelValue
	}
	if in.OverProvisioningRatio != nil {
		req.OverProvisioningRatio = *in.OverProvisioningRatio
	}
	if req.LabelKey == "" || req.LabelValue == "" {
		return nil, &fleet.InputError{Field: "input.labelKey", Message: "labelKey and labelValue are required to replace a pool through the deprecated API"}
	}
	if err := c.LegacyUpdateNodePool(ctx, cluster, num, req); err != nil {
		if errors.Is(err, backends.ErrNotFound) || !fleet.Ambiguous(err) {
			return nil, err
		}
		return nil, &fleet.WriteError{Outcome: fleet.OutcomeUnknown, Err: err}
	}
	return s.readBackRunAI(ctx, id.Backend, cluster, name, nil) // 202 has no body
}

// DeleteNodePool implements fleet.Source.
func (s *Source) DeleteNodePool(ctx context.Context, eid ids.ID) (model.NodePoolPhase, error) {
	id := poolIDOf(eid)
	c := s.client(id.Backend)
	cluster, poolID, name := id.Cluster, id.PoolID, id.Name
	var err error
	status := http.StatusAccepted
	if s.legacy[id.Backend] {
		num, convErr := strconv.Atoi(poolID)
		if convErr != nil {
			return "", &fleet.InputError{Field: "id", Message: "names no pool of the deprecated API (its ids are integers)"}
		}
		err = c.LegacyDeleteNodePool(ctx, cluster, num)
	} else {
		status, err = c.DeleteNodePool(ctx, poolID)
	}
	if err != nil {
		if !fleet.Ambiguous(err) {
			return "", err
		}
		p, rerr := s.readBackRunAI(ctx, id.Backend, cluster, name, nil)
		var nf *fleet.NotFoundError
		switch {
		case errors.As(rerr, &nf):
			return model.NodePoolPhaseDeleted, nil
		case rerr == nil && p.Phase == model.NodePoolPhaseDeleting:
			return model.NodePoolPhaseDeleting, nil
		case rerr == nil:
			return "", &fleet.WriteError{Outcome: fleet.OutcomeNotApplied, Err: err}
		}
		return "", &fleet.WriteError{Outcome: fleet.OutcomeUnknown, Err: err}
	}
	if status == http.StatusNoContent {
		return model.NodePoolPhaseDeleted, nil
	}
	return model.NodePoolPhaseDeleting, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
