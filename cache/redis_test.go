package cache

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

func TestRedisRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []Entry
		get     []string
		want    map[string][]byte
	}{
		{
			name:    "all hits",
			entries: []Entry{{Key: "a", Value: []byte("1"), TTL: time.Minute}, {Key: "b", Value: []byte("2"), TTL: time.Hour}},
			get:     []string{"a", "b"},
			want:    map[string][]byte{"a": []byte("1"), "b": []byte("2")},
		},
		{
			name:    "misses are absent",
			entries: []Entry{{Key: "a", Value: []byte("1"), TTL: time.Minute}},
			get:     []string{"x", "a", "y"},
			want:    map[string][]byte{"a": []byte("1")},
		},
		{
			name: "all misses",
			get:  []string{"x", "y"},
			want: map[string][]byte{},
		},
		{
			name:    "empty and binary values are hits",
			entries: []Entry{{Key: "empty", Value: []byte{}, TTL: time.Minute}, {Key: "bin", Value: []byte{0, 0xff, '\n', 0}, TTL: time.Minute}},
			get:     []string{"empty", "bin"},
			want:    map[string][]byte{"empty": {}, "bin": {0, 0xff, '\n', 0}},
		},
		{
			name:    "keys with separators",
			entries: []Entry{{Key: "runai:node:gpu-01:v1", Value: []byte("n"), TTL: time.Minute}},
			get:     []string{"runai:node:gpu-01:v1", "runai:node:gpu-01"},
			want:    map[string][]byte{"runai:node:gpu-01:v1": []byte("n")},
		},
		{
			name: "no keys",
			want: map[string][]byte{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, _, _ := setup(t, RedisOptions{})
			if err := r.SetMany(t.Context(), tt.entries); err != nil {
				t.Fatalf("SetMany: %v", err)
			}
			got, err := r.GetMany(t.Context(), tt.get)
			if err != nil {
				t.Fatalf("GetMany: %v", err)
			}
			if got == nil {
				t.Fatal("GetMany returned a nil map")
			}
			if len(got) != len(tt.want) {
				t.Fatalf("GetMany = %q, want %q", got, tt.want)
			}
			for k, v := range tt.want {
				if g, ok := got[k]; !ok || !bytes.Equal(g, v) {
					t.Errorf("GetMany[%q] = %q (present %v), want %q", k, g, ok, v)
				}
			}
		})
	}
}

func TestRedisSetManyRequiresTTL(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		entries []Entry
	}{
		{"zero TTL", []Entry{{Key: "a", Value: []byte("1")}}},
		{"negative TTL", []Entry{{Key: "a", Value: []byte("1"), TTL: -time.Second}}},
		{"one bad entry after good ones", []Entry{
			{Key: "a", Value: []byte("1"), TTL: time.Minute},
			{Key: "b", Value: []byte("2"), TTL: time.Minute},
			{Key: "c", Value: []byte("3")},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			r, mr, p := setup(t, RedisOptions{})
			err := r.SetMany(t.Context(), tt.entries)
			if !errors.Is(err, ErrInvalidEntry) {
				t.Fatalf("SetMany err = %v, want ErrInvalidEntry", err)
			}
			if errors.Is(err, ErrUnavailable) {
				t.Errorf("SetMany err = %v: a contract violation is not an outage", err)
			}
			if keys := mr.Keys(); len(keys) != 0 {
				t.Errorf("keys written despite the error: %q", keys)
			}
			if n := p.Pipelines(); n != 0 {
				t.Errorf("%d pipelines reached Redis, want 0", n)
			}
		})
	}
}

func TestRedisTTL(t *testing.T) {
	t.Parallel()
	r, mr, _ := setup(t, RedisOptions{})
	err := r.SetMany(t.Context(), []Entry{
		{Key: "short", Value: []byte("s"), TTL: 1500 * time.Millisecond},
		{Key: "long", Value: []byte("l"), TTL: time.Minute},
		{Key: "tiny", Value: []byte("t"), TTL: 1500 * time.Microsecond},
	})
	if err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	for key, want := range map[string]time.Duration{
		"short": 1500 * time.Millisecond,
		"long":  time.Minute,
		"tiny":  2 * time.Millisecond, // Redis keeps ms: rounded up, never down towards "no TTL"
	} {
		if got := mr.TTL(r.key(key)); got != want {
			t.Errorf("TTL(%s) = %v, want %v", key, got, want)
		}
	}

	mr.FastForward(2 * time.Second)
	got, err := r.GetMany(t.Context(), []string{"short", "long", "tiny"})
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if _, ok := got["short"]; ok {
		t.Error("short-lived entry still there after its TTL")
	}
	if _, ok := got["long"]; !ok {
		t.Error("long-lived entry expired early")
	}
}

