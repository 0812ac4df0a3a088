package app

import (
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// BenchmarkHostileValidation sends each document of the hostile corpus
// (testutil.HostileDocuments, as many tokens as limits.maxTokens allows)
// through the gateway's handler, a new `# nonce` each time so that the
// document cache misses: ns/op is the cost of refusing (or parsing and
// validating) it. Run with -benchtime=1x before the validator was bounded:
// the worst took ~20 s.
func BenchmarkHostileValidation(b *testing.B) {
	var vendorCalls atomic.Int64
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		vendorCalls.Add(1)
		http.NotFound(w, r)
	}))
	b.Cleanup(vendor.Close)
	cfg := &Config{RunAI: []RunAIConfig{{Name: "ra", BaseURL: vendor.URL + "/base", PassThrough: true}}}
	g, err := BuildWith(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = g.Close() })
	limits := cfg.EffectiveLimits()
	corpus := append(testutil.HostileDocuments(limits.MaxTokens), testutil.HostileUnderLimits(limits.MaxSelections)...)
	for _, doc := range corpus {
		b.Run(strings.ReplaceAll(doc.Name, " ", "_"), func(b *testing.B) {
			var last *httptest.ResponseRecorder
			nonce := 0
			for b.Loop() {
				nonce++
				body := mustMarshal(map[string]any{"query": fmt.Sprintf("%s # %d", doc.Query, nonce)})
				req := httptest.NewRequest(http.MethodPost, "/graphql", strings.NewReader(body))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer caller-token")
				last = httptest.NewRecorder()
				g.Handler.ServeHTTP(last, req)
			}
			b.ReportMetric(float64(len(body(last))), "respBytes")
			b.Logf("%s: status %d, %.200s", doc.Name, last.Code, body(last))
		})
	}
	if n := vendorCalls.Load(); n != 0 {
		b.Errorf("%d vendor calls", n)
	}
}

func body(r *httptest.ResponseRecorder) string { return r.Body.String() }

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
