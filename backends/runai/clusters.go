package runai

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// Cluster is the DisplayedCluster schema of GET /api/v1/clusters.
type Cluster struct {
	UUID              string         `json:"uuid"`
	TenantID          int32          `json:"tenantId"`
	Name              string         `json:"name"`
	CreatedAt         time.Time      `json:"createdAt"`
	Domain            *string        `json:"domain"`
	Version           *string        `json:"version"`
	Status            *ClusterStatus `json:"status"`
	UpdatedAt         *time.Time     `json:"updatedAt"`
	DeletedAt         *time.Time     `json:"deletedAt"`
	LastLiveness      *time.Time     `json:"lastLiveness"`
	DeleteRequestedAt *time.Time     `json:"deleteRequestedAt"`

	// Raw is the vendor object exactly as received. The client fills it.
	Raw json.RawMessage `json:"-"`
}

// Cluster states (ClusterDisplayedStatus.state).
const (
	ClusterWaitingToConnect     = "WaitingToConnect"
	ClusterConnected            = "Connected"
	ClusterDisconnected         = "Disconnected"
	ClusterMissingPrerequisites = "MissingPrerequisites"
	ClusterServiceIssues        = "ServiceIssues"
	ClusterUnknown              = "Unknown"
)

// ClusterStatus is ClusterDisplayedStatus: what the cluster reports, plus the
// state the control plane derives from it.
type ClusterStatus struct {
	State        string                     `json:"state,omitempty"`
	Conditions   []ClusterCondition         `json:"conditions,omitempty"`
	Operands     map[string]OperandStatus   `json:"operands,omitempty"`
	Platform     *ClusterPlatform           `json:"platform,omitempty"`
	Config       *ClusterConfig             `json:"config,omitempty"`
	Dependencies *ClusterDependenciesStatus `json:"dependencies,omitempty"`
}

// ClusterCondition is a Kubernetes-style condition ("True", "False", "Unknown").
type ClusterCondition struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
	ObservedGeneration *int64    `json:"observedGeneration,omitempty"`
}

// OperandStatus is the readiness of one Run:ai operand in the cluster.
type OperandStatus struct {
	Ready                   bool       `json:"ready"`
	Reasons                 []string   `json:"reasons,omitempty"`
	LastTransitionTime      *time.Time `json:"lastTransitionTime,omitempty"`
	UnreadyThresholdCrossed *bool      `json:"unreadyThresholdCrossed,omitempty"`
}

// ClusterPlatform: Type is one of vanilla, openshift, rke, gke, aks, eks.
type ClusterPlatform struct {
	Type        *string `json:"type"`
	KubeVersion *string `json:"kubeVersion"`
}

// ClusterConfig holds configuration values the cluster reports.
type ClusterConfig struct {
	WorkloadOwnershipProtection *bool `json:"workloadOwnershipProtection"`
	SubdomainEnabled            *bool `json:"subdomainEnabled"`
}

// ClusterDependenciesStatus lists the cluster's dependencies by name.
type ClusterDependenciesStatus struct {
	Required map[string]ClusterDependencyStatus `json:"required"`
	Optional map[string]ClusterDependencyStatus `json:"optional"`
}

// ClusterDependencyStatus is the availability of one dependency.
type ClusterDependencyStatus struct {
	Available  bool                               `json:"available"`
	Reason     string                             `json:"reason,omitempty"`
	Components map[string]ClusterDependencyStatus `json:"components,omitempty"`
}

func (c *Cluster) setRaw(raw json.RawMessage) { c.Raw = raw }

const (
	routeClusters = "/api/v1/clusters"
	routeCluster  = "/api/v1/clusters/{clusterUuid}"
)

// ListClusters returns every cluster of the tenant. The API answers with a
// bare array and does not page it.
func (c *Client) ListClusters(ctx context.Context) ([]Cluster, error) {
	req := request{method: http.MethodGet, route: routeClusters, items: true}
	var elems []json.RawMessage
	if _, err := c.do(ctx, req, &elems); err != nil {
		return nil, err
	}
	out, err := decodeElems[Cluster](c, req, elems)
	if err != nil {
		return nil, c.decodeError(req, err)
	}
	return out, nil
}

// GetCluster returns one cluster by UUID.
func (c *Client) GetCluster(ctx context.Context, uuid string) (*Cluster, error) {
	req := request{method: http.MethodGet, route: routeCluster, args: []string{uuid}}
	var raw json.RawMessage
	if _, err := c.do(ctx, req, &raw); err != nil {
		return nil, err
	}
	return decodeOne[Cluster](c, req, raw)
}
