package resilience_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sony/gobreaker/v2"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
	"github.com/fleetgraph/fleetgraph/internal/metrics"
)

const (
	backendName = "runai-test"
	provider    = backends.RunAI
	route       = "/api/v1/clusters/{clusterUuid}/nodes"
)

// env is a Transport in front of a real HTTP server.
type env struct {
	srv    *httptest.Server
	hits   atomic.Int64 // requests the server saw
	conns  atomic.Int64 // connections it accepted
	m      *metrics.Metrics
	tr     *resilience.Transport
	client *http.Client
}

// setup starts a server answering with h and returns a Transport to it.
// Tests get fast retries (1ms base, 5ms cap) unless mod changes them.
func setup(t *testing.T, h http.HandlerFunc, mod func(*resilience.Options)) *env {
	t.Helper()
	e := &env{m: metrics.New()}
	e.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		h(w, r)
	}))
	e.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			e.conns.Add(1)
		}
	}
	e.srv.Start()
	t.Cleanup(e.srv.Close)
	opts := resilience.Options{
		Backend:  backendName,
		Provider: provider,
		Metrics:  e.m,
		Retry:    resilience.RetryOptions{BaseDelay: time.Millisecond, MaxDelay: 5 * time.Millisecond},
	}
	if mod != nil {
		mod(&opts)
	}
	e.tr = resilience.New(e.srv.Client().Transport, opts)
	e.client = &http.Client{Transport: e.tr}
	return e
}

// status answers code, with header pairs (name, value, ...).
func status(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, http.StatusText(code))
	}
}

// sequence answers the i-th request with codes[i], then the last code.
func sequence(codes ...int) http.HandlerFunc {
	var n atomic.Int64
	return func(w http.ResponseWriter, r *http.Request) {
		i := int(n.Add(1)) - 1
		status(codes[min(i, len(codes)-1)])(w, r)
	}
}

// switchable answers whatever code currently holds.
func switchable(code *atomic.Int64) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) { status(int(code.Load()))(w, r) }
}

// do sends method to the server under ctx (tagged with route) and returns
// the status and body, or the error.
func (e *env) do(ctx context.Context, method string, body io.Reader) (int, string, error) {
	req, err := http.NewRequestWithContext(backends.WithRoute(ctx, route), method, e.srv.URL+"/prefix/nodes", body)
	if err != nil {
		return 0, "", err
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(data), err
}

func (e *env) get(t *testing.T) (int, error) {
	t.Helper()
	code, _, err := e.do(t.Context(), http.MethodGet, nil)
	return code, err
}

func (e *env) requests(code string) float64 {
	v, _ := gather(e.m, "fleetgraph_upstream_requests_total", "route", route, "code", code)
	return v
}

func (e *env) retries(reason string) float64 {
	v, _ := gather(e.m, "fleetgraph_upstream_retries_total", "reason", reason)
	return v
}

func (e *env) gauge() float64 {
	v, _ := gather(e.m, "fleetgraph_breaker_state", "backend", backendName)
	return v
}

// gather sums the series of the metric family name whose labels include
// the given (name, value) pairs, and counts them. A histogram contributes
// its sample count.
//
// It stands in for prometheus/testutil.ToFloat64 and CollectAndCount:
// testutil imports github.com/kylelemons/godebug, which go.mod does not
// list yet (go.sum has it), so importing testutil fails under
// -mod=readonly until the go.mod gains that indirect line.
func gather(m *metrics.Metrics, name string, labels ...string) (sum float64, series int) {
	mfs, err := m.Registry.Gather()
	if err != nil {
		panic(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
	next:
		for _, mt := range mf.GetMetric() {
			have := map[string]string{}
			for _, lp := range mt.GetLabel() {
				have[lp.GetName()] = lp.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue next
				}
			}
			series++
			sum += mt.GetCounter().GetValue() + mt.GetGauge().GetValue() + float64(mt.GetHistogram().GetSampleCount())
		}
	}
	return sum, series
}

// waitState polls the breaker until it reports want; the breaker turns
// half-open lazily, when looked at after OpenFor.
func waitState(t *testing.T, tr *resilience.Transport, want gobreaker.State) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Second)
	for tr.State() != want {
		if time.Now().After(deadline) {
			t.Fatalf("breaker state %v, want %v", tr.State(), want)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func expectHits(t *testing.T, e *env, want int64) {
	t.Helper()
	if got := e.hits.Load(); got != want {
		t.Errorf("server saw %d requests, want %d", got, want)
	}
}
