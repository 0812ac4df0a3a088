// Package tests runs the gateway end to end: real HTTP from a GraphQL client
// to the gateway, and from the gateway to both vendor simulators, asserting
// responses, error codes and the simulators' request counters.
package tests

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/alicebob/miniredis/v2"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// env is a gateway over one Run:ai and one ModelArts simulator.
type env struct {
	ra    *runaisim.Server
	ma    *modelartssim.Server
	raURL string
	maURL string
	gw    *httptest.Server
}

type envOptions struct {
	runai     runaisim.Options
	modelarts modelartssim.Options
	// configure edits the gateway config before it is built.
	configure func(*app.Config)
	// wrapRunAI and wrapModelArts stand between the gateway and a
	// simulator: a vendor answering within its contract, but not as the
	// simulator does (tests/vendorshape_test.go).
	wrapRunAI, wrapModelArts func(http.Handler) http.Handler
}

const (
	projectID = "0a1b2c3d4e5f60718293a4b5c6d7e8f9"
	accessKey = "DEMOACCESSKEY"
	secretKey = "demo-secret-key"
)

func newEnv(t *testing.T, o envOptions) *env {
	t.Helper()
	e := &env{ra: runaisim.New(o.runai), ma: modelartssim.New(o.modelarts)}
	raH, maH := e.ra.Handler(), e.ma.Handler()
	if o.wrapRunAI != nil {
		raH = o.wrapRunAI(raH)
	}
	if o.wrapModelArts != nil {
		maH = o.wrapModelArts(maH)
	}
	raSrv := httptest.NewServer(raH)
	t.Cleanup(raSrv.Close)
	maSrv := httptest.NewServer(maH)
	t.Cleanup(maSrv.Close)
	e.raURL, e.maURL = raSrv.URL, maSrv.URL
	cfg := simConfig(raSrv.URL, maSrv.URL)
	cfg.RunAI[0].APIVersion = e.ra.Version() // configure may unset it: probed (tests/runaiversion_test.go)
	if o.configure != nil {
		o.configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gw, err := app.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.gw = httptest.NewServer(gw.Handler)
	t.Cleanup(e.gw.Close)
	return e
}

// resetCounters zeroes both simulators' counters.
func (e *env) resetCounters() {
	e.ra.Control().ResetStats()
	e.ma.Control().ResetStats()
}

// upstreamCalls is the number of vendor requests both simulators saw.
func (e *env) upstreamCalls() int64 { return e.ra.Control().Total() + e.ma.Control().Total() }

type gqlError struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

type gqlResponse struct {
	Data   json.RawMessage `json:"data"`
	Errors []gqlError      `json:"errors"`
	status int
}

// codes returns extensions.code of every error.
func (r gqlResponse) codes() []string {
	out := make([]string, len(r.Errors))
	for i, e := range r.Errors {
		out[i], _ = e.Extensions["code"].(string)
	}
	return out
}

func (e *env) query(t *testing.T, query string, vars map[string]any, header ...string) gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, e.gw.URL+"/graphql", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out gqlResponse
	if err := json.Unmarshal(raw, &out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	out.status = resp.StatusCode
	return out
}

// mustData fails on any error and decodes data into v.
func (r gqlResponse) mustData(t *testing.T, v any) {
	t.Helper()
	if len(r.Errors) > 0 {
		t.Fatalf("unexpected errors: %+v", r.Errors)
	}
	if err := json.Unmarshal(r.Data, v); err != nil {
		t.Fatalf("decode data: %v: %s", err, r.Data)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }

func newServer(t *testing.T, gw *app.Gateway) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(gw.Handler)
	t.Cleanup(srv.Close)
	return srv
}

// rawQuery returns the whole response body.
func (e *env) rawQuery(t *testing.T, query string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	resp, err := http.Post(e.gw.URL+"/graphql", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	return string(raw)
}

// metricValue reads one sample from the gateway's /metrics, 0 when absent.
func metricValue(t *testing.T, e *env, series string) float64 {
	t.Helper()
	resp, err := http.Get(e.gw.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	for _, line := range strings.Split(string(raw), "\n") {
		if rest, ok := strings.CutPrefix(line, series+" "); ok {
			var v float64
			if _, err := fmt.Sscan(rest, &v); err == nil {
				return v
			}
		}
	}
	return 0
}

// newServerFor builds another gateway over e's simulators with its cache at
// redisAddr: a second gateway process sharing the same Redis.
func newServerFor(t *testing.T, e *env, redisAddr string) *httptest.Server {
	t.Helper()
	cfg := simConfig(e.raURL, e.maURL)
	cfg.RunAI[0].APIVersion = e.ra.Version()
	withRedis(redisAddr, nil)(cfg)
	gw, err := app.Build(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	return newServer(t, gw)
}

func newMiniredis(t *testing.T) *miniredis.Miniredis { return miniredis.RunT(t) }

// simConfig is the gateway configuration over one Run:ai and one ModelArts
// simulator, with their default service credentials.
func simConfig(runaiURL, modelartsURL string) *app.Config {
	return &app.Config{
		// The simulator's default API version, configured: no probe call in
		// the counts of tests that are not about it.
		RunAI: []app.RunAIConfig{{Name: "runai-a", BaseURL: runaiURL, ClientID: "fleetgraph-demo", ClientSecret: "demo-secret", APIVersion: runaisim.DefaultVersion}},
		ModelArts: []app.ModelArtsConfig{{
			Name: "modelarts-a", Endpoint: modelartsURL, ProjectID: projectID, AccessKey: accessKey, SecretKey: secretKey,
			// The simulator serves AOM too: node and node-pool metrics as in
			// demo mode (configure sets it to nil for the unconfigured case).
			AOM: &app.AOMConfig{Endpoint: modelartsURL},
		}},
	}
}
