package resolvers

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// PlanCalls is a query's plan in vendor calls: by backend, the calls its
// answer would still make per object once the listings are in, with
// nothing more cached (a cold answer): Run:ai metrics one per node, pool
// or cluster and window (sibling fields of one window share it, as they
// do when resolved), ModelArts AOM query_range one per resource pool,
// metric type and window, ShowPoolMonitor one per resource pool and
// window, Run:ai node telemetry one per backend for allocatedGpus or
// freeAccelerators.
//
// The objects are the ones the query would list: PlanCalls lists them the
// way the resolvers do, through ctx's loaders and the cache (a cold
// listing is made here, and the resolvers then find it in the loaders),
// so page sizes, filters and the fleet's real size count, not `first`.
// It does not estimate nodeTelemetry, placements or _entities (a call or
// two per backend each), nor the listings themselves (the caller counts
// those it saw made). Errors are left to the resolvers: a listing that
// fails plans nothing under it.
func (r *Resolver) PlanCalls(ctx context.Context, oc *graphql.OperationContext) map[string]int {
	p := &planner{r: r, ctx: ctx, oc: oc, keys: map[string]bool{}, calls: map[string]int{}, walked: map[walkKey]bool{}}
	if oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Query {
		p.query(oc.Operation.SelectionSet)
	}
	return p.calls
}

type planner struct {
	r   *Resolver
	ctx context.Context
	oc  *graphql.OperationContext

	mu     sync.Mutex
	keys   map[string]bool // the calls counted, so that a shared one counts once
	calls  map[string]int
	walked map[walkKey]bool
}

// walkKey is one object under one selection, named by its first
// selection (the same field of the document wherever it is reached): a
// pool reached from each of its 500 nodes is walked once.
type walkKey struct {
	id  string
	sel ast.Selection
}

// call counts the call key of backend once.
func (p *planner) call(backend, key string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.keys[key] {
		p.keys[key] = true
		p.calls[backend]++
	}
}

