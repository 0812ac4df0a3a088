package web

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Tab is one GraphiQL tab the page opens on when the browser has none
// stored yet (GraphiQL's defaultTabs): a document and its variables as
// JSON. In Variables, three strings are filled in by the page when it opens:
// "$now" and "$hourAgo" become the browser's time now and an hour ago
// (RFC 3339), and "$nodeId" the id of the first READY node the endpoint
// lists (one small query; when it fails, e.g. without credentials, a hint
// to run the NodeIds example instead).
type Tab struct {
	Query     string `json:"query"`
	Variables string `json:"variables,omitempty"`
}

// Examples are the README's example operations ("Example dashboard
// queries"), each with variables that run as they are: what GraphiQL opens
// on. A test keeps them and the README the same.
var Examples = []Tab{
	{Query: `# The fleet at a glance
query FleetSummary { fleetSummary { nodes readyNodes gpus readyGpus allocatedGpus
    byProvider { key nodes gpus allocatedGpus } byGpuType { key nodes gpus } } }`},
	{Query: `# Every pool with its nodes (one node listing per Run:ai cluster, one per ModelArts resource pool)
query PoolsWithNodes { nodePools(first: 100) { totalCount edges { node { name provider phase cluster { name }
    nodes(first: 500) { totalCount edges { node { name status gpuType gpuCount } } } } } } }`},
	{Query: `# Node IDs, for node(id:) and the metrics example: IDs are stable across restarts
query NodeIds { nodes(first: 20, filter: {status: [READY]}) { edges { node { id name gpuType nodePool { name } } } } }`},
	{Query: `# GPU and CPU utilisation of one node for the last hour: one upstream call
query NodeMetrics($id: ID!, $from: DateTime!, $to: DateTime!) {
  node(id: $id) { name
    gpu: metrics(types: [GPU_UTILIZATION_PER_GPU], start: $from, end: $to, samples: 60) { type labels { key value } points { timestamp value } }
    cpu: metrics(types: [CPU_UTILIZATION, CPU_MEMORY_UTILIZATION], start: $from, end: $to, samples: 60) { type points { timestamp value } } } }`,
		Variables: `{"id": "$nodeId", "from": "$hourAgo", "to": "$now"}`},
	{Query: `# Where do 8 free A100s sit right now, on one node, across both providers? Best fit first. Cold, over
# 2 Run:ai 2.22 clusters and 2 ModelArts resource pools: 7 calls (Run:ai 1 cluster listing, 2 node listings,
# 1 FREE_GPUS telemetry; ModelArts 1 pool listing, 2 node listings), and nodePool 2 more; warm 0
query Placements { placements(request: {accelerators: 8, model: "A100"}) {
    provider model freeAccelerators leftOver nodePool { name cluster { name } } nodes { name } } }`},
	{Query: `# Ready GPUs per node pool, from Run:ai telemetry
query ReadyGpus { nodeTelemetry(type: READY_GPUS, groupBy: [CLUSTER_ID, NODEPOOL]) { backend value groups { key value name } } }`},
}

// WithDefaultTabs opens GraphiQL on tabs (instead of its welcome text) for
// a browser that has no tabs stored yet.
func WithDefaultTabs(tabs ...Tab) Option {
	return func(c *config) { c.tabs = tabs }
}

// The page script of gqlgen's GraphiQL template around the render call,
// which withTabs rewrites: a gqlgen upgrade that changes them fails
// GraphiQL() at construction (and the tests), never silently.
const (
	renderCall  = "ReactDOM.render("
	propsAnchor = "plugins: plugins,"
	renderEnd   = "document.getElementById('graphiql'),\n      );"
)

// tabsScript builds the default tabs in the browser: it fills in the
// placeholders of Tab.Variables, and asks for a node id only when
// GraphiQL has no stored tabs (the only case it uses defaultTabs).
const tabsScript = `
      const fleetgraphTabs = async (tabs) => {
        if (storage.getItem('graphiql:tabState')) return tabs;
        const now = new Date();
        const fill = { '$now': now.toISOString(), '$hourAgo': new Date(now - 3600e3).toISOString(),
          '$nodeId': 'paste a node id here: run the NodeIds tab' };
        if (tabs.some((t) => (t.variables || '').includes('"$nodeId"'))) {
          try {
            const ctl = new AbortController();
            setTimeout(() => ctl.abort(), 3000);
            const r = await fetch(url, { method: 'POST', headers: { 'Content-Type': 'application/json' }, signal: ctl.signal,
              body: JSON.stringify({ query: '{ nodes(first: 1, filter: {status: [READY]}) { edges { node { id } } } }' }) });
            const id = (await r.json())?.data?.nodes?.edges?.[0]?.node?.id;
            if (id) fill['$nodeId'] = id;
          } catch (e) { /* the hint stays */ }
        }
        const sub = (v) => v && JSON.stringify(JSON.parse(v, (k, x) => (typeof x === 'string' && x in fill ? fill[x] : x)), null, 2);
        return tabs.map((t) => ({ query: t.query, variables: sub(t.variables) }));
      };
      const storage = new PrefixedStorage(%s);
      fleetgraphTabs(%s).then((defaultTabs) => `

// withTabs rewrites gqlgen's page so GraphiQL renders once the tabs are
// built, with defaultTabs among its props.
func withTabs(page []byte, tabs []Tab) []byte {
	for _, m := range []string{renderCall, propsAnchor, renderEnd} {
		if bytes.Count(page, []byte(m)) != 1 {
			panic(fmt.Sprintf("web: gqlgen's GraphiQL page changed: %q is not there once", m))
		}
	}
	js, err := json.Marshal(tabs) // escapes <, > and &: safe inside <script>
	if err != nil {
		panic(err)
	}
	prefix := storagePrefix(page)
	page = bytes.Replace(page, []byte(renderCall), []byte(fmt.Sprintf(tabsScript, prefix, js)+renderCall), 1)
	page = bytes.Replace(page, []byte(propsAnchor), []byte(propsAnchor+"\n          defaultTabs: defaultTabs,"), 1)
	return bytes.Replace(page, []byte(renderEnd), []byte("document.getElementById('graphiql'),\n      ));"), 1)
}

// storagePrefix is the JavaScript literal of the page's storage prefix
// (gqlgen's "new PrefixedStorage('...')"), so the tabs look where GraphiQL
// keeps its state.
func storagePrefix(page []byte) string {
	const open = "new PrefixedStorage("
	i := bytes.Index(page, []byte(open))
	if i < 0 {
		return "''"
	}
	rest := page[i+len(open):]
	j := bytes.IndexByte(rest, ')')
	if j < 0 {
		return "''"
	}
	return string(rest[:j])
}
