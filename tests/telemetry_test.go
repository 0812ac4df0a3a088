package tests

import (
	"bytes"
	"context"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"

	"github.com/fleetgraph/fleetgraph/app"
)

// TestTracing follows one request through its spans (server, operation,
// dataloader batch, cache, upstream call) within the caller's trace, and
// finds the trace at the vendor in its traceparent header.
func TestTracing(t *testing.T) {
	t.Parallel()
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	mr := newMiniredis(t)
	e := newProdEnv(t, prodOptions{tracer: tp, envOptions: envOptions{configure: withRedis(mr.Addr(), nil)}})

	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	var data struct{ Clusters []cluster }
	e.query(t, `query Fleet { clusters(provider: RUNAI) { name } }`, nil,
		"traceparent", "00-"+traceID+"-00f067aa0ba902b7-01", "X-Request-Id", "req-trace-1").mustData(t, &data)

	var spans tracetest.SpanStubs
	want := []string{"POST /graphql", "query Fleet", "dataloader clusters", "cache get", "cache set", "runai-a GET /api/v1/clusters", "runai-a POST /api/v1/token"}
	deadline := time.Now().Add(2 * time.Second)
	for {
		spans = exp.GetSpans()
		if names := spanNames(spans); containsAll(names, want) || time.Now().After(deadline) {
			if !containsAll(names, want) {
				t.Fatalf("spans %v, want at least %v", names, want)
			}
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	byName := map[string]tracetest.SpanStub{}
	for _, s := range spans {
		if s.SpanContext.TraceID().String() != traceID {
			t.Fatalf("span %q is in trace %s, not the caller's", s.Name, s.SpanContext.TraceID())
		}
		byName[s.Name] = s
	}
	parentOf := func(child string) string {
		for _, s := range spans {
			if s.SpanContext.SpanID() == byName[child].Parent.SpanID() {
				return s.Name
			}
		}
		return ""
	}
	for child, parent := range map[string]string{
		"query Fleet": "POST /graphql", "dataloader clusters": "query Fleet",
		"cache get": "dataloader clusters", "runai-a GET /api/v1/clusters": "dataloader clusters",
	} {
		if got := parentOf(child); got != parent {
			t.Errorf("parent of %q is %q, want %q", child, got, parent)
		}
	}
	// The vendor received the trace.
	var found bool
	for _, tp := range e.raSeen.header("Traceparent") {
		found = found || strings.Contains(tp, traceID)
	}
	if !found {
		t.Fatalf("no traceparent with the trace at Run:ai: %v", e.raSeen.header("Traceparent"))
	}

	// The request line: id, operation, upstream calls, cache, trace.
	line := requestLine(t, e, "req-trace-1")
	if line["operation"] != "Fleet" || line["operationType"] != "query" || line["traceId"] != traceID ||
		line["upstreamCalls"].(float64) < 2 || line["cacheMisses"].(float64) < 1 || line["status"].(float64) != 200 {
		t.Fatalf("request line %v", line)
	}
	// Warm: everything from the cache, nothing upstream.
	e.query(t, `query Fleet { clusters(provider: RUNAI) { name } }`, nil, "X-Request-Id", "req-trace-2").mustData(t, &data)
	line = requestLine(t, e, "req-trace-2")
	if line["upstreamCalls"].(float64) != 0 || line["cacheHits"].(float64) < 1 {
		t.Fatalf("warm request line %v", line)
	}
}

func spanNames(spans tracetest.SpanStubs) []string {
	var out []string
	for _, s := range spans {
		out = append(out, s.Name)
	}
	return out
}

func containsAll(have, want []string) bool {
	for _, w := range want {
		if !slices.Contains(have, w) {
			return false
		}
	}
	return true
}

func requestLine(t *testing.T, e *prodEnv, id string) map[string]any {
	t.Helper()
	for range 100 {
		for _, l := range e.log.lines(t) {
			if l["msg"] == "request" && l["requestId"] == id {
				return l
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("no request line for %s in:\n%s", id, e.log.String())
	return nil
}

// TestTracingOffByDefault: no provider, no spans, no traceparent sent.
func TestTracingOffByDefault(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	r := e.post(t, `{ clusters { name } }`, nil, "traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	if r.status != 200 {
		t.Fatal(r.status)
	}
	if e.raSeen.anyContains("4bf92f3577b34da6a3ce929d0e0e4736") || e.maSeen.anyContains("4bf92f3577b34da6a3ce929d0e0e4736") {
		t.Fatal("trace context forwarded with tracing off")
	}
	// Every request has an id, echoed to the caller.
	if id := r.header.Get("X-Request-Id"); len(id) != 24 {
		t.Fatalf("X-Request-Id %q", id)
	}
	if id := e.post(t, `{ backends { name } }`, nil, "X-Request-Id", "bad id with spaces").header.Get("X-Request-Id"); id == "bad id with spaces" {
		t.Fatal("an unsafe request id was echoed")
	}
}

// TestLogsRedactSecrets: the logger redacts secret-named attributes and a
// configuration logs its shape only.
func TestLogsRedactSecrets(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	log := app.NewLogger(&buf, "json", "info")
	cfg := &app.Config{
		RunAI:     []app.RunAIConfig{{Name: "runai-prod", BaseURL: "https://x.run.ai", ClientID: "id", ClientSecret: "s3cr3t-client"}},
		ModelArts: []app.ModelArtsConfig{{Name: "ma", Endpoint: "https://ma.example", ProjectID: "p", AccessKey: "AKID", SecretKey: "s3cr3t-sk"}},
		Redis:     app.RedisConfig{URL: "redis://:s3cr3t-redis@redis:6379/0"},
	}
	log.Info("configuration", "config", cfg)
	log.Info("oops", "clientSecret", "s3cr3t-1", "Authorization", "Bearer s3cr3t-2", "X-Auth-Token", "s3cr3t-3",
		"apiKey", "s3cr3t-4", slog.Group("iam", "password", "s3cr3t-5"))
	out := buf.String()
	if strings.Contains(out, "s3cr3t") {
		t.Fatalf("a secret was logged:\n%s", out)
	}
	if !strings.Contains(out, "runai-prod") || !strings.Contains(out, "[redacted]") {
		t.Fatalf("log %s", out)
	}
}
