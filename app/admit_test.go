package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// admitted is an admission in front of a handler that records which
// requests ran (by X-Id) and, for those marked X-Block, waits for release.
type admitted struct {
	reg     *prometheus.Registry
	h       http.Handler
	release chan struct{}

	mu  sync.Mutex
	ran []string
}

// newAdmitted builds it the way newHandler does: HTTP gate, request
// deadline, admission. Call it inside the synctest bubble.
func newAdmitted(t *testing.T, maxConcurrent int, queueTimeout, requestTimeout time.Duration) *admitted {
	t.Helper()
	a := &admitted{reg: prometheus.NewRegistry(), release: make(chan struct{})}
	adm, err := newAdmission(maxConcurrent, queueTimeout, a.reg)
	if err != nil {
		t.Fatal(err)
	}
	inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.ran = append(a.ran, r.Header.Get("X-Id"))
		a.mu.Unlock()
		if r.Header.Get("X-Block") != "" {
			<-a.release
		}
		w.WriteHeader(http.StatusOK)
	})
	a.h = httpGate(1<<20, deadline(requestTimeout, adm.limit(inner)))
	return a
}

func (a *admitted) ranIDs() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.ran)
}

// serve runs one request to its end.
func (a *admitted) serve(r *http.Request) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a.h.ServeHTTP(rec, r)
	return rec
}

// start runs one request in the background; its recorder arrives on the
// channel when it has been answered.
func (a *admitted) start(r *http.Request) <-chan *httptest.ResponseRecorder {
	done := make(chan *httptest.ResponseRecorder, 1)
	go func() { done <- a.serve(r) }()
	return done
}

// metric reads one series of the admission's registry (a gauge, or the
// queue_timeout counter).
func (a *admitted) metric(t *testing.T, name string) float64 {
	t.Helper()
	fams, err := a.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if name == "fleetgraph_requests_rejected_total" {
				if lp := m.GetLabel(); len(lp) == 1 && lp[0].GetName() == "reason" && lp[0].GetValue() == "queue_timeout" {
					return m.GetCounter().GetValue()
				}
				continue
			}
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("metric %s is not registered", name)
	return 0
}

func (a *admitted) wantGauges(t *testing.T, inFlight, queued float64) {
	t.Helper()
	if got := a.metric(t, "fleetgraph_requests_in_flight"); got != inFlight {
		t.Errorf("fleetgraph_requests_in_flight %v, want %v", got, inFlight)
	}
	if got := a.metric(t, "fleetgraph_requests_queued"); got != queued {
		t.Errorf("fleetgraph_requests_queued %v, want %v", got, queued)
	}
}

func (a *admitted) wantRan(t *testing.T, ids ...string) {
	t.Helper()
	if got := a.ranIDs(); !slices.Equal(got, ids) {
		t.Errorf("handlers ran for %v, want %v", got, ids)
	}
}

// plain is a GraphQL POST; block makes its handler wait for release.
func plain(ctx context.Context, id string, block bool) *http.Request {
	r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/graphql", strings.NewReader(`{"query":"{ __typename }"}`))
	r.Header.Set("Content-Type", "application/json")
	r.Header.Set("X-Id", id)
	if block {
		r.Header.Set("X-Block", "1")
	}
	return r
}

func TestAdmissionQueuesBeyondTheLimit(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a := newAdmitted(t, 2, 10*time.Second, 30*time.Second)
		first := a.start(plain(t.Context(), "a", true))
		synctest.Wait()
		second := a.start(plain(t.Context(), "b", true))
		synctest.Wait()
		a.wantGauges(t, 2, 0)

		third := a.start(plain(t.Context(), "c", true))
		synctest.Wait()
		a.wantGauges(t, 2, 1)
		a.wantRan(t, "a", "b")

		a.release <- struct{}{} // a or b ends and frees its slot
		synctest.Wait()
		a.wantGauges(t, 2, 0)
		a.wantRan(t, "a", "b", "c")

		close(a.release)
		for _, done := range []<-chan *httptest.ResponseRecorder{first, second, third} {
			if rec := <-done; rec.Code != http.StatusOK {
				t.Errorf("status %d, want 200", rec.Code)
			}
		}
		a.wantGauges(t, 0, 0)
		if got := a.metric(t, "fleetgraph_requests_rejected_total"); got != 0 {
			t.Errorf("rejected %v, want 0", got)
		}
	})
}

