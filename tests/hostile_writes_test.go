package tests

import (
	"strings"
	"testing"
)

// TestHostileWriteInputs: names, labels, selectors, taints and free-text
// settings that break the vendor's rules (Kubernetes names and labels for
// Run:ai, the documented patterns for ModelArts) are refused before any
// upstream call, with a message that says the rule and never quotes a huge
// value back.
func TestHostileWriteInputs(t *testing.T) {
	t.Parallel()
	e := newProdEnv(t, prodOptions{})
	ra, ma := clusterIDs(t, e.env)
	var pools struct {
		NodePools struct {
			Edges []struct{ Node struct{ ID, Provider string } }
		}
	}
	e.query(t, `{ nodePools(first: 500) { edges { node { id provider } } } }`, nil).mustData(t, &pools)
	var raPool, maPool string
	for _, edge := range pools.NodePools.Edges {
		switch {
		case edge.Node.Provider == "RUNAI" && raPool == "":
			raPool = edge.Node.ID
		case edge.Node.Provider == "MODELARTS" && maPool == "":
			maPool = edge.Node.ID
		}
	}
	huge := strings.Repeat("a", 50_000)
	raIn := func(kv ...any) map[string]any {
		in := map[string]any{"clusterId": ra, "name": "ok-name", "labelKey": "team", "labelValue": "a"}
		for i := 0; i+1 < len(kv); i += 2 {
			in[kv[i].(string)] = kv[i+1]
		}
		return in
	}
	maIn := func(kv ...any) map[string]any {
		in := map[string]any{"clusterId": ma, "name": "ok-name", "flavor": cpuFlavor, "count": 1}
		for i := 0; i+1 < len(kv); i += 2 {
			in[kv[i].(string)] = kv[i+1]
		}
		return in
	}
	const patch = `mutation($id: ID!, $in: PatchNodePoolInput!) { patchNodePool(id: $id, input: $in) { id } }`
	tests := []struct {
		name  string
		query string
		vars  map[string]any
		field string
	}{
		{"Run:ai name with NUL", createPool, map[string]any{"in": raIn("name", "gpu\x00pool")}, "input.name"},
		{"Run:ai name with CRLF", createPool, map[string]any{"in": raIn("name", "gpu\r\nX-Injected: 1")}, "input.name"},
		{"Run:ai name with an RTL override", createPool, map[string]any{"in": raIn("name", "gpu\u202Etxt.exe")}, "input.name"},
		{"Run:ai name of 50 KB", createPool, map[string]any{"in": raIn("name", huge)}, "input.name"},
		{"Run:ai HTML name", createPool, map[string]any{"in": raIn("name", "<script>alert(1)</script>")}, "input.name"},
		{"Run:ai upper-case name", createPool, map[string]any{"in": raIn("name", "GPU_Pool")}, "input.name"},
		{"Run:ai name of 64 characters", createPool, map[string]any{"in": raIn("name", strings.Repeat("a", 64))}, "input.name"},
		{"Run:ai name ..", createPool, map[string]any{"in": raIn("name", "..")}, "input.name"},
		{"Run:ai label key with a space", createPool, map[string]any{"in": raIn("labelKey", "node type")}, "input.labelKey"},
		{"Run:ai label key of 50 KB", createPool, map[string]any{"in": raIn("labelKey", huge)}, "input.labelKey"},
		{"Run:ai label value with CRLF", createPool, map[string]any{"in": raIn("labelValue", "a\r\nb")}, "input.labelValue"},
		{"Run:ai HTML label value", createPool, map[string]any{"in": raIn("labelValue", "<b>x</b>")}, "input.labelValue"},
		{"Run:ai label value of 64 characters", createPool, map[string]any{"in": raIn("labelValue", strings.Repeat("v", 64))}, "input.labelValue"},
		{"Run:ai network label key", createPool, map[string]any{"in": raIn("gpuNetworkAccelerationLabelKey", "a b")}, "input.gpuNetworkAccelerationLabelKey"},
		{"Run:ai patch label key with NUL", patch, map[string]any{"id": raPool, "in": map[string]any{"labelKey": "k\x00"}}, "input.labelKey"},
		{"Run:ai patch label value with an RTL override", patch, map[string]any{"id": raPool, "in": map[string]any{"labelValue": "a\u202Eb"}}, "input.labelValue"},
		{"ModelArts name of 50 KB", createPool, map[string]any{"in": maIn("name", huge)}, "input.name"},
		{"ModelArts name with CRLF", createPool, map[string]any{"in": maIn("name", "np\r\n")}, "input.name"},
		{"ModelArts flavor with CRLF", createPool, map[string]any{"in": maIn("flavor", "modelarts.vm\r\nx")}, "input.flavor"},
		{"ModelArts flavor of 50 KB", createPool, map[string]any{"in": maIn("flavor", huge)}, "input.flavor"},
		{"ModelArts az of 50 KB", createPool, map[string]any{"in": maIn("azs", []map[string]any{{"az": huge, "count": 1}})}, "input.azs[0].az"},
		{"ModelArts tag with NUL", createPool, map[string]any{"in": maIn("tags", []map[string]any{{"key": "k\x00", "value": "v"}})}, "input.tags[0].key"},
		{"ModelArts tag value of 50 KB", createPool, map[string]any{"in": maIn("tags", []map[string]any{{"key": "k", "value": huge}})}, "input.tags[0].value"},
		{"ModelArts HTML label key", createPool, map[string]any{"in": maIn("labels", []map[string]any{{"key": "<b>", "value": "v"}})}, "input.labels[0].key"},
		{"ModelArts subnet with an RTL override", createPool, map[string]any{"in": maIn("network", map[string]any{"subnet": "a\u202Eb"})}, "input.network.subnet"},
		{"ModelArts patch label value of 50 KB", patch, map[string]any{"id": maPool, "in": map[string]any{"labels": []map[string]any{{"key": "k", "value": huge}}}}, "input.labels[0].value"},
		{"ModelArts patch taint key with CRLF", patch, map[string]any{"id": maPool, "in": map[string]any{"taints": []map[string]any{{"key": "a\r\nb", "effect": "NO_SCHEDULE"}}}}, "input.taints[0].key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := e.upstreamCalls()
			r := e.query(t, tt.query, tt.vars)
			if len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "BAD_USER_INPUT" || r.Errors[0].Extensions["field"] != tt.field {
				t.Fatalf("errors %.500v, want one BAD_USER_INPUT on %s", r.Errors, tt.field)
			}
			msg := r.Errors[0].Message
			if len(msg) > 1000 || !strings.Contains(msg, "must") && !strings.Contains(msg, " is ") {
				t.Fatalf("message of %d bytes that says no rule: %.300s", len(msg), msg)
			}
			if strings.ContainsAny(msg, "\x00\r\n\u202E") {
				t.Fatalf("message carries the raw value: %q", msg)
			}
			if n := e.upstreamCalls() - before; n != 0 {
				t.Fatalf("%d upstream calls for invalid input", n)
			}
			if h := e.do(t, "GET", "/healthz", nil); h.status != 200 {
				t.Fatalf("/healthz %d", h.status)
			}
		})
	}
	if h := e.rawQuery(t, `{ backends { name } }`); !strings.Contains(h, "runai-a") {
		t.Fatalf("the gateway does not answer after the corpus: %.200s", h)
	}
	log := e.log.String()
	if strings.Contains(log, "panic") {
		t.Fatal("a panic was logged")
	}
	// The audit log of refused writes bounds what the client sent.
	if strings.Contains(log, huge[:1000]) {
		t.Fatal("the log carries a 50 KB value")
	}
}
