package simctl

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func newTestServer(t *testing.T) (*Controller, *httptest.Server, *atomic.Int64) {
	t.Helper()
	var applied atomic.Int64
	ctl := New(func(w http.ResponseWriter, _ *http.Request, status int) {
		w.WriteHeader(status)
		_, _ = w.Write([]byte(`{"vendor":"error"}`))
	}, 0)
	mux := http.NewServeMux()
	ctl.Handle(mux, "POST /things", func(w http.ResponseWriter, _ *http.Request) {
		applied.Add(1)
		w.WriteHeader(http.StatusCreated)
		_, _ = w.Write([]byte(`{"ok":true}`))
	})
	ctl.Handle(mux, "GET /things/{id}", func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{}`)) })
	ctl.RegisterControl(mux)
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return ctl, srv, &applied
}

func post(t *testing.T, url, body string) *http.Response {
	t.Helper()
	resp, err := http.Post(url, "application/json", bytes.NewBufferString(body))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestStatsCountByRouteTemplate(t *testing.T) {
	t.Parallel()
	ctl, srv, _ := newTestServer(t)
	for _, p := range []string{"/things/1", "/things/2", "/things/3"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	post(t, srv.URL+"/things", `{}`)
	resp, err := http.Get(srv.URL + "/_sim/stats")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var stats struct {
		Requests map[string]int64
		Total    int64
	}
	if err := json.NewDecoder(resp.Body).Decode(&stats); err != nil {
		t.Fatal(err)
	}
	if stats.Requests["GET /things/{id}"] != 3 || stats.Requests["POST /things"] != 1 || stats.Total != 4 {
		t.Fatalf("stats %+v", stats)
	}
	post(t, srv.URL+"/_sim/stats/reset", "")
	if ctl.Total() != 0 {
		t.Fatalf("total after reset %d", ctl.Total())
	}
}

func TestFaultsThroughTheControlEndpoint(t *testing.T) {
	t.Parallel()
	ctl, srv, applied := newTestServer(t)
	if r := post(t, srv.URL+"/_sim/faults", `{"down": true, "routes": ["POST /things"]}`); r.StatusCode != 200 {
		t.Fatalf("set faults: %d", r.StatusCode)
	}
	if r := post(t, srv.URL+"/things", `{}`); r.StatusCode != http.StatusServiceUnavailable || applied.Load() != 0 {
		t.Fatalf("down: %d, applied %d", r.StatusCode, applied.Load())
	}
	resp, _ := http.Get(srv.URL + "/things/1") // not in routes: unaffected
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("other route: %d", resp.StatusCode)
	}
	if r := post(t, srv.URL+"/_sim/faults", `{"errorRate": 2}`); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("errorRate 2 accepted: %d", r.StatusCode)
	}
	if r := post(t, srv.URL+"/_sim/faults", `{"bogus": 1}`); r.StatusCode != http.StatusBadRequest {
		t.Fatalf("unknown field accepted: %d", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodDelete, srv.URL+"/_sim/faults", nil)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete faults: %v", err)
	}
	if ctl.Faults().Down {
		t.Fatal("faults not cleared")
	}
}

func TestFailAfterApply(t *testing.T) {
	t.Parallel()
	ctl, srv, applied := newTestServer(t)
	if err := ctl.SetFaults(Faults{FailAfterApply: true}); err != nil {
		t.Fatal(err)
	}
	r := post(t, srv.URL+"/things", `{}`)
	if r.StatusCode != http.StatusBadGateway || applied.Load() != 1 {
		t.Fatalf("fail after apply: status %d, applied %d", r.StatusCode, applied.Load())
	}
}

func TestResponseDelayAppliesThenTimesOut(t *testing.T) {
	t.Parallel()
	ctl, srv, applied := newTestServer(t)
	if err := ctl.SetFaults(Faults{ResponseDelayMs: 500}); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 50 * time.Millisecond}
	if _, err := client.Post(srv.URL+"/things", "application/json", bytes.NewBufferString(`{}`)); err == nil {
		t.Fatal("expected a client timeout")
	}
	if applied.Load() != 1 {
		t.Fatalf("applied %d times, want 1 (the write took effect)", applied.Load())
	}
}
