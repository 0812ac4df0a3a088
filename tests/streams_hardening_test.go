package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/simctl"
)

// rawSSE opens a TCP connection with a small receive buffer (so the
// gateway's writes back up as soon as the client stops reading) and sends
// an SSE subscription request on it; it returns the connection after the
// response header arrived.
func rawSSE(t *testing.T, base, body string, header ...string) (net.Conn, *bufio.Reader) {
	t.Helper()
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	_ = c.(*net.TCPConn).SetReadBuffer(1024)
	var extra strings.Builder
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&extra, "%s: %s\r\n", header[i], header[i+1])
	}
	fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\n%sContent-Length: %d\r\n\r\n%s",
		extra.String(), len(body), body)
	return c, bufio.NewReader(c)
}

// healthy fails unless the gateway served by Serve still runs and answers
// /healthz.
func healthy(t *testing.T, base string, done <-chan error) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("Serve returned: %v", err)
	default:
	}
	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatalf("healthz: %v", err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("healthz %d", resp.StatusCode)
	}
}

// TestSSEStalledSubscriberCannotCrashTheGateway: subscribers that stop
// reading for longer than the keep-alive interval, then hang up, used to
// leave gqlgen's keep-alive goroutine flushing a response whose handler
// had returned: a nil-pointer panic that took the whole process down.
func TestSSEStalledSubscriberCannotCrashTheGateway(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.GraphQL.WebsocketKeepAlive = app.Duration(time.Millisecond)
		fastSubscriptions(c)
	}}})
	base, _, done := serveGateway(t, e)
	body := mustJSON(map[string]any{"query": liveSummary})
	for range 30 {
		c, br := rawSSE(t, base, body)
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if line, err := br.ReadString('\n'); err != nil || !strings.Contains(line, "200") {
			t.Fatalf("status line %q: %v", line, err)
		}
		time.Sleep(20 * time.Millisecond) // stalled: pings pile up unread
		_ = c.Close()
	}
	time.Sleep(50 * time.Millisecond) // keep-alives of the closed streams fire
	healthy(t, base, done)
}

// TestSSEBadBodyIsARequestError: an SSE request whose body is not valid
// JSON is answered 400 BAD_REQUEST without a "data" key, and neither the
// body nor its variables reach the log (gqlgen's transport logged the whole
// body through the standard logger).
func TestSSEBadBodyIsARequestError(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	e.resetCounters()
	body := `{"query": "subscription { fleetSummary { at } }", "variables": {"password": "hunter2-secret"}` // no closing brace
	r := e.do(t, "POST", "/graphql", strings.NewReader(body), "Content-Type", "application/json", "Accept", "text/event-stream")
	if r.status != http.StatusBadRequest || r.code() != "BAD_REQUEST" || r.hasData() {
		t.Fatalf("%d %s", r.status, r.body)
	}
	if strings.Contains(string(r.body), "hunter2") || strings.Contains(e.log.String(), "hunter2") {
		t.Fatalf("the body was echoed or logged:\n%s\n%s", r.body, e.log.String())
	}
	if !strings.Contains(e.log.String(), "SSE request refused") {
		t.Fatalf("refusal not logged: %s", e.log.String())
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
}

// TestSSETrickledBodyMeetsReadTimeout: an SSE request whose body trickles
// in is bound by server.readTimeout like any request (the stream's read
// deadline used to be cleared before the body was read: the connection
// was held for ever). Once the body is in, the stream outlives it.
func TestSSETrickledBodyMeetsReadTimeout(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.Server.ReadTimeout = app.Duration(300 * time.Millisecond)
		c.GraphQL.WebsocketKeepAlive = app.Duration(50 * time.Millisecond)
	}}})
	base, _, done := serveGateway(t, e)
	e.resetCounters()

	c, err := net.DialTimeout("tcp", strings.TrimPrefix(base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	body := mustJSON(map[string]any{"query": liveSummary})
	fmt.Fprintf(c, "POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nContent-Length: %d\r\n\r\n%s",
		len(body), body[:5])
	// The deadline only bounds a hang: the gateway must give up on the body
	// (after readTimeout) well before it.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadAll(c); err != nil {
		t.Fatalf("connection still held after the read timeout: %v", err)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls for a body that never arrived", n)
	}

	// A whole body: the stream lives on past readTimeout.
	c2, br := rawSSE(t, base, body)
	_ = c2.SetReadDeadline(time.Now().Add(10 * time.Second))
	start, events := time.Now(), 0
	for time.Since(start) < time.Second {
		line, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("stream ended after %v (%d events): %v", time.Since(start), events, err)
		}
		if strings.HasPrefix(line, "event: next") {
			events++
		}
	}
	if events == 0 {
		t.Fatal("no event")
	}
	healthy(t, base, done)
}

