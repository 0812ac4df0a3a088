package runai

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"

	"github.com/fleetgraph/fleetgraph/backends"
)

// APIVersion is the control-plane API release a backend speaks: "2.22",
// "2.23" or "2.24". Self-hosted control planes serve one versioned API per
// release, fixed for its life; SaaS tracks the latest (upstreams-2.md d.5).
// The API has no version endpoint, and DisplayedCluster.version is a
// cluster's version, not the control plane's: the version is configured,
// or told apart by ProbeAPIVersion.
type APIVersion string

// Known API versions, oldest first.
const (
	// V222 is the baseline: nodes are listed per cluster only.
	V222 APIVersion = "2.22"
	// V223 adds the tenant-wide node listing (GET /api/v1/nodes and
	// /api/v1/nodes/count), the NVLink total node metrics under their DCGM
	// names, WORKLOADS_COUNT, and groupBy/nodepoolName on cluster metrics.
	V223 APIVersion = "2.23"
	// V224 renames the NVLink total node metrics to NVLINK_BANDWIDTH_TOTAL
	// and NVLINK_BANDWIDTH_TOTAL_PER_GPU (the DCGM names are gone).
	V224 APIVersion = "2.24"
)

var knownVersions = []APIVersion{V222, V223, V224}

// ParseAPIVersion reads a configured version. It accepts exactly the known
// versions: a newer release is not assumed to keep 2.24's names.
func ParseAPIVersion(s string) (APIVersion, error) {
	for _, v := range knownVersions {
		if string(v) == s {
			return v, nil
		}
	}
	return "", fmt.Errorf("runai: unknown API version %q (known: 2.22, 2.23, 2.24)", s)
}

// atLeast reports whether v is w or newer. An unknown v counts as V222.
func (v APIVersion) atLeast(w APIVersion) bool { return v.rank() >= w.rank() }

func (v APIVersion) rank() int {
	for i, k := range knownVersions {
		if k == v {
			return i
		}
	}
	return 0
}

// HasTenantNodes reports whether v serves ListTenantNodes and
// CountTenantNodes: one listing per control plane instead of one per
// cluster. The per-cluster listing is deprecated from 2.23 but still served
// by 2.24.
func (v APIVersion) HasTenantNodes() bool { return v.atLeast(V223) }

// HasClusterMetricsGrouping reports whether v reads ClusterMetricsOptions'
// GroupBy and NodePoolName.
func (v APIVersion) HasClusterMetricsGrouping() bool { return v.atLeast(V223) }

// ProbeAPIVersion tells a 2.22 control plane from a newer one with one call
// to GET /api/v1/nodes/count, which 2.23 added:
//
//   - 200: V223, meaning "2.23 or later". The probe cannot tell 2.23 from
//     2.24: they differ only in the names of the NVLink total metrics
//     (NVLinkBandwidthTotalTypes), which need a configured version.
//   - 404: V222. The route is unknown to the older release; its body may
//     be any page, not the vendor's Error (upstreams-2.md, Unknowns 11).
//   - anything else (401, 403, 5xx, a transport failure): "", and the
//     error. Nothing is concluded: a caller should keep its configured
//     behaviour or retry the probe later, not fall back for good.
//
// It counts the tenant's nodes without a filter: the cheapest call that
// exists only from 2.23.
func (c *Client) ProbeAPIVersion(ctx context.Context) (APIVersion, error) {
	req := request{method: http.MethodGet, route: routeTenantNodesCount, query: url.Values{}}
	if _, err := c.count(ctx, req); err != nil {
		if errors.Is(err, backends.ErrNotFound) {
			return V222, nil
		}
		return "", err
	}
	return V223, nil
}
