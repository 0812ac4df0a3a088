package runai

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
	"github.com/fleetgraph/fleetgraph/fleet"
)

const countRoute = "GET /api/v1/nodes/count"

// simSource is a Source over one Run:ai simulator (a non-empty base path,
// so that an absolute-URL mistake fails) and its clock.
func simSource(t *testing.T, o runaisim.Options) (*Source, *runaisim.Server, *time.Time) {
	t.Helper()
	sim := runaisim.New(o)
	mux := http.NewServeMux()
	mux.Handle("/base/", http.StripPrefix("/base", sim.Handler()))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := api.New(api.Config{Name: "ra", BaseURL: srv.URL + "/base", ClientID: runaisim.DefaultClientID, ClientSecret: runaisim.DefaultClientSecret})
	if err != nil {
		t.Fatal(err)
	}
	s := New(c)
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	s.versions["ra"].now = func() time.Time { return now }
	return s, sim, &now
}

// Not parallel: it swaps the default logger, where the adapter logs (the
// package's parallel tests run after it).
func TestProbeRetriedAfterFailure(t *testing.T) {
	var logs bytes.Buffer
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.NewTextHandler(&logs, nil)))
	t.Cleanup(func() { slog.SetDefault(prev) })

	s, sim, now := simSource(t, runaisim.Options{Version: runaisim.Version223})
	if err := sim.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 403, Routes: []string{countRoute}}); err != nil {
		t.Fatal(err)
	}
	want := func(step string, v Version, probes int64) {
		t.Helper()
		if got := s.APIVersion(t.Context(), "ra"); got != v {
			t.Fatalf("%s: version %+v, want %+v", step, got, v)
		}
		if got := sim.Control().Count(countRoute); got != probes {
			t.Fatalf("%s: %d probes, want %d", step, got, probes)
		}
	}
	assumed := Version{APIVersion: api.V222, Probed: true, Assumed: true}
	want("failed probe", assumed, 1)
	if l := logs.String(); !strings.Contains(l, "runai API version probe failed") || !strings.Contains(l, "backend=ra") || !strings.Contains(l, "retryIn=1m0s") {
		t.Fatalf("the failed probe was not logged: %s", l)
	}
	*now = now.Add(ProbeRetry - time.Second)
	want("within a minute", assumed, 1)
	sim.Control().ClearFaults()
	*now = now.Add(2 * time.Second)
	want("retried", Version{APIVersion: api.V223, Probed: true}, 2)
	*now = now.Add(time.Hour)
	want("decided for good", Version{APIVersion: api.V223, Probed: true}, 2)
}

func TestProbeOnceForConcurrentFirstUsers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		sim  string
		want api.APIVersion
	}{{runaisim.Version222, api.V222}, {runaisim.Version223, api.V223}, {runaisim.Version224, api.V223}} {
		s, sim, _ := simSource(t, runaisim.Options{Version: tc.sim, Latency: 20 * time.Millisecond})
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				if v := s.APIVersion(t.Context(), "ra"); v != (Version{APIVersion: tc.want, Probed: true}) {
					t.Errorf("sim %s: %+v, want %s probed", tc.sim, v, tc.want)
				}
			})
		}
		wg.Wait()
		if n := sim.Control().Count(countRoute); n != 1 {
			t.Errorf("sim %s: %d probes, want 1", tc.sim, n)
		}
	}
}

func TestConfiguredVersionIsNotProbed(t *testing.T) {
	t.Parallel()
	s, sim, _ := simSource(t, runaisim.Options{Version: runaisim.Version224})
	s.SetAPIVersion("ra", api.V224)
	if v := s.APIVersion(t.Context(), "ra"); v != (Version{APIVersion: api.V224}) {
		t.Fatalf("%+v", v)
	}
	if n := sim.Control().Total(); n != 0 {
		t.Fatalf("%d calls, want none", n)
	}
}

func TestCancelledProbeIsNotAFailure(t *testing.T) {
	t.Parallel()
	s, sim, _ := simSource(t, runaisim.Options{Version: runaisim.Version223})
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if v := s.APIVersion(ctx, "ra"); !v.Assumed {
		t.Fatalf("cancelled: %+v", v)
	}
	// Nothing learnt, no back-off: the next caller probes.
	if v := s.APIVersion(t.Context(), "ra"); v != (Version{APIVersion: api.V223, Probed: true}) {
		t.Fatalf("after a cancelled probe: %+v", v)
	}
	if n := sim.Control().Count(countRoute); n != 1 {
		t.Fatalf("%d probes counted, want 1 (the cancelled one was never sent)", n)
	}
}

