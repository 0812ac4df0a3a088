package aom

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/fleetgraph/fleetgraph/backends"
)

// RouteLabelValues lists the values of one label: with "__name__", the
// metric names. It is how a deployment checks the assumptions of
// DefaultQueries (metric and label names are not published,
// upstreams-2.md unknown 8) instead of hard-coding them.
const RouteLabelValues = "/v1/{project_id}/aom/api/v1/label/{label_name}/values"

// MetricNameLabel is the label whose values are the metric names.
const MetricNameLabel = "__name__"

var labelNameRE = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// LabelValues returns the values label takes in AOM (all series, no time
// bounds: AOM's defaults), in the order sent. A name that is no Prometheus
// label name is refused before any call (ErrBadRequest). A null value is
// skipped and counted (NullItems, kind "values"); a value that is no
// string fails the answer.
func (c *Client) LabelValues(ctx context.Context, label string) ([]string, error) {
	if !labelNameRE.MatchString(label) {
		return nil, fmt.Errorf("%s %s: GET %s: %w: %q is no label name", backends.ModelArts, c.cfg.Name, RouteLabelValues, backends.ErrBadRequest, label)
	}
	data, err := c.get(ctx, RouteLabelValues, nil, map[string]string{"label_name": label})
	if err != nil {
		return nil, err
	}
	var w struct {
		Status    string   `json:"status"`
		ErrorType string   `json:"errorType"`
		Error     string   `json:"error"`
		Data      []string `json:"data"`
	}
	if err := json.Unmarshal(data, &w); err != nil {
		return nil, fmt.Errorf("%s %s: GET %s: decode response: %w (%w)", backends.ModelArts, c.cfg.Name, RouteLabelValues, backends.ErrUpstream, err)
	}
	if w.Status == "error" {
		return nil, fmt.Errorf("%s %s: GET %s: %w: status error: %s: %s", backends.ModelArts, c.cfg.Name, RouteLabelValues, backends.ErrUpstream, w.ErrorType, w.Error)
	}
	if w.Data == nil {
		w.Data = []string{}
	}
	return w.Data, nil
}
