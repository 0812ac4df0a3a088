// Package ids encodes and decodes the opaque IDs of the graph and the
// pagination cursors.
//
// An ID is "fg1" + base64url(kind, provider, backend, vendor parts...) with the
// fields joined by a unit separator. It is stable across restarts (it holds
// only configured backend names and vendor identities) and it decodes without
// any upstream call, so malformed IDs are rejected before anything is fetched.
package ids

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends"
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

// ID is a decoded ID.
type ID struct {
	Kind     Kind
	Provider backends.Provider
	Backend  string
	// Parts is the vendor identity:
	//   Run:ai    cluster [clusterUUID]; node pool [clusterUUID, poolID, poolName]; node [clusterUUID, nodeName]
	//   ModelArts cluster [pool];        node pool [pool, nodePool];                 node [pool, nodeName]
	Parts []string
}

// parts is how many vendor parts each kind has, per provider.
func parts(k Kind, p backends.Provider) int {
	switch {
	case k == KindCluster:
		return 1
	case k == KindNodePool && p == backends.RunAI:
		return 3
	case k == KindNodePool:
		return 2
	case k == KindNode:
		return 2
	}
	return -1
}

func providerCode(p backends.Provider) string {
	if p == backends.RunAI {
		return "r"
	}
	return "m"
}

// Encode returns the opaque ID.
func Encode(k Kind, p backends.Provider, backend string, vendor ...string) string {
	fields := append([]string{string(k), providerCode(p), backend}, vendor...)
	return prefix + base64.RawURLEncoding.EncodeToString([]byte(strings.Join(fields, sep)))
}

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
	switch f[1] {
	case "r":
		id.Provider = backends.RunAI
	case "m":
		id.Provider = backends.ModelArts
	default:
		return ID{}, fmt.Errorf("%w: %q names no provider", ErrMalformed, truncate(s))
	}
	if n := parts(id.Kind, id.Provider); n != len(id.Parts) {
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
	if err := checkParts(id); err != nil {
		return ID{}, err
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
