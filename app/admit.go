package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// admission lets at most limits.maxConcurrentRequests plain GraphQL requests
// execute at once; the others wait in line. A request holds a few MB while
// it executes and almost nothing while it waits (its goroutine, its body
// still unread), so the line bounds memory where running everything at
// once did not: 200 dashboards at once took the gateway to ~1.9 GB.
//
// The wait ends when a slot frees up, when the client goes away (nothing
// is answered), or at limits.queueTimeout or the request's deadline,
// whichever comes first: then 503 OVERLOADED with Retry-After: 1.
//
// Slots are the buffer of a channel: a request takes one by sending, gives
// it back by receiving. Go hands a freed slot straight to the longest
// waiting sender, so the line is first come, first served, and a newcomer
// cannot overtake it.
type admission struct {
	slots    chan struct{}
	wait     time.Duration
	inFlight prometheus.Gauge
	queued   prometheus.Gauge
	timedOut prometheus.Counter
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
		slots: make(chan struct{}, max(maxConcurrent, 1)),
		wait:  wait,
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
	switch a.take(r.Context()) {
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

// take waits for a slot (see admission).
func (a *admission) take(ctx context.Context) admitResult {
	select {
	case a.slots <- struct{}{}:
		a.inFlight.Inc()
		return slotTaken
	default:
	}
	a.queued.Inc()
	defer a.queued.Dec()
	timer := time.NewTimer(a.wait)
	defer timer.Stop()
	select {
	case a.slots <- struct{}{}:
		a.inFlight.Inc()
		return slotTaken
	case <-ctx.Done():
		if !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return gone
		}
	case <-timer.C:
	}
	a.timedOut.Inc()
	return timedOut
}

func (a *admission) overloaded() string {
	return fmt.Sprintf("gateway overloaded: all %d execution slots stayed busy while this request waited; try again", cap(a.slots))
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
	switch a.take(ctx) {
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

func (a *admission) release() {
	a.inFlight.Dec()
	<-a.slots
}
