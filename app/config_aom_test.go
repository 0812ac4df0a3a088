package app

import (
	"strings"
	"testing"
)

func TestAOMConfigErrorsNameTheField(t *testing.T) {
	t.Parallel()
	backend := "modelarts:\n  - name: m\n    endpoint: https://modelarts.example\n    projectID: p1\n    token: t\n    aom:\n"
	tests := []struct{ name, aom, want string }{
		{"no endpoint", "      nodeLabel: node_ip\n", "modelarts[0].aom.endpoint is required"},
		{"relative endpoint", "      endpoint: aom.example\n", "modelarts[0].aom.endpoint: is not an absolute http(s) URL"},
		{"user info", "      endpoint: https://u:p@aom.example\n", "modelarts[0].aom.endpoint: must not carry user info"},
		{"query", "      endpoint: https://aom.example/?x=1\n", "modelarts[0].aom.endpoint: must not carry a query string"},
		{"fragment", "      endpoint: https://aom.example/#f\n", "modelarts[0].aom.endpoint: must not carry a fragment"},
		{"bad label", "      endpoint: https://aom.example\n      nodeLabel: node-ip\n", "modelarts[0].aom.nodeLabel must be a Prometheus label name"},
		{"unknown type", "      endpoint: https://aom.example\n      queries:\n        TOTAL_GPU: 'x{$node_label=~\"$nodes\"}'\n", `modelarts[0].aom.queries: "TOTAL_GPU" is no metric type ModelArts serves`},
		{"query selecting no nodes", "      endpoint: https://aom.example\n      queries:\n        GPU_UTILIZATION: 'avg(ma_node_gpu_util)'\n", "modelarts[0].aom.queries.GPU_UTILIZATION must select the nodes"},
		{"negative timeout", "      endpoint: https://aom.example\n      timeout: -1s\n", "modelarts[0].aom.timeout must not be negative"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := ParseConfigEnv([]byte(backend+tc.aom), nil)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want %q", err, tc.want)
			}
		})
	}
	ok := backend + "      endpoint: https://aom.example/prefix\n      nodeLabel: instance_ip\n      queries:\n        NPU_UTILIZATION: 'avg by ($node_label) (ma_node_npu_util{$node_label=~\"$nodes\"})'\n"
	c, err := ParseConfigEnv([]byte(ok), nil)
	if err != nil {
		t.Fatal(err)
	}
	if a := c.ModelArts[0].AOM; a.NodeLabel != "instance_ip" || len(a.Queries) != 1 {
		t.Fatalf("%+v", a)
	}
}
