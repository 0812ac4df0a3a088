package runai

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/fleetgraph/fleetgraph/backends"
)

const (
	tokenRoute = "/api/v1/token"
	// refreshMargin: refresh this long before exp, as Run:ai's own client
	// (runapy) does, so a token never expires in flight.
	refreshMargin = 60 * time.Second
	// opaqueTokenLifetime is how long a token without a readable exp claim
	// is used before it is fetched again.
	opaqueTokenLifetime = 5 * time.Minute
)

// tokenSource caches the service token of the client_credentials grant.
// Concurrent callers share one fetch: N requests arriving with no valid
// token cause one POST /api/v1/token, not N.
type tokenSource struct {
	c            *Client
	clientID     string
	clientSecret string
	now          func() time.Time

	mu        sync.Mutex
	cur       string
	refreshAt time.Time
	flight    *tokenFlight // the fetch in progress, if any
}

type tokenFlight struct {
	done chan struct{}
	tok  string
	err  error
}

func newTokenSource(c *Client, clientID, clientSecret string) *tokenSource {
	return &tokenSource{c: c, clientID: clientID, clientSecret: clientSecret, now: time.Now}
}

// token returns a valid service token, fetching one when none is cached or
// the cached one is due for refresh.
func (ts *tokenSource) token(ctx context.Context) (string, error) {
	ts.mu.Lock()
	if ts.cur != "" && ts.now().Before(ts.refreshAt) {
		tok := ts.cur
		ts.mu.Unlock()
		return tok, nil
	}
	f := ts.flight
	if f == nil {
		f = &tokenFlight{done: make(chan struct{})}
		ts.flight = f
		// The fetch serves every waiter, so the first caller giving up must
		// not cancel it; it runs under its own timeout instead.
		go ts.fetch(context.WithoutCancel(ctx), f)
	}
	ts.mu.Unlock()

	select {
	case <-f.done:
		return f.tok, f.err
	case <-ctx.Done():
		return "", ts.c.transportError(ctx, tokenRoute, ctx.Err())
	}
}

func (ts *tokenSource) fetch(ctx context.Context, f *tokenFlight) {
	ctx, cancel := context.WithTimeoutCause(ctx, ts.c.timeout, backends.ErrTimeout)
	defer cancel()
	tok, err := ts.c.grantToken(ctx, ts.clientID, ts.clientSecret)

	ts.mu.Lock()
	if err == nil {
		ts.cur = tok
		ts.refreshAt = refreshTime(tok, ts.now())
	}
	ts.flight = nil
	ts.mu.Unlock()

	f.tok, f.err = tok, err
	close(f.done)
}

// invalidate drops the cached token if it is still used, the one the API
// just refused. Comparing with used keeps N concurrent 401s from throwing
// away a token that one of them already replaced.
func (ts *tokenSource) invalidate(used string) {
	ts.mu.Lock()
	if ts.cur == used {
		ts.cur = ""
	}
	ts.mu.Unlock()
}

// tokenRequest is the client_credentials form of the TokenRequest schema.
type tokenRequest struct {
	GrantType    string `json:"grantType"`
	ClientID     string `json:"clientID"`
	ClientSecret string `json:"clientSecret"`
}

type tokenResponse struct {
	AccessToken string `json:"accessToken"`
}

// grantToken calls POST /api/v1/token. The token endpoint takes no bearer.
func (c *Client) grantToken(ctx context.Context, clientID, clientSecret string) (string, error) {
	body, err := json.Marshal(tokenRequest{GrantType: "client_credentials", ClientID: clientID, ClientSecret: clientSecret})
	if err != nil {
		return "", err
	}
	req := request{method: http.MethodPost, route: tokenRoute, body: body}
	resp, err := c.send(ctx, req, "")
	if err != nil {
		return "", err
	}
	var tr tokenResponse
	if _, err := c.finish(ctx, req, resp, &tr); err != nil {
		return "", err
	}
	if tr.AccessToken == "" {
		return "", c.decodeError(req, errors.New("no accessToken in the answer"))
	}
	return tr.AccessToken, nil
}

// refreshTime says when to replace tok, fetched at now. The lifetime is
// taken as exp-iat when the token has both, so a skewed local clock does not
// make a fresh token look expired; otherwise as exp-now.
func refreshTime(tok string, now time.Time) time.Time {
	exp, iat, ok := jwtTimes(tok)
	if !ok {
		return now.Add(opaqueTokenLifetime)
	}
	life := exp.Sub(now)
	if !iat.IsZero() && exp.After(iat) {
		life = exp.Sub(iat)
	}
	if life <= 0 {
		return now // use it once, fetch again next time
	}
	// A token living less than two margins would be refreshed on every
	// call; refresh it at half-life instead.
	margin := min(refreshMargin, life/2)
	return now.Add(life - margin)
}

// jwtTimes reads the exp and iat claims of a JWT without checking its
// signature: the client only needs to know when to refresh, the API checks
// the signature. ok is false when tok is not a JWT or has no exp.
func jwtTimes(tok string) (exp, iat time.Time, ok bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return exp, iat, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return exp, iat, false
	}
	var claims struct {
		Exp *float64 `json:"exp"`
		Iat *float64 `json:"iat"`
	}
	if err := json.Unmarshal(payload, &claims); err != nil || claims.Exp == nil {
		return exp, iat, false
	}
	exp = unixSeconds(*claims.Exp)
	if claims.Iat != nil {
		iat = unixSeconds(*claims.Iat)
	}
	return exp, iat, true
}

func unixSeconds(s float64) time.Time {
	return time.UnixMilli(int64(s * 1000))
}
