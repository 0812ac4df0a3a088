package runai

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
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

// newTokenCache caches the service token of the client_credentials grant
// (backends.TokenCache: one POST /api/v1/token for N concurrent callers).
// A token is not used past its refresh time even when the renewal fails:
// RefreshAt is all that is known of an opaque token's life.
func newTokenCache(c *Client, clientID, clientSecret string) *backends.TokenCache {
	tc := &backends.TokenCache{Timeout: c.timeout, Now: time.Now, Provider: backends.RunAI, Backend: c.name, Route: tokenRoute}
	tc.Fetch = func(ctx context.Context) (backends.Token, error) {
		tok, err := c.grantToken(ctx, clientID, clientSecret)
		if err != nil {
			return backends.Token{}, err
		}
		return backends.Token{Value: tok, RefreshAt: refreshTime(tok, tc.Now())}, nil
	}
	return tc
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
