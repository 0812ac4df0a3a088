package tests

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
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