// first says whether id under set is walked for the first time.
func (p *planner) first(id string, set ast.SelectionSet) bool {
	k := walkKey{id: id}
	if len(set) > 0 {
		k.sel = set[0]
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.walked[k] {
		return false
	}
	p.walked[k] = true
	return true
}

func (p *planner) fields(set ast.SelectionSet, typ string) []graphql.CollectedField {
	return graphql.CollectFields(p.oc, set, []string{typ})
}

func (p *planner) query(set ast.SelectionSet) {
	for _, f := range p.fields(set, "Query") {
		args := f.ArgumentMap(p.oc.Variables)
		switch f.Name {
		case "clusters":
			var provider *model.Provider
			if v, ok := args["provider"].(string); ok {
				pr := model.Provider(v)
				provider = &pr
			}
			p.clusters(p.r.Fleet.Clusters(p.ctx, provider).Items, f.Selections)
		case "cluster":
			lookup(p, args, ids.KindCluster, p.r.Fleet.Cluster, p.clusters, f.Selections)
		case "nodePools":
			var filter *model.NodePoolFilter
			if q, err := nodePoolQuery(argAs(args["filter"], &filter)); err == nil {
				p.poolConnection(p.r.Fleet.NodePools(p.ctx, q).Items, args, f.Selections)
			}
		case "nodePool":
			lookup(p, args, ids.KindNodePool, p.r.Fleet.NodePool, p.pools, f.Selections)
		case "nodes":
			if q, ok := p.nodeQuery(args); ok {
				p.nodeConnection(p.r.Fleet.Nodes(p.ctx, q).Items, args, f.Selections)
			}
		case "node":
			lookup(p, args, ids.KindNode, p.r.Fleet.Node, p.nodes, f.Selections)
		case "fleetSummary":
			if q, ok := p.nodeQuery(args); ok && selects(p.oc, f.Selections, "allocatedGpus") {
				p.telemetry(p.r.Fleet.Nodes(p.ctx, q).Items, "ALLOCATED_GPUS")
			}
		}
	}
}

// lookup walks the object a root lookup (args["id"]) finds.
func lookup[T any](p *planner, args map[string]any, kind ids.Kind, find func(context.Context, ids.ID) (*T, error),
	walk func([]*T, ast.SelectionSet), set ast.SelectionSet) {
	s, _ := args["id"].(string)
	id, err := decodeID("id", s, kind)
	if err != nil {
		return
	}
	if v, err := find(p.ctx, id); err == nil && v != nil {
		walk([]*T{v}, set)
	}
}

// nodeQuery is the query of a field's filter argument.
func (p *planner) nodeQuery(args map[string]any) (fleet.NodeQuery, bool) {
	var filter *model.NodeFilter
	q, err := nodeQuery(argAs(args["filter"], &filter))
	return q, err == nil
}

// argAs decodes an argument's value (as variables and literals give it:
// maps, lists, strings) into *into, the input type the resolver gets.
func argAs[T any](v any, into **T) *T {
	if v == nil {
		return nil
	}
	b, err := json.Marshal(v)
	if err != nil || json.Unmarshal(b, into) != nil {
		return nil
	}
	return *into
}

// paged is the page of items the field's first and after select.
func paged[T any](items []T, args map[string]any) []T {
	var first *int
	var after *string
	if n, ok := intArg(args["first"]); ok {
		i := int(n)
		first = &i
	}
	if s, ok := args["after"].(string); ok {
		after = &s
	}
	w, err := pageWindow(first, after)
	if err != nil {
		return nil
	}
	from, to := w.bounds(len(items))
	return items[from:to]
}

// edgeNodes is the selection of a connection's edges' node.
func (p *planner) edgeNodes(set ast.SelectionSet, connection, edge string) []ast.SelectionSet {
	var out []ast.SelectionSet
	for _, e := range p.fields(set, connection) {
		if e.Name != "edges" {
			continue
		}
		for _, n := range p.fields(e.Selections, edge) {
			if n.Name == "node" {
				out = append(out, n.Selections)
			}
		}
	}
	return out
}

func (p *planner) nodeConnection(items []*model.Node, args map[string]any, set ast.SelectionSet) {
	page := paged(items, args)
	for _, sel := range p.edgeNodes(set, "NodeConnection", "NodeEdge") {
		p.nodes(page, sel)
	}
}

func (p *planner) poolConnection(items []*model.NodePool, args map[string]any, set ast.SelectionSet) {
	page := paged(items, args)
	for _, sel := range p.edgeNodes(set, "NodePoolConnection", "NodePoolEdge") {
		p.pools(page, sel)
	}
}

// parallel runs walk for every item at once: a walk may wait for a
// listing, and the resolvers would make those side by side.
func parallel[T any](items []T, walk func(T)) {
	if len(items) == 1 {
		walk(items[0])
		return
	}
	var wg sync.WaitGroup
	for _, it := range items {
		wg.Go(func() { walk(it) })
	}
	wg.Wait()
}

func (p *planner) clusters(cs []*model.Cluster, set ast.SelectionSet) {
	parallel(cs, func(c *model.Cluster) {
		if !p.first(c.ID, set) {
			return
		}
		for _, f := range p.fields(set, "Cluster") {
			args := f.ArgumentMap(p.oc.Variables)
			switch f.Name {
			case "nodePools":
				if pools, err := p.r.Fleet.NodePoolsOfCluster(p.ctx, c); err == nil {
					p.pools(pools, f.Selections)
				}
			case "nodes":
				if q, ok := p.nodeQuery(args); ok {
					if q, ok = inCluster(q, c); ok {
						p.nodeConnection(p.r.Fleet.Nodes(p.ctx, q).Items, args, f.Selections)
					}
				}
			case "metrics":
				if w, ok := metricsWindow(args); ok {
					if c.Provider == model.ProviderModelarts {
						p.call(c.Backend, "monitor|"+c.ID+"|"+w) // every type in one answer
					} else {
						p.call(c.Backend, "cm|"+c.ID+"|"+w+"|"+optionArgs(args))
					}
				}
			}
		}
	})
}

func (p *planner) pools(ps []*model.NodePool, set ast.SelectionSet) {
	parallel(ps, func(np *model.NodePool) {
		if !p.first(np.ID, set) {
			return
		}
		for _, f := range p.fields(set, "NodePool") {
			args := f.ArgumentMap(p.oc.Variables)
			switch f.Name {
			case "cluster":
				if c, err := p.r.Fleet.ClusterOf(p.ctx, np.Backend, np.ClusterVendorID); err == nil && c != nil {
					p.clusters([]*model.Cluster{c}, f.Selections)
				}
			case "nodes":
				if q, ok := p.nodeQuery(args); ok {
					if q, ok = p.r.inNodePool(q, np); ok {
						p.nodeConnection(p.r.Fleet.Nodes(p.ctx, q).Items, args, f.Selections)
					}
				}
			case "metrics":
				w, ok := metricsWindow(args)
				if !ok {
					continue
				}
				if np.Provider == model.ProviderModelarts {
					id := p.r.Fleet.NodePoolIDOf(np)
					p.r.Fleet.Nodes(p.ctx, fleet.NodeQuery{NodePool: &id}) // the members, listed first
					p.aom(np.Backend, np.ClusterVendorID, args, w)
				} else {
					p.call(np.Backend, "pm|"+np.ID+"|"+w)
				}
			}
		}
	})
}

func (p *planner) nodes(ns []*model.Node, set ast.SelectionSet) {
	fields := p.fields(set, "Node")
	for _, n := range ns {
		if !p.first(n.ID, set) {
			continue
		}
		for _, f := range fields {
			args := f.ArgumentMap(p.oc.Variables)
			switch f.Name {
			case "cluster":
				if c, err := p.r.Fleet.ClusterOf(p.ctx, n.Backend, n.ClusterVendorID); err == nil && c != nil {
					p.clusters([]*model.Cluster{c}, f.Selections)
				}
			case "nodePool":
				if np, err := p.r.Fleet.NodePoolOf(p.ctx, n); err == nil && np != nil {
					p.pools([]*model.NodePool{np}, f.Selections)
				}
			case "freeAccelerators":
				p.telemetry([]*model.Node{n}, "FREE_GPUS")
			case "metrics":
				w, ok := metricsWindow(args)
				if !ok {
					continue
				}
				if n.Provider == model.ProviderModelarts {
					p.aom(n.Backend, n.ClusterVendorID, args, w)
				} else {
					p.call(n.Backend, "nm|"+n.ID+"|"+w)
				}
			}
		}
	}
}

// aom counts ModelArts' AOM calls of a metrics field: one per resource
// pool, type and window, shared by the pool's node pools and nodes.
func (p *planner) aom(backend, pool string, args map[string]any, w string) {
	types, _ := args["types"].([]any)
	for _, t := range types {
		p.call(backend, fmt.Sprintf("aom|%s|%s|%v|%s", backend, pool, t, w))
	}
}

// telemetry counts one Run:ai telemetry call of kind per backend of nodes.
func (p *planner) telemetry(nodes []*model.Node, kind string) {
	for _, n := range nodes {
		if n.Provider == model.ProviderRunai {
			p.call(n.Backend, "telemetry|"+n.Backend+"|"+kind)
		}
	}
}

// metricsWindow is a metrics field's range and samples as one key; false when
// they do not parse (the field is refused before any call).
func metricsWindow(args map[string]any) (string, bool) {
	s, okS := timeArg(args["start"])
	e, okE := timeArg(args["end"])
	n := int64(defaultSamples)
	if v, ok := args["samples"]; ok && v != nil {
		if n, ok = intArg(v); !ok {
			return "", false
		}
	}
	if !okS || !okE {
		return "", false
	}
	return fmt.Sprintf("%d|%d|%d", s.UnixNano(), e.UnixNano(), n), true
}

// selects says whether name is selected anywhere under set.
func selects(oc *graphql.OperationContext, set ast.SelectionSet, name string) bool {
	for _, f := range graphql.CollectFields(oc, set, nil) {
		if f.Name == name || selects(oc, f.Selections, name) {
			return true
		}
	}
	return false
}
