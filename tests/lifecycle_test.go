package tests

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

type readyBody struct {
	Status   string
	Config   string
	Backends []struct{ Name, Provider, Breaker string }
	Redis    struct {
		Configured, Reachable bool
		Error                 string
	}
}

func readyz(t *testing.T, base string) (int, readyBody) {
	t.Helper()
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b readyBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}

func TestReadyz(t *testing.T) {
	t.Parallel()
	mr := newMiniredis(t)
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withRedis(mr.Addr(), breakerFast)}})
	status, b := readyz(t, e.gw.URL)
	// runai-a, modelarts-a and its AOM (modelarts-a/aom, a breaker of its own).
	if status != 200 || b.Status != "ready" || b.Config != "loaded" || len(b.Backends) != 3 || !b.Redis.Configured || !b.Redis.Reachable {
		t.Fatalf("%d %+v", status, b)
	}
	for _, be := range b.Backends {
		if be.Breaker != "closed" {
			t.Fatalf("%+v", be)
		}
	}
	// A vendor down opens its breaker: reported, still ready (the gateway
	// answers with the other vendor's data).
	if err := e.ma.Control().SetFaults(simctl.Faults{Down: true}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e.query(t, `{ clusters(provider: MODELARTS) { name } }`, nil)
	}
	status, b = readyz(t, e.gw.URL)
	states := map[string]string{}
	for _, be := range b.Backends {
		states[be.Name] = be.Breaker
	}
	if status != 200 || states["modelarts-a"] != "open" || states["runai-a"] != "closed" {
		t.Fatalf("%d %+v", status, b)
	}
	// Redis gone: reported, still ready (the cache is an optimisation).
	mr.Close()
	status, b = readyz(t, e.gw.URL)
	if status != 200 || b.Redis.Reachable || b.Redis.Error == "" {
		t.Fatalf("%d %+v", status, b)
	}
	if r := e.do(t, "GET", "/healthz", nil); r.status != 200 || string(r.body) != "ok\n" {
		t.Fatalf("healthz %d %q", r.status, r.body)
	}
}

// serveGateway serves e's gateway through Serve (the real http.Server and
// its shutdown) on a fresh port, until the returned cancel.
func serveGateway(t *testing.T, e *prodEnv) (base string, stop context.CancelFunc, done <-chan error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- e.gateway.Serve(ctx, ln) }()
	t.Cleanup(cancel)
	return "http://" + ln.Addr().String(), cancel, errc
}

// TestGracefulShutdown: on SIGTERM (the context ending) readiness turns
// 503 at once, in-flight requests finish with their data, and Serve
// returns nil once they are drained.
func TestGracefulShutdown(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.Server.ShutdownDelay = app.Duration(300 * time.Millisecond)
		c.Server.ShutdownTimeout = app.Duration(5 * time.Second)
	}}})
	base, sigterm, done := serveGateway(t, e)
	if status, _ := readyz(t, base); status != 200 {
		t.Fatalf("readyz %d before shutdown", status)
	}
	if err := e.ra.Control().SetFaults(simctl.Faults{LatencyMs: 700}); err != nil {
		t.Fatal(err)
	}
	type result struct {
		status int
		body   string
		err    error
	}
	inflight := make(chan result, 1)
	go func() {
		resp, err := http.Post(base+"/graphql", "application/json", strings.NewReader(`{"query":"{ clusters(provider: RUNAI) { name } }"}`))
		if err != nil {
			inflight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		inflight <- result{status: resp.StatusCode, body: string(b)}
	}()
	time.Sleep(150 * time.Millisecond) // the request is at the vendor
	sigterm()
	time.Sleep(50 * time.Millisecond)
	if status, b := readyz(t, base); status != http.StatusServiceUnavailable || b.Status != "draining" {
		t.Fatalf("readyz while draining: %d %+v", status, b)
	}
	r := <-inflight
	if r.err != nil || r.status != 200 || !strings.Contains(r.body, `"clusters":[{`) || strings.Contains(r.body, "errors") {
		t.Fatalf("in-flight request: %d %v %s", r.status, r.err, r.body)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the drain")
	}
	if _, err := http.Get(base + "/healthz"); err == nil {
		t.Fatal("still accepting connections after shutdown")
	}
	if !strings.Contains(e.log.String(), "shutdown complete") {
		t.Fatal("no shutdown line in the log")
	}
}

// TestStreamsOutliveServerTimeouts: a websocket lives past the server's
// read and write timeouts and the request timeout, and is closed by
// shutdown without holding it up.
func TestStreamsOutliveServerTimeouts(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.RequestTimeout = app.Duration(100 * time.Millisecond)
		c.Server.ReadTimeout = app.Duration(200 * time.Millisecond)
		c.Server.WriteTimeout = app.Duration(200 * time.Millisecond)
		c.Server.ShutdownTimeout = app.Duration(5 * time.Second)
	}}})
	base, sigterm, done := serveGateway(t, e)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(base, "http")+"/graphql", &websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.CloseNow()
	wsSend(t, c, wsMessage{Type: "connection_init"})
	if m, err := wsNext(t, c); err != nil || m.Type != "connection_ack" {
		t.Fatalf("%+v %v", m, err)
	}
	time.Sleep(600 * time.Millisecond) // past every timeout
	wsSend(t, c, wsMessage{ID: "1", Type: "subscribe", Payload: json.RawMessage(mustJSON(map[string]any{"query": liveSummary}))})
	if m, err := wsNext(t, c); err != nil || m.Type != "next" {
		t.Fatalf("after the timeouts: %+v %v", m, err)
	}
	sigterm()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a websocket held up the shutdown")
	}
	// The subscription may be completed first; then the connection closes.
	rctx, rcancel := context.WithTimeout(t.Context(), 3*time.Second)
	defer rcancel()
	for {
		if _, _, err := c.Read(rctx); err != nil {
			if rctx.Err() != nil {
				t.Fatal("the websocket is still open after shutdown")
			}
			break
		}
	}
}
