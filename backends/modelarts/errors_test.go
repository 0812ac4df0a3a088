package modelarts_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// unknownPool is well-formed (36..63 chars) but not in any fleet.
const unknownPool = "lite-pool-9-00000000000000000000000000000000"

func TestErrorMapping(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		cfg      func(*env) modelarts.Config
		faults   *simctl.Faults
		call     func(context.Context, *modelarts.Client, modelartssim.Fleet) error
		sentinel error
		status   int
		code     string
		route    string
		// noValidate: the request is not routable in the OpenAPI document
		// (the router works on the decoded path).
		noValidate bool
	}{
		{
			name: "unknown pool", sentinel: backends.ErrNotFound, status: 404, code: "ModelArts.50015001", route: modelarts.RoutePool,
			call: func(ctx context.Context, c *modelarts.Client, _ modelartssim.Fleet) error {
				_, err := c.GetPool(ctx, unknownPool)
				return err
			},
		},
		{
			name: "unknown node pool", sentinel: backends.ErrNotFound, status: 404, code: "ModelArts.50015001", route: modelarts.RouteNodePoolNodes,
			call: func(ctx context.Context, c *modelarts.Client, f modelartssim.Fleet) error {
				_, err := c.ListNodePoolNodes(ctx, f.Pools[0].Metadata.Name, "nodepool-99")
				return err
			},
		},
		{
			name: "invalid node pool name, escaped into one segment", sentinel: backends.ErrBadRequest, status: 400, code: "ModelArts.50004000", route: modelarts.RouteNodePool,
			noValidate: true,
			call: func(ctx context.Context, c *modelarts.Client, f modelartssim.Fleet) error {
				_, err := c.GetNodePool(ctx, f.Pools[0].Metadata.Name, "a b/../c?d")
				return err
			},
		},
		{
			name: "AK/SK over an escaped path under a base path: signature holds, name rejected", sentinel: backends.ErrBadRequest, status: 400, code: "ModelArts.50004000", route: modelarts.RouteNodePoolNodes,
			noValidate: true,
			cfg: func(*env) modelarts.Config {
				return modelarts.Config{AccessKey: modelartssim.DefaultAccessKey, SecretKey: modelartssim.DefaultSecretKey}
			},
			call: func(ctx context.Context, c *modelarts.Client, f modelartssim.Fleet) error {
				_, err := c.ListNodePoolNodes(ctx, f.Pools[0].Metadata.Name, "ünï cödé/%2F")
				return err
			},
		},
		{
			name: "AK/SK secret mismatch", sentinel: backends.ErrUnauthorized, status: 401, code: "APIGW.0301", route: modelarts.RoutePools,
			cfg: func(*env) modelarts.Config {
				return modelarts.Config{AccessKey: modelartssim.DefaultAccessKey, SecretKey: "wrong-secret"}
			},
			call: listPools,
		},
		{
			name: "token from another IAM", sentinel: backends.ErrUnauthorized, status: 401, code: "APIGW.0301", route: modelarts.RoutePools,
			cfg: func(*env) modelarts.Config {
				return modelarts.Config{Token: modelartssim.New(modelartssim.Options{}).IssueToken()}
			},
			call: listPools,
		},
		{
			name: "project of another token", sentinel: backends.ErrForbidden, status: 403, code: "ModelArts.0210", route: modelarts.RoutePools,
			cfg: func(e *env) modelarts.Config {
				return modelarts.Config{Token: e.sim.IssueToken(), ProjectID: "ffffffffffffffffffffffffffffffff"}
			},
			call: listPools,
		},
		{
			name: "down", faults: &simctl.Faults{Down: true}, sentinel: backends.ErrUnavailable, status: 503, code: "ModelArts.6101", route: modelarts.RoutePools,
			call: listPools,
		},
		{
			name: "throttled", faults: &simctl.Faults{ErrorRate: 1, ErrorStatus: 429}, sentinel: backends.ErrRateLimited, status: 429, code: "APIGW.0308", route: modelarts.RoutePoolNodes,
			call: func(ctx context.Context, c *modelarts.Client, f modelartssim.Fleet) error {
				_, err := c.ListPoolNodes(ctx, f.Pools[0].Metadata.Name)
				return err
			},
		},
		{
			name: "internal error", faults: &simctl.Faults{ErrorRate: 1}, sentinel: backends.ErrUpstream, status: 500, code: "ModelArts.0010", route: modelarts.RouteNodePools,
			call: func(ctx context.Context, c *modelarts.Client, f modelartssim.Fleet) error {
				_, err := c.ListNodePools(ctx, f.Pools[0].Metadata.Name)
				return err
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, modelartssim.Options{}, tc.noValidate)
			cfg := modelarts.Config{Name: "modelarts-errors"}
			if tc.cfg != nil {
				cfg = tc.cfg(e)
				cfg.Name = "modelarts-errors"
			} else {
				cfg.Token = e.sim.IssueToken()
			}
			c := e.client(t, cfg)
			if tc.faults != nil {
				if err := e.sim.Control().SetFaults(*tc.faults); err != nil {
					t.Fatal(err)
				}
			}
			err := tc.call(t.Context(), c, e.sim.Fleet())
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("err = %v, want %v", err, tc.sentinel)
			}
			var ae *backends.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %T %v, want *backends.APIError", err, err)
			}
			if ae.Status != tc.status || ae.Code != tc.code || ae.Route != tc.route || ae.Method != http.MethodGet ||
				ae.Backend != "modelarts-errors" || ae.Provider != backends.ModelArts || ae.Message == "" {
				t.Errorf("APIError = %+v, want status %d code %s route %s", ae, tc.status, tc.code, tc.route)
			}
			for _, secret := range []string{cfg.Token, cfg.SecretKey, "Signature="} {
				if secret != "" && strings.Contains(err.Error(), secret) {
					t.Errorf("error text carries a credential: %v", err)
				}
			}
		})
	}
}