func TestMetricTypesByVersion(t *testing.T) {
	t.Parallel()
	configured := func(v api.APIVersion) Version { return Version{APIVersion: v} }
	probed := func(v api.APIVersion) Version { return Version{APIVersion: v, Probed: true} }
	for _, tc := range []struct {
		v         Version
		level     metricLevel
		typ, name string // name "": not served
		errHas    string
	}{
		{configured(api.V222), nodeLevel, "GPU_UTILIZATION", "GPU_UTILIZATION", ""},
		{configured(api.V222), nodeLevel, "NVLINK_BANDWIDTH_TOTAL", "", "NVLINK_BANDWIDTH_TOTAL is not served by Run:ai API 2.22 (backend ra)"},
		{configured(api.V222), poolLevel, "WORKLOADS_COUNT", "", "WORKLOADS_COUNT is not served by Run:ai API 2.22 (backend ra): node pool metrics"},
		{configured(api.V223), nodeLevel, "NVLINK_BANDWIDTH_TOTAL", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL", ""},
		{configured(api.V223), nodeLevel, "NVLINK_BANDWIDTH_TOTAL_PER_GPU", "DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL_PER_GPU", ""},
		{configured(api.V224), nodeLevel, "NVLINK_BANDWIDTH_TOTAL", "NVLINK_BANDWIDTH_TOTAL", ""},
		{configured(api.V224), nodeLevel, "NVLINK_BANDWIDTH_TOTAL_PER_GPU", "NVLINK_BANDWIDTH_TOTAL_PER_GPU", ""},
		{configured(api.V223), poolLevel, "WORKLOADS_COUNT", "WORKLOADS_COUNT", ""},
		{probed(api.V223), poolLevel, "WORKLOADS_COUNT", "WORKLOADS_COUNT", ""},
		{probed(api.V223), nodeLevel, "NVLINK_BANDWIDTH_TOTAL", "", `needs the Run:ai API version of backend ra configured (apiVersion "2.23" or "2.24")`},
		{probed(api.V222), nodeLevel, "NVLINK_BANDWIDTH_TOTAL", "", "not served by Run:ai API 2.22"},
		{Version{APIVersion: api.V222, Probed: true, Assumed: true}, poolLevel, "WORKLOADS_COUNT", "", "could not be probed yet"},
	} {
		name, ok := vendorType(tc.v, tc.level, tc.typ)
		if ok != (tc.name != "") || (ok && name != tc.name) {
			t.Errorf("%+v %s %s: %q %v, want %q", tc.v, tc.level, tc.typ, name, ok, tc.name)
		}
		err := unservedTypeError("ra", tc.v, tc.level, fleet.SortTypes([]string{"CPU_UTILIZATION", tc.typ}))
		if (err == nil) != (tc.errHas == "") || (err != nil && !strings.Contains(err.Error(), tc.errHas)) {
			t.Errorf("%+v %s %s: error %v, want one with %q", tc.v, tc.level, tc.typ, err, tc.errHas)
		}
	}
	if got := graphType("DCGM_FI_DEV_NVLINK_BANDWIDTH_TOTAL_PER_GPU"); got != "NVLINK_BANDWIDTH_TOTAL_PER_GPU" {
		t.Errorf("graphType: %s", got)
	}
}

// A pass-through backend probes with the caller's bearer: a caller without
// one sends nothing and delays no later caller's probe.
func TestProbeWaitsForACredential(t *testing.T) {
	t.Parallel()
	sim := runaisim.New(runaisim.Options{Version: runaisim.Version223})
	srv := httptest.NewServer(sim.Handler())
	t.Cleanup(srv.Close)
	c, err := api.New(api.Config{Name: "ra", BaseURL: srv.URL, PassThrough: true})
	if err != nil {
		t.Fatal(err)
	}
	s := New(c)
	if v := s.APIVersion(t.Context(), "ra"); !v.Assumed {
		t.Fatalf("without a credential: %+v", v)
	}
	if n := sim.Control().Total(); n != 0 {
		t.Fatalf("%d calls without a credential", n)
	}
	tok := bearer(t, srv.URL)
	ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: tok})
	if v := s.APIVersion(ctx, "ra"); v != (Version{APIVersion: api.V223, Probed: true}) {
		t.Fatalf("with a credential: %+v", v)
	}
}

// bearer is a token of the simulator at base (its default client).
func bearer(t *testing.T, base string) string {
	t.Helper()
	body := `{"grantType":"client_credentials","clientId":"` + runaisim.DefaultClientID + `","clientSecret":"` + runaisim.DefaultClientSecret + `"}`
	resp, err := http.Post(base+"/api/v1/token", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ AccessToken string }
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil || out.AccessToken == "" {
		t.Fatalf("token: %v %+v", err, out)
	}
	return out.AccessToken
}
