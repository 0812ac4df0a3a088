package fleet

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/accel"
)

// MaxPlacementAccelerators bounds PlacementRequest.Accelerators: more than
// any node pool of either vendor holds, and a bound on the request.
const MaxPlacementAccelerators = 10000

// PlacementRequest is a placements query in catalogue terms, validated by
// the resolvers (resolvers/placement.go).
type PlacementRequest struct {
	Accelerators int
	// Model and Vendor are catalogue values (internal/accel), "" for any.
	Model, Vendor string
	Provider      *model.Provider
	// SameNode: every accelerator on one node; otherwise in one node pool,
	// summed over its nodes.
	SameNode bool
}

// Key identifies the request (subscription topics).
func (r PlacementRequest) Key() string {
	p := ""
	if r.Provider != nil {
		p = string(*r.Provider)
	}
	return fmt.Sprintf("%d|%s|%s|%s|%t", r.Accelerators, r.Model, r.Vendor, p, r.SameNode)
}

func (r PlacementRequest) wants(a *model.Accelerator) bool {
	return a != nil && (r.Model == "" || a.Model == r.Model) && (r.Vendor == "" || a.Vendor == r.Vendor)
}

// Placements answers where a job of r fits now, best fit first: fewest free
// accelerators left over, then provider, backend, cluster, node pool and
// node name. Upstream calls: the node listings of Nodes (per cluster; on a
// warm cache none), plus, for the free counts of the READY nodes that
// could take r, one Run:ai FREE_GPUS telemetry call per backend that has
// such a node (ModelArts tells free counts in its node listing: no call).
// A backend that fails adds an error and no placement.
func (s *Service) Placements(ctx context.Context, r PlacementRequest) Partial[*model.Placement] {
	out, _ := s.placements(ctx, r)
	return out
}

// placements is Placements, and whether any node listing answered (false:
// every backend failed).
func (s *Service) placements(ctx context.Context, r PlacementRequest) (Partial[*model.Placement], bool) {
	listed := s.Nodes(ctx, NodeQuery{Provider: r.Provider})
	out := Partial[*model.Placement]{Errors: listed.Errors}
	var candidates []*model.Node
	accels := map[*model.Node]*model.Accelerator{}
	for _, n := range listed.Items {
		a := AcceleratorOf(n)
		if n.Status != model.NodeStatusReady || !r.wants(a) || n.GpuCount == 0 || (r.SameNode && n.GpuCount < r.Accelerators) {
			continue // cannot take r whatever is free: no free count needed
		}
		candidates = append(candidates, n)
		accels[n] = a
	}
	free, errs := s.FreeAccelerators(ctx, candidates)
	out.Errors = append(out.Errors, errs...)
	if r.SameNode {
		for _, n := range candidates {
			if f, ok := free[n]; ok && f >= r.Accelerators {
				out.Items = append(out.Items, placement(r, accels[n], []*model.Node{n}, f))
			}
		}
	} else {
		out.Items = poolPlacements(r, candidates, accels, free)
	}
	slices.SortStableFunc(out.Items, comparePlacements)
	if out.Items == nil {
		out.Items = []*model.Placement{}
	}
	return out, len(listed.Items) > 0 || len(listed.Errors) == 0
}

// poolPlacements sums free accelerators per node pool and accelerator
// model (a job runs on one kind), and keeps the pools that hold r. A
// placement's nodes are the fewest that together hold r, most free first.
func poolPlacements(r PlacementRequest, nodes []*model.Node, accels map[*model.Node]*model.Accelerator, free map[*model.Node]int) []*model.Placement {
	type group struct {
		a     *model.Accelerator
		nodes []*model.Node
		free  int
	}
	groups := map[string]*group{}
	var order []string
	for _, n := range nodes {
		f := free[n]
		if f <= 0 {
			continue
		}
		a := accels[n]
		kind := a.Vendor + "/" + a.Model
		if a.Model == accel.Unknown {
			kind += "/" + a.Raw // two unknown types are not one kind
		}
		key := n.Backend + "\x00" + n.ClusterVendorID + "\x00" + n.NodePoolName + "\x00" + kind
		g := groups[key]
		if g == nil {
			g = &group{a: a}
			groups[key] = g
			order = append(order, key)
		}
		g.nodes = append(g.nodes, n)
		g.free += f
	}
	var out []*model.Placement
	for _, key := range order {
		g := groups[key]
		if g.free < r.Accelerators {
			continue
		}
		slices.SortStableFunc(g.nodes, func(a, b *model.Node) int {
			return cmp.Or(cmp.Compare(free[b], free[a]), cmp.Compare(a.Name, b.Name))
		})
		var take []*model.Node
		for sum := 0; sum < r.Accelerators; {
			n := g.nodes[len(take)]
			take = append(take, n)
			sum += free[n]
		}
		out = append(out, placement(r, g.a, take, g.free))
	}
	return out
}

func placement(r PlacementRequest, a *model.Accelerator, nodes []*model.Node, free int) *model.Placement {
	return &model.Placement{
		Provider: nodes[0].Provider, Nodes: nodes, Vendor: a.Vendor, Model: a.Model,
		FreeAccelerators: free, LeftOver: free - r.Accelerators,
	}
}

func comparePlacements(a, b *model.Placement) int {
	na, nb := a.Nodes[0], b.Nodes[0]
	return cmp.Or(
		cmp.Compare(a.LeftOver, b.LeftOver),
		cmp.Compare(a.Provider, b.Provider),
		cmp.Compare(na.Backend, nb.Backend),
		cmp.Compare(na.ClusterVendorID, nb.ClusterVendorID),
		cmp.Compare(na.NodePoolName, nb.NodePoolName),
		cmp.Compare(na.Name, nb.Name),
	)
}

// SubscribePlacements streams Placements(r), polled once per interval for
// every subscriber of the same request, interval and credential scope, on
// the shared hub and through the shared cache like the other
// subscriptions.
func (s *Service) SubscribePlacements(ctx context.Context, r PlacementRequest, intervalSeconds *int) (<-chan *model.PlacementsUpdate, error) {
	if _, err := s.admit(ctx); err != nil {
		return nil, err
	}
	interval := s.liveInterval(intervalSeconds)
	key := fmt.Sprintf("placements|%s|%d|%s", r.Key(), interval, credentialScope(ctx))
	poll := func(ctx context.Context) any {
		now := time.Now().UTC()
		ctx = WithLoaders(ctx, NewLoaders(s.reg, s.cache))
		res, answered := s.placements(ctx, r)
		u := &model.PlacementsUpdate{At: now, Errs: res.Errors}
		if answered {
			u.Placements = res.Items
		}
		return u
	}
	return forward[*model.PlacementsUpdate](ctx, s.hub.Subscribe(ctx, key, interval, poll)), nil
}
