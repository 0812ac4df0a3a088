package backends_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/modelarts"
	"github.com/fleetgraph/fleetgraph/backends/runai"
)

// bodies counts the response bodies a client was handed and closed.
type bodies struct {
	next         http.RoundTripper
	mu           sync.Mutex
	opened, shut int
}

func (b *bodies) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	b.mu.Lock()
	b.opened++
	b.mu.Unlock()
	resp.Body = &trackedBody{ReadCloser: resp.Body, b: b}
	return resp, nil
}

func (b *bodies) open() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.opened - b.shut
}

type trackedBody struct {
	io.ReadCloser
	b    *bodies
	once sync.Once
}

func (t *trackedBody) Close() error {
	t.once.Do(func() {
		t.b.mu.Lock()
		t.b.shut++
		t.b.mu.Unlock()
	})
	return t.ReadCloser.Close()
}

// answers are the ways a vendor answer can go wrong that the clients
// handle: every error status class with and without a readable body, a
// body that is no JSON or not the JSON expected, one cut short, one that
// stalls until the call's timeout, and an empty 200.
var answers = map[string]http.HandlerFunc{
	"400 json": status(400, `{"code":400,"message":"bad","error_code":"ModelArts.0101","error_msg":"bad"}`),
	"401":      status(401, `{"code":401,"message":"expired"}`),
	"403 html": status(403, `<html>forbidden</html>`),
	"404":      status(404, `{"code":404,"message":"Resource id not found."}`),
	"409":      status(409, `{"code":409,"message":"conflict"}`),
	"429": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "1")
		status(429, `{}`)(w, r)
	},
	"500 empty":      status(500, ``),
	"503 text":       status(503, `try later`),
	"200 not json":   status(200, `<html>`),
	"200 wrong json": status(200, `{"clusters":"no","nodes":7,"pools":{"items":3},"items":1,"measurements":"x","nodepools":false}`),
	"200 empty":      status(200, ``),
	"200 cut short": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Content-Length", "1000")
		_, _ = io.WriteString(w, `{"items":[`)
	},
	"200 stalls": func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(200)
		_, _ = io.WriteString(w, `{"items":[`)
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-time.After(5 * time.Second):
		}
	},
}

func status(code int, body string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, body)
	}
}

// Both vendor clients close every response body they are handed, on every
// path: each answer above, on every kind of call (listings, pages, single
// objects, metrics, writes), leaves no body open. An open body holds its
// connection (and, under MaxConnsPerHost, a slot of the pool) for good.
func TestClientsCloseEveryBody(t *testing.T) {
	t.Parallel()
	for name, answer := range answers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(answer)
			t.Cleanup(srv.Close)
			track := &bodies{next: srv.Client().Transport}
			hc := &http.Client{Transport: track}
			ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "tok", ModelArtsAuthToken: "tok"})
			ra, err := runai.New(runai.Config{Name: "r", BaseURL: srv.URL, PassThrough: true, HTTPClient: hc, Timeout: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			ma, err := modelarts.New(modelarts.Config{Name: "m", Endpoint: srv.URL, ProjectID: "0a1b2c3d4e5f60718293a4b5c6d7e8f9",
				PassThrough: true, HTTPClient: hc, Timeout: 100 * time.Millisecond})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Now()
			calls := map[string]func(context.Context) error{
				"runai clusters":   func(ctx context.Context) error { _, err := ra.ListClusters(ctx); return err },
				"runai cluster":    func(ctx context.Context) error { _, err := ra.GetCluster(ctx, "c1"); return err },
				"runai nodes":      func(ctx context.Context) error { _, err := ra.ListNodes(ctx, "c1", nil); return err },
				"runai node pools": func(ctx context.Context) error { _, err := ra.ListNodePools(ctx, nil); return err },
				"runai node pool":  func(ctx context.Context) error { _, err := ra.GetNodePool(ctx, "1"); return err },
				"runai pool count": func(ctx context.Context) error { _, err := ra.CountNodePools(ctx, nil); return err },
				"runai metrics": func(ctx context.Context) error {
					_, err := ra.NodeMetrics(ctx, "n1", runai.MetricsOptions{Types: []string{"GPU_UTILIZATION"}, Start: now.Add(-time.Hour), End: now})
					return err
				},
				"runai delete":      func(ctx context.Context) error { _, err := ra.DeleteNodePool(ctx, "1"); return err },
				"runai version":     func(ctx context.Context) error { _, err := ra.ProbeAPIVersion(ctx); return err },
				"modelarts pools":   func(ctx context.Context) error { _, err := ma.ListPools(ctx); return err },
				"modelarts pool":    func(ctx context.Context) error { _, err := ma.GetPool(ctx, "p1"); return err },
				"modelarts nodes":   func(ctx context.Context) error { _, err := ma.ListPoolNodes(ctx, "p1"); return err },
				"modelarts nps":     func(ctx context.Context) error { _, err := ma.ListNodePools(ctx, "p1"); return err },
				"modelarts np":      func(ctx context.Context) error { _, err := ma.GetNodePool(ctx, "p1", "np1"); return err },
				"modelarts delete":  func(ctx context.Context) error { _, err := ma.DeleteNodePool(ctx, "p1", "np1"); return err },
				"modelarts runtime": func(ctx context.Context) error { _, err := ma.ShowPoolRuntimeMetrics(ctx); return err },
				"modelarts monitor": func(ctx context.Context) error {
					_, err := ma.ShowPoolMonitor(ctx, "p1", modelarts.MonitorOptions{})
					return err
				},
				"modelarts pool nps": func(ctx context.Context) error { _, err := ma.ListNodePoolNodes(ctx, "p1", "np1"); return err },
			}
			for call, do := range calls {
				err := do(ctx)
				if open := track.open(); open != 0 {
					t.Errorf("%s (error %v): %d response bodies left open", call, err, open)
				}
				if !strings.HasPrefix(name, "200") && err == nil && (call != "runai version" || name != "404") { // a 404 there is 2.22
					t.Errorf("%s: no error for a %s answer", call, name)
				}
			}
			track.mu.Lock()
			opened := track.opened
			track.mu.Unlock()
			if opened == 0 {
				t.Fatal("no response reached the clients")
			}
		})
	}
}
