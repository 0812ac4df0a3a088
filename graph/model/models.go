// Package model holds the GraphQL models: generated ones (models_gen.go) and
// the hand-written ones below, which carry the vendor references resolvers
// need to load related objects.
package model

import (
	"encoding/json"
	"fmt"
	"io"
	"time"
)

// RawJSON is a vendor object exactly as received; the JSON scalar.
type RawJSON json.RawMessage

// MarshalJSON embeds the bytes as they are (the cache stores models as JSON).
func (r RawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

// UnmarshalJSON keeps a copy of the bytes.
func (r *RawJSON) UnmarshalJSON(b []byte) error {
	*r = append((*r)[:0], b...)
	return nil
}

// MarshalGQL writes the bytes as they are ("null" when empty).
func (r RawJSON) MarshalGQL(w io.Writer) {
	if len(r) == 0 {
		_, _ = io.WriteString(w, "null")
		return
	}
	_, _ = w.Write(r)
}

// UnmarshalGQL accepts any JSON value.
func (r *RawJSON) UnmarshalGQL(v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("JSON scalar: %w", err)
	}
	*r = b
	return nil
}

// Cluster is a Run:ai cluster or a ModelArts resource pool.
type Cluster struct {
	ID        string
	Name      string
	Provider  Provider
	Backend   string
	VendorID  string // Run:ai cluster UUID, ModelArts pool name
	State     *string
	Version   *string
	CreatedAt *time.Time
	Raw       RawJSON
}

// NodePool is a Run:ai or ModelArts node pool.
type NodePool struct {
	ID                string
	Name              string
	Provider          Provider
	Backend           string
	Phase             NodePoolPhase
	VendorPhase       *string
	PhaseMessage      *string
	IsDefault         bool
	Flavor            *string
	NodeSelector      *string
	ReportedNodeCount int
	CreatedAt         *time.Time
	Raw               RawJSON

	ClusterVendorID string // Run:ai cluster UUID, ModelArts pool name
	VendorID        string // Run:ai pool id; ModelArts node-pool name
}

// Node is a Kubernetes node of either vendor.
type Node struct {
	ID           string
	Name         string
	Provider     Provider
	Backend      string
	Status       NodeStatus
	VendorStatus string
	GpuType      *string
	GpuCount     int
	Capacity     *Resources
	Available    *Resources
	IP           *string
	Zone         *string
	Flavor       *string
	CreatedAt    *time.Time
	Raw          RawJSON

	ClusterVendorID string // Run:ai cluster UUID, ModelArts pool name
	NodePoolName    string // vendor node-pool name; "" when none
	VendorID        string // Run:ai node UUID (metrics key); ModelArts node name
}

// MetricsUpdate is one event of a metrics subscription. Errs are reported
// with the event by the series field's resolver.
type MetricsUpdate struct {
	At     time.Time
	Series []*MetricSeries
	Errs   []error
}

// FleetSummaryUpdate is one event of the fleetSummary subscription.
type FleetSummaryUpdate struct {
	At      time.Time
	Summary *FleetSummary
	Errs    []error
}
