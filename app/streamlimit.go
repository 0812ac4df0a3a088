package app

import (
	"cmp"
	"fmt"
	"net"
	"net/http"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/fleetgraph/fleetgraph/internal/errcodes"
)

// streamLimits bounds the open streams. Streams take no admission slot
// (they live for hours), so without it a client could open connections
// until memory or file descriptors ran out. A client is its API key when
// the handshake carried one, else its remote IP: the port changes with
// every connection, and X-Forwarded-For is the client's to write.
type streamLimits struct {
	maxTotal, maxPerClient int

	mu        sync.Mutex
	total     int
	perClient map[string]int

	open     prometheus.Gauge
	rejected *prometheus.CounterVec
}

// newStreamLimits registers on reg:
//
//	fleetgraph_streams_open                              websocket + SSE connections open
//	fleetgraph_streams_rejected_total{limit="streams|streamsPerClient"}  STREAM_LIMIT refusals
func newStreamLimits(sc SubscriptionsConfig, reg prometheus.Registerer) (*streamLimits, error) {
	l := &streamLimits{
		maxTotal:     cmp.Or(max(sc.MaxStreams, 0), DefaultMaxStreams),
		maxPerClient: cmp.Or(max(sc.MaxStreamsPerClient, 0), DefaultMaxStreamsPerClient),
		perClient:    map[string]int{},
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fleetgraph_streams_open",
			Help: "Websocket and SSE connections open (at most subscriptions.maxStreams).",
		}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fleetgraph_streams_rejected_total",
			Help: "Websocket and SSE connections refused with STREAM_LIMIT, by limit (streams: subscriptions.maxStreams, streamsPerClient: subscriptions.maxStreamsPerClient).",
		}, []string{"limit"}),
	}
	for _, c := range []prometheus.Collector{l.open, l.rejected} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("stream metrics: %w", err)
		}
	}
	// Created up front so the series read 0 before the first refusal.
	l.rejected.WithLabelValues("streams")
	l.rejected.WithLabelValues("streamsPerClient")
	return l, nil
}

// streamClient names whom a stream counts against.
func streamClient(r *http.Request) string {
	if p := Principal(r.Context()); p != "" {
		return "key:" + p
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "ip:" + host
}

// acquire opens a stream for r, or answers the refusal and reports false.
// release gives the stream back.
func (l *streamLimits) acquire(w http.ResponseWriter, r *http.Request) (release func(), ok bool) {
	client := streamClient(r)
	l.mu.Lock()
	limit, maxValue, status := "", 0, 0
	switch {
	case l.perClient[client] >= l.maxPerClient:
		limit, maxValue, status = "streamsPerClient", l.maxPerClient, http.StatusTooManyRequests
	case l.total >= l.maxTotal:
		limit, maxValue, status = "streams", l.maxTotal, http.StatusServiceUnavailable
	default:
		l.total++
		l.perClient[client]++
	}
	l.mu.Unlock()
	if limit != "" {
		l.rejected.WithLabelValues(limit).Inc()
		msg := fmt.Sprintf("this client has its limit of %d open websocket and SSE connections (subscriptions.maxStreamsPerClient); close one or try again later", maxValue)
		if limit == "streams" {
			msg = fmt.Sprintf("the gateway has its limit of %d open websocket and SSE connections (subscriptions.maxStreams); try again later", maxValue)
		}
		w.Header().Set("Retry-After", "1")
		writeResponse(w, mediaJSON, status, &graphql.Response{Errors: gqlerror.List{{
			Message: msg, Extensions: map[string]any{"code": errcodes.StreamLimit, "limit": limit, "max": maxValue},
		}}})
		return nil, false
	}
	l.open.Inc()
	var once sync.Once
	return func() {
		once.Do(func() {
			l.open.Dec()
			l.mu.Lock()
			defer l.mu.Unlock()
			l.total--
			if l.perClient[client]--; l.perClient[client] <= 0 {
				delete(l.perClient, client)
			}
		})
	}, true
}
