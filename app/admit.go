package app

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/lexer"

	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// admission lets at most limits.maxConcurrentRequests plain GraphQL requests
// execute at once; the others wait in line. A request holds a few MB while
// it executes and little while it waits (its goroutine and its body, at
// most limits.maxBodyBytes), so the line bounds memory where running everything at
// once did not: 200 dashboards at once took the gateway to ~1.9 GB.
//
// The wait ends when a slot frees up, when the client goes away (nothing
// is answered), or at limits.queueTimeout or the request's deadline,
// whichever comes first: then 503 OVERLOADED with Retry-After: 1.
//
// The line has a lane per upstream budget class (backends/budget): a
// freed slot goes to the longest-waiting mutation, else interactive query,
// else dashboard, else background request, so a write never waits behind
// a line of dashboards; within a lane it is first come, first served, and
// a newcomer never overtakes the line (a slot is only free when no one
// waits). A request finds its lane only when it has to wait: a plain
// request's body is read then (see requestClass), a stream operation's
// class is its operation's.
type admission struct {
	size     int
	wait     time.Duration
	inFlight prometheus.Gauge
	queued   prometheus.Gauge
	timedOut prometheus.Counter

	mu    sync.Mutex
	used  int
	lanes [len(laneOrder)][]*waiter
}

// laneOrder is the order in which lanes are served.
var laneOrder = [...]budget.Class{budget.Critical, budget.Interactive, budget.Dashboard, budget.Background}

// waiter is one request in line; ready is closed when it is handed a
// slot (granted, under admission.mu).
type waiter struct {
	ready   chan struct{}
	granted bool
}

// newAdmission builds the limiter (maxConcurrent is at least 1) and
// registers its metrics on reg:
//
//	fleetgraph_requests_in_flight                          requests executing
//	fleetgraph_requests_queued                             requests waiting for a slot
//	fleetgraph_requests_rejected_total{reason="queue_timeout"}  503 OVERLOADED answers
func newAdmission(maxConcurrent int, wait time.Duration, reg prometheus.Registerer) (*admission, error) {
	rejected := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "fleetgraph_requests_rejected_total",
		Help: "GraphQL requests refused with 503 OVERLOADED, by reason (queue_timeout: no execution slot within limits.queueTimeout or the request's deadline).",
	}, []string{"reason"})
	a := &admission{
		size: max(maxConcurrent, 1),
		wait: wait,
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetgraph_requests_in_flight",
			Help: "GraphQL requests executing now (at most limits.maxConcurrentRequests; websocket and SSE streams not counted).",
		}),
		queued: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetgraph_requests_queued",
			Help: "GraphQL requests waiting for an execution slot.",
		}),
		// Created up front so the series reads 0 before the first refusal.
		timedOut: rejected.WithLabelValues("queue_timeout"),
	}
	for _, c := range []prometheus.Collector{a.inFlight, a.queued, rejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("admission metrics: %w", err)
		}
	}
	return a, nil
}

// limit admits each plain request to next. Websocket and SSE streams pass
// straight through: they live for minutes or hours and would hold a slot
// all that time (subscriptions have their own per-connection limit).
func (a *admission) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if isUpgrade(r) || wantsEventStream(r) {
			next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), streamKey{}, true)))
			return
		}
		if !a.acquire(w, r) {
			return
		}
		defer a.release()
		next.ServeHTTP(w, r)
	})
}

// acquire takes a slot, or answers the request and reports false.
func (a *admission) acquire(w http.ResponseWriter, r *http.Request) bool {
	switch a.take(r.Context(), func() budget.Class { return requestClass(r) }) {
	case slotTaken:
		return true
	case gone:
		return false // the client went away: nobody to answer
	}
	w.Header().Set("Retry-After", "1")
	writeHTTPError(w, responseMedia(r.Context()), http.StatusServiceUnavailable, errcodes.Overloaded, a.overloaded())
	return false
}

type admitResult int

