package runaisim_test

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"github.com/fleetgraph/fleetgraph/backends/runai/runaisim"
)

func TestTokenGrant(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		body   string
		status int
		check  check
	}{
		{"spec casing", `{"grantType":"client_credentials","clientID":"fleetgraph-demo","clientSecret":"demo-secret"}`, 200, checkAll},
		{"docs casing", `{"grantType":"client_credentials","clientId":"fleetgraph-demo","clientSecret":"demo-secret"}`, 200, checkAll},
		{"SDK casing", `{"GrantType":"client_credentials","ClientId":"fleetgraph-demo","ClientSecret":"demo-secret"}`, 200, checkAll},
		{"deprecated app token", `{"grantType":"app_token","AppId":"fleetgraph-demo","AppSecret":"demo-secret"}`, 200, checkAll},
		// The document declares no 401 for the token call; the simulator
		// answers bad credentials with one, as the brief asks.
		{"wrong secret", `{"grantType":"client_credentials","clientID":"fleetgraph-demo","clientSecret":"nope"}`, 401, checkNothing},
		{"unknown client", `{"grantType":"client_credentials","clientID":"other","clientSecret":"demo-secret"}`, 401, checkNothing},
		{"no grant type", `{"clientID":"fleetgraph-demo","clientSecret":"demo-secret"}`, 400, checkAll},
		{"no secret", `{"grantType":"client_credentials","clientID":"fleetgraph-demo"}`, 400, checkAll},
		{"not an object", `[1]`, 400, checkResponse},
	}
	h := newHarness(t, runaisim.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := h.do(t, http.MethodPost, "/api/v1/token", tt.body, "", tt.check)
			if status != tt.status {
				t.Fatalf("status %d, want %d: %s", status, tt.status, body)
			}
			if status != 200 {
				if e := decodeError(t, body); e.Code != status || e.Message == "" {
					t.Fatalf("error body %+v", e)
				}
				return
			}
			var tok struct{ AccessToken string }
			if err := json.Unmarshal(body, &tok); err != nil || tok.AccessToken == "" {
				t.Fatalf("no accessToken in %s", body)
			}
			if st, _ := h.get(t, "/api/v1/clusters", checkAll); st != 200 {
				t.Fatalf("the granted token is refused: %d", st)
			}
		})
	}
}

func TestBearerRequired(t *testing.T) {
	t.Parallel()
	clk := newClock()
	h := newHarness(t, runaisim.Options{Now: clk.Now, TokenTTL: time.Minute})
	other := runaisim.New(runaisim.Options{}).IssueToken()
	fresh := h.sim.IssueToken()
	tests := []struct {
		name   string
		token  string
		status int
	}{
		{"valid", fresh, 200},
		{"none", "", 401},
		{"garbage", "not-a-jwt", 401},
		{"another simulator's", other, 401},
		{"tampered", fresh[:len(fresh)-2] + "xx", 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := checkAll
			if tt.token == "" {
				c = checkResponse // the request lacks the bearer the document requires
			}
			status, body := h.do(t, http.MethodGet, "/api/v1/clusters", "", tt.token, c)
			if status != tt.status {
				t.Fatalf("status %d, want %d", status, tt.status)
			}
			if status == 401 {
				if e := decodeError(t, body); e.Code != 401 || e.Message != "Issuer is not familiar." {
					t.Fatalf("401 body %+v", e)
				}
			}
		})
	}

	t.Run("expired", func(t *testing.T) {
		clk.Advance(time.Minute)
		if status, _ := h.do(t, http.MethodGet, "/api/v1/clusters", "", fresh, checkAll); status != 401 {
			t.Fatalf("a token past its TTL got %d, want 401", status)
		}
	})
}
