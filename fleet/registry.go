// Package fleet is the service layer between the resolvers and the vendor
// adapters: it knows the configured backends through their sources, loads
// through per-request dataloaders and the shared cache, and fans out over
// every source. It knows no vendor: fleet/runai and fleet/modelarts are the
// adapters, and app wires them (see Source).
package fleet

import (
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// Registry is the set of configured backends, in configuration order, by
// source. It is built once at start-up and read-only afterwards.
type Registry struct {
	sources []Source
	byName  map[string]Source
	// passThrough names the backends that forward callers' credentials:
	// their cache entries are scoped per caller.
	passThrough map[string]bool
}

// NewRegistry returns a registry over the given sources. Backend names must
// be unique across all sources: they are part of every ID.
func NewRegistry(sources ...Source) (*Registry, error) {
	r := &Registry{sources: sources, byName: map[string]Source{}, passThrough: map[string]bool{}}
	for _, s := range sources {
		for _, name := range s.Backends() {
			if name == "" {
				return nil, errEmptyBackendName
			}
			if _, dup := r.byName[name]; dup {
				return nil, &duplicateBackendError{name: name}
			}
			r.byName[name] = s
		}
	}
	return r, nil
}

// Sources returns the sources in configuration order.
func (r *Registry) Sources() []Source { return r.sources }

// Source returns the source of backend, or nil.
func (r *Registry) Source(backend string) Source { return r.byName[backend] }

// Backends lists every backend in configuration order.
func (r *Registry) Backends() []*model.Backend {
	var out []*model.Backend
	for _, s := range r.sources {
		for _, name := range s.Backends() {
			out = append(out, &model.Backend{Name: name, Provider: s.Provider()})
		}
	}
	if out == nil {
		out = []*model.Backend{}
	}
	return out
}

// SetPassThrough marks backends that forward each caller's credentials.
// Call it before serving.
func (r *Registry) SetPassThrough(names ...string) {
	for _, n := range names {
		r.passThrough[n] = true
	}
}
