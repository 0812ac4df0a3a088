package resolvers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"k8s.io/apimachinery/pkg/api/validate/content"

	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// Argument bounds. Every one is checked before any upstream call, both by
// ValidateArguments (for the whole operation) and where the argument is used.
const (
	defaultFirst   = 100
	maxFirst       = 500
	defaultSamples = 20
	maxSamples     = 1000
)

// checkPoolName applies the Kubernetes object-name rule (an RFC 1123
// subdomain, as a node-pool ID part) to a pool name sent to a vendor as a
// query parameter. The message says the rule, never the value.
func checkPoolName(field, name string) error {
	if errs := content.IsDNS1123Subdomain(name); len(errs) > 0 {
		return inputErrorf(field, "a node-pool name is a Kubernetes name (%d bytes given): %s", len(name), strings.Join(errs, "; "))
	}
	return nil
}

func decodeID(field, s string, kind ids.Kind) (ids.ID, error) {
	id, err := ids.Decode(s, kind)
	if err != nil {
		return ids.ID{}, &InputError{Field: field, Message: err.Error()}
	}
	return id, nil
}

// clusterIDOf rebuilds the identity of a cluster from its fields rather
// than decoding its ID again: a vendor name that breaks the vendor's own
// identifier rules does not decode, and must not leave a resolver without
// parts to compare (r.Fleet.NodePoolIDOf does the same for a node pool).
func clusterIDOf(c *model.Cluster) ids.ID { return fleet.ClusterIDOf(c) }

// partialOne answers v with err beside it when there is a v: a non-null
// field that can still be answered (a cluster built from the pool's
// clusterId) must not null its parents.
func partialOne[T any](ctx context.Context, v *T, err error) (*T, error) {
	if err != nil && v != nil {
		graphql.AddError(ctx, err)
		return v, nil
	}
	return v, err
}

// emptyOnFailure turns the missing answer of a failed upstream call into an
// empty list, for partialData to report the error beside it: a non-null list
// field that fails must not null its object, and with it every list above
// (a metrics outage would null the whole nodes answer).
func emptyOnFailure(series []*model.MetricSeries, err error) []*model.MetricSeries {
	if series == nil && err != nil {
		return []*model.MetricSeries{}
	}
	return series
}

func nodeQuery(f *model.NodeFilter) (fleet.NodeQuery, error) {
	var q fleet.NodeQuery
	if f == nil {
		return q, nil
	}
	q.Provider, q.Statuses = f.Provider, f.Status
	if f.GpuType != nil {
		q.GPUType = *f.GpuType
	}
	if f.NameContains != nil {
		q.NameContains = *f.NameContains
	}
	var err error
	if q.Cluster, err = optionalID("filter.clusterId", f.ClusterID, ids.KindCluster); err != nil {
		return q, err
	}
	q.NodePool, err = optionalID("filter.nodePoolId", f.NodePoolID, ids.KindNodePool)
	return q, err
}

// inCluster is q narrowed to the nodes of c (Cluster.nodes); false when
// q's own filter names another cluster (no node then).
func inCluster(q fleet.NodeQuery, c *model.Cluster) (fleet.NodeQuery, bool) {
	id := clusterIDOf(c)
	if q.Cluster != nil && q.Cluster.Backend+q.Cluster.Cluster() != id.Backend+id.Cluster() {
		return q, false
	}
	q.Cluster = &id
	return q, true
}

// inNodePool is q narrowed to the nodes of np (NodePool.nodes); false when
// q's own filter names another pool.
func (r *Resolver) inNodePool(q fleet.NodeQuery, np *model.NodePool) (fleet.NodeQuery, bool) {
	id := r.Fleet.NodePoolIDOf(np)
	if q.NodePool != nil && q.NodePool.String() != id.String() {
		return q, false
	}
	q.NodePool = &id
	return q, true
}

// optionalID decodes an ID argument that may be left out (nil).
func optionalID(field string, s *string, kind ids.Kind) (*ids.ID, error) {
	if s == nil {
		return nil, nil
	}
	id, err := decodeID(field, *s, kind)
	if err != nil {
		return nil, err
	}
	return &id, nil
}

func nodePoolQuery(f *model.NodePoolFilter) (fleet.NodePoolQuery, error) {
	var q fleet.NodePoolQuery
	if f == nil {
		return q, nil
	}
	q.Provider, q.Phases = f.Provider, f.Phase
	if f.NameContains != nil {
		q.NameContains = *f.NameContains
	}
	var err error
	q.Cluster, err = optionalID("filter.clusterId", f.ClusterID, ids.KindCluster)
	return q, err
}

