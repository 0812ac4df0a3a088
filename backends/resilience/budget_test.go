package resilience_test

import (
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
)

// The upstream budget stands before the breaker: a call it refuses is
// never sent and never retried, and a 429 teaches it the vendor's limit
// while the client still reads the whole answer.
func TestBudgetRefusalIsNotSentNorRetried(t *testing.T) {
	t.Parallel()
	b := budget.New(budget.Options{Backend: backendName, Limit: budget.Limit{PerSecond: 1.0 / 60, Burst: 1},
		Waits: map[budget.Class]time.Duration{budget.Interactive: time.Nanosecond}})
	e := setup(t, status(200), func(o *resilience.Options) { o.Budget = b })
	if code, err := e.get(t); err != nil || code != 200 {
		t.Fatalf("first call: %d %v", code, err)
	}
	_, err := e.get(t)
	var tr *backends.TransportError
	if !errors.As(err, &tr) || !errors.Is(err, budget.ErrExhausted) || !errors.Is(err, backends.ErrRateLimited) {
		t.Fatalf("second call: %v, want a budget refusal", err)
	}
	expectHits(t, e, 1)
	if got := e.retries("transport_error"); got != 0 {
		t.Fatalf("a budget refusal was retried %v times", got)
	}
}

func TestA429TeachesTheBudget(t *testing.T) {
	t.Parallel()
	const apig = `{"error_msg":"The throttling threshold has been reached: policy user over ratelimit,limit:6,time:1 minute","error_code":"APIG.0308"}`
	b := budget.New(budget.Options{Backend: backendName, Limit: budget.Limit{PerSecond: 10, Burst: 10}})
	e := setup(t, func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, apig)
	}, func(o *resilience.Options) { o.Budget = b; o.Retry.Disabled = true })
	resp, err := e.client.Get(e.srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != apig {
		t.Fatalf("the client read %q: the budget's peek ate the body", body)
	}
	// 90% of the stated 6/min is 5.4/min: a burst of 1 (10 x 5.4/600), so
	// of 10 more calls at once at most one is sent.
	refused := 0
	for range 10 {
		if _, err := e.client.Get(e.srv.URL); errors.Is(err, budget.ErrExhausted) {
			refused++
		}
	}
	if sent := e.hits.Load() - 1; sent > 1 || refused != 10-int(sent) {
		t.Fatalf("after learning 6/min: %d sent, %d refused of 10", sent, refused)
	}
}
