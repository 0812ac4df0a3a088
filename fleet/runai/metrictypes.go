package runai

import (
	"context"
	"fmt"
	"sort"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/fleet"
)

// The metric types added after 2.22 (upstreams-2.md d.3), by their graph
// names. A graph enum value is one quantity whatever a control plane calls
// it: NVLINK_BANDWIDTH_TOTAL is 2.23's DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL and
// 2.24's NVLINK_BANDWIDTH_TOTAL.
const (
	graphNVLinkTotal       = "NVLINK_BANDWIDTH_TOTAL"
	graphNVLinkTotalPerGPU = "NVLINK_BANDWIDTH_TOTAL_PER_GPU"
	graphWorkloadsCount    = "WORKLOADS_COUNT"
)

// metricLevel is the level a metrics field asks at.
type metricLevel string

const (
	nodeLevel    metricLevel = "node"
	poolLevel    metricLevel = "node pool"
	clusterLevel metricLevel = "cluster"
)

// vendorType returns v's name for the graph type typ at level, and whether
// v serves it. Types of 2.22 keep their names on every version; a type this
// file does not know is left to the vendor.
func vendorType(v Version, level metricLevel, typ string) (string, bool) {
	switch {
	case level == nodeLevel && (typ == graphNVLinkTotal || typ == graphNVLinkTotalPerGPU):
		total, perGPU, ok := v.NVLinkBandwidthTotalTypes()
		if !ok || v.Assumed || v.Probed {
			// Probed, the version is "2.23 or later": 2.23 and 2.24
			// name these differently, and asking by the wrong name is
			// the vendor's 400.
			return "", false
		}
		if typ == graphNVLinkTotal {
			return total, true
		}
		return perGPU, true
	case (level == poolLevel || level == clusterLevel) && typ == graphWorkloadsCount:
		return typ, v.HasTenantNodes() && !v.Assumed // both arrived in 2.23
	}
	return typ, true
}

// graphType is the graph name of a vendor type in a node-metrics answer.
func graphType(typ string) string {
	switch typ {
	case api.DCGMNVLinkBandwidthTotal:
		return graphNVLinkTotal
	case api.DCGMNVLinkBandwidthTotalPerGPU:
		return graphNVLinkTotalPerGPU
	}
	return typ
}

// unservedTypeError names the first type of want that v does not serve at
// level, and the version; nil when v serves them all. No call is made for
// such a field.
func unservedTypeError(backend string, v Version, level metricLevel, want fleet.MetricTypes) error {
	for _, t := range want.List() {
		if _, ok := vendorType(v, level, t); ok {
			continue
		}
		var msg string
		switch {
		case v.Assumed:
			msg = fmt.Sprintf("%s is not served: the Run:ai API version of backend %s could not be probed yet (2.22 is assumed, which lacks it); set apiVersion", t, backend)
		case v.Probed && v.HasTenantNodes():
			msg = fmt.Sprintf("%s needs the Run:ai API version of backend %s configured (apiVersion \"2.23\" or \"2.24\"): a probe tells only \"2.23 or later\", and the two name it differently", t, backend)
		default:
			msg = fmt.Sprintf("%s is not served by Run:ai API %s (backend %s): %s metrics of this type need 2.23 or later", t, v.APIVersion, backend, level)
		}
		return fleet.Wrap(backends.RunAI, backend, fleet.Invalid("types", "%s", msg))
	}
	return nil
}

// servedRequest checks r's own types against backend's API version (an
// error for one it lacks, before any call) and drops the types it lacks
// from the sibling types fetched with them, so that a sibling field asking
// for a 2.23 type does not fail this one's call.
func (s *Source) servedRequest(ctx context.Context, backend string, level metricLevel, r fleet.MetricsRequest) (fleet.MetricsRequest, error) {
	v := s.APIVersion(ctx, backend)
	if err := unservedTypeError(backend, v, level, r.Want); err != nil {
		return r, err
	}
	all := r.All.List()
	kept := all[:0]
	for _, t := range all {
		if _, ok := vendorType(v, level, t); ok {
			kept = append(kept, t)
		}
	}
	if len(kept) != len(all) {
		r.All = fleet.SortTypes(kept)
	}
	return r, nil
}

// nodeMetricsOptions is the vendor call of a node-metrics key: its graph
// types under the names backend's version gives them.
func (s *Source) nodeMetricsOptions(ctx context.Context, k fleet.MetricsKey) api.MetricsOptions {
	opts := metricsOptions(k)
	v := s.APIVersion(ctx, k.Backend)
	for i, t := range opts.Types {
		if name, ok := vendorType(v, nodeLevel, t); ok {
			opts.Types[i] = name
		}
	}
	return opts
}

// graphTypes renames a node-metrics answer's vendor types to graph names.
func graphTypes(res fleet.MetricsResult, err error) (fleet.MetricsResult, error) {
	renamed := false
	for _, s := range res.Series {
		if t := graphType(s.Type); t != s.Type {
			s.Type, renamed = t, true
		}
	}
	if renamed { // keep runaiSeries' order: type, then labels
		sort.SliceStable(res.Series, func(i, j int) bool {
			a, b := res.Series[i], res.Series[j]
			if a.Type != b.Type {
				return a.Type < b.Type
			}
			return labelKey(a.Labels) < labelKey(b.Labels)
		})
	}
	if res.Partial != nil {
		p := *res.Partial
		p.Missing = make([]string, len(res.Partial.Missing))
		for i, t := range res.Partial.Missing {
			p.Missing[i] = graphType(t)
		}
		res.Partial = &p
	}
	return res, err
}
