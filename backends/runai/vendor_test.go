package runai_test

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// The tests in this file use a hand-written server for what the simulator
// never does: odd bodies, headers, and servers that break the paging rules.

// fakeServer serves h under prefix and returns a pass-through client (no
// token call to fake) carrying the bearer "caller-token".
func fakeServer(t *testing.T, h http.HandlerFunc) (*runai.Client, func() *http.Request) {
	t.Helper()
	var (
		mu   sync.Mutex
		last *http.Request
	)
	mux := http.NewServeMux()
	mux.HandleFunc(prefix+"/", func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		last = r.Clone(r.Context())
		mu.Unlock()
		h(w, r)
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := runai.New(runai.Config{Name: "runai-fake", BaseURL: srv.URL + prefix + "/", PassThrough: true, HTTPClient: srv.Client(), PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	return c, func() *http.Request { mu.Lock(); defer mu.Unlock(); return last }
}

func TestErrorBodies(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		status     int
		header     http.Header
		body       string
		wantCode   string
		wantMsg    string
		wantRetry  time.Duration
		wantTarget error
	}{
		{"message and details", 400, nil, `{"code":400,"message":"Bad request","details":"filterBy: unknown field color"}`, "400", "Bad request: filterBy: unknown field color", 0, backends.ErrBadRequest},
		{"retry after", 429, http.Header{"Retry-After": {"7"}}, `{"code":429,"message":"slow down"}`, "429", "slow down", 7 * time.Second, backends.ErrRateLimited},
		// backends.ParseRetryAfter: bounded (this overflowed into a wrapped
		// duration before), and a sign is not delay-seconds.
		{"retry after beyond a day", 429, http.Header{"Retry-After": {"99999999999"}}, `{"code":429,"message":"slow down"}`, "429", "slow down", backends.MaxRetryAfter, backends.ErrRateLimited},
		{"retry after with a sign", 429, http.Header{"Retry-After": {"+5"}}, `{"code":429,"message":"slow down"}`, "429", "slow down", 0, backends.ErrRateLimited},
		{"proxy page", 502, nil, "<html>Bad Gateway</html>", "", "<html>Bad Gateway</html>", 0, backends.ErrUnavailable},
		{"empty body", 504, nil, "", "", "", 0, backends.ErrUnavailable},
		{"huge body is cut", 500, nil, strings.Repeat("x", 1<<20), "", strings.Repeat("x", 200) + "…", 0, backends.ErrUpstream},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.header {
					w.Header()[k] = v
				}
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			})
			ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "caller-token"})
			_, err := c.GetNodePool(ctx, "5")
			var apiErr *backends.APIError
			if !errors.As(err, &apiErr) || !errors.Is(err, tt.wantTarget) {
				t.Fatalf("err %v, want an APIError matching %v", err, tt.wantTarget)
			}
			if apiErr.Code != tt.wantCode || apiErr.Message != tt.wantMsg || apiErr.RetryAfter != tt.wantRetry ||
				apiErr.Route != "/api/v1/node-pools/{nodepoolId}" || apiErr.Backend != "runai-fake" {
				t.Fatalf("got %+v", *apiErr)
			}
			if strings.Contains(err.Error(), "caller-token") {
				t.Fatalf("the error leaks the bearer: %v", err)
			}
		})
	}
}

func TestRequestShape(t *testing.T) {
	t.Parallel()
	c, last := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, `{"measurements":[]}`)
	})
	ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "caller-token"})
	opts := runai.MetricsOptions{Types: []string{"TOTAL_GPU"}, Start: start, End: end}
	if _, err := c.NodePoolMetrics(ctx, "c-1", "a b/c?d", opts); err != nil {
		t.Fatal(err)
	}
	r := last()
	if want := prefix + "/api/v1/clusters/c-1/nodepools/a%20b%2Fc%3Fd/metrics"; r.URL.EscapedPath() != want {
		t.Fatalf("path %q, want %q", r.URL.EscapedPath(), want)
	}
	if r.Header.Get("Accept") != "application/json" || r.Header.Get("Authorization") != "Bearer caller-token" {
		t.Fatalf("headers %v", r.Header)
	}
}