// TestAdmissionQueueTimeout: a request that finds no slot within
// queueTimeout, or before its deadline, is refused with 503 OVERLOADED
// and never runs. synctest's clock makes the waited times exact.
func TestAdmissionQueueTimeout(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		name           string
		queueTimeout   time.Duration
		requestTimeout time.Duration
		accept         string
		wantWait       time.Duration
		wantMedia      string
	}{
		{"queueTimeout", 10 * time.Second, 30 * time.Second, "", 10 * time.Second, mediaGraphQLResponse},
		{"request deadline first", 10 * time.Second, 3 * time.Second, mediaJSON, 3 * time.Second, mediaJSON},
	} {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				a := newAdmitted(t, 1, tt.queueTimeout, tt.requestTimeout)
				holder := a.start(plain(t.Context(), "holder", true))
				synctest.Wait()

				r := plain(t.Context(), "late", false)
				if tt.accept != "" {
					r.Header.Set("Accept", tt.accept)
				}
				start := time.Now()
				rec := a.serve(r)
				if waited := time.Since(start); waited != tt.wantWait {
					t.Errorf("refused after %v, want %v", waited, tt.wantWait)
				}
				if rec.Code != http.StatusServiceUnavailable {
					t.Errorf("status %d, want 503", rec.Code)
				}
				if got := rec.Header().Get("Retry-After"); got != "1" {
					t.Errorf("Retry-After %q, want 1", got)
				}
				if got := rec.Header().Get("Content-Type"); got != tt.wantMedia+"; charset=utf-8" {
					t.Errorf("Content-Type %q, want %s", got, tt.wantMedia)
				}
				var body map[string]json.RawMessage
				if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
					t.Fatalf("body %s: %v", rec.Body, err)
				}
				if _, ok := body["data"]; ok {
					t.Errorf("body %s has data: the operation never ran", rec.Body)
				}
				var errs []struct {
					Message    string         `json:"message"`
					Extensions map[string]any `json:"extensions"`
				}
				if err := json.Unmarshal(body["errors"], &errs); err != nil || len(errs) != 1 {
					t.Fatalf("errors %s: %v", body["errors"], err)
				}
				if msg := errs[0].Message; !strings.HasPrefix(msg, "gateway overloaded: ") || !strings.HasSuffix(msg, "try again") {
					t.Errorf("message %q", msg)
				}
				if code := errs[0].Extensions["code"]; code != errcodes.Overloaded {
					t.Errorf("extensions.code %v, want %s", code, errcodes.Overloaded)
				}
				if got := a.metric(t, "fleetgraph_requests_rejected_total"); got != 1 {
					t.Errorf("rejected %v, want 1", got)
				}
				a.wantGauges(t, 1, 0)
				a.wantRan(t, "holder")

				close(a.release)
				<-holder
				a.wantGauges(t, 0, 0)
			})
		})
	}
}

// TestAdmissionClientGoneWhileQueued: a client that leaves the line gets no
// answer, does not run, is not counted as refused, and takes no slot with it.
func TestAdmissionClientGoneWhileQueued(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a := newAdmitted(t, 1, 10*time.Second, 30*time.Second)
		holder := a.start(plain(t.Context(), "holder", true))
		synctest.Wait()

		ctx, cancel := context.WithCancel(t.Context())
		gone := a.start(plain(ctx, "gone", false))
		synctest.Wait()
		a.wantGauges(t, 1, 1)
		cancel()
		rec := <-gone
		if rec.Body.Len() != 0 || rec.Header().Get("Retry-After") != "" {
			t.Errorf("a client that left got an answer: %d %s", rec.Code, rec.Body)
		}
		a.wantGauges(t, 1, 0)
		if got := a.metric(t, "fleetgraph_requests_rejected_total"); got != 0 {
			t.Errorf("rejected %v, want 0: the client left, nobody refused it", got)
		}

		close(a.release)
		<-holder
		a.wantGauges(t, 0, 0)
		// With the one slot given back, the next request runs at once.
		start := time.Now()
		if rec := a.serve(plain(t.Context(), "next", false)); rec.Code != http.StatusOK {
			t.Errorf("next request: status %d, want 200", rec.Code)
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("next request waited %v for a free slot", waited)
		}
		a.wantRan(t, "holder", "next")
		a.wantGauges(t, 0, 0)
	})
}

