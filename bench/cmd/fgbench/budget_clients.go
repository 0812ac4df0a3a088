package main

// The clients of fgbench budget: the interactive lookups and the
// dashboards, and the tally of what each answer was.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fleetgraph/fleetgraph/bench/harness"
)

// The windows: past ones (cache.metricsPast), never the same twice for a
// lookup or a cold dashboard; the warmed dashboard's is fixed.
var (
	lookupBase = time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	coldBase   = time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
	warmFrom   = time.Date(2021, 6, 1, 0, 0, 0, 0, time.UTC)
)

// lookupQuery is a person's GraphiQL query: one node and a metric of it
// (class interactive: one root lookup).
const lookupQuery = `query Lookup($id: ID!, $from: DateTime!, $to: DateTime!) { node(id: $id) { id name status
  metrics(types: [CPU_UTILIZATION], start: $from, end: $to, samples: 20) { type points { timestamp value } } } }`

// dashboardBody is the load scenarios' dashboard (every pool, its nodes,
// two series per node in one call per node) over the hour from from.
func dashboardBody(from time.Time) []byte {
	return gqlBody(harness.DashboardQuery.Fleetgraph, map[string]any{
		"from": from.Format(time.RFC3339), "to": from.Add(time.Hour).Format(time.RFC3339),
		"pools": dashboardFleet.Pools(), "nodes": dashboardFleet.NodesPerPool})
}

func gqlBody(query string, vars map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return b
}

// budgetClient sends GraphQL requests to the replicas.
type budgetClient struct {
	http *http.Client
	gws  []*budgetGateway
}

// answer is one response, sorted.
type answer struct {
	latency      time.Duration
	failed       string
	codes        []string // extensions.code of each GraphQL error
	message      string   // the first error's
	staleReasons []string
}

func (c *budgetClient) post(ctx context.Context, replica int, body []byte, header http.Header) answer {
	g := c.gws[replica%len(c.gws)]
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, g.base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range header {
		req.Header[k] = v
	}
	start := time.Now()
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{latency: time.Since(start), failed: err.Error()}
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	a := answer{latency: time.Since(start)}
	switch {
	case err != nil:
		a.failed = err.Error()
	case resp.StatusCode != http.StatusOK:
		a.failed = fmt.Sprintf("HTTP %d: %.300s", resp.StatusCode, b)
	default:
		var r struct {
			Data   json.RawMessage `json:"data"`
			Errors []struct {
				Message    string         `json:"message"`
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
			Extensions struct {
				Stale []struct {
					Reason string `json:"reason"`
				} `json:"stale"`
			} `json:"extensions"`
		}
		if err := json.Unmarshal(b, &r); err != nil {
			a.failed = fmt.Sprintf("not JSON: %v: %.300s", err, b)
		} else if len(r.Errors) == 0 && (len(r.Data) == 0 || string(r.Data) == "null") {
			a.failed = fmt.Sprintf("no data: %.300s", b)
		}
		for _, e := range r.Errors {
			a.codes = append(a.codes, fmt.Sprint(e.Extensions["code"]))
		}
		if len(r.Errors) > 0 {
			a.message = fmt.Sprintf("%s: %.300s", a.codes[0], r.Errors[0].Message)
		}
		for _, st := range r.Extensions.Stale {
			a.staleReasons = append(a.staleReasons, st.Reason)
		}
	}
	return a
}

// tally collects the answers of one kind of client over a phase.
type tally struct {
	mu  sync.Mutex
	out outcome
	lat []time.Duration
}

func (t *tally) add(a answer) {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := &t.out
	o.Requests++
	t.lat = append(t.lat, a.latency)
	switch {
	case a.failed != "":
		o.Failed++
		if o.FirstError == "" {
			o.FirstError = a.failed
		}
	case len(a.codes) > 0:
		o.Errors++
		if o.FirstError == "" {
			o.FirstError = a.message
		}
	case len(a.staleReasons) > 0:
		o.Stale++
	default:
		o.Clean++
	}
	for _, c := range a.codes {
		if o.ErrorCodes == nil {
			o.ErrorCodes = map[string]int{}
		}
		o.ErrorCodes[c]++
	}
	for _, r := range a.staleReasons {
		if o.StaleReasons == nil {
			o.StaleReasons = map[string]int{}
		}
		o.StaleReasons[r]++
	}
}

// addIn adds a unless ctx ended meanwhile: an answer cut off by the
// window's end is not one.
func (t *tally) addIn(ctx context.Context, a answer) {
	if ctx.Err() == nil {
		t.add(a)
	}
}

// outcome is the tally with its latency quantiles (nearest rank).
func (t *tally) outcome() outcome {
	t.mu.Lock()
	defer t.mu.Unlock()
	o := t.out
	if len(t.lat) == 0 {
		return o
	}
	lat := slices.Clone(t.lat)
	slices.Sort(lat)
	q := func(p float64) float64 {
		i := min(max(int(p*float64(len(lat))+0.5)-1, 0), len(lat)-1)
		return float64(lat[i]) / float64(time.Millisecond)
	}
	var sum time.Duration
	for _, l := range lat {
		sum += l
	}
	o.P50ms, o.P95ms, o.P99ms = q(0.50), q(0.95), q(0.99)
	o.MeanMs = float64(sum/time.Duration(len(lat))) / float64(time.Millisecond)
	return o
}

// lookups is the interactive client: node(id) lookups at a steady pace,
// each with a metrics window no one asked before (one vendor call),
// round robin over the nodes and the replicas.
type lookups struct {
	ids    []string
	every  time.Duration
	seq    atomic.Int64
	primed atomic.Int64 // primeTokens' windows, counted down from lookupBase
}

func (l *lookups) loop(ctx context.Context, bc *budgetClient, t *tally) {
	next := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-time.After(time.Until(next)):
		}
		next = next.Add(l.every)
		n := int(l.seq.Add(1))
		from := lookupBase.Add(time.Duration(n) * time.Hour)
		body := gqlBody(lookupQuery, map[string]any{"id": l.ids[n%len(l.ids)],
			"from": from.Format(time.RFC3339), "to": from.Add(time.Hour).Format(time.RFC3339)})
		t.addIn(ctx, bc.post(ctx, n, body, nil))
	}
}

