package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"sync"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

// LiveOptions bound the polling of subscriptions.
type LiveOptions struct {
	MinInterval     time.Duration // default 5s: no 100 ms polling of a vendor
	MaxInterval     time.Duration // default 300s
	DefaultInterval time.Duration // default 15s
	// MaxPerConnection bounds the subscriptions of one connection (default 20).
	MaxPerConnection int
}

func (o LiveOptions) withDefaults() LiveOptions {
	if o.MinInterval <= 0 {
		o.MinInterval = 5 * time.Second
	}
	if o.MaxInterval <= 0 {
		o.MaxInterval = 300 * time.Second
	}
	if o.DefaultInterval <= 0 {
		o.DefaultInterval = 15 * time.Second
	}
	o.DefaultInterval = min(max(o.DefaultInterval, o.MinInterval), o.MaxInterval)
	if o.MaxPerConnection <= 0 {
		o.MaxPerConnection = 20
	}
	return o
}

// Hub shares upstream polling between subscribers: one poller per distinct
// key, whatever the number of subscribers, stopped when the last one leaves.
type Hub struct {
	mu     sync.Mutex
	topics map[string]*topic
}

type topic struct {
	subs   map[chan any]struct{}
	latest any
	has    bool
	cancel context.CancelFunc
}

// NewHub returns an empty hub.
func NewHub() *Hub { return &Hub{topics: map[string]*topic{}} }

// Topics is the number of keys being polled (for tests and metrics).
func (h *Hub) Topics() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.topics)
}

// Subscribe returns a channel of poll results for key until ctx ends. The
// first subscriber of a key starts its poller (poll runs at once, then every
// interval, under a context that keeps ctx's values, e.g. credentials, but
// not its cancellation); later ones share it and get the latest result at
// once. A subscriber that does not keep up misses intermediate results: its
// channel holds only the newest.
func (h *Hub) Subscribe(ctx context.Context, key string, interval time.Duration, poll func(context.Context) any) <-chan any {
	ch := make(chan any, 1)
	h.mu.Lock()
	t, ok := h.topics[key]
	if !ok {
		pctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		t = &topic{subs: map[chan any]struct{}{}, cancel: cancel}
		h.topics[key] = t
		go h.run(pctx, key, t, interval, poll)
	}
	t.subs[ch] = struct{}{}
	if t.has {
		ch <- t.latest
	}
	h.mu.Unlock()

	go func() {
		<-ctx.Done()
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(t.subs, ch)
		if len(t.subs) == 0 && h.topics[key] == t {
			t.cancel()
			delete(h.topics, key)
		}
	}()
	return ch
}

func (h *Hub) run(ctx context.Context, key string, t *topic, interval time.Duration, poll func(context.Context) any) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		v := poll(ctx)
		if ctx.Err() != nil {
			return
		}
		h.mu.Lock()
		t.latest, t.has = v, true
		for ch := range t.subs {
			select {
			case ch <- v:
			default: // slow subscriber: replace what it has not read yet
				select {
				case <-ch:
				default:
				}
				ch <- v
			}
		}
		h.mu.Unlock()
		select {
		case <-ctx.Done():
			slog.Debug("subscription poller stopped", "key", key)
			return
		case <-tick.C:
		}
	}
}

// liveInterval clamps a requested interval to the bounds.
func (s *Service) liveInterval(seconds *int) time.Duration {
	o := s.live
	if seconds == nil {
		return o.DefaultInterval
	}
	return min(max(time.Duration(*seconds)*time.Second, o.MinInterval), o.MaxInterval)
}

// credentialScope identifies whose credentials a poll runs with: polls with
// different callers' pass-through credentials are never shared.
func credentialScope(ctx context.Context) string {
	c, _ := backends.CredentialsFrom(ctx)
	if c.RunAIBearer == "" && c.ModelArtsAuthToken == "" {
		return "svc"
	}
	sum := sha256.Sum256([]byte(c.RunAIBearer + "\x00" + c.ModelArtsAuthToken))
	return hex.EncodeToString(sum[:16])
}

type connKey struct{}

// connection counts the subscriptions of one connection.
type connection struct {
	mu   sync.Mutex
	open int
}

// WithConnection marks ctx as one client connection (a websocket upgrade or
// an SSE request) for the per-connection subscription limit.
func WithConnection(ctx context.Context) context.Context {
	return context.WithValue(ctx, connKey{}, &connection{})
}

// ErrTooManySubscriptions: a connection asked for more than MaxPerConnection.
type ErrTooManySubscriptions struct{ Limit int }

func (e *ErrTooManySubscriptions) Error() string {
	return "too many subscriptions on this connection (limit " + itoa(e.Limit) + ")"
}

// admit counts a new subscription of ctx's connection; release undoes it
// when the subscription ends.
func (s *Service) admit(ctx context.Context) error {
	c, ok := ctx.Value(connKey{}).(*connection)
	if !ok {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.open >= s.live.MaxPerConnection {
		return &ErrTooManySubscriptions{Limit: s.live.MaxPerConnection}
	}
	c.open++
	go func() {
		<-ctx.Done()
		c.mu.Lock()
		c.open--
		c.mu.Unlock()
	}()
	return nil
}
