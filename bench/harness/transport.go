package harness

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/fasttransport"
)

// The bare transports: the cold dashboard's vendor calls made with an HTTP
// client and nothing else (no GraphQL, no decoding of the metrics, no
// cache), from the harness process. What a gateway that does no work of its
// own would cost on this machine: the floor under fleetgraph's CPU per call
// and latency.
const (
	// SystemTransport is Go's net/http.
	SystemTransport = "net/http alone"
	// SystemFastTransport is backends/fasttransport (fasthttp), the client
	// fleetgraph sends through by default.
	SystemFastTransport = "fasthttp alone"
)

// BareTransports are the bare transports, in the order they are measured.
var BareTransports = []string{SystemTransport, SystemFastTransport}

// RunTransport measures the cold dashboard's upstream calls over spec.Fleet
// as spec.System (a bare transport; "": SystemTransport) makes them: the pool listing, every cluster's node
// pages (side by side), then one metrics call per node (all at once), with
// the gateway's connection settings (up to 1024 kept per host). Each
// request is one such dashboard, one at a time (Requests of them after
// WarmupReqs); CPUmsPerReq is the harness process's own CPU over them (it
// does nothing else meanwhile), SimCPUmsPerReq the simulator's.
func RunTransport(ctx context.Context, spec RunSpec) (Measurement, error) {
	system := cmp.Or(spec.System, SystemTransport)
	m := Measurement{
		System: system, Scenario: spec.Scenario, Query: DashboardQuery.Name, Mode: ModeCold,
		FleetNodes: spec.Fleet.Nodes(), Fleet: spec.Fleet, Concurrency: 1,
		MinUpstream:  MinUpstreamOf(spec.RunAIVersion, DashboardQuery, spec.Fleet),
		FloorMs:      float64(FloorRoundTripsOf(spec.RunAIVersion, DashboardQuery, spec.Fleet)) * float64(spec.Latency) / float64(time.Millisecond),
		RunAIVersion: spec.RunAIVersion,
	}
	if spec.RunAIVersion != "" {
		return m, fmt.Errorf("the bare transport lists nodes per cluster (Run:ai 2.22), not %s", spec.RunAIVersion)
	}
	var tr interface {
		http.RoundTripper
		CloseIdleConnections()
	}
	switch system {
	case SystemTransport:
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.MaxIdleConns, t.MaxIdleConnsPerHost, t.MaxConnsPerHost = 1024, 1024, 1024
		tr = t
	case SystemFastTransport:
		tr = fasttransport.New(fasttransport.Options{})
	default:
		return m, fmt.Errorf("%q is not a bare transport (%v)", system, BareTransports)
	}
	defer tr.CloseIdleConnections()
	// No Client.Timeout: for a RoundTripper other than *http.Transport the
	// client would start a goroutine and a timer per call to enforce it
	// (net/http's setRequestCancel). Each dashboard has a context deadline
	// instead, as the gateway's calls do.
	d := &bareDashboard{c: &http.Client{Transport: tr}, base: spec.SimURL, token: spec.Token}
	for range spec.WarmupReqs {
		if _, err := d.run(ctx); err != nil {
			return m, fmt.Errorf("warm-up: %w", err)
		}
	}
	before, err := ReadSimStats(ctx, spec.SimURL)
	if err != nil {
		return m, err
	}
	sim0, self0 := ReadTree(spec.SimPID), selfCPU()
	start := time.Now()
	var lat []time.Duration
	for range spec.Requests {
		t, err := d.run(ctx)
		if err != nil {
			m.Failures++
			if m.FirstError == "" {
				m.FirstError = err.Error()
			}
			continue
		}
		lat = append(lat, t)
	}
	sim1, self1 := ReadTree(spec.SimPID), selfCPU()
	after, err := ReadSimStats(ctx, spec.SimURL)
	if err != nil {
		return m, err
	}
	m.Seconds = time.Since(start).Seconds()
	m.Requests = spec.Requests
	n := float64(max(m.Requests, 1))
	m.ReqPerSec = n / m.Seconds
	slices.Sort(lat)
	m.P50ms, m.P95ms, m.P99ms = ms(quantile(lat, 0.50)), ms(quantile(lat, 0.95)), ms(quantile(lat, 0.99))
	m.CPUmsPerReq = float64(self1-self0) / float64(time.Millisecond) / n
	m.setSim(sim0, sim1, before, after, n)
	return m, nil
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// selfCPU is this process's user and system CPU.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// bareDashboard makes one cold dashboard's vendor calls.
type bareDashboard struct {
	c           *http.Client
	base, token string
}

func (d *bareDashboard) run(ctx context.Context) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	start := time.Now()
	pools, err := list[struct {
		ClusterID string `json:"clusterId"`
	}](ctx, d, "/api/v1/node-pools", "nodepools")
	if err != nil {
		return 0, err
	}
	var clusters []string
	for _, p := range pools {
		if !slices.Contains(clusters, p.ClusterID) {
			clusters = append(clusters, p.ClusterID)
		}
	}
	nodes := make([][]struct {
		ID string `json:"id"`
	}, len(clusters))
	errs := make([]error, len(clusters)+1)
	var wg sync.WaitGroup
	for i, c := range clusters {
		wg.Go(func() {
			nodes[i], errs[i] = list[struct {
				ID string `json:"id"`
			}](ctx, d, "/api/v1/clusters/"+url.PathEscape(c)+"/nodes", "nodes")
		})
	}
	wg.Wait()
	to := time.Now().UTC().Truncate(time.Second)
	query := url.Values{"metricType": {"CPU_MEMORY_UTILIZATION,CPU_UTILIZATION"}, "numberOfSamples": {"20"},
		"start": {to.Add(-time.Hour).Format(time.RFC3339)}, "end": {to.Format(time.RFC3339)}}.Encode()
	var mu sync.Mutex
	for _, list := range nodes {
		for _, n := range list {
			wg.Go(func() {
				if err := d.get(ctx, "/api/v1/nodes/"+url.PathEscape(n.ID)+"/metrics?"+query, nil); err != nil {
					mu.Lock()
					errs[len(clusters)] = err
					mu.Unlock()
				}
			})
		}
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return 0, err
		}
	}
	return time.Since(start), nil
}

// list reads every offset/limit page of path (its items under key), as
// the gateway pages: until a page shorter than 500.
func list[T any](ctx context.Context, d *bareDashboard, path, key string) ([]T, error) {
	var all []T
	for offset := 0; ; offset += 500 {
		var page map[string][]T
		if err := d.get(ctx, path+"?limit=500&offset="+strconv.Itoa(offset), &page); err != nil {
			return nil, err
		}
		all = append(all, page[key]...)
		if len(page[key]) < 500 {
			return all, nil
		}
	}
}

// get sends one call; out nil: the body is read and dropped.
func (d *bareDashboard) get(ctx context.Context, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, d.base+path, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Bearer "+d.token)
	resp, err := d.c.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		_, _ = io.Copy(io.Discard, resp.Body)
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	return json.NewDecoder(resp.Body).Decode(out)
}
