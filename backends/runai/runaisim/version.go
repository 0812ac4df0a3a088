package runaisim

import (
	"fmt"
	"net/http"
	"slices"
)

// The API version a simulator serves (Options.Version), one per instance as
// a self-hosted control plane does (upstreams-2.md d.5). The lists here are
// written from the vendor's documents, not taken from the client: the
// simulator is the other side of the contract.

// Versions the simulator serves.
const (
	Version222 = "2.22"
	Version223 = "2.23"
	Version224 = "2.24"
)

// DefaultVersion is the version of a zero Options.
const DefaultVersion = Version222

var versions = []string{Version222, Version223, Version224}

// ParseVersion checks a version flag: 2.22, 2.23 or 2.24 ("" for the
// default).
func ParseVersion(s string) (string, error) {
	if s == "" {
		return DefaultVersion, nil
	}
	if !slices.Contains(versions, s) {
		return "", fmt.Errorf("runaisim: unknown version %q (2.22, 2.23 or 2.24)", s)
	}
	return s, nil
}

// since reports whether the simulator serves version v or a newer one.
func (s *Server) since(v string) bool {
	return slices.Index(versions, s.opts.Version) >= slices.Index(versions, v)
}

// from answers a route added in version v as an older control plane does:
// 404 with the catch-all's body, before authentication (the route does not
// exist there). It is still counted and subject to faults like every route,
// so that a probe shows in /_sim/stats.
func (s *Server) from(v string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.since(v) {
			writeError(w, http.StatusNotFound, notFoundRoute)
			return
		}
		h(w, r)
	}
}

// notFoundRoute is the catch-all's message for a path no route serves.
const notFoundRoute = "Resource not found."

// nodeMetricTypes is the NodeMetricType enum of the served version: 2.23
// appended the NVLink totals under DCGM names, 2.24 renamed them.
func (s *Server) nodeMetricTypes() []string {
	switch {
	case s.since(Version224):
		return append(slices.Clip(nodeMetricTypes), nvLinkTotal224, nvLinkTotalPerGPU224)
	case s.since(Version223):
		return append(slices.Clip(nodeMetricTypes), nvLinkTotal223, nvLinkTotalPerGPU223)
	}
	return nodeMetricTypes
}

// NVLink total node metrics, by version.
const (
	nvLinkTotal223       = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL"
	nvLinkTotalPerGPU223 = "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL_PER_GPU"
	nvLinkTotal224       = "NVLINK_BANDWIDTH_TOTAL"
	nvLinkTotalPerGPU224 = "NVLINK_BANDWIDTH_TOTAL_PER_GPU"
)

// isNVLinkTotal reports whether typ is an NVLink total of any version.
func isNVLinkTotal(typ string) bool {
	switch typ {
	case nvLinkTotal223, nvLinkTotalPerGPU223, nvLinkTotal224, nvLinkTotalPerGPU224:
		return true
	}
	return false
}

// metricsTypes is the MetricsType enum (node-pool and cluster metrics) of
// the served version: 2.23 appended WORKLOADS_COUNT.
func (s *Server) metricsTypes() []string {
	if s.since(Version223) {
		return append(slices.Clip(poolMetricTypes), "WORKLOADS_COUNT")
	}
	return poolMetricTypes
}

// Version returns the API version the simulator serves.
func (s *Server) Version() string { return s.opts.Version }