// wsOperation runs one query or mutation over c (connection acknowledged)
// and returns its single result.
func wsOperation(t *testing.T, c *websocket.Conn, id, query string, vars map[string]any) gqlResponse {
	t.Helper()
	wsSend(t, c, wsMessage{ID: id, Type: "subscribe", Payload: json.RawMessage(mustJSON(map[string]any{"query": query, "variables": vars}))})
	var out gqlResponse
	for {
		m, err := wsNext(t, c)
		if err != nil {
			t.Fatalf("operation %s: %v", id, err)
		}
		switch {
		case m.ID != id:
			t.Fatalf("operation %s: message for %q: %+v", id, m.ID, m)
		case m.Type == "next":
			if err := json.Unmarshal(m.Payload, &out); err != nil {
				t.Fatalf("operation %s: %s", id, m.Payload)
			}
		case m.Type == "error":
			_ = json.Unmarshal(m.Payload, &out.Errors)
			return out
		case m.Type == "complete":
			return out
		}
	}
}

func wsReady(t *testing.T, e *env) *websocket.Conn {
	t.Helper()
	c, _, err := wsDial(t, e)
	if err != nil {
		t.Fatal(err)
	}
	wsSend(t, c, wsMessage{Type: "connection_init"})
	if m, err := wsNext(t, c); err != nil || m.Type != "connection_ack" {
		t.Fatalf("init: %+v %v", m, err)
	}
	return c
}

// TestWebsocketOperationsHaveTheirOwnLoaders: queries and mutations over one
// websocket each get fresh loaders. They shared the connection's: a query
// after a write saw the data from before it, and a vendor error stayed
// memoised after the vendor recovered.
func TestWebsocketOperationsHaveTheirOwnLoaders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{runai: raSlow}) // no shared cache: the loaders are the only memo
	ra, _ := clusterIDs(t, e)
	c := wsReady(t, e)
	const pools = `{ nodePools(first: 500, filter: {provider: RUNAI}) { edges { node { name } } } }`
	names := func(r gqlResponse) []string {
		t.Helper()
		var data struct {
			NodePools struct {
				Edges []struct{ Node struct{ Name string } }
			}
		}
		r.mustData(t, &data)
		var out []string
		for _, edge := range data.NodePools.Edges {
			out = append(out, edge.Node.Name)
		}
		return out
	}
	e.resetCounters()
	if slices.Contains(names(wsOperation(t, c, "1", pools, nil)), "team-ws") {
		t.Fatal("team-ws exists before the test")
	}
	if n := e.ra.Control().Count(raNodePools); n != 1 {
		t.Fatalf("%d pool listings for one query", n)
	}
	var created struct{ CreateNodePool pool }
	wsOperation(t, c, "2", createPool, map[string]any{"in": map[string]any{
		"clusterId": ra, "name": "team-ws", "labelKey": "team", "labelValue": "ws",
	}}).mustData(t, &created)
	before := e.ra.Control().Count(raNodePools)
	if !slices.Contains(names(wsOperation(t, c, "3", pools, nil)), "team-ws") {
		t.Fatal("the query after the mutation, on the same websocket, does not see the new pool")
	}
	if n := e.ra.Control().Count(raNodePools) - before; n != 1 {
		t.Fatalf("%d pool listings for the query after the mutation, want 1", n)
	}

	// A vendor error, then recovery: the error is not memoised.
	if err := e.ra.Control().SetFaults(simctl.Faults{ErrorRate: 1, ErrorStatus: 500, Routes: []string{raNodePools}}); err != nil {
		t.Fatal(err)
	}
	failed := wsOperation(t, c, "4", pools, nil)
	if len(failed.Errors) == 0 || !slices.ContainsFunc(failed.codes(), func(c string) bool { return strings.HasPrefix(c, "UPSTREAM_") }) {
		t.Fatalf("no upstream error while the vendor fails: %+v", failed)
	}
	if err := e.ra.Control().SetFaults(simctl.Faults{}); err != nil {
		t.Fatal(err)
	}
	before = e.ra.Control().Count(raNodePools)
	if got := names(wsOperation(t, c, "5", pools, nil)); !slices.Contains(got, "team-ws") {
		t.Fatalf("after the vendor recovered: %v", got)
	}
	if n := e.ra.Control().Count(raNodePools) - before; n != 1 {
		t.Fatalf("%d pool listings for the query after recovery, want 1", n)
	}
}

