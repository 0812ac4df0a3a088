package modelarts

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

var taintEffects = map[model.TaintEffect]string{
	model.TaintEffectNoSchedule:       "NoSchedule",
	model.TaintEffectPreferNoSchedule: "PreferNoSchedule",
	model.TaintEffectNoExecute:        "NoExecute",
}

func maTaints(in []*model.TaintInput) []api.Taint {
	out := make([]api.Taint, len(in))
	for i, t := range in {
		out[i] = api.Taint{Key: t.Key, Effect: taintEffects[t.Effect]}
		if t.Value != nil {
			out[i].Value = *t.Value
		}
	}
	return out
}

func maLabels(in []*model.LabelInput) map[string]string {
	out := make(map[string]string, len(in))
	for _, l := range in {
		out[l.Key] = l.Value
	}
	return out
}

// checkVolumeGroups applies the API's rule before any call: every data disk
// names its volume group (SDK DataVolumeItem.extendParams.volumeGroup has
// no omitempty; upstreams-2.md §b), and a root disk has none.
func checkVolumeGroups(in model.CreateNodePoolInput) error {
	if in.RootVolume != nil && in.RootVolume.VolumeGroup != nil {
		return &fleet.InputError{Field: "input.rootVolume.volumeGroup", Message: "is only for data volumes"}
	}
	for i, v := range in.DataVolumes {
		if v.VolumeGroup == nil || *v.VolumeGroup == "" {
			return &fleet.InputError{Field: fmt.Sprintf("input.dataVolumes[%d].volumeGroup", i),
				Message: "is required for a ModelArts data volume (vgpaas, default, vguser<N>, vg-everest-localvolume-persistent or vg-everest-localvolume-ephemeral)"}
		}
	}
	return nil
}

// CreateNodePool implements fleet.Source.
func (s *Source) CreateNodePool(ctx context.Context, id ids.ID, in model.CreateNodePoolInput) (*model.NodePool, error) {
	cluster := clusterIDOf(id)
	if err := checkVolumeGroups(in); err != nil {
		return nil, err
	}
	c := s.client(cluster.Backend)
	pool := cluster.Pool
	existing, err := c.ListNodePools(ctx, pool)
	if err != nil {
		return nil, err
	}
	for _, np := range existing {
		if np.Metadata.Name == in.Name {
			return nil, &fleet.ConflictError{Name: in.Name, Cluster: pool}
		}
	}
	res := api.PoolResource{Flavor: *in.Flavor, Count: *in.Count, MaxCount: *in.Count}
	if in.MaxCount != nil {
		res.MaxCount = *in.MaxCount
	}
	for _, az := range in.Azs {
		res.AZs = append(res.AZs, api.AZCount{AZ: az.Az, Count: az.Count})
	}
	if in.Labels != nil {
		res.Labels = maLabels(in.Labels)
	}
	if in.Taints != nil {
		res.Taints = maTaints(in.Taints)
	}
	for _, t := range in.Tags {
		res.Tags = append(res.Tags, api.UserTag{Key: t.Key, Value: t.Value})
	}
	if n := in.Network; n != nil {
		res.Network = &api.NodeNetwork{SecurityGroups: n.SecurityGroups}
		if n.Vpc != nil {
			res.Network.VPC = *n.Vpc
		}
		if n.Subnet != nil {
			res.Network.Subnet = *n.Subnet
		}
	}
	if o := in.Os; o != nil {
		res.OS = &api.OS{Name: deref(o.Name), ImageID: deref(o.ImageID), ImageType: deref(o.ImageType)}
	}
	vol := func(v *model.VolumeInput) api.Volume {
		out := api.Volume{VolumeType: v.VolumeType, Size: v.Size}
		if v.Count != nil {
			out.Count = *v.Count
		}
		return out
	}
	if in.RootVolume != nil {
		v := vol(in.RootVolume)
		res.RootVolume = &v
	}
	for _, v := range in.DataVolumes {
		dv := vol(v)
		dv.ExtendParams = &api.VolumeExtendParams{VolumeGroup: *v.VolumeGroup}
		res.DataVolumes = append(res.DataVolumes, dv)
	}
	if in.Runtime != nil || in.DockerBaseSize != nil {
		res.ExtendParams = &api.ResourceExtendParams{DockerBaseSize: deref(in.DockerBaseSize)}
		if in.Runtime != nil {
			res.ExtendParams.Runtime = strings.ToLower(string(*in.Runtime))
		}
	}
	req := api.CreateNodePoolRequest{
		Metadata: api.CreateNodePoolMetadata{Name: in.Name},
		Spec:     api.NodePoolSpec{Resources: res},
	}
	if _, err := c.CreateNodePool(ctx, pool, req); err != nil {
		if !fleet.Ambiguous(err) {
			return nil, err
		}
		return s.readBackModelArts(ctx, cluster.Backend, pool, in.Name, err)
	}
	// The create answer has no status: read the pool for its phase.
	return s.readBackModelArts(ctx, cluster.Backend, pool, in.Name, nil)
}

