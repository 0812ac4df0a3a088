package fleet

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

var detections = map[model.GpuNetworkAccelerationDetection]string{
	model.GpuNetworkAccelerationDetectionUse:     "Use",
	model.GpuNetworkAccelerationDetectionDontUse: "DontUse",
	model.GpuNetworkAccelerationDetectionAuto:    "Auto",
}

func placement(in *model.PlacementStrategyInput) *runai.PlacementStrategy {
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
	return &runai.PlacementStrategy{CPU: lower(in.CPU), GPU: lower(in.Gpu)}
}

func legacyPlacement(in *model.PlacementStrategyInput) *runai.LegacyPlacementStrategy {
	p := placement(in)
	if p == nil {
		return nil
	}
	return &runai.LegacyPlacementStrategy{CPU: deref(p.CPU), GPU: deref(p.GPU)}
}

func updateFields(in writeFields) runai.NodePoolUpdateFields {
	f := runai.NodePoolUpdateFields{
		LabelKey: in.LabelKey, LabelValue: in.LabelValue, OverProvisioningRatio: in.OverProvisioningRatio,
		PlacementStrategy: placement(in.PlacementStrategy), GPUNetworkAccelerationLabelKey: in.GpuNetworkAccelerationLabelKey,
	}
	if d := in.GpuNetworkAccelerationDetection; d != nil {
		v := detections[*d]
		f.GPUNetworkAccelerationDetection = &v
	}
	if o := in.GpuResourceOptimization; o != nil {
		f.GPUResourceOptimization = &runai.GPUResourceOptimization{
			SwapEnabled: o.SwapEnabled, CPUSwapMemorySize: o.CPUSwapMemorySize,
			ReservedGPUMemoryForSwapOperations: o.ReservedGpuMemoryForSwapOperations, NodeLevelSchedulerEnabled: o.NodeLevelSchedulerEnabled,
		}
	}
	return f
}