// window is a validated page request.
type window struct{ offset, limit int }

func pageWindow(first *int, after *string) (window, error) {
	w := window{limit: defaultFirst}
	if first != nil {
		if *first < 1 || *first > maxFirst {
			return w, inputErrorf("first", "must be within 1..%d, got %d", maxFirst, *first)
		}
		w.limit = *first
	}
	if after != nil {
		n, err := ids.DecodeCursor(*after)
		if err != nil {
			return w, &InputError{Field: "after", Message: err.Error()}
		}
		w.offset = n + 1
	}
	return w, nil
}

func (w window) bounds(total int) (from, to int) {
	from = min(w.offset, total)
	return from, min(from+w.limit, total)
}

func (w window) pageInfo(from, to, total int) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: to < total}
	if to > from {
		c := ids.Cursor(to - 1)
		pi.EndCursor = &c
	}
	return pi
}

func emptyNodeConnection() *model.NodeConnection {
	return &model.NodeConnection{Edges: []*model.NodeEdge{}, PageInfo: &model.PageInfo{}}
}

func nodeConnection(ctx context.Context, res fleet.Partial[*model.Node], first *int, after *string) (*model.NodeConnection, error) {
	w, err := pageWindow(first, after)
	if err != nil {
		return nil, err
	}
	addErrors(ctx, res.Errors)
	total, edges, info := page(w, res.Items, func(c string, n *model.Node) *model.NodeEdge {
		return &model.NodeEdge{Cursor: c, Node: n}
	})
	return &model.NodeConnection{TotalCount: total, Edges: edges, PageInfo: info}, nil
}

// page cuts the window out of items as Relay edges.
func page[T, E any](w window, items []T, edge func(cursor string, item T) E) (int, []E, *model.PageInfo) {
	from, to := w.bounds(len(items))
	edges := make([]E, 0, to-from)
	for i := from; i < to; i++ {
		edges = append(edges, edge(ids.Cursor(i), items[i]))
	}
	return len(items), edges, w.pageInfo(from, to, len(items))
}

func checkRange(start, end time.Time, samples *int) (int, error) {
	if !start.Before(end) {
		return 0, inputErrorf("start", "must be before end (start %s, end %s)", start.Format(time.RFC3339), end.Format(time.RFC3339))
	}
	n := defaultSamples
	if samples != nil {
		if *samples < 0 || *samples > maxSamples {
			return 0, inputErrorf("samples", "must be within 0..%d, got %d", maxSamples, *samples)
		}
		n = *samples
	}
	return n, nil
}

// metricsRequest validates a metrics field and gathers the types of every
// sibling metrics field (aliases, fragments) on the same object with the same
// range and samples, so that they are all fetched in one upstream call. It
// reads the query rather than relying on a batching window, so the merge
// holds however the field resolvers are scheduled.
func metricsRequest[T ~string](ctx context.Context, types []T, start, end time.Time, samples *int) (fleet.MetricsRequest, error) {
	if len(types) == 0 {
		return fleet.MetricsRequest{}, inputErrorf("types", "must name at least one metric type")
	}
	n, err := checkRange(start, end, samples)
	if err != nil {
		return fleet.MetricsRequest{}, err
	}
	want := fleet.SortTypes(types)
	all := fleet.SortTypes(siblingTypes(ctx, start, end, n)).With(want)
	return fleet.MetricsRequest{Want: want, All: all, Start: start, End: end, Samples: n}, nil
}

// maxNodePoolName bounds Cluster.metrics' nodePool before the adapter's
// own name rule (a Kubernetes label on Run:ai) reads it.
const maxNodePoolName = 253

// clusterMetricsRequest is metricsRequest for Cluster.metrics, whose
// siblings share a call only with the same groupBy and nodePool too
// (siblingTypes compares every argument but types).
func clusterMetricsRequest(ctx context.Context, types []model.ClusterMetricType, start, end time.Time, samples *int, groupBy *model.ClusterMetricsGroupBy, nodePool *string) (fleet.MetricsRequest, error) {
	req, err := metricsRequest(ctx, types, start, end, samples)
	if err != nil {
		return req, err
	}
	if groupBy != nil {
		req.GroupBy = string(*groupBy)
	}
	if nodePool != nil {
		if *nodePool == "" || len(*nodePool) > maxNodePoolName {
			return req, inputErrorf("nodePool", "must be a node-pool name of the cluster (1..%d bytes), got %d bytes", maxNodePoolName, len(*nodePool))
		}
		req.NodePool = *nodePool
	}
	return req, nil
}

