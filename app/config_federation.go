package app

import (
	"errors"
	"fmt"
	"slices"
)

// FederationConfig makes the gateway an Apollo Federation v2 subgraph
// (graphql.federation): Query._service { sdl } for the router to compose,
// Query._entities for it to resolve Cluster, NodePool and Node by id.
type FederationConfig struct {
	// Enabled serves _service and _entities (default false: the schema has
	// neither).
	Enabled bool `yaml:"enabled"`
	// ServiceKeys names the API keys (auth.apiKeys[].name) that may read
	// _service { sdl }, the router's; empty: any caller the gateway
	// admits. _service answers with introspection off too.
	ServiceKeys []string `yaml:"serviceKeys"`
}

// When a response carries extensions.cost (graphql.cost).
const (
	CostOnRequest = "header" // the request sends X-Fleetgraph-Cost: true (default)
	CostAlways    = "always" // every query and mutation: for debugging
	CostNever     = "never"
)

func (c *Config) validateFederation() error {
	switch c.GraphQL.Cost {
	case "", CostOnRequest, CostAlways, CostNever:
	default:
		return fmt.Errorf("config: graphql.cost %q: use header (extensions.cost when the request sends X-Fleetgraph-Cost: true), always or never", c.GraphQL.Cost)
	}
	f := c.GraphQL.Federation
	if len(f.ServiceKeys) == 0 {
		return nil
	}
	if !f.Enabled {
		return errors.New("config: graphql.federation.serviceKeys: only with graphql.federation.enabled: true")
	}
	if c.AuthMode() != AuthAPIKey {
		return fmt.Errorf("config: graphql.federation.serviceKeys names API keys, but auth.mode is %s: list the router's key in auth.apiKeys", c.AuthMode())
	}
	for i, name := range f.ServiceKeys {
		if !slices.ContainsFunc(c.Auth.APIKeys, func(k APIKeyConfig) bool { return k.Name == name }) {
			return fmt.Errorf("config: graphql.federation.serviceKeys[%d]: no auth.apiKeys entry has this name", i)
		}
	}
	return nil
}

func (c *Config) costMode() string {
	if c.GraphQL.Cost == "" {
		return CostOnRequest
	}
	return c.GraphQL.Cost
}