// TestAdmissionLetsStreamsThrough: websocket handshakes and SSE requests,
// detected as streams() and deadline() detect them, take no slot.
func TestAdmissionLetsStreamsThrough(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		a := newAdmitted(t, 1, 10*time.Second, 30*time.Second)
		holder := a.start(plain(t.Context(), "holder", true))
		synctest.Wait()

		ws := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "/graphql", nil)
		ws.Header.Set("Connection", "Upgrade")
		ws.Header.Set("Upgrade", "websocket")
		ws.Header.Set("X-Id", "websocket")
		sse := plain(t.Context(), "sse", false)
		sse.Header.Set("Accept", "text/event-stream")
		start := time.Now()
		for _, r := range []*http.Request{ws, sse} {
			if rec := a.serve(r); rec.Code != http.StatusOK {
				t.Errorf("%s: status %d, want 200", r.Header.Get("X-Id"), rec.Code)
			}
		}
		if waited := time.Since(start); waited != 0 {
			t.Errorf("streams waited %v for a slot", waited)
		}
		a.wantRan(t, "holder", "websocket", "sse")
		a.wantGauges(t, 1, 0)

		close(a.release)
		<-holder
	})
}

// TestGatewayAdmission goes through the real handler: the limit is wired on
// /graphql after the HTTP gate (a malformed request is refused at once, not
// queued), SSE passes, and the metrics are on /metrics.
func TestGatewayAdmission(t *testing.T) {
	t.Parallel()
	hit, release := make(chan struct{}, 16), make(chan struct{})
	vendor := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hit <- struct{}{}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(vendor.Close)
	cfg := &Config{
		RunAI:  []RunAIConfig{{Name: "ra", BaseURL: vendor.URL + "/base", PassThrough: true}},
		Limits: LimitsConfig{MaxConcurrentRequests: 1, QueueTimeout: Duration(50 * time.Millisecond)},
	}
	g, err := BuildWith(cfg, Options{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = g.Close() })
	gw := httptest.NewServer(g.Handler)
	t.Cleanup(gw.Close)

	request := func(query string, header map[string]string) *http.Request {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, gw.URL+"/graphql", strings.NewReader(`{"query":"`+query+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer caller-token")
		for k, v := range header {
			req.Header.Set(k, v)
		}
		return req
	}
	post := func(query string, header map[string]string) *http.Response {
		t.Helper()
		resp, err := http.DefaultClient.Do(request(query, header))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = resp.Body.Close() })
		return resp
	}

	// One request holds the only slot while its vendor call hangs.
	type answer struct {
		resp *http.Response
		err  error
	}
	holding := make(chan answer, 1)
	holder := request("{ clusters { id } }", nil)
	go func() {
		resp, err := http.DefaultClient.Do(holder)
		holding <- answer{resp, err}
	}()
	select {
	case <-hit:
	case a := <-holding:
		t.Fatalf("the holding request ended before its vendor call: %v", a.err)
	}

	if resp := post("{ __typename }", nil); resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "1" {
		t.Errorf("queued request: status %d, Retry-After %q; want 503, 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	} else if body, _ := io.ReadAll(resp.Body); !strings.Contains(string(body), `"code":"OVERLOADED"`) {
		t.Errorf("queued request: body %s", body)
	}
	if resp := post("{ __typename }", map[string]string{"Content-Type": "text/plain"}); resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("malformed request: status %d, want 415 from the HTTP gate before the line", resp.StatusCode)
	}
	// A query sent over SSE takes no slot as a connection, but as an
	// operation it does: it is refused like the plain one.
	sse := post("{ __typename }", map[string]string{"Accept": "text/event-stream"})
	if body, _ := io.ReadAll(sse.Body); sse.StatusCode != http.StatusOK || !strings.Contains(string(body), `"code":"OVERLOADED"`) {
		t.Errorf("query over SSE: status %d, body %q; want an OVERLOADED event", sse.StatusCode, body)
	}

	resp, err := http.Get(gw.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metrics, _ := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	for _, want := range []string{
		"fleetgraph_requests_in_flight 1\n",
		"fleetgraph_requests_queued 0\n",
		`fleetgraph_requests_rejected_total{reason="queue_timeout"} 2` + "\n",
	} {
		if !strings.Contains(string(metrics), want) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	close(release)
	a := <-holding
	if a.err != nil {
		t.Fatal(a.err)
	}
	_ = a.resp.Body.Close()
	if a.resp.StatusCode != http.StatusOK {
		t.Errorf("holding request: status %d, want 200 (field errors only)", a.resp.StatusCode)
	}
}

func TestAdmissionConfig(t *testing.T) {
	t.Parallel()
	if l := (&Config{}).EffectiveLimits(); l.MaxConcurrentRequests != 8 || l.QueueTimeout != 10*time.Second {
		t.Errorf("defaults: maxConcurrentRequests %d, queueTimeout %v; want 8, 10s", l.MaxConcurrentRequests, l.QueueTimeout)
	}
	c, err := ParseConfigEnv([]byte(minimal+"limits:\n  maxConcurrentRequests: 64\n  queueTimeout: 2s\n"), []string{"FLEETGRAPH_LIMITS_MAXCONCURRENTREQUESTS=32"})
	if err != nil {
		t.Fatal(err)
	}
	if l := c.EffectiveLimits(); l.MaxConcurrentRequests != 32 || l.QueueTimeout != 2*time.Second {
		t.Errorf("set: maxConcurrentRequests %d, queueTimeout %v; want 32 (environment), 2s", l.MaxConcurrentRequests, l.QueueTimeout)
	}
	for _, tt := range []struct{ yaml, want string }{
		{"limits:\n  maxConcurrentRequests: -1\n", "config: limits.maxConcurrentRequests must not be negative (0 means the default)"},
		{"limits:\n  queueTimeout: -1s\n", "config: limits.queueTimeout must not be negative (0 means the default)"},
		{"limits:\n  maxConcurrentRequests: many\n", "config: limits.maxConcurrentRequests:"},
		{"limits:\n  queueTimeout: 10\n", "config: limits.queueTimeout:"},
	} {
		if _, err := ParseConfigEnv([]byte(minimal+tt.yaml), nil); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v, want %q", tt.yaml, err, tt.want)
		}
	}
}

