// Package ids encodes and decodes the opaque IDs of the graph and the
// pagination cursors.
//
// An ID is "fg1" + base64url(kind, provider code, backend, vendor parts...)
// with the fields joined by a unit separator. It is stable across restarts (it
// holds only configured backend names and vendor identities) and it decodes
// without any upstream call, so malformed IDs are rejected before anything is
// fetched.
//
// The envelope is generic: which parts an ID of each kind has, and the rule
// each part follows, belong to the vendor adapter that makes the IDs
// (fleet/runai, fleet/modelarts), which registers its Layout. This package
// knows no vendor.
package ids

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
)

// Kind is what an ID names.
type Kind string

const (
	KindCluster  Kind = "c"
	KindNodePool Kind = "p"
	KindNode     Kind = "n"
)

func (k Kind) String() string {
	switch k {
	case KindCluster:
		return "cluster"
	case KindNodePool:
		return "node pool"
	case KindNode:
		return "node"
	}
	return "unknown"
}

const (
	prefix = "fg1"
	sep    = "\x1f"
)

// ErrMalformed is returned for any ID that does not decode.
var ErrMalformed = errors.New("malformed ID")

// ID is a decoded ID: the generic envelope. Adapters turn it into their typed
// IDs (e.g. runai.PoolID); code outside an adapter reads only Kind, Provider,
// Backend and Cluster.
type ID struct {
	Kind Kind
	// Provider is the provider's name as in the GraphQL Provider enum
	// ("RUNAI", "MODELARTS"), from the registered Layout.
	Provider string
	Backend  string
	// Parts is the vendor identity in the order of the adapter's Layout;
	// every layout starts with the cluster's vendor id.
	Parts []string
}

// Cluster returns the vendor id of the cluster the ID names or lies in.
func (id ID) Cluster() string { return id.Parts[0] }

// Last returns the last part: the object's own name or id.
func (id ID) Last() string { return id.Parts[len(id.Parts)-1] }

// Part is one vendor part of an ID and its rule. Check returns "" when the
// part is valid, else what a valid part looks like.
type Part struct {
	What  string
	Check func(string) string
}

// Layout is one provider's ID layout: its code in the envelope and the parts
// of each kind. The first part of every kind is the cluster's vendor id.
type Layout struct {
	Provider string // "RUNAI"
	Code     string // one short code, unique: "r"
	Parts    map[Kind][]Part
}

var (
	mu       sync.RWMutex
	byCode   = map[string]*Layout{}
	provCode = map[string]string{}
)

// Register adds a provider's layout. Adapters call it from their package
// init: the layout is part of the ID format, a process-wide constant. It
// panics on a duplicate provider or code, a wiring bug.
func Register(l Layout) {
	mu.Lock()
	defer mu.Unlock()
	if l.Code == "" || l.Provider == "" {
		panic("ids: a layout needs a provider and a code")
	}
	if _, dup := byCode[l.Code]; dup {
		panic("ids: layout code " + l.Code + " registered twice")
	}
	if _, dup := provCode[l.Provider]; dup {
		panic("ids: provider " + l.Provider + " registered twice")
	}
	for k, parts := range l.Parts {
		if len(parts) == 0 {
			panic("ids: layout of " + l.Provider + " " + k.String() + " has no parts")
		}
	}
	byCode[l.Code] = &l
	provCode[l.Provider] = l.Code
}

// Encode returns the opaque ID of an object of provider (a registered
// layout's Provider). It does not check the parts: IDs are made from what a
// vendor listed.
func Encode(k Kind, provider, backend string, vendor ...string) string {
	mu.RLock()
	code, ok := provCode[provider]
	mu.RUnlock()
	if !ok {
		panic("ids: no layout registered for provider " + provider)
	}
	fields := append([]string{string(k), code, backend}, vendor...)
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(strings.Join(fields, sep)))
}

// String encodes id again.
func (id ID) String() string { return Encode(id.Kind, id.Provider, id.Backend, id.Parts...) }

// Decode parses an ID of kind want.
func Decode(s string, want Kind) (ID, error) {
	id, err := decode(s)
	if err != nil {
		return ID{}, err
	}
	if id.Kind != want {
		return ID{}, fmt.Errorf("%w: a %s ID where a %s ID is expected", ErrMalformed, id.Kind, want)
	}
	return id, nil
}

func decode(s string) (ID, error) {
	if !strings.HasPrefix(s, prefix) || len(s) > 2048 {
		return ID{}, fmt.Errorf("%w: %q is not a fleetgraph ID", ErrMalformed, truncate(s))
	}
	raw, err := base64.RawURLEncoding.DecodeString(s[len(prefix):])
	if err != nil {
		return ID{}, fmt.Errorf("%w: %q is not a fleetgraph ID", ErrMalformed, truncate(s))
	}
	f := strings.Split(string(raw), sep)
	if len(f) < 4 {
		return ID{}, fmt.Errorf("%w: %q is truncated", ErrMalformed, truncate(s))
	}
	id := ID{Kind: Kind(f[0]), Backend: f[2], Parts: f[3:]}
	mu.RLock()
	l := byCode[f[1]]
	mu.RUnlock()
	if l == nil {
		return ID{}, fmt.Errorf("%w: %q names no provider", ErrMalformed, truncate(s))
	}
	id.Provider = l.Provider
	rules := l.Parts[id.Kind]
	if len(rules) != len(id.Parts) {
		return ID{}, fmt.Errorf("%w: %q has the wrong shape", ErrMalformed, truncate(s))
	}
	for _, p := range id.Parts {
		if p == "" {
			return ID{}, fmt.Errorf("%w: %q has an empty part", ErrMalformed, truncate(s))
		}
	}
	if id.Backend == "" {
		return ID{}, fmt.Errorf("%w: %q names no backend", ErrMalformed, truncate(s))
	}
	for i, part := range id.Parts {
		if rules[i].Check == nil {
			continue
		}
		if msg := rules[i].Check(part); msg != "" {
			return ID{}, fmt.Errorf("%w: the %s %q %s", ErrMalformed, rules[i].What, truncate(part), msg)
		}
	}
	return id, nil
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "..."
	}
	return s
}

// Cursor returns the opaque cursor for the item at offset.
func Cursor(offset int) string {
	return base64.RawURLEncoding.EncodeToString([]byte("o:" + strconv.Itoa(offset)))
}

// ErrBadCursor is returned for a cursor that does not decode.
var ErrBadCursor = errors.New("malformed cursor")

// DecodeCursor returns the offset a cursor names.
func DecodeCursor(c string) (int, error) {
	raw, err := base64.RawURLEncoding.DecodeString(c)
	if err != nil || !strings.HasPrefix(string(raw), "o:") {
		return 0, fmt.Errorf("%w: %q", ErrBadCursor, truncate(c))
	}
	n, err := strconv.Atoi(string(raw[2:]))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%w: %q", ErrBadCursor, truncate(c))
	}
	return n, nil
}