func listPools(ctx context.Context, c *modelarts.Client, _ modelartssim.Fleet) error {
	_, err := c.ListPools(ctx)
	return err
}

// TestErrorBodyShapes: the three error shapes found behind a ModelArts
// endpoint, a non-JSON body, and Retry-After.
func TestErrorBodyShapes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		body       string
		header     map[string]string
		code, msg  string
		retryAfter time.Duration
	}{
		{name: "ModelArts", status: 404, body: `{"error_code":"ModelArts.50015001","error_msg":"Pool x not found."}`, code: "ModelArts.50015001", msg: "Pool x not found."},
		{name: "API Gateway with request_id", status: 401, body: `{"error_msg":"Incorrect IAM authentication information: decrypt token fail","error_code":"APIGW.0301","request_id":"abc"}`, code: "APIGW.0301", msg: "Incorrect IAM authentication information: decrypt token fail"},
		{name: "code/message", status: 400, body: `{"code":"ModelArts.0101","message":"Invalid Argument."}`, code: "ModelArts.0101", msg: "Invalid Argument."},
		{name: "IAM nested, numeric code", status: 401, body: `{"error":{"code":401,"message":"The username or password is wrong.","title":"Unauthorized"}}`, code: "401", msg: "The username or password is wrong."},
		{name: "HTML page", status: 502, body: `<html><body>Bad Gateway</body></html>`},
		{name: "plain text", status: 500, body: "upstream exploded", msg: "upstream exploded"},
		{name: "Retry-After seconds", status: 429, body: `{"error_code":"APIGW.0308","error_msg":"throttled"}`, header: map[string]string{"Retry-After": "7"}, code: "APIGW.0308", msg: "throttled", retryAfter: 7 * time.Second},
		// backends.ParseRetryAfter: bounded (this overflowed into a wrapped
		// duration before), and a sign is not delay-seconds.
		{name: "Retry-After beyond a day", status: 429, body: `{"error_code":"APIGW.0308","error_msg":"throttled"}`, header: map[string]string{"Retry-After": "99999999999"}, code: "APIGW.0308", msg: "throttled", retryAfter: backends.MaxRetryAfter},
		{name: "Retry-After with a sign", status: 429, body: `{"error_code":"APIGW.0308","error_msg":"throttled"}`, header: map[string]string{"Retry-After": "+5"}, code: "APIGW.0308", msg: "throttled"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				_, _ = w.Write([]byte(tc.body))
			}))
			t.Cleanup(srv.Close)
			c, err := modelarts.New(modelarts.Config{Name: "m", Endpoint: srv.URL, ProjectID: "p", Token: "t"})
			if err != nil {
				t.Fatal(err)
			}
			_, err = c.ListPools(t.Context())
			var ae *backends.APIError
			if !errors.As(err, &ae) {
				t.Fatalf("err = %v", err)
			}
			if ae.Status != tc.status || ae.Code != tc.code || ae.Message != tc.msg || ae.RetryAfter != tc.retryAfter {
				t.Errorf("APIError = %+v", ae)
			}
		})
	}
}

func TestContextAndTransportErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		timeout     time.Duration // Config.Timeout
		cancelAfter time.Duration // caller cancels
		want        error
		wantTimeout bool
	}{
		{name: "caller cancels", cancelAfter: 30 * time.Millisecond, want: context.Canceled},
		{name: "per-call timeout", timeout: 30 * time.Millisecond, want: context.DeadlineExceeded, wantTimeout: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, modelartssim.Options{}, true) // cut-off exchanges are not valid answers
			if err := e.sim.Control().SetFaults(simctl.Faults{LatencyMs: 5000}); err != nil {
				t.Fatal(err)
			}
			c := e.client(t, modelarts.Config{Token: e.sim.IssueToken(), Timeout: tc.timeout})
			ctx := t.Context()
			if tc.cancelAfter > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithCancel(ctx)
				time.AfterFunc(tc.cancelAfter, cancel)
			}
			start := time.Now()
			_, err := c.ListPools(ctx)
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			var te *backends.TransportError
			if !errors.As(err, &te) || te.Timeout != tc.wantTimeout || te.Route != modelarts.RoutePools || te.Backend != "modelarts-test" {
				t.Errorf("err = %#v, want *TransportError{Timeout: %v}", err, tc.wantTimeout)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("call took %v after the context ended", d)
			}
		})
	}

	t.Run("connection refused", func(t *testing.T) {
		t.Parallel()
		srv := httptest.NewServer(http.NotFoundHandler())
		url := srv.URL
		srv.Close()
		c, err := modelarts.New(modelarts.Config{Name: "m", Endpoint: url, ProjectID: "p", Token: "t"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.ListPools(t.Context())
		var te *backends.TransportError
		if !errors.As(err, &te) || te.Timeout || errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v, want a non-timeout *TransportError", err)
		}
	})
}
