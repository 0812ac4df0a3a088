package cache

import (
	"context"
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/alicebob/miniredis/v2"
	"github.com/redis/go-redis/v9"
)

// cacheCmds are the commands the Store may send; anything else (HELLO and the
// connection's init pipeline, which go-redis also runs through the hooks) is
// passed through uncounted and untouched.
var cacheCmds = map[string]bool{"get": true, "mget": true, "set": true, "del": true, "unlink": true}

var errInjected = errors.New("injected redis failure")

// probe is a go-redis hook that counts what reaches Redis and injects
// failures and latency into the Store's pipelines.
type probe struct {
	mu        sync.Mutex
	pipelines int            // pipelines carrying cache commands
	cmds      map[string]int // cache commands by name, pipelined or not

	fail    atomic.Bool  // fail every cache pipeline without calling Redis
	delay   atomic.Int64 // sleep this long first, ignoring ctx like a stuck socket
	hang    atomic.Bool  // block until ctx is done
	entered chan struct{}
}

func newProbe() *probe {
	return &probe{cmds: map[string]int{}, entered: make(chan struct{}, 64)}
}

func isCache(cmds []redis.Cmder) bool {
	for _, c := range cmds {
		if cacheCmds[c.Name()] {
			return true
		}
	}
	return false
}

func (p *probe) count(cmds []redis.Cmder, pipeline bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if pipeline {
		p.pipelines++
	}
	for _, c := range cmds {
		p.cmds[c.Name()]++
	}
}

func (p *probe) Pipelines() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.pipelines
}

func (p *probe) Cmds(name string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cmds[name]
}

func (p *probe) DialHook(next redis.DialHook) redis.DialHook { return next }

func (p *probe) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		if cacheCmds[cmd.Name()] {
			p.count([]redis.Cmder{cmd}, false)
		}
		return next(ctx, cmd)
	}
}

func (p *probe) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return func(ctx context.Context, cmds []redis.Cmder) error {
		if !isCache(cmds) {
			return next(ctx, cmds)
		}
		p.count(cmds, true)
		if d := time.Duration(p.delay.Load()); d > 0 {
			time.Sleep(d)
		}
		if p.hang.Load() {
			select {
			case p.entered <- struct{}{}:
			default:
			}
			<-ctx.Done()
			return ctx.Err()
		}
		if p.fail.Load() {
			for _, c := range cmds {
				c.SetErr(errInjected)
			}
			return errInjected
		}
		return next(ctx, cmds)
	}
}

// setup returns a Store over a fresh miniredis, the server, and the probe
// hooked into the client.
func setup(t *testing.T, opts RedisOptions) (*Redis, *miniredis.Miniredis, *probe) {
	t.Helper()
	mr := miniredis.RunT(t)
	client := redis.NewUniversalClient(&redis.UniversalOptions{
		Addrs:                 []string{mr.Addr()},
		ContextTimeoutEnabled: true,
	})
	t.Cleanup(func() { _ = client.Close() })
	p := newProbe()
	client.AddHook(p)
	return NewRedis(client, opts), mr, p
}

// recorder collects OnResult calls as "op/result" counts.
type recorder struct {
	mu sync.Mutex
	n  map[string]int
}

func newRecorder() *recorder { return &recorder{n: map[string]int{}} }

func (r *recorder) record(op, result string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.n[op+"/"+result]++
}

func (r *recorder) snapshot() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make(map[string]int, len(r.n))
	for k, v := range r.n {
		out[k] = v
	}
	return out
}

// eventually polls cond in short steps until it holds or timeout passes.
func eventually(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within %v: %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// blackhole is a TCP server that accepts connections and never answers, like
// a Redis stuck on a slow command or a half-dead network path.
func blackhole(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func keysOf(n int) []string {
	keys := make([]string, n)
	for i := range keys {
		keys[i] = string(rune('a' + i))
	}
	return keys
}

func entriesOf(keys []string, ttl time.Duration) []Entry {
	es := make([]Entry, len(keys))
	for i, k := range keys {
		es[i] = Entry{Key: k, Value: []byte("value-" + k), TTL: ttl}
	}
	return es
}
