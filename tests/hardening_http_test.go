package tests

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// realServer serves the gateway of e with its own http.Server settings
// (Server(): MaxHeaderBytes, timeouts), not httptest's defaults.
func realServer(t *testing.T, e *prodEnv) string {
	t.Helper()
	ts := httptest.NewUnstartedServer(nil)
	ts.Config = e.gateway.Server()
	ts.Start()
	t.Cleanup(ts.Close)
	return ts.Listener.Addr().String()
}

// rawExchange writes a whole request at once, the way Python's urllib does
// (headers and body, no Expect: 100-continue), and only then reads the
// answer. The deadline only bounds a hang.
func rawExchange(t *testing.T, addr, head string, body io.Reader) (*http.Response, []byte, error) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(60 * time.Second))
	w := bufio.NewWriterSize(conn, 64<<10)
	_, _ = io.WriteString(w, head)
	_, werr := io.Copy(w, body)
	if werr == nil {
		werr = w.Flush()
	}
	if werr != nil {
		// urllib gives up here: it never reads the answer.
		return nil, nil, fmt.Errorf("writing the request: %w", werr)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		return nil, nil, fmt.Errorf("reading the answer: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	return resp, raw, err
}

func wantJSON413(t *testing.T, resp *http.Response, raw []byte, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var out struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if resp.StatusCode != http.StatusRequestEntityTooLarge || json.Unmarshal(raw, &out) != nil || len(out.Errors) != 1 ||
		out.Errors[0].Extensions["code"] != errcodes.PayloadTooLarge {
		t.Fatalf("status %d %q: %.300s; want 413 JSON with PAYLOAD_TOO_LARGE", resp.StatusCode, resp.Header.Get("Content-Type"), raw)
	}
}

// TestOversizedRequestsGetTheJSON413: a body over limits.maxBodyBytes sent
// whole without Expect: 100-continue, with a length or chunked, and a GET
// whose query string is over the limit, all get the JSON 413 (not a
// connection reset, not net/http's plain-text 431), with no upstream call;
// the gateway stays healthy.
func TestOversizedRequestsGetTheJSON413(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) { c.Limits.MaxBodyBytes = limit }}})
	addr := realServer(t, e)
	body := `{"query":"{ backends { name } }","variables":{"pad":"` + strings.Repeat("x", 6<<20) + `"}}`

	t.Run("with Content-Length", func(t *testing.T) {
		head := fmt.Sprintf("POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", len(body))
		resp, raw, err := rawExchange(t, addr, head, strings.NewReader(body))
		wantJSON413(t, resp, raw, err)
	})
	t.Run("chunked", func(t *testing.T) {
		head := "POST /graphql HTTP/1.1\r\nHost: gw\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
		var chunked strings.Builder
		for rest := body; rest != ""; {
			n := min(len(rest), 32<<10)
			fmt.Fprintf(&chunked, "%x\r\n%s\r\n", n, rest[:n])
			rest = rest[n:]
		}
		chunked.WriteString("0\r\n\r\n")
		resp, raw, err := rawExchange(t, addr, head, strings.NewReader(chunked.String()))
		wantJSON413(t, resp, raw, err)
	})
	t.Run("GET with a long query string", func(t *testing.T) {
		q := url.Values{"query": {"{ backends { name } }"}, "variables": {`{"pad":"` + strings.Repeat("x", 100<<10) + `"}`}}
		head := "GET /graphql?" + q.Encode() + " HTTP/1.1\r\nHost: gw\r\n\r\n"
		resp, raw, err := rawExchange(t, addr, head, strings.NewReader(""))
		wantJSON413(t, resp, raw, err)
	})
	t.Run("header fields over 64 KiB", func(t *testing.T) {
		head := "GET /graphql?query=%7B__typename%7D HTTP/1.1\r\nHost: gw\r\nX-Pad: " + strings.Repeat("x", 100<<10) + "\r\n\r\n"
		resp, raw, err := rawExchange(t, addr, head, strings.NewReader(""))
		if err != nil || resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge || !strings.Contains(string(raw), `"code":"REQUEST_HEADER_FIELDS_TOO_LARGE"`) {
			t.Fatalf("%v %v %.200s; want 431 JSON REQUEST_HEADER_FIELDS_TOO_LARGE", resp, err, raw)
		}
	})

	if n := e.upstreamCalls(); n != 0 {
		t.Fatalf("%d upstream calls", n)
	}
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("/healthz: %v %v", resp, err)
	}
	resp.Body.Close()
}

// TestRequestLogBoundsOperationName: a client-chosen operationName of
// 100 KB is logged truncated, never whole.
func TestRequestLogBoundsOperationName(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	name := strings.Repeat("N", 100<<10)
	r := e.postBody(t, map[string]any{"query": "query " + name + " { backends { name } }", "operationName": name})
	if r.status != http.StatusOK {
		t.Fatalf("status %d: %.200s", r.status, r.body)
	}
	e.postBody(t, map[string]any{"query": "{ backends { name } }", "operationName": name}) // not in the document
	for _, line := range strings.Split(e.log.String(), "\n") {
		if len(line) > 4096 {
			t.Fatalf("a log line of %d bytes: %.200s…", len(line), line)
		}
	}
	if !strings.Contains(e.log.String(), `"operation":"NNNN`) {
		t.Fatal("the operation name is not logged at all")
	}
}