// Operations over a websocket or SSE connection: queries and mutations take
// a slot for their execution, subscriptions none.
func TestAdmissionOfOperationsOverStreams(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		adm, err := newAdmission(1, time.Second, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}
		stream := context.WithValue(t.Context(), streamKey{}, true)
		opCtx := func(ctx context.Context, op ast.Operation) context.Context {
			return graphql.WithOperationContext(ctx, &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: op}})
		}
		ran := 0
		next := func(ctx context.Context) graphql.ResponseHandler {
			return graphql.OneShot(&graphql.Response{Data: []byte(`{"ok":true}`)})
		}
		counting := func(ctx context.Context) graphql.ResponseHandler {
			ran++
			if n := adm.taken(); n != 1 {
				t.Errorf("query executing with %d slots taken, want 1", n)
			}
			return next(ctx)
		}

		// A query over a stream takes the slot while it runs, then gives it back.
		h := adm.InterceptOperation(opCtx(stream, ast.Query), counting)
		if resp := h(stream); resp == nil || string(resp.Data) != `{"ok":true}` {
			t.Fatalf("query over a stream: %+v", resp)
		}
		if ran != 1 || adm.taken() != 0 {
			t.Fatalf("ran %d, slots taken after the query %d; want 1, 0", ran, adm.taken())
		}

		// With the only slot held: a subscription passes, a mutation waits
		// its queueTimeout and is refused with OVERLOADED.
		if adm.take(t.Context(), nil) != slotTaken {
			t.Fatal("the free slot was not taken")
		}
		if resp := adm.InterceptOperation(opCtx(stream, ast.Subscription), next)(stream); resp == nil || resp.Errors != nil {
			t.Fatalf("subscription over a stream with no free slot: %+v", resp)
		}
		resp := adm.InterceptOperation(opCtx(stream, ast.Mutation), counting)(stream)
		if resp == nil || len(resp.Errors) != 1 || resp.Errors[0].Extensions["code"] != errcodes.Overloaded || ran != 1 {
			t.Fatalf("mutation with no free slot: %+v (ran %d); want OVERLOADED without running", resp, ran)
		}
		// A plain request's operations are admitted by limit, not here.
		if resp := adm.InterceptOperation(opCtx(t.Context(), ast.Query), next)(t.Context()); resp == nil || resp.Errors != nil {
			t.Fatalf("plain query counted twice: %+v", resp)
		}
	})
}