func siblingTypes(ctx context.Context, start, end time.Time, samples int) []string {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !graphql.HasOperationContext(ctx) {
		return nil
	}
	parent := fc.Parent
	for parent != nil && parent.Field.Field == nil {
		parent = parent.Parent // list index contexts carry no field
	}
	if parent == nil {
		return nil
	}
	// Every node of a list asks the same: read the query once per request.
	type memoKey struct {
		op           *graphql.OperationContext // variables differ between operations
		parent       *ast.Field
		object, name string
		start, end   int64
		samples      int
		options      string // the field's other arguments (Cluster.metrics' groupBy, nodePool)
	}
	oc := graphql.GetOperationContext(ctx)
	options := optionArgs(fc.Field.ArgumentMap(oc.Variables))
	key := memoKey{oc, parent.Field.Field, fc.Object, fc.Field.Name, start.UnixNano(), end.UnixNano(), samples, options}
	return fleet.Memo(ctx, key, func() []string { return readSiblingTypes(ctx, parent, fc, start, end, samples, options) })
}

// optionArgs are a metrics field's arguments besides the types and the
// range, as one comparable string: siblings share a call only when theirs
// are equal.
func optionArgs(args map[string]any) string {
	return fmt.Sprintf("%v\x00%v", args["groupBy"], args["nodePool"])
}

func readSiblingTypes(ctx context.Context, parent, fc *graphql.FieldContext, start, end time.Time, samples int, options string) []string {
	oc := graphql.GetOperationContext(ctx)
	var all []string
	for _, f := range graphql.CollectFields(oc, parent.Field.Selections, []string{fc.Object}) {
		if f.Name != fc.Field.Name {
			continue
		}
		args := f.ArgumentMap(oc.Variables)
		if optionArgs(args) != options {
			continue
		}
		s, okS := timeArg(args["start"])
		e, okE := timeArg(args["end"])
		n := defaultSamples
		if v, ok := args["samples"]; ok && v != nil {
			i, ok := intArg(v)
			if !ok {
				continue
			}
			n = int(i)
		}
		if !okS || !okE || !s.Equal(start) || !e.Equal(end) || n != samples {
			continue
		}
		if list, ok := args["types"].([]any); ok {
			for _, t := range list {
				all = append(all, fmt.Sprint(t))
			}
		}
	}
	return all
}

func timeArg(v any) (time.Time, bool) {
	switch t := v.(type) {
	case string:
		p, err := time.Parse(time.RFC3339Nano, t)
		return p, err == nil
	case time.Time:
		return t, true
	}
	return time.Time{}, false
}

func intArg(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case int:
		return int64(n), true
	case float64:
		return int64(n), n == float64(int64(n))
	case json.Number:
		i, err := n.Int64()
		return i, err == nil
	}
	return 0, false
}

// wantsAllocated says whether the fleetSummary selection asks for
// allocatedGpus anywhere: only then is Run:ai telemetry called.
func wantsAllocated(ctx context.Context) bool {
	if !graphql.HasOperationContext(ctx) {
		return true
	}
	oc := graphql.GetOperationContext(ctx)
	for _, f := range graphql.CollectFieldsCtx(ctx, nil) {
		if f.Name == "allocatedGpus" {
			return true
		}
		for _, g := range graphql.CollectFields(oc, f.Selections, nil) {
			if g.Name == "allocatedGpus" {
				return true
			}
		}
	}
	return false
}

var telemetryGroupBy = map[model.TelemetryGroupBy]string{
	model.TelemetryGroupByClusterID: "ClusterId",
	model.TelemetryGroupByNodepool:  "Nodepool",
	model.TelemetryGroupByNode:      "Node",
}

// liveRequest validates a metrics subscription's arguments (window
// 60 s..30 days, default 1 h; 1..1000 samples, default 60; at least one
// type).
func liveRequest[T ~string](types []T, interval, window, samples *int) (fleet.LiveRequest, error) {
	r := fleet.LiveRequest{IntervalSeconds: interval, Window: time.Hour, Samples: 60, Types: fleet.SortTypes(types)}
	if window != nil {
		if *window < 60 || *window > 30*24*3600 {
			return fleet.LiveRequest{}, inputErrorf("windowSeconds", "must be within 60..2592000, got %d", *window)
		}
		r.Window = time.Duration(*window) * time.Second
	}
	if samples != nil {
		if *samples < 1 || *samples > maxSamples {
			return fleet.LiveRequest{}, inputErrorf("samples", "must be within 1..%d, got %d", maxSamples, *samples)
		}
		r.Samples = *samples
	}
	if r.Types.Empty() {
		return fleet.LiveRequest{}, inputErrorf("types", "must name at least one metric type")
	}
	return r, nil
}
