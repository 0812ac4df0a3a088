package main

// The results of fgbench budget (bench/results/budget.json), which the
// report (report_budget.go) reads.

import (
	"encoding/json"
	"os"
	"path/filepath"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// budgetResults is bench/results/budget.json.
type budgetResults struct {
	Kind     string         `json:"kind"`
	Meta     harness.Meta   `json:"meta"`
	Uptime   string         `json:"uptimeAtStart"`
	Settings budgetSettings `json:"settings"`
	Phases   []budgetPhase  `json:"phases"`
	// PeakCalls is the most simulator calls (every account, every route)
	// in any PeakSpanSeconds of the run (60, or the run when shorter),
	// from Samples.
	PeakCalls       int64       `json:"peakCalls"`
	PeakSpanSeconds float64     `json:"peakSpanSeconds"`
	Throttled       int64       `json:"throttled"` // since the simulator started: setup, warm-up and every phase
	Samples         []simSample `json:"samples"`
}

type budgetSettings struct {
	Fleet                 harness.Fleet `json:"fleet"`
	LatencyMs             float64       `json:"latencyMs"`
	Replicas              int           `json:"replicas"`
	SimLimitPerMinute     int           `json:"simLimitPerMinute"`
	PerSecond             float64       `json:"perSecond"`
	Burst                 int           `json:"burst"`
	WindowSeconds         float64       `json:"windowSeconds"`
	ColdDashboards        int           `json:"coldDashboards"`
	WarmDashboards        int           `json:"warmDashboards"`
	LookupRate            float64       `json:"lookupRate"`
	MetricsPastTTLSeconds float64       `json:"metricsPastTTLSeconds"`
	WarmPasses            int           `json:"warmPasses"`
	// DiagnosePool is the Redis pool_size of the "storm-pool" phase's
	// replicas (0: not run); the others use go-redis's default.
	DiagnosePool int    `json:"diagnosePool,omitempty"`
	Redis        string `json:"redis"`
}

// budgetPhase is one measured window, on the same processes.
type budgetPhase struct {
	Name        string  `json:"name"`
	Description string  `json:"description"`
	Seconds     float64 `json:"seconds"`
	Lookups     outcome `json:"lookups"`
	Cold        outcome `json:"coldDashboards"`
	Warm        outcome `json:"warmDashboards"`
	// SimCalls is the simulator's vendor calls over the window, every
	// replica's; SimPerMinute the same as a rate.
	SimCalls     int64            `json:"simCalls"`
	SimPerMinute float64          `json:"simPerMinute"`
	Throttled    int64            `json:"throttled"`
	SimRoutes    map[string]int64 `json:"simRoutes"`
	// Decisions is fleetgraph_upstream_budget_decisions_total over the
	// window summed over the replicas, by "class/outcome".
	Decisions map[string]float64 `json:"decisions"`
	// Waits is fleetgraph_upstream_budget_wait_seconds over the window
	// summed over the replicas, by class.
	Waits map[string]*waitHist `json:"waits"`
	// RedisFallbacks counts the replicas' warnings that the budget's
	// Redis calls failed (each then budgets locally for 5 s; a replica
	// warns at most once a minute).
	RedisFallbacks int     `json:"redisFallbacks"`
	BudgetStale    float64 `json:"budgetStale"`  // fleetgraph_upstream_budget_stale_total
	PlanRefusals   float64 `json:"planRefusals"` // fleetgraph_upstream_budget_plan_refusals_total
	// Left counts what an observer saw left of the budget ("calls at
	// once", 0..burst), peeking every 10 ms on its own Redis connection.
	Left map[int]int `json:"left"`
	// CPU seconds (utime+stime) over the window: the gateways summed, the
	// simulator, redis-server.
	GatewayCPU   float64 `json:"gatewayCpuS"`
	SimCPU       float64 `json:"simCpuS"`
	RedisCPU     float64 `json:"redisCpuS"`
	LoadAvgStart string  `json:"loadAvgStart"`
	LoadAvgEnd   string  `json:"loadAvgEnd"`
}

// outcome is what one kind of client got over a phase.
type outcome struct {
	Requests int `json:"requests"`
	Clean    int `json:"clean"`  // data, no errors, nothing stale
	Stale    int `json:"stale"`  // data, no errors, extensions.stale
	Errors   int `json:"errors"` // GraphQL errors (partial data)
	Failed   int `json:"failed"` // transport error or not HTTP 200
	// ErrorCodes counts the errors by extensions.code; StaleReasons the
	// stale entries by reason.
	ErrorCodes   map[string]int `json:"errorCodes,omitempty"`
	StaleReasons map[string]int `json:"staleReasons,omitempty"`
	P50ms        float64        `json:"p50ms"`
	P95ms        float64        `json:"p95ms"`
	P99ms        float64        `json:"p99ms"`
	MeanMs       float64        `json:"meanMs"`
	FirstError   string         `json:"firstError,omitempty"`
}

// waitHist is one class's wait histogram: Count decisions that waited
// SumSeconds in all, Le[bound] of them at most bound seconds.
type waitHist struct {
	Count      float64            `json:"count"`
	SumSeconds float64            `json:"sumSeconds"`
	Le         map[string]float64 `json:"le"`
}

// simSample is the simulator's counters at one instant of the run.
type simSample struct {
	Second    float64 `json:"s"`
	Total     int64   `json:"total"`
	Throttled int64   `json:"throttled"`
}

func (r *budgetResults) save(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, "budget.json"), append(b, '\n'), 0o644)
}

// loadBudgetResults reads dir/budget.json; nil when there is none.
func loadBudgetResults(dir string) (*budgetResults, error) {
	b, err := os.ReadFile(filepath.Join(dir, "budget.json"))
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var r budgetResults
	return &r, json.Unmarshal(b, &r)
}
