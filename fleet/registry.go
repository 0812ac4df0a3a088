// Package fleet is the service layer between the resolvers and the vendor
// clients: it knows the configured backends, loads through per-request
// dataloaders, and maps vendor objects onto graph models.
package fleet

import (
	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/graph/model"
)

// Registry is the set of configured backends, in configuration order. It is
// built once at start-up and read-only afterwards.
type Registry struct {
	runai     []*runai.Client
	modelarts []*modelarts.Client
	byName    map[string]backends.Provider
	// passThrough names the backends that forward callers' credentials:
	// their cache entries are scoped per caller.
	passThrough map[string]bool
	// legacy names the Run:ai backends whose control planes only have the
	// deprecated /v1/k8s/clusters/{clusterId}/node-pools API.
	legacy map[string]bool
}

// NewRegistry returns a registry over the given clients. Backend names must be
// unique across both vendors: they are part of every ID.
func NewRegistry(ra []*runai.Client, ma []*modelarts.Client) (*Registry, error) {
	r := &Registry{runai: ra, modelarts: ma, byName: map[string]backends.Provider{}, passThrough: map[string]bool{}, legacy: map[string]bool{}}
	for _, c := range ra {
		if err := r.add(c.Name(), backends.RunAI); err != nil {
			return nil, err
		}
	}
	for _, c := range ma {
		if err := r.add(c.Name(), backends.ModelArts); err != nil {
			return nil, err
		}
	}
	return r, nil
}

func (r *Registry) add(name string, p backends.Provider) error {
	if name == "" {
		return errEmptyBackendName
	}
	if _, dup := r.byName[name]; dup {
		return &duplicateBackendError{name: name}
	}
	r.byName[name] = p
	return nil
}

// RunAI returns the Run:ai backend called name, or nil.
func (r *Registry) RunAI(name string) *runai.Client {
	for _, c := range r.runai {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// ModelArts returns the ModelArts backend called name, or nil.
func (r *Registry) ModelArts(name string) *modelarts.Client {
	for _, c := range r.modelarts {
		if c.Name() == name {
			return c
		}
	}
	return nil
}

// Backends lists every backend in configuration order.
func (r *Registry) Backends() []*model.Backend {
	out := make([]*model.Backend, 0, len(r.runai)+len(r.modelarts))
	for _, c := range r.runai {
		out = append(out, &model.Backend{Name: c.Name(), Provider: model.ProviderRunai})
	}
	for _, c := range r.modelarts {
		out = append(out, &model.Backend{Name: c.Name(), Provider: model.ProviderModelarts})
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

// SetLegacyNodePools marks Run:ai backends that use the deprecated node-pool
// API (older control planes). Call it before serving.
func (r *Registry) SetLegacyNodePools(names ...string) {
	for _, n := range names {
		r.legacy[n] = true
	}
}
