package tests

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"go.opentelemetry.io/otel/trace"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/backends/modelarts/modelartssim"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

// headerLog records the headers of every request a simulator received, so a
// test can prove which credential reached which vendor.
type headerLog struct {
	mu   sync.Mutex
	seen []http.Header
}

func (l *headerLog) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/_sim/") {
			l.mu.Lock()
			l.seen = append(l.seen, r.Header.Clone())
			l.mu.Unlock()
		}
		next.ServeHTTP(w, r)
	})
}

// all returns every header value received, one string per request.
func (l *headerLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([]string, len(l.seen))
	for i, h := range l.seen {
		var b strings.Builder
		for k, vs := range h {
			b.WriteString(k + ": " + strings.Join(vs, ",") + "\n")
		}
		out[i] = b.String()
	}
	return out
}

func (l *headerLog) anyContains(s string) bool {
	for _, h := range l.all() {
		if strings.Contains(h, s) {
			return true
		}
	}
	return false
}

// header returns the values of one header over every request received.
func (l *headerLog) header(name string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []string
	for _, h := range l.seen {
		out = append(out, h.Get(name))
	}
	return out
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// lines decodes the JSON log lines.
func (b *syncBuffer) lines(t *testing.T) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n") {
		if line == "" {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("log line is not JSON: %q", line)
		}
		out = append(out, m)
	}
	return out
}

// prodEnv is env with the production surface in view: the gateway's own
// *app.Gateway, its JSON log, and the simulators' received headers.
type prodEnv struct {
	*env
	gateway *app.Gateway
	log     *syncBuffer
	raSeen  *headerLog
	maSeen  *headerLog
}

type prodOptions struct {
	envOptions
	tracer trace.TracerProvider
}

func newProdEnv(t *testing.T, o prodOptions) *prodEnv {
	t.Helper()
	e := &env{ra: runaisim.New(o.runai), ma: modelartssim.New(o.modelarts)}
	p := &prodEnv{env: e, log: &syncBuffer{}, raSeen: &headerLog{}, maSeen: &headerLog{}}
	raSrv := httptest.NewServer(p.raSeen.wrap(e.ra.Handler()))
	t.Cleanup(raSrv.Close)
	maSrv := httptest.NewServer(p.maSeen.wrap(e.ma.Handler()))
	t.Cleanup(maSrv.Close)
	e.raURL, e.maURL = raSrv.URL, maSrv.URL
	cfg := simConfig(raSrv.URL, maSrv.URL)
	cfg.RunAI[0].APIVersion = e.ra.Version()
	if o.configure != nil {
		o.configure(cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	gw, err := app.BuildWith(cfg, app.Options{Logger: app.NewLogger(p.log, "json", "debug"), TracerProvider: o.tracer})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = gw.Close() })
	p.gateway = gw
	e.gw = httptest.NewServer(gw.Handler)
	t.Cleanup(e.gw.Close)
	return p
}

// httpResult is a raw answer of the gateway.
type httpResult struct {
	status int
	header http.Header
	body   []byte
	json   map[string]any // nil when the body is not a JSON object
}

func (r httpResult) code() string {
	errs, _ := r.json["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	e, _ := errs[0].(map[string]any)
	ext, _ := e["extensions"].(map[string]any)
	c, _ := ext["code"].(string)
	return c
}

func (r httpResult) hasData() bool {
	_, ok := r.json["data"]
	return ok
}

// do sends one raw HTTP request to the gateway: method, path (with query),
// body and header pairs.
func (e *env) do(t *testing.T, method, path string, body io.Reader, header ...string) httpResult {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, e.gw.URL+path, body)
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
	raw, _ := io.ReadAll(resp.Body)
	out := httpResult{status: resp.StatusCode, header: resp.Header, body: raw}
	_ = json.Unmarshal(raw, &out.json)
	return out
}

// post sends a GraphQL document as JSON with the given Accept (and more
// headers).
func (e *env) post(t *testing.T, query string, vars map[string]any, header ...string) httpResult {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return e.do(t, http.MethodPost, "/graphql", bytes.NewReader(body), append([]string{"Content-Type", "application/json"}, header...)...)
}

func sha256Hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// quietLogger keeps gateways built outside prodEnv from writing to stderr.
func quietLogger() *slog.Logger { return app.NewLogger(io.Discard, "json", "error") }