func TestTokenRequestShape(t *testing.T) {
	t.Parallel()
	var (
		mu   sync.Mutex
		body map[string]string
		auth string
	)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == prefix+"/api/v1/token" {
			mu.Lock()
			auth = r.Header.Get("Authorization")
			_ = json.NewDecoder(r.Body).Decode(&body)
			mu.Unlock()
			io.WriteString(w, `{"accessToken":"opaque","refreshToken":"r"}`)
			return
		}
		io.WriteString(w, `[]`)
	}))
	t.Cleanup(srv.Close)
	c, err := runai.New(runai.Config{Name: "r", BaseURL: srv.URL + prefix, ClientID: "app", ClientSecret: "s3cret", HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.ListClusters(t.Context()); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	want := map[string]string{"grantType": "client_credentials", "clientID": "app", "clientSecret": "s3cret"}
	if len(body) != 3 || body["grantType"] != want["grantType"] || body["clientID"] != want["clientID"] || body["clientSecret"] != want["clientSecret"] {
		t.Fatalf("token body %v, want %v", body, want)
	}
	if auth != "" {
		t.Fatalf("the token call carried Authorization %q", auth)
	}
}

func TestVendorFormats(t *testing.T) {
	t.Parallel()
	c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasSuffix(r.URL.Path, "/telemetry"):
			io.WriteString(w, `{"type":"TOTAL_GPUS","timestamp":"2023-06-06 12:09:18.211","values":[{"value":"85","groups":[{"key":"Nodepool","value":"default"}]}]}`)
		default:
			w.WriteHeader(http.StatusMultiStatus)
			io.WriteString(w, `{"measurements":[
				{"type":"GPU_UTILIZATION_PER_GPU","labels":"{'gpu': '3'}","values":[{"value":"85","timestamp":"2023-06-06 12:09:18.211"},{"value":12.5,"timestamp":null}]},
				{"type":"CPU_UTILIZATION","values":[]}]}`)
		}
	})
	ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "caller-token"})
	resp, err := c.NodeMetrics(ctx, "n-1", runai.MetricsOptions{Types: []string{"GPU_UTILIZATION_PER_GPU", "CPU_UTILIZATION", "GPU_UTILIZATION"}, Start: start, End: end})
	var partial *backends.PartialError
	if !errors.As(err, &partial) {
		t.Fatalf("err %v, want a PartialError", err)
	}
	// An empty array is data (no points in range); only null or absent is missing.
	if !slices.Equal(partial.Missing, []string{"GPU_UTILIZATION"}) {
		t.Fatalf("missing %v", partial.Missing)
	}
	m := resp.Measurements[0]
	want := time.Date(2023, 6, 6, 12, 9, 18, 211e6, time.UTC)
	if m.Labels["gpu"] != "3" || m.Values[0].Value != 85 || !m.Values[0].Timestamp.Equal(want) || m.Values[1].Value != 12.5 || !m.Values[1].Timestamp.IsZero() {
		t.Fatalf("measurement %+v", m)
	}
	if resp.Measurements[1].Values == nil {
		t.Fatal("an empty values array decoded as nil")
	}

	tel, err := c.NodeTelemetry(ctx, runai.TelemetryOptions{Type: "TOTAL_GPUS"})
	if err != nil || !tel.Timestamp.Equal(want) || tel.Values[0].Value != 85 || tel.Values[0].Groups[0].Value != "default" {
		t.Fatalf("telemetry %+v, %v", tel, err)
	}
}

func TestPagingAgainstOddServers(t *testing.T) {
	t.Parallel()
	node := func(i int) string {
		return `{"id":"n` + strconv.Itoa(i) + `","name":"n","clusterUuid":"c","nodePool":"p","status":"Ready","createdAt":"2025-01-01T00:00:00Z","updatedAt":"2025-01-01T00:00:00Z"}`
	}
	tests := []struct {
		name      string
		page      func(offset int) []string
		wantIDs   int
		wantError string
	}{
		{"ignores offset", func(int) []string { return []string{node(1), node(2)} }, 0, "offset is not honoured"},
		{"ignores limit: everything at once", func(int) []string { return []string{node(1), node(2), node(3)} }, 3, ""},
		{"bad JSON", func(int) []string { return []string{`{"id":42}`} }, 0, "runai-fake: GET /api/v1/clusters/{clusterUuid}/nodes: decode response"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, _ := fakeServer(t, func(w http.ResponseWriter, r *http.Request) {
				offset, _ := strconv.Atoi(r.URL.Query().Get("offset"))
				io.WriteString(w, `{"nodes":[`+strings.Join(tt.page(offset), ",")+`]}`)
			})
			ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "caller-token"})
			nodes, err := c.ListNodes(ctx, "c", nil)
			if tt.wantError != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantError) {
					t.Fatalf("err %v, want one containing %q", err, tt.wantError)
				}
				return
			}
			if err != nil || len(nodes) != tt.wantIDs {
				t.Fatalf("%d nodes, %v; want %d", len(nodes), err, tt.wantIDs)
			}
		})
	}
}
