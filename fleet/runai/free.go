package runai

import (
	"context"
	"math"
	"time"

	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

var _ fleet.FreeSource = (*Source)(nil)

// byNode is one telemetry type grouped by cluster and node: value by
// "clusterUUID/node" (the vendor's Node group value: a name on the
// simulator, as Prometheus' node label would give it).
type byNode map[string]float64

// of returns n's value and whether the vendor sent one, keyed by name or,
// failing that, by node id.
func (t byNode) of(n *model.Node) (float64, bool) {
	if v, ok := t[n.ClusterVendorID+"/"+n.Name]; ok {
		return v, true
	}
	v, ok := t[n.ClusterVendorID+"/"+n.VendorID]
	return v, ok
}

// newFreeKind is FREE_GPUS by node: one telemetry call per backend
// answers every node of the tenant. Cached like the allocation table.
func newFreeKind(s *Source) *fleet.Kind[string, byNode] {
	return &fleet.Kind[string, byNode]{Name: "rfree", Backend: func(b string) string { return b }, Key: func(string) string { return "" },
		TTL: fleet.Fixed[string](func(p fleet.CachePolicy) time.Duration { return p.Nodes }),
		Fetch: func(ctx context.Context, backend string) (byNode, error) {
			return s.fetchByNode(ctx, backend, "FREE_GPUS")
		}}
}

// fetchByNode asks Run:ai telemetry for typ grouped by cluster and node.
func (s *Source) fetchByNode(ctx context.Context, backend, typ string) (byNode, error) {
	c := s.client(backend)
	if c == nil {
		return nil, fleet.UnknownBackend(backend)
	}
	resp, err := c.NodeTelemetry(ctx, api.TelemetryOptions{Type: typ, GroupBy: []string{"ClusterId", "Node"}})
	if err != nil {
		return nil, wrap(backend, err)
	}
	out := byNode{}
	for _, v := range resp.Values {
		var cluster, node string
		for _, g := range v.Groups {
			switch g.Key {
			case "ClusterId":
				cluster = g.Value
			case "Node":
				node = g.Value
			}
		}
		out[cluster+"/"+node] = v.Value
	}
	return out, nil
}

// byNodeOf starts the tables of kind for the backends of nodes and maps
// each node to its value as count rounds it; a node the vendor sent
// nothing for is left out.
func byNodeOf(ctx context.Context, kind *fleet.Kind[string, byNode], nodes []*model.Node, count func(float64) int) func() (map[*model.Node]int, []error) {
	thunks := map[string]fleet.Thunk[byNode]{}
	for _, n := range nodes {
		if thunks[n.Backend] == nil {
			thunks[n.Backend] = fleet.Load(ctx, kind, n.Backend)
		}
	}
	return func() (map[*model.Node]int, []error) {
		tables := map[string]byNode{}
		var errs []error
		for b, th := range thunks {
			t, err := th()
			if err != nil {
				errs = append(errs, err)
				continue
			}
			tables[b] = t
		}
		out := make(map[*model.Node]int, len(nodes))
		for _, n := range nodes {
			if v, ok := tables[n.Backend].of(n); ok {
				out[n] = count(v)
			}
		}
		return out, errs
	}
}

// FreeAccelerators implements fleet.FreeSource: FREE_GPUS from node
// telemetry, one call per backend for every node. A fraction (a shared
// GPU) is not a free GPU: the count is rounded down. A node the telemetry
// does not list is left out (null).
func (s *Source) FreeAccelerators(ctx context.Context, nodes []*model.Node) func() (map[*model.Node]int, []error) {
	return byNodeOf(ctx, s.free, nodes, func(v float64) int { return int(math.Floor(v + 1e-9)) })
}