const (
	slotTaken admitResult = iota
	gone                  // the caller's context was cancelled while it waited
	timedOut              // queueTimeout or the caller's deadline came first
)

// take waits for a slot (see admission) in the lane of class(), which is
// asked only when no slot is free.
func (a *admission) take(ctx context.Context, class func() budget.Class) admitResult {
	a.mu.Lock()
	if a.used < a.size {
		a.used++
		a.mu.Unlock()
		a.inFlight.Inc()
		return slotTaken
	}
	a.mu.Unlock()
	lane := laneOf(class())
	w := &waiter{ready: make(chan struct{})}
	a.mu.Lock()
	if a.used < a.size { // freed while the class was read
		a.used++
		a.mu.Unlock()
		a.inFlight.Inc()
		return slotTaken
	}
	a.lanes[lane] = append(a.lanes[lane], w)
	a.mu.Unlock()
	a.queued.Inc()
	defer a.queued.Dec()
	timer := time.NewTimer(a.wait)
	defer timer.Stop()
	res := timedOut
	select {
	case <-w.ready:
		a.inFlight.Inc()
		return slotTaken
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res = gone
		}
	case <-timer.C:
	}
	a.mu.Lock()
	if w.granted {
		a.mu.Unlock()
		a.handOn() // handed a slot as it gave up: the next in line gets it
	} else {
		a.lanes[lane] = slices.DeleteFunc(a.lanes[lane], func(o *waiter) bool { return o == w })
		a.mu.Unlock()
	}
	if res == timedOut {
		a.timedOut.Inc()
	}
	return res
}

// laneOf is the index of class's lane (a class the gateway does not know
// waits as a dashboard).
func laneOf(class budget.Class) int {
	if i := slices.Index(laneOrder[:], class); i >= 0 {
		return i
	}
	return slices.Index(laneOrder[:], budget.Dashboard)
}

// handOn gives a slot to the first waiter of the first lane that has one,
// or frees it.
func (a *admission) handOn() {
	a.mu.Lock()
	defer a.mu.Unlock()
	for i := range a.lanes {
		if len(a.lanes[i]) == 0 {
			continue
		}
		w := a.lanes[i][0]
		a.lanes[i] = a.lanes[i][1:]
		w.granted = true
		close(w.ready)
		return
	}
	a.used--
}

func (a *admission) overloaded() string {
	return fmt.Sprintf("gateway overloaded: all %d execution slots stayed busy while this request waited; try again", a.size)
}

// streamKey marks the context of a websocket or SSE connection, which
// limit lets through without a slot.
type streamKey struct{}

// InterceptOperation admits the queries and mutations that arrive over a
// websocket or SSE connection, which took no slot as a connection: without
// it they would bypass the limit. Each takes a slot for its execution (the
// first call of its response handler); subscriptions take none.
func (a *admission) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	if ctx.Value(streamKey{}) == nil || op.Operation == nil || op.Operation.Operation == ast.Subscription {
		return next(ctx)
	}
	switch a.take(ctx, func() budget.Class { return classOf(op, priorityOf(ctx)) }) {
	case slotTaken:
	case gone:
		return graphql.OneShot(graphql.ErrorResponse(ctx, "request cancelled while waiting for an execution slot"))
	default:
		return graphql.OneShot(&graphql.Response{Errors: gqlerror.List{{
			Message: a.overloaded(), Extensions: map[string]any{"code": errcodes.Overloaded},
		}}})
	}
	var once sync.Once
	// Given back after the first response, or when the operation's context
	// ends first (its connection closed before the response was asked for).
	stop := context.AfterFunc(ctx, func() { once.Do(a.release) })
	handler := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		defer func() {
			stop()
			once.Do(a.release)
		}()
		return handler(ctx)
	}
}

// ExtensionName and Validate make admission a gqlgen handler extension.
func (a *admission) ExtensionName() string                   { return "Admission" }
func (a *admission) Validate(graphql.ExecutableSchema) error { return nil }

