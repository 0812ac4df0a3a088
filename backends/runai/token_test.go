package runai_test

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
	"github.com/fleetgraph/fleetgraph/backends/runai"
	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

func TestTokenFetchedOnceForConcurrentCalls(t *testing.T) {
	t.Parallel()
	e := setup(t, runaisim.Options{}, nil)
	// A slow token call keeps the first fetch in flight while the others arrive.
	if err := e.sim.Control().SetFaults(slowRoute(routeToken, 100*time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	const n = 50
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			_, err := e.client.ListClusters(t.Context())
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if got := e.count(routeToken); got != 1 {
		t.Fatalf("%d token calls for %d concurrent requests, want 1", got, n)
	}
	if got := e.count(routeClusters); got != n {
		t.Fatalf("%d cluster calls, want %d", got, n)
	}
}

func TestTokenRefreshedBeforeExpiry(t *testing.T) {
	t.Parallel()
	clk := newClock()
	e := setup(t, runaisim.Options{Now: clk.Now, TokenTTL: 10 * time.Minute}, nil)
	runai.SetClock(e.client, clk.Now)

	steps := []struct {
		advance    time.Duration
		wantTokens int64
	}{
		{0, 1},                // first call fetches
		{5 * time.Minute, 1},  // still fresh
		{3 * time.Minute, 1},  // 8m: 2m before expiry, outside the 60s margin
		{90 * time.Second, 2}, // 9m30s: inside the margin, still valid upstream: refreshed proactively
		{time.Minute, 2},      // the new token is fresh
	}
	for i, s := range steps {
		clk.Advance(s.advance)
		if _, err := e.client.ListClusters(t.Context()); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		if got := e.count(routeToken); got != s.wantTokens {
			t.Fatalf("step %d: %d token calls, want %d", i, got, s.wantTokens)
		}
	}
	if got := e.count(routeClusters); got != int64(len(steps)) {
		t.Fatalf("%d cluster calls, want %d: a refresh must not cost a 401 round trip", got, len(steps))
	}
}

func TestUnauthorizedRetriedOnceWithNewToken(t *testing.T) {
	t.Parallel()
	t.Run("token revoked upstream", func(t *testing.T) {
		t.Parallel()
		simClock, clientClock := newClock(), newClock()
		e := setup(t, runaisim.Options{Now: simClock.Now, TokenTTL: time.Hour}, nil)
		runai.SetClock(e.client, clientClock.Now)
		if _, err := e.client.ListClusters(t.Context()); err != nil {
			t.Fatal(err)
		}
		// Upstream, the token has expired; the client still believes in it.
		simClock.Advance(2 * time.Hour)
		if _, err := e.client.ListClusters(t.Context()); err != nil {
			t.Fatalf("after re-authentication: %v", err)
		}
		if tok, cl := e.count(routeToken), e.count(routeClusters); tok != 2 || cl != 3 {
			t.Fatalf("%d token calls and %d cluster calls, want 2 and 3", tok, cl)
		}
	})
	t.Run("still refused after a new token", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, nil)
		if err := e.sim.Control().SetFaults(faultOn(routeClusters, 401)); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.ListClusters(t.Context())
		if !errors.Is(err, backends.ErrUnauthorized) {
			t.Fatalf("err %v, want ErrUnauthorized", err)
		}
		if tok, cl := e.count(routeToken), e.count(routeClusters); tok != 2 || cl != 2 {
			t.Fatalf("%d token calls and %d cluster calls, want 2 and 2 (one retry, not a loop)", tok, cl)
		}
	})
}

func TestTokenErrors(t *testing.T) {
	t.Parallel()
	t.Run("bad credentials", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, func(c *runai.Config) { c.ClientSecret = "wrong-secret" })
		e.validate = false // the document declares no 401 on the token call
		_, err := e.client.ListClusters(t.Context())
		var apiErr *backends.APIError
		if !errors.As(err, &apiErr) || apiErr.Status != 401 || apiErr.Route != "/api/v1/token" || apiErr.Method != "POST" {
			t.Fatalf("err %v, want a 401 APIError on the token route", err)
		}
		if strings.Contains(err.Error(), "wrong-secret") {
			t.Fatalf("the error leaks the secret: %v", err)
		}
		if got := e.count(routeClusters); got != 0 {
			t.Fatalf("%d cluster calls without a token", got)
		}
	})
	t.Run("token endpoint unavailable", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, nil)
		if err := e.sim.Control().SetFaults(faultOn(routeToken, 503)); err != nil {
			t.Fatal(err)
		}
		_, err := e.client.ListClusters(t.Context())
		var apiErr *backends.APIError
		if !errors.Is(err, backends.ErrUnavailable) || !errors.As(err, &apiErr) || apiErr.Route != "/api/v1/token" {
			t.Fatalf("err %v, want ErrUnavailable from the token route", err)
		}
		// A failed fetch is not cached: the next call tries again.
		e.sim.Control().ClearFaults()
		if _, err := e.client.ListClusters(t.Context()); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPassThrough(t *testing.T) {
	t.Parallel()
	passThrough := func(c *runai.Config) {
		c.PassThrough, c.ClientID, c.ClientSecret = true, "", ""
	}
	t.Run("caller's bearer", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, passThrough)
		ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: e.sim.IssueToken()})
		if _, err := e.client.ListClusters(ctx); err != nil {
			t.Fatal(err)
		}
		if got := e.count(routeToken); got != 0 {
			t.Fatalf("%d token calls in pass-through mode", got)
		}
	})
	t.Run("no credentials: no upstream call", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, passThrough)
		ctx := backends.WithCredentials(t.Context(), backends.Credentials{ModelArtsAuthToken: "not-for-runai"})
		for _, c := range []struct {
			name string
			call func() error
		}{
			{"no credentials in ctx", func() error { _, err := e.client.ListClusters(t.Context()); return err }},
			{"only another vendor's", func() error { _, err := e.client.ListClusters(ctx); return err }},
		} {
			if err := c.call(); !errors.Is(err, backends.ErrNoCredentials) {
				t.Fatalf("%s: err %v, want ErrNoCredentials", c.name, err)
			}
		}
		if got := e.sim.Control().Total(); got != 0 {
			t.Fatalf("%d upstream calls, want 0", got)
		}
	})
	t.Run("refused bearer is not retried", func(t *testing.T) {
		t.Parallel()
		e := setup(t, runaisim.Options{}, passThrough)
		ctx := backends.WithCredentials(t.Context(), backends.Credentials{RunAIBearer: "expired.or.forged"})
		_, err := e.client.ListClusters(ctx)
		if !errors.Is(err, backends.ErrUnauthorized) {
			t.Fatalf("err %v, want ErrUnauthorized", err)
		}
		if strings.Contains(err.Error(), "expired.or.forged") {
			t.Fatalf("the error leaks the bearer: %v", err)
		}
		if got := e.sim.Control().Total(); got != 1 {
			t.Fatalf("%d upstream calls, want 1", got)
		}
	})
}
