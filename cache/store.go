// Package cache is the shared cache that sits under fleetgraph's per-request
// dataloaders: a batch asks [Store.GetMany] for its keys, goes upstream (Run:ai,
// ModelArts) only for the misses, and writes what it fetched back with
// [Store.SetMany].
//
// The cache is an optimisation, never a source of truth. A broken cache makes
// requests slower, never wrong: every error a Store returns means "treat all
// keys as misses and go upstream". [Redis] counts errors, bounds every Redis
// operation with a short timeout and puts a circuit breaker in front of Redis,
// so an unreachable or slow Redis costs a query at most one timeout and, once
// the breaker is open, nothing at all.
//
// The pieces:
//
//   - [Store], the interface the dataloaders use, and [Entry].
//   - [Layered], the policy over a Store: envelopes, stale-if-error, the
//     in-process layer, and the race fence: every key carries the
//     generation of its backend and kind, which a write replaces, so a read
//     that started before the write can only store into a key nobody reads
//     again (fence.go).
//   - [Redis], the implementation over a caller-owned redis.UniversalClient
//     (standalone, Sentinel or Cluster), and [Noop] for caching switched off.
//   - [Flight], which collapses concurrent identical misses inside one replica
//     into one upstream call.
package cache

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Store is the cache under the dataloaders: batch -> GetMany -> upstream for
// misses -> SetMany.
//
// Implementations are safe for concurrent use. Callers treat any error from
// GetMany as "every key missed" and go upstream; errors from SetMany and
// Delete are worth counting or logging but must not fail a query.
type Store interface {
	// GetMany returns the hits among keys. A miss is absent from the map,
	// never an error. When part of the keys could not be read (their Redis
	// node is down, its breaker open) the error wraps ErrUnavailable and
	// the map (never nil) still holds the hits of the rest: those keys are
	// misses, the others hit.
	GetMany(ctx context.Context, keys []string) (map[string][]byte, error)

	// SetMany writes entries, each with its own TTL. Every Entry must have
	// TTL > 0: otherwise SetMany returns an error wrapping ErrInvalidEntry
	// and writes nothing at all.
	SetMany(ctx context.Context, entries []Entry) error

	// Delete removes keys; deleting an absent key is not an error. When the
	// cache is unavailable the stale value lives on until its TTL expires,
	// so the TTL is the bound on staleness.
	Delete(ctx context.Context, keys ...string) error

	// Generations reads, for each of reads, its Fields and Refine of the
	// hash Key: gens[i] holds reads[i].Fields' generations, then Refine's.
	// A field of Fields that has none is first set to init, a value never
	// used before, so that a lost hash (a restart without persistence, a
	// failover) starts from generations no entry was ever written under; a
	// field of Refine that has none reads "". gens[i] is nil when reads[i]
	// could not be read (the error wraps ErrUnavailable).
	Generations(ctx context.Context, reads []GenRead, init string) (gens [][]string, err error)

	// Advance sets fields of the hash key to new generations (field ->
	// generation).
	Advance(ctx context.Context, key string, gens map[string]string) error
}

// GenRead is one hash of generations to read with [Store.Generations].
type GenRead struct {
	Key    string
	Fields []string // created with the init value when absent
	Refine []string // read only: "" when absent
}

// Entry is one value to write with [Store.SetMany].
type Entry struct {
	// Key is the caller's key, without prefix or schema version: the Store
	// adds those.
	Key string
	// Value is stored as is. The Store does not keep a reference to it after
	// SetMany returns.
	Value []byte
	// TTL is required and must be > 0: nothing lives in the cache forever.
	// Redis keeps millisecond precision; a TTL below 1ms is rounded up.
	TTL time.Duration
}

var (
	// ErrUnavailable is wrapped by every error caused by the cache backend
	// rather than by the caller: Redis down, slow (per-operation timeout),
	// failing, or bypassed because the circuit breaker is open. Callers
	// treat it as "all misses" and go upstream.
	ErrUnavailable = errors.New("cache: unavailable")

	// ErrInvalidEntry is wrapped by the error SetMany returns when an Entry
	// breaks the contract (TTL <= 0). It is a programming error, not an
	// outage, and never reaches Redis or its circuit breaker.
	ErrInvalidEntry = errors.New("cache: invalid entry")
)

// validate checks every entry before anything is written, so SetMany is
// all-or-nothing with respect to the TTL rule.
func validate(entries []Entry) error {
	for _, e := range entries {
		if e.TTL <= 0 {
			return fmt.Errorf("%w: key %q: TTL must be > 0, got %v", ErrInvalidEntry, e.Key, e.TTL)
		}
	}
	return nil
}

// Noop is the Store used when caching is switched off: GetMany never hits,
// SetMany and Delete write nothing. SetMany still enforces the TTL rule so
// that a missing TTL is caught in tests and deployments that run without
// Redis. The zero value is ready to use.
type Noop struct{}

var _ Store = Noop{}

// GetMany returns an empty map: every key is a miss.
func (Noop) GetMany(context.Context, []string) (map[string][]byte, error) {
	return map[string][]byte{}, nil
}

// SetMany writes nothing; it returns an error wrapping ErrInvalidEntry when an
// entry has TTL <= 0, exactly as a real Store would.
func (Noop) SetMany(_ context.Context, entries []Entry) error {
	return validate(entries)
}

// Delete does nothing.
func (Noop) Delete(context.Context, ...string) error { return nil }

// Generations answers "0" for every field of Fields and "" for Refine:
// nothing is cached, so nothing needs fencing (and a Store that embeds Noop
// to keep values in memory gets stable keys).
func (Noop) Generations(_ context.Context, reads []GenRead, _ string) ([][]string, error) {
	out := make([][]string, len(reads))
	for i, g := range reads {
		out[i] = make([]string, len(g.Fields)+len(g.Refine))
		for j := range g.Fields {
			out[i][j] = "0"
		}
	}
	return out, nil
}

// Advance does nothing.
func (Noop) Advance(context.Context, string, map[string]string) error { return nil }
