package fleet

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/budget"
	"github.com/fleetgraph/fleetgraph/backends/resilience"
	"github.com/fleetgraph/fleetgraph/graph/model"
	"github.com/fleetgraph/fleetgraph/internal/ids"
)

// ErrReadOnly: mutations are switched off on this gateway.
var ErrReadOnly = errors.New("mutations are disabled on this gateway (read-only deployment)")

// ConflictError: a node pool of that name already exists in the cluster. No
// write was sent.
type ConflictError struct{ Name, Cluster string }

func (e *ConflictError) Error() string {
	return fmt.Sprintf("a node pool named %q already exists in cluster %s", e.Name, e.Cluster)
}

// Is makes ConflictError match backends.ErrConflict.
func (e *ConflictError) Is(target error) bool { return target == backends.ErrConflict }

// Outcomes of a write whose answer was lost.
const (
	OutcomeNotApplied = "NOT_APPLIED" // read back: the write did not happen; safe to try again
	OutcomeUnknown    = "UNKNOWN"     // the read-back failed too: look before trying again
)

// WriteError is a failed write with what the gateway found out about its
// outcome by reading back.
type WriteError struct {
	Outcome string
	Err     error
}

func (e *WriteError) Error() string {
	switch e.Outcome {
	case OutcomeNotApplied:
		return e.Err.Error() + " (read back: the change was not applied; it is safe to try again)"
	case OutcomeUnknown:
		return e.Err.Error() + " (the outcome is unknown: read the node pool before trying again)"
	}
	return e.Err.Error()
}

func (e *WriteError) Unwrap() error { return e.Err }