// errorExt is extensions.code, .limit and .max of a refusal's first error.
func errorExt(t *testing.T, errs []gqlError) (code, limit string, maxValue float64) {
	t.Helper()
	if len(errs) == 0 {
		t.Fatal("no error")
	}
	ext := errs[0].Extensions
	code, _ = ext["code"].(string)
	limit, _ = ext["limit"].(string)
	maxValue, _ = ext["max"].(float64)
	return code, limit, maxValue
}

// TestStreamLimits: websocket and SSE connections are bounded per client
// (API key, else remote IP) and in total, refused with STREAM_LIMIT before
// any GraphQL work; a closed stream gives its place back.
func TestStreamLimits(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.Subscriptions.MaxStreamsPerClient = 2
		c.Subscriptions.MaxStreams = 3
		withAPIKeys(c)
		c.Auth.APIKeys = append(c.Auth.APIKeys, app.APIKeyConfig{Name: "other", SHA256: sha256Hex("other-key")})
	}}})
	e.resetCounters()
	first, _, err := wsDial(t, e.env, "X-API-Key", grafanaKey)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := wsDial(t, e.env, "X-API-Key", grafanaKey); err != nil {
		t.Fatal(err)
	}
	// The key's third stream, an SSE subscription: 429, nothing run.
	sub := mustJSON(map[string]any{"query": liveSummary})
	r := doWithin(t, e.env, 10*time.Second, "POST", "/graphql", strings.NewReader(sub), "Content-Type", "application/json", "Accept", "text/event-stream", "X-API-Key", grafanaKey)
	if code, limit, maxValue := errorExt(t, gqlErrors(t, r)); r.status != http.StatusTooManyRequests || code != "STREAM_LIMIT" ||
		limit != "streamsPerClient" || maxValue != 2 || r.hasData() || r.header.Get("Retry-After") == "" {
		t.Fatalf("%d %s", r.status, r.body)
	}
	// Another key still gets one (3 in all), then the gateway is full: 503.
	if _, _, err := wsDial(t, e.env, "X-API-Key", "other-key"); err != nil {
		t.Fatal(err)
	}
	_, resp, err := wsDial(t, e.env, "X-API-Key", "other-key")
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("fourth stream: %v %+v", err, resp)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
	// A closed stream gives its place back (once the gateway saw it close).
	_ = first.Close(websocket.StatusNormalClosure, "")
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _, err := wsDial(t, e.env, "X-API-Key", grafanaKey)
		if err == nil {
			_ = c.CloseNow()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the closed stream's place never came back: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if r := e.do(t, "GET", "/healthz", nil); r.status != 200 {
		t.Fatalf("healthz %d", r.status)
	}
}

// doWithin is e.do bounded by d: an answer that turns into an endless
// stream fails the test instead of hanging it.
func doWithin(t *testing.T, e *env, d time.Duration, method, path string, body io.Reader, header ...string) httpResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, e.gw.URL+path, body)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%d, body not ended within %v: %v: %s", resp.StatusCode, d, err, raw)
	}
	out := httpResult{status: resp.StatusCode, header: resp.Header, body: raw}
	_ = json.Unmarshal(raw, &out.json)
	return out
}

