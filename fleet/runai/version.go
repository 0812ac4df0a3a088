package runai

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	api "github.com/fleetgraph/fleetgraph/backends/runai"
)

// ProbeRetry is how long a backend whose API version could not be probed
// is taken for 2.22 before the next probe.
const ProbeRetry = time.Minute

// versionOf is one backend's API version: configured (apiVersion), or
// probed once, on first use, by api.Client.ProbeAPIVersion.
//
// On first use rather than at start-up: a pass-through backend has no
// credential of its own to probe with before a caller brings one, and the
// gateway starts (and answers) whether or not a control plane is up. The
// probe is the one call GET /api/v1/nodes/count; its answer holds for the
// life of the process (a control plane serves one API release for its
// life: after an upgrade, restart the gateway or configure apiVersion).
// A probe that decides nothing (401, 5xx, a transport failure) is logged,
// the backend is taken for 2.22 (the per-cluster listing, which 2.23 and
// 2.24 still serve) and the probe is tried again after ProbeRetry.
type versionOf struct {
	configured api.APIVersion // "" = probe
	now        func() time.Time

	mu       sync.Mutex
	probed   api.APIVersion // the probe's answer; "" until one decided
	retryAt  time.Time      // after a failed probe: assume 2.22 until then
	inflight chan struct{}  // closed when the running probe is done
}

// Version is what the adapter knows of a backend's API version.
type Version struct {
	api.APIVersion
	// Probed: the version was probed, not configured. A probe answers
	// "2.23 or later" as V223 and cannot tell 2.23 from 2.24.
	Probed bool
	// Assumed: the probe has not decided yet (it failed): 2.22 is assumed.
	Assumed bool
}

// SetAPIVersion fixes backend's API version (the configured apiVersion);
// backends without one are probed on first use. Call it before serving.
func (s *Source) SetAPIVersion(backend string, v api.APIVersion) {
	if vs := s.versions[backend]; vs != nil {
		vs.configured = v
	}
}

// APIVersion returns backend's API version, probing it if it is neither
// configured nor probed yet (concurrent first users wait for one probe).
func (s *Source) APIVersion(ctx context.Context, backend string) Version {
	vs, c := s.versions[backend], s.client(backend)
	if vs == nil || c == nil {
		return Version{APIVersion: api.V222, Assumed: true}
	}
	if vs.configured != "" {
		return Version{APIVersion: vs.configured}
	}
	for {
		vs.mu.Lock()
		if vs.probed != "" {
			vs.mu.Unlock()
			return Version{APIVersion: vs.probed, Probed: true}
		}
		if vs.now().Before(vs.retryAt) {
			vs.mu.Unlock()
			return Version{APIVersion: api.V222, Probed: true, Assumed: true}
		}
		if wait := vs.inflight; wait != nil {
			vs.mu.Unlock()
			select {
			case <-wait:
				continue
			case <-ctx.Done():
				return Version{APIVersion: api.V222, Probed: true, Assumed: true}
			}
		}
		done := make(chan struct{})
		vs.inflight = done
		vs.mu.Unlock()

		v, err := c.ProbeAPIVersion(ctx)

		vs.mu.Lock()
		vs.inflight = nil
		switch {
		case err == nil:
			vs.probed = v
			slog.InfoContext(ctx, "runai API version probed", "backend", backend, "apiVersion", string(v))
		case errors.Is(err, context.Canceled) || ctx.Err() != nil || errors.Is(err, backends.ErrNoCredentials):
			// The caller went away, or brought no credential for a
			// pass-through backend (no call was sent): nothing was
			// learnt about the control plane, the next use probes again.
		default:
			vs.retryAt = vs.now().Add(ProbeRetry)
			slog.WarnContext(ctx, "runai API version probe failed: assuming 2.22 (per-cluster node listings) until the next probe",
				"backend", backend, "retryIn", ProbeRetry.String(), "err", err)
		}
		close(done)
		vs.mu.Unlock()
		if err != nil {
			return Version{APIVersion: api.V222, Probed: true, Assumed: true}
		}
		return Version{APIVersion: v, Probed: true}
	}
}
