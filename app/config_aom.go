package app

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/fleetgraph/fleetgraph/backends/modelarts/aom"
)

var promLabelName = regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)

// validate checks a ModelArts backend's aom: block (nil: none).
func (a *AOMConfig) validate(path string) error {
	if a == nil {
		return nil
	}
	if a.Endpoint == "" {
		return fmt.Errorf("config: %s.endpoint is required (e.g. https://aom.cn-north-4.myhuaweicloud.com)", path)
	}
	if err := httpURL(a.Endpoint); err != nil {
		return fmt.Errorf("config: %s.endpoint: %w", path, err)
	}
	if a.NodeLabel != "" && !promLabelName.MatchString(a.NodeLabel) {
		return fmt.Errorf("config: %s.nodeLabel must be a Prometheus label name ([a-zA-Z_][a-zA-Z0-9_]*)", path)
	}
	for _, t := range slices.Sorted(maps.Keys(a.Queries)) {
		if _, ok := aom.DefaultQuery(t); !ok {
			served := make([]string, len(aom.DefaultQueries))
			for i, q := range aom.DefaultQueries {
				served[i] = q.Type
			}
			return fmt.Errorf("config: %s.queries: %q is no metric type ModelArts serves (%s)", path, t, strings.Join(served, ", "))
		}
		if q := a.Queries[t]; !strings.Contains(q, aom.PlaceholderNodes) || !strings.Contains(q, aom.PlaceholderLabel) {
			return fmt.Errorf("config: %s.queries.%s must select the nodes with %s=~\"%s\" and keep %s per series (one series per node)", path, t, aom.PlaceholderLabel, aom.PlaceholderNodes, aom.PlaceholderLabel)
		}
	}
	if a.Timeout < 0 {
		return fmt.Errorf("config: %s.timeout must not be negative", path)
	}
	return nil
}