func gqlErrors(t *testing.T, r httpResult) []gqlError {
	t.Helper()
	var out struct{ Errors []gqlError }
	if err := json.Unmarshal(r.body, &out); err != nil {
		t.Fatalf("%d %s", r.status, r.body)
	}
	return out.Errors
}

// TestSubscriptionLimits: the subscriptions of one connection and of the
// whole gateway are bounded; a refusal is SUBSCRIPTION_LIMIT (it was
// INTERNAL, and there was no gateway-wide bound) with extensions.limit and
// .max, and calls nothing upstream.
func TestSubscriptionLimits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOptions{configure: func(c *app.Config) {
		c.Subscriptions.MaxPerConnection = 2
		c.Subscriptions.MaxTotal = 3
	}})
	id := runaiPoolID(t, e)
	// Polled once, then not for 300 s: the counters see only the refusals.
	const held = `subscription { fleetSummary(intervalSeconds: 300) { at summary { nodes } } }`
	poolSub := map[string]any{"query": `subscription($id: ID!) { nodePoolMetrics(nodePoolId: $id, types: [GPU_UTILIZATION], intervalSeconds: 300) { at } }`,
		"variables": map[string]any{"id": id}}
	subscribe := func(c *websocket.Conn, opID string, payload map[string]any) wsMessage {
		t.Helper()
		wsSend(t, c, wsMessage{ID: opID, Type: "subscribe", Payload: json.RawMessage(mustJSON(payload))})
		for {
			m, err := wsNext(t, c)
			if err == nil && m.ID != opID && m.Type == "complete" {
				continue // the end of an earlier, refused subscription
			}
			if err != nil || m.ID != opID {
				t.Fatalf("subscribe %s: %+v %v", opID, m, err)
			}
			return m
		}
	}
	refusal := func(m wsMessage) (string, string, float64) {
		t.Helper()
		var errs []gqlError
		if m.Type == "next" {
			var p struct{ Errors []gqlError }
			_ = json.Unmarshal(m.Payload, &p)
			errs = p.Errors
		} else {
			_ = json.Unmarshal(m.Payload, &errs)
		}
		return errorExt(t, errs)
	}
	a, b := wsReady(t, e), wsReady(t, e)
	for _, opID := range []string{"1", "2"} {
		if m := subscribe(a, opID, map[string]any{"query": held}); m.Type != "next" || strings.Contains(string(m.Payload), `"errors"`) {
			t.Fatalf("subscription %s: %+v", opID, m)
		}
	}
	e.resetCounters()
	if code, limit, maxValue := refusal(subscribe(a, "3", poolSub)); code != "SUBSCRIPTION_LIMIT" || limit != "perConnection" || maxValue != 2 {
		t.Fatalf("third on one connection: %s %s %v", code, limit, maxValue)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls for a refused subscription", n)
	}
	if m := subscribe(b, "1", map[string]any{"query": held}); m.Type != "next" || strings.Contains(string(m.Payload), `"errors"`) {
		t.Fatalf("first on the second connection: %+v", m)
	}
	e.resetCounters()
	if code, limit, maxValue := refusal(subscribe(b, "2", poolSub)); code != "SUBSCRIPTION_LIMIT" || limit != "total" || maxValue != 3 {
		t.Fatalf("fourth on the gateway: %s %s %v", code, limit, maxValue)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls for a refused subscription", n)
	}
	// Ending one frees its place for the next subscriber, on any connection.
	wsSend(t, a, wsMessage{ID: "1", Type: "complete"})
	deadline := time.Now().Add(10 * time.Second)
	for n := 3; ; n++ {
		m := subscribe(b, strconv.Itoa(n), map[string]any{"query": held})
		if m.Type == "next" && !strings.Contains(string(m.Payload), `"errors"`) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the ended subscription's place never came back: %+v", m)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
