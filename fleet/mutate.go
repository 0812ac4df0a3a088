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

// ambiguous says whether a failed write may nonetheless have been applied:
// the answer was lost (transport, timeout) or the vendor failed after
// receiving it (5xx). A 4xx says it was refused.
func ambiguous(err error) bool {
	var tr *backends.TransportError
	if errors.As(err, &tr) {
		// A call its breaker refused was never sent.
		return !errors.Is(err, resilience.ErrBreakerOpen)
	}
	var api *backends.APIError
	if errors.As(err, &api) {
		return api.Status >= 500
	}
	return errors.Is(err, context.DeadlineExceeded)
}

// readBackContext is a context for reading back after a write whose own
// context may have run out: same values (credentials), a fresh deadline.
func readBackContext(ctx context.Context) (context.Context, context.CancelFunc) {
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
		"mutation", op, "provider", string(target.Provider), "backend", target.Backend,
		"cluster", target.Parts[0], "nodePool", logBounded(name),
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

// writable checks the gateway is not read-only and the ID names a backend.
func (s *Service) writable(id ids.ID) error {
	if s.readOnly {
		return ErrReadOnly
	}
	if !s.known(id) {
		return &NotFoundError{What: "backend", Name: id.Backend}
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
	if cluster.Provider == backends.RunAI {
		err = checkRunAICreate(in)
	} else {
		err = checkModelArtsCreate(in)
	}
	if err != nil {
		return nil, err
	}
	if err = s.writable(cluster); err != nil {
		return nil, err
	}
	if cluster.Provider == backends.RunAI {
		np, err = s.createRunAI(ctx, cluster, in)
	} else {
		np, err = s.createModelArts(ctx, cluster, in)
	}
	s.invalidate(ctx, cluster.Provider, cluster.Backend, cluster.Parts[0], in.Name)
	return np, wrap(cluster.Provider, cluster.Backend, err)
}

// UpdateNodePool replaces (replace true, Run:ai PUT) or patches a node pool.
func (s *Service) UpdateNodePool(ctx context.Context, id ids.ID, in writeFields, replace bool) (np *model.NodePool, err error) {
	op := "patchNodePool"
	if replace {
		op = "updateNodePool"
	}
	started := time.Now()
	name := id.Parts[len(id.Parts)-1]
	defer func() { audit(ctx, op, id, name, started, err) }()
	if id.Provider == backends.RunAI {
		err = checkRunAIFields(in)
	} else {
		err = checkModelArtsFields(in)
	}
	if err != nil {
		return nil, err
	}
	if err = s.writable(id); err != nil {
		return nil, err
	}
	if id.Provider == backends.RunAI {
		np, err = s.updateRunAI(ctx, id, in, replace)
	} else {
		np, err = s.updateModelArts(ctx, id, in, replace)
	}
	s.invalidate(ctx, id.Provider, id.Backend, id.Parts[0], name)
	return np, wrap(id.Provider, id.Backend, err)
}

// DeleteNodePool deletes a node pool; deletion is asynchronous on both vendors.
func (s *Service) DeleteNodePool(ctx context.Context, id ids.ID) (p *model.DeleteNodePoolPayload, err error) {
	started := time.Now()
	name := id.Parts[len(id.Parts)-1]
	defer func() { audit(ctx, "deleteNodePool", id, name, started, err) }()
	if err = s.writable(id); err != nil {
		return nil, err
	}
	encoded := ids.Encode(id.Kind, id.Provider, id.Backend, id.Parts...)
	var phase model.NodePoolPhase
	if id.Provider == backends.RunAI {
		phase, err = s.deleteRunAI(ctx, id)
	} else {
		phase, err = s.deleteModelArts(ctx, id)
	}
	s.invalidate(ctx, id.Provider, id.Backend, id.Parts[0], name)
	if err != nil {
		return nil, wrap(id.Provider, id.Backend, err)
	}
	return &model.DeleteNodePoolPayload{ID: encoded, Accepted: true, Phase: phase}, nil
}

// invalidate drops what a write to a pool of cluster changes, for every
// gateway sharing the cache: the pool lists and the node lists.
func (s *Service) invalidate(ctx context.Context, p backends.Provider, backend, cluster, nodePool string) {
	if s.cache == nil {
		return
	}
	keys := []string{"rpools:", "rnodes:" + cluster}
	if p == backends.ModelArts {
		keys = []string{"mpools:" + cluster, "mnodes:" + cluster, "mnpnodes:" + cluster + "/" + nodePool}
	}
	if err := s.cache.Invalidate(ctx, s.reg, backend, keys...); err != nil {
		// The entries expire by their TTL; say so, since readers may briefly
		// see the old state.
		slog.WarnContext(ctx, "cache invalidation failed after a write", "backend", backend, "err", err)
	}
}
