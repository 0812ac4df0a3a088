package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BudgetMetrics are the upstream budget's (backends/budget): what it
// decided per backend and class, how long calls waited, how much is left
// and what was learned from the vendor's 429s.
type BudgetMetrics struct {
	Decisions *prometheus.CounterVec   // backend, class, outcome (admitted|waited|refused)
	Wait      *prometheus.HistogramVec // backend, class
	Remaining *prometheus.GaugeVec     // backend
	Learned   *prometheus.GaugeVec     // backend; 0: nothing learned
	// StaleAnswers counts operations answered with stale data because the
	// budget refused a call (reason "budget"), by backend.
	StaleAnswers *prometheus.CounterVec
	// PlanRefusals counts queries refused before any call per object
	// because their plan could never fit the budget, by backend and class.
	PlanRefusals *prometheus.CounterVec
}

func newBudgetMetrics() *BudgetMetrics {
	return &BudgetMetrics{
		Decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_upstream_budget_decisions_total",
			Help: "Upstream budget decisions by backend, class (mutation, interactive, dashboard, background) and outcome (admitted, waited, refused).",
		}, []string{"backend", "class", "outcome"}),
		Wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fleetgraph_upstream_budget_wait_seconds",
			Help:    "How long calls waited for the upstream budget, by backend and class.",
			Buckets: []float64{.001, .01, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"backend", "class"}),
		Remaining: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetgraph_upstream_budget_remaining",
			Help: "Calls the upstream budget had left at once after its last decision, by backend.",
		}, []string{"backend"}),
		Learned: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fleetgraph_upstream_budget_learned_per_minute",
			Help: "The rate learned from the vendor's last 429, calls per minute, by backend.",
		}, []string{"backend"}),
		StaleAnswers: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_upstream_budget_stale_total",
			Help: "Values served stale because the upstream budget refused the call, by backend.",
		}, []string{"backend"}),
		PlanRefusals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_upstream_budget_plan_refusals_total",
			Help: "Queries refused before their calls because their plan needs more calls than the upstream budget could give them within the request timeout, by backend and class.",
		}, []string{"backend", "class"}),
	}
}

func (b *BudgetMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{b.Decisions, b.Wait, b.Remaining, b.Learned, b.StaleAnswers, b.PlanRefusals}
}

// BudgetDecision implements budget.Observer.
func (m *Metrics) BudgetDecision(backend, class, outcome string, waited time.Duration) {
	m.Budget.Decisions.WithLabelValues(backend, class, outcome).Inc()
	m.Budget.Wait.WithLabelValues(backend, class).Observe(waited.Seconds())
}

// BudgetRemaining implements budget.Observer.
func (m *Metrics) BudgetRemaining(backend string, remaining int) {
	m.Budget.Remaining.WithLabelValues(backend).Set(float64(remaining))
}

// BudgetLearned implements budget.Observer.
func (m *Metrics) BudgetLearned(backend string, perMinute float64) {
	m.Budget.Learned.WithLabelValues(backend).Set(perMinute)
}
