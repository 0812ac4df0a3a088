package modelarts

import (
	"context"
	"fmt"
	"hash/fnv"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/aom"
	"github.com/fleetgraph/fleetgraph/fleet"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// Node and node-pool metrics of ModelArts come from AOM (the v2 API has
// none, upstreams-2.md a.5), for the backends configured with SetAOM:
//
//   - One query_range per (resource pool, metric type, aligned window): its
//     PromQL (aom.Query.Expand) selects every node of the resource pool by
//     its private IP, so one answer serves every node and every node pool
//     of that resource pool, whichever fields and how many nodes ask. The
//     node set is the resource pool's node listing: the listing that
//     Cluster.nodes and NodePool.nodes read too (source.go), so metrics
//     add no listing to a request that lists the nodes.
//   - A node's series is the answer's series whose node label is the
//     node's IP; a node without an IP, or without a series, gets the type
//     with no points (listed, as a series whose every sample was dropped).
//   - A node pool's series aggregates the series of its nodes (the nodes
//     NodePool.nodes lists) at each timestamp: utilisations (percent) as
//     the mean of the nodes reporting at that timestamp, bytes as their
//     sum.
//   - Types other than aom.DefaultQueries' are refused with an error naming
//     them (BAD_USER_INPUT, field "types"); the others still answer.
//   - Without an aom: block a field answers [] beside an error wrapping
//     fleet.ErrMetricsNotConfigured (METRICS_NOT_CONFIGURED).

// AOMConfig is the AOM side of one ModelArts backend.
type AOMConfig struct {
	// Client queries the backend's AOM endpoint (with its own transport and
	// breaker, so that AOM failing does not open the ModelArts breaker).
	Client *aom.Client
	// NodeLabel is the label that names a node by its private IP. Default
	// aom.DefaultNodeLabel.
	NodeLabel string
	// Queries replace aom.DefaultQueries' PromQL per metric type (by Type;
	// the Unit stays the default's). A type without a default is refused.
	Queries map[string]string
}

type aomBackend struct {
	client  *aom.Client
	label   string
	queries map[string]aom.Query // every served type
	version string               // hash of label and queries: part of cache keys
}

// SetAOM gives backend its AOM configuration. Call it before serving.
func (s *Source) SetAOM(backend string, c AOMConfig) error {
	if c.Client == nil {
		return fmt.Errorf("modelarts backend %q: aom: no client", backend)
	}
	b := &aomBackend{client: c.Client, label: c.NodeLabel, queries: map[string]aom.Query{}}
	if b.label == "" {
		b.label = aom.DefaultNodeLabel
	}
	for _, q := range aom.DefaultQueries {
		b.queries[q.Type] = q
	}
	for t, promql := range c.Queries {
		q, ok := b.queries[t]
		if !ok {
			return fmt.Errorf("modelarts backend %q: aom.queries: %s is no metric type ModelArts serves (%s)", backend, t, strings.Join(ServedMetricTypes(), ", "))
		}
		q.PromQL = promql
		b.queries[t] = q
	}
	h := fnv.New64a()
	h.Write([]byte(b.label))
	for _, t := range slices.Sorted(maps.Keys(b.queries)) {
		fmt.Fprintf(h, "\x00%s\x00%s", t, b.queries[t].PromQL)
	}
	b.version = fmt.Sprintf("%016x", h.Sum64())
	if s.aom == nil {
		s.aom = map[string]*aomBackend{}
	}
	s.aom[backend] = b
	return nil
}

// ServedMetricTypes lists the metric types ModelArts serves at node and
// node-pool level (with aom:), sorted.
func ServedMetricTypes() []string {
	out := make([]string, len(aom.DefaultQueries))
	for i, q := range aom.DefaultQueries {
		out[i] = q.Type
	}
	return out
}

// seriesKey names one query_range: one metric type over one resource pool's
// nodes and one aligned window.
type seriesKey struct {
	Backend, Pool string
	Start, End    int64 // UnixNano, aligned (fleet.MetricsRequest.Key)
	Samples       int
	Type          string
	Version       string // the backend's aomBackend.version
}

// poolSeries is one query_range answer, by node IP.
type poolSeries struct {
	Nodes map[string]nodeSeries `json:"n"`
}

type nodeSeries struct {
	Points [][2]float64 `json:"v"` // [unix ms, value]
}

func (s *Source) newSeriesKind() *fleet.Kind[seriesKey, poolSeries] {
	// The kind name is a cache key prefix: keep it stable.
	return &fleet.Kind[seriesKey, poolSeries]{Name: "maom",
		Backend: func(k seriesKey) string { return k.Backend },
		Key: func(k seriesKey) string {
			return fmt.Sprintf("%s/%d/%d/%d/%s/%s", k.Pool, k.Start, k.End, k.Samples, k.Type, k.Version)
		},
		TTL: func(p fleet.CachePolicy, k seriesKey) time.Duration {
			return fleet.MetricsTTL(p, fleet.MetricsKey{Start: k.Start, End: k.End})
		},
		Fetch: s.fetchSeries}
}

// step is the query_range resolution of samples points over [start, end]:
// at least a second (AOM's unit), 60 s when samples is 0 (the vendor's
// choice elsewhere; AOM has no default).
func step(start, end time.Time, samples int) time.Duration {
	if samples <= 0 {
		return time.Minute
	}
	return max(end.Sub(start)/time.Duration(samples), time.Second).Truncate(time.Second)
}

func (s *Source) fetchSeries(ctx context.Context, k seriesKey) (poolSeries, error) {
	b := s.aom[k.Backend]
	if b == nil {
		return poolSeries{}, fleet.UnknownBackend(k.Backend)
	}
	q, ok := b.queries[k.Type]
	if !ok {
		return poolSeries{}, fmt.Errorf("modelarts: no AOM query for %s", k.Type) // refused before: a wiring bug
	}
	nodes, err := fleet.Load(ctx, s.poolNodes, fleet.ClusterKey{Backend: k.Backend, Cluster: k.Pool})()
	if err != nil {
		return poolSeries{}, err
	}
	out := poolSeries{Nodes: map[string]nodeSeries{}}
	asked := map[string]bool{}
	var ips []string
	for _, n := range nodes {
		if n.IP != nil && *n.IP != "" {
			ips = append(ips, *n.IP)
			asked[*n.IP] = true
		}
	}
	if len(ips) == 0 {
		return out, nil // nothing to ask for: an empty alternation would match every series
	}
	start, end := time.Unix(0, k.Start).UTC(), time.Unix(0, k.End).UTC()
	res, err := b.client.QueryRange(ctx, q.Expand(b.label, ips), start, end, step(start, end, k.Samples))
	if err != nil {
		return poolSeries{}, wrap(k.Backend, err)
	}
	for _, sr := range res.Series {
		ip := sr.Metric[b.label]
		if !asked[ip] {
			continue // a series of no node asked for (a query override that selects more)
		}
		ns := out.Nodes[ip]
		for _, p := range sr.Points {
			ns.Points = append(ns.Points, [2]float64{float64(p.Time.UnixMilli()), p.Value})
		}
		out.Nodes[ip] = ns
	}
	return out, nil
}

// load starts one query_range per wanted type ModelArts serves; refused
// names the others.
func (s *Source) load(ctx context.Context, backend, pool string, r fleet.MetricsRequest, level string) (b *aomBackend, types []string, thunks []fleet.Thunk[poolSeries], refused error) {
	b = s.aom[backend]
	if b == nil {
		return nil, nil, nil, fleet.Wrap(backends.ModelArts, backend, fmt.Errorf(
			"ModelArts backend %s has no aom: block: %s metrics live in AOM (configure modelarts[].aom): %w",
			backend, level, fleet.ErrMetricsNotConfigured))
	}
	mk := r.Key(backend, pool, "")
	var unserved []string
	for _, t := range r.Want.List() {
		if _, ok := b.queries[t]; !ok {
			unserved = append(unserved, t)
			continue
		}
		types = append(types, t)
		thunks = append(thunks, fleet.Load(ctx, s.series, seriesKey{Backend: backend, Pool: pool,
			Start: mk.Start, End: mk.End, Samples: mk.Samples, Type: t, Version: b.version}))
	}
	if len(unserved) > 0 {
		refused = fleet.Wrap(backends.ModelArts, backend, &fleet.UnsupportedMetricError{
			Provider: backends.ModelArts, Backend: backend, Level: level, Types: unserved})
	}
	return b, types, thunks, refused
}

// NodeMetrics implements fleet.Source: the node's series of its resource
// pool's query_range per type (see the top of this file).
func (s *Source) NodeMetrics(ctx context.Context, n *model.Node, r fleet.MetricsRequest) ([]*model.MetricSeries, error) {
	b, types, thunks, refused := s.load(ctx, n.Backend, n.ClusterVendorID, r, "node")
	if b == nil {
		return []*model.MetricSeries{}, refused
	}
	out := []*model.MetricSeries{}
	for i, th := range thunks {
		res, err := th()
		if err != nil {
			return out, err
		}
		var pts [][2]float64
		if n.IP != nil {
			pts = res.Nodes[*n.IP].Points
		}
		out = append(out, series(types[i], pts))
	}
	return out, refused
}

// NodePoolMetrics implements fleet.Source: the mean (percent) or the sum
// (bytes) of the pool's node series at each timestamp.
func (s *Source) NodePoolMetrics(ctx context.Context, p *model.NodePool, r fleet.MetricsRequest) ([]*model.MetricSeries, error) {
	b, types, thunks, refused := s.load(ctx, p.Backend, p.ClusterVendorID, r, "node pool")
	if b == nil {
		return []*model.MetricSeries{}, refused
	}
	out := []*model.MetricSeries{}
	if len(thunks) == 0 {
		return out, refused
	}
	members, err := s.NodePoolNodes(ctx, s.NodePoolID(p))()
	if err != nil {
		return out, err
	}
	ips := map[string]bool{}
	for _, n := range members {
		if n.IP != nil {
			ips[*n.IP] = true
		}
	}
	for i, th := range thunks {
		res, err := th()
		if err != nil {
			return out, err
		}
		out = append(out, series(types[i], aggregate(res, ips, b.queries[types[i]].Unit)))
	}
	return out, refused
}

// aggregate combines the series of the nodes at ips at each timestamp:
// the mean of the nodes reporting then for a percentage, their sum for
// bytes. A node missing at a timestamp is left out, not counted as 0.
func aggregate(res poolSeries, ips map[string]bool, unit string) [][2]float64 {
	type acc struct {
		sum float64
		n   int
	}
	at := map[float64]*acc{}
	// In node order, so that the float sums (and a cached answer) are the
	// same every time.
	for _, ip := range slices.Sorted(maps.Keys(res.Nodes)) {
		if !ips[ip] {
			continue
		}
		for _, p := range res.Nodes[ip].Points {
			a := at[p[0]]
			if a == nil {
				a = &acc{}
				at[p[0]] = a
			}
			a.sum += p[1]
			a.n++
		}
	}
	out := make([][2]float64, 0, len(at))
	for _, t := range slices.Sorted(maps.Keys(at)) {
		v := at[t].sum
		if unit != aom.UnitBytes {
			v /= float64(at[t].n)
		}
		out = append(out, [2]float64{t, v})
	}
	return out
}

func series(typ string, pts [][2]float64) *model.MetricSeries {
	s := &model.MetricSeries{Type: typ, Labels: []*model.Label{}, Points: make([]*model.MetricPoint, len(pts))}
	for i, p := range pts {
		s.Points[i] = &model.MetricPoint{Timestamp: time.UnixMilli(int64(p[0])).UTC(), Value: p[1]}
	}
	return s
}