// Ambiguous says whether a failed write may nonetheless have been applied:
// the answer was lost (transport, timeout) or the vendor failed after
// receiving it (5xx). A 4xx says it was refused.
func Ambiguous(err error) bool {
	var tr *backends.TransportError
	if errors.As(err, &tr) {
		// A call its breaker or the upstream budget refused was never sent.
		return !errors.Is(err, resilience.ErrBreakerOpen) && !errors.Is(err, budget.ErrExhausted)
	}
	var api *backends.APIError
	if errors.As(err, &api) {
		return api.Status >= 500
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// ReadBackContext is a context for reading back after a write whose own
// context may have run out: same values (credentials), a fresh deadline.
func ReadBackContext(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
}

type callerKey struct{}

// Caller is who sent a request, for the audit log. Never a secret.
type Caller struct {
	Remote    string // client address
	Principal string // "service", or "token:<hash>" for a pass-through credential
}

// WithCaller returns ctx carrying the caller for audit lines.
func WithCaller(ctx context.Context, r *http.Request) context.Context {
	c := Caller{Remote: r.RemoteAddr, Principal: "service"}
	creds, _ := backends.CredentialsFrom(ctx)
	if cred := creds.RunAIBearer + "\x00" + creds.ModelArtsAuthToken; cred != "\x00" {
		sum := sha256.Sum256([]byte(cred))
		c.Principal = "token:" + hex.EncodeToString(sum[:6])
	}
	return context.WithValue(ctx, callerKey{}, c)
}

type principalKey struct{}

// WithPrincipal names the authenticated caller (e.g. "apikey:ops") for the
// audit log; it takes precedence over what WithCaller derived.
func WithPrincipal(ctx context.Context, principal string) context.Context {
	return context.WithValue(ctx, principalKey{}, principal)
}

// audit writes the one structured line every mutation leaves: who, what,
// result. Never a credential.
func audit(ctx context.Context, op string, target ids.ID, name string, started time.Time, err error) {
	c, _ := ctx.Value(callerKey{}).(Caller)
	if p, ok := ctx.Value(principalKey{}).(string); ok {
		c.Principal = p
	}
	attrs := []any{
		"mutation", op, "provider", target.Provider, "backend", target.Backend,
		"cluster", target.Cluster(), "nodePool", logBounded(name),
		"caller", c.Principal, "remote", c.Remote, "durationMs", time.Since(started).Milliseconds(),
	}
	if err != nil {
		var we *WriteError
		outcome := "refused"
		if errors.As(err, &we) {
			outcome = we.Outcome
		}
		slog.WarnContext(ctx, "audit", append(attrs, "result", "error", "outcome", outcome, "error", err.Error())...)
		return
	}
	slog.InfoContext(ctx, "audit", append(attrs, "result", "ok")...)
}

// logBounded keeps a refused client value (a 50 KB pool name) from
// filling the audit log: its first bytes and its length.
func logBounded(s string) string {
	if len(s) <= maxQuoted {
		return s
	}
	return fmt.Sprintf("%s... (%d bytes)", strings.ToValidUTF8(s[:maxQuoted], ""), len(s))
}

// writable checks the gateway is not read-only and the ID names a backend,
// and returns its source.
func (s *Service) writable(id ids.ID) (Source, error) {
	if s.readOnly {
		return nil, ErrReadOnly
	}
	src := s.source(id)
	if src == nil {
		return nil, &NotFoundError{What: "backend", Name: id.Backend}
	}
	return src, nil
}

// layoutSource is the source whose checks apply to an ID's provider, when
// its backend is configured or not: the input is refused by the vendor's
// rules before the backend is looked at.
func (s *Service) layoutSource(id ids.ID) Source {
	for _, src := range s.reg.sources {
		if string(src.Provider()) == id.Provider {
			return src
		}
	}
	return nil
}

// CreateNodePool validates in with the vendor's rules, refuses a name already
// used in the cluster, creates the pool, and on a lost answer reads back by
// name. It never sends the create twice.
func (s *Service) CreateNodePool(ctx context.Context, in model.CreateNodePoolInput) (np *model.NodePool, err error) {
	cluster, err := ids.Decode(in.ClusterID, ids.KindCluster)
	if err != nil {
		return nil, &InputError{Field: "input.clusterId", Message: err.Error()}
	}
	started := time.Now()
	defer func() { audit(ctx, "createNodePool", cluster, in.Name, started, err) }()
	if ls := s.layoutSource(cluster); ls != nil {
		if err = ls.CheckCreate(in); err != nil {
			return nil, err
		}
	}
	src, err := s.writable(cluster)
	if err != nil {
		return nil, err
	}
	np, err = src.CreateNodePool(ctx, cluster, in)
	s.invalidate(ctx, src, cluster.Backend, cluster.Cluster(), in.Name)
	return np, Wrap(backends.Provider(cluster.Provider), cluster.Backend, err)
}

// UpdateNodePool replaces (replace true, Run:ai PUT) or patches a node pool.
func (s *Service) UpdateNodePool(ctx context.Context, id ids.ID, in WriteFields, replace bool) (np *model.NodePool, err error) {
	op := "patchNodePool"
	if replace {
		op = "updateNodePool"
	}
	started := time.Now()
	name := id.Last()
	defer func() { audit(ctx, op, id, name, started, err) }()
	if ls := s.layoutSource(id); ls != nil {
		if err = ls.CheckFields(in); err != nil {
			return nil, err
		}
	}
	src, err := s.writable(id)
	if err != nil {
		return nil, err
	}
	np, err = src.UpdateNodePool(ctx, id, in, replace)
	s.invalidate(ctx, src, id.Backend, id.Cluster(), name)
	return np, Wrap(backends.Provider(id.Provider), id.Backend, err)
}

// DeleteNodePool deletes a node pool; deletion is asynchronous on both vendors.
func (s *Service) DeleteNodePool(ctx context.Context, id ids.ID) (p *model.DeleteNodePoolPayload, err error) {
	started := time.Now()
	name := id.Last()
	defer func() { audit(ctx, "deleteNodePool", id, name, started, err) }()
	src, err := s.writable(id)
	if err != nil {
		return nil, err
	}
	encoded := id.String()
	phase, err := src.DeleteNodePool(ctx, id)
	s.invalidate(ctx, src, id.Backend, id.Cluster(), name)
	if err != nil {
		return nil, Wrap(backends.Provider(id.Provider), id.Backend, err)
	}
	return &model.DeleteNodePoolPayload{ID: encoded, Accepted: true, Phase: phase}, nil
}

// invalidate drops what a write to a pool of cluster changes, for every
// gateway sharing the cache: the entries the source names.
func (s *Service) invalidate(ctx context.Context, src Source, backend, cluster, nodePool string) {
	if s.cache == nil {
		return
	}
	if err := Invalidate(ctx, s.cache, s.reg, backend, src.Invalidates(cluster, nodePool)...); err != nil {
		// The entries expire by their TTL; say so, since readers may briefly
		// see the old state.
		slog.WarnContext(ctx, "cache invalidation failed after a write", "backend", backend, "err", err)
	}
}
