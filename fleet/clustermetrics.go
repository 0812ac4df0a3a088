package fleet

import (
	"context"
	"fmt"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// ClusterMetricsSource is a Source with cluster-level time series
// (Cluster.metrics), in the one vocabulary of the ClusterMetricType enum:
// a type means the same quantity in the same unit on every source, and the
// adapter converts the vendor's units (ModelArts Megabytes to bytes, ...).
type ClusterMetricsSource interface {
	Source
	// ClusterMetricTypes is the set of ClusterMetricType values the source
	// serves. The Service refuses the others before any call.
	ClusterMetricTypes() MetricTypes
	// ClusterMetrics answers a Cluster.metrics field of one of the source's
	// clusters. r.Want and r.All hold only served types.
	ClusterMetrics(ctx context.Context, c *model.Cluster, r MetricsRequest) ([]*model.MetricSeries, error)
}

// UnsupportedMetricError is a metrics field asking a provider for types it
// does not serve at that level: refused before any upstream call, for that
// field only. It is an input error (BAD_USER_INPUT, extensions.field
// "types"), the code the node-level metrics use for the same refusal; it
// comes beside the data of the other fields, since only the object's
// provider, known once it is loaded, tells.
type UnsupportedMetricError struct {
	Provider backends.Provider
	Backend  string
	Level    string   // "cluster"
	Types    []string // the refused types, sorted
}

func (e *UnsupportedMetricError) Error() string {
	what := "metric type"
	if len(e.Types) > 1 {
		what = "metric types"
	}
	return fmt.Sprintf("%s %ss do not serve the %s %s (backend %s)", e.Provider, e.Level, what, strings.Join(e.Types, ", "), e.Backend)
}

// Unwrap makes the error an *InputError on the types argument.
func (e *UnsupportedMetricError) Unwrap() error {
	return &InputError{Field: "types", Message: e.Error()}
}

// ClusterMetrics returns a cluster's metric series. Types the cluster's
// provider does not serve are an *UnsupportedMetricError and no call;
// sibling fields' types the provider does not serve are left out of the
// shared call, so one field's refusal never fails another's.
func (s *Service) ClusterMetrics(ctx context.Context, c *model.Cluster, r MetricsRequest) ([]*model.MetricSeries, error) {
	src := s.reg.byName[c.Backend]
	if src == nil {
		return []*model.MetricSeries{}, nil
	}
	cs, _ := src.(ClusterMetricsSource)
	var served MetricTypes
	if cs != nil {
		served = cs.ClusterMetricTypes()
	}
	if bad := r.Want.without(served); !bad.Empty() {
		return nil, &UnsupportedMetricError{Provider: backends.Provider(src.Provider()), Backend: c.Backend, Level: "cluster", Types: bad.List()}
	}
	r.All = r.All.within(served)
	return cs.ClusterMetrics(ctx, c, r)
}

// without returns the types of t that are not in o.
func (t MetricTypes) without(o MetricTypes) MetricTypes {
	var out []string
	for _, typ := range t.List() {
		if !o.Has(typ) {
			out = append(out, typ)
		}
	}
	return fromList(out)
}

// within returns the types of t that are in o.
func (t MetricTypes) within(o MetricTypes) MetricTypes {
	var out []string
	for _, typ := range t.List() {
		if o.Has(typ) {
			out = append(out, typ)
		}
	}
	return fromList(out)
}
