package app

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"go.opentelemetry.io/otel/trace"
)

// NewLogger returns the gateway's logger: JSON (or text) on w at level, every
// line from a request carrying its requestId, and the value of any attribute
// whose key names a secret (password, secret, token, authorization, apiKey,
// credential) replaced by "[redacted]".
func NewLogger(w io.Writer, format, level string) *slog.Logger {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil || level == "" {
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv, ReplaceAttr: redactAttr}
	var h slog.Handler = slog.NewJSONHandler(w, opts)
	if format == "text" {
		h = slog.NewTextHandler(w, opts)
	}
	return slog.New(requestIDHandler{h})
}

var secretKeys = []string{"password", "secret", "token", "authorization", "apikey", "api_key", "credential", "signature"}

func redactAttr(_ []string, a slog.Attr) slog.Attr {
	k := strings.ToLower(a.Key)
	for _, s := range secretKeys {
		if strings.Contains(k, s) {
			return slog.String(a.Key, "[redacted]")
		}
	}
	return a
}

// requestIDHandler adds the request id of ctx to every line logged with a
// request's context (audit lines, errors), not only to the request line.
type requestIDHandler struct{ slog.Handler }

func (h requestIDHandler) Handle(ctx context.Context, r slog.Record) error {
	if s := statsFrom(ctx); s != nil && r.Message != "request" {
		r.AddAttrs(slog.String("requestId", s.id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h requestIDHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return requestIDHandler{h.Handler.WithAttrs(as)}
}

func (h requestIDHandler) WithGroup(name string) slog.Handler {
	return requestIDHandler{h.Handler.WithGroup(name)}
}

// requestStats is what one request did, gathered while it runs and logged
// when it ends.
type requestStats struct {
	id          string
	mu          sync.Mutex
	operation   string
	kind        string
	principal   string
	upstream    atomic.Int64
	cacheHits   atomic.Int64
	cacheMisses atomic.Int64
	responseHit atomic.Bool  // answered from the whole-response cache
	planned     atomic.Int64 // upstream calls planned (upstreamPlan), when wasPlanned
	wasPlanned  atomic.Bool
}

type statsKey struct{}

func statsFrom(ctx context.Context) *requestStats {
	s, _ := ctx.Value(statsKey{}).(*requestStats)
	return s
}

func (s *requestStats) setOperation(name, kind string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if name != "" {
		s.operation = truncate(name, maxLoggedName)
	}
	if kind != "" {
		s.kind = kind
	}
}

func (s *requestStats) setPrincipal(name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.principal = name
}

// maxLoggedName bounds an operation name in a log line or span: the client
// chooses it (operationName is logged before the document is parsed), and
// a 1 MiB name must not make a 1 MiB log line.
const maxLoggedName = 128

// truncate cuts s to at most n bytes on a rune boundary, marking the cut.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// requestID is the caller's X-Request-Id when it is sane, else a new one.
func requestID(r *http.Request) string {
	if id := r.Header.Get("X-Request-Id"); id != "" && len(id) <= 128 && strings.Trim(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.:") == "" {
		return id
	}
	var b [12]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// requestLog gives each request an id (echoed in X-Request-Id) and logs one
// line when it ends: id, method, path, status, duration, operation, API
// key name, upstream calls and cache hits/misses, trace id. Never a header
// or a variable.
func requestLog(logger *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		s := &requestStats{id: requestID(r)}
		w.Header().Set("X-Request-Id", s.id)
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		ctx := context.WithValue(r.Context(), statsKey{}, s)
		next.ServeHTTP(rec, r.WithContext(ctx))
		s.mu.Lock()
		attrs := []slog.Attr{
			slog.String("requestId", s.id), slog.String("method", r.Method), slog.String("path", r.URL.Path),
			slog.Int("status", rec.status), slog.Float64("durationMs", float64(time.Since(start).Microseconds())/1000),
			slog.String("operation", s.operation), slog.String("operationType", s.kind),
			slog.Int64("upstreamCalls", s.upstream.Load()),
			slog.Int64("cacheHits", s.cacheHits.Load()), slog.Int64("cacheMisses", s.cacheMisses.Load()),
			slog.Bool("responseCacheHit", s.responseHit.Load()),
			slog.Int64("bytes", rec.bytes),
		}
		if s.principal != "" {
			attrs = append(attrs, slog.String("caller", s.principal))
		}
		s.mu.Unlock()
		if sc := trace.SpanContextFromContext(ctx); sc.IsValid() {
			attrs = append(attrs, slog.String("traceId", sc.TraceID().String()))
		}
		level := slog.LevelInfo
		if rec.status >= 500 {
			level = slog.LevelError
		}
		logger.LogAttrs(ctx, level, "request", attrs...)
	})
}

// recorder notes the status and size of an answer. It passes Flush (SSE)
// and Hijack (websockets) through, and Unwrap for http.ResponseController.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
	wrote  bool
}

func (r *recorder) WriteHeader(code int) {
	if !r.wrote {
		r.status, r.wrote = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wrote = true
	n, err := r.ResponseWriter.Write(b)
	r.bytes += int64(n)
	return n, err
}

func (r *recorder) Flush() {
	r.wrote = true
	_ = http.NewResponseController(r.ResponseWriter).Flush()
}

func (r *recorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.status, r.wrote = http.StatusSwitchingProtocols, true
	hj, ok := r.ResponseWriter.(http.Hijacker)
	if !ok {
		return nil, nil, errors.New("hijack not supported")
	}
	return hj.Hijack()
}

func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

// countingTransport counts each vendor call in its request's stats.
type countingTransport struct{ next http.RoundTripper }

func (t countingTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	if s := statsFrom(r.Context()); s != nil {
		s.upstream.Add(1)
	}
	return t.next.RoundTrip(r)
}

// CloseIdleConnections reaches through to the backend's transport.
func (t countingTransport) CloseIdleConnections() {
	if c, ok := t.next.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
