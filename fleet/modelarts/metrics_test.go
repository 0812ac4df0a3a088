package modelarts

import (
	"context"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/aom"
)

func TestAggregateMeansPercentAndSumsBytes(t *testing.T) {
	t.Parallel()
	res := poolSeries{Nodes: map[string]nodeSeries{
		"10.0.0.1": {Points: [][2]float64{{1000, 10}, {2000, 20}}},
		"10.0.0.2": {Points: [][2]float64{{1000, 30}}}, // no sample at 2000: left out, not 0
		"10.0.0.3": {Points: [][2]float64{{1000, 99}, {2000, 99}}},
	}}
	poolA := map[string]bool{"10.0.0.1": true, "10.0.0.2": true}
	tests := []struct {
		unit string
		want [][2]float64
	}{
		{aom.UnitPercent, [][2]float64{{1000, 20}, {2000, 20}}},
		{aom.UnitBytes, [][2]float64{{1000, 40}, {2000, 20}}},
	}
	for _, tc := range tests {
		if got := aggregate(res, poolA, tc.unit); !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.unit, got, tc.want)
		}
	}
	if got := aggregate(res, map[string]bool{"10.9.9.9": true}, aom.UnitPercent); len(got) != 0 {
		t.Errorf("a pool without nodes: %v", got)
	}
}

func TestStep(t *testing.T) {
	t.Parallel()
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		span    time.Duration
		samples int
		want    time.Duration
	}{
		{time.Hour, 12, 5 * time.Minute},
		{time.Hour, 7, 514 * time.Second}, // truncated to whole seconds
		{10 * time.Second, 1000, time.Second},
		{time.Hour, 0, time.Minute},
	}
	for _, tc := range tests {
		if got := step(start, start.Add(tc.span), tc.samples); got != tc.want {
			t.Errorf("step(%v, %d) = %v, want %v", tc.span, tc.samples, got, tc.want)
		}
	}
}

func TestSetAOMRefusesATypeWithoutDefault(t *testing.T) {
	t.Parallel()
	s := New()
	c, err := aom.New(aom.Config{Name: "m", Endpoint: "http://aom.invalid", ProjectID: "p", Auth: nopAuth{}})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.SetAOM("m", AOMConfig{Client: c, Queries: map[string]string{"TOTAL_GPU": "x"}}); err == nil {
		t.Fatal("TOTAL_GPU accepted")
	}
	if err := s.SetAOM("m", AOMConfig{Client: c, Queries: map[string]string{aom.GPUUtilization: "y"}}); err != nil {
		t.Fatal(err)
	}
	if q := s.aom["m"].queries[aom.GPUUtilization]; q.PromQL != "y" || q.Unit != aom.UnitPercent || s.aom["m"].label != aom.DefaultNodeLabel {
		t.Fatalf("%+v", s.aom["m"])
	}
}

type nopAuth struct{}

func (nopAuth) Authorize(context.Context, *http.Request, []byte) (string, error) { return "", nil }
func (nopAuth) Reauthorize(string) bool                                          { return false }
