// Package resolvers implements the GraphQL resolvers. They stay thin: decode
// and check arguments, call the fleet service, shape connections. No HTTP,
// JSON or Redis here.
package resolvers

import (
	"github.com/fleetgraph/fleetgraph/fleet"
)

// Resolver is the dependency-injection point of the graph.
type Resolver struct {
	Fleet *fleet.Service
}
