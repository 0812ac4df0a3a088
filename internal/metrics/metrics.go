// Package metrics defines the gateway's Prometheus metrics. One *Metrics is
// built at start-up and handed to whatever records into it; tests build
// their own, so no metric is global.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the gateway's collectors, registered on their own registry.
type Metrics struct {
	Registry *prometheus.Registry
	// Budget: the upstream budget's metrics (budget.go).
	Budget *BudgetMetrics

	// UpstreamRequests counts vendor calls by result: code is the HTTP status,
	// or "transport_error", "timeout", "canceled" (the caller went away),
	// "breaker_open" (not sent).
	UpstreamRequests *prometheus.CounterVec   // backend, provider, route, code
	UpstreamDuration *prometheus.HistogramVec // backend, provider, route
	// UpstreamRetries counts retried GETs by the reason of the retry.
	UpstreamRetries *prometheus.CounterVec // backend, provider, reason
	// CacheOperations: op get|set|delete; result hit|miss|stale|error|bypass|ok.
	CacheOperations *prometheus.CounterVec
	// BreakerState is 0 closed, 1 half-open, 2 open.
	BreakerState *prometheus.GaugeVec // backend
	// VendorNullItems counts null list items the vendor clients skipped
	// (they would have become empty objects), and items without identity;
	// kind is the answer's route kind (nodes, nodepools, metrics, ...).
	VendorNullItems *prometheus.CounterVec // backend, kind
	// VendorDroppedSamples counts metric and telemetry values dropped from
	// their series for not being finite numbers (NaN, +Inf, -Inf, null,
	// unparsable).
	VendorDroppedSamples *prometheus.CounterVec // backend, kind
}

// New builds the collectors on a fresh registry (with Go and process
// collectors).
func New() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		UpstreamRequests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_upstream_requests_total",
			Help: "Vendor API calls, by backend, provider, route template and result code.",
		}, []string{"backend", "provider", "route", "code"}),
		UpstreamDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetgraph_upstream_request_duration_seconds",
			Help:    "Vendor API call latency, one observation per attempt.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"backend", "provider", "route"}),
		UpstreamRetries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_upstream_retries_total",
			Help: "Retried idempotent vendor calls, by reason (status code or transport_error).",
		}, []string{"backend", "provider", "reason"}),
		CacheOperations: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_cache_operations_total",
			Help: "Cache operations by op (get, set, delete) and result (hit, miss, stale, error, bypass, ok).",
		}, []string{"op", "result"}),
		BreakerState: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetgraph_breaker_state",
			Help: "Circuit breaker state per backend: 0 closed, 1 half-open, 2 open.",
		}, []string{"backend"}),
		VendorNullItems: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_vendor_null_items_total",
			Help: "Null list items, and items without identity (no name, id or uuid), in vendor answers, skipped instead of decoded, by backend and answer kind.",
		}, []string{"backend", "kind"}),
		VendorDroppedSamples: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_vendor_dropped_samples_total",
			Help: "Vendor metric and telemetry values dropped for not being finite numbers (NaN, +Inf, -Inf, null, unparsable), by backend and answer kind.",
		}, []string{"backend", "kind"}),
	}
	m.Budget = newBudgetMetrics()
	m.Registry.MustRegister(m.Budget.collectors()...)
	m.Registry.MustRegister(m.UpstreamRequests, m.UpstreamDuration, m.UpstreamRetries, m.CacheOperations, m.BreakerState,
		m.VendorNullItems, m.VendorDroppedSamples,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// NullItems implements backends.Observer.
func (m *Metrics) NullItems(backend, kind string, n int) {
	m.VendorNullItems.WithLabelValues(backend, kind).Add(float64(n))
}

// DroppedSamples implements backends.Observer.
func (m *Metrics) DroppedSamples(backend, kind string, n int) {
	m.VendorDroppedSamples.WithLabelValues(backend, kind).Add(float64(n))
}

// Handler serves the registry in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{Registry: m.Registry})
}