// runaiPoolsOfCluster lists the pools of one cluster straight from upstream
// (never from the cache: a write decides on it).
func (s *Service) runaiPoolsOfCluster(ctx context.Context, backend, cluster string) ([]*model.NodePool, error) {
	c := s.reg.RunAI(backend)
	if s.reg.legacy[backend] {
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
	list, err := c.ListNodePools(ctx, &runai.NodePoolListOptions{FilterBy: []string{"clusterId==" + cluster}})
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
func (s *Service) readBackRunAI(ctx context.Context, backend, cluster, name string, writeErr error) (*model.NodePool, error) {
	rctx, cancel := readBackContext(ctx)
	defer cancel()
	pools, err := s.runaiPoolsOfCluster(rctx, backend, cluster)
	if err != nil {
		if writeErr == nil {
			return nil, err
		}
		return nil, &WriteError{Outcome: OutcomeUnknown, Err: writeErr}
	}
	for _, p := range pools {
		if p.Name == name {
			return p, nil
		}
	}
	if writeErr == nil {
		return nil, &NotFoundError{What: "node pool", Name: name}
	}
	return nil, &WriteError{Outcome: OutcomeNotApplied, Err: writeErr}
}

func (s *Service) createRunAI(ctx context.Context, cluster ids.ID, in model.CreateNodePoolInput) (*model.NodePool, error) {
	c := s.reg.RunAI(cluster.Backend)
	uuid := cluster.Parts[0]
	existing, err := s.runaiPoolsOfCluster(ctx, cluster.Backend, uuid)
	if err != nil {
		return nil, err
	}
	for _, p := range existing {
		if p.Name == in.Name {
			return nil, &ConflictError{Name: in.Name, Cluster: uuid}
		}
	}
	if s.reg.legacy[cluster.Backend] {
		req := runai.LegacyNodePoolCreate{Name: in.Name, LabelKey: *in.LabelKey, LabelValue: *in.LabelValue, PlacementStrategy: legacyPlacement(in.PlacementStrategy)}
		if in.OverProvisioningRatio != nil {
			req.OverProvisioningRatio = *in.OverProvisioningRatio
		}
		if err := c.LegacyCreateNodePool(ctx, uuid, req); err != nil {
			if !ambiguous(err) {
				return nil, err
			}
			return s.readBackRunAI(ctx, cluster.Backend, uuid, in.Name, err)
		}
		return s.readBackRunAI(ctx, cluster.Backend, uuid, in.Name, nil) // 201 has no body
	}
	u := updateFields(createFields(in))
	f := runai.NodePoolCreateFields{
		Name: in.Name, LabelKey: *in.LabelKey, LabelValue: *in.LabelValue, ClusterID: uuid,
		OverProvisioningRatio: u.OverProvisioningRatio, PlacementStrategy: u.PlacementStrategy,
		GPUNetworkAccelerationLabelKey: u.GPUNetworkAccelerationLabelKey, GPUNetworkAccelerationDetection: u.GPUNetworkAccelerationDetection,
		GPUResourceOptimization: u.GPUResourceOptimization,
	}
	p, err := c.CreateNodePool(ctx, f)
	if err != nil {
		if !ambiguous(err) {
			return nil, err
		}
		return s.readBackRunAI(ctx, cluster.Backend, uuid, in.Name, err)
	}
	return runaiNodePool(cluster.Backend, p), nil
}

func (s *Service) updateRunAI(ctx context.Context, id ids.ID, in writeFields, replace bool) (*model.NodePool, error) {
	c := s.reg.RunAI(id.Backend)
	cluster, poolID, name := id.Parts[0], id.Parts[1], id.Parts[2]
	if s.reg.legacy[id.Backend] {
		return s.updateRunAILegacy(ctx, id, in, replace)
	}
	var p *runai.NodePool
	var err error
	if replace {
		p, err = c.UpdateNodePool(ctx, poolID, updateFields(in))
	} else {
		p, err = c.PatchNodePool(ctx, poolID, updateFields(in))
	}
	if err != nil {
		if errors.Is(err, backends.ErrNotFound) || !ambiguous(err) {
			return nil, err
		}
		return nil, &WriteError{Outcome: OutcomeUnknown, Err: err}
	}
	if p == nil {
		return s.readBackRunAI(ctx, id.Backend, cluster, name, nil)
	}
	return runaiNodePool(id.Backend, p), nil
}

// updateRunAILegacy: the deprecated API has only a full PUT, so a patch
// merges the given fields into the pool as it is.
func (s *Service) updateRunAILegacy(ctx context.Context, id ids.ID, in writeFields, replace bool) (*model.NodePool, error) {
	c := s.reg.RunAI(id.Backend)
	cluster, name := id.Parts[0], id.Parts[2]
	num, err := strconv.Atoi(id.Parts[1])
	if err != nil {
		return nil, &InputError{Field: "id", Message: "names no pool of the deprecated API (its ids are integers)"}
	}
	if in.GpuNetworkAccelerationDetection != nil || in.GpuNetworkAccelerationLabelKey != nil || in.GpuResourceOptimization != nil {
		return nil, &InputError{Field: "input", Message: "this backend uses the deprecated node-pool API, which has only labelKey, labelValue, overProvisioningRatio and placementStrategy"}
	}
	req := runai.LegacyNodePoolUpdate{PlacementStrategy: legacyPlacement(in.PlacementStrategy)}
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
			return nil, &NotFoundError{What: "node pool", Name: name}
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
		return nil, &InputError{Field: "input.labelKey", Message: "labelKey and labelValue are required to replace a pool through the deprecated API"}
	}
	if err := c.LegacyUpdateNodePool(ctx, cluster, num, req); err != nil {
		if errors.Is(err, backends.ErrNotFound) || !ambiguous(err) {
			return nil, err
		}
		return nil, &WriteError{Outcome: OutcomeUnknown, Err: err}
	}
	return s.readBackRunAI(ctx, id.Backend, cluster, name, nil) // 202 has no body
}

func (s *Service) deleteRunAI(ctx context.Context, id ids.ID) (model.NodePoolPhase, error) {
	c := s.reg.RunAI(id.Backend)
	cluster, poolID, name := id.Parts[0], id.Parts[1], id.Parts[2]
	var err error
	status := http.StatusAccepted
	if s.reg.legacy[id.Backend] {
		num, convErr := strconv.Atoi(poolID)
		if convErr != nil {
			return "", &InputError{Field: "id", Message: "names no pool of the deprecated API (its ids are integers)"}
		}
		err = c.LegacyDeleteNodePool(ctx, cluster, num)
	} else {
		status, err = c.DeleteNodePool(ctx, poolID)
	}
	if err != nil {
		if !ambiguous(err) {
			return "", err
		}
		p, rerr := s.readBackRunAI(ctx, id.Backend, cluster, name, nil)
		var nf *NotFoundError
		switch {
		case errors.As(rerr, &nf):
			return model.NodePoolPhaseDeleted, nil
		case rerr == nil && p.Phase == model.NodePoolPhaseDeleting:
			return model.NodePoolPhaseDeleting, nil
		case rerr == nil:
			return "", &WriteError{Outcome: OutcomeNotApplied, Err: err}
		}
		return "", &WriteError{Outcome: OutcomeUnknown, Err: err}
	}
	if status == http.StatusNoContent {
		return model.NodePoolPhaseDeleted, nil
	}
	return model.NodePoolPhaseDeleting, nil
}