// readBackModelArts returns the node pool as it now is. writeErr is the
// failed write being reconciled (nil after a success).
func (s *Source) readBackModelArts(ctx context.Context, backend, pool, name string, writeErr error) (*model.NodePool, error) {
	rctx, cancel := fleet.ReadBackContext(ctx)
	defer cancel()
	np, err := s.client(backend).GetNodePool(rctx, pool, name)
	switch {
	case err == nil:
		return modelartsNodePool(backend, pool, np), nil
	case writeErr == nil:
		return nil, err
	case errors.Is(err, backends.ErrNotFound):
		return nil, &fleet.WriteError{Outcome: fleet.OutcomeNotApplied, Err: writeErr}
	}
	return nil, &fleet.WriteError{Outcome: fleet.OutcomeUnknown, Err: writeErr}
}

// UpdateNodePool implements fleet.Source.
func (s *Source) UpdateNodePool(ctx context.Context, eid ids.ID, in fleet.WriteFields, replace bool) (*model.NodePool, error) {
	id := nodePoolIDOf(eid)
	c := s.client(id.Backend)
	pool, name := id.Pool, id.NodePool
	if replace && in.Count == nil {
		return nil, &fleet.InputError{Field: "input.count", Message: "is required to replace a ModelArts node pool's settings"}
	}
	// Every PATCH carries spec.resources.flavor, count and maxCount (SDK and
	// API reference, upstreams-2.md §b): read the node pool first, one GET,
	// and send its values for what does not change. A failed read has
	// written nothing, so its error is returned as is; the PATCH is sent
	// once, never retried.
	cur, err := c.GetNodePool(ctx, pool, name)
	if err != nil {
		return nil, err
	}
	now := cur.Spec.Resources
	patch := api.PoolResourcePatch{Flavor: now.Flavor, Count: &now.Count, MaxCount: &now.MaxCount}
	if in.Count != nil {
		patch.Count = in.Count
		// Scaling moves both: a physical pool's maxCount equals its count.
		patch.MaxCount = in.Count
	}
	if in.MaxCount != nil {
		patch.MaxCount = in.MaxCount
	}
	if in.Labels != nil || replace {
		patch.Labels = maLabels(in.Labels)
	}
	if in.Taints != nil || replace {
		patch.Taints = maTaints(in.Taints)
	}
	if _, err := c.PatchNodePool(ctx, pool, name, api.PatchNodePoolRequest{Spec: api.PatchNodePoolSpec{Resources: patch}}); err != nil {
		if errors.Is(err, backends.ErrNotFound) || !fleet.Ambiguous(err) {
			return nil, err
		}
		// A lost patch answer: the read-back shows the pool as it is, but
		// cannot tell whether the patch was applied.
		return nil, &fleet.WriteError{Outcome: fleet.OutcomeUnknown, Err: err}
	}
	return s.readBackModelArts(ctx, id.Backend, pool, name, nil)
}

// DeleteNodePool implements fleet.Source.
func (s *Source) DeleteNodePool(ctx context.Context, eid ids.ID) (model.NodePoolPhase, error) {
	id := nodePoolIDOf(eid)
	c := s.client(id.Backend)
	pool, name := id.Pool, id.NodePool
	if _, err := c.DeleteNodePool(ctx, pool, name); err != nil {
		if !fleet.Ambiguous(err) {
			return "", err
		}
		rctx, cancel := fleet.ReadBackContext(ctx)
		defer cancel()
		np, rerr := c.GetNodePool(rctx, pool, name)
		switch {
		case errors.Is(rerr, backends.ErrNotFound):
			return model.NodePoolPhaseDeleted, nil
		case rerr == nil && modelartsPhase(np.Status.Resources) == model.NodePoolPhaseDeleting:
			return model.NodePoolPhaseDeleting, nil
		case rerr == nil:
			return "", &fleet.WriteError{Outcome: fleet.OutcomeNotApplied, Err: err}
		}
		return "", &fleet.WriteError{Outcome: fleet.OutcomeUnknown, Err: err}
	}
	return model.NodePoolPhaseDeleting, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