func TestRedisKeyNames(t *testing.T) {
	t.Parallel()
	tests := []struct {
		prefix string
		want   []string
	}{
		{"", []string{"fleetgraph:v1:a", "fleetgraph:v1:b"}},
		{"staging", []string{"staging:v1:a", "staging:v1:b"}},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("prefix=%q", tt.prefix), func(t *testing.T) {
			t.Parallel()
			r, mr, _ := setup(t, RedisOptions{Prefix: tt.prefix})
			if err := r.SetMany(t.Context(), entriesOf([]string{"a", "b"}, time.Minute)); err != nil {
				t.Fatal(err)
			}
			if got := mr.Keys(); !slices.Equal(got, tt.want) {
				t.Errorf("stored keys = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestRedisDelete(t *testing.T) {
	t.Parallel()
	r, mr, _ := setup(t, RedisOptions{})
	if err := r.SetMany(t.Context(), entriesOf([]string{"a", "b", "c"}, time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := r.Delete(t.Context(), "a", "b", "never-set"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := r.Delete(t.Context()); err != nil {
		t.Fatalf("Delete(): %v", err)
	}
	got, err := r.GetMany(t.Context(), []string{"a", "b", "c"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got["c"] == nil {
		t.Errorf("after Delete(a, b) GetMany = %q, want only c", got)
	}
	if keys := mr.Keys(); !slices.Equal(keys, []string{"fleetgraph:v1:c"}) {
		t.Errorf("stored keys = %q", keys)
	}
}

// One call is one pipeline with one command per key, and never MGET (or a
// multi-key DEL/UNLINK), which would fail with CROSSSLOT on a cluster.
func TestRedisPipelining(t *testing.T) {
	t.Parallel()
	keys := keysOf(10)
	tests := []struct {
		op   string
		cmd  string
		call func(*testing.T, *Redis) error
	}{
		{"get", "get", func(t *testing.T, r *Redis) error { _, err := r.GetMany(t.Context(), keys); return err }},
		{"set", "set", func(t *testing.T, r *Redis) error { return r.SetMany(t.Context(), entriesOf(keys, time.Minute)) }},
		{"delete", "unlink", func(t *testing.T, r *Redis) error { return r.Delete(t.Context(), keys...) }},
	}
	for _, tt := range tests {
		t.Run(tt.op, func(t *testing.T) {
			t.Parallel()
			r, _, p := setup(t, RedisOptions{})
			if err := tt.call(t, r); err != nil {
				t.Fatal(err)
			}
			if n := p.Pipelines(); n != 1 {
				t.Errorf("pipelines = %d, want 1", n)
			}
			if n := p.Cmds(tt.cmd); n != len(keys) {
				t.Errorf("%s commands = %d, want %d", tt.cmd, n, len(keys))
			}
			if n := p.Cmds("mget"); n != 0 {
				t.Errorf("mget commands = %d, want 0", n)
			}
		})
	}
}

// A cluster client splits the pipeline by slot owner; miniredis answers
// CLUSTER SLOTS as a one-node cluster.
func TestRedisClusterClient(t *testing.T) {
	t.Parallel()
	_, mr, _ := setup(t, RedisOptions{})
	client := redis.NewClusterClient(&redis.ClusterOptions{Addrs: []string{mr.Addr()}})
	t.Cleanup(func() { _ = client.Close() })
	r := NewRedis(client, RedisOptions{})

	keys := keysOf(20) // spread over many hash slots
	if err := r.SetMany(t.Context(), entriesOf(keys, time.Minute)); err != nil {
		t.Fatalf("SetMany: %v", err)
	}
	got, err := r.GetMany(t.Context(), append(keys, "missing"))
	if err != nil {
		t.Fatalf("GetMany: %v", err)
	}
	if len(got) != len(keys) {
		t.Fatalf("GetMany returned %d hits, want %d", len(got), len(keys))
	}
	if err := r.Delete(t.Context(), keys...); err != nil {
		t.Fatalf("Delete: %v", err)
	}
}

func TestNewRedisNilClientPanics(t *testing.T) {
	t.Parallel()
	defer func() {
		if recover() == nil {
			t.Error("NewRedis(nil) did not panic")
		}
	}()
	NewRedis(nil, RedisOptions{})
}
