package resolvers

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/fleet"
	runaisource "github.com/fleetgraph/fleetgraph/fleet/runai"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	api := func(p backends.Provider, status int) error {
		return &backends.APIError{Backend: "b", Provider: p, Status: status, Message: "m"}
	}
	tests := []struct {
		name     string
		err      error
		code     string
		provider backends.Provider
	}{
		{"input", &InputError{Field: "first", Message: "bad"}, errcodes.BadUserInput, ""},
		{"401", api(backends.RunAI, http.StatusUnauthorized), errcodes.Unauthenticated, backends.RunAI},
		{"no credentials", &fleet.BackendError{Backend: "m", Provider: backends.ModelArts, Err: fmt.Errorf("x: %w", backends.ErrNoCredentials)}, errcodes.Unauthenticated, backends.ModelArts},
		{"403", api(backends.ModelArts, http.StatusForbidden), errcodes.Forbidden, backends.ModelArts},
		{"404", api(backends.RunAI, http.StatusNotFound), errcodes.NotFound, backends.RunAI},
		{"not found", &fleet.NotFoundError{What: "cluster", Name: "x"}, errcodes.NotFound, ""},
		{"429", api(backends.ModelArts, http.StatusTooManyRequests), errcodes.RateLimited, backends.ModelArts},
		{"503", api(backends.RunAI, http.StatusServiceUnavailable), errcodes.UpstreamUnavailable, backends.RunAI},
		{"500", api(backends.RunAI, http.StatusInternalServerError), errcodes.UpstreamError, backends.RunAI},
		{"400 from vendor", api(backends.RunAI, http.StatusBadRequest), errcodes.UpstreamError, backends.RunAI},
		{"transport", &backends.TransportError{Provider: backends.ModelArts, Err: errors.New("reset")}, errcodes.UpstreamUnavailable, backends.ModelArts},
		{"timeout", &backends.TransportError{Provider: backends.RunAI, Timeout: true, Err: context.DeadlineExceeded}, errcodes.UpstreamTimeout, backends.RunAI},
		{"partial", &fleet.BackendError{Backend: "r", Provider: backends.RunAI, Err: &backends.PartialError{Missing: []string{"GPU_UTILIZATION"}}}, errcodes.UpstreamError, backends.RunAI},
		{"unknown", errors.New("boom"), errcodes.Internal, ""},
	}
	for _, tt := range tests {
		code, p := Classify(tt.err)
		if code != tt.code || p != tt.provider {
			t.Errorf("%s: Classify = %s/%q, want %s/%q", tt.name, code, p, tt.code, tt.provider)
		}
	}
}

func TestCheckArguments(t *testing.T) {
	t.Parallel()
	cluster := runaisource.ClusterID{Backend: "r", Cluster: "71f69d83-ba66-4822-adf5-55ce55efd210"}.Encode()
	node := runaisource.NodeID{Backend: "r", Cluster: "71f69d83-ba66-4822-adf5-55ce55efd210", Node: "n"}.Encode()
	tests := []struct {
		field string
		args  map[string]any
		bad   string // expected InputError field; "" = valid
	}{
		{"node", map[string]any{"id": node}, ""},
		{"node", map[string]any{"id": cluster}, "id"},
		{"node", map[string]any{"id": "garbage"}, "id"},
		{"nodes", map[string]any{"first": int64(500)}, ""},
		{"nodes", map[string]any{"first": int64(0)}, "first"},
		{"nodes", map[string]any{"first": int64(501)}, "first"},
		{"nodes", map[string]any{"after": "nope"}, "after"},
		{"nodes", map[string]any{"filter": map[string]any{"clusterId": node}}, "filter.clusterId"},
		{"nodes", map[string]any{"filter": map[string]any{"nodePoolId": "x"}}, "filter.nodePoolId"},
		{"nodeTelemetry", map[string]any{"clusterId": "x"}, "clusterId"},
		{"nodeTelemetry", map[string]any{"groupBy": []any{"NODE", "NODEPOOL", "CLUSTER_ID"}}, "groupBy"},
		{"metrics", map[string]any{"types": []any{"GPU_UTILIZATION"}, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}, ""},
		{"metrics", map[string]any{"types": []any{}, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z"}, "types"},
		{"metrics", map[string]any{"types": []any{"A"}, "start": "2026-01-01T01:00:00Z", "end": "2026-01-01T01:00:00Z"}, "start"},
		{"metrics", map[string]any{"types": []any{"A"}, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "samples": int64(1001)}, "samples"},
		{"metrics", map[string]any{"types": []any{"A"}, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "samples": int64(-1)}, "samples"},
		{"metrics", map[string]any{"types": []any{"A"}, "start": "2026-01-01T00:00:00Z", "end": "2026-01-01T01:00:00Z", "samples": int64(0)}, ""},
	}
	for i, tt := range tests {
		err := checkArguments(tt.field, tt.args)
		var in *InputError
		switch {
		case tt.bad == "" && err != nil:
			t.Errorf("case %d (%s): unexpected %v", i, tt.field, err)
		case tt.bad != "" && !errors.As(err, &in):
			t.Errorf("case %d (%s): got %v, want InputError on %s", i, tt.field, err, tt.bad)
		case tt.bad != "" && in.Field != tt.bad:
			t.Errorf("case %d (%s): field %s, want %s", i, tt.field, in.Field, tt.bad)
		}
	}
}
