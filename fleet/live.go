package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"log/slog"
	"strconv"
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
	// MaxTotal bounds the subscriptions of the whole gateway, every
	// connection together (default 1000): each may poll a vendor.
	MaxTotal int
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
	if o.MaxTotal <= 0 {
		o.MaxTotal = 1000
	}
	return o
}

// Hub shares upstream polling between subscribers: one poller per distinct
// key, whatever the number of subscribers, stopped when the last one leaves.
// It also counts the gateway's open subscriptions (LiveOptions.MaxTotal).
type Hub struct {
	mu     sync.Mutex
	topics map[string]*topic
	open   int // admitted subscriptions, all connections
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

// Open is the number of subscriptions admitted and not ended (for tests
// and metrics).
func (h *Hub) Open() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.open
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

	context.AfterFunc(ctx, func() {
		h.mu.Lock()
		defer h.mu.Unlock()
		delete(t.subs, ch)
		if len(t.subs) == 0 && h.topics[key] == t {
			t.cancel()
			delete(h.topics, key)
		}
	})
	return ch
}

// run polls key until ctx ends. A poll that panics is logged and skipped
// (its subscribers wait for the next one): the poller is a goroutine of
// its own, and a panic there would end the process.
func (h *Hub) run(ctx context.Context, key string, t *topic, interval time.Duration, poll func(context.Context) any) {
	defer RecoverInto(ctx, "subscription poller", nil)
	tick := time.NewTicker(interval)
	defer tick.Stop()
	for {
		v, err := safePoll(ctx, poll)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				continue
			}
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

func safePoll(ctx context.Context, poll func(context.Context) any) (v any, err error) {
	defer RecoverInto(ctx, "subscription poll", &err)
	return poll(ctx), nil
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

// Which limit refused a subscription (ErrTooManySubscriptions.Scope).
const (
	SubscriptionsPerConnection = "perConnection" // LiveOptions.MaxPerConnection
	SubscriptionsTotal         = "total"         // LiveOptions.MaxTotal
)

// ErrTooManySubscriptions: a connection asked for more than
// MaxPerConnection, or the gateway has MaxTotal open. Nothing was called
// upstream for the refused subscription.
type ErrTooManySubscriptions struct {
	Scope string // SubscriptionsPerConnection or SubscriptionsTotal
	Limit int
}

func (e *ErrTooManySubscriptions) Error() string {
	if e.Scope == SubscriptionsTotal {
		return "the gateway has its limit of " + strconv.Itoa(e.Limit) + " open subscriptions (subscriptions.maxTotal); try again later"
	}
	return "too many subscriptions on this connection (limit " + strconv.Itoa(e.Limit) + ", subscriptions.maxPerConnection)"
}

// admit counts a new subscription against its connection's limit and the
// gateway's, before anything is called upstream. The subscription gives
// both back when ctx ends; release gives them back at once, for a
// subscription that fails before it starts (calling it again, or after ctx
// ended, does nothing).
func (s *Service) admit(ctx context.Context) (release func(), err error) {
	c, _ := ctx.Value(connKey{}).(*connection)
	if c != nil {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.open >= s.live.MaxPerConnection {
			return nil, &ErrTooManySubscriptions{Scope: SubscriptionsPerConnection, Limit: s.live.MaxPerConnection}
		}
	}
	h := s.hub
	h.mu.Lock()
	if h.open >= s.live.MaxTotal {
		h.mu.Unlock()
		return nil, &ErrTooManySubscriptions{Scope: SubscriptionsTotal, Limit: s.live.MaxTotal}
	}
	h.open++
	h.mu.Unlock()
	if c != nil {
		c.open++
	}
	var once sync.Once
	undo := func() {
		once.Do(func() {
			h.mu.Lock()
			h.open--
			h.mu.Unlock()
			if c != nil {
				c.mu.Lock()
				c.open--
				c.mu.Unlock()
			}
		})
	}
	stop := context.AfterFunc(ctx, undo)
	return func() {
		stop()
		undo()
	}, nil
}