func TestOperationType(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		doc, name string
		want      ast.Operation
	}{
		{`{ nodes { totalCount } }`, "", ast.Query},
		{`mutation { deleteNodePool(id: "x") { phase } }`, "", ast.Mutation},
		{"# a comment\nmutation Delete($id: ID!) @x { deleteNodePool(id: $id) { phase } }", "", ast.Mutation},
		{`query A { a } mutation B { b }`, "B", ast.Mutation},
		{`query A { a } mutation B { b }`, "A", ast.Query},
		{`query A { a } mutation B { b }`, "", ""}, // two operations and no name
		{`fragment query on Node { id } mutation M { b { ...query } }`, "", ast.Mutation},
		{`query Q($mutation: String = "mutation { x }") { a(s: $mutation) { b } }`, "", ast.Query},
		{`subscription S { fleetSummary { at } }`, "", ast.Subscription},
		{`mutation { unclosed`, "", ""},
		{`type Query { a: Int }`, "", ""},
		{``, "", ""},
	} {
		if got := operationType(tt.doc, tt.name); got != tt.want {
			t.Errorf("operationType(%q, %q) = %q, want %q", tt.doc, tt.name, got, tt.want)
		}
	}
}

// A freed slot goes to the waiting mutation first, then to the query that
// says it is interactive, then to the dashboards in their order; each
// handler gets the whole body the admission read to tell them apart.
func TestAdmissionServesMutationsFirst(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		reg := prometheus.NewRegistry()
		adm, err := newAdmission(1, 10*time.Second, reg)
		if err != nil {
			t.Fatal(err)
		}
		release := make(chan struct{})
		var mu sync.Mutex
		var ran []string
		inner := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			mu.Lock()
			ran = append(ran, r.Header.Get("X-Id")+":"+strings.TrimPrefix(string(body), `{"query":"`)[:8])
			mu.Unlock()
			<-release
		})
		h := withPriority(httpGate(1<<20, deadline(30*time.Second, adm.limit(inner))))
		send := func(id, query string, header ...string) {
			r := httptest.NewRequestWithContext(t.Context(), http.MethodPost, "/graphql", strings.NewReader(`{"query":"`+query+`"}`))
			r.Header.Set("Content-Type", "application/json")
			r.Header.Set("X-Id", id)
			for i := 0; i+1 < len(header); i += 2 {
				r.Header.Set(header[i], header[i+1])
			}
			go h.ServeHTTP(httptest.NewRecorder(), r)
			synctest.Wait()
		}
		send("first", "{ nodes { totalCount } }")
		send("dash1", "{ nodePools { totalCount } }")
		send("dash2", "{ clusters { name } }")
		send("lookup", "{ node(id: \\\"x\\\") { name } }", PriorityHeader, "interactive")
		send("write", "mutation { deleteNodePool(id: \\\"x\\\") { phase } }")
		for range 4 {
			release <- struct{}{}
			synctest.Wait()
		}
		close(release)
		synctest.Wait()
		want := []string{"first:{ nodes ", "write:mutation", "lookup:{ node(i", "dash1:{ nodePo", "dash2:{ cluste"}
		if !slices.Equal(ran, want) {
			t.Fatalf("ran %q, want %q", ran, want)
		}
	})
}
