package tests

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/app"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
	"github.com/fleetgraph/fleetgraph/internal/testutil"
)

// TestHostileDocumentsAreRefusedBeforeValidation: every document of the
// hostile corpus (quadratic for gqlparser's validator, within the body and
// token limits) is refused with LIMIT_EXCEEDED naming its limit, no data,
// no vendor call; the gateway stays healthy. Their cost is measured in
// app's BenchmarkHostileValidation (~20 s for the worst before the limits,
// milliseconds after).
func TestHostileDocumentsAreRefusedBeforeValidation(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	limits := app.DefaultLimits
	corpus := append(testutil.HostileDocuments(limits.MaxTokens), testutil.HostileUnderLimits(limits.MaxSelections)...)
	for i, doc := range corpus {
		t.Run(doc.Name, func(t *testing.T) {
			before := e.upstreamCalls()
			// The nonce makes gqlgen's document cache miss.
			r := e.post(t, fmt.Sprintf("%s # nonce %d", doc.Query, i), nil)
			if r.status != http.StatusBadRequest || r.code() != errcodes.LimitExceeded || r.hasData() {
				t.Fatalf("status %d code %q data %v, want 400 LIMIT_EXCEEDED without data: %.300s", r.status, r.code(), r.hasData(), r.body)
			}
			errs := r.json["errors"].([]any)
			ext := errs[0].(map[string]any)["extensions"].(map[string]any)
			if ext["limit"] != doc.Limit || ext["max"] == nil || len(errs) != 1 {
				t.Fatalf("%d errors, first %v; want one, limit %s with max", len(errs), ext, doc.Limit)
			}
			if got := e.upstreamCalls() - before; got != 0 {
				t.Fatalf("%d upstream calls for a refused document", got)
			}
		})
	}
	if r := e.do(t, http.MethodGet, "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz %d after the corpus", r.status)
	}
	var data struct{ Clusters []cluster }
	e.query(t, `{ clusters { name } }`, nil).mustData(t, &data)
	if len(data.Clusters) != 4 {
		t.Fatal("the gateway does not answer normally after the corpus")
	}
}

// TestHostileDocumentsHoldNoSlots: with one execution slot, eight hostile
// documents at once and a real query behind them all finish (each hostile
// one used to hold the slot for ~20 s of validation). The deadline only
// bounds a hang; the cost is measured in BenchmarkHostileValidation.
func TestHostileDocumentsHoldNoSlots(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{envOptions: envOptions{configure: func(c *app.Config) {
		c.Limits.MaxConcurrentRequests = 1
		c.Limits.QueueTimeout = app.Duration(time.Minute)
		c.RequestTimeout = app.Duration(2 * time.Minute)
	}}})
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	typenames := "{ " + strings.Repeat("__typename ", app.DefaultLimits.MaxTokens-20) + "}"
	var wg sync.WaitGroup
	codes := make([]string, 8)
	for i := range codes {
		wg.Go(func() {
			r := e.postCtx(ctx, t, fmt.Sprintf("%s # nonce %d", typenames, i))
			codes[i] = r.code()
		})
	}
	start := time.Now()
	real := e.postCtx(ctx, t, `{ clusters { name } }`)
	t.Logf("the real query behind 8 hostile documents took %v", time.Since(start)) // a measure, not a bound
	wg.Wait()
	if ctx.Err() != nil {
		t.Fatal("hostile documents held the only execution slot past the deadline")
	}
	for i, c := range codes {
		if c != errcodes.LimitExceeded {
			t.Errorf("hostile request %d: code %q, want LIMIT_EXCEEDED", i, c)
		}
	}
	if real.status != http.StatusOK || real.code() != "" {
		t.Errorf("the real query behind them: %d %.300s", real.status, real.body)
	}
}

// TestErrorsAreCapped: a document with hundreds of errors (unknown fields)
// gets at most limits.maxErrors of them, and one ERRORS_TRUNCATED error
// that counts the rest.
func TestErrorsAreCapped(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	var b strings.Builder
	b.WriteString("{ ")
	for i := range 500 {
		fmt.Fprintf(&b, "x%d ", i)
	}
	b.WriteString("}")
	before := e.upstreamCalls()
	r := e.post(t, b.String(), nil)
	if r.status != http.StatusBadRequest || r.hasData() {
		t.Fatalf("status %d: %.300s", r.status, r.body)
	}
	errs := r.json["errors"].([]any)
	max := app.DefaultLimits.MaxErrors
	if len(errs) != max+1 {
		t.Fatalf("%d errors, want %d and one that counts the rest", len(errs), max+1)
	}
	last := errs[max].(map[string]any)["extensions"].(map[string]any)
	if last["code"] != errcodes.ErrorsTruncated || last["dropped"] != float64(500-max) || last["limit"] != "errors" {
		t.Fatalf("last error %v", last)
	}
	if got := e.upstreamCalls() - before; got != 0 {
		t.Fatalf("%d upstream calls", got)
	}
	if r := e.do(t, http.MethodGet, "/healthz", nil); r.status != http.StatusOK {
		t.Fatalf("/healthz %d", r.status)
	}
}

// postCtx posts a document under ctx; safe in a goroutine (a transport
// error is reported with t.Errorf and a zero result).
func (e *env) postCtx(ctx context.Context, t *testing.T, query string) httpResult {
	body := mustJSON(map[string]any{"query": query})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.gw.URL+"/graphql", strings.NewReader(body))
	if err != nil {
		t.Error(err)
		return httpResult{}
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Error(err)
		return httpResult{}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := httpResult{status: resp.StatusCode, header: resp.Header, body: raw}
	_ = json.Unmarshal(raw, &out.json)
	return out
}
