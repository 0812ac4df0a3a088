package tests

import (
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// closedAddr is a local address nothing listens on (connections refused).
func closedAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close()
	return addr
}

// leaks reports what of an upstream address or path a client-visible
// message gives away.
func leaks(msg string, hostPort string, paths ...string) []string {
	host, port, _ := net.SplitHostPort(hostPort)
	var out []string
	for _, s := range append([]string{host, ":" + port, port, "dial tcp", "http://", "?"}, paths...) {
		if s != "" && strings.Contains(msg, s) {
			out = append(out, s)
		}
	}
	return out
}

// TestUpstreamErrorsHideAddresses: a vendor that refuses connections, one
// that times out, and the breaker that opens after them give clients their
// codes and the backend's name, never the vendor's host:port, path or query
// string (the error presenter logs those, through slog's default logger).
func TestUpstreamErrorsHideAddresses(t *testing.T) {
	t.Parallel()
	down := closedAddr(t)
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.ModelArts[0].Endpoint = "http://" + down + "/ma-base"
		c.RunAI[0].Timeout = app.Duration(50 * time.Millisecond)
	}}})
	if err := e.ra.Control().SetFaults(simctl.Faults{LatencyMs: 300}); err != nil {
		t.Fatal(err)
	}
	ra := strings.TrimPrefix(e.raURL, "http://")
	seen := map[string]bool{}
	for range 8 { // enough failures to open both breakers
		r := e.query(t, `{ clusters { name } nodes(first: 5) { totalCount } }`, nil)
		if len(r.Errors) == 0 {
			t.Fatal("no error while both vendors fail")
		}
		for _, err := range r.Errors {
			code, _ := err.Extensions["code"].(string)
			seen[code+" "+err.Extensions["provider"].(string)] = true
			if l := append(leaks(err.Message, down, "/ma-base", "/v2/", "/v1/"), leaks(err.Message, ra, "/api/")...); len(l) != 0 {
				t.Fatalf("message %q gives away %q", err.Message, l)
			}
			if code != "UPSTREAM_UNAVAILABLE" && code != "UPSTREAM_TIMEOUT" {
				t.Fatalf("error %+v: want UPSTREAM_UNAVAILABLE or UPSTREAM_TIMEOUT", err)
			}
			if err.Extensions["backend"] == nil {
				t.Fatalf("error %+v names no backend", err)
			}
		}
	}
	for _, want := range []string{"UPSTREAM_UNAVAILABLE MODELARTS", "UPSTREAM_TIMEOUT RUNAI"} {
		if !seen[want] {
			t.Errorf("no %s error among %v", want, seen)
		}
	}
	if r := e.do(t, http.MethodGet, "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz %d", r.status)
	}
}