// nodeIDs lists the fleet's nodes on every replica (which also fetches
// each replica's service token).
func (c *budgetClient) nodeIDs(ctx context.Context) ([]string, error) {
	body := gqlBody(`query { nodes(first: 500) { edges { node { id } } } }`, nil)
	var ids []string
	for i := range c.gws {
		a := c.post(ctx, i, body, nil)
		if a.failed != "" || len(a.codes) > 0 {
			return nil, fmt.Errorf("listing nodes on replica %d: %s%s", i+1, a.failed, a.message)
		}
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, c.gws[0].base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var r struct {
		Data struct {
			Nodes struct {
				Edges []struct{ Node struct{ ID string } }
			}
		}
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return nil, err
	}
	for _, e := range r.Data.Nodes.Edges {
		ids = append(ids, e.Node.ID)
	}
	if len(ids) != dashboardFleet.Nodes() {
		return nil, fmt.Errorf("listed %d nodes, the fleet has %d", len(ids), dashboardFleet.Nodes())
	}
	return ids, nil
}

// primeTokens makes each replica fetch its service token before a phase:
// one lookup each, of a window before the phases' (a replica whose node
// listing came from the shared cache has made no call yet).
func (c *budgetClient) primeTokens(ctx context.Context, l *lookups) error {
	for i := range c.gws {
		from := lookupBase.Add(-time.Duration(l.primed.Add(1)) * time.Hour)
		a := c.post(ctx, i, gqlBody(lookupQuery, map[string]any{"id": l.ids[0],
			"from": from.Format(time.RFC3339), "to": from.Add(time.Hour).Format(time.RFC3339)}), nil)
		if a.failed != "" || len(a.codes) > 0 {
			return fmt.Errorf("a lookup on replica %d: %s%s", i+1, a.failed, a.message)
		}
	}
	return nil
}

// warm asks the warmed dashboard until an answer has no error (every
// value is then cached, fresh or expired), with a lookup's priority so
// that its calls may wait 5 s for the budget; it returns the passes.
func (c *budgetClient) warm(ctx context.Context) (int, error) {
	h := http.Header{"X-Fleetgraph-Priority": []string{"interactive"}}
	for pass := 1; pass <= 15; pass++ {
		a := c.post(ctx, 0, dashboardBody(warmFrom), h)
		logf("warming the fixed-window dashboard: pass %d, %.1f s, %d errors %s", pass, a.latency.Seconds(), len(a.codes), a.failed)
		if a.failed == "" && len(a.codes) == 0 {
			return pass, nil
		}
		if err := ctx.Err(); err != nil {
			return pass, err
		}
	}
	return 0, fmt.Errorf("the fixed-window dashboard was not answered without errors in 15 passes")
}
