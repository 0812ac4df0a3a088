package tests

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"github.com/fleetgraph/fleetgraph/app"
)

type wsMessage struct {
	ID      string          `json:"id,omitempty"`
	Type    string          `json:"type"`
	Payload json.RawMessage `json:"payload,omitempty"`
}

// wsDial opens a graphql-transport-ws connection with the handshake
// headers given as pairs.
func wsDial(t *testing.T, e *env, header ...string) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	h := http.Header{}
	for i := 0; i+1 < len(header); i += 2 {
		h.Set(header[i], header[i+1])
	}
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
	defer cancel()
	c, resp, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(e.gw.URL, "http")+"/graphql",
		&websocket.DialOptions{Subprotocols: []string{"graphql-transport-ws"}, HTTPHeader: h})
	if c != nil {
		t.Cleanup(func() { _ = c.CloseNow() })
	}
	return c, resp, err
}

func wsSend(t *testing.T, c *websocket.Conn, m wsMessage) {
	t.Helper()
	b, _ := json.Marshal(m)
	if err := c.Write(t.Context(), websocket.MessageText, b); err != nil {
		t.Fatal(err)
	}
}

// wsNext reads until a message that is not a ping/pong/ka.
func wsNext(t *testing.T, c *websocket.Conn) (wsMessage, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		_, b, err := c.Read(ctx)
		if err != nil {
			return wsMessage{}, err
		}
		var m wsMessage
		if err := json.Unmarshal(b, &m); err != nil {
			t.Fatalf("not JSON: %s", b)
		}
		if m.Type != "ping" && m.Type != "pong" && m.Type != "ka" {
			return m, nil
		}
	}
}

const liveSummary = `subscription { fleetSummary(intervalSeconds: 5) { at summary { nodes } } }`

// TestWebsocketCredentialsFromInitPayload: in pass-through mode the vendor
// credentials of a websocket come from connection_init, each to its own
// vendor, exactly as headers do over HTTP.
func TestWebsocketCredentialsFromInitPayload(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withPassThrough}})
	raToken, maToken := e.ra.IssueToken(), e.ma.IssueToken()
	c, _, err := wsDial(t, e.env)
	if err != nil {
		t.Fatal(err)
	}
	wsSend(t, c, wsMessage{Type: "connection_init", Payload: json.RawMessage(mustJSON(map[string]any{
		"Authorization": "Bearer " + raToken, "x-auth-token": maToken,
	}))})
	if m, err := wsNext(t, c); err != nil || m.Type != "connection_ack" {
		t.Fatalf("init: %+v %v", m, err)
	}
	wsSend(t, c, wsMessage{ID: "1", Type: "subscribe", Payload: json.RawMessage(mustJSON(map[string]any{"query": liveSummary}))})
	m, err := wsNext(t, c)
	if err != nil || m.Type != "next" {
		t.Fatalf("subscribe: %+v %v", m, err)
	}
	var payload struct {
		Data struct {
			FleetSummary struct{ Summary struct{ Nodes int } }
		}
		Errors []gqlError
	}
	if err := json.Unmarshal(m.Payload, &payload); err != nil || len(payload.Errors) > 0 || payload.Data.FleetSummary.Summary.Nodes == 0 {
		t.Fatalf("first update: %s", m.Payload)
	}
	if !slices.Contains(e.raSeen.header("Authorization"), "Bearer "+raToken) || !slices.Contains(e.maSeen.header("X-Auth-Token"), maToken) {
		t.Fatal("the payload's credentials did not reach their vendors")
	}
	if e.raSeen.anyContains(maToken) || e.maSeen.anyContains(raToken) {
		t.Fatal("a credential reached the other vendor")
	}
}

func TestWebsocketAPIKey(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: withAPIKeys}})
	// A wrong key in the handshake is refused outright.
	if _, resp, err := wsDial(t, e.env, "X-API-Key", "fg_guess"); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Fatalf("wrong key in the handshake: %v %v", resp, err)
	}
	// No key in the handshake nor in connection_init: closed before any ack.
	c, _, err := wsDial(t, e.env)
	if err != nil {
		t.Fatal(err)
	}
	wsSend(t, c, wsMessage{Type: "connection_init", Payload: json.RawMessage(`{}`)})
	if m, err := wsNext(t, c); err == nil && m.Type == "connection_ack" {
		t.Fatal("acknowledged without a key")
	}
	// The key in connection_init: accepted.
	c, _, err = wsDial(t, e.env)
	if err != nil {
		t.Fatal(err)
	}
	wsSend(t, c, wsMessage{Type: "connection_init", Payload: json.RawMessage(mustJSON(map[string]any{"X-API-Key": grafanaKey}))})
	if m, err := wsNext(t, c); err != nil || m.Type != "connection_ack" {
		t.Fatalf("with a key: %+v %v", m, err)
	}
	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
}

func TestWebsocketOrigin(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.CORS.AllowedOrigins = []string{"https://grafana.example.com"}
	}}})
	if _, resp, err := wsDial(t, e.env, "Origin", "https://evil.example.com"); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Fatalf("foreign origin: %v %v", resp, err)
	}
	for _, origin := range []string{"https://grafana.example.com", e.gw.URL, ""} {
		c, _, err := wsDial(t, e.env, "Origin", origin)
		if err != nil {
			t.Fatalf("origin %q: %v", origin, err)
		}
		wsSend(t, c, wsMessage{Type: "connection_init"})
		if m, err := wsNext(t, c); err != nil || m.Type != "connection_ack" {
			t.Fatalf("origin %q: %+v %v", origin, m, err)
		}
	}
}

// TestServerSentEvents: a subscription over SSE, outside the request
// deadline and the server's write timeout.
func TestServerSentEvents(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.RequestTimeout = app.Duration(200 * time.Millisecond)
		c.GraphQL.WebsocketKeepAlive = app.Duration(50 * time.Millisecond)
	}}})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", e.gw.URL+"/graphql", strings.NewReader(mustJSON(map[string]any{"query": liveSummary})))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "text/event-stream")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream") {
		t.Fatalf("status %d, Content-Type %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	sc := bufio.NewScanner(resp.Body)
	start, got := time.Now(), false
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data: "); ok && strings.Contains(data, `"nodes"`) {
			got = true
		}
		// Keep-alives still flow well past the request timeout: a stream
		// is not a request.
		if got && time.Since(start) > time.Second {
			return
		}
	}
	t.Fatalf("stream ended after %v (update received: %v): %v", time.Since(start), got, sc.Err())
}
