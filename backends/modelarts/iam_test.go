package modelarts_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

func TestIAMTokenSingleFlight(t *testing.T) {
	t.Parallel()
	e := setup(t, modelartssim.Options{})
	// A slow IAM so that every caller arrives while the first fetch runs.
	if err := e.sim.Control().SetFaults(simctl.Faults{LatencyMs: 100, Routes: []string{modelartssim.RouteIAMTokens}}); err != nil {
		t.Fatal(err)
	}
	c := e.client(t, modelarts.Config{IAM: e.iamConfig()})
	const n = 20
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := c.ListPools(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	ctl := e.sim.Control()
	if got := ctl.Count(modelartssim.RouteIAMTokens); got != 1 {
		t.Errorf("IAM calls = %d, want 1 for %d concurrent requests", got, n)
	}
	if got := ctl.Count(modelartssim.RouteListPools); got != n {
		t.Errorf("ListPools calls = %d, want %d", got, n)
	}
}

func TestIAMTokenLifecycle(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		advance time.Duration // after the first call
		iamDown bool          // IAM fails after the first token
		wantIAM int64
	}{
		{name: "cached while more than 1h is left", advance: 22 * time.Hour, wantIAM: 1},
		{name: "renewed when less than 1h is left", advance: 23*time.Hour + 30*time.Minute, wantIAM: 2},
		{name: "renewed after expiry", advance: 25 * time.Hour, wantIAM: 2},
		{name: "renewal failing: the still-valid token is used", advance: 23*time.Hour + 30*time.Minute, iamDown: true, wantIAM: 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, modelartssim.Options{})
			c := e.client(t, modelarts.Config{IAM: e.iamConfig()})
			if _, err := c.ListPools(t.Context()); err != nil {
				t.Fatal(err)
			}
			e.clock.Advance(tc.advance)
			if tc.iamDown {
				if err := e.sim.Control().SetFaults(simctl.Faults{Down: true, Routes: []string{modelartssim.RouteIAMTokens}}); err != nil {
					t.Fatal(err)
				}
			}
			if _, err := c.ListPools(t.Context()); err != nil {
				t.Fatal(err)
			}
			if got := e.sim.Control().Count(modelartssim.RouteIAMTokens); got != tc.wantIAM {
				t.Errorf("IAM calls = %d, want %d", got, tc.wantIAM)
			}
		})
	}
}

// TestIAMRenewsOn401: the simulator's clock runs 25 h ahead of the client's,
// so the cached token looks fresh to the client but is expired upstream. The
// client drops it, fetches a new one and repeats the call once.
func TestIAMRenewsOn401(t *testing.T) {
	t.Parallel()
	simClock := newClock()
	e := setup(t, modelartssim.Options{Now: simClock.Now})
	c := e.client(t, modelarts.Config{IAM: e.iamConfig()})
	if _, err := c.ListPools(t.Context()); err != nil {
		t.Fatal(err)
	}
	simClock.Advance(25 * time.Hour)
	if _, err := c.ListPools(t.Context()); err != nil {
		t.Fatalf("after upstream expiry: %v", err)
	}
	ctl := e.sim.Control()
	if got := ctl.Count(modelartssim.RouteIAMTokens); got != 2 {
		t.Errorf("IAM calls = %d, want 2", got)
	}
	if got := ctl.Count(modelartssim.RouteListPools); got != 3 {
		t.Errorf("ListPools calls = %d, want 3 (ok, 401, retried ok)", got)
	}
}

// TestIAMRetriesOnlyOnce: an API that keeps answering 401 gets the call twice,
// never more.
func TestIAMRetriesOnlyOnce(t *testing.T) {
	t.Parallel()
	var iam, api atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == basePath+"/v3/auth/tokens" {
			iam.Add(1)
			w.Header().Set("X-Subject-Token", "tok")
			w.WriteHeader(http.StatusCreated)
			_, _ = w.Write([]byte(`{"token":{"expires_at":"2099-01-01T00:00:00.000000Z","issued_at":"2098-12-31T00:00:00.000000Z"}}`))
			return
		}
		api.Add(1)
		w.WriteHeader(http.StatusUnauthorized)
		_, _ = w.Write([]byte(`{"error_code":"APIGW.0301","error_msg":"Incorrect IAM authentication information: decrypt token fail"}`))
	}))
	t.Cleanup(srv.Close)
	c, err := modelarts.New(modelarts.Config{Name: "m", Endpoint: srv.URL + basePath, ProjectID: "p",
		IAM: &modelarts.IAMConfig{Endpoint: srv.URL + basePath, Username: "u", Password: "pw", Domain: "d", Project: "cn-north-4"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.ListPools(t.Context())
	if !errors.Is(err, backends.ErrUnauthorized) {
		t.Fatalf("err = %v, want ErrUnauthorized", err)
	}
	if iam.Load() != 2 || api.Load() != 2 {
		t.Errorf("IAM calls %d, API calls %d; want 2 and 2", iam.Load(), api.Load())
	}
}

func TestIAMFailures(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		mod      func(*modelarts.IAMConfig)
		faults   *simctl.Faults
		sentinel error
	}{
		{name: "wrong password", mod: func(c *modelarts.IAMConfig) { c.Password = "nope" }, sentinel: backends.ErrUnauthorized},
		{name: "unknown project", mod: func(c *modelarts.IAMConfig) { c.Project = "eu-west-0" }, sentinel: backends.ErrBadRequest},
		{name: "IAM down", faults: &simctl.Faults{Down: true, Routes: []string{modelartssim.RouteIAMTokens}}, sentinel: backends.ErrUnavailable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, modelartssim.Options{})
			iam := e.iamConfig()
			if tc.mod != nil {
				tc.mod(iam)
			}
			if tc.faults != nil {
				if err := e.sim.Control().SetFaults(*tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			c := e.client(t, modelarts.Config{IAM: iam})
			_, err := c.ListPools(t.Context())
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			var ae *backends.APIError
			if !errors.As(err, &ae) || ae.Route != "/v3/auth/tokens" || ae.Method != http.MethodPost || ae.Message == "" {
				t.Errorf("err = %+v, want an APIError on POST /v3/auth/tokens", ae)
			}
			if got := e.sim.Control().Count(modelartssim.RouteListPools); got != 0 {
				t.Errorf("ListPools calls = %d, want 0 without a token", got)
			}
		})
	}
}
