package app

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
)

// backendState is one backend's line in /readyz.
type backendState struct {
	Name     string            `json:"name"`
	Provider backends.Provider `json:"provider"`
	Breaker  string            `json:"breaker"` // closed, half-open, open
}

type readiness struct {
	Status   string         `json:"status"` // ready, draining
	Config   string         `json:"config"` // loaded
	Auth     string         `json:"auth"`
	Backends []backendState `json:"backends"`
	Redis    RedisState     `json:"redis"`
}

type upstream struct {
	name      string
	provider  backends.Provider
	transport *resilience.Transport
}

// readyz answers 200 while the gateway takes traffic and 503 once it is
// draining (SIGTERM). An open breaker or an unreachable Redis is reported
// but does not make the gateway unready: it still answers, with partial
// data or without its cache, and taking every replica out of rotation
// because one vendor is down would turn a partial outage into a full one.
func (g *Gateway) readyz(w http.ResponseWriter, r *http.Request) {
	body := readiness{Status: "ready", Config: "loaded", Auth: g.authMode}
	if g.draining.Load() {
		body.Status = "draining"
	}
	for _, u := range g.upstreams {
		body.Backends = append(body.Backends, backendState{Name: u.name, Provider: u.provider, Breaker: u.transport.State().String()})
	}
	if g.redis != nil {
		ctx, cancel := context.WithTimeout(r.Context(), 500*time.Millisecond)
		defer cancel()
		body.Redis = checkRedis(ctx, g.redis, g.cfg.Redis.EffectiveMode())
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if body.Status != "ready" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok\n"))
}
