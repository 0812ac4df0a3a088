package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// Server returns the http.Server of the gateway with the timeouts of
// cfg.Server (defaults: read header 10s, read 30s, write requestTimeout+10s,
// idle 120s). Websocket and SSE streams are exempt from the read and write
// timeouts (see streams).
func (g *Gateway) Server() *http.Server {
	s := g.cfg.Server
	return &http.Server{
		Handler:           g.Handler,
		ReadHeaderTimeout: s.ReadHeaderTimeout.or(10 * time.Second),
		ReadTimeout:       s.ReadTimeout.or(30 * time.Second),
		WriteTimeout:      g.writeTimeout(),
		IdleTimeout:       s.IdleTimeout.or(120 * time.Second),
		MaxHeaderBytes:    maxHeaderBytes(g.cfg.EffectiveLimits().MaxBodyBytes),
		ErrorLog:          slog.NewLogLogger(g.logger.Handler(), slog.LevelWarn),
	}
}

// writeTimeout is server.writeTimeout (default requestTimeout + 10s): the
// bound on writing a response, and on each write of an SSE stream.
func (g *Gateway) writeTimeout() time.Duration {
	return g.cfg.Server.WriteTimeout.or(g.cfg.requestTimeout() + 10*time.Second)
}

// Serve serves the gateway on ln until ctx ends (SIGTERM), then shuts down
// gracefully: /readyz answers 503 at once, requests keep being served for
// server.shutdownDelay (so load balancers see the 503 and stop sending),
// websocket and SSE streams are closed, and in-flight requests are drained
// for at most server.shutdownTimeout (default 30s). It returns nil after a
// clean drain.
func (g *Gateway) Serve(ctx context.Context, ln net.Listener) error {
	srv := g.Server()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	g.logger.Info("fleetgraph ready", "addr", ln.Addr().String(), "graphql", base+"/graphql", "graphiql", base+"/",
		"dashboard", base+"/dashboard/", "metrics", base+"/metrics", "auth", g.authMode, "tracing", g.tel.on)
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	g.draining.Store(true)
	delay := time.Duration(g.cfg.Server.ShutdownDelay)
	g.logger.Info("shutting down: readyz now answers 503", "delay", delay.String())
	if delay > 0 {
		select {
		case <-time.After(delay):
		case err := <-errc:
			return err
		}
	}
	g.stopStreams()
	timeout := g.cfg.Server.ShutdownTimeout.or(30 * time.Second)
	sctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	start := time.Now()
	if err := srv.Shutdown(sctx); err != nil {
		g.logger.Error("shutdown: in-flight requests did not finish in time", "timeout", timeout.String(), "err", err)
		_ = srv.Close()
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	g.logger.Info("shutdown complete: in-flight requests drained", "drainMs", time.Since(start).Milliseconds())
	return nil
}

// streams prepares websocket handshakes and SSE requests, which live far
// longer than a request: no write deadline from the server's timeouts and
// no request deadline, a context cancelled at shutdown, and a connection
// mark for the per-connection subscription limit. A websocket's read
// deadline is cleared here (its handshake has no body; connection_init has
// its own timeout); an SSE request's only once its body is read (see
// sseTransport), so a trickled body still meets server.readTimeout.
//
// Each stream counts against limits (subscriptions.maxStreams and
// maxStreamsPerClient) for as long as it is open; over either it is
// refused with STREAM_LIMIT before any GraphQL work.
func (g *Gateway) streams(limits *streamLimits, next http.Handler, connection func(context.Context) context.Context) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isUpgrade(r) && !wantsEventStream(r) {
			next.ServeHTTP(w, r)
			return
		}
		release, ok := limits.acquire(w, r)
		if !ok {
			return
		}
		defer release()
		rc := http.NewResponseController(w)
		if isUpgrade(r) && r.Method == http.MethodGet {
			_ = rc.SetReadDeadline(time.Time{})
		}
		_ = rc.SetWriteDeadline(time.Time{})
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		stop := context.AfterFunc(g.streamsCtx, cancel)
		defer stop()
		ctx = context.WithValue(ctx, remoteKey{}, r.RemoteAddr)
		next.ServeHTTP(w, r.WithContext(connection(ctx)))
	})
}
