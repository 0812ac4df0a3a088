package runai

import (
	"bytes"
	"encoding/json"
	"time"

	"github.com/fleetgraph/fleetgraph/internal/jsonx"
)

// vendorTime decodes a timestamp of a listed object leniently: RFC 3339 as
// the schema says, or the space-separated form of the vendor's own examples
// (2023-06-06 12:09:18.211, upstreams-2.md d.6). Anything else, and null,
// decode as the zero time: one odd timestamp must not fail a whole listing
// (it is still in Raw as sent).
type vendorTime struct{ t time.Time }

func (v *vendorTime) UnmarshalJSON(b []byte) error {
	v.t = time.Time{}
	var s string
	switch {
	case len(b) >= 2 && b[0] == '"' && b[len(b)-1] == '"' && bytes.IndexByte(b, '\\') < 0:
		s = string(b[1 : len(b)-1]) // no escapes: no decode (one per timestamp of a listing)
	case bytes.Equal(b, []byte("null")) || json.Unmarshal(b, &s) != nil:
		return nil
	}
	if s == "" {
		return nil
	}
	if t, err := parseVendorTime(s); err == nil {
		v.t = t
	}
	return nil
}

// ptr is the time as an optional field: nil for the zero time.
func (v vendorTime) ptr() *time.Time {
	if v.t.IsZero() {
		return nil
	}
	return &v.t
}

// UnmarshalJSON reads the timestamps with vendorTime.
func (n *Node) UnmarshalJSON(data []byte) error {
	// jsonx: one per listed node. Embedded by value (go-json cannot set
	// an embedded pointer to an unexported type), copied in and out.
	type plain Node // no methods: no recursion
	var aux struct {
		plain
		CreatedAt vendorTime `json:"createdAt"` // shadow plain's fields
		UpdatedAt vendorTime `json:"updatedAt"`
	}
	aux.plain = plain(*n)
	if err := jsonx.Unmarshal(data, &aux); err != nil {
		return err
	}
	*n = Node(aux.plain)
	n.CreatedAt, n.UpdatedAt = aux.CreatedAt.t, aux.UpdatedAt.t
	return nil
}

// UnmarshalJSON reads the timestamps with vendorTime.
func (p *NodePool) UnmarshalJSON(data []byte) error {
	type plain NodePool
	var aux struct {
		*plain
		CreatedAt vendorTime `json:"createdAt"`
		UpdatedAt vendorTime `json:"updatedAt"`
		DeletedAt vendorTime `json:"deletedAt"`
	}
	aux.plain = (*plain)(p)
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	p.CreatedAt, p.UpdatedAt, p.DeletedAt = aux.CreatedAt.t, aux.UpdatedAt.t, aux.DeletedAt.ptr()
	return nil
}

// UnmarshalJSON reads the timestamps with vendorTime.
func (c *Cluster) UnmarshalJSON(data []byte) error {
	type plain Cluster
	var aux struct {
		*plain
		CreatedAt         vendorTime `json:"createdAt"`
		UpdatedAt         vendorTime `json:"updatedAt"`
		DeletedAt         vendorTime `json:"deletedAt"`
		LastLiveness      vendorTime `json:"lastLiveness"`
		DeleteRequestedAt vendorTime `json:"deleteRequestedAt"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	c.CreatedAt = aux.CreatedAt.t
	c.UpdatedAt, c.DeletedAt, c.LastLiveness, c.DeleteRequestedAt = aux.UpdatedAt.ptr(), aux.DeletedAt.ptr(), aux.LastLiveness.ptr(), aux.DeleteRequestedAt.ptr()
	return nil
}

// UnmarshalJSON reads the timestamp with vendorTime.
func (c *ClusterCondition) UnmarshalJSON(data []byte) error {
	type plain ClusterCondition
	var aux struct {
		*plain
		LastTransitionTime vendorTime `json:"lastTransitionTime"`
	}
	aux.plain = (*plain)(c)
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	c.LastTransitionTime = aux.LastTransitionTime.t
	return nil
}

// UnmarshalJSON reads the timestamp with vendorTime.
func (o *OperandStatus) UnmarshalJSON(data []byte) error {
	type plain OperandStatus
	var aux struct {
		*plain
		LastTransitionTime vendorTime `json:"lastTransitionTime"`
	}
	aux.plain = (*plain)(o)
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	o.LastTransitionTime = aux.LastTransitionTime.ptr()
	return nil
}