// taken is the number of slots in use.
func (a *admission) taken() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.used
}

func (a *admission) release() {
	a.inFlight.Dec()
	a.handOn()
}

// maxClassTokens bounds the tokens requestClass reads of a document (a
// longer one waits as a dashboard).
const maxClassTokens = 10_000

// requestClass is the lane of a plain request that has to wait: a
// mutation's first, else the class X-Fleetgraph-Priority names, else a
// dashboard's (a query's lookups are told apart only once it is parsed,
// see upstreamClass). It reads a POST body, bounded by httpGate, and puts
// what it read back for the transport, with the error it met; a body it
// cannot read or decode is a dashboard's, and the transport answers it.
func requestClass(r *http.Request) budget.Class {
	var req struct {
		Query         string `json:"query"`
		OperationName string `json:"operationName"`
	}
	if r.Method == http.MethodPost {
		body, err := io.ReadAll(r.Body)
		r.Body = replayBody{Reader: io.MultiReader(bytes.NewReader(body), errorReader{err}), Closer: r.Body}
		if err != nil || json.Unmarshal(body, &req) != nil {
			return budget.Dashboard
		}
	} else {
		q := r.URL.Query()
		req.Query, req.OperationName = q.Get("query"), q.Get("operationName")
	}
	if operationType(req.Query, req.OperationName) == ast.Mutation {
		return budget.Critical
	}
	if c, ok := priorities[priorityOf(r.Context())]; ok {
		return c
	}
	return budget.Dashboard
}

// operationType is the type of the operation of doc that name selects (the
// only one when name is empty), read off its tokens without parsing it:
// "" when there is no such single operation, or doc is not a document
// (the executor refuses it then anyway).
func operationType(doc, name string) ast.Operation {
	lex := lexer.New(&ast.Source{Input: doc})
	n := 0
	read := func() (lexer.Token, bool) {
		for {
			tok, err := lex.ReadToken()
			if n++; n > maxClassTokens || err != nil || tok.Kind == lexer.EOF {
				return tok, false
			}
			if tok.Kind != lexer.Comment {
				return tok, true
			}
		}
	}
	// upTo reads to the brace that opens a definition's selection set, and
	// names the definition by the name right after its keyword.
	upTo := func() (string, bool) {
		defName := ""
		for first := true; ; first = false {
			tok, ok := read()
			if !ok {
				return "", false
			}
			if tok.Kind == lexer.BraceL {
				return defName, true
			}
			if first && tok.Kind == lexer.Name {
				defName = tok.Value
			}
		}
	}
	var found ast.Operation
	matches := 0
	for {
		tok, ok := read()
		if !ok {
			break
		}
		var op ast.Operation
		opName := ""
		switch {
		case tok.Kind == lexer.BraceL: // an anonymous query
			op = ast.Query
		case tok.Kind == lexer.Name && (tok.Value == "query" || tok.Value == "mutation" || tok.Value == "subscription"):
			op = ast.Operation(tok.Value)
			if opName, ok = upTo(); !ok {
				return ""
			}
		case tok.Kind == lexer.Name && tok.Value == "fragment":
			if _, ok = upTo(); !ok {
				return ""
			}
		default:
			return ""
		}
		// The selection set, to its closing brace.
		for depth := 1; depth > 0; {
			t, ok := read()
			if !ok {
				return ""
			}
			switch t.Kind {
			case lexer.BraceL:
				depth++
			case lexer.BraceR:
				depth--
			}
		}
		if op != "" && (name == "" || opName == name) {
			found, matches = op, matches+1
		}
	}
	if matches != 1 {
		return ""
	}
	return found
}

// replayBody is a request body read ahead, handed on as it was read.
type replayBody struct {
	io.Reader
	io.Closer
}

// errorReader ends a replayed body with the error reading it met (nil:
// io.EOF).
type errorReader struct{ err error }

func (e errorReader) Read([]byte) (int, error) {
	if e.err == nil {
		return 0, io.EOF
	}
	return 0, e.err
}
